//! The chained JSON Lines file sink.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{AuditSink, SinkError};
use crate::chain::{Chainer, Link};
use crate::clock::{Clock, elapsed};
use crate::event::{Activity, Event, Severity, SystemNote};
use crate::format::Format;
use crate::gdpr::{RetentionReport, file_newest};
use crate::head::{HEAD_FILE, Head, HeadError, HeadWriter};
use crate::key::ChainKey;
use crate::layout::{self, file_name};
use crate::scrub::Record;
use crate::verify::{self, VerifyError};

/// When written records reach the disk.
///
/// Every policy writes each record through to the operating system before `write`
/// returns, so a crash of the process loses no acknowledged record; the policy decides
/// what a crash of the machine (power loss, kernel panic) may lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Sync after every record, before `write` returns: nothing acknowledged is lost,
    /// at the cost of one disk sync per record.
    EveryRecord,
    /// A background thread syncs at most this often while records arrive: a machine
    /// crash loses at most the records of the last interval. Writes stay cheap enough to
    /// call from an async task.
    Interval(Duration),
    /// Never sync on its own (only on [`flush`](AuditSink::flush) and at rotation
    /// markers): the operating system decides.
    Never,
}

impl Default for Durability {
    /// Sync every 10 ms.
    fn default() -> Self {
        Self::Interval(Duration::from_millis(10))
    }
}

/// Settings of a [`ChainedFileSink`].
#[derive(Debug, Clone)]
pub struct FileSinkConfig {
    /// The directory of the log files and the head file.
    pub dir: PathBuf,
    /// Start a new file once the current one would grow past this many bytes
    /// (default 64 MiB).
    pub rotate_bytes: u64,
    /// When records reach the disk (default: every 10 ms).
    pub durability: Durability,
    /// How events are written inside the chain (default: the crate's own JSON).
    pub format: Format,
    /// The largest record accepted (default 1 MiB).
    pub max_record_bytes: usize,
    /// When the directory holds records but no head file: refuse to open with
    /// [`OpenError::HeadMissing`] (`false`, the default), or write a new head from the
    /// files as found and record a [`SystemNote::HeadRebuilt`] of high severity (`true`).
    /// A rebuilt head vouches only for what is on disk at that moment: records removed
    /// from the start or the end before then can no longer be detected.
    pub rebuild_missing_head: bool,
}

impl FileSinkConfig {
    /// The defaults, writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            rotate_bytes: 64 << 20,
            durability: Durability::default(),
            format: Format::default(),
            max_record_bytes: 1 << 20,
            rebuild_missing_head: false,
        }
    }

    /// Sets the rotation size.
    #[must_use]
    pub fn rotate_bytes(mut self, bytes: u64) -> Self {
        self.rotate_bytes = bytes;
        self
    }

    /// Sets the durability policy.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the event format.
    #[must_use]
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Sets whether a missing head file is rebuilt from the files as found (see
    /// [`rebuild_missing_head`](Self::rebuild_missing_head)).
    #[must_use]
    pub fn rebuild_missing_head(mut self, rebuild: bool) -> Self {
        self.rebuild_missing_head = rebuild;
        self
    }
}

/// What opening a sink found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// The file records now go to.
    pub file: PathBuf,
    /// The sequence number of the last record already in the chain (0 for a new chain).
    pub last_seq: u64,
    /// An incomplete final line left by a crash, set aside and recorded in the chain.
    pub torn: Option<TornTail>,
    /// Whether the head file was missing and rebuilt from the files as found
    /// ([`FileSinkConfig::rebuild_missing_head`]); the chain records it too.
    pub head_rebuilt: bool,
}

/// An incomplete final line found when a sink was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The log file it was in.
    pub file: PathBuf,
    /// Its line number.
    pub line: u64,
    /// Its length in bytes.
    pub bytes: u64,
    /// The file its bytes were moved to, for inspection.
    pub kept_in: PathBuf,
}

/// Why a sink could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A file or directory could not be read or written.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Another sink holds the directory.
    #[error("audit log directory {0} is in use by another writer")]
    Locked(PathBuf),
    /// The head file cannot be used.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The last complete record does not authenticate: the log was altered or the key is
    /// wrong. The sink will not extend a chain it cannot trust.
    #[error("audit log {file}: record at line {line} does not verify (altered, or wrong key)")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// The line.
        line: u64,
    },
    /// The chain ends before the record the head file vouches for.
    #[error("audit log ends at record {found} but its head records {expected}: truncated")]
    Truncated {
        /// The head's sequence number.
        expected: u64,
        /// The last record found.
        found: u64,
    },
    /// The directory holds records but no head file. The sink writes its head before its
    /// first record, so the head was removed (or not copied with the log); a new head
    /// would vouch for whatever is on disk now, hiding records cut from either end.
    #[error(
        "audit log {dir} holds records up to {last_seq} but no head file (removed, or not \
         copied with the log); restore it, or set rebuild_missing_head to accept the log \
         as found"
    )]
    HeadMissing {
        /// The log directory.
        dir: PathBuf,
        /// The last record found.
        last_seq: u64,
    },
}

/// A JSON Lines file sink whose records are chained with HMAC-SHA256.
///
/// Files are `audit-00000001.jsonl`, `audit-00000002.jsonl`, … in one directory; the
/// chain runs on from one file into the next, and the last record of a full file is a
/// rotation marker naming the next. `audit.head` records where the chain starts and how
/// far it reached (see [`Head`]); it is written before the first record, so a directory
/// with records and no head is refused ([`OpenError::HeadMissing`]). Opening a
/// directory continues its chain; an incomplete final line left by a crash is moved
/// aside into `<file>.torn-<n>` and a recovery record is written, so nothing is merged
/// with it and nothing passes silently.
///
/// After a failed write or sync the sink stops and returns
/// [`SinkError::Stopped`] until it is reopened, since the file's state is then unknown.
pub struct ChainedFileSink {
    shared: Arc<Shared>,
    syncer: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    config: FileSinkConfig,
    chainer: Chainer,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    head: Mutex<HeadWriter>,
    /// Held by one retention run at a time.
    retention: Mutex<()>,
    stop: (Mutex<bool>, Condvar),
}

struct State {
    file: Arc<File>,
    path: PathBuf,
    index: u64,
    size: u64,
    last: Link,
    dirty: bool,
    failed: Option<SinkError>,
    closed: bool,
    event_buf: Vec<u8>,
    line_buf: Vec<u8>,
    _lock: File,
}

impl ChainedFileSink {
    /// Opens (or starts) the chain in `config.dir`.
    ///
    /// # Errors
    ///
    /// See [`OpenError`]: the directory cannot be used, another writer holds it, the head
    /// or the last record does not authenticate under `key`, the chain is shorter than
    /// its head says, or it has records and no head.
    pub fn open(
        config: FileSinkConfig,
        key: &ChainKey,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, OpenReport), OpenError> {
        let opened = Opened::open(&config, key)?;
        let shared = Arc::new(Shared {
            chainer: Chainer::new(key),
            clock,
            head: Mutex::new(opened.head),
            retention: Mutex::new(()),
            stop: (Mutex::new(false), Condvar::new()),
            state: Mutex::new(opened.state),
            config,
        });
        let mut report = opened.report;
        let as_open_error = |path: &Path, e: SinkError| OpenError::Io {
            path: path.to_owned(),
            source: io::Error::other(e.to_string()),
        };
        if let Some(first_seq) = opened.rebuilt_from {
            shared
                .record_rebuilt_head(first_seq, report.last_seq)
                .map_err(|e| as_open_error(&shared.config.dir.join(HEAD_FILE), e))?;
        }
        if let Some(torn) = &report.torn {
            shared
                .record_recovery(torn)
                .map_err(|e| as_open_error(&torn.file, e))?;
        }
        report.file = shared.lock_state().path.clone();
        let syncer = match shared.config.durability {
            Durability::Interval(every) => Some(spawn_syncer(Arc::clone(&shared), every)),
            Durability::EveryRecord | Durability::Never => None,
        };
        Ok((
            Self {
                shared,
                syncer: Mutex::new(syncer),
            },
            report,
        ))
    }

    /// The directory's log files, oldest first.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    pub fn files(dir: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
        layout::log_files(dir.as_ref())
    }

    /// The sequence number of the last record written.
    pub fn last_seq(&self) -> u64 {
        self.shared.lock_state().last.seq
    }

    /// Removes whole rotated files, oldest first, whose newest record is at least
    /// `max_age` old. Stops at the first file that is too recent or cannot be read, and
    /// never removes the file being written, so what remains is an unbroken end of the
    /// chain.
    ///
    /// In this order, so that a crash at any step leaves a log that verifies: the files
    /// to remove are verified from the chain's start (the head's); a
    /// [`SystemNote::RetentionApplied`] event naming them is written and synced; the head
    /// moves the chain's start to the first record kept and is synced; then the files
    /// are removed. A crash before the removal leaves older records than the head's
    /// start, which verification accepts, and the next run removes them.
    ///
    /// # Errors
    ///
    /// [`SinkError::Retention`] when the files to remove do not verify (nothing is
    /// removed: that would destroy the evidence); otherwise when a file cannot be read or
    /// removed, or the note or the head cannot be written.
    pub fn apply_retention(&self, max_age: Duration) -> Result<RetentionReport, SinkError> {
        let _one_at_a_time = self
            .shared
            .retention
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let dir = &self.shared.config.dir;
        let expired = self.expired_files(max_age)?;
        if expired.is_empty() {
            return Ok(RetentionReport {
                removed: expired,
                first_kept_seq: None,
            });
        }

        let kept_after = self.shared.retention_boundary(&expired)?;
        let note = SystemNote::RetentionApplied {
            files: expired.iter().map(|p| display_name(p)).collect(),
            first_kept_seq: kept_after.seq + 1,
        };
        self.shared
            .write_moving_start(&self.shared.system_event(note), kept_after)?;

        for path in &expired {
            fs::remove_file(path).map_err(|e| SinkError::io(path, "remove", e))?;
        }
        layout::sync_dir(dir).map_err(|e| SinkError::io(dir, "sync directory", e))?;
        Ok(RetentionReport {
            removed: expired,
            first_kept_seq: Some(kept_after.seq + 1),
        })
    }

    /// Stops the background syncer and makes everything durable. Later writes fail with
    /// [`SinkError::Closed`].
    ///
    /// # Errors
    ///
    /// When the final sync fails.
    pub fn close(&self) -> Result<(), SinkError> {
        self.stop_syncer();
        let result = self.shared.flush();
        self.shared.lock_state().closed = true;
        result
    }

    /// The rotated files, oldest first, up to the first one not yet `max_age` old.
    fn expired_files(&self, max_age: Duration) -> Result<Vec<PathBuf>, SinkError> {
        let dir = &self.shared.config.dir;
        let current = self.shared.lock_state().index;
        let now = self.shared.clock.now();
        let files = layout::log_files(dir).map_err(|e| SinkError::io(dir, "list", e))?;
        Ok(files
            .into_iter()
            .filter(|p| layout::file_index(p).is_some_and(|i| i < current))
            .take_while(|p| file_newest(p).is_some_and(|newest| elapsed(newest, now) >= max_age))
            .collect())
    }

    fn stop_syncer(&self) {
        let (flag, wake) = &self.shared.stop;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        let handle = self
            .syncer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // A panicking syncer has already stopped; nothing to recover from the join.
            let _ = handle.join();
        }
    }
}

impl AuditSink for ChainedFileSink {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        self.shared.write(record.event())
    }

    fn flush(&self) -> Result<(), SinkError> {
        self.shared.flush()
    }
}

impl Drop for ChainedFileSink {
    fn drop(&mut self) {
        self.stop_syncer();
        // Drop cannot report; callers who care call `close` first.
        let _ = self.shared.flush();
    }
}

impl std::fmt::Debug for ChainedFileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedFileSink")
            .field("dir", &self.shared.config.dir)
            .finish()
    }
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, event: &Event) -> Result<(), SinkError> {
        let mut state = self.lock_state();
        state.usable()?;

        let mut event_buf = std::mem::take(&mut state.event_buf);
        event_buf.clear();
        let encoded = self.config.format.write(event, &mut event_buf);
        let result = encoded
            .map_err(|e| SinkError::Encode(e.into()))
            .and_then(|()| self.append_encoded(&mut state, &event_buf));
        state.event_buf = event_buf;
        result
    }

    /// Appends an encoded event, rotating first when it would overflow the file.
    fn append_encoded(&self, state: &mut State, event: &[u8]) -> Result<(), SinkError> {
        // The frame adds about 170 bytes to the event.
        let estimate = event.len() as u64 + 200;
        if event.len() > self.config.max_record_bytes {
            return Err(SinkError::TooLarge {
                len: event.len(),
                max: self.config.max_record_bytes,
            });
        }
        if state.size > 0 && state.size + estimate > self.config.rotate_bytes {
            self.rotate(state)?;
        }
        self.append_line(state, event)?;
        if self.config.durability == Durability::EveryRecord {
            self.sync_now(state)?;
        }
        Ok(())
    }

    fn append_line(&self, state: &mut State, event: &[u8]) -> Result<(), SinkError> {
        let mut line = std::mem::take(&mut state.line_buf);
        line.clear();
        let framed = self.chainer.frame(state.last, &mut line, |out| {
            out.extend_from_slice(event);
            Ok::<(), SinkError>(())
        });
        let result = framed.and_then(|link| {
            let written = (&*state.file).write_all(&line);
            state.check(written, "write")?;
            state.last = link;
            state.size += line.len() as u64;
            state.dirty = true;
            Ok(())
        });
        state.line_buf = line;
        result
    }

    /// Ends the current file with a marker naming the next one and moves to it.
    fn rotate(&self, state: &mut State) -> Result<(), SinkError> {
        let next_index = state.index + 1;
        let next_path = self.config.dir.join(file_name(next_index));
        let note = SystemNote::Rotated {
            next: file_name(next_index),
        };
        let mut buf = Vec::new();
        self.config
            .format
            .write(&self.system_event(note), &mut buf)
            .map_err(|e| SinkError::Encode(e.into()))?;
        self.append_line(state, &buf)?;
        if self.config.durability != Durability::Never {
            self.sync_now(state)?;
        }

        let created = layout::create_log_file(&next_path);
        let file = state.check(created, "create")?;
        if self.config.durability != Durability::Never {
            let synced = layout::sync_dir(&self.config.dir);
            state.check(synced, "sync directory")?;
        }
        state.file = Arc::new(file);
        state.path = next_path;
        state.index = next_index;
        state.size = 0;
        Ok(())
    }

    fn sync_now(&self, state: &mut State) -> Result<(), SinkError> {
        let synced = state.file.sync_data();
        state.check(synced, "sync")?;
        state.dirty = false;
        let link = state.last;
        self.write_head(link, false).map_err(|e| state.fail(e))
    }

    fn flush(&self) -> Result<(), SinkError> {
        let link = {
            let mut state = self.lock_state();
            state.usable()?;
            let synced = state.file.sync_data();
            state.check(synced, "sync")?;
            state.dirty = false;
            state.last
        };
        self.write_head(link, true)
            .map_err(|e| self.lock_state().fail(e))
    }

    /// Syncs from the background thread without holding the state lock during the sync.
    fn sync_in_background(&self) {
        let (file, link, path) = {
            let mut state = self.lock_state();
            if !state.dirty || state.failed.is_some() || state.closed {
                return;
            }
            state.dirty = false;
            (Arc::clone(&state.file), state.last, state.path.clone())
        };
        let result = file
            .sync_data()
            .map_err(|e| SinkError::io(&path, "sync", e))
            .and_then(|()| self.write_head(link, true));
        if let Err(e) = result {
            self.lock_state().fail(e);
        }
    }

    fn write_head(&self, link: Link, sync: bool) -> Result<(), SinkError> {
        let path = self.config.dir.join(HEAD_FILE);
        let mut head = self.lock_head();
        head.write(link)
            .map_err(|e| SinkError::io(&path, "write head", e))?;
        if sync {
            head.sync()
                .map_err(|e| SinkError::io(&path, "sync head", e))?;
        }
        Ok(())
    }

    /// The last record retention will remove (or the chain's current start, when all of
    /// `expired` lies before it), once `expired` verifies from the current start.
    fn retention_boundary(&self, expired: &[PathBuf]) -> Result<Link, SinkError> {
        let start = self.lock_head().start();
        let dir = &self.config.dir;
        let (report, last) =
            verify::verify_prefix(expired, &self.chainer, start).map_err(|e| match e {
                VerifyError::Io { path, source } => SinkError::io(path, "read", source),
                other => SinkError::io(dir, "verify", io::Error::other(other.to_string())),
            })?;
        if let Some(failure) = report.failure {
            return Err(SinkError::Retention(Box::new(failure)));
        }
        Ok(last.filter(|l| l.seq > start.seq).unwrap_or(start))
    }

    /// Writes `event` and makes it durable, then has the head say the chain starts after
    /// `start`, and makes that durable too.
    fn write_moving_start(&self, event: &Event, start: Link) -> Result<(), SinkError> {
        let mut state = self.lock_state();
        state.usable()?;
        let mut buf = Vec::new();
        self.config
            .format
            .write(event, &mut buf)
            .map_err(|e| SinkError::Encode(e.into()))?;
        self.append_encoded(&mut state, &buf)?;
        // The note must be on disk before the head moves the start, whatever the
        // durability policy: its file too, should writing it have started a new one.
        let synced = state.file.sync_data();
        state.check(synced, "sync")?;
        let synced = layout::sync_dir(&self.config.dir);
        state.check(synced, "sync directory")?;
        state.dirty = false;

        let path = self.config.dir.join(HEAD_FILE);
        let mut head = self.lock_head();
        head.move_start(start);
        let written = head
            .write(state.last)
            .and_then(|()| head.sync())
            .map_err(|e| SinkError::io(&path, "write head", e));
        drop(head);
        written.map_err(|e| state.fail(e))
    }

    fn record_rebuilt_head(&self, first_seq: u64, last_seq: u64) -> Result<(), SinkError> {
        let note = SystemNote::HeadRebuilt {
            first_seq,
            last_seq,
        };
        self.write(&self.system_event(note).severity(Severity::High))?;
        self.flush()
    }

    fn lock_head(&self) -> MutexGuard<'_, HeadWriter> {
        self.head.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record_recovery(&self, torn: &TornTail) -> Result<(), SinkError> {
        let note = SystemNote::Recovered {
            file: display_name(&torn.file),
            line: torn.line,
            torn_bytes: torn.bytes,
            kept_in: display_name(&torn.kept_in),
        };
        let event = self.system_event(note).severity(Severity::High);
        self.write(&event)?;
        self.flush()
    }

    fn system_event(&self, note: SystemNote) -> Event {
        Event::new(self.clock.now(), Activity::AuditSystem { note })
    }
}

impl State {
    fn usable(&self) -> Result<(), SinkError> {
        if self.closed {
            return Err(SinkError::Closed);
        }
        match &self.failed {
            Some(first) => Err(SinkError::Stopped(Box::new(first.clone()))),
            None => Ok(()),
        }
    }

    /// Turns an I/O result into a sink result, stopping the sink on failure.
    fn check<T>(&mut self, result: io::Result<T>, operation: &'static str) -> Result<T, SinkError> {
        result.map_err(|e| {
            let error = SinkError::io(&self.path, operation, e);
            self.fail(error)
        })
    }

    fn fail(&mut self, error: SinkError) -> SinkError {
        self.failed.get_or_insert_with(|| error.clone());
        error
    }
}

fn spawn_syncer(shared: Arc<Shared>, every: Duration) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let (flag, wake) = &shared.stop;
        let mut stopped = flag.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stopped {
            // The interval is wall time on purpose: it paces disk syncs, not audit logic.
            let (guard, _) = wake
                .wait_timeout(stopped, every)
                .unwrap_or_else(PoisonError::into_inner);
            stopped = guard;
            if *stopped {
                break;
            }
            drop(stopped);
            shared.sync_in_background();
            stopped = flag.lock().unwrap_or_else(PoisonError::into_inner);
        }
    })
}

fn open_io(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_owned(),
        source,
    }
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// What opening found on disk, before the sink is assembled.
struct Opened {
    state: State,
    head: HeadWriter,
    /// The first sequence number found, when the head was missing and is rebuilt.
    rebuilt_from: Option<u64>,
    report: OpenReport,
}

impl Opened {
    fn open(config: &FileSinkConfig, key: &ChainKey) -> Result<Self, OpenError> {
        let dir = &config.dir;
        layout::create_dir(dir).map_err(open_io(dir))?;

        let head_path = dir.join(HEAD_FILE);
        let head_file = layout::open_head(&head_path).map_err(open_io(&head_path))?;
        let lock = head_file.try_clone().map_err(open_io(&head_path))?;
        lock.try_lock()
            .map_err(|_| OpenError::Locked(dir.clone()))?;
        let head = Head::read(&head_path, key)?;

        let files = layout::log_files(dir).map_err(open_io(dir))?;
        let chainer = Chainer::new(key);
        let tail = match files.last() {
            Some(last) => layout::recover_tail(last, &files, &chainer)?,
            None => layout::Tail::empty(dir.join(file_name(1)), 1),
        };
        let (head, rebuilt_from) = match head {
            Some(head) => (continued_head(head_file, key, head, &tail)?, None),
            None if tail.last.seq > 0 => {
                if !config.rebuild_missing_head {
                    return Err(OpenError::HeadMissing {
                        dir: dir.clone(),
                        last_seq: tail.last.seq,
                    });
                }
                let start = layout::chain_start(&files, &chainer)?;
                let writer = HeadWriter::rebuilt(head_file, key, start);
                (writer, Some(start.seq + 1))
            }
            None => (new_head(head_file, key, dir)?, None),
        };

        let (file, path, index, size) = layout::open_for_append(dir, &tail)?;
        let report = OpenReport {
            file: path.clone(),
            last_seq: tail.last.seq,
            torn: tail.torn,
            head_rebuilt: rebuilt_from.is_some(),
        };
        let state = State {
            file: Arc::new(file),
            path,
            index,
            size,
            last: tail.last,
            dirty: false,
            failed: None,
            closed: false,
            event_buf: Vec::with_capacity(1024),
            line_buf: Vec::with_capacity(1024),
            _lock: lock,
        };
        Ok(Self {
            state,
            head,
            rebuilt_from,
            report,
        })
    }
}

/// The head of a chain being continued, once the chain reaches it.
fn continued_head(
    file: File,
    key: &ChainKey,
    head: Head,
    tail: &layout::Tail,
) -> Result<HeadWriter, OpenError> {
    if head.seq() > tail.last.seq || (head.seq() == tail.last.seq && head.end() != tail.last) {
        return Err(OpenError::Truncated {
            expected: head.seq(),
            found: tail.last.seq,
        });
    }
    Ok(HeadWriter::new(file, key, Some(head)))
}

/// The head of a new chain, written and synced before its first record so that a
/// directory with records always has one.
fn new_head(file: File, key: &ChainKey, dir: &Path) -> Result<HeadWriter, OpenError> {
    let path = dir.join(HEAD_FILE);
    let mut head = HeadWriter::new(file, key, None);
    head.write(Link::START)
        .and_then(|()| head.sync())
        .and_then(|()| layout::sync_dir(dir))
        .map_err(open_io(&path))?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use std::fs::OpenOptions;

    use super::*;
    use crate::clock::ManualClock;
    use crate::fields::Label;
    use crate::scrub::Verbatim;
    use crate::verify::{Failure, FailureKind, verify_files};

    fn key() -> ChainKey {
        ChainKey::from_bytes(&[5; 32]).unwrap()
    }

    fn clock() -> Arc<dyn Clock> {
        Arc::new(ManualClock::new(
            Timestamp::from_second(1_700_000_000).unwrap(),
        ))
    }

    fn record(n: u32) -> Record {
        let event = Event::new(
            Timestamp::from_second(1_700_000_000).unwrap(),
            Activity::ConfigChange {
                setting: Label::new("limits").unwrap(),
            },
        )
        .detail(Label::new("n").unwrap(), n);
        Record::scrub(event, &Verbatim)
    }

    fn open(dir: &Path, config: impl FnOnce(FileSinkConfig) -> FileSinkConfig) -> ChainedFileSink {
        let config = config(FileSinkConfig::new(dir).durability(Durability::Never));
        ChainedFileSink::open(config, &key(), clock()).unwrap().0
    }

    #[test]
    fn reopening_continues_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c);
        (0..3).for_each(|n| sink.write(&record(n)).unwrap());
        sink.close().unwrap();
        drop(sink);

        let (sink, report) =
            ChainedFileSink::open(FileSinkConfig::new(dir.path()), &key(), clock()).unwrap();
        assert_eq!((report.last_seq, report.torn), (3, None));
        sink.write(&record(3)).unwrap();
        sink.close().unwrap();

        let files = ChainedFileSink::files(dir.path()).unwrap();
        let report = verify_files(&files, &key(), None).unwrap();
        assert_eq!((report.records, report.failure), (4, None));
    }

    #[test]
    fn rotation_continues_the_chain_into_the_next_file() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c.rotate_bytes(1000));
        (0..20).for_each(|n| sink.write(&record(n)).unwrap());
        sink.close().unwrap();
        let files = ChainedFileSink::files(dir.path()).unwrap();
        assert!(files.len() > 3, "{files:?}");
        for file in &files {
            assert!(fs::metadata(file).unwrap().len() < 1400);
        }
        let report = verify_files(&files, &key(), None).unwrap();
        assert_eq!(report.failure, None);
        assert_eq!(report.records, 20 + files.len() as u64 - 1);
    }

    #[test]
    fn the_ocsf_format_chains_and_rotates_like_the_native_one() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c.rotate_bytes(1500).format(Format::Ocsf));
        (0..12).for_each(|n| sink.write(&record(n)).unwrap());
        sink.close().unwrap();
        drop(sink);
        let files = ChainedFileSink::files(dir.path()).unwrap();
        assert!(files.len() > 2);
        let first = fs::read_to_string(&files[0]).unwrap();
        assert!(
            first.lines().next().unwrap().contains("\"class_uid\":3004"),
            "{first}"
        );
        let head = Head::read(dir.path().join(HEAD_FILE), &key()).unwrap();
        let report = verify_files(&files, &key(), head.as_ref()).unwrap();
        assert_eq!(report.failure, None);

        // Reopening finds the rotation marker in the OCSF form too.
        let (sink, report) = ChainedFileSink::open(
            FileSinkConfig::new(dir.path()).format(Format::Ocsf),
            &key(),
            clock(),
        )
        .unwrap();
        assert_eq!(report.last_seq, sink.last_seq());
    }

    #[test]
    fn a_second_writer_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(dir.path(), |c| c);
        let second = ChainedFileSink::open(FileSinkConfig::new(dir.path()), &key(), clock());
        assert!(matches!(second, Err(OpenError::Locked(_))));
    }

    #[test]
    fn a_torn_final_line_is_set_aside_and_recorded_never_merged() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c);
        (0..3).for_each(|n| sink.write(&record(n)).unwrap());
        sink.close().unwrap();
        drop(sink);
        let files = ChainedFileSink::files(dir.path()).unwrap();
        let mut f = OpenOptions::new().append(true).open(&files[0]).unwrap();
        f.write_all(b"{\"seq\":4,\"prev\":\"00").unwrap();
        drop(f);
        let before = verify_files(&files, &key(), None).unwrap();
        assert!(matches!(
            before.failure,
            Some(Failure {
                kind: FailureKind::TornTail,
                line: 4,
                ..
            })
        ));

        let (sink, report) =
            ChainedFileSink::open(FileSinkConfig::new(dir.path()), &key(), clock()).unwrap();
        let torn = report.torn.unwrap();
        assert_eq!((torn.line, torn.bytes, report.last_seq), (4, 19, 3));
        assert_eq!(
            fs::read(&torn.kept_in).unwrap(),
            b"{\"seq\":4,\"prev\":\"00"
        );
        sink.write(&record(9)).unwrap();
        sink.close().unwrap();

        let after = verify_files(&files, &key(), None).unwrap();
        assert_eq!((after.records, after.failure), (5, None));
        let text = fs::read_to_string(&files[0]).unwrap();
        assert!(
            text.lines()
                .nth(3)
                .unwrap()
                .contains("\"note\":\"recovered\""),
            "{text}"
        );
    }

    #[test]
    fn a_log_cut_short_of_its_head_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c);
        (0..3).for_each(|n| sink.write(&record(n)).unwrap());
        sink.close().unwrap();
        drop(sink);
        let files = ChainedFileSink::files(dir.path()).unwrap();
        let text = fs::read_to_string(&files[0]).unwrap();
        let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        fs::write(&files[0], cut).unwrap();
        let reopened = ChainedFileSink::open(FileSinkConfig::new(dir.path()), &key(), clock());
        assert!(matches!(
            reopened,
            Err(OpenError::Truncated {
                expected: 3,
                found: 2
            })
        ));
    }

    #[test]
    fn an_altered_last_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c);
        sink.write(&record(1)).unwrap();
        sink.close().unwrap();
        drop(sink);
        let files = ChainedFileSink::files(dir.path()).unwrap();
        let text = fs::read_to_string(&files[0])
            .unwrap()
            .replace("limits", "limitz");
        fs::write(&files[0], text).unwrap();
        let reopened = ChainedFileSink::open(FileSinkConfig::new(dir.path()), &key(), clock());
        assert!(matches!(reopened, Err(OpenError::Corrupt { line: 1, .. })));
    }

    #[test]
    fn oversized_records_are_refused_without_touching_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| FileSinkConfig {
            max_record_bytes: 300,
            ..c
        });
        let big = Record::scrub(
            record(0).event().clone().message("x".repeat(400)),
            &Verbatim,
        );
        assert!(matches!(sink.write(&big), Err(SinkError::TooLarge { .. })));
        sink.write(&record(1)).unwrap();
        assert_eq!(sink.last_seq(), 1);
    }

    #[test]
    fn every_record_durability_writes_the_head_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c.durability(Durability::EveryRecord));
        (0..2).for_each(|n| sink.write(&record(n)).unwrap());
        let head = Head::read(dir.path().join(HEAD_FILE), &key())
            .unwrap()
            .unwrap();
        assert_eq!(head.seq(), 2);
    }

    #[test]
    fn writes_after_close_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c);
        sink.close().unwrap();
        assert!(matches!(sink.write(&record(0)), Err(SinkError::Closed)));
    }

    #[test]
    fn a_new_chain_has_its_head_before_its_first_record() {
        let dir = tempfile::tempdir().unwrap();
        let _sink = open(dir.path(), |c| c);
        let head = Head::read(dir.path().join(HEAD_FILE), &key())
            .unwrap()
            .unwrap();
        assert_eq!((head.first_seq(), head.seq()), (1, 0));
    }

    #[test]
    fn a_directory_with_records_and_no_head_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c);
        (0..3).for_each(|n| sink.write(&record(n)).unwrap());
        sink.close().unwrap();
        drop(sink);

        let head = dir.path().join(HEAD_FILE);
        for emptied in [false, true] {
            if emptied {
                fs::write(&head, b"").unwrap(); // an empty head is no head
            } else {
                fs::remove_file(&head).unwrap();
            }
            let reopened = ChainedFileSink::open(FileSinkConfig::new(dir.path()), &key(), clock());
            assert!(
                matches!(reopened, Err(OpenError::HeadMissing { last_seq: 3, .. })),
                "{reopened:?}"
            );
        }
    }

    #[test]
    fn a_missing_head_is_rebuilt_only_when_asked_and_the_chain_records_it() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c);
        (0..3).for_each(|n| sink.write(&record(n)).unwrap());
        sink.close().unwrap();
        drop(sink);
        // The first record and the head are gone: what an attacker would do.
        let files = ChainedFileSink::files(dir.path()).unwrap();
        let text = fs::read_to_string(&files[0]).unwrap();
        let rest: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        fs::write(&files[0], rest).unwrap();
        fs::remove_file(dir.path().join(HEAD_FILE)).unwrap();

        let config = FileSinkConfig::new(dir.path()).rebuild_missing_head(true);
        let (sink, report) = ChainedFileSink::open(config, &key(), clock()).unwrap();
        assert!(report.head_rebuilt);
        assert_eq!((report.last_seq, sink.last_seq()), (3, 4));
        sink.close().unwrap();

        // The new head vouches for the chain as found, and the chain says so.
        let head = Head::read(dir.path().join(HEAD_FILE), &key())
            .unwrap()
            .unwrap();
        assert_eq!((head.first_seq(), head.seq()), (2, 4));
        let report = verify_files(&files, &key(), Some(&head)).unwrap();
        assert_eq!((report.failure, report.first_seq), (None, Some(2)));
        let text = fs::read_to_string(&files[0]).unwrap();
        let note = text.lines().last().unwrap();
        assert!(
            note.contains(r#""note":"head_rebuilt","first_seq":2,"last_seq":3"#)
                && note.contains(r#""severity":"high""#),
            "{note}"
        );
    }

    #[test]
    fn a_head_from_the_start_of_the_chain_reports_a_deleted_first_record() {
        let dir = tempfile::tempdir().unwrap();
        let sink = open(dir.path(), |c| c);
        (0..3).for_each(|n| sink.write(&record(n)).unwrap());
        sink.close().unwrap();
        drop(sink);
        let files = ChainedFileSink::files(dir.path()).unwrap();
        let text = fs::read_to_string(&files[0]).unwrap();
        let rest: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        fs::write(&files[0], rest).unwrap();

        // The sink carries on (its head keeps the start), and verify names the gap.
        let (sink, _) =
            ChainedFileSink::open(FileSinkConfig::new(dir.path()), &key(), clock()).unwrap();
        sink.write(&record(4)).unwrap();
        sink.close().unwrap();
        let head = Head::read(dir.path().join(HEAD_FILE), &key()).unwrap();
        let report = verify_files(&files, &key(), head.as_ref()).unwrap();
        let failure = report.failure.unwrap();
        assert_eq!(
            (
                failure.kind,
                failure.line,
                failure.expected_seq,
                failure.found_seq
            ),
            (FailureKind::Deleted, 1, Some(1), Some(2))
        );
        assert_eq!(failure.file, files[0]);
    }
}
