//! `bee audit`: verify chained audit logs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bee_audit::{ChainKey, HEAD_FILE, Head, HeadError, VerifyReport, verify_files};
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
    /// The head file to check the chain's end against (default: `audit.head` beside the
    /// last log file, when there is one).
    #[arg(long, value_name = "FILE", conflicts_with = "no_head")]
    head: Option<PathBuf>,
    /// Check without a head file: a chain cut after a whole record then goes unnoticed.
    #[arg(long)]
    no_head: bool,
    /// The log files, oldest first (as a shell glob of `audit-*.jsonl` sorts them).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
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
    let head_path = head_path(args);
    let head = match head_path
        .as_deref()
        .map(|p| Head::read(p, &key))
        .transpose()
    {
        Ok(head) => head.flatten(),
        Err(e @ HeadError::Invalid { .. }) => return fail(BROKEN, &e.to_string()),
        Err(e) => return fail(USAGE, &e.to_string()),
    };
    match verify_files(&args.files, &key, head.as_ref()) {
        Ok(report) => print_report(&report, head_path.as_deref().zip(head.as_ref())),
        Err(e) => fail(USAGE, &e.to_string()),
    }
}

fn head_path(args: &VerifyArgs) -> Option<PathBuf> {
    if args.no_head {
        return None;
    }
    args.head.clone().or_else(|| {
        let beside = args.files.last()?.parent()?.join(HEAD_FILE);
        beside.exists().then_some(beside)
    })
}

fn print_report(report: &VerifyReport, head: Option<(&Path, &Head)>) -> ExitCode {
    let mut out = std::io::stdout().lock();
    // A closed stdout leaves the exit status as the only answer, which is still right.
    if let Some((path, head)) = head {
        let _ = writeln!(out, "head: {} (record {})", path.display(), head.seq());
    }
    if let (Some(first), Some(last)) = (report.first_seq, report.last_seq) {
        let _ = writeln!(out, "records {first}..{last}: {} verified", report.records);
        if first > 1 {
            let _ = writeln!(
                out,
                "note: the chain starts at record {first}; earlier files were removed \
                 (retention records say so) or are missing"
            );
        }
    }
    match &report.failure {
        None => {
            let _ = writeln!(out, "ok");
            ExitCode::SUCCESS
        }
        Some(failure) => {
            let _ = writeln!(out, "FAILED: {failure}");
            if report.records == 0 && failure.line == 1 {
                let _ = writeln!(out, "note: no record verified; is this the right key?");
            }
            ExitCode::from(BROKEN)
        }
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "bee audit verify: {message}");
    ExitCode::from(code)
}
