//! The key store contract, run against memory, SQLite in memory and the real
//! PostgreSQL (in a schema of its own), and the Redis nonce store against the real Redis.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bee_auth::{
    ApiKeys, Caller, KeyPolicy, KeyQuery, KeyRejection, KeyStatus, KeyStore, KeyVerdict,
    ManualClock, MemoryKeyStore, NewKey, OriginPattern, Pepper, PepperId, Peppers, StoreError,
    TenantId,
};
use jiff::{SignedDuration, Timestamp};

const START: i64 = 1_767_225_600;

fn peppers() -> Peppers {
    Peppers::new(
        PepperId::new("p1").unwrap(),
        Pepper::from_bytes(&[3; 32]).unwrap(),
    )
}

fn keys_on(store: Arc<dyn KeyStore>, clock: &ManualClock) -> ApiKeys {
    let policy = KeyPolicy {
        prefix: "pb".into(),
        ..KeyPolicy::default()
    };
    ApiKeys::new(store, peppers(), policy)
        .unwrap()
        .with_clock(Arc::new(clock.clone()))
}

fn rich_key(tenant: &str) -> NewKey {
    let mut new = NewKey::new(TenantId::new(tenant).unwrap(), "everything set")
        .scope("chat:send")
        .scope("bot:*")
        .role("bot_admin")
        .allow_ips("10.0.0.0/8".parse().unwrap())
        .allow_ips("2001:db8::/32".parse().unwrap())
        .allow_origin(OriginPattern::parse("https://*.example.com").unwrap());
    new.rate_limits.push(bee_auth::RateLimit {
        limit: 100.try_into().unwrap(),
        per_seconds: 60.try_into().unwrap(),
    });
    new.metadata = BTreeMap::from([("team".to_owned(), "support".to_owned())]);
    new
}

/// Everything a key store must do, in one pass.
async fn store_contract(store: Arc<dyn KeyStore>) {
    let clock = ManualClock::at_unix(START);
    let keys = keys_on(store.clone(), &clock);

    // Round trip of every field.
    let issued = keys.create(rich_key("acme")).await.unwrap();
    let id = issued.key.key_id();
    let stored = store.find(&id).await.unwrap().unwrap();
    assert_eq!(stored, issued.record);
    assert!(matches!(
        store.insert(&issued.record).await,
        Err(StoreError::Duplicate(_))
    ));

    // Update is a compare-and-swap on the revision; last use is left alone.
    store
        .touch(&id, Timestamp::from_second(START + 5).unwrap())
        .await
        .unwrap();
    let mut changed = stored.clone();
    changed.status = KeyStatus::Suspended;
    store.update(&changed).await.unwrap();
    let after = store.find(&id).await.unwrap().unwrap();
    assert_eq!(after.status, KeyStatus::Suspended);
    assert_eq!(after.revision, stored.revision + 1);
    assert_eq!(
        after.last_used_at,
        Some(Timestamp::from_second(START + 5).unwrap())
    );
    assert!(matches!(
        store.update(&changed).await,
        Err(StoreError::Conflict(_))
    ));
    let mut ghost = changed.clone();
    ghost.key_id = bee_auth::KeyId::parse("ghost0000000").unwrap();
    assert!(matches!(
        store.update(&ghost).await,
        Err(StoreError::NotFound(_))
    ));

    // Touch only moves forward.
    store
        .touch(&id, Timestamp::from_second(START + 1).unwrap())
        .await
        .unwrap();
    let touched = store.find(&id).await.unwrap().unwrap();
    assert_eq!(
        touched.last_used_at,
        Some(Timestamp::from_second(START + 5).unwrap())
    );

    // Lists filter by tenant, status, creation and expiry, oldest first.
    clock.advance(SignedDuration::from_secs(10));
    let second = keys.create(rich_key("acme")).await.unwrap();
    let other = keys.create(rich_key("globex")).await.unwrap();
    let acme = store
        .list(&KeyQuery {
            tenant: Some(TenantId::new("acme").unwrap()),
            ..KeyQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = acme.iter().map(|r| r.key_id).collect();
    assert_eq!(ids, [id, second.key.key_id()]);
    let active = store
        .list(&KeyQuery {
            status: Some(KeyStatus::Active),
            ..KeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(active.len(), 2);
    let early = store
        .list(&KeyQuery {
            created_before: Some(Timestamp::from_second(START + 10).unwrap()),
            ..KeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(early.iter().map(|r| r.key_id).collect::<Vec<_>>(), [id]);
    let expiring = store
        .list(&KeyQuery {
            expires_before: other.record.expires_at,
            ..KeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(expiring.iter().map(|r| r.key_id).collect::<Vec<_>>(), [id]);
}

/// Two servers on one store: a revocation on one is seen by the other at once.
async fn fleet_revocation(store: Arc<dyn KeyStore>) {
    let clock = ManualClock::at_unix(START);
    let server_a = keys_on(store.clone(), &clock);
    let server_b = keys_on(store.clone(), &clock);
    let issued = server_a.create(rich_key("acme")).await.unwrap();
    let caller = Caller {
        ip: Some("10.0.0.1".parse().unwrap()),
        origin: Some("https://app.example.com"),
    };
    assert!(
        server_b
            .verify(issued.key.expose(), &caller)
            .await
            .unwrap()
            .is_valid()
    );
    server_a.revoke(&issued.key.key_id()).await.unwrap();
    assert_eq!(
        server_b.verify(issued.key.expose(), &caller).await.unwrap(),
        KeyVerdict::Invalid(KeyRejection::Revoked)
    );
}

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    store_contract(Arc::new(MemoryKeyStore::new())).await;
    fleet_revocation(Arc::new(MemoryKeyStore::new())).await;
}

#[tokio::test]
async fn the_memory_store_is_bounded() {
    let store = MemoryKeyStore::with_capacity(1);
    let clock = ManualClock::at_unix(START);
    let keys = keys_on(Arc::new(store), &clock);
    keys.create(rich_key("acme")).await.unwrap();
    assert!(keys.create(rich_key("acme")).await.is_err());
}

#[cfg(feature = "sql")]
mod sql {
    use super::*;
    use bee_auth::store::sql::SqlKeyStore;
    use sqlx::AssertSqlSafe;
    use sqlx::postgres::PgPoolOptions;
    use sqlx::sqlite::SqlitePoolOptions;

    async fn sqlite_store() -> Arc<SqlKeyStore> {
        // One connection that never closes: an in-memory SQLite database lives as long
        // as its connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let store = SqlKeyStore::sqlite(pool);
        store.create_tables().await.unwrap();
        store.create_tables().await.unwrap(); // idempotent
        Arc::new(store)
    }

    #[tokio::test]
    async fn the_sqlite_store_keeps_the_contract() {
        store_contract(sqlite_store().await).await;
        fleet_revocation(sqlite_store().await).await;
    }

    #[tokio::test]
    async fn unreadable_rows_are_reported_not_trusted() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let store = SqlKeyStore::sqlite(pool.clone());
        store.create_tables().await.unwrap();
        let clock = ManualClock::at_unix(START);
        let keys = keys_on(Arc::new(store.clone()), &clock);
        let issued = keys.create(rich_key("acme")).await.unwrap();
        sqlx::query("UPDATE bee_api_keys SET status = 'zombie'")
            .execute(&pool)
            .await
            .unwrap();
        assert!(matches!(
            store.find(&issued.key.key_id()).await,
            Err(StoreError::Corrupt { .. })
        ));
        // Verification surfaces the fault instead of accepting or silently refusing.
        assert!(
            keys.verify(issued.key.expose(), &Caller::default())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_postgres_store_keeps_the_contract_in_its_own_schema() {
        let Some(url) = bee_testkit::database_url() else {
            return;
        };
        let schema = bee_testkit::unique_name("bee_auth_keys");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();

        let search_path = format!("SET search_path TO {schema}");
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .after_connect(move |conn, _| {
                let statement = search_path.clone();
                Box::pin(async move {
                    sqlx::query(AssertSqlSafe(statement)).execute(conn).await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .unwrap();

        // Run the checks in a task so that the schema is dropped even when one fails.
        let run = tokio::spawn({
            let pool = pool.clone();
            async move {
                let store = SqlKeyStore::postgres(pool);
                store.create_tables().await.unwrap();
                store.create_tables().await.unwrap();
                let shared: Arc<dyn KeyStore> = Arc::new(store);
                store_contract(shared.clone()).await;
                fleet_revocation(shared).await;
            }
        })
        .await;

        pool.close().await;
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        if let Err(failure) = run {
            std::panic::resume_unwind(failure.into_panic());
        }
    }
}

#[cfg(feature = "redis")]
mod redis_nonces {
    use std::time::Duration;

    use bee_auth::signature::NonceCheck;
    use bee_auth::signature::RedisNonceStore;
    use bee_auth::{
        NonceStore, RequestParts, SignaturePolicy, SignatureRejection, SignatureVerdict,
        SignatureVerifier, Signer, SigningSecret,
    };

    use super::*;

    /// Deletes the test's own keys (and nothing else: the Redis is shared).
    async fn cleanup(url: &str, prefix: &str, nonces: &[&str]) {
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = nonces.iter().map(|n| format!("{prefix}{n}")).collect();
        let _: i64 = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_nonce_used_on_one_server_is_refused_by_another() {
        let Some(url) = bee_testkit::redis_url() else {
            return;
        };
        let prefix = format!("{}:", bee_testkit::unique_name("bee_auth_nonce"));
        let a = RedisNonceStore::connect(&url, prefix.clone())
            .await
            .unwrap();
        let b = RedisNonceStore::connect(&url, prefix.clone())
            .await
            .unwrap();
        let ttl = Duration::from_secs(601);

        let first = a.check_and_remember("key1:n-0001", ttl).await;
        let again = b.check_and_remember("key1:n-0001", ttl).await;
        let other = b.check_and_remember("key2:n-0001", ttl).await;

        // The key expires on its own after the lifetime asked for.
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let pttl: i64 = redis::cmd("PTTL")
            .arg(format!("{prefix}key1:n-0001"))
            .query_async(&mut conn)
            .await
            .unwrap();
        cleanup(&url, &prefix, &["key1:n-0001", "key2:n-0001"]).await;

        assert_eq!(first.unwrap(), NonceCheck::Fresh);
        assert_eq!(again.unwrap(), NonceCheck::Replayed);
        assert_eq!(other.unwrap(), NonceCheck::Fresh);
        assert!(pttl > 590_000 && pttl <= 601_000, "pttl {pttl}");
    }

    #[tokio::test]
    async fn concurrent_servers_accept_a_nonce_exactly_once() {
        let Some(url) = bee_testkit::redis_url() else {
            return;
        };
        let prefix = format!("{}:", bee_testkit::unique_name("bee_auth_race"));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = RedisNonceStore::connect(&url, prefix.clone())
                .await
                .unwrap();
            tasks.push(tokio::spawn(async move {
                store
                    .check_and_remember("key1:same-nonce-000001", Duration::from_secs(60))
                    .await
                    .unwrap()
            }));
        }
        let mut fresh = 0;
        for task in tasks {
            if task.await.unwrap() == NonceCheck::Fresh {
                fresh += 1;
            }
        }
        cleanup(&url, &prefix, &["key1:same-nonce-000001"]).await;
        assert_eq!(fresh, 1);
    }

    #[tokio::test]
    async fn a_signed_request_replayed_to_another_server_is_refused() {
        let Some(url) = bee_testkit::redis_url() else {
            return;
        };
        let prefix = format!("{}:", bee_testkit::unique_name("bee_auth_sig"));
        let clock = ManualClock::at_unix(START);
        let server = |store: RedisNonceStore| {
            SignatureVerifier::new(SignaturePolicy::default(), Arc::new(store))
                .unwrap()
                .with_clock(Arc::new(clock.clone()))
        };
        let a = server(
            RedisNonceStore::connect(&url, prefix.clone())
                .await
                .unwrap(),
        );
        let b = server(
            RedisNonceStore::connect(&url, prefix.clone())
                .await
                .unwrap(),
        );

        let secret = SigningSecret::from_bytes(&[5; 32]).unwrap();
        let signer = Signer::new(secret.clone()).with_clock(Arc::new(clock.clone()));
        let mut head = http::Request::post("/v1/chat")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let body = b"{\"message\":\"hi\"}";
        let headers = signer
            .sign(&RequestParts::from_http(&head, body), &[])
            .unwrap();
        headers.apply(&mut head.headers);
        let request = RequestParts::from_http(&head, body);
        let secrets = std::slice::from_ref(&secret);

        let on_a = a.verify(&request, secrets, "key1").await;
        let on_b = b.verify(&request, secrets, "key1").await;
        cleanup(&url, &prefix, &[&format!("key1:{}", headers.nonce)]).await;
        assert!(on_a.unwrap().is_valid());
        assert_eq!(
            on_b.unwrap(),
            SignatureVerdict::Invalid(SignatureRejection::Replayed)
        );
    }
}
