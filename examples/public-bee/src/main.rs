//! `public-bee`: run the reference server.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use public_bee::config::{Cli, Config, LogFormat};
use public_bee::http::error::ErrorChain;
use public_bee::server::{Server, shutdown_signal};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::resolve(Cli::parse()) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    init_tracing(config.log_format);

    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(e) => return fail(&e),
    };
    if let Ok(addr) = server.local_addr() {
        tracing::info!(%addr, data_dir = %server.data_dir().root().display(), "listening");
    }
    if let Some(addr) = server.metrics_addr() {
        tracing::info!(%addr, "serving metrics");
    }
    match server.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn init_tracing(format: LogFormat) {
    // sqlx logs statements at info; they are noise at the server's level.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

fn fail(error: &(dyn std::error::Error + 'static)) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "public-bee: {}", ErrorChain(error));
    ExitCode::FAILURE
}
