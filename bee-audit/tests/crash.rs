//! Crash safety: a writer killed with SIGKILL at several moments, then restart and verify.
//!
//! This file is its own harness. Run normally, it is the test: it starts itself again as
//! a child process that writes events in a loop (small ones and large ones, so that a
//! kill can land inside a write), kills the child once it has acknowledged a chosen
//! number of records, then checks that every acknowledged record survived, that a torn
//! final line is reported (never merged), that reopening continues the chain after the
//! last complete record, and that the whole chain verifies, against its head too. After
//! retention has moved the chain's start, two more kills check that the start stays
//! where retention put it.
//!
//! On Linux a write of a record into the page cache completes before SIGKILL takes
//! effect in practice, so kills alone rarely tear a line; one round therefore has the
//! child append half a record (what a short write, a full disk or a power cut leaves)
//! before it is killed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use bee_audit::{
    Activity, AuditSink, ChainKey, ChainedFileSink, Durability, Event, FailureKind, FileSinkConfig,
    HEAD_FILE, Head, Label, Record, SystemClock, SystemNote, Verbatim, verify_files,
};

const CHILD_DIR: &str = "BEE_AUDIT_CRASH_CHILD_DIR";
const CHILD_KEY: &str = "BEE_AUDIT_CRASH_CHILD_KEY";
/// Makes the child leave half a record behind before it is killed.
const CHILD_TEAR: &str = "BEE_AUDIT_CRASH_CHILD_TEAR";

fn main() {
    match (std::env::var_os(CHILD_DIR), std::env::var_os(CHILD_KEY)) {
        (Some(dir), Some(key)) => child(Path::new(&dir), Path::new(&key)),
        _ => parent(),
    }
}

fn config(dir: &Path) -> FileSinkConfig {
    FileSinkConfig::new(dir)
        .rotate_bytes(4 << 20)
        .durability(Durability::Interval(std::time::Duration::from_millis(10)))
}

fn event(n: u64) -> Record {
    // Every seventh event is about 600 KiB, so that some kills land inside a write.
    let size = if n % 7 == 3 { 600_000 } else { 40 };
    let event = Event::new(
        jiff::Timestamp::now(),
        Activity::ConfigChange {
            setting: Label::new("crash_test").unwrap(),
        },
    )
    .message("x".repeat(size))
    .detail(Label::new("n").unwrap(), n);
    Record::scrub(event, &Verbatim)
}

/// Writes until killed, printing the sequence number of each acknowledged record.
fn child(dir: &Path, key: &Path) {
    let key = ChainKey::read_file(key).unwrap();
    let (sink, report) = ChainedFileSink::open(config(dir), &key, Arc::new(SystemClock)).unwrap();
    let mut out = std::io::stdout().lock();
    if let Some(torn) = &report.torn {
        writeln!(out, "torn {} {}", torn.line, torn.bytes).unwrap();
    }
    for n in 0..200_000 {
        let record = event(n);
        if record.message.as_ref().is_some_and(|m| m.len() > 1000) {
            writeln!(out, "big").unwrap();
            out.flush().unwrap();
        }
        sink.write(&record).unwrap();
        writeln!(out, "ack {}", sink.last_seq()).unwrap();
        out.flush().unwrap();
        if n == 5 && std::env::var_os(CHILD_TEAR).is_some() {
            tear(dir, &mut out);
        }
    }
}

/// Leaves the first half of a record at the end of the log, as a short write does, and
/// waits to be killed.
fn tear(dir: &Path, out: &mut impl Write) -> ! {
    let last = files(dir).pop().unwrap();
    let text = std::fs::read(&last).unwrap();
    let start = text[..text.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let half = &text[start..start + (text.len() - start) / 2];
    std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap()
        .write_all(half)
        .unwrap();
    writeln!(out, "torn-written").unwrap();
    out.flush().unwrap();
    loop {
        std::thread::park();
    }
}

/// One log directory that children write to and are killed in.
struct Crashes<'a> {
    log_dir: &'a Path,
    key_path: &'a Path,
    key: &'a ChainKey,
}

impl Crashes<'_> {
    /// Kills a writer, checks the log, restarts and checks it again. The chain must start
    /// at `first_seq` throughout. Returns whether a torn line was found and set aside.
    fn kill_and_restart(
        &self,
        round: usize,
        kill_after: u64,
        delay_us: u64,
        first_seq: u64,
    ) -> bool {
        let (log_dir, key) = (self.log_dir, self.key);
        let Round { max_acked } = run_child(log_dir, self.key_path, kill_after, delay_us);
        let head = Head::read(log_dir.join(HEAD_FILE), key).unwrap();

        // Before restart: the chain is whole up to a possibly torn final line, and it
        // holds every acknowledged record; the head never claims more than is there.
        let files_now = files(log_dir);
        let report = verify_files(&files_now, key, head.as_ref()).unwrap();
        let torn_before = match &report.failure {
            None => false,
            Some(f) if f.kind == FailureKind::TornTail => {
                assert_eq!(&f.file, files_now.last().unwrap(), "round {round}: {f}");
                true
            }
            Some(f) => panic!("round {round}: unexpected failure after a kill: {f}"),
        };
        let last_seq = report.last_seq.unwrap();
        assert!(
            last_seq >= max_acked,
            "round {round}: lost acknowledged records"
        );

        // Restart: the torn line is reported and set aside, the chain continues.
        let (sink, opened) =
            ChainedFileSink::open(config(log_dir), key, Arc::new(SystemClock)).unwrap();
        assert_eq!(opened.last_seq, last_seq, "round {round}");
        assert_eq!(opened.torn.is_some(), torn_before, "round {round}");
        if torn_before {
            assert_eq!(
                sink.last_seq(),
                last_seq + 1,
                "round {round}: recovery record"
            );
        }
        sink.write(&event(u64::MAX)).unwrap();
        sink.close().unwrap();
        drop(sink);

        let report = verify_files(&files(log_dir), key, None).unwrap();
        assert!(report.is_intact(), "round {round}: {:?}", report.failure);
        assert_eq!(report.first_seq, Some(first_seq));
        let head = Head::read(log_dir.join(HEAD_FILE), key).unwrap().unwrap();
        assert_eq!(head.first_seq(), first_seq, "round {round}");
        let report = verify_files(&files(log_dir), key, Some(&head)).unwrap();
        assert!(report.is_intact(), "round {round}: {:?}", report.failure);
        torn_before
    }
}

/// How many recovery records the log holds.
fn recovery_notes(dir: &Path) -> usize {
    let text: String = files(dir)
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned())
        .collect();
    let recovered = serde_json::to_string(&SystemNote::Recovered {
        file: String::new(),
        line: 0,
        torn_bytes: 0,
        kept_in: String::new(),
    })
    .unwrap();
    let marker = &recovered[..recovered.find(',').unwrap()];
    text.matches(marker.trim_start_matches('{')).count()
}

/// `kill_after` value of the round whose child leaves a torn line on purpose.
const TEAR: u64 = u64::MAX;

struct Round {
    max_acked: u64,
}

/// Runs a child and kills it once it has acknowledged `kill_after` records and then
/// announced a large one, `delay_us` microseconds into that large write.
fn run_child(dir: &Path, key: &Path, kill_after: u64, delay_us: u64) -> Round {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env(CHILD_DIR, dir)
        .env(CHILD_KEY, key)
        .stdout(Stdio::piped());
    if kill_after == TEAR {
        command.env(CHILD_TEAR, "1");
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0;
    let mut max_acked = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(seq) = line.strip_prefix("ack ") {
            max_acked = seq.parse().unwrap();
            acked += 1;
        } else if line == "torn-written" || (line == "big" && acked >= kill_after) {
            std::thread::sleep(std::time::Duration::from_micros(delay_us));
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Acknowledgements printed before the kill still count.
    for line in lines {
        if let Some(seq) = line.unwrap().strip_prefix("ack ") {
            max_acked = seq.parse().unwrap();
        }
    }
    Round { max_acked }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    ChainedFileSink::files(dir).unwrap()
}

fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("audit");
    let key_path = dir.path().join("audit-chain.key");
    let key = ChainKey::create_file(&key_path).unwrap();
    let mut torn_seen = 0;

    let moments = [
        (0, 0),
        (1, 50),
        (TEAR, 0),
        (2, 200),
        (9, 400),
        (40, 800),
        (150, 1600),
        (600, 3200),
    ];
    let crashes = Crashes {
        log_dir: &log_dir,
        key_path: &key_path,
        key: &key,
    };
    for (round, (kill_after, delay_us)) in moments.into_iter().enumerate() {
        torn_seen += usize::from(crashes.kill_and_restart(round, kill_after, delay_us, 1));
    }

    assert_eq!(recovery_notes(&log_dir), torn_seen);
    assert!(torn_seen >= 1, "the tearing round must leave a torn line");

    // Retention removes the old files and moves the head's start; a kill after that
    // and the restart keep the start where retention put it.
    let (sink, _) = ChainedFileSink::open(config(&log_dir), &key, Arc::new(SystemClock)).unwrap();
    let retained = sink.apply_retention(std::time::Duration::ZERO).unwrap();
    sink.close().unwrap();
    drop(sink);
    assert!(!retained.removed.is_empty());
    let first_kept = retained.first_kept_seq.unwrap();
    let head = Head::read(log_dir.join(HEAD_FILE), &key).unwrap().unwrap();
    assert_eq!(head.first_seq(), first_kept);
    let notes_kept = recovery_notes(&log_dir);
    let mut torn_after = 0;
    for (round, (kill_after, delay_us)) in [(40, 800), (TEAR, 0)].into_iter().enumerate() {
        let round = moments.len() + round;
        torn_after +=
            usize::from(crashes.kill_and_restart(round, kill_after, delay_us, first_kept));
    }
    assert_eq!(recovery_notes(&log_dir), notes_kept + torn_after);
    assert!(torn_after >= 1, "the tearing round must leave a torn line");
    torn_seen += torn_after;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "crash: {} kills, {torn_seen} torn tails set aside, chain intact",
        moments.len() + 2
    )
    .unwrap();
    writeln!(out, "test result: ok. 1 passed; 0 failed; 0 ignored").unwrap();
}
