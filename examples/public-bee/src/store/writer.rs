//! Group commit for the embedded SQLite store.
//!
//! SQLite lets one connection write at a time; connections that want to write while
//! another holds the lock wait in SQLite's busy handler, which sleeps for whole
//! milliseconds between attempts. Under concurrent requests that sleeping, not the work,
//! is what a request waits for. Instead, every write of the request path goes to one
//! writer task, which takes all the writes waiting at that moment and applies them in
//! one transaction, then commits once and answers them all.
//!
//! Guarantees are those of one transaction per write:
//! - a write is answered only after the transaction holding it committed (durability
//!   before the answer is unchanged);
//! - a write that fails (a unique conflict, say) is answered with its own error and
//!   leaves nothing behind; the others of the batch are not affected (the batch is
//!   applied again with each write in its own savepoint, and the failed one undone);
//! - when the commit itself fails, every write of the batch is answered with an error
//!   and none of them is stored.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use super::sql::sqlite_writes::{append_messages_on, insert_subject_key_on, start_conversation_on};
use crate::model::{Conversation, ConversationId, StoredMessage};

/// How often the write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Most writes applied in one transaction.
const MAX_BATCH: usize = 256;
/// Writes waiting for the writer before senders wait too.
const QUEUE: usize = 4096;

/// A write of the request path.
#[derive(Debug)]
pub(super) enum Write {
    /// A new conversation with its first messages.
    StartConversation {
        conversation: Conversation,
        messages: Vec<StoredMessage>,
    },
    /// Messages appended to a conversation, which is marked updated at `at`.
    AppendMessages {
        conversation: ConversationId,
        messages: Vec<StoredMessage>,
        at: Timestamp,
    },
    /// bee-crypto's conditional insert of a subject key.
    InsertSubjectKey {
        subject: String,
        generation: u32,
        wrapped: Vec<u8>,
    },
}

/// The outcome of one write: rows changed by its last statement.
type Outcome = Result<u64, StoreError>;

struct Job {
    write: Write,
    reply: oneshot::Sender<Outcome>,
}

/// The handle of the writer task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer, writing through `pool`, on a thread of its own: a batch takes
    /// several round trips to the database, and on the request runtime each of them
    /// would wait behind every request task ready at that moment.
    ///
    /// # Errors
    ///
    /// When the thread or its runtime cannot be started.
    pub(super) fn start(pool: SqlitePool) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("public-bee-sqlite-writer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // Ends with the runtime, when `run` returns.
                    tokio::spawn(checkpoints(pool.clone()));
                    run(pool, queue).await;
                });
            })?;
        Ok(Self { jobs })
    }

    /// Applies `write` in the next batch and waits until that batch is committed.
    ///
    /// # Errors
    ///
    /// The write's own error, [`StoreError::Commit`] when its batch did not commit, or
    /// [`StoreError::WriterStopped`] when the writer is gone.
    pub(super) async fn write(&self, write: Write) -> Outcome {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// Copies committed pages from the write-ahead log into the database file, alongside the
/// writes rather than inside a commit (SQLite's automatic checkpoint, turned off, would
/// run in whichever commit crossed its threshold and hold up the writes behind it). A
/// passive checkpoint never waits for readers or the writer. With `synchronous=NORMAL`
/// the log is synced to disk at checkpoints, so this also bounds how many commits a
/// power loss (not a crash of the process) can drop: those of the last interval.
async fn checkpoints(pool: SqlitePool) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "write-ahead log checkpoint failed");
        }
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (replies, writes): (Vec<_>, Vec<_>) =
            batch.drain(..).map(|j| (j.reply, j.write)).unzip();
        let outcomes = apply(&pool, &writes).await;
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // The request may have been dropped (timeout, closed connection); its write
            // stands, as it would have without batching.
            let _ = reply.send(outcome);
        }
    }
}

/// Applies `writes` in one transaction and returns each one's outcome, in order.
async fn apply(pool: &SqlitePool, writes: &[Write]) -> Vec<Outcome> {
    match apply_batch(pool, writes).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            let shared = Arc::new(e);
            writes
                .iter()
                .map(|_| Err(StoreError::Commit(Arc::clone(&shared))))
                .collect()
        }
    }
}

async fn apply_batch(pool: &SqlitePool, writes: &[Write]) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    // Writes seldom fail, so first try the batch without savepoints: a savepoint costs
    // two more statements per write.
    {
        // IMMEDIATE takes the write lock at once, so the transaction never has to upgrade
        // a read lock (which can fail in write-ahead-log mode).
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for write in writes {
            match apply_one(&mut tx, write).await {
                Ok(rows) => outcomes.push(Ok(rows)),
                Err(e) if writes.len() == 1 => {
                    tx.rollback().await?;
                    return Ok(vec![Err(e)]);
                }
                Err(_) => break,
            }
        }
        if outcomes.len() == writes.len() {
            tx.commit().await?;
            return Ok(outcomes);
        }
        tx.rollback().await?;
    }
    // A write failed: apply the batch again with each write in its own savepoint, so
    // that the failed one is undone alone.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut outcomes = Vec::with_capacity(writes.len());
    for write in writes {
        let mut savepoint = tx.begin().await?;
        let outcome = apply_one(&mut savepoint, write).await;
        if outcome.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn apply_one(conn: &mut SqliteConnection, write: &Write) -> Outcome {
    match write {
        Write::StartConversation {
            conversation,
            messages,
        } => start_conversation_on(conn, conversation, messages).await,
        Write::AppendMessages {
            conversation,
            messages,
            at,
        } => append_messages_on(conn, conversation, messages, *at).await,
        Write::InsertSubjectKey {
            subject,
            generation,
            wrapped,
        } => insert_subject_key_on(conn, subject, *generation, wrapped).await,
    }
}
