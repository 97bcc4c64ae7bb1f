//! `SubjectKeyStore` over real async databases, with the SQL the trait's docs give:
//! SQLite (the reference server's embedded database) and PostgreSQL (its shared one).

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use bee_crypto::{
    BoxFuture, Context, Keyring, StoreError, SubjectId, SubjectKeyRecord, SubjectKeyStore,
    SubjectKeys, SubjectOpenError,
};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};

/// The four statements, for a table name and a placeholder style.
struct Statements {
    fetch: String,
    insert: String,
    replace: String,
    erase: String,
}

impl Statements {
    fn new(table: &str, p: [&str; 3]) -> Self {
        Self {
            fetch: format!(
                "SELECT generation, wrapped FROM {table} WHERE subject = {}",
                p[0]
            ),
            insert: format!(
                "INSERT INTO {table} (subject, generation, wrapped) VALUES ({}, {}, {}) \
                 ON CONFLICT (subject) DO UPDATE \
                 SET generation = excluded.generation, wrapped = excluded.wrapped \
                 WHERE {table}.wrapped IS NULL AND {table}.generation < excluded.generation",
                p[0], p[1], p[2]
            ),
            replace: format!(
                "UPDATE {table} SET wrapped = {} \
                 WHERE subject = {} AND generation = {} AND wrapped IS NOT NULL",
                p[2], p[0], p[1]
            ),
            erase: format!(
                "UPDATE {table} SET wrapped = NULL WHERE subject = {} AND wrapped IS NOT NULL",
                p[0]
            ),
        }
    }
}

/// Implements the trait for one sqlx database type.
macro_rules! sql_store {
    ($name:ident, $pool:ty) => {
        struct $name {
            pool: $pool,
            sql: Statements,
        }

        impl SubjectKeyStore for $name {
            fn fetch<'a>(
                &'a self,
                subject: &'a SubjectId,
            ) -> BoxFuture<'a, Result<Option<SubjectKeyRecord>, StoreError>> {
                Box::pin(async move {
                    let row: Option<(i64, Option<Vec<u8>>)> =
                        sqlx::query_as(AssertSqlSafe(self.sql.fetch.clone()))
                            .bind(subject.as_str())
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(StoreError::new)?;
                    row.map(|(generation, wrapped)| {
                        let generation = u32::try_from(generation).map_err(StoreError::new)?;
                        Ok(SubjectKeyRecord {
                            generation,
                            wrapped,
                        })
                    })
                    .transpose()
                })
            }

            fn insert<'a>(
                &'a self,
                subject: &'a SubjectId,
                generation: u32,
                wrapped: &'a [u8],
            ) -> BoxFuture<'a, Result<bool, StoreError>> {
                Box::pin(async move {
                    let done = sqlx::query(AssertSqlSafe(self.sql.insert.clone()))
                        .bind(subject.as_str())
                        .bind(i64::from(generation))
                        .bind(wrapped)
                        .execute(&self.pool)
                        .await
                        .map_err(StoreError::new)?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn replace<'a>(
                &'a self,
                subject: &'a SubjectId,
                generation: u32,
                wrapped: &'a [u8],
            ) -> BoxFuture<'a, Result<bool, StoreError>> {
                Box::pin(async move {
                    let done = sqlx::query(AssertSqlSafe(self.sql.replace.clone()))
                        .bind(subject.as_str())
                        .bind(i64::from(generation))
                        .bind(wrapped)
                        .execute(&self.pool)
                        .await
                        .map_err(StoreError::new)?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn erase<'a>(
                &'a self,
                subject: &'a SubjectId,
            ) -> BoxFuture<'a, Result<bool, StoreError>> {
                Box::pin(async move {
                    let done = sqlx::query(AssertSqlSafe(self.sql.erase.clone()))
                        .bind(subject.as_str())
                        .execute(&self.pool)
                        .await
                        .map_err(StoreError::new)?;
                    Ok(done.rows_affected() == 1)
                })
            }
        }
    };
}

sql_store!(SqliteStore, SqlitePool);
sql_store!(PostgresStore, PgPool);

fn context(conversation: &str) -> Context {
    Context::record("tenant-7", "bot-1", conversation, "message").unwrap()
}

/// The whole life of subject keys against one store.
async fn exercise(store: Arc<dyn SubjectKeyStore>) {
    let keyring = Arc::new(Keyring::generate().unwrap());
    let subjects = SubjectKeys::new(keyring.clone(), store.clone());
    let people: Vec<_> = (0..4)
        .map(|i| SubjectId::user(&format!("p{i}")).unwrap())
        .collect();
    let mut sealed = Vec::new();
    for person in &people {
        let ciphertext = subjects
            .seal(person, "c", &context("c"), b"kept")
            .await
            .unwrap();
        sealed.push(ciphertext);
    }

    // Conditional writes: a second insert of a live subject is refused.
    assert!(!store.insert(&people[0], 2, b"other").await.unwrap());

    // Rotation: rewrap everyone, disable the old key, read through a cold instance.
    let old = keyring.primary();
    keyring.rotate().unwrap();
    for person in &people {
        assert!(subjects.rewrap(person).await.unwrap());
    }
    keyring.disable(old).unwrap();

    // Erase one subject; the others stay readable, the erased one says so.
    assert!(subjects.erase(&people[1]).await.unwrap());
    assert!(!store.replace(&people[1], 1, b"revived?").await.unwrap());
    let cold = SubjectKeys::new(keyring, store.clone());
    for (i, (person, ciphertext)) in people.iter().zip(&sealed).enumerate() {
        let result = cold.open(person, "c", &context("c"), ciphertext).await;
        if i == 1 {
            assert!(
                matches!(result, Err(SubjectOpenError::Erased)),
                "{result:?}"
            );
        } else {
            assert_eq!(result.unwrap(), b"kept");
        }
    }

    // The erased subject comes back with generation 2; the old data stays erased.
    let again = cold
        .seal(&people[1], "c", &context("c"), b"new")
        .await
        .unwrap();
    assert_eq!(SubjectKeys::sealed_generation(&again), Some(2));
    let record = store.fetch(&people[1]).await.unwrap().unwrap();
    assert_eq!(record.generation, 2);
    assert!(record.wrapped.is_some());
}

#[tokio::test]
async fn subject_keys_work_over_sqlite() {
    let pool = sqlx::pool::PoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE subject_keys \
         (subject TEXT PRIMARY KEY, generation INTEGER NOT NULL, wrapped BLOB)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let sql = Statements::new("subject_keys", ["?1", "?2", "?3"]);
    exercise(Arc::new(SqliteStore { pool, sql })).await;
}

#[tokio::test]
async fn subject_keys_work_over_postgres() {
    let Some(url) = bee_testkit::database_url() else {
        return;
    };
    let pool = PgPool::connect(&url).await.unwrap();
    let table = bee_testkit::unique_name("crypto_subject_keys");
    let create = format!(
        "CREATE TABLE {table} \
         (subject TEXT PRIMARY KEY, generation BIGINT NOT NULL, wrapped BYTEA)"
    );
    sqlx::query(AssertSqlSafe(create))
        .execute(&pool)
        .await
        .unwrap();

    let sql = Statements::new(&table, ["$1", "$2", "$3"]);
    let store = Arc::new(PostgresStore {
        pool: pool.clone(),
        sql,
    });
    // Run the checks in a task so the table is dropped even when they fail.
    let outcome = tokio::spawn(exercise(store)).await;
    let drop = format!("DROP TABLE IF EXISTS {table}");
    sqlx::query(AssertSqlSafe(drop))
        .execute(&pool)
        .await
        .unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
