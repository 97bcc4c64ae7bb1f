//! The abuse detector: per client address, request patterns add to a risk score that
//! escalates from allow to throttle, challenge and block; blocks live in the shared
//! block list and grow for repeat offenders.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::blocklist::{Block, BlockList, BlockRule};
use crate::policy::{Algorithm, Policy, PolicyError, Tier, parse_duration};
use crate::store::{Store, StoreError};

/// What to do with a request from an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Let it through.
    Allow,
    /// Let it through more slowly (the server picks how: tighter limits, a delay).
    Throttle,
    /// Ask for proof of a person (a captcha or similar) before going on.
    Challenge,
    /// Refuse it: the address is blocked.
    Block,
}

/// A request pattern the detector counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Many requests of any kind.
    HighFrequency,
    /// The same message again and again (compared by a hash of its normalised text).
    Identical,
    /// Requests the server found invalid.
    Invalid,
    /// Empty messages.
    Empty,
}

impl Pattern {
    /// A short code for logs and block reasons.
    pub fn code(self) -> &'static str {
        match self {
            Pattern::HighFrequency => "high_frequency",
            Pattern::Identical => "identical_messages",
            Pattern::Invalid => "invalid_requests",
            Pattern::Empty => "empty_messages",
        }
    }
}

/// What the server knows about one request, for the detector.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// The chat message, if the request carries one.
    pub message: Option<&'a str>,
    /// Whether the server rejected the request as invalid.
    pub invalid: bool,
}

/// The detector's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// What to do.
    pub action: Action,
    /// The risk score, 0 to 100.
    pub score: u32,
    /// Patterns past their threshold, with their count in the window.
    pub patterns: Vec<(Pattern, u64)>,
    /// The block in force, when the action is [`Action::Block`].
    pub block: Option<Block>,
}

/// One pattern's threshold: `count` events in `window` score `weight`, and more score
/// proportionally more (up to four times the weight).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// Events in the window from which the pattern scores.
    pub count: u64,
    /// The window, such as `60s` or `5m`.
    pub window: String,
    /// Points added at `count` events.
    pub weight: u32,
}

/// The detector's thresholds. Loads from YAML or TOML; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbuseConfig {
    /// Default: 100 in `60s`, weight 25.
    pub high_frequency: PatternConfig,
    /// Default: 10 in `300s`, weight 25.
    pub identical: PatternConfig,
    /// Default: 20 in `60s`, weight 25.
    pub invalid: PatternConfig,
    /// Default: 50 in `300s`, weight 25.
    pub empty: PatternConfig,
    /// Score from which to throttle (default 25).
    pub throttle_at: u32,
    /// Score from which to challenge (default 50).
    pub challenge_at: u32,
    /// Score from which to block (default 75).
    pub block_at: u32,
    /// The first block's length (default `15m`).
    pub block_for: String,
    /// Each repeat offense multiplies the block by this (default 2).
    pub block_factor: u32,
    /// The longest block (default `1d`).
    pub block_max: String,
    /// How long after a block ends an offense still counts (default `1d`).
    pub offense_memory: String,
}

impl Default for AbuseConfig {
    fn default() -> Self {
        let pattern = |count, window: &str| PatternConfig {
            count,
            window: window.to_owned(),
            weight: 25,
        };
        AbuseConfig {
            high_frequency: pattern(100, "60s"),
            identical: pattern(10, "300s"),
            invalid: pattern(20, "60s"),
            empty: pattern(50, "300s"),
            throttle_at: 25,
            challenge_at: 50,
            block_at: 75,
            block_for: "15m".to_owned(),
            block_factor: 2,
            block_max: "1d".to_owned(),
            offense_memory: "1d".to_owned(),
        }
    }
}

/// Scores request patterns per client address and blocks abusers in the shared list.
///
/// Counters live in the rate-limit [`Store`] and blocks in the [`BlockList`], so with
/// Redis every instance counts and blocks together.
#[derive(Debug, Clone)]
pub struct AbuseDetector {
    store: Arc<dyn Store>,
    blocks: Arc<dyn BlockList>,
    counters: Arc<[Counter; 4]>,
    thresholds: [u32; 3],
    rule: BlockRule,
}

#[derive(Debug)]
struct Counter {
    pattern: Pattern,
    threshold: u64,
    weight: u32,
    policy: Policy,
}

impl AbuseDetector {
    /// A detector by `config`, counting in `store` and blocking in `blocks`.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] naming the first field out of range: a zero count or
    /// window, thresholds not rising or above 100, a bad duration.
    pub fn new(
        config: &AbuseConfig,
        store: Arc<dyn Store>,
        blocks: Arc<dyn BlockList>,
    ) -> Result<Self, PolicyError> {
        let counters = [
            Counter::new(
                Pattern::HighFrequency,
                "high_frequency",
                &config.high_frequency,
            )?,
            Counter::new(Pattern::Identical, "identical", &config.identical)?,
            Counter::new(Pattern::Invalid, "invalid", &config.invalid)?,
            Counter::new(Pattern::Empty, "empty", &config.empty)?,
        ];
        let thresholds = [config.throttle_at, config.challenge_at, config.block_at];
        if !(thresholds[0] >= 1 && thresholds[0] < thresholds[1] && thresholds[1] < thresholds[2])
            || thresholds[2] > 100
        {
            let reason = "throttle_at < challenge_at < block_at, within 1 to 100";
            return Err(PolicyError::invalid("block_at", reason));
        }
        Ok(AbuseDetector {
            store,
            blocks,
            counters: Arc::new(counters),
            thresholds,
            rule: block_rule(config)?,
        })
    }

    /// Counts `request` from `address`, scores the patterns and decides; blocks the
    /// address when the score reaches the block threshold. A blocked address is
    /// answered from the block list without counting.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store or the block list cannot be used.
    pub async fn assess(
        &self,
        address: &str,
        request: Request<'_>,
    ) -> Result<Assessment, StoreError> {
        if let Some(block) = self.blocked(address).await? {
            return Ok(Assessment {
                action: Action::Block,
                score: 100,
                patterns: Vec::new(),
                block: Some(block),
            });
        }
        let patterns = self.count(address, request).await?;
        let score = self.score(&patterns);
        let action = self.action(score);
        let block = match action {
            Action::Block => Some(self.block_for_patterns(address, &patterns).await?),
            _ => None,
        };
        Ok(Assessment {
            action,
            score,
            patterns,
            block,
        })
    }

    /// Blocks `address` for exactly `duration`, for a reason decided elsewhere (the
    /// audit monitor saw brute force, an operator acted).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the block list cannot record it.
    pub async fn block(
        &self,
        address: &str,
        duration: Duration,
        reason: &str,
    ) -> Result<Block, StoreError> {
        let rule = BlockRule::fixed(duration);
        self.blocks.block(&subject(address), &rule, reason).await
    }

    /// Lifts `address`'s block; says whether there was one.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the block list cannot be changed.
    pub async fn unblock(&self, address: &str) -> Result<bool, StoreError> {
        self.blocks.unblock(&subject(address)).await
    }

    /// The block in force on `address`, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the block list cannot be read.
    pub async fn blocked(&self, address: &str) -> Result<Option<Block>, StoreError> {
        self.blocks.blocked(&subject(address)).await
    }

    async fn count(
        &self,
        address: &str,
        request: Request<'_>,
    ) -> Result<Vec<(Pattern, u64)>, StoreError> {
        let message = request.message.map(normalise);
        let mut keys = vec![(0, format!("abuse:freq:{address}"))];
        if request.invalid {
            keys.push((2, format!("abuse:invalid:{address}")));
        }
        match message.as_deref() {
            Some("") => keys.push((3, format!("abuse:empty:{address}"))),
            Some(text) => keys.push((1, format!("abuse:same:{address}:{}", digest(text)))),
            None => {}
        }
        let mut fired = Vec::new();
        for (index, key) in keys {
            let counter = &self.counters[index];
            let decision = self.store.check(&key, &counter.policy, 1).await?;
            // The counter's limit is four times the threshold; past it, the count stays
            // at the limit (a denied check records nothing) and the score is saturated.
            let (_, status) = decision.tightest();
            let count = status.limit - status.remaining;
            if count >= counter.threshold {
                fired.push((counter.pattern, count));
            }
        }
        Ok(fired)
    }

    fn score(&self, fired: &[(Pattern, u64)]) -> u32 {
        let points: u64 = fired
            .iter()
            .filter_map(|(pattern, count)| {
                let c = self.counters.iter().find(|c| c.pattern == *pattern)?;
                Some(u64::from(c.weight) * count / c.threshold)
            })
            .sum();
        u32::try_from(points.min(100)).unwrap_or(100)
    }

    fn action(&self, score: u32) -> Action {
        let [throttle, challenge, block] = self.thresholds;
        match score {
            s if s >= block => Action::Block,
            s if s >= challenge => Action::Challenge,
            s if s >= throttle => Action::Throttle,
            _ => Action::Allow,
        }
    }

    async fn block_for_patterns(
        &self,
        address: &str,
        fired: &[(Pattern, u64)],
    ) -> Result<Block, StoreError> {
        let reason = fired
            .iter()
            .max_by_key(|(_, count)| *count)
            .map_or("abuse", |(p, _)| p.code());
        tracing::debug!(reason, "blocking an abusive address");
        self.blocks
            .block(&subject(address), &self.rule, reason)
            .await
    }
}

impl Counter {
    fn new(pattern: Pattern, field: &str, c: &PatternConfig) -> Result<Self, PolicyError> {
        if c.count == 0 {
            return Err(PolicyError::invalid(
                format!("{field}.count"),
                "must be at least 1",
            ));
        }
        let window = parse_duration(&c.window)
            .map_err(|reason| PolicyError::invalid(format!("{field}.window"), reason))?;
        let tier = Tier::new("w", window, c.count.saturating_mul(4))?;
        let policy = Policy::new(Algorithm::default(), vec![tier])?;
        Ok(Counter {
            pattern,
            threshold: c.count,
            weight: c.weight,
            policy,
        })
    }
}

fn block_rule(config: &AbuseConfig) -> Result<BlockRule, PolicyError> {
    let duration = |field: &str, text: &str| {
        parse_duration(text).map_err(|reason| PolicyError::invalid(field, reason))
    };
    Ok(BlockRule {
        base: duration("block_for", &config.block_for)?,
        factor: config.block_factor.max(1),
        max: duration("block_max", &config.block_max)?,
        memory: duration("offense_memory", &config.offense_memory)?,
    })
}

/// The block-list subject of an address, kept apart from other subjects.
fn subject(address: &str) -> String {
    format!("addr:{address}")
}

/// Lowercase, whitespace collapsed, trimmed: trivial variations count as the same text.
fn normalise(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for word in message.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The first 16 bytes of SHA-256, in hex: the message never reaches the store.
fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in &hash[..16] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::MemoryBlockList;
    use crate::clock::{Clock, ManualClock};
    use crate::memory::{MemoryOptions, MemoryStore};

    fn detector(clock: &ManualClock) -> AbuseDetector {
        let clock: Arc<dyn Clock> = Arc::new(clock.clone());
        let store = Arc::new(MemoryStore::with_clock(
            MemoryOptions::default(),
            clock.clone(),
        ));
        let blocks = Arc::new(MemoryBlockList::with_clock(1000, clock));
        AbuseDetector::new(&AbuseConfig::default(), store, blocks).unwrap()
    }

    async fn send(d: &AbuseDetector, n: usize, request: Request<'_>) -> Assessment {
        let mut last = None;
        for _ in 0..n {
            last = Some(d.assess("203.0.113.7", request).await.unwrap());
        }
        last.unwrap()
    }

    #[tokio::test]
    async fn a_quiet_address_is_allowed() {
        let clock = ManualClock::at_2025();
        let d = detector(&clock);
        let a = send(
            &d,
            5,
            Request {
                message: Some("hello"),
                invalid: false,
            },
        )
        .await;
        assert_eq!((a.action, a.score), (Action::Allow, 0));
    }

    #[tokio::test]
    async fn identical_messages_escalate_to_throttle_challenge_and_block() {
        let clock = ManualClock::at_2025();
        let d = detector(&clock);
        let spam = Request {
            message: Some("  Buy NOW  "),
            invalid: false,
        };
        assert_eq!(send(&d, 10, spam).await.action, Action::Throttle);
        let variant = Request {
            message: Some("buy now"),
            invalid: false,
        };
        assert_eq!(send(&d, 10, variant).await.action, Action::Challenge);
        let blocked = send(&d, 10, spam).await;
        assert_eq!(blocked.action, Action::Block);
        assert_eq!(blocked.block.unwrap().reason, "identical_messages");
        assert!(d.blocked("203.0.113.7").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn blocks_grow_for_repeat_offenders() {
        let clock = ManualClock::at_2025();
        let d = detector(&clock);
        let flood = Request::default();
        let first = send(&d, 300, flood).await.block.unwrap();
        assert_eq!(
            first.until.saturating_since(clock.now()),
            Duration::from_secs(900)
        );
        clock.set(first.until);
        let second = send(&d, 300, flood).await.block.unwrap();
        assert_eq!(second.offenses, 2);
        assert_eq!(
            second.until.saturating_since(clock.now()),
            Duration::from_secs(1800)
        );
    }

    #[tokio::test]
    async fn a_block_from_outside_holds_and_can_be_lifted() {
        let clock = ManualClock::at_2025();
        let d = detector(&clock);
        d.block("203.0.113.7", Duration::from_secs(3600), "brute_force")
            .await
            .unwrap();
        let a = send(&d, 1, Request::default()).await;
        assert_eq!(a.action, Action::Block);
        assert_eq!(a.block.unwrap().reason, "brute_force");
        assert!(d.unblock("203.0.113.7").await.unwrap());
        assert_eq!(send(&d, 1, Request::default()).await.action, Action::Allow);
    }

    #[tokio::test]
    async fn invalid_and_empty_requests_score_past_their_thresholds() {
        let clock = ManualClock::at_2025();
        let d = detector(&clock);
        let a = send(
            &d,
            20,
            Request {
                message: Some(" "),
                invalid: true,
            },
        )
        .await;
        assert_eq!(a.patterns, [(Pattern::Invalid, 20)]);
        assert_eq!(a.score, 25);
        let a = send(
            &d,
            30,
            Request {
                message: Some(""),
                invalid: false,
            },
        )
        .await;
        assert!(a.patterns.contains(&(Pattern::Empty, 50)), "{a:?}");
    }

    #[test]
    fn rejects_thresholds_out_of_order_and_zero_counts() {
        let store = Arc::new(MemoryStore::new(MemoryOptions::default()));
        let blocks = Arc::new(MemoryBlockList::new(10));
        let bad = AbuseConfig {
            challenge_at: 80,
            ..AbuseConfig::default()
        };
        assert!(AbuseDetector::new(&bad, store.clone(), blocks.clone()).is_err());
        let mut bad = AbuseConfig::default();
        bad.identical.count = 0;
        let err = AbuseDetector::new(&bad, store, blocks).unwrap_err();
        assert_eq!(err.to_string(), "identical.count: must be at least 1");
    }

    #[test]
    fn normalising_folds_case_and_spacing() {
        assert_eq!(normalise("  Hello \n  WORLD "), "hello world");
        assert_eq!(digest("x").len(), 32);
    }
}
