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

/// `GET /api/admin/audit` filters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditFilter {
    kind: Option<EventKind>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    severity: Option<Severity>,
    limit: Option<usize>,
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
    let query = bee_audit::Query {
        kind: filter.kind,
        since: filter.since,
        until: filter.until,
        min_severity: filter.severity,
        limit: Some(filter.limit.unwrap_or(MAX_EVENTS).min(MAX_EVENTS)),
    };
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
