//! `bee audit`: verify chained audit logs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use bee_audit::{ChainKey, FailureKind, HEAD_FILE, Head, HeadError, VerifyReport, verify_files};
use clap::{Args, Subcommand};

/// Exit status when a record fails to verify.
const BROKEN: u8 = 1;
/// Exit status when the command cannot run (clap uses the same for bad arguments).
const USAGE: u8 = 2;

/// Audit log commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the chain of audit log files: exit 0 when every record verifies, 1 with the
    /// first failure (file, line, kind), 2 on a usage error.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The chain key file (64 hexadecimal characters).
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    /// The head file that names where the chain starts and ends (default: `audit.head`
    /// beside the last log file). Without it, verification fails: records cut from either
    /// end of the chain cannot be seen.
    #[arg(long, value_name = "FILE", conflicts_with = "no_head")]
    head: Option<PathBuf>,
    /// Check the chain alone, without a head file (for files copied away from their
    /// directory, or part of a chain): records cut from its start look like retention and
    /// a cut after a whole record at its end goes unnoticed.
    #[arg(long)]
    no_head: bool,
    /// The log files, oldest first (as a shell glob of `audit-*.jsonl` sorts them).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// What the chain is checked against.
enum HeadCheck {
    /// The head read from this file.
    Read(PathBuf, Head),
    /// No head in this file (none there, or never written): a failure of its own.
    Missing(PathBuf),
    /// The chain alone, as asked.
    Skipped,
}

impl HeadCheck {
    fn head(&self) -> Option<&Head> {
        match self {
            Self::Read(_, head) => Some(head),
            Self::Missing(_) | Self::Skipped => None,
        }
    }
}

pub(crate) fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => verify(&args),
    }
}

fn verify(args: &VerifyArgs) -> ExitCode {
    let key = match ChainKey::read_file(&args.key_file) {
        Ok(key) => key,
        Err(e) => return fail(USAGE, &e.to_string()),
    };
    let check = match head_path(args).map(|p| (Head::read(&p, &key), p)) {
        None => HeadCheck::Skipped,
        Some((Ok(Some(head)), path)) => HeadCheck::Read(path, head),
        Some((Ok(None), path)) => HeadCheck::Missing(path),
        Some((Err(e @ HeadError::Invalid { .. }), _)) => return fail(BROKEN, &e.to_string()),
        Some((Err(e), _)) => return fail(USAGE, &e.to_string()),
    };
    match verify_files(&args.files, &key, check.head()) {
        Ok(report) => print_report(&report, &check),
        Err(e) => fail(USAGE, &e.to_string()),
    }
}

fn head_path(args: &VerifyArgs) -> Option<PathBuf> {
    if args.no_head {
        return None;
    }
    let beside = || {
        let dir = args.files.last()?.parent()?;
        Some(dir.join(HEAD_FILE))
    };
    Some(
        args.head
            .clone()
            .or_else(beside)
            .unwrap_or_else(|| PathBuf::from(HEAD_FILE)),
    )
}

fn print_report(report: &VerifyReport, check: &HeadCheck) -> ExitCode {
    let mut out = std::io::stdout().lock();
    // A closed stdout leaves the exit status as the only answer, which is still right.
    match check {
        HeadCheck::Read(path, head) => {
            let _ = writeln!(
                out,
                "head: {} (records {}..{})",
                path.display(),
                head.first_seq(),
                head.seq()
            );
        }
        HeadCheck::Missing(path) => {
            let _ = writeln!(out, "head: none at {}", path.display());
        }
        HeadCheck::Skipped => {
            let _ = writeln!(out, "head: not checked (--no-head)");
        }
    }
    if let (Some(first), Some(last)) = (report.first_seq, report.last_seq) {
        let _ = writeln!(out, "records {first}..{last}: {} verified", report.records);
        if first > 1 {
            let _ = writeln!(out, "note: {}", start_note(first, check));
        }
    } else if report.failure.is_none() {
        let _ = writeln!(out, "records: none (the files hold no record)");
    }
    if let Some(failure) = &report.failure {
        let _ = writeln!(out, "FAILED: {failure}");
        if report.records == 0 && failure.line == 1 && failure.kind == FailureKind::Modified {
            let _ = writeln!(out, "note: no record verified; is this the right key?");
        }
        return ExitCode::from(BROKEN);
    }
    if let HeadCheck::Missing(path) = check {
        let _ = writeln!(
            out,
            "FAILED: no head file at {}: records cut from the start or the end of the chain \
             cannot be seen without it (the log sink always writes one); pass --head FILE, \
             or --no-head to check the chain alone",
            path.display()
        );
        return ExitCode::from(BROKEN);
    }
    let _ = writeln!(out, "ok");
    ExitCode::SUCCESS
}

/// What a chain that starts after record 1 means, given what it was checked against.
fn start_note(first: u64, check: &HeadCheck) -> String {
    match check {
        HeadCheck::Read(_, head) if first < head.first_seq() => format!(
            "the chain starts at record {first}, before its head's start ({}): retention \
             stopped before removing those files, and its next run removes them",
            head.first_seq()
        ),
        HeadCheck::Read(..) => format!(
            "the chain starts at record {first}, where its head says it does: earlier \
             records were removed by retention (the chain's retention records say which)"
        ),
        HeadCheck::Missing(_) | HeadCheck::Skipped => format!(
            "the chain starts at record {first}; without its head, records deleted before \
             it cannot be told from files removed by retention (the chain's retention \
             records say which were)"
        ),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "bee audit verify: {message}");
    ExitCode::from(code)
}
