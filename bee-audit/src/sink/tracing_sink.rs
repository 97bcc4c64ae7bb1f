use super::{AuditSink, SinkError};
use crate::event::Severity;
use crate::scrub::Record;

/// Emits each record as a `tracing` event with target `bee_audit`.
///
/// Info and low events go out at INFO, medium at WARN, high and critical at ERROR, with
/// the kind, severity, outcome and correlation id as fields and the whole (scrubbed)
/// event as JSON. It keeps nothing and proves nothing: pair it with a chained file sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

impl AuditSink for TracingSink {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        let json =
            serde_json::to_string(record.event()).map_err(|e| SinkError::Encode(e.into()))?;
        let kind = record.kind().as_str();
        let severity = record.severity.as_str();
        let outcome = record.outcome.as_str();
        let correlation_id = record.correlation_id.as_ref().map_or("", |l| l.as_str());
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "bee_audit",
                    $level,
                    kind,
                    severity,
                    outcome,
                    correlation_id,
                    event = %json,
                    "audit event"
                )
            };
        }
        match record.severity {
            Severity::Info | Severity::Low => emit!(tracing::Level::INFO),
            Severity::Medium => emit!(tracing::Level::WARN),
            Severity::High | Severity::Critical => emit!(tracing::Level::ERROR),
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use jiff::Timestamp;

    use super::*;
    use crate::event::{Activity, Event, Outcome};
    use crate::fields::Label;
    use crate::scrub::Verbatim;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn records_go_out_at_the_level_of_their_severity_with_their_fields() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let event = Event::new(
            Timestamp::UNIX_EPOCH,
            Activity::Authentication {
                method: Label::new("api_key").unwrap(),
                reason: None,
            },
        )
        .outcome(Outcome::Failure)
        .severity(Severity::Medium);
        tracing::subscriber::with_default(subscriber, || {
            TracingSink.write(&Record::scrub(event, &Verbatim)).unwrap();
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("kind=\"authentication\""), "{text}");
        assert!(text.contains("outcome=\"failure\""), "{text}");
    }
}
