//! End-to-end tests of the reference server: real HTTP against a server on an ephemeral
//! port with a temporary data folder, and the records against SQLite and the test
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod admin;
mod audit;
mod binary;
mod chat;
mod fleet;
mod harness;
mod history;
mod http_basics;
mod limits;
mod openai_backend;
mod pg;
mod signatures;
mod store;
