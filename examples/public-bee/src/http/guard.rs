//! Steps 3 and 5 at the HTTP edge: the verified caller as an extractor (so that a key is
//! checked before the body is read), the mapping of refusals to answers, and their audit
//! events.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use bee_audit::{Activity, Actor, Decision, Event, KeyRef, Label, Outcome, Severity, Source};
use bee_auth::KeyRejection;
use http::request::Parts;

use super::AppState;
use super::client::ClientAddr;
use super::error::{ApiError, ErrorChain};
use super::layers::REQUEST_ID;
use crate::audit::label;
use crate::auth::{Denied, Principal, Subject};

/// A request whose API key bee-auth verified.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Whose key it is.
    pub principal: Principal,
    /// The client address.
    pub addr: IpAddr,
    /// The request id, as an audit label.
    pub request_id: Option<Label>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientAddr(addr) = ClientAddr::from_request_parts(parts, state).await?;
        let request_id = parts
            .headers
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .and_then(label);
        match state.auth.authenticate(&parts.headers, addr).await {
            Ok(principal) => Ok(Self {
                principal,
                addr,
                request_id,
            }),
            Err(denied) => {
                let event = authentication_failed(state, &parts.headers, addr, request_id, &denied);
                if let Some(event) = event {
                    state.audit.record(event).await;
                }
                // A refused key is an invalid request for the abuse detector, which may
                // block the address after enough of them.
                if !matches!(
                    denied,
                    Denied::Unavailable(_) | Denied::NoncesUnavailable(_)
                ) && let Err(e) = state.limits.assess(addr, None, true).await
                {
                    tracing::warn!(error = %ErrorChain(&e), "abuse detector unavailable");
                }
                Err(refused(&denied))
            }
        }
    }
}

impl Caller {
    /// Step 5 for this caller: may it do `action` on `subject`? A refusal is audited.
    ///
    /// # Errors
    ///
    /// 403 when bee-auth's roles, scopes or rules say no.
    pub async fn may(
        &self,
        state: &AppState,
        action: &str,
        subject: Subject<'_>,
    ) -> Result<(), ApiError> {
        let Err(denied) = state
            .auth
            .authorize(&self.principal, action, subject, self.addr)
        else {
            return Ok(());
        };
        if let (Denied::Forbidden(rules), Some(permission)) = (&denied, label(action)) {
            let reasons = rules
                .iter()
                .filter_map(|r| label(&r.replace(' ', "_")))
                .collect();
            let activity = Activity::Authorization {
                permission,
                decision: Decision::Deny,
                reasons,
            };
            let event = self.event(state, activity).outcome(Outcome::Failure);
            state.audit.record(event.severity(Severity::Medium)).await;
        }
        Err(refused(&denied))
    }

    /// An event about something this caller did, with actor, source and correlation id.
    pub fn event(&self, state: &AppState, activity: Activity) -> Event {
        let record = &self.principal.record;
        let actor = Actor {
            tenant: label(self.principal.tenant.as_str()),
            key: KeyRef::new(&record.prefix, record.key_id.as_str()).ok(),
            ..Actor::default()
        };
        let mut event = Event::new(state.clock.now(), activity)
            .actor(actor)
            .source(Source::address(self.addr));
        if let Some(id) = &self.request_id {
            event = event.correlation_id(id.clone());
        }
        event
    }
}

/// The answer for a refusal, logged with its reason (never the key).
pub fn refused(denied: &Denied) -> ApiError {
    match denied {
        Denied::NoKey | Denied::BadKey(_) => {
            tracing::info!(reason = denied.code(), "api key refused");
            ApiError::unauthorized()
        }
        Denied::Forbidden(rules) => {
            tracing::info!(denied_by = %rules.join(","), "access denied");
            ApiError::forbidden()
        }
        Denied::Unavailable(e) => {
            tracing::error!(error = %ErrorChain(e), "key store unavailable");
            ApiError::unavailable("the server cannot check keys right now; try again later")
        }
        Denied::BadSignature(_) => {
            tracing::info!(reason = denied.code(), "request signature refused");
            ApiError::new(
                http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid request signature is required",
            )
        }
        Denied::NoncesUnavailable(e) => {
            tracing::error!(error = %ErrorChain(e), "nonce store unavailable");
            ApiError::unavailable("the server cannot check signatures right now; try again later")
        }
    }
}

/// The event of a refused key. The key's id is named only when the caller proved it
/// holds the secret (the key was refused for its status, expiry, address or origin):
/// anyone can write a known key id with a wrong secret, and naming it would let them
/// trigger the brute-force playbook's suspension of somebody else's key.
fn authentication_failed(
    state: &AppState,
    headers: &http::HeaderMap,
    addr: IpAddr,
    request_id: Option<Label>,
    denied: &Denied,
) -> Option<Event> {
    if matches!(
        denied,
        Denied::Unavailable(_) | Denied::NoncesUnavailable(_)
    ) {
        return None;
    }
    let holder = matches!(
        denied,
        Denied::BadKey(
            KeyRejection::Revoked
                | KeyRejection::Suspended
                | KeyRejection::Expired
                | KeyRejection::IpNotAllowed
                | KeyRejection::OriginNotAllowed
        )
    );
    let key = holder
        .then(|| bee_auth::presented_key(headers))
        .flatten()
        .and_then(|presented| bee_auth::ApiKey::parse(presented).ok())
        .and_then(|key| KeyRef::new(key.prefix(), key.key_id().as_str()).ok());
    let activity = Activity::Authentication {
        method: label("api_key")?,
        reason: label(denied.code()),
    };
    let mut event = Event::new(state.clock.now(), activity)
        .outcome(Outcome::Failure)
        .severity(Severity::Medium)
        .source(Source::address(addr))
        .actor(Actor {
            key,
            ..Actor::default()
        });
    if let Some(id) = request_id {
        event = event.correlation_id(id);
    }
    Some(event)
}
