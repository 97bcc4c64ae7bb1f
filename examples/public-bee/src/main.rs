//! `public-bee`: the reference server of the bee security workspace.
//!
//! It is not built yet. This binary says so and exits with a failure status, so that
//! nobody mistakes it for a running server.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let _ = writeln!(
        std::io::stderr(),
        "public-bee: the reference server is not built yet (see README.md)"
    );
    ExitCode::FAILURE
}
