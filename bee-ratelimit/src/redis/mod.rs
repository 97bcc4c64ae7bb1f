//! The Redis store (feature `redis`): counters, blocks and leases shared by a fleet.
//!
//! Every decision is one `EVALSHA` of a Lua script (loaded again if Redis answers
//! `NOSCRIPT`), timed by Redis's own clock, on keys that expire when idle. Every call
//! has a timeout; when Redis cannot be reached, [`Unreachable`] says what happens, the
//! failure is counted in [`Health`], and the store retries Redis by itself.
//!
//! # Batching
//!
//! With [`RedisOptions::batch`] above 1, decisions of concurrent callers of one store
//! leave together: a task sends up to `batch` of them in one `EVALSHA`, with at most four
//! such calls out at once, so a busy store pays one round trip and one script call for
//! many decisions. Nothing waits to fill a batch: when Redis is idle a decision leaves
//! alone, and a batch is whatever queued while the previous calls were out. Every
//! guarantee holds per caller: the script decides one caller's tiers atomically after
//! another's, on one reading of Redis's clock; a caller that appears twice sees its own
//! earlier admission; `NOSCRIPT` reloads the script; a failed or timed-out batch gives
//! each of its callers the [`Unreachable`] policy, and counts as one failure in
//! [`Health`]. A caller waits at most twice [`RedisOptions::timeout`] (queue and call);
//! one that stopped waiting before its batch left is not sent.
//!
//! **Redis Cluster**: a batch names the keys of different callers, and a cluster refuses
//! a script whose keys lie in different hash slots. Batching is for a single Redis
//! server (or a primary with replicas); against a cluster keep `batch` at 1, the
//! default, where each call names one caller's key and its hash tag keeps it in one slot.
//! The sending task runs on the Tokio runtime the store was made in.

mod batch;

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Cmd, ErrorKind, FromRedisValue, ServerErrorKind};
use serde::Deserialize;

use batch::Batcher;

use crate::blocklist::{Block, BlockList, BlockRule, MemoryBlockList, short_reason};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::concurrency::{Lease, Leases, MemoryLeases};
use crate::decision::{Decision, Source, Verdict};
use crate::memory::{MemoryOptions, MemoryStore};
use crate::policy::{Algorithm, Policy};
use crate::store::{BoxFuture, Check, Store, StoreError, check_key};

/// What the Redis store does while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    /// Admit every request unchecked; nobody is blocked.
    FailOpen,
    /// Deny every request; every subject counts as blocked.
    FailClosed,
    /// Decide in a local in-memory store, block list and leases (the default): limits
    /// hold per instance instead of across the fleet.
    #[default]
    Fallback,
}

/// How to reach Redis and what to do when it cannot be reached.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The Redis URL, such as `redis://127.0.0.1:6379`.
    pub url: String,
    /// Prefix of every key (default `bee:rl`); must not contain `{` or `}`.
    pub prefix: String,
    /// The longest any Redis call may take, connecting included (default 250 ms).
    pub timeout: Duration,
    /// What happens while Redis cannot be reached (default [`Unreachable::Fallback`]).
    pub when_unreachable: Unreachable,
    /// After a failure, how long calls go straight to the fallback before Redis is
    /// tried again (default 1 s); also the retry time of a fail-closed denial.
    pub retry_after_failure: Duration,
    /// Size of the local fallback store.
    pub fallback: MemoryOptions,
    /// The most rate-limit decisions sent to Redis in one script call (default 1: every
    /// decision on its own). See [Batching](self#batching); not for Redis Cluster.
    pub batch: usize,
}

impl RedisOptions {
    /// Options for `url` with every default.
    pub fn new(url: &str) -> Self {
        RedisOptions {
            url: url.to_owned(),
            prefix: "bee:rl".to_owned(),
            timeout: Duration::from_millis(250),
            when_unreachable: Unreachable::default(),
            retry_after_failure: Duration::from_secs(1),
            fallback: MemoryOptions::default(),
            batch: 1,
        }
    }
}

/// How the store's link to Redis is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// Whether the last Redis call succeeded (or none failed yet).
    pub reachable: bool,
    /// Redis calls that failed or timed out, in total.
    pub failures: u64,
    /// Redis calls that failed in a row, up to now.
    pub consecutive_failures: u64,
    /// Decisions made without Redis (fallback, fail open or fail closed).
    pub unchecked_decisions: u64,
    /// The last failure's message (connection errors carry no keys or values).
    pub last_error: Option<String>,
}

/// Counters, blocks and leases in Redis.
#[derive(Debug)]
pub struct RedisStore {
    link: Arc<Link>,
    options: RedisOptions,
    batcher: Option<Batcher>,
    fallback: Fallback,
    instance: u64,
    next_lease: AtomicU64,
}

/// The connection and what every call to Redis shares: scripts, timeout, health.
#[derive(Debug)]
struct Link {
    conn: ConnectionManager,
    scripts: Scripts,
    health: Counters,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    retry_after_failure: Duration,
}

impl RedisStore {
    /// A store for `options`; connects on first use and reconnects by itself.
    ///
    /// Must be called within a Tokio runtime (the connection runs on it).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the URL cannot be parsed, the prefix holds `{`
    /// or `}`, or there is no Tokio runtime.
    pub fn new(options: RedisOptions) -> Result<Self, StoreError> {
        Self::with_clock(options, Arc::new(SystemClock))
    }

    /// The same, with the local clock (fallback and retry timing) read from `clock`.
    /// Limits in Redis always use Redis's clock.
    ///
    /// # Errors
    ///
    /// As [`RedisStore::new`].
    pub fn with_clock(options: RedisOptions, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        if options.prefix.contains(['{', '}']) {
            return Err(unavailable("the key prefix must not contain '{' or '}'"));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(unavailable("the Redis store needs a Tokio runtime"));
        }
        let client = ::redis::Client::open(options.url.as_str())
            .map_err(|e| unavailable(format!("bad Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            // Every call runs under `options.timeout` as a whole; connecting also has it.
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(None)
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(options.retry_after_failure);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| unavailable(format!("cannot set up the connection: {e}")))?;
        let link = Arc::new(Link {
            conn,
            scripts: Scripts::default(),
            health: Counters::default(),
            clock: Arc::clone(&clock),
            timeout: options.timeout,
            retry_after_failure: options.retry_after_failure,
        });
        let batcher = (options.batch > 1).then(|| Batcher::start(&link, options.batch));
        Ok(RedisStore {
            link,
            batcher,
            fallback: Fallback::new(options.fallback, &clock),
            options,
            instance: RandomState::new().hash_one(std::process::id()),
            next_lease: AtomicU64::new(1),
        })
    }

    /// How the link to Redis is doing.
    pub fn health(&self) -> Health {
        let health = &self.link.health;
        let consecutive = health.consecutive.load(Ordering::Relaxed);
        Health {
            reachable: consecutive == 0,
            failures: health.failures.load(Ordering::Relaxed),
            consecutive_failures: consecutive,
            unchecked_decisions: health.unchecked.load(Ordering::Relaxed),
            last_error: health
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    /// The Redis key holding `key`'s counters under `policy`:
    /// `<prefix>:{<key>}:<tier names>`, such as `bee:rl:{key:abc}:1m,1h,1d`. One key holds
    /// all tiers (one read and one write per decision); the hash tag keeps every key of
    /// one caller in one cluster slot. Policies with the same tier names share counts.
    pub fn limit_key(&self, key: &str, policy: &Policy) -> String {
        let mut name = format!("{}:{{{key}}}:", self.options.prefix);
        for (i, tier) in policy.tiers().iter().enumerate() {
            if i > 0 {
                name.push(',');
            }
            name.push_str(tier.name());
        }
        name
    }

    async fn decide(&self, key: &str, policy: &Policy, cost: u64) -> Result<Decision, StoreError> {
        check_key(key)?;
        let name = self.limit_key(key, policy);
        let reply = match &self.batcher {
            Some(batcher) => batcher.decide(name, policy, cost).await,
            None => self.link.decide_one(&name, policy, cost).await,
        };
        match reply.and_then(|r| decision_of(policy, &r)) {
            Some(decision) => Ok(decision),
            None => Ok(self.decide_unchecked(key, policy, cost)),
        }
    }

    fn decide_unchecked(&self, key: &str, policy: &Policy, cost: u64) -> Decision {
        self.link.health.unchecked.fetch_add(1, Ordering::Relaxed);
        let retry = self.options.retry_after_failure;
        match self.options.when_unreachable {
            Unreachable::FailOpen => Decision::unchecked(policy, true, retry, Source::FailOpen),
            Unreachable::FailClosed => {
                Decision::unchecked(policy, false, retry, Source::FailClosed)
            }
            Unreachable::Fallback => match self.fallback.limits.decide(key, policy, cost) {
                Ok(decision) => decision.with_source(Source::Fallback),
                Err(_) => Decision::unchecked(policy, false, retry, Source::FailClosed),
            },
        }
    }

    fn block_key(&self, subject: &str) -> String {
        format!("{}:block:{subject}", self.options.prefix)
    }

    fn lease_key(&self, key: &str) -> String {
        format!("{}:lease:{key}", self.options.prefix)
    }

    async fn block_subject(
        &self,
        subject: &str,
        rule: &BlockRule,
        reason: &str,
    ) -> Result<Block, StoreError> {
        check_key(subject)?;
        let reason = short_reason(reason);
        let mut cmd = self.link.scripts.block.command(1);
        cmd.arg(self.block_key(subject))
            .arg(millis(rule.base))
            .arg(rule.factor.max(1))
            .arg(millis(rule.max))
            .arg(millis(rule.memory))
            .arg(reason);
        match self
            .link
            .call::<(u64, u32, String)>(&self.link.scripts.block, &cmd)
            .await
        {
            Some((until, offenses, reason)) => Ok(Block {
                until: Timestamp::from_millis(until),
                reason,
                offenses,
            }),
            None => self.unreachable_for_blocks(|b| b.block_now(subject, rule, reason)),
        }
    }

    async fn read_block(&self, subject: &str, lift: bool) -> Result<Option<Block>, StoreError> {
        check_key(subject)?;
        let op = if lift { "lift" } else { "read" };
        let mut cmd = self.link.scripts.blocked.command(1);
        cmd.arg(self.block_key(subject)).arg(op);
        match self
            .link
            .call::<(u64, u32, String)>(&self.link.scripts.blocked, &cmd)
            .await
        {
            Some((0, _, _)) => Ok(None),
            Some((until, offenses, reason)) => Ok(Some(Block {
                until: Timestamp::from_millis(until),
                reason,
                offenses,
            })),
            None if lift => self
                .unreachable_for_blocks(|b| b.unblock_now(subject))
                .map(|lifted| lifted.then(Block::default_lifted)),
            None => self.unreachable_blocked(subject),
        }
    }

    fn unreachable_for_blocks<T>(
        &self,
        local: impl FnOnce(&MemoryBlockList) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self.options.when_unreachable {
            Unreachable::Fallback => local(&self.fallback.blocks),
            _ => Err(unavailable(self.health().last_error.unwrap_or_default())),
        }
    }

    fn unreachable_blocked(&self, subject: &str) -> Result<Option<Block>, StoreError> {
        match self.options.when_unreachable {
            Unreachable::FailOpen => Ok(None),
            Unreachable::FailClosed => Ok(Some(Block {
                until: self
                    .link
                    .clock
                    .now()
                    .saturating_add(self.options.retry_after_failure),
                reason: "store_unreachable".to_owned(),
                offenses: 0,
            })),
            Unreachable::Fallback => self.fallback.blocks.blocked_now(subject),
        }
    }

    async fn lease(&self, key: &str, max: u32, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        check_key(key)?;
        let id = format!(
            "{:x}-{}",
            self.instance,
            self.next_lease.fetch_add(1, Ordering::Relaxed)
        );
        let mut cmd = self.link.scripts.leases.command(1);
        cmd.arg(self.lease_key(key))
            .arg("acquire")
            .arg(max)
            .arg(millis(ttl).max(1))
            .arg(&id);
        match self.link.call::<i64>(&self.link.scripts.leases, &cmd).await {
            Some(1) => Ok(Some(Lease(id))),
            Some(_) => Ok(None),
            None => match self.options.when_unreachable {
                Unreachable::FailOpen => Ok(Some(Lease(UNCHECKED_LEASE.to_owned()))),
                Unreachable::FailClosed => Ok(None),
                Unreachable::Fallback => {
                    let lease = self.fallback.leases.acquire_now(key, max, ttl)?;
                    Ok(lease.map(|l| Lease(format!("{LOCAL_LEASE}{}", l.0))))
                }
            },
        }
    }

    async fn lease_op(
        &self,
        key: &str,
        lease: &Lease,
        ttl: Option<Duration>,
    ) -> Result<bool, StoreError> {
        if lease.0 == UNCHECKED_LEASE {
            return Ok(true);
        }
        if let Some(local) = lease.0.strip_prefix(LOCAL_LEASE) {
            let local = Lease(local.to_owned());
            return Ok(match ttl {
                Some(ttl) => self.fallback.leases.renew_now(key, &local, ttl),
                None => {
                    self.fallback.leases.release_now(key, &local);
                    true
                }
            });
        }
        let mut cmd = self.link.scripts.leases.command(1);
        cmd.arg(self.lease_key(key));
        match ttl {
            Some(ttl) => cmd.arg("renew").arg(millis(ttl).max(1)).arg(&lease.0),
            None => cmd.arg("release").arg(&lease.0),
        };
        match self.link.call::<i64>(&self.link.scripts.leases, &cmd).await {
            Some(done) => Ok(done == 1),
            None => Err(unavailable(self.health().last_error.unwrap_or_default())),
        }
    }
}

impl Link {
    /// One caller's decision in its own script call: its reply, or `None` when Redis
    /// could not decide.
    async fn decide_one(&self, name: &str, policy: &Policy, cost: u64) -> Option<Vec<u8>> {
        let mut cmd = self.scripts.limits.command(1);
        cmd.arg(name);
        limit_args(&mut cmd, policy, cost);
        let replies = self
            .call::<Vec<Vec<u8>>>(&self.scripts.limits, &cmd)
            .await?;
        replies.into_iter().next()
    }

    /// Runs a script (`cmd`, made by [`Lua::command`]) with the timeout, unless a recent
    /// failure says to skip Redis for now.
    async fn call<T: FromRedisValue>(&self, lua: &Lua, cmd: &Cmd) -> Option<T> {
        let now = self.clock.now().as_nanos();
        if now < self.health.skip_until.load(Ordering::Relaxed) {
            return None;
        }
        match tokio::time::timeout(self.timeout, self.evalsha(lua, cmd)).await {
            Ok(Ok(value)) => {
                self.health.consecutive.store(0, Ordering::Relaxed);
                Some(value)
            }
            Ok(Err(e)) => self.failed(now, e.to_string()),
            Err(_) => self.failed(now, "the call timed out".to_owned()),
        }
    }

    /// `EVALSHA`; when Redis has lost the script (`NOSCRIPT`: restarted, flushed, a new
    /// replica), loads it and tries once more.
    async fn evalsha<T: FromRedisValue>(&self, lua: &Lua, cmd: &Cmd) -> ::redis::RedisResult<T> {
        let mut conn = self.conn.clone();
        match cmd.query_async(&mut conn).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                tracing::debug!("redis lost a script; loading it again");
                let _: String = ::redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(lua.code)
                    .query_async(&mut conn)
                    .await?;
                cmd.query_async(&mut conn).await
            }
            result => result,
        }
    }

    fn failed<T>(&self, now: u64, message: String) -> Option<T> {
        tracing::debug!(error = %message, "redis call failed; deciding without redis");
        self.health.failures.fetch_add(1, Ordering::Relaxed);
        self.health.consecutive.fetch_add(1, Ordering::Relaxed);
        let retry = crate::clock::nanos_of(self.retry_after_failure);
        self.health
            .skip_until
            .store(now.saturating_add(retry), Ordering::Relaxed);
        *self
            .health
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(message);
        None
    }
}

impl Store for RedisStore {
    fn check<'a>(&'a self, key: &'a str, policy: &'a Policy, cost: u64) -> Check<'a> {
        Check::pending(self.decide(key, policy, cost))
    }
}

impl BlockList for RedisStore {
    fn block<'a>(
        &'a self,
        subject: &'a str,
        rule: &'a BlockRule,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Block, StoreError>> {
        Box::pin(self.block_subject(subject, rule, reason))
    }

    fn unblock<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { Ok(self.read_block(subject, true).await?.is_some()) })
    }

    fn blocked<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<Option<Block>, StoreError>> {
        Box::pin(self.read_block(subject, false))
    }
}

impl Leases for RedisStore {
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        max: u32,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Lease>, StoreError>> {
        Box::pin(self.lease(key, max, ttl))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.lease_op(key, lease, None).await.map(|_| ()) })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        lease: &'a Lease,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.lease_op(key, lease, Some(ttl)))
    }
}

/// A lease granted unchecked while Redis was unreachable (fail open).
const UNCHECKED_LEASE: &str = "unchecked";
/// The prefix of a lease granted by the local fallback.
const LOCAL_LEASE: &str = "local:";

/// Times sent to Lua stay below 2^50 µs (35 years) so that sums stay exact in doubles.
const LUA_TIME_MAX: u64 = 1 << 50;

#[derive(Debug)]
struct Scripts {
    limits: Lua,
    block: Lua,
    blocked: Lua,
    leases: Lua,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            limits: Lua::new(include_str!("limits.lua")),
            block: Lua::new(include_str!("block.lua")),
            blocked: Lua::new(include_str!("blocked.lua")),
            leases: Lua::new(include_str!("leases.lua")),
        }
    }
}

/// A Lua script and its SHA-1, the name `EVALSHA` calls it by.
#[derive(Debug)]
struct Lua {
    code: &'static str,
    sha: String,
}

impl Lua {
    fn new(code: &'static str) -> Self {
        let sha = ::redis::Script::new(code).get_hash().to_owned();
        Lua { code, sha }
    }

    /// `EVALSHA <sha> <keys>`: the caller adds the keys, then the arguments.
    fn command(&self, keys: usize) -> Cmd {
        let mut cmd = ::redis::cmd("EVALSHA");
        cmd.arg(&self.sha).arg(keys);
        cmd
    }
}

#[derive(Debug)]
struct Fallback {
    limits: MemoryStore,
    blocks: MemoryBlockList,
    leases: MemoryLeases,
}

impl Fallback {
    fn new(options: MemoryOptions, clock: &Arc<dyn Clock>) -> Self {
        Fallback {
            limits: MemoryStore::with_clock(options, Arc::clone(clock)),
            blocks: MemoryBlockList::with_clock(options.max_keys, Arc::clone(clock)),
            leases: MemoryLeases::with_clock(Arc::clone(clock)),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    failures: AtomicU64,
    consecutive: AtomicU64,
    unchecked: AtomicU64,
    skip_until: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Block {
    /// What an unblock through the fallback reports: a block existed and is gone.
    fn default_lifted() -> Block {
        Block {
            until: Timestamp::EPOCH,
            reason: String::new(),
            offenses: 0,
        }
    }
}

/// Adds one caller's parameters for `limits.lua`: its numbers packed as little-endian
/// doubles (no number is formatted as text for Lua to parse back), then, for a sliding
/// window, the state's time to live in milliseconds (GCRA's follows its TATs).
fn limit_args(cmd: &mut Cmd, policy: &Policy, cost: u64) {
    let tiers = policy.tiers();
    let mut params = Vec::with_capacity(8 * (4 + 3 * tiers.len()));
    let mut push = |x: u64| {
        // Every number is below 2^53 (times below LUA_TIME_MAX), so exact as a double.
        params.extend_from_slice(&(x as f64).to_le_bytes());
    };
    let cost = cost.min(LUA_TIME_MAX);
    let ttl_ms = match policy.algorithm() {
        Algorithm::SlidingWindow { buckets } => {
            push(1);
            push(u64::from(buckets));
            push(cost);
            push(tiers.len() as u64);
            let mut ttl = 0;
            for (i, tier) in tiers.iter().enumerate() {
                let window = micros(tier.window());
                let width = window.div_ceil(u64::from(buckets)).max(1);
                push(policy.counted_limit(i));
                push(width);
                push(0);
                ttl = ttl.max(width.saturating_mul(u64::from(buckets) + 1));
            }
            ttl / 1_000 + 1_000
        }
        Algorithm::Gcra => {
            push(2);
            push(0);
            push(cost);
            push(tiers.len() as u64);
            for tier in tiers {
                let interval = micros(tier.window()).div_ceil(tier.limit()).max(1);
                let tolerance = tier.burst().saturating_mul(interval).min(LUA_TIME_MAX);
                let increment = cost.saturating_mul(interval).min(2 * LUA_TIME_MAX);
                push(interval);
                push(tolerance);
                push(increment);
            }
            0
        }
    };
    cmd.arg(params).arg(ttl_ms);
}

/// Reads the script's reply, packed doubles; `None` if it is not the shape expected.
fn decision_of(policy: &Policy, reply: &[u8]) -> Option<Decision> {
    let tiers = policy.tiers();
    if reply.len() != 8 * (3 + 2 * tiers.len()) {
        return None;
    }
    let number = |i: usize| -> Option<i64> {
        let bytes = reply.get(8 * i..8 * i + 8)?.try_into().ok()?;
        let x = f64::from_le_bytes(bytes);
        // Whole numbers below 2^53 in magnitude; anything else is not the script's.
        #[allow(clippy::cast_possible_truncation)]
        (x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15).then_some(x as i64)
    };
    let admitted = number(0)? == 1;
    let denied_by = usize::try_from(number(1)?)
        .ok()
        .filter(|&i| i >= 1)
        .map(|i| i - 1);
    let retry_after = match (admitted, number(2)?) {
        (true, _) => None,
        (false, wait) => u64::try_from(wait)
            .ok()
            .map(|w| Duration::from_micros(w.max(1))),
    };
    let verdict = Verdict {
        admitted,
        denied_by,
        retry_after,
    };
    let mut decision = Decision::new(policy, verdict);
    for i in 0..tiers.len() {
        let remaining = u64::try_from(number(3 + 2 * i)?).unwrap_or(0);
        let reset = u64::try_from(number(4 + 2 * i)?).unwrap_or(0);
        decision.set_status(i, remaining, reset.saturating_mul(1_000));
    }
    Some(decision)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .min(LUA_TIME_MAX)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .min(LUA_TIME_MAX)
}

fn unavailable(reason: impl Into<String>) -> StoreError {
    StoreError::Unavailable {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-tier window state as `limits.lua` packs it, ten buckets: the header (with
    /// the head bucket's count), then the ring of the ten buckets before the head.
    fn window_state(width: f64, last: f64, eff: f64, head: i64, counts: &[(i64, u32)]) -> Vec<u8> {
        let mut ring = [0_u32; 10];
        let mut current = 0;
        for &(bucket, count) in counts {
            if bucket == head {
                current = count;
            } else {
                ring[usize::try_from(bucket.rem_euclid(10)).unwrap()] = count;
            }
        }
        let total = ring.iter().sum::<u32>() + current;
        let mut state = Vec::new();
        #[allow(clippy::cast_precision_loss)]
        let header = [
            width,
            last,
            eff,
            head as f64,
            f64::from(total),
            f64::from(current),
        ];
        for x in header {
            state.extend_from_slice(&x.to_le_bytes());
        }
        for count in ring {
            state.extend_from_slice(&count.to_le_bytes());
        }
        state
    }

    async fn redis_micros(conn: &mut ConnectionManager) -> f64 {
        let (secs, micros): (u64, u64) = ::redis::cmd("TIME").query_async(conn).await.unwrap();
        #[allow(clippy::cast_precision_loss)]
        let now = (secs * 1_000_000 + micros) as f64;
        now
    }

    /// A store under a prefix of its own, and a plain connection to see what it wrote;
    /// `None` when no Redis is configured for tests.
    async fn store_and_connection(prefix: &str) -> Option<(RedisStore, ConnectionManager)> {
        let url = bee_testkit::redis_url()?;
        let mut options = RedisOptions::new(&url);
        options.prefix = bee_testkit::unique_name(prefix);
        let store = RedisStore::new(options).unwrap();
        let client = ::redis::Client::open(url.as_str()).unwrap();
        Some((store, ConnectionManager::new(client).await.unwrap()))
    }

    /// One tier of `limit` per 10 s, in ten buckets of 1 s.
    fn ten_buckets(limit: u64) -> Policy {
        let tier = crate::Tier::new("10s", Duration::from_secs(10), limit).unwrap();
        Policy::new(Algorithm::SlidingWindow { buckets: 10 }, vec![tier]).unwrap()
    }

    async fn raw_state(conn: &mut ConnectionManager, name: &str) -> Vec<u8> {
        ::redis::cmd("GET")
            .arg(name)
            .query_async(conn)
            .await
            .unwrap()
    }

    async fn put_state(conn: &mut ConnectionManager, name: &str, state: Vec<u8>) {
        let mut set = ::redis::cmd("SET");
        set.arg(name).arg(state).arg("PX").arg(60_000);
        let _: () = set.query_async(conn).await.unwrap();
    }

    /// Overwrites a stored state's bytes from `offset` (Redis's SETRANGE).
    async fn overwrite(conn: &mut ConnectionManager, name: &str, offset: usize, bytes: &[u8]) {
        let mut set = ::redis::cmd("SETRANGE");
        set.arg(name).arg(offset).arg(bytes);
        let _: () = set.query_async(conn).await.unwrap();
    }

    async fn pttl(conn: &mut ConnectionManager, name: &str) -> i64 {
        ::redis::cmd("PTTL")
            .arg(name)
            .query_async(conn)
            .await
            .unwrap()
    }

    async fn delete(conn: &mut ConnectionManager, name: &str) {
        let _: () = ::redis::cmd("DEL")
            .arg(name)
            .query_async(conn)
            .await
            .unwrap();
    }

    /// The `i`-th double of a packed state.
    fn double(raw: &[u8], i: usize) -> f64 {
        f64::from_le_bytes(raw[8 * i..8 * i + 8].try_into().unwrap())
    }

    /// Runs `steps` random decisions (cost, then a time step) against Redis and against
    /// a memory store on a manual clock, and checks that both decide alike. Redis keeps
    /// its own clock, so before each decision every tier's stored effective time is set
    /// to the manual clock's time, and its last clock reading either to Redis's (the
    /// clock moves on as usual: the script sees the model's time plus the microseconds
    /// since, so resets and waits may differ by those) or, for GCRA always, a minute
    /// ahead (the clock stepped back: the effective time stays exactly the model's).
    /// Times sit a quarter second past whole seconds and move in half seconds, so those
    /// microseconds never cross a bucket boundary of the policies below.
    async fn decides_like_the_memory_store(policy: &Policy, seed: u64, steps: usize) {
        use crate::clock::{ManualClock, Timestamp};
        let Some((store, mut conn)) = store_and_connection("rl_model").await else {
            return;
        };
        let now = redis_micros(&mut conn).await;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let start = (now / 1e6) as u64 + 2;
        let clock = ManualClock::new(Timestamp::from_millis(start * 1_000 + 250));
        let memory = MemoryStore::with_clock(MemoryOptions::default(), Arc::new(clock.clone()));
        let name = store.limit_key("k", policy);
        let head_size = match policy.algorithm() {
            Algorithm::SlidingWindow { .. } => 48,
            Algorithm::Gcra => 32,
        };
        // A first decision of cost 0 writes the state whose times are then moved.
        store.check("k", policy, 0).await.unwrap();
        memory.decide("k", policy, 0).unwrap();

        let mut rng = seed;
        let mut next = move |below: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % below
        };
        for step in 0..steps {
            #[allow(clippy::cast_precision_loss)]
            let model = (clock.now().as_nanos() / 1_000) as f64;
            let forward = head_size == 48 && next(2) == 0;
            let last = redis_micros(&mut conn).await + if forward { 0.0 } else { 60e6 };
            let times = [last.to_le_bytes(), model.to_le_bytes()].concat();
            for i in 0..policy.tiers().len() {
                overwrite(&mut conn, &name, i * head_size + 8, &times).await;
            }
            let cost = [0, 1, 1, 1, 1, 2, 3, 5, 1, 50][usize::try_from(next(10)).unwrap()];
            let ours = store.check("k", policy, cost).await.unwrap();
            let model = memory.decide("k", policy, cost).unwrap();
            let at = format!("seed {seed}, step {step}, cost {cost}");
            assert_eq!(ours.source(), Source::Store, "{at}");
            assert_eq!(ours.admitted(), model.admitted(), "{at}");
            assert_eq!(ours.denied_by_index(), model.denied_by_index(), "{at}");
            let slack = Duration::from_millis(if forward { 50 } else { 0 });
            let near = |a: Duration, b: Duration| a.abs_diff(b) <= slack;
            match (ours.retry_after(), model.retry_after()) {
                (Some(a), Some(b)) => assert!(near(a, b), "{at}: retry {a:?}, model {b:?}"),
                (a, b) => assert_eq!(a, b, "{at}"),
            }
            for ((_, a), (_, b)) in ours.tiers().zip(model.tiers()) {
                assert_eq!((a.limit, a.remaining), (b.limit, b.remaining), "{at}");
                assert!(near(a.reset, b.reset), "{at}: reset {a:?}, model {b:?}");
            }
            let step = [0, 0, 0, 500, 1_000, 1_500, 3_000, 7_000, 20_000, 65_000];
            clock.advance(Duration::from_millis(
                step[usize::try_from(next(10)).unwrap()],
            ));
        }
        delete(&mut conn, &name).await;
    }

    #[tokio::test]
    async fn random_window_decisions_in_redis_match_the_memory_store() {
        let one = ten_buckets(12);
        let three = Policy::new(
            Algorithm::SlidingWindow { buckets: 10 },
            vec![
                crate::Tier::new("10s", Duration::from_secs(10), 8).unwrap(),
                crate::Tier::new("1m", Duration::from_secs(60), 20).unwrap(),
                crate::Tier::new("5m", Duration::from_secs(300), 45).unwrap(),
            ],
        )
        .unwrap();
        let tier = |name: &str, secs: u64, limit: u64| {
            crate::Tier::new(name, Duration::from_secs(secs), limit).unwrap()
        };
        // One bucket per window; four buckets of 2.5 s and 15 s.
        let single = Policy::new(
            Algorithm::SlidingWindow { buckets: 1 },
            vec![tier("10s", 10, 6)],
        )
        .unwrap();
        let four = Policy::new(
            Algorithm::SlidingWindow { buckets: 4 },
            vec![tier("10s", 10, 7), tier("1m", 60, 15)],
        )
        .unwrap();
        for seed in [1, 7, 42] {
            decides_like_the_memory_store(&one, seed, 300).await;
            decides_like_the_memory_store(&three, seed, 300).await;
            decides_like_the_memory_store(&single, seed, 200).await;
            decides_like_the_memory_store(&four, seed, 200).await;
        }
    }

    #[tokio::test]
    async fn random_gcra_decisions_in_redis_match_the_memory_store() {
        let policy = Policy::new(
            Algorithm::Gcra,
            vec![
                crate::Tier::new("10s", Duration::from_secs(10), 10).unwrap(),
                crate::Tier::new("1m", Duration::from_secs(60), 30)
                    .unwrap()
                    .with_burst(8)
                    .unwrap(),
            ],
        )
        .unwrap();
        for seed in [3, 11] {
            decides_like_the_memory_store(&policy, seed, 300).await;
        }
    }

    #[tokio::test]
    async fn a_stored_window_slides_counts_out_waits_for_the_oldest_and_denials_consume_nothing() {
        let Some((store, mut conn)) = store_and_connection("rl_slide").await else {
            return;
        };
        let policy = ten_buckets(10);
        let name = store.limit_key("k", &policy);
        let width = 1_000_000.0;
        // The effective time sits in the middle of bucket 1000; the stored head is three
        // buckets behind, so its ring holds buckets 987..=997. Bucket 988 leaves the
        // window (990..=1000) at this decision; 995 and 997 stay.
        let eff = 1000.0 * width + 500_000.0;
        let now = redis_micros(&mut conn).await;
        let state = window_state(width, now, eff, 997, &[(988, 4), (995, 3), (997, 2)]);
        put_state(&mut conn, &name, state).await;

        let first = store.check("k", &policy, 1).await.unwrap();
        assert!(first.admitted());
        assert_eq!(first.source(), Source::Store);
        // The head moved: the whole state was written, with the window's eleven
        // buckets and a second as its time to live.
        let ttl = pttl(&mut conn, &name).await;
        assert!(ttl > 10_000 && ttl <= 12_000, "ttl {ttl} ms");
        let status = first.status(0).unwrap();
        assert_eq!(status.remaining, 10 - (3 + 2 + 1));
        // The newest count is in bucket 1000: it leaves at 1011 s of effective time.
        let reset = status.reset.as_secs_f64();
        assert!(reset > 10.0 && reset <= 10.5, "reset {reset}");

        // Five more do not fit (6 + 5 > 10) until bucket 995's three leave, at 1006 s.
        let denied = store.check("k", &policy, 5).await.unwrap();
        assert!(!denied.admitted());
        assert_eq!(denied.denied_by_index(), Some(0));
        assert_eq!(denied.status(0).unwrap().remaining, 4);
        let wait = denied.retry_after().unwrap().as_secs_f64();
        assert!(wait > 5.0 && wait <= 5.5, "wait {wait}");

        // The denial consumed nothing: exactly four more fit, then none.
        let last = store.check("k", &policy, 4).await.unwrap();
        assert!(last.admitted());
        // In the same bucket only the headers were rewritten, and the expiry stands.
        let kept = pttl(&mut conn, &name).await;
        assert!(kept > 10_000 && kept <= ttl, "ttl {kept} ms after {ttl} ms");
        assert_eq!(last.status(0).unwrap().remaining, 0);
        assert!(!store.check("k", &policy, 1).await.unwrap().admitted());

        // The stored state: head 1000 holding 5 of the sum 10; bucket 997 joined the
        // ring, and bucket 988's slot was emptied for bucket 998.
        let raw = raw_state(&mut conn, &name).await;
        assert_eq!(raw.len(), 48 + 4 * 10);
        let count = |bucket: usize| {
            let at = 48 + 4 * (bucket % 10);
            u32::from_le_bytes(raw[at..at + 4].try_into().unwrap())
        };
        let header = (double(&raw, 3), double(&raw, 4), double(&raw, 5));
        assert_eq!(header, (1000.0, 10.0, 5.0));
        assert_eq!((count(995), count(997), count(998)), (3, 2, 0));
        delete(&mut conn, &name).await;
    }

    #[tokio::test]
    async fn a_gcra_state_lives_as_long_as_its_tat_is_ahead_under_any_scaling() {
        let Some((store, mut conn)) = store_and_connection("rl_gcra_ttl").await else {
            return;
        };
        // The same tier scaled two ways (as adaptive limits do): one request per 10 s
        // with no burst, or one per second with a burst of 5 (a tolerance of 5 s).
        let tier = |limit: u64, burst: u64| {
            crate::Tier::new("1h", Duration::from_secs(3600), limit)
                .unwrap()
                .with_burst(burst)
                .unwrap()
        };
        let slow = Policy::new(Algorithm::Gcra, vec![tier(360, 1)]).unwrap();
        let fast = Policy::new(Algorithm::Gcra, vec![tier(3600, 5)]).unwrap();
        let name = store.limit_key("k", &slow);
        assert_eq!(name, store.limit_key("k", &fast));

        // Under the slow scaling one request puts the TAT 10 s ahead.
        assert!(store.check("k", &slow, 1).await.unwrap().admitted());
        // The clock steps back, and a request under the fast scaling is denied: the
        // denial writes the state (to remember the clock), which must still live until
        // the TAT is reached, not only the fast scaling's 5 s of tolerance.
        let future = redis_micros(&mut conn).await + 60e6;
        overwrite(&mut conn, &name, 8, &future.to_le_bytes()).await;
        assert!(!store.check("k", &fast, 1).await.unwrap().admitted());
        let ttl = pttl(&mut conn, &name).await;
        assert!(ttl > 9_000, "ttl {ttl} ms with a TAT 10 s ahead");
        delete(&mut conn, &name).await;
    }

    #[tokio::test]
    async fn a_stored_sum_the_counts_cannot_account_for_denies_without_failing() {
        let Some((store, mut conn)) = store_and_connection("rl_sum").await else {
            return;
        };
        let policy = ten_buckets(10);
        let name = store.limit_key("k", &policy);
        let eff = 700.0 * 1e6 + 250_000.0;
        let now = redis_micros(&mut conn).await;
        // A state no script of this release wrote: its sum says 100, its counts 2.
        let mut state = window_state(1e6, now, eff, 700, &[(700, 2)]);
        state[32..40].copy_from_slice(&100.0_f64.to_le_bytes());
        put_state(&mut conn, &name, state).await;

        let denied = store.check("k", &policy, 1).await.unwrap();
        assert_eq!(
            denied.source(),
            Source::Store,
            "decided by Redis, not by the fallback"
        );
        assert!(!denied.admitted());
        // Until the whole window (buckets 690..=700) has passed: 10.75 s.
        let wait = denied.retry_after().unwrap().as_secs_f64();
        assert!(wait > 10.0 && wait <= 10.75, "wait {wait}");
        assert_eq!(store.health().failures, 0);
        delete(&mut conn, &name).await;
    }

    #[tokio::test]
    async fn a_stored_clock_reading_in_the_future_neither_locks_out_nor_moves_time_back() {
        let Some((store, mut conn)) = store_and_connection("rl_back").await else {
            return;
        };
        let policy = ten_buckets(2);
        let name = store.limit_key("k", &policy);
        let width = 1_000_000.0;
        let eff = 500.0 * width + 100_000.0;
        // The clock reading stored is an hour ahead of Redis's: the clock went back.
        let now = redis_micros(&mut conn).await;
        let state = window_state(width, now + 3.6e9, eff, 500, &[(500, 2)]);
        put_state(&mut conn, &name, state).await;

        // The window is full: denied, and the wait is counted from the effective time,
        // which did not move back an hour.
        let denied = store.check("k", &policy, 1).await.unwrap();
        assert!(!denied.admitted());
        let wait = denied.retry_after().unwrap().as_secs_f64();
        assert!(wait > 10.0 && wait <= 10.9, "wait {wait}");
        // The denial still recorded the new clock reading (and kept the counts).
        let raw = raw_state(&mut conn, &name).await;
        assert!(
            double(&raw, 1) < now + 60e6,
            "last reading {}",
            double(&raw, 1)
        );
        let kept = (
            double(&raw, 2),
            double(&raw, 3),
            double(&raw, 4),
            double(&raw, 5),
        );
        assert_eq!(kept, (eff, 500.0, 2.0, 2.0));
        delete(&mut conn, &name).await;
    }

    #[tokio::test]
    async fn a_script_redis_does_not_know_is_loaded_and_run() {
        let Some(url) = bee_testkit::redis_url() else {
            return;
        };
        let store = RedisStore::new(RedisOptions::new(&url)).unwrap();
        // A script no Redis has seen: the first EVALSHA answers NOSCRIPT.
        let marker = bee_testkit::unique_name("noscript");
        let code: &'static str = Box::leak(format!("return '{marker}'").into_boxed_str());
        let lua = Lua::new(code);
        let cmd = lua.command(0);
        let first: Option<String> = store.link.call(&lua, &cmd).await;
        assert_eq!(first.as_deref(), Some(marker.as_str()));
        assert!(store.health().reachable);
        assert_eq!(store.health().failures, 0);
    }
}
