//! How much may a caller do.

mod algorithm;
pub mod clock;
mod decision;
mod memory;
mod policy;
mod store;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use decision::{Decision, Source, TierStatus};
pub use memory::{MemoryOptions, MemoryStats, MemoryStore};
pub use policy::{
    Algorithm, AlgorithmName, DEFAULT_BUCKETS, MAX_BUCKETS, MAX_TIERS, MAX_WINDOW_LIMIT, Policy,
    PolicyConfig, PolicyError, Tier, TierConfig, parse_duration,
};
pub use store::{BoxFuture, MAX_KEY_LEN, Store, StoreError};
mod abuse;
mod adaptive;
mod blocklist;
mod concurrency;
mod limiter;

pub use abuse::{AbuseConfig, AbuseDetector, Action, Assessment, Pattern, PatternConfig, Request};
pub use adaptive::{Adaptive, AdaptiveConfig, InFlight, Level, LoadGauges, LoadSample, LoadSignal};
pub use blocklist::{Block, BlockList, BlockRule, MAX_REASON_LEN, MemoryBlockList};
pub use concurrency::{ConcurrencyLimiter, Lease, Leases, MemoryLeases, Permit};
pub use limiter::Limiter;
pub mod headers;
#[cfg(feature = "tower")]
pub mod layer;
#[cfg(feature = "redis")]
pub mod redis;
