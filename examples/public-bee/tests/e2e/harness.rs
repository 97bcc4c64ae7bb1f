//! A server on an ephemeral port, inside the test process, with a temporary data folder.

use std::net::SocketAddr;
use std::sync::Arc;

use public_bee::backend::ChatBackend;
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
    data: TempDir,
}

impl Options {
    /// Defaults, with a fresh data folder and port 0.
    pub(crate) fn new() -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::with_data_dir(data.path().join("data"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        Self {
            config,
            backend: None,
            data,
        }
    }

    pub(crate) async fn start(self) -> TestServer {
        let mut builder = Server::builder(self.config);
        if let Some(backend) = self.backend {
            builder = builder.backend(backend);
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

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// Stops the server gracefully and hands back its data folder.
    pub(crate) async fn stop(self) -> TempDir {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        self.data
    }
}
