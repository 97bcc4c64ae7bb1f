//! A server on an ephemeral port, inside the test process, with a temporary data folder.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use public_bee::backend::{BackendError, BackendFuture, ChatBackend, ChatReply, ChatRequest};
use public_bee::clock::ManualClock;
use public_bee::config::Config;
use public_bee::http::AppState;
use public_bee::server::{Server, ServerError};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and an HTTP client for it.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) metrics_addr: Option<SocketAddr>,
    pub(crate) state: AppState,
    pub(crate) client: reqwest::Client,
    data: TempDir,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServerError>>,
}

/// What a test changes before the server starts.
pub(crate) struct Options {
    pub(crate) config: Config,
    pub(crate) backend: Option<Arc<dyn ChatBackend>>,
    pub(crate) clock: Option<Arc<ManualClock>>,
    data: TempDir,
}

impl Options {
    /// Defaults, with a fresh data folder and port 0.
    pub(crate) fn new() -> Self {
        Self::on(tempfile::tempdir().unwrap())
    }

    /// Defaults, on the data folder of an earlier server.
    pub(crate) fn on(data: TempDir) -> Self {
        let mut config = Config::with_data_dir(data.path().join("data"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        Self {
            config,
            backend: None,
            clock: None,
            data,
        }
    }

    pub(crate) fn backend(mut self, backend: Arc<dyn ChatBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    pub(crate) async fn start(self) -> TestServer {
        let mut builder = Server::builder(self.config);
        if let Some(backend) = self.backend {
            builder = builder.backend(backend);
        }
        if let Some(clock) = self.clock.clone() {
            builder = builder.clock(clock);
        }
        let server = builder.bind().await.unwrap();
        let addr = server.local_addr().unwrap();
        let metrics_addr = server.metrics_addr();
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            metrics_addr,
            state,
            client: reqwest::Client::new(),
            data: self.data,
            stop,
            task,
        }
    }
}

impl TestServer {
    /// A server with every default.
    pub(crate) async fn start() -> Self {
        Options::new().start().await
    }

    /// The data folder.
    pub(crate) fn data_path(&self) -> std::path::PathBuf {
        self.data.path().join("data")
    }

    /// The bootstrap admin key, as written on first start.
    pub(crate) fn admin_key(&self) -> String {
        let path = self.data_path().join("bootstrap-admin-key");
        std::fs::read_to_string(path).unwrap().trim().to_owned()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    /// A request with a bearer key.
    pub(crate) fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(key)
    }

    /// `POST` of a JSON body with a key; the status and the JSON answer.
    pub(crate) async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self
            .call(method, path, key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Stops the server gracefully and hands back its data folder.
    pub(crate) async fn stop(self) -> TempDir {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        self.data
    }
}

/// The `bee` operator tool beside this test, brought up to date first (a no-op under
/// `cargo test --workspace`, which has just built it).
pub(crate) fn bee_binary() -> std::path::PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bee = profile_dir.join("bee");
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "bee-cli",
                "--bin",
                "bee",
                "--manifest-path",
            ])
            .arg(manifest)
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the bee tool");
    });
    bee
}

/// A backend that records what it was given and answers with a function of it.
pub(crate) struct RecordingBackend {
    seen: Mutex<Vec<ChatRequest>>,
    answer: fn(&ChatRequest) -> Result<String, BackendError>,
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

impl RecordingBackend {
    pub(crate) fn new(answer: fn(&ChatRequest) -> Result<String, BackendError>) -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            answer,
            gate: None,
        })
    }

    /// A backend that answers only once `gate` has a permit for it.
    pub(crate) fn gated(
        answer: fn(&ChatRequest) -> Result<String, BackendError>,
        gate: Arc<tokio::sync::Semaphore>,
    ) -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            answer,
            gate: Some(gate),
        })
    }

    /// Everything the backend was given, in order.
    pub(crate) fn seen(&self) -> Vec<ChatRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl ChatBackend for RecordingBackend {
    fn reply<'a>(&'a self, request: &'a ChatRequest) -> BackendFuture<'a> {
        self.seen.lock().unwrap().push(request.clone());
        Box::pin(async move {
            if let Some(gate) = &self.gate {
                gate.acquire().await.unwrap().forget();
            }
            Ok(ChatReply {
                text: (self.answer)(request)?,
                tokens_used: 1,
                sources: Vec::new(),
            })
        })
    }
}
