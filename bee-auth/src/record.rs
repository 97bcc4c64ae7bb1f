//! What a key store keeps about a key: never the key itself.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU64;

use ipnet::IpNet;
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::key::KeyId;
use crate::pepper::{PepperId, SecretHash};

/// Why a record field holds a value it cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// A tenant id is empty, longer than 64 characters or has a character outside
    /// `[A-Za-z0-9_.:-]`.
    #[error("a tenant id is 1 to 64 characters of A-Z, a-z, 0-9, _, ., : and -")]
    TenantId,
    /// An origin is not `scheme://host[:port]` with scheme `http` or `https`.
    #[error("an allowed origin is http(s)://host[:port], optionally *.domain: {0:?}")]
    Origin(String),
    /// A status name is not `active`, `suspended` or `revoked`.
    #[error("a key status is active, suspended or revoked, not {0:?}")]
    Status(String),
}

/// The tenant (customer organisation) a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Checks and wraps a tenant id.
    ///
    /// # Errors
    ///
    /// [`FieldError::TenantId`] when it breaks the tenant id rules.
    pub fn new(id: &str) -> Result<Self, FieldError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
        if (1..=64).contains(&id.len()) && id.chars().all(allowed) {
            Ok(Self(id.to_owned()))
        } else {
            Err(FieldError::TenantId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

/// Whether a key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// The key works (until it expires).
    Active,
    /// The key is paused and can be resumed.
    Suspended,
    /// The key is dead for good.
    Revoked,
}

impl KeyStatus {
    /// The status as stored: `active`, `suspended` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Suspended => "suspended",
            KeyStatus::Revoked => "revoked",
        }
    }

    /// Reads a stored status.
    ///
    /// # Errors
    ///
    /// [`FieldError::Status`] for any other text.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        match text {
            "active" => Ok(KeyStatus::Active),
            "suspended" => Ok(KeyStatus::Suspended),
            "revoked" => Ok(KeyStatus::Revoked),
            other => Err(FieldError::Status(other.to_owned())),
        }
    }
}

/// A per-key rate limit: at most `limit` requests per `per_seconds` seconds. The crate
/// only stores these; the server hands them to its rate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed in one window.
    pub limit: NonZeroU64,
    /// The window, in seconds.
    pub per_seconds: NonZeroU64,
}

/// An origin a browser key may be used from: `https://app.example.com`,
/// `http://localhost:3000`, or every subdomain of a domain with `https://*.example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginPattern {
    scheme: String,
    host: String,
    port: Option<u16>,
    any_subdomain: bool,
}

impl OriginPattern {
    /// Reads an origin pattern; scheme and host are compared without case and default
    /// ports are dropped.
    ///
    /// # Errors
    ///
    /// [`FieldError::Origin`] unless it is `http(s)://host[:port]` with no path.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::Origin(text.chars().take(80).collect());
        let origin = Origin::parse(text).ok_or_else(bad)?;
        let (any_subdomain, host) = match origin.host.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, origin.host),
        };
        if !well_formed_host(&host) {
            return Err(bad());
        }
        Ok(Self {
            scheme: origin.scheme,
            host,
            port: origin.port,
            any_subdomain,
        })
    }

    /// Whether the value of a request's `Origin` header matches this pattern.
    pub fn matches(&self, origin_header: &str) -> bool {
        let Some(origin) = Origin::parse(origin_header) else {
            return false;
        };
        // A browser sends a concrete host: `*` or an empty label is never a real origin.
        if !well_formed_host(&origin.host) {
            return false;
        }
        if origin.scheme != self.scheme || origin.port != self.port {
            return false;
        }
        if self.any_subdomain {
            origin
                .host
                .strip_suffix(&self.host)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
        } else {
            origin.host == self.host
        }
    }

    /// The host, without a leading `*.`.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = if self.any_subdomain { "*." } else { "" };
        write!(f, "{}://{star}{}", self.scheme, self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

impl Serialize for OriginPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OriginPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Everything stored about one API key. The key itself is not here: only the HMAC of
/// its secret under the pepper named by `pepper_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The public key id, used for lookup.
    pub key_id: KeyId,
    /// The key's prefix, for display (`pb_<key id>_...`).
    pub prefix: String,
    /// `HMAC-SHA256(pepper, secret)`.
    pub secret_hash: SecretHash,
    /// Which pepper the hash was made with.
    pub pepper_id: PepperId,
    /// The tenant the key belongs to.
    pub tenant: TenantId,
    /// A human name for the key.
    pub name: String,
    /// What the key may do, as permission patterns (`chat:send`, `bot:*`).
    pub scopes: Vec<String>,
    /// Roles granted to the key (`bot_user`, `bot_admin`).
    pub roles: Vec<String>,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key stops working; `now >= expires_at` is expired.
    pub expires_at: Option<Timestamp>,
    /// When the key was last seen valid (updated at most once per configured interval).
    pub last_used_at: Option<Timestamp>,
    /// Active, suspended or revoked.
    pub status: KeyStatus,
    /// Client addresses the key may be used from; empty allows every address.
    pub allowed_ips: Vec<IpNet>,
    /// Browser origins the key may be used from; empty allows every origin.
    pub allowed_origins: Vec<OriginPattern>,
    /// Optional per-key rate limits for the server's rate limiter.
    pub rate_limits: Vec<RateLimit>,
    /// The key that replaced this one in a rotation, if any.
    pub replaced_by: Option<KeyId>,
    /// Free-form labels (never secrets).
    pub metadata: BTreeMap<String, String>,
    /// Bumped by the store on every update; an update naming a stale revision fails.
    pub revision: u64,
}

impl KeyRecord {
    /// Whether the key has expired at `now` (`now >= expires_at`).
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Whether `ip` may use the key. With IP ranges set and no address known, no.
    pub fn allows_ip(&self, ip: Option<IpAddr>) -> bool {
        if self.allowed_ips.is_empty() {
            return true;
        }
        ip.is_some_and(|ip| {
            self.allowed_ips
                .iter()
                .any(|net| net.contains(&canonical(ip)))
        })
    }

    /// Whether a request with this `Origin` header may use the key. With origins set,
    /// a request without an `Origin` header is refused: it would otherwise slip past
    /// the restriction by leaving the header out.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        origin.is_some_and(|o| self.allowed_origins.iter().any(|p| p.matches(o)))
    }
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) is treated as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The parts of `scheme://host[:port]`, lowercased, default port dropped.
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = split_port(rest)?;
        let host_ok = !host.is_empty()
            && host.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | '[' | ']' | ':')
            });
        if !host_ok {
            return None;
        }
        Some(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.filter(|p| *p != default_port),
        })
    }
}

/// A host as a browser sends it in `Origin`: dot-separated non-empty labels of letters,
/// digits and `-`, or an IPv6 literal in brackets.
fn well_formed_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    // Labels as in RFC 1123: 1 to 63 letters, digits and inner hyphens.
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    // An IPv6 literal carries colons inside its brackets.
    let colon = match authority.rfind(']') {
        Some(close) => authority[close..].find(':').map(|i| close + i),
        None => authority.rfind(':'),
    };
    match colon {
        // Port 0 is no port a browser can be served from.
        Some(i) => {
            let port = authority[i + 1..].parse().ok().filter(|p: &u16| *p != 0)?;
            Some((&authority[..i], Some(port)))
        }
        None => Some((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_or_by_subdomain_wildcard() {
        let exact = OriginPattern::parse("https://App.Example.com").unwrap();
        assert!(exact.matches("https://app.example.com"));
        assert!(exact.matches("https://app.example.com:443"));
        assert!(!exact.matches("http://app.example.com"));
        assert!(!exact.matches("https://app.example.com.evil.net"));
        assert!(!exact.matches("https://app.example.com:8443"));
        assert!(!exact.matches("null"));

        let wild = OriginPattern::parse("https://*.example.com").unwrap();
        assert!(wild.matches("https://a.example.com"));
        assert!(wild.matches("https://a.b.example.com"));
        assert!(!wild.matches("https://example.com"));
        assert!(!wild.matches("https://badexample.com"));

        let local = OriginPattern::parse("http://localhost:3000").unwrap();
        assert!(local.matches("http://localhost:3000"));
        assert!(!local.matches("http://localhost:3001"));
    }

    #[test]
    fn malformed_origins_are_refused() {
        for bad in [
            "example.com",
            "ftp://x.com",
            "https://",
            "https://x.com/path",
            "https://*",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tenant_ids_are_checked() {
        assert!(TenantId::new("acme-01").is_ok());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("a b").is_err());
    }
}
