//! The Redis nonce store: one set of nonces for a whole fleet.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::nonce::{NonceCheck, NonceStore, NonceStoreError};
use crate::store::BoxFuture;

/// Nonces as Redis keys `<prefix><nonce>` that expire on their own.
///
/// `SET key 1 NX PX <ttl>` checks and inserts in one atomic command, so two servers
/// receiving the same request at the same instant cannot both accept it.
#[derive(Clone)]
pub struct RedisNonceStore {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisNonceStore {
    /// A store over an existing connection; every key starts with `prefix` (for example
    /// `bee:nonce:`), so the keys sit beside the server's other Redis data.
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            connection,
            prefix: prefix.into(),
        }
    }

    /// Connects to `url` (`redis://host:port/db`).
    ///
    /// # Errors
    ///
    /// [`NonceStoreError::Backend`] when the URL is invalid or Redis does not answer.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, NonceStoreError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let connection = ConnectionManager::new(client).await.map_err(backend)?;
        Ok(Self::new(connection, prefix))
    }

    async fn check(&self, nonce: &str, ttl: Duration) -> Result<NonceCheck, NonceStoreError> {
        // PX takes whole milliseconds and refuses 0; round up so the nonce lives at
        // least as long as asked.
        let millis = u64::try_from(ttl.as_millis().max(1)).unwrap_or(u64::MAX);
        let mut connection = self.connection.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(format!("{}{nonce}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis)
            .query_async(&mut connection)
            .await
            .map_err(backend)?;
        Ok(match reply {
            Some(_) => NonceCheck::Fresh,
            None => NonceCheck::Replayed,
        })
    }
}

impl std::fmt::Debug for RedisNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisNonceStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl NonceStore for RedisNonceStore {
    fn check_and_remember<'a>(
        &'a self,
        nonce: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<NonceCheck, NonceStoreError>> {
        Box::pin(self.check(nonce, ttl))
    }
}

fn backend(error: redis::RedisError) -> NonceStoreError {
    NonceStoreError::Backend(Box::new(error))
}
