//! `bee`: the operator tool of the bee security workspace.

mod pii;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The operator tool of the bee security workspace.
#[derive(Debug, Parser)]
#[command(name = "bee", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find or remove personal data and secrets in text.
    #[command(subcommand)]
    Pii(pii::PiiCommand),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Pii(command) => pii::run(command),
    }
}
