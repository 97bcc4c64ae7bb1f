//! Checking a chain: how many records are good, and where and how the first bad one is.
//!
//! # What a chain can and cannot tell
//!
//! Each record carries its sequence number and the MAC of the record before it, under a
//! key the attacker is assumed not to hold. So, reading the files in order:
//!
//! - a changed byte anywhere in a record breaks its MAC: **modified** (this covers a
//!   record forged without the key, unless the record after it links to the one before
//!   it, in which case the forged line is **inserted**);
//! - a missing record leaves a gap in the sequence: **deleted**, or **truncated** when the
//!   gap falls at a file boundary and the earlier file lacks its rotation marker (the
//!   file lost its end);
//! - a valid record out of place is **reordered** when the record expected there turns up
//!   later, and **inserted** when it is a second copy of a record (or belongs to another
//!   chain under the same key);
//! - an incomplete last line is a **torn tail** (a crash, or a cut inside a record).
//!
//! What the records alone cannot show is a chain cut after a whole record, or before
//! one at its start: the shortened chain is a valid chain. The head file closes both
//! ends.
//!
//! # With the head file
//!
//! The file sink keeps a MACed [`Head`] naming where the chain starts (the first
//! sequence number and the MAC its record must carry as `prev`: 1 and all zeros for a
//! new chain, moved forward only by
//! [retention](crate::ChainedFileSink::apply_retention)) and the last record it made
//! durable. Given the head, `verify` checks the chain between the two:
//!
//! - a first record after the start (records missing before it, up to whole files) is
//!   **deleted**, reported at that record: the first file given, line 1, unless that
//!   file is empty; a record out of place there is **inserted** or **reordered** as
//!   anywhere else;
//! - a first record that continues a different record than the start names is a **head
//!   mismatch** (a log of another chain under the same key, or a head from one);
//! - records older than the start are accepted when the chain runs from them through
//!   the start (retention writes the start before it removes the files, and may stop
//!   in between); a chain that passes the start's sequence number on a different record
//!   is a **head mismatch**;
//! - a chain that ends before the head's last record is **truncated**, and a record
//!   other than the one the head names at that number is a **head mismatch**.
//!
//! So with the head, deleting any record or run of records, anywhere up to the head's
//! last record, is found. What remains: records written after the last head update (at most one durability
//! interval) can be cut from the end without trace, and an attacker who saved an old
//! copy of the head file can put it back to hide a cut at the end (an old head's start
//! is never later than the current one, so it cannot hide a cut at the start). A head
//! kept elsewhere (another machine, a signed checkpoint) closes that gap, and is outside
//! this crate. Check all the files of the directory, oldest first: given the head, a
//! chain checked from a later file is reported as deleted at its first line.
//!
//! # Without the head file
//!
//! Passing no head checks the chain alone, for files copied away from their directory
//! or a part of a chain. It finds every change, insertion, reordering and deletion
//! inside the chain, a torn last line, and a file missing its end or a missing last file
//! (through rotation markers). It takes the first record it reads as the start: records
//! or whole files removed from the front leave a chain that starts at a later sequence
//! number, which the report gives ([`VerifyReport::first_seq`]) and does not count as a
//! failure, since retention does the same. Whether such a start is legitimate is for
//! the reader to judge from the retention records in the chain (each names the first
//! sequence number it kept). Likewise whole records cut from the end go unnoticed,
//! unless the cut leaves a rotation marker without its next file. An attacker who deletes the first records
//! and the head file is left exactly there: the sink refuses to open a directory that
//! holds records and no head ([`OpenError::HeadMissing`](crate::OpenError::HeadMissing)),
//! and `bee audit verify` fails when the head file is missing unless told to check the
//! chain alone, so the missing head is itself reported.
//!
//! A copy of a record inserted right before the original looks exactly like the original
//! followed by a copy, so the failure is reported on the second of the two.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::chain::{Chainer, Line, Link, Tag};
use crate::head::Head;
use crate::key::ChainKey;
use crate::layout::is_rotation_marker;

/// How far verification looks past a failure to tell its kind.
const LOOKAHEAD_LINES: usize = 1 << 16;

/// The outcome of verifying a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records that verified before the first failure (all of them when there is none).
    pub records: u64,
    /// The sequence number of the first record (greater than 1 when the chain's start
    /// is not among the files: removed by retention, or, when no head was given to tell,
    /// deleted).
    pub first_seq: Option<u64>,
    /// The sequence number of the last good record.
    pub last_seq: Option<u64>,
    /// Bytes read.
    pub bytes: u64,
    /// The first failure, if any.
    pub failure: Option<Failure>,
}

impl VerifyReport {
    /// Whether every record verified.
    pub fn is_intact(&self) -> bool {
        self.failure.is_none()
    }
}

/// Where and how a chain first fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What is wrong.
    pub kind: FailureKind,
    /// The file.
    pub file: PathBuf,
    /// The line in the file, from 1 (one past the last line for a truncation at the end).
    pub line: u64,
    /// The sequence number the chain needed here, when known.
    pub expected_seq: Option<u64>,
    /// The sequence number found here, when the line authenticated.
    pub found_seq: Option<u64>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.kind)?;
        match (self.expected_seq, self.found_seq) {
            (Some(e), Some(s)) => write!(f, " (expected record {e}, found {s})"),
            (Some(e), None) => write!(f, " (expected record {e})"),
            _ => Ok(()),
        }
    }
}

/// The kinds of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// A record's bytes were changed (or it was forged without the key).
    Modified,
    /// One or more records are missing (at the start too, when checked against a head).
    Deleted,
    /// A record that does not belong here was added.
    Inserted,
    /// Records are out of order.
    Reordered,
    /// The chain, or a file of it, ends early.
    Truncated,
    /// The last line is incomplete.
    TornTail,
    /// The head names a different record at its start or end than the chain holds.
    HeadMismatch,
}

impl FailureKind {
    /// The kind's name, as the `bee` command prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Modified => "modified",
            Self::Deleted => "deleted",
            Self::Inserted => "inserted",
            Self::Reordered => "reordered",
            Self::Truncated => "truncated",
            Self::TornTail => "torn tail",
            Self::HeadMismatch => "head mismatch",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why verification could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No files were given.
    #[error("no files to verify")]
    NoFiles,
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// Verifies the chain in `files` (oldest first) under `key`, against `head` when given:
/// see the [module docs](self) for what is found with the head and without it.
///
/// # Errors
///
/// [`VerifyError`] when no file is given or one cannot be read; a broken chain is not an
/// error but a [`Failure`] in the report.
pub fn verify_files<P: AsRef<Path>>(
    files: &[P],
    key: &ChainKey,
    head: Option<&Head>,
) -> Result<VerifyReport, VerifyError> {
    if files.is_empty() {
        return Err(VerifyError::NoFiles);
    }
    let paths: Vec<PathBuf> = files.iter().map(|p| p.as_ref().to_owned()).collect();
    let bounds = Bounds {
        start: head.map(Head::start),
        end: head.map(Head::end),
        prefix: false,
    };
    let (report, _) = Walk::new(paths, Chainer::new(key), bounds).run()?;
    Ok(report)
}

/// Verifies the oldest files of a chain from `start`, as retention does before it
/// removes them: they must verify and end with a rotation marker. Returns the report and
/// the link of their last record.
pub(crate) fn verify_prefix(
    files: &[PathBuf],
    chainer: &Chainer,
    start: Link,
) -> Result<(VerifyReport, Option<Link>), VerifyError> {
    if files.is_empty() {
        return Err(VerifyError::NoFiles);
    }
    let bounds = Bounds {
        start: Some(start),
        end: None,
        prefix: true,
    };
    Walk::new(files.to_vec(), chainer.clone(), bounds).run()
}

/// One line as read.
struct Item {
    file: usize,
    line: u64,
    complete: bool,
}

/// Reads lines across files.
struct Lines {
    files: Vec<PathBuf>,
    /// Lines read so far in each file.
    counts: Vec<u64>,
    next_file: usize,
    reader: Option<(usize, BufReader<File>)>,
    bytes: u64,
}

impl Lines {
    fn new(files: Vec<PathBuf>) -> Self {
        let counts = vec![0; files.len()];
        Self {
            files,
            counts,
            next_file: 0,
            reader: None,
            bytes: 0,
        }
    }

    fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<Item>, VerifyError> {
        loop {
            let Some((file, reader)) = &mut self.reader else {
                if !self.open_next()? {
                    return Ok(None);
                }
                continue;
            };
            let file = *file;
            buf.clear();
            let read = reader
                .read_until(b'\n', buf)
                .map_err(|source| VerifyError::Io {
                    path: self.files[file].clone(),
                    source,
                })?;
            if read == 0 {
                self.reader = None;
                continue;
            }
            self.counts[file] += 1;
            self.bytes += read as u64;
            let complete = buf.last() == Some(&b'\n');
            if complete {
                buf.pop();
            }
            return Ok(Some(Item {
                file,
                line: self.counts[file],
                complete,
            }));
        }
    }

    fn open_next(&mut self) -> Result<bool, VerifyError> {
        let Some(path) = self.files.get(self.next_file) else {
            return Ok(false);
        };
        let file = File::open(path).map_err(|source| VerifyError::Io {
            path: path.clone(),
            source,
        })?;
        self.reader = Some((self.next_file, BufReader::with_capacity(1 << 20, file)));
        self.next_file += 1;
        Ok(true)
    }
}

/// What a look-ahead line was.
#[derive(Clone, Copy)]
enum Seen {
    Bad,
    Good { seq: u64, prev: Tag },
}

/// What the chain is held to besides its own links.
struct Bounds {
    /// The link the first record must continue (from the head). Records older than it
    /// may still be present (retention stopped between moving the start and removing
    /// the files); the chain must then pass through it.
    start: Option<Link>,
    /// The last record the chain must reach (from the head).
    end: Option<Link>,
    /// The files are the oldest part of a longer chain: they end with a rotation marker.
    prefix: bool,
}

struct Walk {
    lines: Lines,
    chainer: Chainer,
    bounds: Bounds,
    /// The last good record, the file it is in, and whether it is a rotation marker.
    last: Option<Link>,
    last_file: usize,
    last_marker: bool,
    first_seq: Option<u64>,
    records: u64,
}

impl Walk {
    fn new(files: Vec<PathBuf>, chainer: Chainer, bounds: Bounds) -> Self {
        Self {
            lines: Lines::new(files),
            chainer,
            bounds,
            last: None,
            last_file: 0,
            last_marker: false,
            first_seq: None,
            records: 0,
        }
    }

    fn run(mut self) -> Result<(VerifyReport, Option<Link>), VerifyError> {
        let mut buf = Vec::with_capacity(4096);
        while let Some(item) = self.lines.next(&mut buf)? {
            if let Some(failure) = self.check(&item, &buf)? {
                return Ok((self.report(Some(failure)), self.last));
            }
        }
        let failure = self.check_end();
        Ok((self.report(failure), self.last))
    }

    fn check(&mut self, item: &Item, buf: &[u8]) -> Result<Option<Failure>, VerifyError> {
        if !item.complete {
            return Ok(Some(self.fail(FailureKind::TornTail, item, None)));
        }
        let line = Line::parse(buf).filter(|l| self.chainer.authentic(l));
        let Some(line) = line else {
            return self.classify_bad(item).map(Some);
        };
        if self.contradicts_start(&line) {
            return Ok(Some(self.fail(
                FailureKind::HeadMismatch,
                item,
                Some(line.seq),
            )));
        }
        if let Some(before) = self.predecessor(line.seq)
            && (line.seq != before.seq + 1 || line.prev != before.mac)
        {
            return self
                .classify_out_of_place(item, line.seq, before.seq + 1)
                .map(Some);
        }
        if let Some(end) = self.bounds.end
            && end.seq == line.seq
            && end.mac != line.mac
        {
            return Ok(Some(self.fail(
                FailureKind::HeadMismatch,
                item,
                Some(line.seq),
            )));
        }
        self.first_seq.get_or_insert(line.seq);
        self.last = Some(Link {
            seq: line.seq,
            mac: line.mac,
        });
        self.last_file = item.file;
        self.last_marker = is_rotation_marker(line.event);
        self.records += 1;
        Ok(None)
    }

    /// The record a line with sequence number `seq` must follow: the last good one, or,
    /// for the first line, the head's start (unless the line is older than the start).
    fn predecessor(&self, seq: u64) -> Option<Link> {
        match (self.last, self.bounds.start) {
            (Some(last), _) => Some(last),
            (None, Some(start)) if seq > start.seq => Some(start),
            _ => None,
        }
    }

    /// Whether an authentic line names a different record than the head's start: the
    /// record the first line continues, or the line itself when the walk reaches the
    /// start through older records.
    fn contradicts_start(&self, line: &Line<'_>) -> bool {
        let Some(start) = self.bounds.start else {
            return false;
        };
        let continues_other = self.last.is_none()
            && line.seq.checked_sub(1) == Some(start.seq)
            && line.prev != start.mac;
        let is_other = line.seq == start.seq && line.mac != start.mac;
        continues_other || is_other
    }

    /// A line that does not authenticate: forged and inserted if the next line carries on
    /// the chain as if it were not there, otherwise modified.
    fn classify_bad(&mut self, item: &Item) -> Result<Failure, VerifyError> {
        let next = self.look_ahead(1)?;
        let before = self.last.or(self.bounds.start);
        let continues = match (before, next.first()) {
            (Some(last), Some(Seen::Good { seq, prev })) => {
                *seq == last.seq + 1 && *prev == last.mac
            }
            _ => false,
        };
        let kind = if continues {
            FailureKind::Inserted
        } else {
            FailureKind::Modified
        };
        Ok(self.fail(kind, item, None))
    }

    fn classify_out_of_place(
        &mut self,
        item: &Item,
        seq: u64,
        expected: u64,
    ) -> Result<Failure, VerifyError> {
        // At or below the expected number: a copy of an earlier record, or (right number,
        // wrong predecessor) a record of another chain under the same key.
        if seq <= expected {
            return Ok(self.fail(FailureKind::Inserted, item, Some(seq)));
        }
        let rest = self.look_ahead(LOOKAHEAD_LINES)?;
        let later = |s: u64| {
            rest.iter()
                .any(|x| matches!(x, Seen::Good { seq, .. } if *seq == s))
        };
        let kind = if later(seq) {
            FailureKind::Inserted
        } else if later(expected) {
            FailureKind::Reordered
        } else if self.last.is_some()
            && item.line == 1
            && item.file != self.last_file
            && !self.last_marker
        {
            return Ok(self.truncated_after_last(Some(seq)));
        } else {
            FailureKind::Deleted
        };
        Ok(self.fail(kind, item, Some(seq)))
    }

    /// The chain stops early after the last good record: its file lost its end.
    fn truncated_after_last(&self, found: Option<u64>) -> Failure {
        Failure {
            kind: FailureKind::Truncated,
            file: self.lines.files[self.last_file].clone(),
            line: self.lines.counts[self.last_file] + 1,
            expected_seq: Some(self.last.map_or(1, |l| l.seq + 1)),
            found_seq: found,
        }
    }

    fn check_end(&self) -> Option<Failure> {
        let last_index = self.lines.files.len() - 1;
        let ends_early = if self.bounds.prefix {
            // The oldest files of a longer chain: the last ends with a rotation marker.
            !self.last_marker
        } else {
            // A rotation marker promises a next file; an empty next file keeps the promise.
            self.last_marker && self.last_file == last_index
        };
        let last_seq = self.last.map_or(0, |l| l.seq);
        let short_of_head = self.bounds.end.is_some_and(|h| h.seq > last_seq);
        if !(ends_early || short_of_head) {
            return None;
        }
        Some(Failure {
            kind: FailureKind::Truncated,
            file: self.lines.files[last_index].clone(),
            line: self.lines.counts[last_index] + 1,
            expected_seq: Some(last_seq + 1),
            found_seq: None,
        })
    }

    fn look_ahead(&mut self, max: usize) -> Result<Vec<Seen>, VerifyError> {
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        while seen.len() < max {
            let Some(item) = self.lines.next(&mut buf)? else {
                break;
            };
            let line = Line::parse(&buf).filter(|l| item.complete && self.chainer.authentic(l));
            seen.push(line.map_or(Seen::Bad, |l| Seen::Good {
                seq: l.seq,
                prev: l.prev,
            }));
        }
        Ok(seen)
    }

    fn fail(&self, kind: FailureKind, item: &Item, found: Option<u64>) -> Failure {
        Failure {
            kind,
            file: self.lines.files[item.file].clone(),
            line: item.line,
            expected_seq: self.last.or(self.bounds.start).map(|l| l.seq + 1),
            found_seq: found,
        }
    }

    fn report(&self, failure: Option<Failure>) -> VerifyReport {
        VerifyReport {
            records: self.records,
            first_seq: self.first_seq,
            last_seq: self.last.map(|l| l.seq),
            bytes: self.lines.bytes,
            failure,
        }
    }
}
