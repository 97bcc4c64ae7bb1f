//! How much may a caller do.
//!
//! `bee-ratelimit` decides, for any key (an API key id, a client address, both), whether
//! a request may go on under several limits at once (60 a minute, 1000 an hour, 10 000
//! a day), in one process or across a fleet sharing Redis. It shrinks limits under load,
//! caps requests in flight, and scores abusive patterns per client address, escalating
//! from allow to throttle, challenge and block.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use bee_ratelimit::{
//!     AbuseConfig, AbuseDetector, Action, Limiter, MemoryOptions, Policy, Request, Stores,
//!     headers,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // On one machine; `Stores::redis(...)` for a fleet (feature `redis`).
//! let stores = Stores::memory(MemoryOptions::default());
//! let limiter = Limiter::new(stores.limits.clone());
//! let abuse = AbuseDetector::new(&AbuseConfig::default(), stores.limits.clone(), stores.blocks.clone())?;
//!
//! // A bot's tiers, as configured: {"1m": 60, "1h": 1000, "1d": 10000}.
//! let policy = Policy::from_tiers([("1m", 60), ("1h", 1000), ("1d", 10_000)])?;
//!
//! // Per request: the address first, then the key and the address against the tiers.
//! let address = "203.0.113.7";
//! let verdict = abuse.assess(address, Request { message: Some("hello"), invalid: false }).await?;
//! assert_eq!(verdict.action, Action::Allow);
//! let by_key = limiter.check("key:AbCdEf123456", &policy, 1).await?;
//! let by_address = limiter.check(&format!("addr:{address}"), &policy, 1).await?;
//! assert!(by_key.admitted() && by_address.admitted());
//! for (name, value) in headers::fields(&by_key) {
//!     // response.headers_mut().insert(name, value.parse()?);
//! #   let _ = (name, value);
//! }
//!
//! // The audit monitor saw brute force: block the address for an hour, everywhere.
//! abuse.block(address, Duration::from_secs(3600), "brute_force").await?;
//! assert_eq!(abuse.assess(address, Request::default()).await?.action, Action::Block);
//! // An admin lifts it.
//! assert!(abuse.unblock(address).await?);
//! # Ok(())
//! # }
//! ```
//!
//! For a fleet (feature `redis`), only the stores change:
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn fleet() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use bee_ratelimit::redis::{RedisOptions, RedisStore, Unreachable};
//! use bee_ratelimit::Stores;
//!
//! let mut options = RedisOptions::new("redis://10.0.0.5:6379");
//! options.when_unreachable = Unreachable::Fallback; // or FailOpen, FailClosed
//! let redis = Arc::new(RedisStore::new(options)?);
//! let stores = Stores::redis(redis.clone());
//! // ... the same Limiter and AbuseDetector as above; redis.health() for monitoring.
//! # Ok(())
//! # }
//! ```
//!
//! # Policies
//!
//! A [`Policy`] is a set of named [`Tier`]s decided as one: a request is admitted only if
//! every tier admits it, and **a denied request consumes nothing in any tier**. Requests
//! may cost more than 1 (language-model tokens). A [`Decision`] says whether the request
//! was admitted, which tier denied it, every tier's limit, remaining units and reset
//! time, and when to retry. Policies load from YAML or TOML ([`PolicyConfig`]); zero
//! limits, windows, bursts or bucket counts are rejected with the field named; huge
//! values saturate instead of overflowing. The default is 60 per minute, 1000 per hour
//! and 10 000 per day, as a sliding window.
//!
//! # Algorithms
//!
//! Time below is a key's *effective* time: it follows every forward step of the clock
//! and treats a backward step as no time passing. A clock stepped back therefore never
//! panics and never locks a key out: the key recovers after the same forward time as it
//! would have anyway.
//!
//! **Sliding window** ([`Algorithm::SlidingWindow`], the default), with `B` buckets of
//! width `w = ceil(window / B)` per tier (default `B = 10`):
//!
//! - *Exact upper bound*: in every interval of length `window`, the admitted units of a
//!   tier never exceed its limit. No approximation is made on this side.
//! - *Bounded early denial*: a request is denied only if the units admitted in the last
//!   `window + w` plus its cost exceed the limit. So the window is effectively between
//!   `window` and `window + window / B` long: at most one bucket (10 % by default) of
//!   over-strictness, never any over-admission.
//! - Memory: a head index, `B + 1` counters and their total per tier, 16 bits each when
//!   every limit of the policy is at most [`NARROW_WINDOW_LIMIT`] (65 535), 32 bits
//!   otherwise; limits above 2³² − 1 per window saturate to it. The width is chosen when
//!   the policy is built: a policy scaled above 65 535 keeps 16 bits and saturates
//!   there. Counts never exceed the limit, so they never overflow their lane.
//!
//! **GCRA** ([`Algorithm::Gcra`]): emission interval `T = ceil(window / limit)`
//! nanoseconds (microseconds in Redis), burst `b` (default: the limit). A request of cost
//! `n` at time `t` is admitted when `max(TAT, t) + n·T − t ≤ b·T`; then
//! `TAT = max(TAT, t) + n·T`. Equivalently, over every interval `[s, t]` the admitted
//! units never exceed `b + (t − s) / T`: a burst of `b`, then one unit per `T`. With the
//! default burst, up to `2 × limit` may pass in one window (a full burst, then the
//! refill); choose the sliding window when "at most N in any window" is the contract.
//!
//! Both are checked by property tests against brute-force models under a manual clock
//! that also goes backwards (`tests/properties.rs`): the sliding window against the two
//! bounds above, GCRA decision for decision against the interval definition.
//!
//! # Stores
//!
//! - [`MemoryStore`]: sharded maps behind short locks; at most
//!   [`MemoryOptions::max_keys`] keys. Idle keys (every tier back to full) are swept
//!   first; if every key is active, the least recently active ones in a sample are
//!   forgotten (they get a fresh quota), so an attacker rotating addresses cannot grow
//!   memory without bound.
//! - `redis::RedisStore` (feature `redis`): every decision is one `EVALSHA` of a Lua
//!   script deciding all tiers atomically (reloaded on `NOSCRIPT`), timed by Redis's own
//!   `TIME` so that servers with skewed clocks agree, on one key per caller and policy,
//!   `<prefix>:{<key>}:<tier names>`, whose hash tag keeps all of a caller's keys in one
//!   cluster slot, expiring when idle.
//!   Every call has a timeout; when Redis cannot be reached the configured
//!   `Unreachable` policy applies (fail open, fail closed, or a local in-memory
//!   fallback), failures are counted in `Health`, and Redis is retried by itself.
//!   With `RedisOptions::batch` above 1 (default 1), decisions of concurrent callers of
//!   one store leave together in one script call, each caller's tiers still decided
//!   atomically: fewer round trips and script calls for a busy store, on a single Redis
//!   server (a cluster refuses a script whose keys lie in different slots).
//!
//! All stores are used through object-safe traits ([`Store`], [`BlockList`], [`Leases`])
//! so that a server picks them at run time; [`Stores`] bundles the three. A check
//! answers with a [`Check`]: a decision already made (the in-memory store, no
//! allocation even through `Arc<dyn Store>`) or a boxed future (Redis).
//!
//! # Adaptive limits, concurrency, abuse
//!
//! - [`Adaptive`] maps a [`LoadSignal`] (CPU, memory, in-flight requests, latency
//!   average) to a [`Level`] whose multiplier (1.0, 0.7, 0.5, 0.1 by default) scales every
//!   limit through [`Limiter::with_adaptive`]. Levels rise at once and fall only after
//!   the pressure drops a hysteresis margin below the level's threshold and the level has
//!   lasted a minimum time, so they do not flap.
//! - [`ConcurrencyLimiter`]: at most N requests in flight per key; a [`Permit`] releases
//!   its lease on drop; leases expire if a holder dies (in Redis, a sorted set of lease
//!   expiries).
//! - [`AbuseDetector`]: per client address, high frequency (100 in 60 s), identical
//!   messages (10 in 300 s, by a hash of the normalised text), invalid requests (20 in
//!   60 s) and empty messages (50 in 300 s) each add to a risk score (a pattern at its
//!   threshold adds its weight, 25 by default, and proportionally more beyond, up to four
//!   times); scores of 25, 50 and 75 throttle, challenge and block. Blocks go to the shared
//!   [`BlockList`] and double for repeat offenders. Everything is configurable
//!   ([`AbuseConfig`]).
//!
//! # HTTP
//!
//! [`headers::fields`] renders a decision as `RateLimit-Policy` and `RateLimit` (IETF
//! httpapi draft), the legacy `X-RateLimit-Limit/Remaining/Reset`, and `Retry-After` in
//! whole seconds, rounded up, at least 1. With feature `tower`, `layer::RateLimitLayer`
//! answers 429 with those fields and a JSON body, sharing one state across clones, with a
//! key extractor of the user's choice.
//!
//! # Features
//!
//! - `redis`: the Redis store, block list and leases.
//! - `tower`: the tower layer (and [`headers::apply`] into an `http::HeaderMap`).
//!
//! # Threats and limits
//!
//! Protects against: floods and scraping by one key or one address (multi-tier limits),
//! token-heavy requests (costs), bursts across a fleet (atomic Redis decisions on Redis's
//! clock), memory exhaustion by address rotation (bounded store), repeated or empty
//! messages and invalid-request probing (abuse scores), load spikes (adaptive limits),
//! slow-request pile-ups (concurrency limits), clock steps on either side.
//!
//! Does not protect against, or known limits:
//!
//! - Distributed attacks from many addresses and keys each under its limits: the crate
//!   limits per key; a global or per-tenant limit is one more key the server checks.
//! - Which address is the client is the server's call: behind a proxy, take it from a
//!   trusted forwarding header only.
//! - When more than `max_keys` keys are active at once, the in-memory store forgets the
//!   least recently active ones (they get a fresh quota); eviction picks the oldest in a
//!   sample, not the exact least recently used. Size `max_keys` above the peak of distinct
//!   active callers, and watch [`MemoryStore::stats`].
//! - A policy's counts are kept per key and policy shape: changing a policy's windows,
//!   algorithm or bucket count starts its keys afresh. Adaptive scaling keeps the counts.
//! - During a Redis outage with the local fallback, limits hold per instance, not across
//!   the fleet, and blocks made then stay on the instance that made them. The abuse
//!   detector makes up to four Redis calls per request (block check and pattern
//!   counters), not one.
//! - In Redis, times are in microseconds and kept below 2⁵⁰ µs (35 years); a GCRA
//!   emission interval is at least 1 µs, so rates above a million per second saturate.
//! - In Redis, a caller's state is one packed binary string: every tier's header, then
//!   the sliding window's counts. An admission in the same bucket rewrites the headers in
//!   place; the key's expiry is set again whenever a head bucket moves, long enough for
//!   every count written since. A state of another size or shape starts afresh, so
//!   instances running releases whose layouts differ reset each other's counts: give a
//!   new release its own `RedisOptions::prefix`, or replace the fleet at once.
//! - Message hashes (SHA-256, first 16 bytes, unkeyed) reach the store instead of the
//!   text; someone with access to Redis could still confirm a guessed message.
//! - Block reasons are stored as given (cut to 64 bytes): pass codes, never user data.
//! - `Retry-After` is a hint computed as if nothing else were admitted meanwhile.

mod abuse;
mod adaptive;
mod algorithm;
mod blocklist;
pub mod clock;
mod concurrency;
mod decision;
pub mod headers;
#[cfg(feature = "tower")]
pub mod layer;
mod limiter;
mod memory;
mod policy;
#[cfg(feature = "redis")]
pub mod redis;
mod store;
mod stores;

pub use abuse::{AbuseConfig, AbuseDetector, Action, Assessment, Pattern, PatternConfig, Request};
pub use adaptive::{Adaptive, AdaptiveConfig, InFlight, Level, LoadGauges, LoadSample, LoadSignal};
pub use blocklist::{Block, BlockList, BlockRule, MAX_REASON_LEN, MemoryBlockList};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use concurrency::{ConcurrencyLimiter, Lease, Leases, MemoryLeases, Permit};
pub use decision::{Decision, Source, TierStatus};
pub use limiter::Limiter;
pub use memory::{MemoryOptions, MemoryStats, MemoryStore};
pub use policy::{
    Algorithm, AlgorithmName, DEFAULT_BUCKETS, MAX_BUCKETS, MAX_TIERS, MAX_WINDOW_LIMIT,
    NARROW_WINDOW_LIMIT, Policy, PolicyConfig, PolicyError, Tier, TierConfig, parse_duration,
};
pub use store::{BoxFuture, Check, MAX_KEY_LEN, Store, StoreError};
pub use stores::Stores;
