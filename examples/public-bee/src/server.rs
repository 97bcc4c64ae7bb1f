//! Starting, running and stopping the server.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::audit::{Audit, AuditFiles, AuditSetupError, ServerActions};
use crate::auth::{Auth, AuthSetupError};
use crate::backend::{BackendError, ChatBackend, OfflineResponder, OpenAiBackend};
use crate::clock::{Clock, SystemClock};
use crate::config::{BackendConfig, Config};
use crate::data_dir::{DataDir, DataDirError};
use crate::http::{self, AppState, Metrics};
use crate::limits::{Limits, LimitsSetupError};
use crate::pii::Pii;
use crate::sealing::{Sealing, SealingSetupError};
use crate::store::{self, StoreError};

/// A server bound to its addresses, ready to run.
pub struct Server {
    config: Config,
    state: AppState,
    data_dir: DataDir,
    api: (TcpListener, Router),
    metrics: Option<(TcpListener, Router)>,
}

/// Builds a [`Server`], with parts replaced for tests.
pub struct ServerBuilder {
    config: Config,
    backend: Option<Arc<dyn ChatBackend>>,
    clock: Option<Arc<dyn Clock>>,
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data folder is not usable.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The records cannot be reached or migrated.
    #[error("cannot open the records")]
    Store(#[from] StoreError),
    /// Keys and policies cannot be set up.
    #[error("cannot set up api keys")]
    Auth(#[from] AuthSetupError),
    /// The nonce store cannot be reached.
    #[error("cannot reach the nonce store")]
    Nonces(#[source] bee_auth::signature::NonceStoreError),
    /// Sealing cannot be set up.
    #[error("cannot set up sealing")]
    Sealing(#[from] SealingSetupError),
    /// Rate limits cannot be set up.
    #[error("cannot set up rate limits")]
    Limits(#[from] LimitsSetupError),
    /// The audit trail cannot be set up.
    #[error("cannot set up the audit trail")]
    Audit(#[from] AuditSetupError),
    /// The chat backend cannot be set up.
    #[error("cannot set up the chat backend")]
    Backend(#[from] BackendError),
    /// A remote chat backend was configured, but messages cannot be pseudonymised yet.
    #[error(
        "the openai backend needs pseudonymisation (bee-pii), which this build does not have yet; use the offline backend"
    )]
    RemoteBackendNeedsPseudonyms,
    /// An address cannot be listened on.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving failed")]
    Serve(#[source] std::io::Error),
}

impl ServerBuilder {
    /// Replaces the chat backend chosen by the configuration.
    #[must_use]
    pub fn backend(mut self, backend: Arc<dyn ChatBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Replaces the system clock.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Opens the data folder and the records, sets up the pipeline and binds the
    /// listening addresses.
    ///
    /// # Errors
    ///
    /// When any of these fails.
    pub async fn bind(self) -> Result<Server, ServerError> {
        let config = self.config;
        let data_dir = DataDir::open(&config.data_dir)?;
        let database_url = config.database_url.as_ref().map(|u| u.expose());
        let database = store::open(database_url, &data_dir.sqlite_path()).await?;
        let backend = match self.backend {
            Some(backend) => backend,
            None => configured_backend(&config.chat.backend)?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let nonces = nonce_store(&config, Arc::clone(&clock)).await?;
        let auth = Auth::open(
            &config.auth,
            &data_dir,
            &database.pool,
            Arc::clone(&clock),
            nonces,
        )
        .await?;
        let bootstrap = data_dir.bootstrap_key_path();
        if auth.bootstrap(&bootstrap).await? {
            // The path only: the key itself is never printed or logged.
            tracing::info!(path = %bootstrap.display(), "bootstrap admin key written");
        }
        let auth = Arc::new(auth);
        let redis = config
            .redis_url
            .as_ref()
            .map(|url| (url.expose(), config.redis_prefix.as_str()));
        let limits = Arc::new(Limits::open(redis, Arc::clone(&clock))?);
        let actions = ServerActions::new(
            Arc::clone(&auth),
            Arc::clone(&database.store),
            Arc::clone(&limits),
        );
        let files = AuditFiles {
            monitor: config.audit.monitor_file.clone(),
            processing: config.audit.processing_records_file.clone(),
        };
        let pii = Arc::new(Pii::new());
        let sealing = Arc::new(Sealing::load(&data_dir, Arc::clone(&database.subject_keys)).await?);
        let audit = Audit::open(
            &data_dir,
            &files,
            Arc::clone(&clock),
            Arc::new(actions),
            Arc::clone(&pii),
        )?;
        let state = AppState {
            store: database.store,
            auth,
            audit: Arc::new(audit),
            limits,
            pii,
            sealing,
            history_turns: config.chat.history_turns,
            backend,
            clock,
            metrics: Arc::new(Metrics::default()),
        };

        let api = (
            bind(config.listen).await?,
            http::router(state.clone(), &config.http),
        );
        let metrics = match config.metrics_listen {
            Some(addr) => Some((
                bind(addr).await?,
                http::metrics_router(Arc::clone(&state.metrics), &config.http),
            )),
            None => None,
        };
        Ok(Server {
            config,
            state,
            data_dir,
            api,
            metrics,
        })
    }
}

impl Server {
    /// A builder for a server with this configuration.
    pub fn builder(config: Config) -> ServerBuilder {
        ServerBuilder {
            config,
            backend: None,
            clock: None,
        }
    }

    /// Binds a server with this configuration and the parts it names.
    ///
    /// # Errors
    ///
    /// See [`ServerBuilder::bind`].
    pub async fn bind(config: Config) -> Result<Self, ServerError> {
        Self::builder(config).bind().await
    }

    /// The address the API listens on (useful after binding port 0).
    ///
    /// # Errors
    ///
    /// When the socket cannot say.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.api.0.local_addr()
    }

    /// The address `GET /metrics` listens on, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The shared state, for tests that look at the records directly.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The data folder.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// Serves until `shutdown` completes, then stops accepting connections, lets in-flight
    /// requests finish (for at most the configured grace time) and closes the records.
    ///
    /// # Errors
    ///
    /// When serving fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });

        let mut api = tokio::spawn(serve(self.api, stop_rx.clone()));
        let metrics = self
            .metrics
            .map(|metrics| tokio::spawn(serve(metrics, stop_rx.clone())));

        // The stop signal first: once it is given, the serving task ends soon after,
        // and both may be ready at the same poll.
        let ended_early = tokio::select! {
            biased;
            () = stopped(stop_rx) => None,
            ended = &mut api => Some(ended),
        };
        let served = match ended_early {
            Some(ended) => flatten(ended),
            None => {
                tracing::info!("shutting down: finishing in-flight requests");
                let grace = self.config.http.shutdown_grace;
                match tokio::time::timeout(grace, &mut api).await {
                    Ok(ended) => flatten(ended),
                    Err(_) => {
                        tracing::warn!(
                            grace_secs = grace.as_secs(),
                            "requests still running after the grace time; closing them"
                        );
                        api.abort();
                        Ok(())
                    }
                }
            }
        };
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        if let Err(e) = self.state.audit.flush().await {
            tracing::error!(error = %http::error::ErrorChain(&e), "audit flush failed");
        }
        self.state.store.close().await?;
        tracing::info!("stopped");
        served
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Nonces of signed requests: in Redis for a fleet (a nonce used on one instance is
/// refused by every other), in memory otherwise.
async fn nonce_store(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn bee_auth::NonceStore>, ServerError> {
    use bee_auth::signature::{MemoryNonceStore, RedisNonceStore};
    Ok(match &config.redis_url {
        Some(url) => {
            let prefix = format!("{}:nonce", config.redis_prefix);
            Arc::new(
                RedisNonceStore::connect(url.expose(), prefix)
                    .await
                    .map_err(ServerError::Nonces)?,
            )
        }
        None => {
            Arc::new(MemoryNonceStore::new().with_clock(Arc::new(crate::auth::AuthClock(clock))))
        }
    })
}

fn configured_backend(config: &BackendConfig) -> Result<Arc<dyn ChatBackend>, ServerError> {
    Ok(match config {
        BackendConfig::Offline => Arc::new(OfflineResponder),
        BackendConfig::OpenAi(openai) => Arc::new(OpenAiBackend::new(openai.clone())?),
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

async fn serve(
    (listener, router): (TcpListener, Router),
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(stopped(stop))
        .into_future()
        .await
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender is gone, which happens only once it has sent.
    let _ = stop.wait_for(|stop| *stop).await;
}

fn flatten(ended: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), ServerError> {
    match ended {
        Ok(result) => result.map_err(ServerError::Serve),
        Err(join) => Err(ServerError::Serve(std::io::Error::other(join))),
    }
}
