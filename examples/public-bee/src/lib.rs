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
//! timeout ([`http`]); the block list and abuse score of the client address
//! ([`limits`], bee-ratelimit); the API key ([`auth`], bee-auth); the request signature
//! and nonce when the bot requires them; authorisation (RBAC
//! roles and scopes, ABAC tenant isolation, live bot, key bound to its bot); the bot's
//! rate-limit tiers for the key and the address, scaled by load; message validation,
//! pseudonymisation ([`pii`], bee-pii); the chat backend ([`backend`]); the answer
//! scanned and its placeholders restored; both messages sealed under the subject's key
//! ([`sealing`], bee-crypto); audit events with the monitor and its playbooks
//! ([`audit`], bee-audit).
//!
//! # Threats and limits
//!
//! What the server itself guards: every answer carries the security headers (CSP,
//! `nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy`, HSTS when the public origin is
//! HTTPS) and no server banner; bodies over 64 KiB are refused before they are read;
//! every request has a time limit; errors never carry internals; a key is checked before
//! a body is read; logs carry the request id and route template, never a key, a raw path,
//! a user id or a message; secret files are created with mode 0600 and refused at start
//! when group or others may read them; a client address is taken from `X-Forwarded-For`
//! only when the peer is a configured trusted proxy; failed authentications name a key in
//! the audit log only when the caller proved it held the secret, so that nobody can get
//! another's key suspended by the brute-force playbook.
//!
//! What it does not do: it does not terminate TLS (the nginx configuration in `deploy/`
//! does); the offline responder is lexical
//! retrieval, not a language model; CORS is checked per bot on the public routes only;
//! the admin audit views show this instance's recent events; the abuse detector's
//! "challenge" is answered with 429, for there is no challenge to offer.

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
