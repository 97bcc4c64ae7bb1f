use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use jiff::Timestamp;
use serde::Deserialize;

use super::{AuditSink, SinkError};
use crate::event::{EventKind, Severity};
use crate::scrub::Record;

/// Keeps the most recent records in memory, for an admin view of recent events and
/// alerts. When full, the oldest record makes room.
#[derive(Debug)]
pub struct MemorySink {
    capacity: usize,
    records: Mutex<VecDeque<Record>>,
}

/// Which records a [`MemorySink`] returns; every field left out matches everything.
///
/// It deserialises from a query string such as
/// `kind=security_alert&min_severity=high&since=2025-01-01T00:00:00Z&limit=50`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Query {
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events at or after this instant.
    pub since: Option<Timestamp>,
    /// Only events before this instant.
    pub until: Option<Timestamp>,
    /// Only events at least this severe.
    pub min_severity: Option<Severity>,
    /// At most this many (the newest); unlimited when absent.
    pub limit: Option<usize>,
}

impl Query {
    /// Whether `record` matches.
    pub fn matches(&self, record: &Record) -> bool {
        self.kind.is_none_or(|k| record.kind() == k)
            && self.since.is_none_or(|t| record.time >= t)
            && self.until.is_none_or(|t| record.time < t)
            && self.min_severity.is_none_or(|s| record.severity >= s)
    }
}

impl MemorySink {
    /// A sink keeping the last `capacity` records (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            records: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
        }
    }

    /// The matching records, newest first.
    pub fn query(&self, query: &Query) -> Vec<Record> {
        let limit = query.limit.unwrap_or(usize::MAX);
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records
            .iter()
            .rev()
            .filter(|r| query.matches(r))
            .take(limit)
            .cloned()
            .collect()
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AuditSink for MemorySink {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() == self.capacity {
            records.pop_front();
        }
        records.push_back(record.clone());
        Ok(())
    }

    fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Activity, Event};
    use crate::fields::Label;
    use crate::scrub::Verbatim;

    fn record(second: i64, severity: Severity, alert: bool) -> Record {
        let activity = if alert {
            Activity::ConfigChange {
                setting: Label::new("a").unwrap(),
            }
        } else {
            Activity::DataAccess {
                operation: crate::event::DataOperation::Read,
                resource_type: Label::new("r").unwrap(),
            }
        };
        let event =
            Event::new(Timestamp::from_second(second).unwrap(), activity).severity(severity);
        Record::scrub(event, &Verbatim)
    }

    #[test]
    fn keeps_the_newest_and_filters_by_kind_time_and_severity() {
        let sink = MemorySink::new(3);
        for (i, sev) in [
            Severity::Info,
            Severity::High,
            Severity::Low,
            Severity::Critical,
        ]
        .into_iter()
        .enumerate()
        {
            sink.write(&record(i64::try_from(i).unwrap(), sev, i % 2 == 1))
                .unwrap();
        }
        assert_eq!(sink.len(), 3);
        let all = sink.query(&Query::default());
        assert_eq!(
            all.iter().map(|r| r.time.as_second()).collect::<Vec<_>>(),
            [3, 2, 1]
        );

        let severe = Query {
            min_severity: Some(Severity::High),
            ..Query::default()
        };
        assert_eq!(sink.query(&severe).len(), 2);
        let kind = Query {
            kind: Some(EventKind::DataAccess),
            ..Query::default()
        };
        assert_eq!(sink.query(&kind).len(), 1);
        let window = Query {
            since: Some(Timestamp::from_second(2).unwrap()),
            until: Some(Timestamp::from_second(3).unwrap()),
            ..Query::default()
        };
        assert_eq!(sink.query(&window)[0].time.as_second(), 2);
        let limited = Query {
            limit: Some(1),
            ..Query::default()
        };
        assert_eq!(sink.query(&limited)[0].time.as_second(), 3);
    }

    #[test]
    fn query_reads_from_a_query_string_shape() {
        let q: Query = serde_json::from_value(serde_json::json!({
            "kind": "security_alert", "min_severity": "high", "limit": 5
        }))
        .unwrap();
        assert_eq!(q.kind, Some(EventKind::SecurityAlert));
        assert_eq!(q.limit, Some(5));
    }
}
