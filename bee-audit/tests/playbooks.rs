//! Every playbook, end to end through the auditor: alert, actions, and their events.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bee_audit::{
    AbuseResponse, Action, ActionError, ActionFuture, Actions, Activity, Actor, Alert, AuditSink,
    Auditor, Direction, Event, EventKind, KeyRef, Label, ManualClock, MemorySink, Monitor,
    MonitorConfig, Outcome, Playbooks, Query, RecordedActions, Source, Target,
};
use jiff::Timestamp;

struct Setup {
    auditor: Auditor,
    actions: Arc<RecordedActions>,
    memory: Arc<MemorySink>,
    clock: ManualClock,
}

fn setup() -> Setup {
    setup_with(Arc::new(RecordedActions::default()))
}

fn setup_with(actions: Arc<RecordedActions>) -> Setup {
    let clock = ManualClock::new(Timestamp::from_second(1_760_000_000).unwrap());
    let memory = Arc::new(MemorySink::new(1000));
    let monitor = Monitor::new(MonitorConfig::default(), Arc::new(clock.clone())).unwrap();
    let sink: Arc<dyn AuditSink> = memory.clone();
    let auditor = Auditor::builder(sink, Arc::new(clock.clone()))
        .monitor(monitor)
        .playbooks(Playbooks::default(), actions.clone())
        .build();
    Setup {
        auditor,
        actions,
        memory,
        clock,
    }
}

fn key() -> KeyRef {
    KeyRef::parse("pb_Zx9Yw8Vu7Ts6").unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn label(text: &str) -> Label {
    Label::new(text).unwrap()
}

impl Setup {
    async fn feed(&self, event: Event, times: usize) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for _ in 0..times {
            self.clock.advance(Duration::from_secs(1));
            alerts.extend(self.auditor.record(event.clone()).await.unwrap());
        }
        alerts
    }

    fn events(&self, kind: EventKind) -> Vec<Event> {
        let query = Query {
            kind: Some(kind),
            ..Query::default()
        };
        self.memory
            .query(&query)
            .into_iter()
            .rev()
            .map(|r| r.event().clone())
            .collect()
    }
}

fn pii(kinds: &[&str]) -> Event {
    Event::new(
        Timestamp::UNIX_EPOCH,
        Activity::PiiDetected {
            kinds: kinds.iter().map(|k| label(k)).collect(),
            count: 1,
            direction: Direction::Output,
        },
    )
    .actor(Actor {
        session: Some(label("conv-42")),
        ..Actor::default()
    })
    .target(Target {
        bot: Some(label("bot-7")),
        resource: None,
    })
}

#[tokio::test]
async fn brute_force_blocks_the_address_for_an_hour_and_suspends_the_key() {
    let s = setup();
    let login = Event::new(
        Timestamp::UNIX_EPOCH,
        Activity::Authentication {
            method: label("api_key"),
            reason: Some(label("bad_secret")),
        },
    )
    .outcome(Outcome::Failure)
    .correlation_id(label("req-1"))
    .actor(Actor {
        key: Some(key()),
        ..Actor::default()
    })
    .source(Source::address(ip("203.0.113.50")));
    let alerts = s.feed(login, 5).await;
    assert_eq!(alerts.len(), 1);

    assert_eq!(
        s.actions.taken(),
        [
            Action::BlockAddress {
                address: ip("203.0.113.50"),
                duration: Duration::from_secs(3600)
            },
            Action::SuspendKey { key: key() },
        ]
    );
    let alert_events = s.events(EventKind::SecurityAlert);
    assert_eq!(alert_events.len(), 1);
    assert_eq!(alert_events[0].correlation_id, Some(label("req-1")));
    let actions = s.events(EventKind::IncidentAction);
    assert_eq!(actions.len(), 2);
    let json = serde_json::to_string(&actions[1]).unwrap();
    assert!(json.contains("\"name\":\"suspend_key\""), "{json}");
    assert!(
        json.contains("pb_Zx9Y\u{2026}") && !json.contains("Zx9Yw8Vu7Ts6"),
        "{json}"
    );
    assert!(actions.iter().all(|e| e.outcome == Outcome::Success));
}

#[tokio::test]
async fn flood_blocks_the_address() {
    let s = setup();
    let limited = Event::new(
        Timestamp::UNIX_EPOCH,
        Activity::RateLimit {
            limit: label("address_per_minute"),
            retry_after_secs: Some(30),
        },
    )
    .outcome(Outcome::Failure)
    .source(Source::address(ip("198.51.100.9")));
    assert_eq!(s.feed(limited, 10).await.len(), 1);
    assert_eq!(
        s.actions.taken(),
        [Action::BlockAddress {
            address: ip("198.51.100.9"),
            duration: Duration::from_secs(3600)
        }]
    );
}

#[tokio::test]
async fn pii_leak_of_two_kinds_ends_the_session_only() {
    let s = setup();
    s.feed(pii(&["email"]), 10).await;
    let alerts = s.feed(pii(&["phone"]), 10).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels, [label("email"), label("phone")]);
    assert_eq!(
        s.actions.taken(),
        [Action::EndSession {
            session: label("conv-42")
        }]
    );
}

#[tokio::test]
async fn pii_leak_of_more_than_two_kinds_also_quarantines_the_bot() {
    let s = setup();
    s.feed(pii(&["email", "phone"]), 19).await;
    assert_eq!(s.feed(pii(&["iban"]), 1).await.len(), 1);
    assert_eq!(
        s.actions.taken(),
        [
            Action::EndSession {
                session: label("conv-42")
            },
            Action::QuarantineBot {
                bot: label("bot-7")
            },
        ]
    );
}

#[tokio::test]
async fn api_abuse_throttles_the_key() {
    let s = setup();
    for address in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let flag = Event::new(
            Timestamp::UNIX_EPOCH,
            Activity::AbuseAction {
                action: AbuseResponse::Throttle,
                reason: Some(label("burst")),
            },
        )
        .actor(Actor {
            key: Some(key()),
            ..Actor::default()
        })
        .source(Source::address(ip(address)));
        s.feed(flag, 1).await;
    }
    assert_eq!(
        s.actions.taken(),
        [Action::ThrottleKey {
            key: key(),
            duration: Duration::from_secs(3600)
        }]
    );
}

struct Refusing;

impl Actions for Refusing {
    fn take<'a>(&'a self, _: &'a Action) -> ActionFuture<'a> {
        Box::pin(async { Err(ActionError("redis down at alice@example.com".into())) })
    }
}

#[tokio::test]
async fn a_failed_action_is_recorded_as_a_failure_with_its_error_scrubbed() {
    let clock = ManualClock::new(Timestamp::from_second(1_760_000_000).unwrap());
    let memory = Arc::new(MemorySink::new(100));
    let sink: Arc<dyn AuditSink> = memory.clone();
    let scrubber = |t: &str| t.replace("alice@example.com", "[email]");
    let auditor = Auditor::builder(sink, Arc::new(clock.clone()))
        .scrubber(Arc::new(scrubber))
        .monitor(Monitor::new(MonitorConfig::default(), Arc::new(clock.clone())).unwrap())
        .playbooks(Playbooks::default(), Arc::new(Refusing))
        .build();
    let limited = Event::new(
        Timestamp::UNIX_EPOCH,
        Activity::RateLimit {
            limit: label("l"),
            retry_after_secs: None,
        },
    )
    .source(Source::address(ip("198.51.100.1")));
    for _ in 0..10 {
        auditor.record(limited.clone()).await.unwrap();
    }
    let query = Query {
        kind: Some(EventKind::IncidentAction),
        ..Query::default()
    };
    let actions = memory.query(&query);
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].outcome, Outcome::Failure);
    let json = serde_json::to_string(&actions[0]).unwrap();
    assert!(json.contains("redis down at [email]"), "{json}");
}

#[tokio::test]
async fn without_a_scrubber_free_text_is_dropped() {
    let s = setup();
    s.auditor
        .record(
            Event::new(
                Timestamp::UNIX_EPOCH,
                Activity::ConfigChange {
                    setting: label("x"),
                },
            )
            .message("set by alice@example.com"),
        )
        .await
        .unwrap();
    let events = s.events(EventKind::ConfigChange);
    assert_eq!(events[0].message.as_deref(), Some("[removed]"));
}
