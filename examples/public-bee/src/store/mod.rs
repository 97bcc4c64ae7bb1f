//! Records: bots, conversations, sealed messages and wrapped subject keys.
//!
//! One trait, [`Store`], with one implementation over sqlx for each database: SQLite in
//! the data folder (the embedded default) and PostgreSQL (for a fleet). Both run their
//! migrations at start and share the same SQL text. The store never sees message text in
//! clear: messages arrive sealed and leave sealed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jiff::Timestamp;

use crate::model::{Bot, BotId, Conversation, ConversationId, StoredMessage, TenantId};

mod sql;
mod writer;

pub use sql::{PostgresStore, SqliteStore};

/// The future every [`Store`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where the server keeps its records. Used as `Arc<dyn Store>`.
pub trait Store: Send + Sync {
    /// Checks that the database answers.
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Closes the connections once the requests using them are done. SQLite checkpoints
    /// its write-ahead log into the database file on the way.
    fn close(&self) -> StoreFuture<'_, ()>;

    /// Stores a new bot.
    ///
    /// Fails with [`StoreError::Conflict`] when its tenant already has a bot of that name.
    fn insert_bot<'a>(&'a self, bot: &'a Bot) -> StoreFuture<'a, ()>;

    /// The bot with this id.
    fn bot<'a>(&'a self, id: &'a BotId) -> StoreFuture<'a, Option<Bot>>;

    /// Replaces a bot's fields; `false` when it does not exist.
    fn update_bot<'a>(&'a self, bot: &'a Bot) -> StoreFuture<'a, bool>;

    /// Deletes a bot with its conversations and messages; `false` when it does not exist.
    fn delete_bot<'a>(&'a self, id: &'a BotId) -> StoreFuture<'a, bool>;

    /// Bots matching the query, oldest first.
    fn bots<'a>(&'a self, query: &'a BotQuery) -> StoreFuture<'a, Vec<Bot>>;

    /// Stores a new conversation without messages.
    fn insert_conversation<'a>(&'a self, conversation: &'a Conversation) -> StoreFuture<'a, ()> {
        self.start_conversation(conversation, &[])
    }

    /// Stores a new conversation with its first messages, in one transaction.
    fn start_conversation<'a>(
        &'a self,
        conversation: &'a Conversation,
        messages: &'a [StoredMessage],
    ) -> StoreFuture<'a, ()>;

    /// The conversation with this id.
    fn conversation<'a>(&'a self, id: &'a ConversationId) -> StoreFuture<'a, Option<Conversation>>;

    /// A bot's conversations, most recently updated first, at most `limit`.
    fn conversations_of_bot<'a>(
        &'a self,
        bot: &'a BotId,
        limit: u32,
    ) -> StoreFuture<'a, Vec<Conversation>>;

    /// Appends messages to a conversation in one transaction and marks it updated at `at`.
    ///
    /// Fails with [`StoreError::Conflict`] when a message's position is already taken
    /// (another request appended to the same conversation first).
    fn append_messages<'a>(
        &'a self,
        conversation: &'a ConversationId,
        messages: &'a [StoredMessage],
        at: Timestamp,
    ) -> StoreFuture<'a, ()>;

    /// A conversation's messages in order.
    fn messages<'a>(
        &'a self,
        conversation: &'a ConversationId,
    ) -> StoreFuture<'a, Vec<StoredMessage>>;

    /// Stores the sealed signing secret of an API key.
    fn insert_signing_secret<'a>(
        &'a self,
        key_id: &'a str,
        sealed: &'a [u8],
        at: Timestamp,
    ) -> StoreFuture<'a, ()>;

    /// The sealed signing secret of an API key.
    fn signing_secret<'a>(&'a self, key_id: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Erases a subject's conversations: deletes their sealed messages and marks them
    /// erased at `at`, in one transaction. (The subject's key is destroyed through
    /// bee-crypto's [`bee_crypto::SubjectKeys::erase`], over this same store.)
    fn erase_subject<'a>(
        &'a self,
        tenant: &'a TenantId,
        subject_id: &'a str,
        at: Timestamp,
    ) -> StoreFuture<'a, Erasure>;
}

/// Which bots to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BotQuery {
    /// Only this tenant's bots.
    pub tenant: Option<TenantId>,
    /// Only public, active bots.
    pub public_only: bool,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erasure {
    /// How many conversations were marked erased.
    pub conversations: u64,
}

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with the same unique fields exists.
    #[error("a record with the same unique fields exists")]
    Conflict,
    /// A stored row could not be read back into a record.
    #[error("stored {what} is not valid")]
    Corrupt {
        /// Which field.
        what: &'static str,
    },
    /// The database failed.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The migrations could not be applied.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The transaction that held this write (with other requests' writes) did not
    /// commit, so none of them was stored.
    #[error("the write could not be committed")]
    Commit(#[source] Arc<sqlx::Error>),
    /// The writer task has stopped (the store is shutting down).
    #[error("the database writer has stopped")]
    WriterStopped,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(e),
        }
    }
}

/// The database connection pool, for the crates whose stores keep their own tables in the
/// same database (API keys, for one).
#[derive(Debug, Clone)]
pub enum Pool {
    /// The embedded SQLite file.
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
}

/// The opened database: the server's records and the pool they use.
#[derive(Clone)]
pub struct Database {
    /// The server's records.
    pub store: Arc<dyn Store>,
    /// The wrapped subject keys, in the same database.
    pub subject_keys: Arc<dyn bee_crypto::SubjectKeyStore>,
    /// The pool, shared with other stores.
    pub pool: Pool,
}

/// Opens the PostgreSQL store when a URL is given, else the SQLite store at `sqlite_path`,
/// and applies the migrations.
///
/// # Errors
///
/// When the database cannot be reached or migrated.
pub async fn open(
    database_url: Option<&str>,
    sqlite_path: &std::path::Path,
) -> Result<Database, StoreError> {
    Ok(match database_url {
        Some(url) => {
            let store = Arc::new(PostgresStore::connect(url).await?);
            let pool = Pool::Postgres(store.pool().clone());
            Database {
                subject_keys: store.clone(),
                store,
                pool,
            }
        }
        None => {
            let store = Arc::new(SqliteStore::open(sqlite_path).await?);
            let pool = Pool::Sqlite(store.pool().clone());
            Database {
                subject_keys: store.clone(),
                store,
                pool,
            }
        }
    })
}
