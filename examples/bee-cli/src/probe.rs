//! `bee probe`: attacks a running public-bee the way an attacker would, through its
//! HTTP API, and reports what got through.
//!
//! The probe makes throwaway bots and keys with the operator key it is given, runs its
//! checks (one line each: `PASS <name>` or `FAIL <name>: <what was seen>`), removes what
//! it made, and prints a summary. Exit status: 0 when every check passed, 1 on any
//! finding, 2 when it could not run or finish (usage, connection, setup, its own
//! address blocked, cleanup failed).
//!
//! Run it against a test deployment: its payloads are built not to destroy data, but
//! a server that fell for them could still be changed by them.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use zeroize::Zeroizing;

mod access;
mod clients;
mod exposure;
mod fixture;
mod http;
mod injection;
mod report;
mod traffic;

use fixture::Fixture;
use http::{Seen, Target};
use report::{Outcome, Report, say};

/// Options of `bee probe`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProbeArgs {
    /// Base URL of the server, such as `http://127.0.0.1:8092`.
    #[arg(long)]
    url: String,
    /// File holding an operator admin key (such as `<data-dir>/bootstrap-admin-key`).
    #[arg(long)]
    admin_key_file: PathBuf,
}

/// Why the probe could not run or finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    /// The command line or the key file is not usable.
    #[error("{0}")]
    Usage(String),
    /// The server does not answer.
    #[error("cannot reach the server: {0}")]
    Connection(String),
    /// The server refused to make the probe's bots or keys.
    #[error("cannot set up the probe's bots and keys: {0}")]
    Setup(String),
    /// The probe was interrupted; it ran its cleanup before stopping.
    #[error("interrupted; the cleanup lines above say what was removed")]
    Interrupted,
}

/// What the checks work with.
pub(crate) struct Ctx<'a> {
    /// The server.
    pub(crate) target: &'a mut Target,
    /// The bots and keys.
    pub(crate) fx: &'a Fixture,
    /// The lines printed.
    pub(crate) report: &'a mut Report,
    /// Why requests that fail authentication must not be sent, if they must not: the
    /// server would block the probe's address.
    pub(crate) no_failed_auth: Option<String>,
}

/// Runs `bee probe`.
pub(crate) fn run(args: ProbeArgs) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(probe(args)),
        Err(e) => Err(ProbeError::Usage(format!("cannot start the runtime: {e}"))),
    };
    match outcome {
        Ok(report) if report.has_findings() => ExitCode::FAILURE,
        Ok(report) if report.is_incomplete() => ExitCode::from(2),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "bee probe: {e}");
            ExitCode::from(2)
        }
    }
}

async fn probe(args: ProbeArgs) -> Result<Report, ProbeError> {
    let admin = read_key(&args.admin_key_file)?;
    let mut target = Target::new(&args.url)?;
    let mut report = Report::default();
    let fixture = fixture::setup(&mut target, admin.clone()).await;
    let checked = match &fixture {
        Ok(fx) => {
            let mut cx = Ctx {
                target: &mut target,
                fx,
                report: &mut report,
                no_failed_auth: None,
            };
            // Interrupted (Ctrl-C), the probe stops attacking and still cleans up.
            tokio::select! {
                checked = checks(&mut cx) => checked,
                _ = tokio::signal::ctrl_c() => Err(ProbeError::Interrupted),
            }
        }
        Err(_) => Ok(()),
    };

    // Everything made is removed, whatever the checks found or however they ended.
    let cleaned = fixture::cleanup(&mut target, &admin, fixture.as_ref().ok()).await;
    for line in &cleaned.done {
        say(&format!("cleanup: {line}"));
    }
    for line in &cleaned.failed {
        say(&format!("cleanup: FAILED to {line}"));
        report.incomplete();
    }
    fixture?;
    checked?;
    say(&report.summary());
    Ok(report)
}

async fn checks(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let apart = clients::apart(cx).await?;
    say(&apart.line());
    cx.no_failed_auth = apart.refusal();
    injection::sql(cx).await?;
    injection::markup(cx).await?;
    access::authentication(cx).await?;
    access::tenancy(cx).await?;
    access::signatures(cx).await?;
    traffic::rate_limits(cx).await?;
    traffic::bodies(cx).await?;
    traffic::content_types(cx).await?;
    traffic::cors(cx).await?;
    exposure::pii(cx).await?;
    exposure::headers(cx).await
}

/// The outcome of a check from its problems, unless the server blocked the probe's own
/// address on the way (a defence working, not a finding: the check is incomplete).
pub(crate) fn judge(seen: &[Seen], problems: &[String]) -> Outcome {
    if let Some(blocked) = seen.iter().find(|s| s.is_blocked()) {
        return Outcome::Incomplete(format!(
            "the server blocked the probe's own address ({}); run the probe on the \
             server's host or through a proxy the server trusts",
            blocked.line()
        ));
    }
    report::problems(problems)
}

fn read_key(path: &std::path::Path) -> Result<Zeroizing<String>, ProbeError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| ProbeError::Usage(format!("--admin-key-file {}: {e}", path.display())))?,
    );
    let key = text.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(ProbeError::Usage(format!(
            "--admin-key-file {}: the file must hold one key",
            path.display()
        )));
    }
    Ok(Zeroizing::new(key.to_owned()))
}
