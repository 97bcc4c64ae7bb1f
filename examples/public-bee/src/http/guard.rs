//! Steps 3 and 5 at the HTTP edge: the verified caller as an extractor (so that a key is
//! checked before the body is read), and the mapping of refusals to answers.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::AppState;
use super::client::ClientAddr;
use super::error::ApiError;
use crate::auth::{Denied, Principal, Subject};
use crate::http::error::ErrorChain;

/// A request whose API key bee-auth verified.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Whose key it is.
    pub principal: Principal,
    /// The client address.
    pub addr: IpAddr,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientAddr(addr) = ClientAddr::from_request_parts(parts, state).await?;
        match state.auth.authenticate(&parts.headers, addr).await {
            Ok(principal) => Ok(Self { principal, addr }),
            Err(denied) => Err(refused(&denied)),
        }
    }
}

impl Caller {
    /// Step 5 for this caller: may it do `action` on `subject`?
    ///
    /// # Errors
    ///
    /// 403 when bee-auth's roles, scopes or rules say no.
    pub fn may(
        &self,
        state: &AppState,
        action: &str,
        subject: Subject<'_>,
    ) -> Result<(), ApiError> {
        state
            .auth
            .authorize(&self.principal, action, subject, self.addr)
            .map_err(|denied| refused(&denied))
    }
}

/// The answer for a refusal, logged with its reason (never the key).
pub fn refused(denied: &Denied) -> ApiError {
    match denied {
        Denied::NoKey | Denied::BadKey(_) => {
            tracing::info!(reason = denied.code(), "api key refused");
            ApiError::unauthorized()
        }
        Denied::Forbidden(reasons) => {
            tracing::info!(reason = %reasons, "access denied");
            ApiError::forbidden()
        }
        Denied::Unavailable(e) => {
            tracing::error!(error = %ErrorChain(e), "key store unavailable");
            ApiError::unavailable("the server cannot check keys right now; try again later")
        }
    }
}
