//! The SQL key store: SQLite or PostgreSQL through sqlx, on a pool the server owns.
//!
//! Records live in one table, `bee_api_keys`, that [`SqlKeyStore::create_tables`]
//! creates if it is missing, so it sits beside the server's own tables. Instants are
//! stored as Unix microseconds (`BIGINT`), lists and maps as JSON text, the hash as
//! hex: the same schema works on both databases.
//!
//! Every server of a fleet that shares the PostgreSQL database sees a revocation on
//! its next lookup.

use jiff::Timestamp;
use sqlx::{PgPool, SqlitePool};

use super::{BoxFuture, KeyQuery, KeyStore, StoreError};
use crate::key::KeyId;
use crate::record::KeyRecord;

/// Key records in an SQL database.
#[derive(Debug, Clone)]
pub struct SqlKeyStore {
    pool: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool the store has.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS bee_api_keys (
    key_id TEXT PRIMARY KEY,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    pepper_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    status TEXT NOT NULL,
    allowed_ips TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    rate_limits TEXT NOT NULL,
    replaced_by TEXT,
    metadata TEXT NOT NULL,
    revision BIGINT NOT NULL
)";
const CREATE_TENANT_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS bee_api_keys_tenant ON bee_api_keys (tenant)";
const CREATE_EXPIRY_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS bee_api_keys_expires ON bee_api_keys (expires_at)";

const COLUMNS: &str = "key_id, prefix, secret_hash, pepper_id, tenant, name, scopes, roles, \
    created_at, expires_at, last_used_at, status, allowed_ips, allowed_origins, \
    rate_limits, replaced_by, metadata, revision";

const INSERT: &str = "INSERT INTO bee_api_keys (key_id, prefix, secret_hash, pepper_id, \
    tenant, name, scopes, roles, created_at, expires_at, last_used_at, status, \
    allowed_ips, allowed_origins, rate_limits, replaced_by, metadata, revision) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
    ON CONFLICT (key_id) DO NOTHING";

const FIND: &str = "SELECT key_id, prefix, secret_hash, pepper_id, tenant, name, scopes, \
    roles, created_at, expires_at, last_used_at, status, allowed_ips, allowed_origins, \
    rate_limits, replaced_by, metadata, revision FROM bee_api_keys WHERE key_id = $1";

const UPDATE: &str = "UPDATE bee_api_keys SET prefix = $2, secret_hash = $3, pepper_id = $4, \
    tenant = $5, name = $6, scopes = $7, roles = $8, created_at = $9, expires_at = $10, \
    status = $11, allowed_ips = $12, allowed_origins = $13, rate_limits = $14, \
    replaced_by = $15, metadata = $16, revision = revision + 1 \
    WHERE key_id = $1 AND revision = $17";

const EXISTS: &str = "SELECT key_id FROM bee_api_keys WHERE key_id = $1";

const TOUCH: &str = "UPDATE bee_api_keys SET last_used_at = $2 \
    WHERE key_id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";

const LIST: &str = "SELECT key_id, prefix, secret_hash, pepper_id, tenant, name, scopes, \
    roles, created_at, expires_at, last_used_at, status, allowed_ips, allowed_origins, \
    rate_limits, replaced_by, metadata, revision FROM bee_api_keys \
    WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR status = $2) \
    AND ($3 IS NULL OR created_at < $3) \
    AND ($4 IS NULL OR (expires_at IS NOT NULL AND expires_at < $4)) \
    ORDER BY created_at, key_id";

impl SqlKeyStore {
    /// A store on a SQLite pool the server already has.
    pub fn sqlite(pool: SqlitePool) -> Self {
        Self {
            pool: Backend::Sqlite(pool),
        }
    }

    /// A store on a PostgreSQL pool the server already has. Tables are created in the
    /// connection's `search_path` schema.
    pub fn postgres(pool: PgPool) -> Self {
        Self {
            pool: Backend::Postgres(pool),
        }
    }

    /// Creates the `bee_api_keys` table and its indexes when they are missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database refuses.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        for statement in [CREATE_TABLE, CREATE_TENANT_INDEX, CREATE_EXPIRY_INDEX] {
            on_pool!(self, pool => sqlx::query(statement).execute(pool).await.map(|_| ()))
                .map_err(backend)?;
        }
        Ok(())
    }

    /// The column list, for servers that want to read the table themselves.
    pub fn columns() -> &'static str {
        COLUMNS
    }

    async fn insert_row(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let row = Row::from_record(record)?;
        let done = on_pool!(self, pool => sqlx::query(INSERT)
            .bind(row.key_id).bind(row.prefix).bind(row.secret_hash).bind(row.pepper_id)
            .bind(row.tenant).bind(row.name).bind(row.scopes).bind(row.roles)
            .bind(row.created_at).bind(row.expires_at).bind(row.last_used_at)
            .bind(row.status).bind(row.allowed_ips).bind(row.allowed_origins)
            .bind(row.rate_limits).bind(row.replaced_by).bind(row.metadata)
            .bind(row.revision)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(backend)?;
        if done == 0 {
            return Err(StoreError::Duplicate(record.key_id));
        }
        Ok(())
    }

    async fn find_row(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let id = key_id.as_str();
        let row = on_pool!(self, pool => sqlx::query_as::<_, Row>(FIND)
            .bind(id).fetch_optional(pool).await)
        .map_err(backend)?;
        row.map(Row::into_record).transpose()
    }

    async fn update_row(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let row = Row::from_record(record)?;
        let done = on_pool!(self, pool => sqlx::query(UPDATE)
            .bind(row.key_id).bind(row.prefix).bind(row.secret_hash).bind(row.pepper_id)
            .bind(row.tenant).bind(row.name).bind(row.scopes).bind(row.roles)
            .bind(row.created_at).bind(row.expires_at).bind(row.status)
            .bind(row.allowed_ips).bind(row.allowed_origins).bind(row.rate_limits)
            .bind(row.replaced_by).bind(row.metadata).bind(row.revision)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(backend)?;
        if done == 1 {
            return Ok(());
        }
        let id = record.key_id.as_str();
        let exists = on_pool!(self, pool => sqlx::query(EXISTS)
            .bind(id).fetch_optional(pool).await.map(|r| r.is_some()))
        .map_err(backend)?;
        Err(if exists {
            StoreError::Conflict(record.key_id)
        } else {
            StoreError::NotFound(record.key_id)
        })
    }

    async fn touch_row(&self, key_id: &KeyId, at: Timestamp) -> Result<(), StoreError> {
        let (id, at) = (key_id.as_str(), at.as_microsecond());
        on_pool!(self, pool => sqlx::query(TOUCH).bind(id).bind(at).execute(pool).await.map(|_| ()))
            .map_err(backend)?;
        Ok(())
    }

    async fn list_rows(&self, query: &KeyQuery) -> Result<Vec<KeyRecord>, StoreError> {
        let tenant = query.tenant.as_ref().map(|t| t.as_str().to_owned());
        let status = query.status.map(|s| s.as_str().to_owned());
        let created = query.created_before.map(Timestamp::as_microsecond);
        let expires = query.expires_before.map(Timestamp::as_microsecond);
        let rows = on_pool!(self, pool => sqlx::query_as::<_, Row>(LIST)
            .bind(tenant).bind(status).bind(created).bind(expires)
            .fetch_all(pool).await)
        .map_err(backend)?;
        rows.into_iter().map(Row::into_record).collect()
    }
}

impl KeyStore for SqlKeyStore {
    fn insert<'a>(&'a self, record: &'a KeyRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.insert_row(record))
    }

    fn find<'a>(
        &'a self,
        key_id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        Box::pin(self.find_row(key_id))
    }

    fn update<'a>(&'a self, record: &'a KeyRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.update_row(record))
    }

    fn touch<'a>(
        &'a self,
        key_id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.touch_row(key_id, at))
    }

    fn list<'a>(
        &'a self,
        query: &'a KeyQuery,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        Box::pin(self.list_rows(query))
    }
}

/// One row of `bee_api_keys`, in the column types both databases share.
#[derive(sqlx::FromRow)]
struct Row {
    key_id: String,
    prefix: String,
    secret_hash: String,
    pepper_id: String,
    tenant: String,
    name: String,
    scopes: String,
    roles: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    status: String,
    allowed_ips: String,
    allowed_origins: String,
    rate_limits: String,
    replaced_by: Option<String>,
    metadata: String,
    revision: i64,
}

impl Row {
    fn from_record(r: &KeyRecord) -> Result<Self, StoreError> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt {
            key_id: r.key_id.to_string(),
            reason: e.to_string(),
        };
        Ok(Self {
            key_id: r.key_id.to_string(),
            prefix: r.prefix.clone(),
            secret_hash: hex::encode(r.secret_hash.as_bytes()),
            pepper_id: r.pepper_id.to_string(),
            tenant: r.tenant.to_string(),
            name: r.name.clone(),
            scopes: serde_json::to_string(&r.scopes).map_err(corrupt)?,
            roles: serde_json::to_string(&r.roles).map_err(corrupt)?,
            created_at: r.created_at.as_microsecond(),
            expires_at: r.expires_at.map(Timestamp::as_microsecond),
            last_used_at: r.last_used_at.map(Timestamp::as_microsecond),
            status: r.status.as_str().to_owned(),
            allowed_ips: serde_json::to_string(&r.allowed_ips).map_err(corrupt)?,
            allowed_origins: serde_json::to_string(&r.allowed_origins).map_err(corrupt)?,
            rate_limits: serde_json::to_string(&r.rate_limits).map_err(corrupt)?,
            replaced_by: r.replaced_by.map(|id| id.to_string()),
            metadata: serde_json::to_string(&r.metadata).map_err(corrupt)?,
            revision: i64::try_from(r.revision).unwrap_or(i64::MAX),
        })
    }

    fn into_record(self) -> Result<KeyRecord, StoreError> {
        let key_id_text = self.key_id.clone();
        let corrupt = move |reason: String| StoreError::Corrupt {
            key_id: key_id_text.clone(),
            reason,
        };
        let json = |text: &str, field: &str| -> Result<serde_json::Value, StoreError> {
            serde_json::from_str(text).map_err(|e| corrupt(format!("{field}: {e}")))
        };
        let value = serde_json::json!({
            "key_id": self.key_id,
            "prefix": self.prefix,
            "secret_hash": self.secret_hash,
            "pepper_id": self.pepper_id,
            "tenant": self.tenant,
            "name": self.name,
            "scopes": json(&self.scopes, "scopes")?,
            "roles": json(&self.roles, "roles")?,
            "created_at": micros(self.created_at).map_err(&corrupt)?,
            "expires_at": self.expires_at.map(micros).transpose().map_err(&corrupt)?,
            "last_used_at": self.last_used_at.map(micros).transpose().map_err(&corrupt)?,
            "status": self.status,
            "allowed_ips": json(&self.allowed_ips, "allowed_ips")?,
            "allowed_origins": json(&self.allowed_origins, "allowed_origins")?,
            "rate_limits": json(&self.rate_limits, "rate_limits")?,
            "replaced_by": self.replaced_by,
            "metadata": json(&self.metadata, "metadata")?,
            "revision": u64::try_from(self.revision).unwrap_or(0),
        });
        // One decoding path for every field: the record's own serde rules (key id,
        // tenant and pepper id checks, origin parsing) apply to what comes back.
        serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
    }
}

fn micros(value: i64) -> Result<Timestamp, String> {
    Timestamp::from_microsecond(value).map_err(|e| format!("timestamp {value}: {e}"))
}

fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}
