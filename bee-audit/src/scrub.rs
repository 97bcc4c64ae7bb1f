//! Free text passes a [`Scrubber`] before any sink sees it.

use std::ops::Deref;
use std::sync::Arc;

use serde_json::Value;

use crate::event::{Activity, Event};

/// Removes personal data and secrets from free text.
///
/// The host plugs its detector in here (the reference server uses bee-pii's redactor).
/// Every free-text field of an event passes through it: the message, the user agent,
/// string details and action errors.
pub trait Scrubber: Send + Sync {
    /// `text` with personal data and secrets replaced.
    fn scrub(&self, text: &str) -> String;
}

impl<F> Scrubber for F
where
    F: Fn(&str) -> String + Send + Sync,
{
    fn scrub(&self, text: &str) -> String {
        self(text)
    }
}

/// Keeps free text as it is: only for hosts whose events carry no free text from users,
/// and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verbatim;

impl Scrubber for Verbatim {
    fn scrub(&self, text: &str) -> String {
        text.to_owned()
    }
}

/// Drops free text altogether: the safe choice when no detector is plugged in.
///
/// Each free-text value becomes `[removed]`, so a reader sees that something was there.
#[derive(Debug, Clone, Copy, Default)]
pub struct DropText;

impl Scrubber for DropText {
    fn scrub(&self, _text: &str) -> String {
        "[removed]".to_owned()
    }
}

/// An event whose free text has been scrubbed: the only thing a sink accepts.
///
/// Sinks take a `Record` rather than an [`Event`], so that no path writes unscrubbed
/// text by accident. Cloning is cheap (the event is shared).
#[derive(Debug, Clone, PartialEq)]
pub struct Record(Arc<Event>);

impl Record {
    /// Scrubs the free text of `event` with `scrubber`.
    pub fn scrub(mut event: Event, scrubber: &dyn Scrubber) -> Self {
        scrub_in_place(&mut event, scrubber);
        Self(Arc::new(event))
    }

    /// The scrubbed event.
    pub fn event(&self) -> &Event {
        &self.0
    }
}

impl serde::Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl Deref for Record {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.0
    }
}

fn scrub_in_place(event: &mut Event, scrubber: &dyn Scrubber) {
    let scrub = |text: &mut String| *text = scrubber.scrub(text);
    event.message.as_mut().map(scrub);
    event.source.user_agent.as_mut().map(scrub);
    if let Activity::IncidentAction { action, .. } = &mut event.activity {
        action.error.as_mut().map(scrub);
    }
    for value in event.details.values_mut() {
        scrub_value(value, scrubber);
    }
}

fn scrub_value(value: &mut Value, scrubber: &dyn Scrubber) {
    match value {
        Value::String(text) => *text = scrubber.scrub(text),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, scrubber)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_value(v, scrubber)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::event::Source;
    use crate::fields::Label;

    #[test]
    fn every_free_text_field_passes_the_scrubber() {
        let event = Event::new(
            Timestamp::UNIX_EPOCH,
            Activity::ConfigChange {
                setting: Label::new("x").unwrap(),
            },
        )
        .message("mail alice@example.com")
        .source(Source {
            address: None,
            user_agent: Some("alice@example.com".into()),
        })
        .detail(
            Label::new("nested").unwrap(),
            serde_json::json!({"a": ["alice@example.com", 1], "b": "alice@example.com"}),
        );
        let scrubber = |t: &str| t.replace("alice@example.com", "[email]");
        let record = Record::scrub(event, &scrubber);
        let json = serde_json::to_string(record.event()).unwrap();
        assert!(!json.contains("alice"), "{json}");
        assert_eq!(json.matches("[email]").count(), 4, "{json}");
    }

    #[test]
    fn drop_text_removes_free_text_but_keeps_typed_fields() {
        let event = Event::new(
            Timestamp::UNIX_EPOCH,
            Activity::ConfigChange {
                setting: Label::new("limits").unwrap(),
            },
        )
        .message("secret sk_live_abc");
        let record = Record::scrub(event, &DropText);
        assert_eq!(record.message.as_deref(), Some("[removed]"));
        assert!(
            matches!(&record.activity, Activity::ConfigChange { setting } if setting.as_str() == "limits")
        );
    }
}
