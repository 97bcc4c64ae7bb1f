//! Policies: named tiers decided as one, their algorithm, and loading them from YAML or TOML.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::clock::nanos_of;

/// The most tiers one policy may have.
pub const MAX_TIERS: usize = 6;

/// The most buckets a sliding window may be split into.
pub const MAX_BUCKETS: u32 = 60;

/// The default number of buckets of a sliding window (error bound: a tenth of the window).
pub const DEFAULT_BUCKETS: u32 = 10;

/// The largest count a sliding-window tier keeps; larger limits saturate to it.
pub const MAX_WINDOW_LIMIT: u64 = u32::MAX as u64;

/// The largest limit a sliding-window policy may have for its counters to be kept in 16
/// bits (half the memory per key). The width is chosen from the limits a policy is built
/// with; a narrow policy scaled above this saturates to it.
pub const NARROW_WINDOW_LIMIT: u64 = u16::MAX as u64;

/// How a policy's tiers count requests.
///
/// The guarantees are stated in the crate documentation (section "Algorithms") and
/// checked by property tests against brute-force models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// A sliding window kept as `buckets` counters per tier: never more than `limit` in
    /// any window of the tier's length; a request may be denied early by at most one
    /// bucket (`window / buckets`).
    SlidingWindow {
        /// How many buckets a window is split into (1 to [`MAX_BUCKETS`]).
        buckets: u32,
    },
    /// The generic cell rate algorithm: requests are spaced by an emission interval of
    /// `window / limit`, with a burst of up to `burst` at once.
    Gcra,
}

impl Default for Algorithm {
    fn default() -> Self {
        Algorithm::SlidingWindow {
            buckets: DEFAULT_BUCKETS,
        }
    }
}

/// One tier of a policy: at most `limit` units per `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    name: String,
    window: Duration,
    limit: u64,
    burst: u64,
    /// `window` in nanoseconds, saturating.
    nanos: u64,
    /// The GCRA emission interval in nanoseconds.
    interval: u64,
}

impl Tier {
    /// A tier named `name` allowing `limit` units per `window`; for GCRA the burst is
    /// `limit` unless set with [`Tier::with_burst`].
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] when the name is not 1 to 32 characters of
    /// `[A-Za-z0-9_.-]`, or the window or the limit is zero.
    pub fn new(name: &str, window: Duration, limit: u64) -> Result<Self, PolicyError> {
        check_name(name)?;
        let field = |what: &str| format!("tiers.{name}.{what}");
        if window.is_zero() {
            return Err(PolicyError::invalid(
                field("window"),
                "must be longer than zero",
            ));
        }
        if limit == 0 {
            return Err(PolicyError::invalid(field("limit"), "must be at least 1"));
        }
        Ok(Tier::build(name.to_owned(), window, limit, limit))
    }

    /// A tier whose name is its window, such as `"1m"`, `"1h"` or `"1d"`.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] when the name is not a duration or the limit is zero.
    pub fn from_window_name(name: &str, limit: u64) -> Result<Self, PolicyError> {
        let window = parse_duration(name)
            .map_err(|reason| PolicyError::invalid(format!("tiers.{name}"), reason))?;
        Tier::new(name, window, limit)
    }

    /// The same tier with a GCRA burst of `burst` (ignored by the sliding window).
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] when `burst` is zero.
    pub fn with_burst(mut self, burst: u64) -> Result<Self, PolicyError> {
        if burst == 0 {
            let field = format!("tiers.{}.burst", self.name);
            return Err(PolicyError::invalid(field, "must be at least 1"));
        }
        self.burst = burst;
        Ok(self)
    }

    /// The tier's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tier's window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The most units admitted per window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The GCRA burst: the most units admitted at once after a quiet period.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// The GCRA emission interval in nanoseconds: `window / limit`, rounded up, at least 1.
    pub fn emission_interval_nanos(&self) -> u64 {
        self.interval
    }

    /// The window in nanoseconds, saturating.
    pub(crate) fn window_nanos(&self) -> u64 {
        self.nanos
    }

    fn build(name: String, window: Duration, limit: u64, burst: u64) -> Tier {
        let nanos = nanos_of(window);
        Tier {
            name,
            window,
            limit,
            burst,
            nanos,
            interval: nanos.div_ceil(limit.max(1)).max(1),
        }
    }

    fn scaled(&self, factor: f64) -> Tier {
        let limit = scale(self.limit, factor);
        let burst = scale(self.burst, factor);
        Tier::build(self.name.clone(), self.window, limit, burst)
    }
}

/// A set of named tiers decided as one: a request is admitted only if every tier admits
/// it, and a denied request consumes nothing in any tier.
///
/// Cheap to clone (the tiers are shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    inner: Arc<Inner>,
}

#[derive(Debug, PartialEq, Eq)]
struct Inner {
    algorithm: Algorithm,
    tiers: Vec<Tier>,
    shape: u64,
    /// Each tier's sliding-window bucket width in nanoseconds.
    widths: [u64; MAX_TIERS],
    /// Whether sliding-window counts are kept in 16 bits (every limit fits) or 32.
    narrow: bool,
}

impl Policy {
    /// A policy of `tiers` counted by `algorithm`; tiers are kept in order of window.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] when there are no tiers or more than [`MAX_TIERS`], two
    /// tiers share a name, or the sliding window's bucket count is outside
    /// 1..=[`MAX_BUCKETS`].
    pub fn new(algorithm: Algorithm, mut tiers: Vec<Tier>) -> Result<Self, PolicyError> {
        check_algorithm(algorithm)?;
        check_tier_count(tiers.len())?;
        tiers.sort_by(|a, b| a.window.cmp(&b.window).then_with(|| a.name.cmp(&b.name)));
        if let Some(pair) = tiers.windows(2).find(|p| p[0].name == p[1].name) {
            let field = format!("tiers.{}", pair[0].name);
            return Err(PolicyError::invalid(field, "appears twice"));
        }
        let narrow = narrow_of(&tiers);
        let shape = shape_of(algorithm, &tiers, narrow);
        let inner = Inner {
            algorithm,
            widths: widths_of(algorithm, &tiers),
            tiers,
            shape,
            narrow,
        };
        Ok(Policy {
            inner: Arc::new(inner),
        })
    }

    /// A sliding-window policy from `(window name, limit)` pairs, the shape of a bot's
    /// configured tiers: `[("1m", 60), ("1h", 1000), ("1d", 10000)]`.
    ///
    /// # Errors
    ///
    /// As [`Tier::from_window_name`] and [`Policy::new`].
    pub fn from_tiers<'a>(
        tiers: impl IntoIterator<Item = (&'a str, u64)>,
    ) -> Result<Self, PolicyError> {
        let tiers = tiers
            .into_iter()
            .map(|(name, limit)| Tier::from_window_name(name, limit))
            .collect::<Result<Vec<_>, _>>()?;
        Policy::new(Algorithm::default(), tiers)
    }

    /// Reads a policy from YAML (see [`PolicyConfig`] for the fields).
    ///
    /// # Errors
    ///
    /// [`PolicyError::Yaml`] when the text is not a policy, [`PolicyError::Invalid`] when
    /// a value is not usable.
    pub fn from_yaml(text: &str) -> Result<Self, PolicyError> {
        let config: PolicyConfig =
            serde_yaml_ng::from_str(text).map_err(|e| PolicyError::Yaml(e.to_string()))?;
        config.build()
    }

    /// Reads a policy from TOML (see [`PolicyConfig`] for the fields).
    ///
    /// # Errors
    ///
    /// [`PolicyError::Toml`] when the text is not a policy, [`PolicyError::Invalid`] when
    /// a value is not usable.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let config: PolicyConfig =
            toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        config.build()
    }

    /// The algorithm counting every tier.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.algorithm
    }

    /// The tiers, shortest window first.
    pub fn tiers(&self) -> &[Tier] {
        &self.inner.tiers
    }

    /// The same policy with every limit and burst multiplied by `factor` (rounded down,
    /// at least 1, saturating); a factor that is not a finite positive number counts as 1.
    ///
    /// Scaling keeps the counts already recorded: a key that used 50 of 60 is denied at
    /// once when the limit drops to 42.
    #[must_use]
    pub fn scaled(&self, factor: f64) -> Policy {
        let tiers = self.inner.tiers.iter().map(|t| t.scaled(factor)).collect();
        let inner = Inner {
            algorithm: self.inner.algorithm,
            tiers,
            shape: self.inner.shape,
            widths: self.inner.widths,
            narrow: self.inner.narrow,
        };
        Policy {
            inner: Arc::new(inner),
        }
    }

    /// A fingerprint of what the stored state depends on (algorithm, buckets, windows,
    /// counter width): state recorded under another shape is started afresh.
    pub(crate) fn shape(&self) -> u64 {
        self.inner.shape
    }

    /// The sliding-window bucket width of tier `index`, in nanoseconds.
    pub(crate) fn bucket_width(&self, index: usize) -> u64 {
        self.inner.widths[index]
    }

    /// The limit tier `index` counts to: its limit, saturated for a sliding window to
    /// the largest count its counters keep.
    pub(crate) fn counted_limit(&self, index: usize) -> u64 {
        let limit = self.inner.tiers.get(index).map_or(0, Tier::limit);
        match self.inner.algorithm {
            Algorithm::SlidingWindow { .. } if self.inner.narrow => limit.min(NARROW_WINDOW_LIMIT),
            Algorithm::SlidingWindow { .. } => limit.min(MAX_WINDOW_LIMIT),
            Algorithm::Gcra => limit,
        }
    }

    /// Whether sliding-window counts fit in 16 bits: every limit the policy was built
    /// with is at most [`NARROW_WINDOW_LIMIT`]. Kept by [`Policy::scaled`], so that the
    /// stored state keeps its layout under adaptive scaling.
    pub(crate) fn narrow(&self) -> bool {
        self.inner.narrow
    }
}

impl Default for Policy {
    /// 60 per minute, 1000 per hour, 10000 per day, as a sliding window of 10 buckets.
    fn default() -> Self {
        let inner = PolicyConfig::default().build();
        // The default configuration is valid by construction (checked by a test); the
        // fallback keeps this function total all the same.
        inner.unwrap_or_else(|_| Policy::single_fallback())
    }
}

impl Policy {
    fn single_fallback() -> Policy {
        let tier = Tier::build("1m".to_owned(), Duration::from_secs(60), 60, 60);
        let algorithm = Algorithm::default();
        let narrow = narrow_of(std::slice::from_ref(&tier));
        let shape = shape_of(algorithm, std::slice::from_ref(&tier), narrow);
        let inner = Inner {
            algorithm,
            widths: widths_of(algorithm, std::slice::from_ref(&tier)),
            tiers: vec![tier],
            shape,
            narrow,
        };
        Policy {
            inner: Arc::new(inner),
        }
    }
}

/// A policy as written in YAML or TOML.
///
/// ```yaml
/// algorithm: sliding_window   # or gcra; default sliding_window
/// buckets: 10                 # sliding window only; default 10
/// tiers:                      # default: 1m: 60, 1h: 1000, 1d: 10000
///   1m: 60                    # the name is the window
///   1h: { limit: 1000 }
///   burst-minute: { window: 1m, limit: 60, burst: 10 }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `sliding_window` (default) or `gcra`.
    #[serde(default)]
    pub algorithm: AlgorithmName,
    /// Buckets of the sliding window, 1 to 60; default 10.
    #[serde(default = "default_buckets")]
    pub buckets: u32,
    /// Tiers by name: a limit alone (the name is then the window) or a table.
    #[serde(default = "default_tiers")]
    pub tiers: BTreeMap<String, TierConfig>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            algorithm: AlgorithmName::default(),
            buckets: DEFAULT_BUCKETS,
            tiers: default_tiers(),
        }
    }
}

impl PolicyConfig {
    /// Validates the configuration and builds the policy.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] naming the first field whose value is not usable.
    pub fn build(&self) -> Result<Policy, PolicyError> {
        let algorithm = match self.algorithm {
            AlgorithmName::SlidingWindow => Algorithm::SlidingWindow {
                buckets: self.buckets,
            },
            AlgorithmName::Gcra => Algorithm::Gcra,
        };
        let tiers = self
            .tiers
            .iter()
            .map(|(name, tier)| tier.build(name))
            .collect::<Result<Vec<_>, _>>()?;
        Policy::new(algorithm, tiers)
    }
}

/// The name of an algorithm in a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmName {
    /// [`Algorithm::SlidingWindow`].
    #[default]
    SlidingWindow,
    /// [`Algorithm::Gcra`].
    Gcra,
}

/// One tier in a configuration file: a limit alone, or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TierConfig {
    /// Just the limit; the tier's name is its window (`1m: 60`).
    Limit(u64),
    /// A table with the limit and optionally the window and the GCRA burst.
    Table {
        /// Units per window (at least 1).
        limit: u64,
        /// The window, such as `30s`, `1m`, `1h`, `1d`; default: the tier's name.
        #[serde(default)]
        window: Option<String>,
        /// GCRA burst (at least 1); default: the limit.
        #[serde(default)]
        burst: Option<u64>,
    },
}

impl TierConfig {
    fn build(&self, name: &str) -> Result<Tier, PolicyError> {
        match self {
            TierConfig::Limit(limit) => Tier::from_window_name(name, *limit),
            TierConfig::Table {
                limit,
                window,
                burst,
            } => {
                let window = window.as_deref().unwrap_or(name);
                let window = parse_duration(window).map_err(|reason| {
                    PolicyError::invalid(format!("tiers.{name}.window"), reason)
                })?;
                let tier = Tier::new(name, window, *limit)?;
                match burst {
                    Some(burst) => tier.with_burst(*burst),
                    None => Ok(tier),
                }
            }
        }
    }
}

/// Why a policy could not be built or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A field has a value the policy cannot use; the message names the field.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, such as `tiers.1m.limit`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The text is not a policy in YAML.
    #[error("cannot read the policy as YAML: {0}")]
    Yaml(String),
    /// The text is not a policy in TOML.
    #[error("cannot read the policy as TOML: {0}")]
    Toml(String),
}

impl PolicyError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        PolicyError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Reads a duration written as a whole number and a unit: `ms`, `s`, `m`, `h`, `d`, `w`
/// (`500ms`, `30s`, `1m`, `1h`, `1d`, `1w`). Huge values saturate.
///
/// # Errors
///
/// A message saying what is wrong, when the text is not such a duration or is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit (use ms, s, m, h, d or w)"))?;
    let (digits, unit) = text.split_at(split);
    let value: u64 = match digits.parse() {
        Ok(v) => v,
        Err(_) if !digits.is_empty() => u64::MAX,
        Err(_) => return Err(format!("`{text}` does not start with a number")),
    };
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => {
            return Err(format!(
                "`{text}` has an unknown unit (use ms, s, m, h, d or w)"
            ));
        }
    };
    if value == 0 {
        return Err("must be longer than zero".to_owned());
    }
    Ok(Duration::from_millis(value.saturating_mul(millis_per_unit)))
}

fn default_buckets() -> u32 {
    DEFAULT_BUCKETS
}

fn default_tiers() -> BTreeMap<String, TierConfig> {
    [("1m", 60), ("1h", 1000), ("1d", 10_000)]
        .into_iter()
        .map(|(name, limit)| (name.to_owned(), TierConfig::Limit(limit)))
        .collect()
}

fn check_name(name: &str) -> Result<(), PolicyError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() || name.len() > 32 || !name.chars().all(ok_char) {
        let reason = "a tier name is 1 to 32 characters of A-Z, a-z, 0-9, '_', '.', '-'";
        return Err(PolicyError::invalid(format!("tiers.{name}"), reason));
    }
    Ok(())
}

fn check_algorithm(algorithm: Algorithm) -> Result<(), PolicyError> {
    if let Algorithm::SlidingWindow { buckets } = algorithm
        && !(1..=MAX_BUCKETS).contains(&buckets)
    {
        let reason = format!("must be from 1 to {MAX_BUCKETS}");
        return Err(PolicyError::invalid("buckets", reason));
    }
    Ok(())
}

fn check_tier_count(count: usize) -> Result<(), PolicyError> {
    if count == 0 {
        return Err(PolicyError::invalid(
            "tiers",
            "a policy needs at least one tier",
        ));
    }
    if count > MAX_TIERS {
        let reason = format!("{count} tiers; a policy has at most {MAX_TIERS}");
        return Err(PolicyError::invalid("tiers", reason));
    }
    Ok(())
}

fn shape_of(algorithm: Algorithm, tiers: &[Tier], narrow: bool) -> u64 {
    // DefaultHasher::new() uses fixed keys: the fingerprint is stable within a process,
    // which is all the in-memory store needs.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    algorithm.hash(&mut hasher);
    if let Algorithm::SlidingWindow { .. } = algorithm {
        narrow.hash(&mut hasher);
    }
    for tier in tiers {
        tier.window.hash(&mut hasher);
    }
    hasher.finish()
}

fn narrow_of(tiers: &[Tier]) -> bool {
    tiers.iter().all(|t| t.limit <= NARROW_WINDOW_LIMIT)
}

fn widths_of(algorithm: Algorithm, tiers: &[Tier]) -> [u64; MAX_TIERS] {
    let buckets = match algorithm {
        Algorithm::SlidingWindow { buckets } => u64::from(buckets.max(1)),
        Algorithm::Gcra => 1,
    };
    let mut widths = [1; MAX_TIERS];
    for (width, tier) in widths.iter_mut().zip(tiers) {
        *width = tier.window_nanos().div_ceil(buckets).max(1);
    }
    widths
}

fn scale(value: u64, factor: f64) -> u64 {
    if !factor.is_finite() || factor <= 0.0 {
        return value;
    }
    // `as` from f64 saturates at u64::MAX, which is the behaviour wanted here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let scaled = (value as f64 * factor).floor() as u64;
    scaled.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_sixty_a_minute_thousand_an_hour_ten_thousand_a_day() {
        let policy = Policy::default();
        let tiers: Vec<_> = policy
            .tiers()
            .iter()
            .map(|t| (t.name(), t.window().as_secs(), t.limit()))
            .collect();
        assert_eq!(
            tiers,
            [("1m", 60, 60), ("1h", 3600, 1000), ("1d", 86_400, 10_000)]
        );
        assert_eq!(policy, PolicyConfig::default().build().unwrap());
    }

    #[test]
    fn loads_the_same_policy_from_yaml_and_toml() {
        let yaml =
            "algorithm: gcra\ntiers:\n  1m: 60\n  hour: { window: 1h, limit: 1000, burst: 5 }\n";
        let toml = "algorithm = \"gcra\"\n[tiers]\n1m = 60\nhour = { window = \"1h\", limit = 1000, burst = 5 }\n";
        let a = Policy::from_yaml(yaml).unwrap();
        let b = Policy::from_toml(toml).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.algorithm(), Algorithm::Gcra);
        assert_eq!(a.tiers()[1].burst(), 5);
    }

    #[test]
    fn rejects_a_zero_limit_naming_the_field() {
        let err = Policy::from_yaml("tiers:\n  1m: 0\n").unwrap_err();
        assert_eq!(err.to_string(), "tiers.1m.limit: must be at least 1");
    }

    #[test]
    fn rejects_a_zero_window_naming_the_field() {
        let err = Policy::from_yaml("tiers:\n  a: { window: 0s, limit: 5 }\n").unwrap_err();
        assert_eq!(err.to_string(), "tiers.a.window: must be longer than zero");
        let err = Policy::from_tiers([("0m", 5)]).unwrap_err();
        assert!(err.to_string().starts_with("tiers.0m"), "{err}");
    }

    #[test]
    fn rejects_zero_burst_bad_buckets_no_tiers_and_unknown_fields() {
        let cases = [
            (
                "algorithm: gcra\ntiers:\n  1m: { limit: 5, burst: 0 }\n",
                "tiers.1m.burst",
            ),
            ("buckets: 0\n", "buckets"),
            ("buckets: 61\n", "buckets"),
            ("tiers: {}\n", "tiers"),
        ];
        for (yaml, field) in cases {
            let err = Policy::from_yaml(yaml).unwrap_err();
            assert!(err.to_string().starts_with(field), "{yaml}: {err}");
        }
        assert!(matches!(
            Policy::from_yaml("limit: 5\n"),
            Err(PolicyError::Yaml(_))
        ));
    }

    #[test]
    fn huge_windows_and_limits_saturate() {
        let policy = Policy::from_tiers([("99999999999999999999d", u64::MAX)]).unwrap();
        let tier = &policy.tiers()[0];
        assert_eq!(tier.limit(), u64::MAX);
        assert!(tier.window() >= Duration::from_secs(u64::MAX / 1000 - 1));
        assert_eq!(tier.emission_interval_nanos(), 1);
        assert_eq!(policy.scaled(2.0).tiers()[0].limit(), u64::MAX);
    }

    #[test]
    fn scaling_rounds_down_keeps_at_least_one_and_ignores_nonsense() {
        let policy = Policy::default();
        let limits = |p: &Policy| p.tiers().iter().map(Tier::limit).collect::<Vec<_>>();
        assert_eq!(limits(&policy.scaled(0.7)), [42, 700, 7000]);
        assert_eq!(limits(&policy.scaled(0.001)), [1, 1, 10]);
        assert_eq!(limits(&policy.scaled(f64::NAN)), [60, 1000, 10_000]);
        assert_eq!(policy.scaled(0.5).shape(), policy.shape());
    }

    #[test]
    fn parses_durations_in_every_unit() {
        let cases = [
            ("500ms", 500),
            ("30s", 30_000),
            ("1m", 60_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("1w", 604_800_000),
        ];
        for (text, millis) in cases {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(millis)));
        }
        for bad in ["", "m", "10", "10y", "-1m", "1.5m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
