//! SQL injection and markup payloads in every path parameter, query parameter and body
//! field of the API.

use reqwest::Method;
use serde_json::{Value, json};

use super::fixture::chat_path;
use super::http::{Call, Seen, encode};
use super::{Ctx, ProbeError, judge};

/// SQL payloads: quotes, comments, tautologies, stacked and union queries. None of them
/// carries a statement that writes or drops anything; but in the path of a route that
/// changes data (resume a key, erase a subject), a tautology could widen that change on
/// a server that falls for it, so the probe is for test deployments.
const SQL: [&str; 7] = [
    "' OR '1'='1",
    "1' OR 1=1 --",
    "\" OR \"\"=\"",
    "') OR ('x'='x",
    "1; SELECT 1 --",
    "' UNION SELECT name, sql FROM sqlite_master --",
    "' UNION SELECT NULL, current_database() --",
];

/// Text of database errors that must never reach a caller (compared in lowercase).
const DATABASE_ERRORS: [&str; 9] = [
    "syntax error",
    "sqlite",
    "postgres",
    "sqlstate",
    "sqlx",
    "unrecognized token",
    "unterminated quoted",
    "database error",
    "near \"",
];

/// Markup that becomes script if a browser renders the answer as a document.
const MARKUP: [&str; 4] = [
    "<script>alert('bee-probe')</script>",
    "\"><img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "javascript:alert(document.cookie)",
];

/// A request and the bots whose data its answer may rightly hold.
struct Attempt {
    call: Call,
    owners: Vec<String>,
}

/// `sql-injection`: no payload gets a 5xx, database error text, or another bot's data.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn sql(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let who = cx.target.fresh()?;
    let mut seen = Vec::new();
    let mut problems = Vec::new();
    for (i, payload) in SQL.iter().enumerate() {
        for attempt in sql_attempts(cx, i, payload) {
            let answer = cx.target.send(who, attempt.call).await?;
            problems.extend(sql_problem(cx, &answer, payload, &attempt.owners));
            seen.push(answer);
        }
    }
    let outcome = judge(&seen, &problems);
    cx.report.record("sql-injection", outcome);
    Ok(())
}

fn sql_attempts(cx: &Ctx<'_>, i: usize, p: &str) -> Vec<Attempt> {
    let fx = cx.fx;
    let e = encode(p);
    let admin = fx.admin.as_str();
    let key_a = fx.key_a.key.as_str();
    let a = fx.a.id.as_str();
    let b = fx.b.id.as_str();
    let tenant = fx.t.tenant.as_str();
    let tag = &fx.tag;
    let message = |what: &str| json!({"message": format!("sql probe {i} {what}")});
    let none = |call: Call| Attempt {
        call,
        owners: Vec::new(),
    };
    let of = |call: Call, bot: &str| Attempt {
        call,
        owners: vec![bot.to_owned()],
    };
    let patch = |path: String| Call::new(Method::PATCH, path);
    let delete = |path: String| Call::new(Method::DELETE, path);
    vec![
        // Path parameters.
        none(Call::get(format!("/api/public/bots/{e}"))),
        none(Call::get(format!("/api/public/bots/{e}/conversations")).key(key_a)),
        none(Call::get(format!("/api/public/conversations/{e}")).key(key_a)),
        none(Call::post(chat_path(p)).key(key_a).json(&message("path"))),
        none(Call::get(format!("/api/admin/bots/{e}")).key(admin)),
        none(
            patch(format!("/api/admin/bots/{e}"))
                .key(admin)
                .json(&json!({})),
        ),
        none(Call::post(format!("/api/admin/bots/{e}/keys")).key(admin)),
        none(Call::get(format!("/api/admin/keys/{e}")).key(admin)),
        none(Call::post(format!("/api/admin/keys/{e}/resume")).key(admin)),
        none(delete(format!("/api/admin/blocks/{e}")).key(admin)),
        none(
            delete(format!(
                "/api/admin/subjects/{e}?tenant_id={}",
                encode(tenant)
            ))
            .key(admin),
        ),
        // Query parameters.
        none(Call::get(format!("/api/admin/audit?kind={e}")).key(admin)),
        none(Call::get(format!("/api/admin/audit?severity={e}&limit=5")).key(admin)),
        none(Call::get(format!("/api/admin/audit?since={e}")).key(admin)),
        none(Call::get(format!("/api/admin/audit?until={e}")).key(admin)),
        none(Call::get(format!("/api/admin/audit?limit={e}")).key(admin)),
        none(
            delete(format!(
                "/api/admin/subjects/probe-{tag}-nobody?tenant_id={e}"
            ))
            .key(admin),
        ),
        // Body fields.
        of(
            Call::post(chat_path(a))
                .key(key_a)
                .json(&json!({"message": p})),
            a,
        ),
        of(
            Call::post(chat_path(a)).key(key_a).json(
                &json!({"message": format!("sql probe {i} conversation"), "conversation_id": p}),
            ),
            a,
        ),
        of(
            Call::post(chat_path(a))
                .key(key_a)
                .json(&json!({"message": format!("sql probe {i} user"), "user_id": p})),
            a,
        ),
        none(
            Call::post("/api/admin/bots")
                .key(admin)
                .json(&json!({"name": p})),
        ),
        none(Call::post("/api/admin/bots").key(admin).json(&json!({
            "name": format!("probe-{tag}-q{i}"),
            "display_name": p,
            "description": p,
            "system_prompt": p,
            "knowledge": [{"title": p, "content": p}],
        }))),
        none(
            Call::post("/api/admin/bots")
                .key(admin)
                .json(&json!({"name": format!("probe-{tag}-q{i}t"), "tenant_id": p})),
        ),
        none(
            Call::post("/api/admin/bots")
                .key(admin)
                .json(&json!({"name": format!("probe-{tag}-q{i}o"), "allowed_origins": [p]})),
        ),
        of(
            patch(format!("/api/admin/bots/{b}"))
                .key(admin)
                .json(&json!({"description": p})),
            b,
        ),
        of(
            Call::post(format!("/api/admin/bots/{b}/keys"))
                .key(admin)
                .json(&json!({"name": p, "scopes": [p], "allowed_origins": [p]})),
            b,
        ),
        of(
            Call::post(format!("/api/admin/bots/{b}/keys"))
                .key(admin)
                .json(&json!({"allowed_ips": [p]})),
            b,
        ),
        none(
            Call::post("/api/admin/keys")
                .key(admin)
                .json(&json!({"tenant_id": p, "roles": ["tenant_admin"]})),
        ),
        none(
            Call::post("/api/admin/keys")
                .key(admin)
                .json(&json!({"tenant_id": tenant, "roles": [p], "name": p})),
        ),
    ]
}

fn sql_problem(cx: &Ctx<'_>, seen: &Seen, payload: &str, owners: &[String]) -> Option<String> {
    if seen.status >= 500 {
        return Some(format!("{}: a server error", seen.line()));
    }
    // The payload itself, stored and shown back as data, is not an error message.
    let escaped = serde_json::to_string(payload).unwrap_or_default();
    let body = seen
        .body
        .replace(escaped.trim_matches('"'), "")
        .replace(payload, "")
        .to_lowercase();
    if let Some(text) = DATABASE_ERRORS.iter().find(|t| body.contains(*t)) {
        return Some(format!(
            "{}: database error text {text:?} in the answer",
            seen.line()
        ));
    }
    let foreign = cx
        .fx
        .bots()
        .into_iter()
        .filter(|bot| !owners.contains(&bot.id))
        .find(|bot| seen.body.contains(&bot.canary))?;
    Some(format!(
        "{}: the answer holds data of bot {}",
        seen.line(),
        foreign.id
    ))
}

/// `markup-reflection`: a payload never comes back where a browser could render it: only
/// inside JSON strings of `application/json` answers marked `nosniff`.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn markup(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let who = cx.target.fresh()?;
    let mut seen = Vec::new();
    for (i, payload) in MARKUP.iter().enumerate() {
        for call in markup_calls(cx, i, payload) {
            seen.push(cx.target.send(who, call).await?);
        }
        // What was stored is read back: the conversation and the public directory.
        let stored = stored_reads(cx, &seen);
        for call in stored {
            seen.push(cx.target.send(who, call).await?);
        }
    }
    let problems: Vec<String> = seen.iter().filter_map(reflected).collect();
    let outcome = judge(&seen, &problems);
    cx.report.record("markup-reflection", outcome);
    Ok(())
}

fn markup_calls(cx: &Ctx<'_>, i: usize, p: &str) -> Vec<Call> {
    let fx = cx.fx;
    let e = encode(p);
    let admin = fx.admin.as_str();
    let key_a = fx.key_a.key.as_str();
    let chat = || Call::post(chat_path(&fx.a.id)).key(key_a);
    vec![
        chat().json(&json!({"message": p})),
        chat().json(&json!({"message": format!("markup probe {i}"), "user_id": p})),
        chat().json(&json!({"message": format!("markup probe {i} again"), "conversation_id": p})),
        Call::get(format!("/api/public/bots/{e}")),
        Call::get(format!("/api/public/bots/{e}/conversations")).key(key_a),
        Call::get(format!("/api/public/conversations/{e}")).key(key_a),
        Call::get(format!("/api/admin/bots/{e}")).key(admin),
        Call::get(format!("/api/admin/audit?kind={e}")).key(admin),
        Call::get(format!("/api/probe-nowhere/{e}")),
        Call::get("/api/public/bots").header("x-request-id", p),
        Call::post("/api/admin/bots")
            .key(admin)
            .json(&json!({"name": p})),
        Call::post("/api/admin/bots").key(admin).json(&json!({
            "name": format!("probe-{}-m{i}", fx.tag),
            "display_name": p,
            "description": p,
            "public": true,
            "knowledge": [{"title": p, "content": format!("{p} markup probe")}],
        })),
    ]
}

/// Reads of what the latest calls stored: the conversations they started and the bots
/// they made.
fn stored_reads(cx: &Ctx<'_>, seen: &[Seen]) -> Vec<Call> {
    let key_a = cx.fx.key_a.key.as_str();
    let mut calls = vec![Call::get("/api/public/bots")];
    for s in seen.iter().rev().take(12).filter(|s| s.status < 300) {
        let Some(answer) = s.json() else { continue };
        let text = |name: &str| answer.get(name).and_then(Value::as_str).map(encode);
        if let Some(id) = text("conversation_id") {
            calls.push(Call::get(format!("/api/public/conversations/{id}")).key(key_a));
        }
        if s.path == "/api/admin/bots"
            && let Some(id) = text("id")
        {
            calls.push(Call::get(format!("/api/public/bots/{id}")));
            calls.push(Call::get(format!("/api/admin/bots/{id}")).key(cx.fx.admin.as_str()));
        }
    }
    calls
}

/// Where an answer holds a payload a browser could run.
fn reflected(seen: &Seen) -> Option<String> {
    let payload = MARKUP.iter().find(|p| seen.body.contains(*p))?;
    let json_type = seen
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"));
    let nosniff = seen
        .header("x-content-type-options")
        .is_some_and(|v| v.eq_ignore_ascii_case("nosniff"));
    let inside_strings = seen.json().is_some_and(|v| in_strings(&v, payload));
    if json_type && nosniff && inside_strings {
        return None;
    }
    let kind = seen.header("content-type").unwrap_or("no content type");
    Some(format!(
        "{}: {payload:?} reflected in a body a browser may render ({kind}{})",
        seen.line(),
        if nosniff { "" } else { ", no nosniff" }
    ))
}

/// Whether `payload` is whole inside one of the JSON value's strings.
fn in_strings(value: &Value, payload: &str) -> bool {
    match value {
        Value::String(s) => s.contains(payload),
        Value::Array(items) => items.iter().any(|v| in_strings(v, payload)),
        Value::Object(map) => map.values().any(|v| in_strings(v, payload)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_outside_json_strings_is_not_inside_them() {
        let value: Value = serde_json::from_str(r#"{"a": ["x", {"b": "<svg onload=alert(1)>"}]}"#)
            .unwrap_or(Value::Null);
        assert!(in_strings(&value, MARKUP[2]));
        assert!(!in_strings(&Value::Null, MARKUP[2]));
    }
}
