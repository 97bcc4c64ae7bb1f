//! Steps 2 and 6 through bee-ratelimit: the block list and abuse detector on the client
//! address, and the bot's tiers for each key and each address, scaled by current load.
//! In memory on one machine; in Redis for a fleet.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bee_ratelimit::redis::{RedisOptions, RedisStore};
use bee_ratelimit::{
    AbuseConfig, AbuseDetector, Adaptive, AdaptiveConfig, Assessment, Block, Decision, InFlight,
    Limiter, LoadGauges, MemoryOptions, Policy, PolicyError, Request, StoreError, Stores,
};

use crate::clock::Clock;
use crate::model::{Bot, RateTiers};

/// Weight of each new latency in the load gauges' moving average.
const LATENCY_WEIGHT: f64 = 0.1;

/// Limits, blocks and abuse scores of one server (shared with the fleet through Redis).
pub struct Limits {
    limiter: Limiter,
    abuse: AbuseDetector,
    adaptive: Arc<Adaptive>,
    gauges: Arc<LoadGauges>,
}

/// Limits could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LimitsSetupError {
    /// A configuration value is out of range.
    #[error("rate limit configuration")]
    Policy(#[from] PolicyError),
    /// The Redis store cannot be created.
    #[error("redis store for rate limits")]
    Redis(#[source] StoreError),
}

impl Limits {
    /// In-memory stores, or Redis ones under `prefix` when a URL is given.
    ///
    /// # Errors
    ///
    /// When the Redis store cannot be created or a default configuration is refused.
    pub fn open(
        redis: Option<(&str, &str)>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LimitsSetupError> {
        let clock: Arc<dyn bee_ratelimit::Clock> = Arc::new(LimitClock(clock));
        let stores = match redis {
            Some((url, prefix)) => {
                let mut options = RedisOptions::new(url);
                options.prefix = format!("{prefix}:rl");
                let store = RedisStore::with_clock(options, Arc::clone(&clock))
                    .map_err(LimitsSetupError::Redis)?;
                Stores::redis(Arc::new(store))
            }
            None => Stores::memory_with_clock(MemoryOptions::default(), Arc::clone(&clock)),
        };
        let gauges = Arc::new(LoadGauges::new(LATENCY_WEIGHT));
        let adaptive = Arc::new(Adaptive::with_clock(
            &AdaptiveConfig::default(),
            gauges.clone(),
            clock,
        )?);
        let limiter = Limiter::new(Arc::clone(&stores.limits)).with_adaptive(Arc::clone(&adaptive));
        let abuse = AbuseDetector::new(&AbuseConfig::default(), stores.limits, stores.blocks)?;
        Ok(Self {
            limiter,
            abuse,
            adaptive,
            gauges,
        })
    }

    /// Step 2: the block in force on `addr`, if any.
    ///
    /// # Errors
    ///
    /// When the block list cannot be read.
    pub async fn blocked(&self, addr: IpAddr) -> Result<Option<Block>, StoreError> {
        self.abuse.blocked(&addr.to_string()).await
    }

    /// Counts a request from `addr` in the abuse detector and decides.
    ///
    /// # Errors
    ///
    /// When the detector's stores cannot be used.
    pub async fn assess(
        &self,
        addr: IpAddr,
        message: Option<&str>,
        invalid: bool,
    ) -> Result<Assessment, StoreError> {
        let request = Request { message, invalid };
        self.abuse.assess(&addr.to_string(), request).await
    }

    /// Blocks `addr` for `duration` (a playbook or an operator decided).
    ///
    /// # Errors
    ///
    /// When the block list cannot record it.
    pub async fn block(
        &self,
        addr: IpAddr,
        duration: Duration,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.abuse
            .block(&addr.to_string(), duration, reason)
            .await
            .map(|_| ())
    }

    /// Lifts the block on `addr`; whether there was one.
    ///
    /// # Errors
    ///
    /// When the block list cannot be changed.
    pub async fn unblock(&self, addr: IpAddr) -> Result<bool, StoreError> {
        self.abuse.unblock(&addr.to_string()).await
    }

    /// Step 6: the bot's tiers for the key, then for the address. Returns the first
    /// refusal, or the key's decision when both admit.
    ///
    /// # Errors
    ///
    /// When the counters cannot be reached (under the Redis store's fail-closed policy),
    /// or the bot's tiers are not a valid policy.
    pub async fn check(
        &self,
        bot: &Bot,
        key_id: &str,
        addr: IpAddr,
    ) -> Result<Decision, LimitError> {
        self.adaptive.update();
        let policy = policy(&bot.rate_limits)?;
        let by_key = self
            .limiter
            .check(&format!("bot:{}:key:{key_id}", bot.id), &policy, 1)
            .await?;
        if !by_key.admitted() {
            return Ok(by_key);
        }
        let by_addr = self
            .limiter
            .check(&format!("bot:{}:addr:{addr}", bot.id), &policy, 1)
            .await?;
        Ok(if by_addr.admitted() { by_key } else { by_addr })
    }

    /// Counts a request in flight (for the load level) until the guard drops.
    pub fn enter(&self) -> InFlight {
        self.gauges.enter()
    }

    /// Adds a response time to the load level's average.
    pub fn record_latency(&self, latency: Duration) {
        self.gauges.record_latency(latency);
    }
}

/// A rate-limit check that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The counters' store failed.
    #[error("rate limit store")]
    Store(#[from] StoreError),
    /// The bot's tiers are not a valid policy.
    #[error("bot rate limits")]
    Policy(#[from] PolicyError),
}

fn policy(tiers: &RateTiers) -> Result<Policy, PolicyError> {
    Policy::from_tiers([
        ("1m", u64::from(tiers.per_minute)),
        ("1h", u64::from(tiers.per_hour)),
        ("1d", u64::from(tiers.per_day)),
    ])
}

/// The server's clock, as bee-ratelimit's.
#[derive(Clone)]
struct LimitClock(Arc<dyn Clock>);

impl std::fmt::Debug for LimitClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LimitClock")
    }
}

impl bee_ratelimit::Clock for LimitClock {
    fn now(&self) -> bee_ratelimit::Timestamp {
        let nanos = self.0.now().as_nanosecond();
        bee_ratelimit::Timestamp::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }
}
