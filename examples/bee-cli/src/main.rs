//! `bee`: the operator tool of the bee security workspace.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod key;
mod pii;
mod probe;

/// The operator tool of the bee security workspace.
#[derive(Debug, Parser)]
#[command(name = "bee", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// API keys: make one, or check one offline.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Work with tamper-evident audit logs.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Find or remove personal data and secrets in text.
    #[command(subcommand)]
    Pii(pii::PiiCommand),
    /// Attack a running public-bee through its HTTP API and report what got through.
    Probe(probe::ProbeArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Key(command) => key::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Pii(command) => pii::run(command),
        Command::Probe(args) => probe::run(args),
    }
}
