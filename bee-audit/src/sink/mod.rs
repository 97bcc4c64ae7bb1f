//! Where records go: the [`AuditSink`] trait and its implementations.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::scrub::Record;
use crate::verify::Failure;

mod fanout;
mod memory;
mod tracing_sink;

pub(crate) mod chained;
pub use chained::{ChainedFileSink, Durability, FileSinkConfig, OpenError, OpenReport, TornTail};
pub use fanout::FanOut;
pub use memory::{MemorySink, Query};
pub use tracing_sink::TracingSink;

/// A destination for audit records.
///
/// Writes are synchronous: the file sink writes each record through to the operating
/// system before it returns (see [`Durability`] for when it reaches the disk). A host on
/// an async runtime either calls it directly when its durability policy keeps writes cheap
/// (the default, [`Durability::Interval`]) or puts it behind an
/// [`AuditQueue`](crate::AuditQueue).
pub trait AuditSink: Send + Sync {
    /// Writes one record.
    ///
    /// # Errors
    ///
    /// Whatever kept the record from being written; the record is then not in the sink.
    fn write(&self, record: &Record) -> Result<(), SinkError>;

    /// Makes every record written so far durable (for files: synced to disk).
    ///
    /// # Errors
    ///
    /// Whatever kept the records from being made durable.
    fn flush(&self) -> Result<(), SinkError>;
}

impl<S: AuditSink + ?Sized> AuditSink for Arc<S> {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        (**self).write(record)
    }

    fn flush(&self) -> Result<(), SinkError> {
        (**self).flush()
    }
}

/// Why a sink could not write or flush.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// An input or output operation failed.
    #[error("audit log {path}: {operation} failed: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What was being done, such as `write` or `sync`.
        operation: &'static str,
        /// The operating system's reason.
        source: Arc<io::Error>,
    },
    /// The event could not be serialised.
    #[error("audit event could not be encoded: {0}")]
    Encode(Arc<serde_json::Error>),
    /// The record is larger than the sink accepts.
    #[error("audit record of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The record's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An earlier failure stopped the sink; it writes nothing more until reopened, since
    /// after a failed write or sync the file's state is unknown.
    #[error("audit log stopped after an earlier failure: {0}")]
    Stopped(Box<SinkError>),
    /// The sink or its queue is closed.
    #[error("audit sink is closed")]
    Closed,
    /// Retention removed nothing: the files it was to remove do not verify from the
    /// chain's start, and removing them would destroy the evidence.
    #[error("retention removed nothing: the files to remove do not verify: {0}")]
    Retention(Box<Failure>),
}

impl SinkError {
    pub(crate) fn io(path: impl Into<PathBuf>, operation: &'static str, e: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            operation,
            source: Arc::new(e),
        }
    }
}
