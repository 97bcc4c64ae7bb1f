//! A bounded queue in front of a sink, with a writer thread.
//!
//! Use it when a sink's writes may block for long (a file sink that syncs every record,
//! a slow disk) and the callers are async tasks. The queue is bounded: when it is full,
//! [`Overflow::Wait`] (the default) makes `send` wait for room, so back-pressure reaches
//! the caller; [`Overflow::Drop`] refuses the record at once and counts it, and the
//! writer records the count in the log itself as a [`SystemNote::Dropped`] event before
//! the next record it writes.
//!
//! A failed write cannot reach the task that queued the record, which has moved on; it is
//! counted ([`AuditQueue::failed_writes`]) and returned to the next caller of `send`,
//! `try_send` or `flush`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::event::{Activity, Event, Severity, SystemNote};
use crate::scrub::{Record, Verbatim};
use crate::sink::{AuditSink, SinkError};

/// What a full queue does with a new record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room (back-pressure).
    #[default]
    Wait,
    /// Refuse the record and count it.
    Drop,
}

/// Settings of an [`AuditQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How many records may wait (at least 1; default 8192).
    pub capacity: usize,
    /// What a full queue does (default: wait).
    pub overflow: Overflow,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            capacity: 8192,
            overflow: Overflow::Wait,
        }
    }
}

/// Why a record was not queued, or a flush failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue was full and drops on overflow; the record was counted as dropped.
    #[error("audit queue full: record dropped")]
    Dropped,
    /// The queue is closed.
    #[error("audit queue is closed")]
    Closed,
    /// An earlier write, or this flush, failed in the sink.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

enum Message {
    Record(Record),
    Flush(oneshot::Sender<Result<(), SinkError>>),
}

/// A bounded queue feeding a sink from a dedicated writer thread.
pub struct AuditQueue {
    sender: Mutex<Option<mpsc::Sender<Message>>>,
    overflow: Overflow,
    counters: Arc<Counters>,
    done: Mutex<Option<oneshot::Receiver<()>>>,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    dropped_unlogged: AtomicU64,
    failed_writes: AtomicU64,
    pending_error: Mutex<Option<SinkError>>,
}

impl AuditQueue {
    /// Starts the writer thread for `sink`; `clock` stamps the notes of dropped records.
    pub fn spawn(sink: Arc<dyn AuditSink>, config: QueueConfig, clock: Arc<dyn Clock>) -> Self {
        let (sender, receiver) = mpsc::channel(config.capacity.max(1));
        let (done_tx, done_rx) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            sink,
            clock,
            counters: Arc::clone(&counters),
        };
        std::thread::spawn(move || {
            writer.run(receiver);
            // The closer may have stopped waiting; nothing to do then.
            let _ = done_tx.send(());
        });
        Self {
            sender: Mutex::new(Some(sender)),
            overflow: config.overflow,
            counters,
            done: Mutex::new(Some(done_rx)),
        }
    }

    /// Queues a record, waiting for room when the queue is full and set to wait.
    ///
    /// # Errors
    ///
    /// [`QueueError::Sink`] with an earlier write failure, [`QueueError::Dropped`] when
    /// full and set to drop, [`QueueError::Closed`] after [`close`](Self::close).
    pub async fn send(&self, record: Record) -> Result<(), QueueError> {
        self.take_pending_error()?;
        match self.overflow {
            Overflow::Drop => self.try_send(record),
            Overflow::Wait => {
                let sender = self.sender()?;
                sender
                    .send(Message::Record(record))
                    .await
                    .map_err(|_| QueueError::Closed)
            }
        }
    }

    /// Queues a record without waiting: a full queue drops it and counts it, whatever
    /// the overflow policy (for callers that must never wait, such as synchronous code).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn try_send(&self, record: Record) -> Result<(), QueueError> {
        self.take_pending_error()?;
        match self.sender()?.try_send(Message::Record(record)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .dropped_unlogged
                    .fetch_add(1, Ordering::Relaxed);
                Err(QueueError::Dropped)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(QueueError::Closed),
        }
    }

    /// Waits until every record queued before it is written and flushed by the sink.
    ///
    /// # Errors
    ///
    /// The flush's failure, or an earlier write failure not yet reported.
    pub async fn flush(&self) -> Result<(), QueueError> {
        self.take_pending_error()?;
        let (reply, answer) = oneshot::channel();
        self.sender()?
            .send(Message::Flush(reply))
            .await
            .map_err(|_| QueueError::Closed)?;
        answer.await.map_err(|_| QueueError::Closed)??;
        self.take_pending_error()
    }

    /// Flushes, stops accepting records, and waits for the writer to finish.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush).
    pub async fn close(&self) -> Result<(), QueueError> {
        let flushed = self.flush().await;
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let done = self
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(done) = done {
            // An error here means the writer thread ended already.
            let _ = done.await;
        }
        flushed
    }

    /// Records dropped because the queue was full, since it started.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Writes that failed in the sink, since it started.
    pub fn failed_writes(&self) -> u64 {
        self.counters.failed_writes.load(Ordering::Relaxed)
    }

    fn sender(&self) -> Result<mpsc::Sender<Message>, QueueError> {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        sender.clone().ok_or(QueueError::Closed)
    }

    fn take_pending_error(&self) -> Result<(), QueueError> {
        let mut pending = self
            .counters
            .pending_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.take().map_or(Ok(()), |e| Err(QueueError::Sink(e)))
    }
}

impl std::fmt::Debug for AuditQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditQueue")
            .field("overflow", &self.overflow)
            .field("dropped", &self.dropped())
            .field("failed_writes", &self.failed_writes())
            .finish()
    }
}

struct Writer {
    sink: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
}

impl Writer {
    fn run(&self, mut receiver: mpsc::Receiver<Message>) {
        while let Some(message) = receiver.blocking_recv() {
            self.note_drops();
            match message {
                Message::Record(record) => self.write(&record),
                Message::Flush(reply) => {
                    // The flusher may have given up waiting; the result is then unread.
                    let _ = reply.send(self.sink.flush());
                }
            }
        }
        if let Err(e) = self.sink.flush() {
            self.failed(e);
        }
    }

    fn note_drops(&self) {
        let count = self.counters.dropped_unlogged.swap(0, Ordering::Relaxed);
        if count > 0 {
            let note = SystemNote::Dropped { count };
            let event = Event::new(self.clock.now(), Activity::AuditSystem { note })
                .severity(Severity::High);
            self.write(&Record::scrub(event, &Verbatim));
        }
    }

    fn write(&self, record: &Record) {
        if let Err(e) = self.sink.write(record) {
            self.failed(e);
        }
    }

    fn failed(&self, error: SinkError) {
        self.counters.failed_writes.fetch_add(1, Ordering::Relaxed);
        *self
            .counters
            .pending_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Condvar;

    use jiff::Timestamp;

    use super::*;
    use crate::clock::ManualClock;
    use crate::event::EventKind;
    use crate::fields::Label;
    use crate::sink::{MemorySink, Query};

    fn record(n: u32) -> Record {
        let event = Event::new(
            Timestamp::UNIX_EPOCH,
            Activity::ConfigChange {
                setting: Label::new("x").unwrap(),
            },
        )
        .detail(Label::new("n").unwrap(), n);
        Record::scrub(event, &Verbatim)
    }

    fn clock() -> Arc<dyn Clock> {
        Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH))
    }

    /// A sink whose writes wait until it is opened, to fill the queue on purpose.
    struct Gate {
        inner: MemorySink,
        open: Mutex<bool>,
        opened: Condvar,
    }

    impl Gate {
        fn new() -> Self {
            Self {
                inner: MemorySink::new(1000),
                open: Mutex::new(false),
                opened: Condvar::new(),
            }
        }

        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    impl AuditSink for Gate {
        fn write(&self, record: &Record) -> Result<(), SinkError> {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
            self.inner.write(record)
        }

        fn flush(&self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    struct Failing;

    impl AuditSink for Failing {
        fn write(&self, _: &Record) -> Result<(), SinkError> {
            Err(SinkError::Closed)
        }

        fn flush(&self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn records_reach_the_sink_in_order_and_flush_waits_for_them() {
        let sink = Arc::new(MemorySink::new(100));
        let queue = AuditQueue::spawn(sink.clone(), QueueConfig::default(), clock());
        for n in 0..50 {
            queue.send(record(n)).await.unwrap();
        }
        queue.flush().await.unwrap();
        let got = sink.query(&Query::default());
        assert_eq!(got.len(), 50);
        assert_eq!(got[0].details.values().next().unwrap(), 49);
        queue.close().await.unwrap();
        assert!(matches!(
            queue.send(record(0)).await,
            Err(QueueError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_full_dropping_queue_counts_drops_and_logs_the_count() {
        let gate = Arc::new(Gate::new());
        let config = QueueConfig {
            capacity: 2,
            overflow: Overflow::Drop,
        };
        let queue = AuditQueue::spawn(gate.clone(), config, clock());
        let mut dropped = 0;
        for n in 0..20 {
            if matches!(queue.send(record(n)).await, Err(QueueError::Dropped)) {
                dropped += 1;
            }
        }
        assert!(dropped >= 17, "{dropped}");
        assert_eq!(queue.dropped(), dropped);
        gate.open();
        queue.flush().await.unwrap();
        queue.send(record(99)).await.unwrap();
        queue.flush().await.unwrap();

        let notes = gate.inner.query(&Query {
            kind: Some(EventKind::AuditSystem),
            ..Query::default()
        });
        assert_eq!(notes.len(), 1);
        assert!(matches!(
            &notes[0].activity,
            Activity::AuditSystem { note: SystemNote::Dropped { count } } if *count == dropped
        ));
    }

    #[tokio::test]
    async fn a_waiting_queue_applies_back_pressure_and_loses_nothing() {
        let gate = Arc::new(Gate::new());
        let config = QueueConfig {
            capacity: 2,
            overflow: Overflow::Wait,
        };
        let queue = Arc::new(AuditQueue::spawn(gate.clone(), config, clock()));
        let sender = {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move {
                for n in 0..10 {
                    queue.send(record(n)).await.unwrap();
                }
            })
        };
        tokio::task::yield_now().await;
        assert!(!sender.is_finished());
        gate.open();
        sender.await.unwrap();
        queue.flush().await.unwrap();
        assert_eq!(gate.inner.len(), 10);
        assert_eq!(queue.dropped(), 0);
    }

    #[tokio::test]
    async fn write_failures_are_counted_and_reach_the_next_caller() {
        let queue = AuditQueue::spawn(Arc::new(Failing), QueueConfig::default(), clock());
        queue.send(record(1)).await.unwrap();
        assert!(matches!(
            queue.flush().await,
            Err(QueueError::Sink(SinkError::Closed))
        ));
        assert_eq!(queue.failed_writes(), 1);
    }
}
