//! Redis decisions per second with 32 concurrent tasks, beside a trivial EVALSHA on the
//! same server in the same run, and beside the least a read-modify-write script on
//! Redis's clock does. Our store runs twice: one script call per decision (the default),
//! and with batching on (`RedisOptions::batch`, up to 32 decisions per call). Every case runs in three rounds as a pair, the trivial script right
//! before it: compare within a pair. Needs `BEE_TEST_REDIS_URL`; keys live under a unique
//! prefix and are deleted at the end.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bee_ratelimit::redis::{RedisOptions, RedisStore};
use bee_ratelimit::{Policy, Store};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redis::Script;
use redis::aio::ConnectionManager;

const TASKS: u64 = 32;
const KEYS: u64 = 1024;

fn run<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, op: F) -> Duration
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (op, next) = (Arc::clone(&op), Arc::clone(&next));
                tokio::spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= iters {
                            break;
                        }
                        op(n % KEYS).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        start.elapsed()
    })
}

fn decisions(c: &mut Criterion) {
    let Some(url) = bee_testkit::redis_url() else {
        return;
    };
    let prefix = bee_testkit::unique_name("rl_bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let (store, batching, conn) = rt.block_on(async {
        let mut options = RedisOptions::new(&url);
        options.prefix = prefix.clone();
        options.timeout = Duration::from_secs(5);
        let store = Arc::new(RedisStore::new(options.clone()).unwrap());
        options.batch = usize::try_from(TASKS).unwrap();
        let batching = Arc::new(RedisStore::new(options).unwrap());
        let client = redis::Client::open(url.as_str()).unwrap();
        let conn = ConnectionManager::new(client).await.unwrap();
        (store, batching, conn)
    });
    let trivial = Arc::new(Script::new("return 1"));
    // The least any read-modify-write decision on Redis's clock does: TIME, GET, unpack,
    // pack, SET with an expiry. Not a limiter; a floor to read our figure against.
    let floor = Arc::new(Script::new(FLOOR));

    let mut group = c.benchmark_group("redis_32_tasks");
    group.throughput(Throughput::Elements(1));
    let single = Arc::new(Policy::from_tiers([("1m", 1 << 31)]).unwrap());
    let three =
        Arc::new(Policy::from_tiers([("1m", 1 << 31), ("1h", 1 << 31), ("1d", 1 << 31)]).unwrap());
    let cases = [
        ("ours_window_single", &store, &single),
        ("ours_window_three_tiers", &store, &three),
        ("ours_window_single_batched", &batching, &single),
        ("ours_window_three_tiers_batched", &batching, &three),
    ];
    let trivial_for = |iters: u64| {
        let (t, p, conn) = (Arc::clone(&trivial), prefix.clone(), conn.clone());
        run(&rt, iters, move |k| {
            let (t, mut conn) = (Arc::clone(&t), conn.clone());
            let key = format!("{p}:{{t{k}}}:x");
            async move {
                let _: i64 = t.key(key).invoke_async(&mut conn).await.unwrap();
            }
        })
    };
    let floor_for = |iters: u64| {
        let (f, p, conn) = (Arc::clone(&floor), prefix.clone(), conn.clone());
        run(&rt, iters, move |k| {
            let (f, mut conn) = (Arc::clone(&f), conn.clone());
            let key = format!("{p}:{{f{k}}}:x");
            async move {
                let _: i64 = f.key(key).invoke_async(&mut conn).await.unwrap();
            }
        })
    };
    let ours_for = |iters: u64, store: &Arc<RedisStore>, policy: &Arc<Policy>| {
        let (store, policy) = (Arc::clone(store), Arc::clone(policy));
        run(&rt, iters, move |k| {
            let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
            async move {
                let d = store.check(&format!("k{k}"), &policy, 1).await.unwrap();
                assert_eq!(d.source(), bee_ratelimit::Source::Store);
            }
        })
    };
    for round in 1..=3 {
        let id = format!("r{round}/floor_read_modify_write_evalsha");
        group.bench_function(format!("{id}/trivial"), |b| b.iter_custom(trivial_for));
        group.bench_function(format!("{id}/ours"), |b| b.iter_custom(floor_for));
        for (name, store, policy) in &cases {
            let id = format!("r{round}/{name}");
            group.bench_function(format!("{id}/trivial"), |b| b.iter_custom(trivial_for));
            group.bench_function(format!("{id}/ours"), |b| {
                b.iter_custom(|iters| ours_for(iters, store, policy))
            });
        }
    }
    group.finish();

    rt.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        for chunk in keys.chunks(500) {
            let _: () = redis::cmd("DEL")
                .arg(chunk)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    });
}

const FLOOR: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local fmt = '<dddd' .. string.rep('I4', 11)
local raw = redis.call('GET', KEYS[1])
local s
if raw then s = { struct.unpack(fmt, raw) } else s = { 1, now, now, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } end
s[2] = now
redis.call('SET', KEYS[1], struct.pack(fmt, unpack(s, 1, 15)), 'PX', 61000)
return 1
";

criterion_group!(benches, decisions);
criterion_main!(benches);
