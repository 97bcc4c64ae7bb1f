use std::sync::Arc;

use super::{AuditSink, SinkError};
use crate::scrub::Record;

/// Writes each record to several sinks.
///
/// Every sink gets every record even when one fails; the first failure is returned.
#[derive(Clone, Default)]
pub struct FanOut {
    sinks: Vec<Arc<dyn AuditSink>>,
}

impl FanOut {
    /// A fan-out over `sinks`.
    pub fn new(sinks: Vec<Arc<dyn AuditSink>>) -> Self {
        Self { sinks }
    }

    /// Adds a sink.
    #[must_use]
    pub fn with(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    fn each(
        &self,
        mut op: impl FnMut(&dyn AuditSink) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        let mut first = None;
        for sink in &self.sinks {
            if let Err(e) = op(sink.as_ref()) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl std::fmt::Debug for FanOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanOut")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl AuditSink for FanOut {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        self.each(|sink| sink.write(record))
    }

    fn flush(&self) -> Result<(), SinkError> {
        self.each(|sink| sink.flush())
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::event::{Activity, Event};
    use crate::fields::Label;
    use crate::scrub::Verbatim;
    use crate::sink::MemorySink;

    struct Broken;

    impl AuditSink for Broken {
        fn write(&self, _: &Record) -> Result<(), SinkError> {
            Err(SinkError::Closed)
        }

        fn flush(&self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[test]
    fn every_sink_gets_the_record_and_the_failure_is_returned() {
        let a = Arc::new(MemorySink::new(8));
        let b = Arc::new(MemorySink::new(8));
        let fan = FanOut::new(vec![a.clone(), Arc::new(Broken), b.clone()]);
        let event = Event::new(
            Timestamp::UNIX_EPOCH,
            Activity::ConfigChange {
                setting: Label::new("x").unwrap(),
            },
        );
        let result = fan.write(&Record::scrub(event, &Verbatim));
        assert!(matches!(result, Err(SinkError::Closed)));
        assert_eq!((a.len(), b.len()), (1, 1));
    }
}
