//! The admin API's view of the audit trail: recent events, alerts, records of processing.

use axum::Json;
use axum::extract::{Query, State};
use bee_audit::gdpr::ProcessingRecord;
use bee_audit::{Event, EventKind, Severity};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::guard::Caller;
use crate::auth::Subject;

/// Events returned at most by one call.
const MAX_EVENTS: usize = 1000;

/// `GET /api/admin/audit` filters, as sent: each is read by [`AuditFilter::query`], so
/// that a bad one is answered with its own name and what it accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditFilter {
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    severity: Option<String>,
    limit: Option<String>,
}

impl AuditFilter {
    /// The filters as a query of bee-audit, or a 400 naming the first bad parameter.
    fn query(&self) -> Result<bee_audit::Query, ApiError> {
        let bad = |name: &str, accepts: &str| {
            ApiError::bad_request(format!("query parameter {name}: {accepts}"))
        };
        let named = |text: &str| serde_json::Value::String(text.to_owned());
        let kind = match &self.kind {
            None => None,
            Some(text) => Some(
                serde_json::from_value::<EventKind>(named(text))
                    .map_err(|_| bad("kind", "not an event kind, such as auth_failure"))?,
            ),
        };
        let severity = match &self.severity {
            None => None,
            Some(text) => Some(
                serde_json::from_value::<Severity>(named(text))
                    .map_err(|_| bad("severity", "one of info, low, medium, high, critical"))?,
            ),
        };
        let time = |name: &str, value: &Option<String>| match value {
            None => Ok(None),
            Some(text) => text
                .parse::<Timestamp>()
                .map(Some)
                .map_err(|_| bad(name, "an RFC 3339 time such as 2026-12-04T10:00:00Z")),
        };
        let limit = match &self.limit {
            None => MAX_EVENTS,
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| bad("limit", "a whole number (at most 1000 are returned)"))?,
        };
        Ok(bee_audit::Query {
            kind,
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            min_severity: severity,
            limit: Some(limit.min(MAX_EVENTS)),
        })
    }
}

/// Events, newest first.
#[derive(Debug, Serialize)]
pub(super) struct Events {
    events: Vec<Event>,
}

/// `GET /api/admin/processing-records` answer.
#[derive(Debug, Serialize)]
pub(super) struct ProcessingRecords<'a> {
    records: &'a [ProcessingRecord],
}

/// `GET /api/admin/audit`: this instance's recent events, filtered by kind, time and
/// minimum severity.
pub(super) async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Events>, ApiError> {
    operator(&state, &caller, "audit:read").await?;
    let query = filter.query()?;
    Ok(Json(events(&state, &query)))
}

/// `GET /api/admin/alerts`: this instance's recent security alerts.
pub(super) async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Events>, ApiError> {
    operator(&state, &caller, "audit:read").await?;
    let query = bee_audit::Query {
        kind: Some(EventKind::SecurityAlert),
        limit: Some(MAX_EVENTS),
        ..bee_audit::Query::default()
    };
    Ok(Json(events(&state, &query)))
}

/// `GET /api/admin/processing-records`: the GDPR records of processing.
pub(super) async fn processing_records(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    operator(&state, &caller, "compliance:read").await?;
    let records = ProcessingRecords {
        records: state.audit.processing().records(),
    };
    serde_json::to_value(records)
        .map(Json)
        .map_err(|_| ApiError::internal())
}

fn events(state: &AppState, query: &bee_audit::Query) -> Events {
    Events {
        events: state
            .audit
            .recent(query)
            .into_iter()
            .map(|record| record.event().clone())
            .collect(),
    }
}

/// The audit trail spans tenants: only keys that act on every tenant may read it.
async fn operator(state: &AppState, caller: &Caller, action: &str) -> Result<(), ApiError> {
    let subject = Subject {
        id: "",
        tenant: &caller.principal.tenant,
        bot: None,
        active: true,
    };
    caller.may(state, action, subject).await?;
    if state.auth.acts_on_any_tenant(&caller.principal) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}
