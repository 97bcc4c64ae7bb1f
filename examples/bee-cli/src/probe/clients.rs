//! Whether the server tells the probe's fresh clients apart.
//!
//! The server blocks an address after five failed authentications in five minutes, and
//! then refuses everything from it, the operator key included. The checks that fail
//! authentication on purpose send each failure as a fresh client; before they run, the
//! probe asks the audit log which address the server saw for two fresh clients, with a
//! request that fails nothing (a chat message with a valid key). When both were seen as
//! the same address, those checks are not run: the probe would block itself and could
//! not clean up.

use serde_json::{Value, json};

use super::fixture::chat_path;
use super::http::{Call, Who};
use super::{Ctx, ProbeError};

/// What the server saw of the probe's fresh clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Apart {
    /// Two fresh clients were seen as two addresses.
    Yes(String, String),
    /// Both were seen as this one address.
    No(String),
    /// The audit log did not say (another instance of a fleet answered, say).
    Unknown,
}

impl Apart {
    /// Why the checks that fail authentication cannot run, if they cannot.
    pub(crate) fn refusal(&self) -> Option<String> {
        match self {
            Self::No(addr) => Some(format!(
                "not run: the server sees every client of the probe as {addr} and would \
                 block it (see the note above)"
            )),
            Self::Yes(..) | Self::Unknown => None,
        }
    }

    /// A line for the report.
    pub(crate) fn line(&self) -> String {
        match self {
            Self::Yes(a, b) => {
                format!("note: the server tells the probe's clients apart ({a}, {b})")
            }
            Self::No(addr) => format!(
                "note: the server sees every client of the probe as {addr}, and blocks an \
                 address after five failed authentications, so the checks that fail them \
                 are not run; run the probe on the server's host (over IPv4 loopback), or \
                 list the probe's address in the server's http.trusted_proxies"
            ),
            Self::Unknown => "note: the audit log did not say which address the server saw for \
                              the probe's clients; going on as if it tells them apart"
                .to_owned(),
        }
    }
}

/// Asks which addresses the server saw for two fresh clients.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn apart(cx: &mut Ctx<'_>) -> Result<Apart, ProbeError> {
    let mut seen = Vec::new();
    for n in 0..2 {
        let who = cx.target.fresh()?;
        seen.push(seen_as(cx, who, n).await?);
    }
    Ok(
        match (
            seen.first().cloned().flatten(),
            seen.get(1).cloned().flatten(),
        ) {
            (Some(a), Some(b)) if a == b => Apart::No(a),
            (Some(a), Some(b)) => Apart::Yes(a, b),
            _ => Apart::Unknown,
        },
    )
}

/// The address the audit log names for a chat message sent as `who`.
async fn seen_as(cx: &mut Ctx<'_>, who: Who, n: usize) -> Result<Option<String>, ProbeError> {
    let fx = cx.fx;
    let body = json!({"message": format!("address probe {n} of {}", fx.tag)});
    let call = Call::post(chat_path(&fx.a.id))
        .key(&fx.key_a.key)
        .json(&body);
    let answer = cx.target.send(who, call).await?;
    let Some(request_id) = answer.header("x-request-id").map(str::to_owned) else {
        return Ok(None);
    };
    if answer.status != 200 {
        return Ok(None);
    }
    let log = Call::get("/api/admin/audit?kind=data_access").key(&fx.admin);
    let log = cx.target.send(Who::Main, log).await?;
    let events = log.json().and_then(|v| v.get("events").cloned());
    let address = events
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("correlation_id").and_then(Value::as_str) == Some(&request_id))
        .and_then(|e| e.get("source")?.get("address")?.as_str().map(str::to_owned));
    Ok(address)
}
