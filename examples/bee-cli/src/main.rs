//! `bee`: the operator tool of the bee security workspace.

use clap::Parser;

/// The operator tool of the bee security workspace.
#[derive(Debug, Parser)]
#[command(name = "bee", version, about, long_about = None)]
struct Cli {}

fn main() {
    let Cli {} = Cli::parse();
}
