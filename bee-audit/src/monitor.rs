//! Watching events for attacks: rules over sliding windows, per group, with a cool-down.
//!
//! A [`Rule`] counts the events of one kind (optionally of one outcome) per group (the
//! client address, the key, the session, …) over a sliding window, and raises an
//! [`Alert`] when the count reaches its threshold. After an alert the group is quiet for a
//! cool-down (by default the window), so one burst raises one alert. Each rule tracks at
//! most [`MonitorConfig::max_groups`] groups; past that the group tracked longest is
//! forgotten and counted in [`Monitor::evicted_groups`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, elapsed};
use crate::event::{Activity, Event, EventKind, Outcome, Severity};
use crate::fields::{KeyRef, Label, Pseudonym};
use crate::scrub::Record;

/// What kind of attack an alert points to; playbooks are chosen by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Repeated failed authentication.
    BruteForce,
    /// Repeated rate-limit violations.
    Flood,
    /// Personal data leaking through a conversation.
    PiiLeak,
    /// One key used from several suspicious addresses.
    ApiAbuse,
    /// Anything else: alerted, no playbook.
    Other,
}

/// What a rule groups events by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The client address.
    Address,
    /// The API key.
    Key,
    /// The tenant.
    Tenant,
    /// The end user's pseudonym.
    User,
    /// The session or conversation.
    Session,
    /// The bot.
    Bot,
}

/// What a rule counts in its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// Matching events.
    #[default]
    Events,
    /// Distinct client addresses among matching events.
    DistinctAddresses,
}

/// One monitoring rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rule's name, recorded in its alerts.
    pub name: Label,
    /// The kind of attack it detects.
    pub alert: AlertKind,
    /// The event kind it counts.
    pub kind: EventKind,
    /// Only events with this outcome, when given.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// What it groups by.
    pub group_by: GroupBy,
    /// What it counts (default: events).
    #[serde(default)]
    pub count: Counting,
    /// The count that raises an alert (at least 1).
    pub threshold: u32,
    /// The sliding window, in seconds (at least 1).
    pub window_secs: u64,
    /// Quiet time after an alert, in seconds; the window when absent.
    #[serde(default)]
    pub cooldown_secs: Option<u64>,
    /// The alert's severity (default: high).
    #[serde(default = "high")]
    pub severity: Severity,
}

fn high() -> Severity {
    Severity::High
}

/// The monitor's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Groups tracked per rule at most (default 10 000).
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
    /// The rules (default: [`MonitorConfig::default_rules`]).
    #[serde(default = "MonitorConfig::default_rules")]
    pub rules: Vec<Rule>,
}

fn default_max_groups() -> usize {
    10_000
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            max_groups: default_max_groups(),
            rules: Self::default_rules(),
        }
    }
}

/// Why a monitor configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not valid YAML for the configuration.
    #[error("monitor configuration: {0}")]
    Parse(#[from] serde_yaml_ng::Error),
    /// A field has a value that cannot work.
    #[error("monitor configuration: {field} {problem}")]
    Invalid {
        /// The field, such as `rules[2].threshold`.
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl MonitorConfig {
    /// The defaults of the crate: 5 failed authentications per address in 300 s (brute
    /// force), 10 rate-limit violations per address in 600 s (flood), 20 PII detections
    /// per session in 3600 s (PII leak), and abuse flags for one key from 3 distinct
    /// addresses in 1800 s (API abuse).
    pub fn default_rules() -> Vec<Rule> {
        let rule = |name: &'static str, alert, kind, group_by, threshold, window_secs| Rule {
            name: Label::builtin(name),
            alert,
            kind,
            outcome: None,
            group_by,
            count: Counting::Events,
            threshold,
            window_secs,
            cooldown_secs: None,
            severity: Severity::High,
        };
        vec![
            Rule {
                outcome: Some(Outcome::Failure),
                ..rule(
                    "brute_force",
                    AlertKind::BruteForce,
                    EventKind::Authentication,
                    GroupBy::Address,
                    5,
                    300,
                )
            },
            Rule {
                severity: Severity::Medium,
                ..rule(
                    "flood",
                    AlertKind::Flood,
                    EventKind::RateLimit,
                    GroupBy::Address,
                    10,
                    600,
                )
            },
            rule(
                "pii_leak",
                AlertKind::PiiLeak,
                EventKind::PiiDetected,
                GroupBy::Session,
                20,
                3600,
            ),
            Rule {
                count: Counting::DistinctAddresses,
                ..rule(
                    "api_abuse",
                    AlertKind::ApiAbuse,
                    EventKind::AbuseAction,
                    GroupBy::Key,
                    3,
                    1800,
                )
            },
        ]
    }

    /// Reads and validates a configuration from YAML.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the field at fault.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = serde_yaml_ng::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks that every value can work.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first field at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: String, problem| Err(ConfigError::Invalid { field, problem });
        if self.max_groups == 0 {
            return invalid("max_groups".into(), "must be at least 1");
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.threshold == 0 {
                return invalid(format!("rules[{i}].threshold"), "must be at least 1");
            }
            if rule.window_secs == 0 {
                return invalid(format!("rules[{i}].window_secs"), "must be at least 1");
            }
            if self.rules[..i].iter().any(|r| r.name == rule.name) {
                return invalid(format!("rules[{i}].name"), "is used by an earlier rule");
            }
        }
        Ok(())
    }
}

/// The value of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupValue {
    /// A client address.
    Address(IpAddr),
    /// An API key.
    Key(KeyRef),
    /// A tenant.
    Tenant(Label),
    /// A user pseudonym.
    User(Pseudonym),
    /// A session.
    Session(Label),
    /// A bot.
    Bot(Label),
}

impl std::fmt::Display for GroupValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Address(a) => write!(f, "address:{a}"),
            Self::Key(k) => write!(f, "key:{k}"),
            Self::Tenant(t) => write!(f, "tenant:{t}"),
            Self::User(u) => write!(f, "user:{u}"),
            Self::Session(s) => write!(f, "session:{s}"),
            Self::Bot(b) => write!(f, "bot:{b}"),
        }
    }
}

/// An alert raised by a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The rule that fired.
    pub rule: Label,
    /// The kind of attack.
    pub kind: AlertKind,
    /// The group it fired for.
    pub group: GroupValue,
    /// The count in the window when it fired.
    pub count: u32,
    /// The rule's window.
    pub window: Duration,
    /// The alert's severity.
    pub severity: Severity,
    /// PII kinds seen in the window (for PII rules).
    pub labels: Vec<Label>,
    /// When it fired.
    pub at: Timestamp,
    /// The event that tipped the count over.
    pub trigger: Record,
}

/// Counts events per rule and group, and raises alerts.
pub struct Monitor {
    config: MonitorConfig,
    clock: Arc<dyn Clock>,
    rules: Mutex<Vec<RuleState>>,
    evicted: AtomicU64,
}

impl Monitor {
    /// A monitor with `config`, reading time from `clock`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the configuration does not validate.
    pub fn new(config: MonitorConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        config.validate()?;
        let rules = config.rules.iter().map(|_| RuleState::default()).collect();
        Ok(Self {
            config,
            clock,
            rules: Mutex::new(rules),
            evicted: AtomicU64::new(0),
        })
    }

    /// Counts `record` under every rule it matches; returns the alerts it raised.
    pub fn observe(&self, record: &Record) -> Vec<Alert> {
        let now = self.clock.now();
        let mut states = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        let mut alerts = Vec::new();
        for (rule, state) in self.config.rules.iter().zip(states.iter_mut()) {
            if !matches(rule, record) {
                continue;
            }
            let Some(group) = group_of(rule.group_by, record) else {
                continue;
            };
            let (tracked, evicted) = state.group(group.clone(), self.config.max_groups);
            if evicted {
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
            if let Some((count, labels)) = tracked.count(rule, record, now) {
                alerts.push(Alert {
                    rule: rule.name.clone(),
                    kind: rule.alert,
                    group,
                    count,
                    window: Duration::from_secs(rule.window_secs),
                    severity: rule.severity,
                    labels,
                    at: now,
                    trigger: record.clone(),
                });
            }
        }
        alerts
    }

    /// Groups forgotten because a rule tracked too many.
    pub fn evicted_groups(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Groups tracked now, over all rules.
    pub fn tracked_groups(&self) -> usize {
        let states = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        states.iter().map(|s| s.groups.len()).sum()
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("rules", &self.config.rules.len())
            .finish()
    }
}

fn matches(rule: &Rule, event: &Event) -> bool {
    event.kind() == rule.kind && rule.outcome.is_none_or(|o| o == event.outcome)
}

fn group_of(by: GroupBy, event: &Event) -> Option<GroupValue> {
    match by {
        GroupBy::Address => event.source.address.map(GroupValue::Address),
        GroupBy::Key => event.actor.key.clone().map(GroupValue::Key),
        GroupBy::Tenant => event.actor.tenant.clone().map(GroupValue::Tenant),
        GroupBy::User => event.actor.user.clone().map(GroupValue::User),
        GroupBy::Session => event.actor.session.clone().map(GroupValue::Session),
        GroupBy::Bot => event.target.bot.clone().map(GroupValue::Bot),
    }
}

#[derive(Default)]
struct RuleState {
    groups: HashMap<GroupValue, GroupState>,
    /// Groups in the order they started being tracked, for eviction.
    order: VecDeque<GroupValue>,
}

impl RuleState {
    /// The state of `group`, and whether another group was forgotten to make room.
    fn group(&mut self, group: GroupValue, max: usize) -> (&mut GroupState, bool) {
        let mut evicted = false;
        if !self.groups.contains_key(&group) {
            while self.groups.len() >= max {
                let Some(oldest) = self.order.pop_front() else {
                    break;
                };
                evicted |= self.groups.remove(&oldest).is_some();
            }
            self.order.push_back(group.clone());
        }
        (self.groups.entry(group).or_default(), evicted)
    }
}

/// One group's recent events under one rule; each list holds at most what the rule
/// needs, so a group's memory is bounded by its threshold.
#[derive(Default)]
struct GroupState {
    hits: VecDeque<Timestamp>,
    addresses: VecDeque<(IpAddr, Timestamp)>,
    labels: BTreeMap<Label, Timestamp>,
    last_alert: Option<Timestamp>,
}

const MAX_LABELS: usize = 32;

impl GroupState {
    /// Counts one event; when it tips the count, the count and the labels in the window.
    fn count(&mut self, rule: &Rule, event: &Event, now: Timestamp) -> Option<(u32, Vec<Label>)> {
        let window = Duration::from_secs(rule.window_secs);
        let within = |t: Timestamp| elapsed(t, now) < window;
        let limit = usize::try_from(rule.threshold).unwrap_or(usize::MAX);

        self.hits.retain(|&t| within(t));
        self.addresses.retain(|&(_, t)| within(t));
        self.labels.retain(|_, t| within(*t));

        let count = match rule.count {
            Counting::Events => {
                push_bounded(&mut self.hits, now, limit);
                self.hits.len()
            }
            Counting::DistinctAddresses => {
                if let Some(address) = event.source.address {
                    self.addresses.retain(|(a, _)| *a != address);
                    push_bounded(&mut self.addresses, (address, now), limit);
                }
                self.addresses.len()
            }
        };
        if let Activity::PiiDetected { kinds, .. } = &event.activity {
            for kind in kinds {
                if self.labels.len() < MAX_LABELS || self.labels.contains_key(kind) {
                    self.labels.insert(kind.clone(), now);
                }
            }
        }
        if count < limit || !self.quiet(rule, now) {
            return None;
        }
        self.last_alert = Some(now);
        let labels = self.labels.keys().cloned().collect();
        Some((u32::try_from(count).unwrap_or(u32::MAX), labels))
    }

    fn quiet(&self, rule: &Rule, now: Timestamp) -> bool {
        let cooldown = Duration::from_secs(rule.cooldown_secs.unwrap_or(rule.window_secs));
        self.last_alert.is_none_or(|t| elapsed(t, now) >= cooldown)
    }
}

fn push_bounded<T>(list: &mut VecDeque<T>, item: T, limit: usize) {
    list.push_back(item);
    while list.len() > limit {
        list.pop_front();
    }
}
