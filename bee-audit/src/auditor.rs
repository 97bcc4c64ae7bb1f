//! The front door: scrub, write, watch, respond.

use std::sync::Arc;

use crate::clock::Clock;
use crate::event::{Activity, AlertRecord, Event, Outcome, Severity};
use crate::monitor::{Alert, Monitor};
use crate::playbook::{Action, Actions, Playbooks, playbook_name};
use crate::queue::{AuditQueue, QueueError};
use crate::scrub::{DropText, Record, Scrubber};
use crate::sink::{AuditSink, SinkError};

/// Where an [`Auditor`] writes.
pub enum Destination {
    /// A sink written to directly: right when its writes are cheap, as with a file sink
    /// syncing on an interval.
    Sink(Arc<dyn AuditSink>),
    /// A queue with its own writer thread.
    Queue(AuditQueue),
}

impl From<Arc<dyn AuditSink>> for Destination {
    fn from(sink: Arc<dyn AuditSink>) -> Self {
        Self::Sink(sink)
    }
}

impl From<AuditQueue> for Destination {
    fn from(queue: AuditQueue) -> Self {
        Self::Queue(queue)
    }
}

/// Why recording failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The queue refused the record or reported a failed write.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Scrubs events, writes them, feeds the monitor and runs playbooks on its alerts.
///
/// Every event passes the [`Scrubber`] (by default [`DropText`], which removes all free
/// text until the host plugs in a real one). Each alert is recorded as a
/// [`Activity::SecurityAlert`] event and each action taken as an
/// [`Activity::IncidentAction`] event, with the outcome the host reported.
pub struct Auditor {
    scrubber: Arc<dyn Scrubber>,
    destination: Destination,
    monitor: Option<Monitor>,
    response: Option<(Playbooks, Arc<dyn Actions>)>,
    clock: Arc<dyn Clock>,
}

/// Builds an [`Auditor`].
pub struct AuditorBuilder {
    auditor: Auditor,
}

impl AuditorBuilder {
    /// Sets the scrubber for free text.
    #[must_use]
    pub fn scrubber(mut self, scrubber: Arc<dyn Scrubber>) -> Self {
        self.auditor.scrubber = scrubber;
        self
    }

    /// Feeds every event to `monitor`.
    #[must_use]
    pub fn monitor(mut self, monitor: Monitor) -> Self {
        self.auditor.monitor = Some(monitor);
        self
    }

    /// Answers alerts with `playbooks`, carried out by `actions`.
    #[must_use]
    pub fn playbooks(mut self, playbooks: Playbooks, actions: Arc<dyn Actions>) -> Self {
        self.auditor.response = Some((playbooks, actions));
        self
    }

    /// The auditor.
    pub fn build(self) -> Auditor {
        self.auditor
    }
}

impl Auditor {
    /// Starts building an auditor writing to `destination`, with `clock` for the events
    /// it makes itself.
    pub fn builder(destination: impl Into<Destination>, clock: Arc<dyn Clock>) -> AuditorBuilder {
        AuditorBuilder {
            auditor: Auditor {
                scrubber: Arc::new(DropText),
                destination: destination.into(),
                monitor: None,
                response: None,
                clock,
            },
        }
    }

    /// Records `event`, then runs the monitor and any playbook on the alerts it raises.
    /// Returns the alerts.
    ///
    /// The monitor sees the event even when writing it failed, so that detection does
    /// not depend on the disk.
    ///
    /// # Errors
    ///
    /// The first write failure, of the event itself or of the alert and action events.
    pub async fn record(&self, event: Event) -> Result<Vec<Alert>, AuditError> {
        let record = Record::scrub(event, self.scrubber.as_ref());
        let mut result = self.write(record.clone()).await;
        let alerts = self
            .monitor
            .as_ref()
            .map(|m| m.observe(&record))
            .unwrap_or_default();
        for alert in &alerts {
            let written = self.respond(alert).await;
            result = result.and(written);
        }
        result.map(|()| alerts)
    }

    /// Makes everything recorded so far durable (call it on graceful shutdown).
    ///
    /// # Errors
    ///
    /// The sink's flush failure, or a write failure not yet reported.
    pub async fn flush(&self) -> Result<(), AuditError> {
        match &self.destination {
            Destination::Sink(sink) => sink.flush().map_err(AuditError::from),
            Destination::Queue(queue) => queue.flush().await.map_err(AuditError::from),
        }
    }

    /// The monitor, when there is one.
    pub fn monitor(&self) -> Option<&Monitor> {
        self.monitor.as_ref()
    }

    async fn write(&self, record: Record) -> Result<(), AuditError> {
        match &self.destination {
            Destination::Sink(sink) => sink.write(&record).map_err(AuditError::from),
            Destination::Queue(queue) => queue.send(record).await.map_err(AuditError::from),
        }
    }

    async fn respond(&self, alert: &Alert) -> Result<(), AuditError> {
        let mut result = self.write(self.alert_record(alert)).await;
        let Some((playbooks, actions)) = &self.response else {
            return result;
        };
        for action in playbooks.plan(alert) {
            let outcome = actions.take(&action).await;
            let written = self
                .write(self.action_record(alert, &action, outcome.err()))
                .await;
            result = result.and(written);
        }
        result
    }

    fn alert_record(&self, alert: &Alert) -> Record {
        let activity = Activity::SecurityAlert {
            alert: AlertRecord {
                rule: alert.rule.clone(),
                group: alert.group.to_string(),
                count: alert.count,
                window_secs: alert.window.as_secs(),
                severity: alert.severity,
                labels: alert.labels.clone(),
            },
        };
        self.derived(alert, activity, Outcome::Success, alert.severity)
    }

    fn action_record(
        &self,
        alert: &Alert,
        action: &Action,
        error: Option<crate::playbook::ActionError>,
    ) -> Record {
        let outcome = if error.is_some() {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        let activity = Activity::IncidentAction {
            playbook: playbook_name(alert.kind),
            action: action.record(error.map(|e| e.0)),
        };
        self.derived(alert, activity, outcome, Severity::High)
    }

    /// An event about an alert, carrying the context of the event that raised it.
    fn derived(
        &self,
        alert: &Alert,
        activity: Activity,
        outcome: Outcome,
        severity: Severity,
    ) -> Record {
        let trigger = &alert.trigger;
        let mut event = Event::new(self.clock.now(), activity)
            .outcome(outcome)
            .severity(severity)
            .actor(trigger.actor.clone())
            .source(trigger.source.clone())
            .target(trigger.target.clone());
        event.correlation_id = trigger.correlation_id.clone();
        Record::scrub(event, self.scrubber.as_ref())
    }
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("monitor", &self.monitor)
            .field("playbooks", &self.response.is_some())
            .finish()
    }
}
