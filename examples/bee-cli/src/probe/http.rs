//! The probe's HTTP side: requests from several client addresses, and a record of every
//! answer for the checks that look at all of them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use http::HeaderMap;
use reqwest::{Client, Method};

use super::ProbeError;

/// Time one request may take before the probe gives up on the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Who sends a request: the probe's own address, or a fresh one.
///
/// The server blocks an address after a few failed authentications. Requests meant to
/// fail go out as a fresh client: from another loopback address when the server is on
/// this machine, and naming another address in `X-Forwarded-For` (which only a server
/// that trusts the probe as a proxy believes). Each run starts its addresses at a random
/// place, so that runs in quick succession do not add up in the server's counters. Any
/// block on them is lifted at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    /// The probe's usual address.
    Main,
    /// An address of its own, by index.
    Fresh(usize),
}

/// One answer, as the checks see it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The method sent.
    pub(crate) method: Method,
    /// The path (and query) sent.
    pub(crate) path: String,
    /// The status.
    pub(crate) status: u16,
    /// The answer's headers.
    pub(crate) headers: HeaderMap,
    /// The body, lossily decoded.
    pub(crate) body: String,
    /// The request body sent, lossily decoded.
    pub(crate) request: Option<String>,
}

impl Seen {
    /// The answer's header `name`, if it is text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, if it is JSON.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The request body as JSON, if it was JSON.
    pub(crate) fn request_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.request.as_deref()?).ok()
    }

    /// The `error` code of a JSON error body.
    pub(crate) fn error_code(&self) -> Option<String> {
        self.json()?.get("error")?.as_str().map(str::to_owned)
    }

    /// Whether the server refused the request because the address is blocked.
    pub(crate) fn is_blocked(&self) -> bool {
        self.status == 403 && self.error_code().as_deref() == Some("blocked")
    }

    /// `METHOD path -> status`, for reports.
    pub(crate) fn line(&self) -> String {
        format!("{} {} -> {}", self.method, shorten(&self.path), self.status)
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    method: Method,
    path: String,
    key: Option<String>,
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

impl Call {
    /// A request without key or body.
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            key: None,
            body: None,
            headers: Vec::new(),
        }
    }

    /// `GET path`.
    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// `POST path`.
    pub(crate) fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// With `Authorization: Bearer key`.
    pub(crate) fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    /// With a JSON body.
    pub(crate) fn json(self, body: &serde_json::Value) -> Self {
        self.raw("application/json", body.to_string().into_bytes())
    }

    /// With a body of this content type (none when `content_type` is empty).
    pub(crate) fn raw(mut self, content_type: &str, body: Vec<u8>) -> Self {
        if !content_type.is_empty() {
            self = self.header("content-type", content_type);
        }
        self.body = Some(body);
        self
    }

    /// With a header.
    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The server under probe and the clients that talk to it.
pub(crate) struct Target {
    base: String,
    local: bool,
    /// Where this run's fresh addresses start.
    start: u32,
    main: Client,
    fresh: Vec<Fresh>,
    seen: Vec<Seen>,
}

/// A client with an address of its own.
struct Fresh {
    client: Client,
    forwarded: IpAddr,
    source: Option<IpAddr>,
}

impl Target {
    /// A target at `base` (`http://host:port`, no trailing slash needed).
    ///
    /// # Errors
    ///
    /// A usage error when the URL is not an HTTP URL.
    pub(crate) fn new(base: &str) -> Result<Self, ProbeError> {
        let url = reqwest::Url::parse(base)
            .map_err(|e| ProbeError::Usage(format!("--url {base}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ProbeError::Usage(format!(
                "--url {base}: an http or https URL with a host is needed"
            )));
        }
        let host = url.host_str().unwrap_or_default();
        // Only IPv4 loopback has spare source addresses (127.0.0.0/8).
        let local =
            host == "localhost" || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            local,
            start: rand::random_range(0..FRESH_RANGE),
            main: client(None, local)?,
            fresh: Vec::new(),
            seen: Vec::new(),
        })
    }

    /// A new address of its own for the requests that follow.
    ///
    /// # Errors
    ///
    /// When no client can be built.
    pub(crate) fn fresh(&mut self) -> Result<Who, ProbeError> {
        let n = self.fresh.len();
        let k = self
            .start
            .wrapping_add(u32::try_from(n).unwrap_or(u32::MAX))
            % FRESH_RANGE;
        let [b, c, d] = spread(k);
        // Loopback sources in 127.64.0.0/11; benchmarking addresses (198.18.0.0/15)
        // for a server that trusts the probe as its proxy.
        let source = self
            .local
            .then(|| IpAddr::V4(Ipv4Addr::new(127, 64 + b, c, d)));
        let forwarded = IpAddr::V4(Ipv4Addr::new(198, 18 + b % 2, c, d));
        self.fresh.push(Fresh {
            client: client(source, self.local)?,
            forwarded,
            source,
        });
        Ok(Who::Fresh(n))
    }

    /// Every address the fresh clients may have been seen as.
    pub(crate) fn fresh_addresses(&self) -> Vec<IpAddr> {
        self.fresh
            .iter()
            .flat_map(|f| [Some(f.forwarded), f.source])
            .flatten()
            .collect()
    }

    /// Sends `call` as `who` and records the answer.
    ///
    /// # Errors
    ///
    /// A connection error when the server does not answer.
    pub(crate) async fn send(&mut self, who: Who, call: Call) -> Result<Seen, ProbeError> {
        let (client, forwarded) = match who {
            Who::Main => (&self.main, None),
            Who::Fresh(i) => match self.fresh.get(i) {
                Some(f) => (&f.client, Some(f.forwarded)),
                None => return Err(ProbeError::Usage("unknown client".into())),
            },
        };
        let url = format!("{}{}", self.base, call.path);
        let mut request = client.request(call.method.clone(), &url);
        if let Some(addr) = forwarded {
            request = request.header("x-forwarded-for", addr.to_string());
        }
        if let Some(key) = &call.key {
            request = request.bearer_auth(key);
        }
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let sent = call
            .body
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned());
        if let Some(body) = call.body {
            request = request.body(body);
        }
        // A connection the server closed after its last answer may be picked from the
        // pool: one more try on a fresh one.
        let retry = request.try_clone();
        let response = match (request.send().await, retry) {
            (Ok(response), _) => Ok(response),
            (Err(e), Some(retry)) if !e.is_timeout() => retry.send().await,
            (Err(e), _) => Err(e),
        }
        .map_err(|e| {
            ProbeError::Connection(format!("{} {}: {}", call.method, shorten(&call.path), e))
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| {
            ProbeError::Connection(format!("reading the answer to {}: {e}", call.path))
        })?;
        let seen = Seen {
            method: call.method,
            path: call.path,
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            request: sent,
        };
        self.seen.push(seen.clone());
        Ok(seen)
    }

    /// Every answer so far.
    pub(crate) fn seen(&self) -> &[Seen] {
        &self.seen
    }
}

/// How many fresh addresses there are: 32 × 256 × 250.
const FRESH_RANGE: u32 = 32 * 256 * 250;

/// The second to fourth octets of fresh address `k`: the last in `2..=251`, never a
/// network or broadcast-looking one.
fn spread(k: u32) -> [u8; 3] {
    let d = 2 + k % 250;
    let c = (k / 250) % 256;
    let b = (k / (250 * 256)) % 32;
    [b, c, d].map(|o| u8::try_from(o).unwrap_or(0))
}

fn client(source: Option<IpAddr>, local: bool) -> Result<Client, ProbeError> {
    let mut builder = Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(source);
    if local {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| ProbeError::Usage(format!("cannot build an HTTP client: {e}")))
}

/// A path segment or query value with every byte outside `A-Za-z0-9-_~` escaped, so
/// that payloads arrive at the server byte for byte.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Long paths cut for one-line reports.
fn shorten(path: &str) -> String {
    const MAX: usize = 90;
    if path.len() <= MAX {
        return path.to_owned();
    }
    let cut = (0..=MAX)
        .rev()
        .find(|i| path.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}...", &path[..cut])
}
