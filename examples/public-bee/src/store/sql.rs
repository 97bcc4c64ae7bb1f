//! The [`Store`] over sqlx: one body of SQL, instantiated for SQLite and PostgreSQL.
//!
//! The SQL is written once in the subset both databases accept (`$n` parameters,
//! `ON CONFLICT DO NOTHING`, 64-bit integers for times); a macro implements the trait for
//! each pool type, so that the two implementations cannot drift apart.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

use bee_crypto::{
    BoxFuture as CryptoFuture, StoreError as CryptoStoreError, SubjectId, SubjectKeyRecord,
    SubjectKeyStore,
};

use super::writer::{Write, Writer};
use super::{BotQuery, Erasure, Store, StoreError, StoreFuture};
use crate::model::{
    Bot, BotId, Conversation, ConversationId, RateTiers, Role, StoredMessage, TenantId,
};

/// The migrations table of this server, apart from any other table in the database.
const MIGRATIONS_TABLE: &str = "public_bee_migrations";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Records in a SQLite file: the embedded default.
///
/// The writes of the request path (new conversations, appended messages, subject keys)
/// go through one writer task that commits the writes of concurrent requests together
/// (see the `writer` module); everything else uses the pool directly.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
    bots: Arc<BotCache>,
}

/// Records in PostgreSQL: shared by a fleet.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl SqliteStore {
    /// Opens (creating it with mode 0600 when missing) and migrates the database file.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With the write-ahead log, NORMAL keeps the database consistent through a crash
            // and only a power loss can drop the last commits; FULL would sync every one.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // No checkpoint inside a commit (it would hold up every write behind it): the
            // writer's own thread checkpoints in the background instead (see `writer`).
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        migrator(&SQLITE_MIGRATIONS)
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        let writer =
            Writer::start(pool.clone()).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Ok(Self {
            pool,
            writer,
            bots: Arc::new(BotCache::default()),
        })
    }

    /// The pool, for other stores that keep their tables in the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl PostgresStore {
    /// Connects to PostgreSQL and migrates. A `search_path` in the URL's `options`
    /// (`?options[search_path]=myschema`) puts every table in that schema.
    ///
    /// # Errors
    ///
    /// When the URL is not valid or the database cannot be reached or migrated.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        migrator(&POSTGRES_MIGRATIONS)
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }

    /// The pool, for other stores that keep their tables in the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

macro_rules! sql_store {
    ($store:ty) => {
        impl Store for $store {
            fn ping(&self) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                })
            }

            fn close(&self) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    self.pool.close().await;
                    Ok(())
                })
            }

            fn insert_bot<'a>(&'a self, bot: &'a Bot) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO bots (id, tenant_id, name, display_name, description, \
                         is_public, is_active, system_prompt, knowledge, allowed_origins, \
                         require_signature, limit_per_minute, limit_per_hour, limit_per_day, \
                         created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                         $15, $16)",
                    )
                    .bind(bot.id.as_str())
                    .bind(bot.tenant_id.as_str())
                    .bind(&bot.name)
                    .bind(&bot.display_name)
                    .bind(&bot.description)
                    .bind(bot.public)
                    .bind(bot.active)
                    .bind(&bot.system_prompt)
                    .bind(to_json(&bot.knowledge)?)
                    .bind(to_json(&bot.allowed_origins)?)
                    .bind(bot.require_signature)
                    .bind(i64::from(bot.rate_limits.per_minute))
                    .bind(i64::from(bot.rate_limits.per_hour))
                    .bind(i64::from(bot.rate_limits.per_day))
                    .bind(millis(bot.created_at))
                    .bind(millis(bot.updated_at))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn bot<'a>(&'a self, id: &'a BotId) -> StoreFuture<'a, Option<Bot>> {
                Box::pin(async move {
                    let seen = self.bot_changes();
                    if let Some(bot) = self.cached_bot(id) {
                        return Ok(Some(bot));
                    }
                    let row = sqlx::query(concat!("SELECT ", bot_columns!(), " FROM bots WHERE id = $1"))
                        .bind(id.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                    let bot = row.map(|r| bot_from_row!(r)).transpose()?;
                    if let Some(bot) = &bot {
                        self.remember_bot(seen, bot);
                    }
                    Ok(bot)
                })
            }

            fn update_bot<'a>(&'a self, bot: &'a Bot) -> StoreFuture<'a, bool> {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE bots SET name = $2, display_name = $3, description = $4, \
                         is_public = $5, is_active = $6, system_prompt = $7, knowledge = $8, \
                         allowed_origins = $9, require_signature = $10, \
                         limit_per_minute = $11, limit_per_hour = $12, limit_per_day = $13, \
                         updated_at = $14 WHERE id = $1",
                    )
                    .bind(bot.id.as_str())
                    .bind(&bot.name)
                    .bind(&bot.display_name)
                    .bind(&bot.description)
                    .bind(bot.public)
                    .bind(bot.active)
                    .bind(&bot.system_prompt)
                    .bind(to_json(&bot.knowledge)?)
                    .bind(to_json(&bot.allowed_origins)?)
                    .bind(bot.require_signature)
                    .bind(i64::from(bot.rate_limits.per_minute))
                    .bind(i64::from(bot.rate_limits.per_hour))
                    .bind(i64::from(bot.rate_limits.per_day))
                    .bind(millis(bot.updated_at))
                    .execute(&self.pool)
                    .await?;
                    self.forget_bot(&bot.id);
                    Ok(done.rows_affected() == 1)
                })
            }

            fn delete_bot<'a>(&'a self, id: &'a BotId) -> StoreFuture<'a, bool> {
                Box::pin(async move {
                    let done = sqlx::query("DELETE FROM bots WHERE id = $1")
                        .bind(id.as_str())
                        .execute(&self.pool)
                        .await?;
                    self.forget_bot(id);
                    Ok(done.rows_affected() == 1)
                })
            }

            fn bots<'a>(&'a self, query: &'a BotQuery) -> StoreFuture<'a, Vec<Bot>> {
                Box::pin(async move {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        bot_columns!(),
                        " FROM bots WHERE ($1 IS NULL OR tenant_id = $1) \
                         AND ($2 = FALSE OR (is_public AND is_active)) \
                         ORDER BY created_at, id"
                    ))
                    .bind(query.tenant.as_ref().map(TenantId::as_str))
                    .bind(query.public_only)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(|r| bot_from_row!(r)).collect()
                })
            }

            fn start_conversation<'a>(
                &'a self,
                conversation: &'a Conversation,
                messages: &'a [StoredMessage],
            ) -> StoreFuture<'a, ()> {
                Box::pin(self.commit_start_conversation(conversation, messages))
            }

            fn conversation<'a>(
                &'a self,
                id: &'a ConversationId,
            ) -> StoreFuture<'a, Option<Conversation>> {
                Box::pin(async move {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        conversation_columns!(),
                        " FROM conversations WHERE id = $1"
                    ))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(|r| conversation_from_row!(r)).transpose()
                })
            }

            fn conversations_of_bot<'a>(
                &'a self,
                bot: &'a BotId,
                limit: u32,
            ) -> StoreFuture<'a, Vec<Conversation>> {
                Box::pin(async move {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        conversation_columns!(),
                        " FROM conversations WHERE bot_id = $1 \
                         ORDER BY updated_at DESC, id LIMIT $2"
                    ))
                    .bind(bot.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(|r| conversation_from_row!(r)).collect()
                })
            }

            fn append_messages<'a>(
                &'a self,
                conversation: &'a ConversationId,
                messages: &'a [StoredMessage],
                at: Timestamp,
            ) -> StoreFuture<'a, ()> {
                Box::pin(self.commit_append_messages(conversation, messages, at))
            }

            fn messages<'a>(
                &'a self,
                conversation: &'a ConversationId,
            ) -> StoreFuture<'a, Vec<StoredMessage>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT conversation_id, seq, role, sealed, created_at FROM messages \
                         WHERE conversation_id = $1 ORDER BY seq",
                    )
                    .bind(conversation.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(|r| message_from_row!(r)).collect()
                })
            }

            fn insert_signing_secret<'a>(
                &'a self,
                key_id: &'a str,
                sealed: &'a [u8],
                at: Timestamp,
            ) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO signing_secrets (key_id, sealed, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(key_id)
                    .bind(sealed)
                    .bind(millis(at))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn signing_secret<'a>(&'a self, key_id: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
                Box::pin(async move {
                    let row = sqlx::query("SELECT sealed FROM signing_secrets WHERE key_id = $1")
                        .bind(key_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(|r| r.try_get::<Vec<u8>, _>("sealed").map_err(StoreError::from))
                        .transpose()
                })
            }

            fn erase_subject<'a>(
                &'a self,
                tenant: &'a TenantId,
                subject_id: &'a str,
                at: Timestamp,
            ) -> StoreFuture<'a, Erasure> {
                Box::pin(async move {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query(
                        "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM \
                         conversations WHERE tenant_id = $1 AND subject_id = $2)",
                    )
                    .bind(tenant.as_str())
                    .bind(subject_id)
                    .execute(&mut *tx)
                    .await?;
                    let conversations = sqlx::query(
                        "UPDATE conversations SET erased_at = $3 WHERE tenant_id = $1 \
                         AND subject_id = $2 AND erased_at IS NULL",
                    )
                    .bind(tenant.as_str())
                    .bind(subject_id)
                    .bind(millis(at))
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Erasure {
                        conversations: conversations.rows_affected(),
                    })
                })
            }
        }
    };
}

/// bee-crypto's subject key store over the `subject_keys` table, with the conditional
/// writes its documentation gives, so that instances racing on one subject never
/// overwrite each other's key.
macro_rules! subject_key_store {
    ($store:ty) => {
        impl SubjectKeyStore for $store {
            fn fetch<'a>(
                &'a self,
                subject: &'a SubjectId,
            ) -> CryptoFuture<'a, Result<Option<SubjectKeyRecord>, CryptoStoreError>> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT generation, wrapped FROM subject_keys WHERE subject = $1",
                    )
                    .bind(subject.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(CryptoStoreError::new)?;
                    let Some(row) = row else { return Ok(None) };
                    let generation: i64 =
                        row.try_get("generation").map_err(CryptoStoreError::new)?;
                    let wrapped: Option<Vec<u8>> =
                        row.try_get("wrapped").map_err(CryptoStoreError::new)?;
                    let generation = u32::try_from(generation)
                        .map_err(|_| CryptoStoreError::new("generation out of range"))?;
                    Ok(Some(SubjectKeyRecord {
                        generation,
                        wrapped,
                    }))
                })
            }

            fn insert<'a>(
                &'a self,
                subject: &'a SubjectId,
                generation: u32,
                wrapped: &'a [u8],
            ) -> CryptoFuture<'a, Result<bool, CryptoStoreError>> {
                Box::pin(async move {
                    let inserted = self
                        .commit_subject_key(subject.as_str(), generation, wrapped)
                        .await
                        .map_err(CryptoStoreError::new)?;
                    Ok(inserted == 1)
                })
            }

            fn replace<'a>(
                &'a self,
                subject: &'a SubjectId,
                generation: u32,
                wrapped: &'a [u8],
            ) -> CryptoFuture<'a, Result<bool, CryptoStoreError>> {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE subject_keys SET wrapped = $3 WHERE subject = $1 \
                         AND generation = $2 AND wrapped IS NOT NULL",
                    )
                    .bind(subject.as_str())
                    .bind(i64::from(generation))
                    .bind(wrapped)
                    .execute(&self.pool)
                    .await
                    .map_err(CryptoStoreError::new)?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn erase<'a>(
                &'a self,
                subject: &'a SubjectId,
            ) -> CryptoFuture<'a, Result<bool, CryptoStoreError>> {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE subject_keys SET wrapped = NULL WHERE subject = $1 \
                         AND wrapped IS NOT NULL",
                    )
                    .bind(subject.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(CryptoStoreError::new)?;
                    Ok(done.rows_affected() == 1)
                })
            }
        }
    };
}

macro_rules! bot_columns {
    () => {
        "id, tenant_id, name, display_name, description, is_public, is_active, \
         system_prompt, knowledge, allowed_origins, require_signature, limit_per_minute, \
         limit_per_hour, limit_per_day, created_at, updated_at"
    };
}

macro_rules! conversation_columns {
    () => {
        "id, tenant_id, bot_id, subject_id, created_at, updated_at, erased_at"
    };
}

macro_rules! bot_from_row {
    ($row:expr) => {{
        let r = &$row;
        Ok::<_, StoreError>(Bot {
            id: BotId::parse(&r.try_get::<String, _>("id")?).map_err(corrupt("bot id"))?,
            tenant_id: tenant(&r.try_get::<String, _>("tenant_id")?)?,
            name: r.try_get("name")?,
            display_name: r.try_get("display_name")?,
            description: r.try_get("description")?,
            public: r.try_get("is_public")?,
            active: r.try_get("is_active")?,
            system_prompt: r.try_get("system_prompt")?,
            knowledge: from_json(&r.try_get::<String, _>("knowledge")?, "bot knowledge")?,
            allowed_origins: from_json(
                &r.try_get::<String, _>("allowed_origins")?,
                "bot allowed origins",
            )?,
            require_signature: r.try_get("require_signature")?,
            rate_limits: RateTiers {
                per_minute: limit(r.try_get("limit_per_minute")?)?,
                per_hour: limit(r.try_get("limit_per_hour")?)?,
                per_day: limit(r.try_get("limit_per_day")?)?,
            },
            created_at: timestamp(r.try_get("created_at")?)?,
            updated_at: timestamp(r.try_get("updated_at")?)?,
        })
    }};
}

macro_rules! conversation_from_row {
    ($row:expr) => {{
        let r = &$row;
        let erased_at: Option<i64> = r.try_get("erased_at")?;
        Ok::<_, StoreError>(Conversation {
            id: ConversationId::parse(&r.try_get::<String, _>("id")?)
                .map_err(corrupt("conversation id"))?,
            tenant_id: tenant(&r.try_get::<String, _>("tenant_id")?)?,
            bot_id: BotId::parse(&r.try_get::<String, _>("bot_id")?).map_err(corrupt("bot id"))?,
            subject_id: r.try_get("subject_id")?,
            created_at: timestamp(r.try_get("created_at")?)?,
            updated_at: timestamp(r.try_get("updated_at")?)?,
            erased_at: erased_at.map(timestamp).transpose()?,
        })
    }};
}

macro_rules! message_from_row {
    ($row:expr) => {{
        let r = &$row;
        Ok::<_, StoreError>(StoredMessage {
            conversation_id: ConversationId::parse(&r.try_get::<String, _>("conversation_id")?)
                .map_err(corrupt("conversation id"))?,
            seq: r.try_get("seq")?,
            role: Role::parse(&r.try_get::<String, _>("role")?).ok_or(StoreError::Corrupt {
                what: "message role",
            })?,
            sealed: r.try_get("sealed")?,
            created_at: timestamp(r.try_get("created_at")?)?,
        })
    }};
}

/// The writes of the request path on one connection, in the caller's transaction; each
/// returns the rows changed by its last statement. Written once for both databases.
macro_rules! request_writes {
    ($conn:ty, $db:ty) => {
        /// A new conversation and its first messages.
        pub(crate) async fn start_conversation_on(
            conn: &mut $conn,
            conversation: &Conversation,
            messages: &[StoredMessage],
        ) -> Result<u64, StoreError> {
            let done = sqlx::query(
                "INSERT INTO conversations (id, tenant_id, bot_id, subject_id, \
                 created_at, updated_at, erased_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(conversation.id.as_str())
            .bind(conversation.tenant_id.as_str())
            .bind(conversation.bot_id.as_str())
            .bind(&conversation.subject_id)
            .bind(millis(conversation.created_at))
            .bind(millis(conversation.updated_at))
            .bind(conversation.erased_at.map(millis))
            .execute(&mut *conn)
            .await?
            .rows_affected();
            insert_messages(conn, &conversation.id, messages).await?;
            Ok(done)
        }

        /// Messages appended to a conversation, which is marked updated at `at`.
        pub(crate) async fn append_messages_on(
            conn: &mut $conn,
            conversation: &ConversationId,
            messages: &[StoredMessage],
            at: Timestamp,
        ) -> Result<u64, StoreError> {
            insert_messages(conn, conversation, messages).await?;
            let done = sqlx::query("UPDATE conversations SET updated_at = $2 WHERE id = $1")
                .bind(conversation.as_str())
                .bind(millis(at))
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected())
        }

        /// bee-crypto's conditional insert: a new subject, or a new generation of an
        /// erased one; 0 rows when another instance got there first.
        pub(crate) async fn insert_subject_key_on(
            conn: &mut $conn,
            subject: &str,
            generation: u32,
            wrapped: &[u8],
        ) -> Result<u64, StoreError> {
            let done = sqlx::query(
                "INSERT INTO subject_keys (subject, generation, wrapped) VALUES ($1, $2, $3) \
                 ON CONFLICT (subject) DO UPDATE SET generation = excluded.generation, \
                 wrapped = excluded.wrapped WHERE subject_keys.wrapped IS NULL \
                 AND subject_keys.generation < excluded.generation",
            )
            .bind(subject)
            .bind(i64::from(generation))
            .bind(wrapped)
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected())
        }

        /// All the messages in one statement (an exchange is two): each statement is a
        /// round trip to the database.
        async fn insert_messages(
            conn: &mut $conn,
            conversation: &ConversationId,
            messages: &[StoredMessage],
        ) -> Result<(), StoreError> {
            if messages.is_empty() {
                return Ok(());
            }
            let mut insert = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO messages (conversation_id, seq, role, sealed, created_at) ",
            );
            insert.push_values(messages, |mut row, message| {
                row.push_bind(conversation.as_str())
                    .push_bind(message.seq)
                    .push_bind(message.role.as_str())
                    .push_bind(message.sealed.as_slice())
                    .push_bind(millis(message.created_at));
            });
            insert.build().execute(&mut *conn).await?;
            Ok(())
        }
    };
}

/// Bots read from the SQLite file, which only this store changes: an update or deletion
/// drops the bot at once, so a deactivated or changed bot is never served stale. Entries
/// also expire after [`BOT_CACHE_TTL`], which bounds only a change written to the file by
/// something else.
#[derive(Debug, Default)]
struct BotCache {
    state: Mutex<BotCacheState>,
}

#[derive(Debug, Default)]
struct BotCacheState {
    /// Counts changes, so that a read that raced with a change is not cached.
    changes: u64,
    entries: HashMap<BotId, (Bot, Instant)>,
}

/// How long a bot read from the SQLite file is reused.
const BOT_CACHE_TTL: Duration = Duration::from_secs(5);
/// Most bots kept in the cache.
const BOT_CACHE_CAPACITY: usize = 10_000;

impl BotCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, BotCacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SqliteStore {
    fn bot_changes(&self) -> u64 {
        self.bots.lock().changes
    }

    fn cached_bot(&self, id: &BotId) -> Option<Bot> {
        let state = self.bots.lock();
        let (bot, read_at) = state.entries.get(id)?;
        (read_at.elapsed() < BOT_CACHE_TTL).then(|| bot.clone())
    }

    /// Keeps `bot`, read when the change count was `seen`, unless a change came since.
    fn remember_bot(&self, seen: u64, bot: &Bot) {
        let mut state = self.bots.lock();
        if state.changes != seen {
            return;
        }
        if state.entries.len() >= BOT_CACHE_CAPACITY {
            state.entries.clear();
        }
        state
            .entries
            .insert(bot.id.clone(), (bot.clone(), Instant::now()));
    }

    /// Called after a change to a bot is committed.
    fn forget_bot(&self, id: &BotId) {
        let mut state = self.bots.lock();
        state.changes = state.changes.wrapping_add(1);
        state.entries.remove(id);
    }
}

/// A fleet shares PostgreSQL: bots are always read from it.
impl PostgresStore {
    #[allow(clippy::unused_self)]
    fn bot_changes(&self) -> u64 {
        0
    }

    #[allow(clippy::unused_self)]
    fn cached_bot(&self, _id: &BotId) -> Option<Bot> {
        None
    }

    #[allow(clippy::unused_self)]
    fn remember_bot(&self, _seen: u64, _bot: &Bot) {}

    #[allow(clippy::unused_self)]
    fn forget_bot(&self, _id: &BotId) {}
}

/// The request path's writes on a SQLite connection (run by the writer task).
pub(crate) mod sqlite_writes {
    use super::{Conversation, ConversationId, StoreError, StoredMessage, Timestamp, millis};

    request_writes!(sqlx::SqliteConnection, sqlx::Sqlite);
}

/// The request path's writes on a PostgreSQL connection.
mod postgres_writes {
    use super::{Conversation, ConversationId, StoreError, StoredMessage, Timestamp, millis};

    request_writes!(sqlx::PgConnection, sqlx::Postgres);
}

impl SqliteStore {
    /// Through the writer: committed with the other requests' writes of the moment.
    async fn commit_start_conversation(
        &self,
        conversation: &Conversation,
        messages: &[StoredMessage],
    ) -> Result<(), StoreError> {
        let write = Write::StartConversation {
            conversation: conversation.clone(),
            messages: messages.to_vec(),
        };
        self.writer.write(write).await.map(|_| ())
    }

    async fn commit_append_messages(
        &self,
        conversation: &ConversationId,
        messages: &[StoredMessage],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let write = Write::AppendMessages {
            conversation: conversation.clone(),
            messages: messages.to_vec(),
            at,
        };
        self.writer.write(write).await.map(|_| ())
    }

    async fn commit_subject_key(
        &self,
        subject: &str,
        generation: u32,
        wrapped: &[u8],
    ) -> Result<u64, StoreError> {
        let write = Write::InsertSubjectKey {
            subject: subject.to_owned(),
            generation,
            wrapped: wrapped.to_vec(),
        };
        self.writer.write(write).await
    }
}

impl PostgresStore {
    /// One transaction of its own: PostgreSQL writes rows concurrently.
    async fn commit_start_conversation(
        &self,
        conversation: &Conversation,
        messages: &[StoredMessage],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        postgres_writes::start_conversation_on(&mut tx, conversation, messages).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit_append_messages(
        &self,
        conversation: &ConversationId,
        messages: &[StoredMessage],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        postgres_writes::append_messages_on(&mut tx, conversation, messages, at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit_subject_key(
        &self,
        subject: &str,
        generation: u32,
        wrapped: &[u8],
    ) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        postgres_writes::insert_subject_key_on(&mut conn, subject, generation, wrapped).await
    }
}

sql_store!(SqliteStore);
sql_store!(PostgresStore);
subject_key_store!(SqliteStore);
subject_key_store!(PostgresStore);

fn migrator(base: &'static Migrator) -> Migrator {
    let mut migrator = Migrator::with_migrations(base.migrations.to_vec());
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// Creates the database file with mode 0600 before SQLite does (with the umask's mode).
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;

    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(sqlx::Error::Io(e))),
    }
}

fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|_| StoreError::Corrupt { what: "timestamp" })
}

fn limit(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt { what: "rate limit" })
}

fn tenant(text: &str) -> Result<TenantId, StoreError> {
    TenantId::parse(text).map_err(corrupt("tenant id"))
}

fn corrupt<E>(what: &'static str) -> impl FnOnce(E) -> StoreError {
    move |_| StoreError::Corrupt { what }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Corrupt { what: "json field" })
}

fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt { what })
}
