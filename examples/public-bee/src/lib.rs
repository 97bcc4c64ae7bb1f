//! `public-bee`: the reference server of the bee security workspace.
//!
//! A public chatbot API in axum: bots that answer from their own knowledge entries, chat
//! with conversation history, an admin API, and the bee crates in one request pipeline.
//! It runs alone on a data folder (SQLite, in-memory state, audit files) or as a fleet
//! sharing PostgreSQL and Redis.
//!
//! The binary reads its [`config::Config`] from flags, environment variables and a TOML
//! file; tests and embedders build one in code and start a [`server::Server`]:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use public_bee::config::Config;
//! use public_bee::server::Server;
//!
//! let data = tempfile::tempdir()?;
//! let mut config = Config::with_data_dir(data.path());
//! config.listen = "127.0.0.1:0".parse()?;
//!
//! let server = Server::bind(config).await?;
//! let addr = server.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(server.run(async move { let _ = stopped.await; }));
//!
//! // ... talk HTTP to `addr` ...
//! # let _ = addr;
//! let _ = stop.send(());
//! running.await??;
//! # Ok(())
//! # }
//! ```
//!
//! # The pipeline
//!
//! A chat request passes, in order: request id, security headers, body limit and
//! timeout; abuse check on the client address; API key; request signature and nonce;
//! authorisation; rate limits; message validation; pseudonymisation; the chat backend;
//! placeholders restored and the answer scanned; messages stored sealed under the
//! subject's key; audit events. The server wires each step from its crate; a step whose
//! crate is not part of the workspace yet is not in the pipeline, and the README says
//! which steps are live.
//!
//! # Threats and limits
//!
//! What the server itself guards: every answer carries the security headers (CSP,
//! `nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy`, HSTS when the public origin is
//! HTTPS) and no server banner; bodies over 64 KiB are refused before they are read;
//! every request has a time limit; errors never carry internals; logs carry the request
//! id and route template, never a key, a raw path or a message; secret files are created
//! with mode 0600 and refused at start when group or others may read them; a client
//! address is taken from `X-Forwarded-For` only when the peer is a configured trusted
//! proxy.
//!
//! What it does not do: it does not terminate TLS (the nginx configuration in `deploy/`
//! does); the offline responder is lexical retrieval, not a language model, and answers
//! only from the bot's entries; CORS is checked per bot on the public routes only (the
//! admin API is not meant for browsers).

pub mod audit;
pub mod auth;
pub mod backend;
pub mod bots;
pub mod clock;
pub mod config;
pub mod data_dir;
pub mod http;
pub mod limits;
pub mod model;
pub mod pii;
pub mod sealing;
pub mod secret;
pub mod server;
pub mod store;
