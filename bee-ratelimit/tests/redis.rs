//! The Redis store against a real Redis: fleet exactness, shared blocks and leases,
//! and what happens when Redis cannot be reached or goes away mid-test.
//!
//! Every test keeps its keys under a unique prefix and deletes them at the end.

#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bee_ratelimit::redis::{RedisOptions, RedisStore, Unreachable};
use bee_ratelimit::{
    AbuseConfig, AbuseDetector, Action, Algorithm, BlockList, BlockRule, ConcurrencyLimiter,
    Leases, ManualClock, Policy, Request, Source, Store, Tier,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Everything a Redis test needs: the URL, a unique key prefix, cleanup at the end.
struct Fixture {
    url: String,
    prefix: String,
}

impl Fixture {
    fn new(name: &str) -> Option<Self> {
        let url = bee_testkit::redis_url()?;
        Some(Fixture {
            url,
            prefix: bee_testkit::unique_name(name),
        })
    }

    fn options(&self) -> RedisOptions {
        let mut options = RedisOptions::new(&self.url);
        options.prefix = self.prefix.clone();
        options.timeout = Duration::from_secs(2);
        options
    }

    fn store(&self) -> Arc<RedisStore> {
        Arc::new(RedisStore::new(self.options()).unwrap())
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    }

    async fn keys(&self) -> Vec<String> {
        let mut conn = self.connection().await;
        let pattern = format!("{}:*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap();
            keys.extend(batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    async fn clean(self) {
        let keys = self.keys().await;
        if !keys.is_empty() {
            let mut conn = self.connection().await;
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}

fn hour_policy(limit: u64) -> Policy {
    Policy::from_tiers([("1h", limit)]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_stores_admits_exactly_the_limit_across_200_concurrent_requests() {
    let Some(fx) = Fixture::new("rl_fleet") else {
        return;
    };
    let stores: Vec<Arc<RedisStore>> = (0..4).map(|_| fx.store()).collect();
    let policy = Arc::new(Policy::from_tiers([("1h", 100), ("1d", 1000)]).unwrap());
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = Arc::clone(&stores[i % stores.len()]);
            let policy = Arc::clone(&policy);
            tokio::spawn(async move { store.check("bot:1", &policy, 1).await.unwrap() })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        let decision = task.await.unwrap();
        assert_eq!(decision.source(), Source::Store);
        admitted += usize::from(decision.admitted());
    }
    assert_eq!(admitted, 100);
    let last = stores[0].check("bot:1", &policy, 1).await.unwrap();
    assert_eq!(last.denied_by().unwrap().name(), "1h");
    assert_eq!(last.status(1).unwrap().remaining, 900);
    fx.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_batching_stores_admits_exactly_the_limit_for_each_caller() {
    let Some(fx) = Fixture::new("rl_fleet_batch") else {
        return;
    };
    let stores: Vec<Arc<RedisStore>> = (0..4)
        .map(|_| {
            let mut options = fx.options();
            options.batch = 16;
            Arc::new(RedisStore::new(options).unwrap())
        })
        .collect();
    let policy = Arc::new(Policy::from_tiers([("1h", 100), ("1d", 1000)]).unwrap());
    // Two callers, interleaved: batches hold both, and each of them several times.
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let store = Arc::clone(&stores[i % stores.len()]);
            let policy = Arc::clone(&policy);
            let key = if i % 2 == 0 { "bot:1" } else { "bot:2" };
            tokio::spawn(async move { (key, store.check(key, &policy, 1).await.unwrap()) })
        })
        .collect();
    let mut admitted = [0, 0];
    for task in tasks {
        let (key, decision) = task.await.unwrap();
        assert_eq!(decision.source(), Source::Store);
        admitted[usize::from(key == "bot:2")] += usize::from(decision.admitted());
    }
    assert_eq!(admitted, [100, 100]);
    for key in ["bot:1", "bot:2"] {
        let last = stores[1].check(key, &policy, 1).await.unwrap();
        assert_eq!(last.denied_by().unwrap().name(), "1h");
        assert_eq!(last.status(1).unwrap().remaining, 900);
    }
    assert_eq!(stores[0].health().failures, 0);
    fx.clean().await;
}

#[tokio::test]
async fn redis_decides_like_the_memory_store_and_denials_consume_nothing() {
    let Some(fx) = Fixture::new("rl_same") else {
        return;
    };
    let redis = fx.store();
    let memory = bee_ratelimit::MemoryStore::new(Default::default());
    let policy = Policy::from_tiers([("1h", 10), ("2h", 12), ("1d", 30)]).unwrap();
    let costs = [3, 4, 5, 2, 1, 4, 1, 1, 9, 2, 1, 1, 1];
    for cost in costs {
        let a = redis.check("k", &policy, cost).await.unwrap();
        let b = memory.decide("k", &policy, cost).unwrap();
        assert_eq!(a.admitted(), b.admitted(), "cost {cost}");
        assert_eq!(a.denied_by_index(), b.denied_by_index(), "cost {cost}");
        let remaining =
            |d: &bee_ratelimit::Decision| d.tiers().map(|(_, s)| s.remaining).collect::<Vec<_>>();
        assert_eq!(remaining(&a), remaining(&b), "cost {cost}");
    }
    let denied = redis.check("k", &policy, 1).await.unwrap();
    assert!(!denied.admitted());
    let retry = denied.retry_after().unwrap();
    assert!(
        retry > Duration::from_secs(3600) && retry <= Duration::from_secs(3960),
        "{retry:?}"
    );
    assert_eq!(
        redis.check("k", &policy, 31).await.unwrap().retry_after(),
        None
    );
    fx.clean().await;
}

#[tokio::test]
async fn gcra_in_redis_admits_the_burst_then_spaces_requests() {
    let Some(fx) = Fixture::new("rl_gcra") else {
        return;
    };
    let store = fx.store();
    let tier = Tier::new("1h", Duration::from_secs(3600), 3600)
        .unwrap()
        .with_burst(5)
        .unwrap();
    let policy = Policy::new(Algorithm::Gcra, vec![tier]).unwrap();
    for _ in 0..5 {
        assert!(store.check("g", &policy, 1).await.unwrap().admitted());
    }
    let denied = store.check("g", &policy, 1).await.unwrap();
    assert!(!denied.admitted());
    let retry = denied.retry_after().unwrap();
    assert!(retry <= Duration::from_secs(1), "{retry:?}");
    assert_eq!(
        store.check("g", &policy, 6).await.unwrap().retry_after(),
        None
    );
    fx.clean().await;
}

#[tokio::test]
async fn one_key_per_caller_and_policy_under_a_hash_tag_expiring_when_idle() {
    let Some(fx) = Fixture::new("rl_keys") else {
        return;
    };
    let store = fx.store();
    let policy = Policy::from_tiers([("1m", 5), ("1h", 50)]).unwrap();
    store.check("ip:203.0.113.7", &policy, 1).await.unwrap();
    let expected = format!("{}:{{ip:203.0.113.7}}:1m,1h", fx.prefix);
    assert_eq!(store.limit_key("ip:203.0.113.7", &policy), expected);
    assert_eq!(fx.keys().await, std::slice::from_ref(&expected));
    let mut conn = fx.connection().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&expected)
        .query_async(&mut conn)
        .await
        .unwrap();
    // The longest window, one bucket, and a second of slack at most.
    assert!(ttl > 3_600_000 && ttl <= 3_960_000 + 1000, "{ttl}");

    // A denial writes nothing: the expiry is not pushed back.
    let strict = Policy::from_tiers([("1m", 1), ("1h", 50)]).unwrap();
    let denied = store.check("ip:203.0.113.8", &strict, 2).await.unwrap();
    assert!(!denied.admitted());
    assert_eq!(fx.keys().await.len(), 1);
    fx.clean().await;
}

#[tokio::test]
async fn blocks_and_lifts_are_seen_by_every_instance() {
    let Some(fx) = Fixture::new("rl_blocks") else {
        return;
    };
    let (a, b) = (fx.store(), fx.store());
    let rule = BlockRule::escalating(Duration::from_secs(60), Duration::from_secs(600));
    let first = a
        .block("addr:198.51.100.1", &rule, "brute_force")
        .await
        .unwrap();
    assert_eq!(first.offenses, 1);
    let seen = b.blocked("addr:198.51.100.1").await.unwrap().unwrap();
    assert_eq!(
        (seen.reason.as_str(), seen.until),
        ("brute_force", first.until)
    );
    let second = b
        .block("addr:198.51.100.1", &rule, "brute_force")
        .await
        .unwrap();
    assert_eq!(second.offenses, 2);
    assert!(second.until > first.until);
    assert!(b.unblock("addr:198.51.100.1").await.unwrap());
    assert_eq!(a.blocked("addr:198.51.100.1").await.unwrap(), None);
    assert!(!a.unblock("addr:198.51.100.1").await.unwrap());
    fx.clean().await;
}

#[tokio::test]
async fn the_abuse_detector_blocks_for_the_whole_fleet() {
    let Some(fx) = Fixture::new("rl_abuse") else {
        return;
    };
    let (a, b) = (fx.store(), fx.store());
    let detector = |s: &Arc<RedisStore>| {
        let store: Arc<dyn Store> = s.clone();
        let blocks: Arc<dyn BlockList> = s.clone();
        AbuseDetector::new(&AbuseConfig::default(), store, blocks).unwrap()
    };
    let (da, db) = (detector(&a), detector(&b));
    let spam = Request {
        message: Some("same text"),
        invalid: false,
    };
    let mut last = None;
    for i in 0..30 {
        let d = if i % 2 == 0 { &da } else { &db };
        last = Some(d.assess("192.0.2.9", spam).await.unwrap());
    }
    assert_eq!(last.unwrap().action, Action::Block);
    let other = db.assess("192.0.2.9", Request::default()).await.unwrap();
    assert_eq!(other.action, Action::Block);
    da.block("192.0.2.10", Duration::from_secs(3600), "brute_force")
        .await
        .unwrap();
    assert!(db.blocked("192.0.2.10").await.unwrap().is_some());
    assert!(db.unblock("192.0.2.10").await.unwrap());
    assert!(da.blocked("192.0.2.10").await.unwrap().is_none());
    fx.clean().await;
}

#[tokio::test]
async fn leases_limit_concurrency_across_instances_and_expire_if_a_holder_died() {
    let Some(fx) = Fixture::new("rl_leases") else {
        return;
    };
    let (a, b) = (fx.store(), fx.store());
    let max = std::num::NonZeroU32::new(2).unwrap();
    let la = ConcurrencyLimiter::new(a.clone(), max);
    let lb = ConcurrencyLimiter::new(b.clone(), max);
    let p1 = la.acquire("key:1").await.unwrap().unwrap();
    let p2 = lb.acquire("key:1").await.unwrap().unwrap();
    assert!(la.acquire("key:1").await.unwrap().is_none());
    assert!(p2.renew().await.unwrap());
    p1.release().await.unwrap();
    let p3 = lb.acquire("key:1").await.unwrap().unwrap();
    p2.release().await.unwrap();
    p3.release().await.unwrap();

    // A holder that died long ago: its lease's expiry is in the past.
    let key = format!("{}:lease:key:2", fx.prefix);
    let mut conn = fx.connection().await;
    let _: () = redis::cmd("ZADD")
        .arg(&key)
        .arg(1)
        .arg("dead-1")
        .arg(2)
        .arg("dead-2")
        .query_async(&mut conn)
        .await
        .unwrap();
    let fresh = a
        .acquire("key:2", 2, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(fresh.is_some());
    fx.clean().await;
}

/// A port on which nothing listens.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn unreachable_store(when: Unreachable, port: u16) -> RedisStore {
    batching_unreachable_store(when, port, 1)
}

fn batching_unreachable_store(when: Unreachable, port: u16, batch: usize) -> RedisStore {
    let mut options = RedisOptions::new(&format!("redis://127.0.0.1:{port}"));
    options.when_unreachable = when;
    options.timeout = Duration::from_millis(200);
    options.batch = batch;
    RedisStore::new(options).unwrap()
}

#[tokio::test]
async fn an_unreachable_redis_applies_the_configured_policy_without_hanging() {
    let port = closed_port().await;
    let policy = hour_policy(2);
    let cases = [
        (Unreachable::FailOpen, Source::FailOpen, [true, true, true]),
        (
            Unreachable::FailClosed,
            Source::FailClosed,
            [false, false, false],
        ),
        (Unreachable::Fallback, Source::Fallback, [true, true, false]),
    ];
    for ((when, source, expected), batch) in cases.into_iter().flat_map(|c| [(c, 1), (c, 16)]) {
        let store = batching_unreachable_store(when, port, batch);
        let mut admitted = Vec::new();
        for _ in 0..3 {
            let d = timeout(Duration::from_secs(5), store.check("k", &policy, 1))
                .await
                .expect("a check never hangs")
                .unwrap();
            assert_eq!(d.source(), source);
            admitted.push(d.admitted());
        }
        assert_eq!(admitted, expected, "{when:?}, batches of {batch}");
        let health = store.health();
        assert!(!health.reachable);
        assert!(health.failures >= 1);
        assert_eq!(health.unchecked_decisions, 3);
        assert!(health.last_error.is_some());
    }
}

#[tokio::test]
async fn an_unreachable_redis_keeps_blocks_and_leases_by_the_same_policy() {
    let port = closed_port().await;
    let rule = BlockRule::fixed(Duration::from_secs(60));

    let local = unreachable_store(Unreachable::Fallback, port);
    local.block("addr:1", &rule, "x").await.unwrap();
    assert!(local.blocked("addr:1").await.unwrap().is_some());
    assert!(local.unblock("addr:1").await.unwrap());
    let lease = local
        .acquire("k", 1, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(
        local
            .acquire("k", 1, Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    local.release("k", &lease).await.unwrap();
    assert!(
        local
            .acquire("k", 1, Duration::from_secs(5))
            .await
            .unwrap()
            .is_some()
    );

    let open = unreachable_store(Unreachable::FailOpen, port);
    assert_eq!(open.blocked("addr:1").await.unwrap(), None);
    assert!(open.block("addr:1", &rule, "x").await.is_err());
    assert!(
        open.acquire("k", 1, Duration::from_secs(5))
            .await
            .unwrap()
            .is_some()
    );

    let closed = unreachable_store(Unreachable::FailClosed, port);
    assert!(closed.blocked("addr:1").await.unwrap().is_some());
    assert!(
        closed
            .acquire("k", 1, Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
}

/// A TCP proxy in front of Redis that the test can cut and restore.
struct Proxy {
    port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            target,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target, Arc::clone(&self.tasks));
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Closes the listener and every connection: Redis is gone.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port: Redis is back.
    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

fn socket_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.split(['/', '?']).next().unwrap();
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, hp)| hp);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
async fn redis_going_away_mid_test_falls_back_and_the_store_recovers_by_itself() {
    falls_back_and_recovers(1).await;
}

#[tokio::test]
async fn a_batching_store_falls_back_when_redis_goes_away_and_recovers_by_itself() {
    falls_back_and_recovers(16).await;
}

async fn falls_back_and_recovers(batch: usize) {
    let Some(fx) = Fixture::new("rl_recover") else {
        return;
    };
    let proxy = Proxy::start(socket_of(&fx.url)).await;
    let clock = ManualClock::at_2025();
    let mut options = fx.options();
    options.url = format!("redis://127.0.0.1:{}", proxy.port);
    options.timeout = Duration::from_millis(300);
    options.batch = batch;
    let store = RedisStore::with_clock(options, Arc::new(clock.clone())).unwrap();
    let policy = hour_policy(100);

    assert_eq!(
        store.check("k", &policy, 1).await.unwrap().source(),
        Source::Store
    );
    proxy.cut();
    let during = timeout(Duration::from_secs(5), store.check("k", &policy, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(during.source(), Source::Fallback);
    assert!(!store.health().reachable);

    proxy.restore().await;
    let mut recovered = None;
    for attempt in 0..100 {
        clock.advance(Duration::from_secs(2));
        let d = timeout(Duration::from_secs(5), store.check("k", &policy, 1))
            .await
            .unwrap()
            .unwrap();
        if d.source() == Source::Store {
            recovered = Some((attempt, d));
            break;
        }
        // Give the connection's own reconnect a moment of real time.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, decision) = recovered.expect("the store reconnects once Redis is back");
    // The count in Redis survived the outage: the first request and this one.
    assert_eq!(decision.status(0).unwrap().remaining, 98);
    assert!(store.health().reachable);
    assert!(store.health().failures >= 1);
    proxy.cut();
    fx.clean().await;
}
