//! The monitor under a manual clock: sliding windows, cool-down, groups and their bound.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bee_audit::{
    AbuseResponse, Activity, Actor, AlertKind, Event, KeyRef, Label, ManualClock, Monitor,
    MonitorConfig, Outcome, Record, Source, Verbatim,
};
use jiff::Timestamp;

fn start() -> Timestamp {
    Timestamp::from_second(1_760_000_000).unwrap()
}

fn monitor(config: MonitorConfig) -> (Monitor, ManualClock) {
    let clock = ManualClock::new(start());
    (
        Monitor::new(config, Arc::new(clock.clone())).unwrap(),
        clock,
    )
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn failed_login(from: &str) -> Record {
    let event = Event::new(
        start(),
        Activity::Authentication {
            method: Label::new("api_key").unwrap(),
            reason: None,
        },
    )
    .outcome(Outcome::Failure)
    .source(Source::address(ip(from)));
    Record::scrub(event, &Verbatim)
}

fn abuse_flag(key: &KeyRef, from: &str) -> Record {
    let event = Event::new(
        start(),
        Activity::AbuseAction {
            action: AbuseResponse::Challenge,
            reason: None,
        },
    )
    .actor(Actor {
        key: Some(key.clone()),
        ..Actor::default()
    })
    .source(Source::address(ip(from)));
    Record::scrub(event, &Verbatim)
}

/// Feeds `record` at each offset (seconds from the start); returns the alert count.
fn feed_at(monitor: &Monitor, clock: &ManualClock, record: &Record, offsets: &[u64]) -> usize {
    offsets
        .iter()
        .map(|&s| {
            clock.set(start().checked_add(Duration::from_secs(s)).unwrap());
            monitor.observe(record).len()
        })
        .sum()
}

#[test]
fn five_failed_logins_in_300_seconds_raise_one_brute_force_alert() {
    let (monitor, clock) = monitor(MonitorConfig::default());
    let login = failed_login("203.0.113.5");
    assert_eq!(feed_at(&monitor, &clock, &login, &[0, 10, 20, 30]), 0);
    clock.advance(Duration::from_secs(1));
    let alerts = monitor.observe(&login);
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(
        (alert.kind, alert.count, alert.rule.as_str()),
        (AlertKind::BruteForce, 5, "brute_force")
    );
    assert_eq!(alert.group.to_string(), "address:203.0.113.5");
    assert_eq!(alert.window, Duration::from_secs(300));
}

#[test]
fn the_window_slides_rather_than_resetting_in_buckets() {
    let (monitor, clock) = monitor(MonitorConfig::default());
    let login = failed_login("203.0.113.5");
    // At 301 s the event at 0 s has left the window: four remain.
    assert_eq!(
        feed_at(&monitor, &clock, &login, &[0, 100, 200, 290, 301]),
        0
    );
    // At 350 s, 100..350 holds five.
    assert_eq!(feed_at(&monitor, &clock, &login, &[350]), 1);
}

#[test]
fn an_event_exactly_one_window_old_has_left_the_window() {
    let (monitor, clock) = monitor(MonitorConfig::default());
    let login = failed_login("203.0.113.5");
    assert_eq!(feed_at(&monitor, &clock, &login, &[0, 1, 2, 3, 300]), 0);
}

#[test]
fn one_burst_raises_one_alert_and_a_later_burst_raises_another() {
    let (monitor, clock) = monitor(MonitorConfig::default());
    let login = failed_login("198.51.100.7");
    let burst: Vec<u64> = (0..50).collect();
    assert_eq!(feed_at(&monitor, &clock, &login, &burst), 1);
    // Still inside the cool-down (300 s after the alert at 4 s).
    assert_eq!(feed_at(&monitor, &clock, &login, &[200, 250, 303]), 0);
    let later: Vec<u64> = (1000..1010).collect();
    assert_eq!(feed_at(&monitor, &clock, &login, &later), 1);
}

#[test]
fn successes_and_other_addresses_do_not_count() {
    let (monitor, clock) = monitor(MonitorConfig::default());
    let success = Record::scrub(
        failed_login("203.0.113.5")
            .event()
            .clone()
            .outcome(Outcome::Success),
        &Verbatim,
    );
    assert_eq!(feed_at(&monitor, &clock, &success, &[0, 1, 2, 3, 4, 5]), 0);
    let a = failed_login("203.0.113.5");
    let b = failed_login("203.0.113.6");
    assert_eq!(feed_at(&monitor, &clock, &a, &[10, 11, 12, 13]), 0);
    assert_eq!(feed_at(&monitor, &clock, &b, &[14, 15, 16, 17]), 0);
}

#[test]
fn events_without_the_grouping_field_are_not_counted() {
    let (monitor, clock) = monitor(MonitorConfig::default());
    let no_address = Record::scrub(
        Event::new(
            start(),
            Activity::Authentication {
                method: Label::new("k").unwrap(),
                reason: None,
            },
        )
        .outcome(Outcome::Failure),
        &Verbatim,
    );
    assert_eq!(
        feed_at(&monitor, &clock, &no_address, &[0, 1, 2, 3, 4, 5, 6]),
        0
    );
    assert_eq!(monitor.tracked_groups(), 0);
}

#[test]
fn tracked_groups_are_bounded_and_evictions_counted() {
    let config = MonitorConfig {
        max_groups: 3,
        ..MonitorConfig::default()
    };
    let (monitor, clock) = monitor(config);
    for i in 0..10 {
        feed_at(
            &monitor,
            &clock,
            &failed_login(&format!("192.0.2.{i}")),
            &[i],
        );
    }
    assert_eq!(monitor.tracked_groups(), 3);
    assert_eq!(monitor.evicted_groups(), 7);
}

#[test]
fn api_abuse_counts_distinct_addresses_per_key() {
    let (monitor, clock) = monitor(MonitorConfig::default());
    let key = KeyRef::parse("pb_AbCdEf012345").unwrap();
    let same = abuse_flag(&key, "192.0.2.1");
    assert_eq!(feed_at(&monitor, &clock, &same, &[0, 1, 2, 3, 4]), 0);
    assert_eq!(
        feed_at(&monitor, &clock, &abuse_flag(&key, "192.0.2.2"), &[5]),
        0
    );
    let alerts = {
        clock.advance(Duration::from_secs(1));
        monitor.observe(&abuse_flag(&key, "192.0.2.3"))
    };
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].kind, alerts[0].count), (AlertKind::ApiAbuse, 3));
}

#[test]
fn configuration_loads_from_yaml_and_names_bad_fields() {
    let yaml = r"
max_groups: 500
rules:
  - name: admin_denials
    alert: other
    kind: authorization
    outcome: failure
    group_by: tenant
    threshold: 3
    window_secs: 60
    cooldown_secs: 600
    severity: critical
";
    let config = MonitorConfig::from_yaml(yaml).unwrap();
    assert_eq!(config.max_groups, 500);
    assert_eq!(config.rules[0].cooldown_secs, Some(600));

    let zero = yaml.replace("threshold: 3", "threshold: 0");
    let error = MonitorConfig::from_yaml(&zero).unwrap_err().to_string();
    assert!(error.contains("rules[0].threshold"), "{error}");
    let error = MonitorConfig::from_yaml("max_groups: 0")
        .unwrap_err()
        .to_string();
    assert!(error.contains("max_groups"), "{error}");

    let defaults = MonitorConfig::from_yaml("{}").unwrap();
    assert_eq!(defaults, MonitorConfig::default());
    let thresholds: Vec<_> = defaults
        .rules
        .iter()
        .map(|r| (r.name.as_str(), r.threshold, r.window_secs))
        .collect();
    assert_eq!(
        thresholds,
        [
            ("brute_force", 5, 300),
            ("flood", 10, 600),
            ("pii_leak", 20, 3600),
            ("api_abuse", 3, 1800)
        ]
    );
}
