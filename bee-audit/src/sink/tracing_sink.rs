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
