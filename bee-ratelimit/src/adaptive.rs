//! Adaptive limits: a load signal mapped to levels whose multipliers shrink every limit,
//! with hysteresis so that levels do not flap.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;

use crate::clock::{Clock, SystemClock, Timestamp};
use crate::policy::{PolicyError, parse_duration};

/// How loaded the service is, from normal to critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Limits as configured.
    Normal = 0,
    /// Limits shrunk a little (default ×0.7).
    Medium = 1,
    /// Limits halved (default ×0.5).
    High = 2,
    /// Limits nearly closed (default ×0.1).
    Critical = 3,
}

impl Level {
    const ALL: [Level; 4] = [Level::Normal, Level::Medium, Level::High, Level::Critical];

    fn from_index(index: u8) -> Level {
        Level::ALL[usize::from(index.min(3))]
    }
}

/// One reading of the service's load. Every part is optional; the pressure is that of
/// the most loaded part.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadSample {
    /// CPU use, 0.0 to 1.0.
    pub cpu: Option<f64>,
    /// Memory use, 0.0 to 1.0.
    pub memory: Option<f64>,
    /// Requests in flight.
    pub in_flight: Option<u64>,
    /// A moving average of response latency.
    pub latency: Option<Duration>,
}

/// Where load readings come from: the server plugs in CPU and memory readings of its
/// platform, or uses [`LoadGauges`].
pub trait LoadSignal: Send + Sync + std::fmt::Debug {
    /// The load now.
    fn sample(&self) -> LoadSample;
}

/// How load maps to levels. Loads from YAML or TOML; every field has a default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptiveConfig {
    /// Limit multipliers for normal, medium, high, critical (default 1.0, 0.7, 0.5, 0.1).
    pub multipliers: [f64; 4],
    /// Pressure (0.0 to 1.0) from which medium, high and critical start
    /// (default 0.70, 0.85, 0.95).
    pub enter: [f64; 3],
    /// How far below a level's start the pressure must fall to leave it (default 0.10).
    pub hysteresis: f64,
    /// The least time spent at a level before stepping down (default `10s`).
    pub min_dwell: String,
    /// In-flight requests that count as full pressure (default 1000).
    pub max_in_flight: u64,
    /// Average latency that counts as full pressure (default `5s`).
    pub max_latency: String,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            multipliers: [1.0, 0.7, 0.5, 0.1],
            enter: [0.70, 0.85, 0.95],
            hysteresis: 0.10,
            min_dwell: "10s".to_owned(),
            max_in_flight: 1000,
            max_latency: "5s".to_owned(),
        }
    }
}

/// The current load level, updated from a [`LoadSignal`].
#[derive(Debug)]
pub struct Adaptive {
    config: Checked,
    signal: Arc<dyn LoadSignal>,
    clock: Arc<dyn Clock>,
    level: AtomicU8,
    since: Mutex<Timestamp>,
}

impl Adaptive {
    /// Levels from `signal` by `config`, on the system clock.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] naming the first field out of range: multipliers outside
    /// (0, 1], thresholds not rising within (0, 1], hysteresis outside [0, 1), bad durations.
    pub fn new(config: &AdaptiveConfig, signal: Arc<dyn LoadSignal>) -> Result<Self, PolicyError> {
        Self::with_clock(config, signal, Arc::new(SystemClock))
    }

    /// The same, reading time from `clock`.
    ///
    /// # Errors
    ///
    /// As [`Adaptive::new`].
    pub fn with_clock(
        config: &AdaptiveConfig,
        signal: Arc<dyn LoadSignal>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PolicyError> {
        let since = clock.now();
        Ok(Adaptive {
            config: Checked::from(config)?,
            signal,
            clock,
            level: AtomicU8::new(0),
            since: Mutex::new(since),
        })
    }

    /// Samples the signal and moves the level: up at once, down only once the pressure
    /// is `hysteresis` below the current level's start and the level has lasted
    /// `min_dwell`. Call it periodically (every second, say) or per request.
    pub fn update(&self) -> Level {
        let pressure = self.config.pressure(&self.signal.sample());
        let now = self.clock.now();
        let mut since = self.since.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.level();
        let target = self
            .config
            .target(current, pressure, now.saturating_since(*since));
        if target != current {
            self.level.store(target as u8, Ordering::Relaxed);
            *since = now;
            tracing::debug!(from = ?current, to = ?target, pressure, "load level changed");
        }
        target
    }

    /// The current level (as of the last [`Adaptive::update`]).
    pub fn level(&self) -> Level {
        Level::from_index(self.level.load(Ordering::Relaxed))
    }

    /// The current level's limit multiplier.
    pub fn multiplier(&self) -> f64 {
        self.config.multipliers[self.level() as usize]
    }
}

/// In-flight requests and a latency average, kept by the server's middleware: a ready
/// [`LoadSignal`] (without CPU or memory, which are the platform's business).
#[derive(Debug)]
pub struct LoadGauges {
    in_flight: AtomicU64,
    latency_micros: AtomicU64,
    weight: f64,
}

impl LoadGauges {
    /// Gauges whose latency average gives each new latency a weight of `weight`
    /// (0.0 to 1.0; 0.1 is a common choice).
    pub fn new(weight: f64) -> Self {
        LoadGauges {
            in_flight: AtomicU64::new(0),
            latency_micros: AtomicU64::new(0),
            weight: if weight.is_finite() {
                weight.clamp(0.0, 1.0)
            } else {
                0.1
            },
        }
    }

    /// Counts a request in flight until the guard drops.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            gauges: Arc::clone(self),
        }
    }

    /// Adds one response latency to the moving average.
    pub fn record_latency(&self, latency: Duration) {
        let sample = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX) as f64;
        // A lost race between two updates loses one sample, which an average can afford.
        let old = self.latency_micros.load(Ordering::Relaxed) as f64;
        let new = if old == 0.0 {
            sample
        } else {
            old + self.weight * (sample - old)
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.latency_micros.store(new as u64, Ordering::Relaxed);
    }
}

impl LoadSignal for LoadGauges {
    fn sample(&self) -> LoadSample {
        LoadSample {
            in_flight: Some(self.in_flight.load(Ordering::Relaxed)),
            latency: Some(Duration::from_micros(
                self.latency_micros.load(Ordering::Relaxed),
            )),
            ..LoadSample::default()
        }
    }
}

/// A request counted in flight by [`LoadGauges::enter`].
#[derive(Debug)]
pub struct InFlight {
    gauges: Arc<LoadGauges>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauges.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Checked {
    multipliers: [f64; 4],
    enter: [f64; 3],
    hysteresis: f64,
    min_dwell: Duration,
    max_in_flight: u64,
    max_latency: Duration,
}

impl Checked {
    fn from(c: &AdaptiveConfig) -> Result<Self, PolicyError> {
        let unit = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        if !c.multipliers.iter().all(|&m| unit(m)) {
            return Err(PolicyError::invalid(
                "multipliers",
                "each must be in (0, 1]",
            ));
        }
        let rising = c.enter.windows(2).all(|w| w[0] < w[1]);
        if !c.enter.iter().all(|&e| unit(e)) || !rising {
            return Err(PolicyError::invalid("enter", "must rise within (0, 1]"));
        }
        if !(c.hysteresis.is_finite() && (0.0..1.0).contains(&c.hysteresis)) {
            return Err(PolicyError::invalid("hysteresis", "must be in [0, 1)"));
        }
        if c.max_in_flight == 0 {
            return Err(PolicyError::invalid("max_in_flight", "must be at least 1"));
        }
        let duration = |field: &str, text: &str| {
            parse_duration(text).map_err(|reason| PolicyError::invalid(field, reason))
        };
        Ok(Checked {
            multipliers: c.multipliers,
            enter: c.enter,
            hysteresis: c.hysteresis,
            min_dwell: duration("min_dwell", &c.min_dwell)?,
            max_in_flight: c.max_in_flight,
            max_latency: duration("max_latency", &c.max_latency)?,
        })
    }

    fn pressure(&self, s: &LoadSample) -> f64 {
        let in_flight = s.in_flight.map(|n| n as f64 / self.max_in_flight as f64);
        let latency = s
            .latency
            .map(|l| l.as_secs_f64() / self.max_latency.as_secs_f64().max(f64::MIN_POSITIVE));
        [s.cpu, s.memory, in_flight, latency]
            .into_iter()
            .flatten()
            .filter(|p| p.is_finite())
            .fold(0.0, f64::max)
    }

    /// The level for `pressure`, given the current level and how long it has lasted.
    fn target(&self, current: Level, pressure: f64, dwelt: Duration) -> Level {
        let raw = self.enter.iter().filter(|&&e| pressure >= e).count();
        let raw = Level::from_index(u8::try_from(raw).unwrap_or(3));
        if raw >= current {
            return raw;
        }
        if dwelt < self.min_dwell {
            return current;
        }
        // Step down only to the highest level whose start, less the hysteresis, is
        // still below the pressure: a pressure hovering at a threshold does not flap.
        let kept = self
            .enter
            .iter()
            .take(current as usize)
            .filter(|&&e| pressure >= e - self.hysteresis)
            .count();
        Level::from_index(u8::try_from(kept).unwrap_or(3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[derive(Debug, Default)]
    struct Dial(Mutex<f64>);

    impl LoadSignal for Dial {
        fn sample(&self) -> LoadSample {
            LoadSample {
                cpu: Some(*self.0.lock().unwrap()),
                ..LoadSample::default()
            }
        }
    }

    fn adaptive(clock: &ManualClock) -> (Arc<Dial>, Adaptive) {
        let dial = Arc::new(Dial::default());
        let signal: Arc<dyn LoadSignal> = dial.clone();
        let a = Adaptive::with_clock(&AdaptiveConfig::default(), signal, Arc::new(clock.clone()))
            .unwrap();
        (dial, a)
    }

    #[test]
    fn load_rises_through_the_levels_at_once() {
        let clock = ManualClock::at_2025();
        let (dial, a) = adaptive(&clock);
        let mut seen = Vec::new();
        for p in [0.1, 0.72, 0.9, 0.97] {
            *dial.0.lock().unwrap() = p;
            seen.push((a.update(), a.multiplier()));
        }
        assert_eq!(
            seen,
            [
                (Level::Normal, 1.0),
                (Level::Medium, 0.7),
                (Level::High, 0.5),
                (Level::Critical, 0.1)
            ]
        );
    }

    #[test]
    fn a_pressure_hovering_at_a_threshold_does_not_flap() {
        let clock = ManualClock::at_2025();
        let (dial, a) = adaptive(&clock);
        let mut levels = Vec::new();
        for p in [0.71, 0.69, 0.71, 0.65, 0.69, 0.61, 0.59] {
            *dial.0.lock().unwrap() = p;
            clock.advance(Duration::from_secs(11));
            levels.push(a.update());
        }
        use Level::*;
        assert_eq!(
            levels,
            [Medium, Medium, Medium, Medium, Medium, Medium, Normal]
        );
    }

    #[test]
    fn a_level_lasts_its_dwell_time_before_stepping_down() {
        let clock = ManualClock::at_2025();
        let (dial, a) = adaptive(&clock);
        *dial.0.lock().unwrap() = 0.99;
        assert_eq!(a.update(), Level::Critical);
        *dial.0.lock().unwrap() = 0.0;
        clock.advance(Duration::from_secs(9));
        assert_eq!(a.update(), Level::Critical);
        clock.advance(Duration::from_secs(1));
        assert_eq!(a.update(), Level::Normal);
    }

    #[test]
    fn gauges_count_in_flight_requests_and_average_latency() {
        let gauges = Arc::new(LoadGauges::new(0.5));
        let guard = gauges.enter();
        gauges.record_latency(Duration::from_millis(100));
        gauges.record_latency(Duration::from_millis(300));
        let sample = gauges.sample();
        assert_eq!(sample.in_flight, Some(1));
        assert_eq!(sample.latency, Some(Duration::from_millis(200)));
        drop(guard);
        assert_eq!(gauges.sample().in_flight, Some(0));
    }

    #[test]
    fn rejects_nonsense_configuration_naming_the_field() {
        let bad = AdaptiveConfig {
            enter: [0.9, 0.8, 0.95],
            ..AdaptiveConfig::default()
        };
        let err = Adaptive::new(&bad, Arc::new(Dial::default())).unwrap_err();
        assert!(err.to_string().starts_with("enter"), "{err}");
        let bad = AdaptiveConfig {
            multipliers: [1.0, 0.0, 0.5, 0.1],
            ..AdaptiveConfig::default()
        };
        assert!(Adaptive::new(&bad, Arc::new(Dial::default())).is_err());
    }
}
