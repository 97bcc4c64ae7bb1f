//! Who may do what: key checks, tenant and bot isolation, signed requests.

use std::time::{SystemTime, UNIX_EPOCH};

use bee_auth::{ApiKey, RequestParts, Signer, SigningSecret};
use http::HeaderMap;
use serde_json::json;

use super::fixture::{Bot, Key, chat_path};
use super::http::{Call, Seen, Who, encode};
use super::report::Outcome;
use super::{Ctx, ProbeError, judge};

/// Seconds a stale or early signature is off the server's clock (the default window is
/// five minutes).
const SKEW: u64 = 3600;

/// The authentication checks: each bad key is refused with 401 on a chat and a history
/// route, and every refusal looks the same from outside.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn authentication(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    if let Some(why) = cx.no_failed_auth.clone() {
        for name in AUTH_CHECKS {
            cx.report.record(name, Outcome::Incomplete(why.clone()));
        }
        expiry_issued(cx).await?;
        return other_keys(cx).await;
    }
    let valid = fx.key_a.key.as_str();
    let cases: [(&str, Option<String>); 6] = [
        ("auth-no-key", None),
        ("auth-malformed-key", Some("pb_not-a-key".to_owned())),
        ("auth-wrong-checksum", Some(wrong_checksum(valid))),
        ("auth-wrong-secret", Some(wrong_secret(valid))),
        ("auth-revoked-key", Some(fx.key_revoked.key.to_string())),
        ("auth-suspended-key", Some(fx.key_suspended.key.to_string())),
    ];
    let mut refusals: Vec<Seen> = Vec::new();
    for (name, key) in cases {
        let mut seen = Vec::new();
        for call in key_targets(cx) {
            let call = match &key {
                Some(key) => call.key(key),
                None => call,
            };
            // Each refused key from an address of its own, so that the brute-force
            // defence does not block the probe.
            let who = cx.target.fresh()?;
            seen.push(cx.target.send(who, call).await?);
        }
        let problems: Vec<String> = seen
            .iter()
            .filter(|s| s.status != 401 || leaks(cx, s, &[]))
            .map(|s| format!("{}: expected 401 with no data", s.line()))
            .collect();
        cx.report.record(name, judge(&seen, &problems));
        refusals.extend(seen);
    }
    cx.report.record(
        "auth-expired-key",
        Outcome::NotApplicable(
            "the admin API's shortest expiry is one day, so no key expires during a probe; \
             public-bee's end-to-end suite refuses an expired key on a manual clock"
                .into(),
        ),
    );
    cx.report.record("auth-same-answer", same_answer(&refusals));
    expiry_issued(cx).await?;
    other_keys(cx).await
}

/// `auth-expiry-issued`: what can be seen of expiry from outside. A key that would be
/// expired on issue is refused, and a key asked to expire in a day says so, in the
/// answer that issues it and in the key's record.
async fn expiry_issued(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let path = format!("/api/admin/bots/{}/keys", encode(&fx.a.id));
    let issue = |days: u32| {
        Call::post(path.clone())
            .key(&fx.admin)
            .json(&json!({"expires_in_days": days}))
    };
    let mut seen = vec![cx.target.send(Who::Main, issue(0)).await?];
    let mut problems = Vec::new();
    if let Some(zero) = seen.first()
        && (zero.status < 400 || zero.status >= 500 || zero.body.contains("\"key\""))
    {
        problems.push(format!(
            "{}: a key expiring on issue was issued",
            zero.line()
        ));
    }
    let day = cx.target.send(Who::Main, issue(1)).await?;
    let key_id = day
        .json()
        .and_then(|v| v.get("key_id")?.as_str().map(str::to_owned));
    let issued_at = jiff::Timestamp::now();
    let mut expiries = vec![(day.line(), expires_at(&day))];
    if let Some(key_id) = key_id {
        let record = Call::get(format!("/api/admin/keys/{}", encode(&key_id))).key(&fx.admin);
        let record = cx.target.send(Who::Main, record).await?;
        expiries.push((record.line(), expires_at(&record)));
        seen.push(record);
    } else {
        problems.push(format!("{}: no key was issued for one day", day.line()));
    }
    seen.push(day);
    for (line, at) in expiries {
        let hours = at.map(|at| at.duration_since(issued_at).as_secs_f64() / 3600.0);
        if hours.is_none_or(|h| !(23.0..=25.0).contains(&h)) {
            problems.push(format!(
                "{line}: expires_at is {at:?}, not one day after issue"
            ));
        }
    }
    cx.report
        .record("auth-expiry-issued", judge(&seen, &problems));
    Ok(())
}

/// The `expires_at` of a key's answer.
fn expires_at(seen: &Seen) -> Option<jiff::Timestamp> {
    seen.json()?.get("expires_at")?.as_str()?.parse().ok()
}

/// The checks that send keys the server must refuse.
const AUTH_CHECKS: [&str; 7] = [
    "auth-no-key",
    "auth-malformed-key",
    "auth-wrong-checksum",
    "auth-wrong-secret",
    "auth-revoked-key",
    "auth-suspended-key",
    "auth-same-answer",
];

/// A chat and a history request of bot A.
fn key_targets(cx: &Ctx<'_>) -> [Call; 2] {
    let fx = cx.fx;
    [
        Call::post(chat_path(&fx.a.id)).json(&json!({"message": "who am I?"})),
        Call::get(format!(
            "/api/public/conversations/{}",
            encode(&fx.conversation_a)
        )),
    ]
}

/// Every refusal has the same status and body (the request id aside, which is in a
/// header): nothing tells a missing key from a revoked one.
fn same_answer(refusals: &[Seen]) -> Outcome {
    let Some(first) = refusals.first() else {
        return Outcome::Fail("no refusals to compare".into());
    };
    let shape = |s: &Seen| {
        (
            s.status,
            s.body.clone(),
            s.header("www-authenticate").map(str::to_owned),
        )
    };
    let differs = refusals.iter().find(|s| shape(s) != shape(first));
    match differs {
        None => judge(refusals, &[]),
        Some(other) => Outcome::Fail(format!(
            "{} answered {:?} but {} answered {:?}",
            first.line(),
            first.body,
            other.line(),
            other.body
        )),
    }
}

/// Valid keys used where they do not belong: another bot's key on bot A, a bot key on
/// the admin API.
async fn other_keys(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let who = cx.target.fresh()?;
    let mut seen = Vec::new();
    for call in key_targets(cx) {
        seen.push(cx.target.send(who, call.key(&fx.key_b.key)).await?);
    }
    let problems = refused(cx, &seen, &[&fx.b.id]);
    cx.report
        .record("auth-other-bots-key", judge(&seen, &problems));

    let mut seen = Vec::new();
    for path in ["/api/admin/bots", "/api/admin/audit", "/api/admin/alerts"] {
        seen.push(
            cx.target
                .send(who, Call::get(path).key(&fx.key_a.key))
                .await?,
        );
    }
    let body = json!({"name": format!("probe-{}-x", fx.tag)});
    let create = Call::post("/api/admin/bots").key(&fx.key_a.key).json(&body);
    seen.push(cx.target.send(who, create).await?);
    let problems = refused(cx, &seen, &[]);
    cx.report
        .record("auth-bot-key-on-admin", judge(&seen, &problems));
    Ok(())
}

/// `cross-bot-*` and `cross-tenant-*`: a conversation is read and continued only
/// through its own bot's key, and a tenant's admin sees nothing of another tenant.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn tenancy(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let who = cx.target.fresh()?;

    // The control: bot A's own key reads its conversation, canary and all.
    let own = conversation_reads(cx, &fx.key_a, &fx.a)[0].clone();
    let own = cx.target.send(who, own).await?;
    if own.status != 200 || !own.body.contains(&fx.a.canary) {
        let what = format!(
            "{}: bot A's own key cannot read its conversation",
            own.line()
        );
        cx.report
            .record("cross-bot-conversation-read", Outcome::Fail(what));
    } else {
        for (name, key, bot) in [
            ("cross-bot-conversation-read", &fx.key_b, &fx.b),
            ("cross-tenant-conversation-read", &fx.key_t, &fx.t),
        ] {
            let mut seen = Vec::new();
            for call in conversation_reads(cx, key, bot) {
                seen.push(cx.target.send(who, call).await?);
            }
            let problems = refused(cx, &seen, &[&bot.id]);
            cx.report.record(name, judge(&seen, &problems));
        }
    }

    // Another user of the same bot cannot continue the conversation.
    let body = json!({
        "message": "continue please",
        "conversation_id": fx.conversation_a,
        "user_id": format!("probe-{}-user-other", fx.tag),
    });
    let call = Call::post(chat_path(&fx.a.id))
        .key(&fx.key_a.key)
        .json(&body);
    let seen = vec![cx.target.send(who, call).await?];
    let problems = refused(cx, &seen, &[]);
    cx.report
        .record("cross-user-conversation", judge(&seen, &problems));

    tenant_admin(cx, who).await
}

/// Reads of bot A's conversation with `key` (of `bot`), and an attempt to continue it.
fn conversation_reads(cx: &Ctx<'_>, key: &Key, bot: &Bot) -> Vec<Call> {
    let fx = cx.fx;
    let conversation = encode(&fx.conversation_a);
    let body = json!({"message": "go on", "conversation_id": fx.conversation_a});
    vec![
        Call::get(format!("/api/public/conversations/{conversation}")).key(&key.key),
        Call::get(format!(
            "/api/public/bots/{}/conversations",
            encode(&fx.a.id)
        ))
        .key(&key.key),
        Call::post(chat_path(&bot.id)).key(&key.key).json(&body),
    ]
}

async fn tenant_admin(cx: &mut Ctx<'_>, who: Who) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let key = fx.tenant_admin.key.as_str();
    let a = encode(&fx.a.id);
    let calls = [
        Call::get(format!("/api/admin/bots/{a}")).key(key),
        Call::new(reqwest::Method::PATCH, format!("/api/admin/bots/{a}"))
            .key(key)
            .json(&json!({"description": "taken over"})),
        Call::post(format!("/api/admin/bots/{a}/keys")).key(key),
        Call::get(format!("/api/admin/keys/{}", encode(&fx.key_a.key_id))).key(key),
        Call::post(format!(
            "/api/admin/keys/{}/suspend",
            encode(&fx.key_a.key_id)
        ))
        .key(key),
    ];
    let mut seen = Vec::new();
    for call in calls {
        seen.push(cx.target.send(who, call).await?);
    }
    let mut problems = refused(cx, &seen, &[&fx.t.id]);
    let list = cx
        .target
        .send(who, Call::get("/api/admin/bots").key(key))
        .await?;
    if list.body.contains(&fx.a.id) || leaks(cx, &list, &[&fx.t.id]) {
        problems.push(format!("{}: another tenant's bots are listed", list.line()));
    }
    seen.push(list);
    cx.report
        .record("cross-tenant-admin", judge(&seen, &problems));
    Ok(())
}

/// Problems of answers that should all be refusals (401, 403 or 404) carrying no data
/// of bots other than `owners`.
fn refused(cx: &Ctx<'_>, seen: &[Seen], owners: &[&str]) -> Vec<String> {
    seen.iter()
        .filter(|s| !matches!(s.status, 401 | 403 | 404) || leaks(cx, s, owners))
        .map(|s| {
            format!(
                "{}: not refused, or the answer holds another bot's data",
                s.line()
            )
        })
        .collect()
}

/// Whether the answer holds the canary of a bot not in `owners`.
fn leaks(cx: &Ctx<'_>, seen: &Seen, owners: &[&str]) -> bool {
    cx.fx
        .bots()
        .into_iter()
        .filter(|b| !owners.contains(&b.id.as_str()))
        .any(|b| seen.body.contains(&b.canary))
}

/// `signature-*`: a bot that requires signed requests refuses unsigned, replayed,
/// stale, early and tampered ones.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn signatures(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let Some(secret) = fx.key_signed.signing_secret.as_ref() else {
        let why = "the server issued no signing secret with the bot key".into();
        cx.report.record("signature-replay", Outcome::Fail(why));
        return Ok(());
    };
    let Ok(secret) = SigningSecret::from_bytes(secret) else {
        let why = "the signing secret the server issued is too short".into();
        cx.report.record("signature-replay", Outcome::Fail(why));
        return Ok(());
    };
    let signer = Signer::new(secret);
    let path = chat_path(&fx.signed.id);
    let body = br#"{"message": "a signed hello"}"#.to_vec();
    let now = unix_now();

    let fresh = sign(&signer, &path, &body, &now.to_string())?;
    let key = fx.key_signed.key.as_str();
    let call = |headers: &HeaderMap, body: &[u8]| signed_call(key, &path, headers, body);
    let who = cx.target.fresh()?;
    let first = cx.target.send(who, call(&fresh, &body)).await?;
    if first.status != 200 {
        let what = format!("{}: a correctly signed request was refused", first.line());
        cx.report.record("signature-valid", Outcome::Fail(what));
        return Ok(());
    }
    cx.report.record("signature-valid", Outcome::Pass);
    if let Some(why) = cx.no_failed_auth.clone() {
        for name in SIGNATURE_CHECKS {
            cx.report.record(name, Outcome::Incomplete(why.clone()));
        }
        return Ok(());
    }

    let stale = sign(&signer, &path, &body, &now.saturating_sub(SKEW).to_string())?;
    let early = sign(&signer, &path, &body, &now.saturating_add(SKEW).to_string())?;
    let tampered_body = br#"{"message": "a signed hellO"}"#.to_vec();
    let cases = [
        ("signature-missing", HeaderMap::new(), body.clone()),
        ("signature-replay", fresh, body.clone()),
        ("signature-stale", stale, body.clone()),
        ("signature-early", early, body.clone()),
        (
            "signature-tampered",
            sign(&signer, &path, &body, &now.to_string())?,
            tampered_body,
        ),
    ];
    for (name, headers, body) in cases {
        let who = cx.target.fresh()?;
        let seen = vec![cx.target.send(who, call(&headers, &body)).await?];
        let problems: Vec<String> = seen
            .iter()
            .filter(|s| s.status != 401)
            .map(|s| format!("{}: expected 401", s.line()))
            .collect();
        cx.report.record(name, judge(&seen, &problems));
    }
    Ok(())
}

/// The checks that send signatures the server must refuse.
const SIGNATURE_CHECKS: [&str; 5] = [
    "signature-missing",
    "signature-replay",
    "signature-stale",
    "signature-early",
    "signature-tampered",
];

fn signed_call(key: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> Call {
    let mut call = Call::post(path)
        .key(key)
        .raw("application/json", body.to_vec());
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            call = call.header(name.as_str(), value);
        }
    }
    call
}

/// The signature headers of a `POST` of `body` to `path` signed at `timestamp`.
fn sign(
    signer: &Signer,
    path: &str,
    body: &[u8],
    timestamp: &str,
) -> Result<HeaderMap, ProbeError> {
    let headers = HeaderMap::new();
    let request = RequestParts {
        method: "POST",
        path,
        query: None,
        headers: &headers,
        body,
    };
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let signed = signer
        .sign_with(&request, &[], timestamp, &nonce)
        .map_err(|e| ProbeError::Usage(format!("cannot sign a request: {e}")))?;
    let mut out = HeaderMap::new();
    signed.apply(&mut out);
    Ok(out)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The key with its last checksum character changed.
fn wrong_checksum(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    if let Some(last) = chars.last_mut() {
        *last = if *last == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

/// A key with the same prefix and key id, another secret and a valid checksum: it
/// passes every offline check and fails only the stored hash.
fn wrong_secret(key: &str) -> String {
    let Ok(parsed) = ApiKey::parse(key) else {
        return wrong_checksum(key);
    };
    const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let secret: String = rand::random::<[u8; 43]>()
        .iter()
        .map(|b| char::from(BASE62[usize::from(*b) % 62]))
        .collect();
    let head = format!("{}_{}_{secret}", parsed.prefix(), parsed.key_id().as_str());
    let sum = bee_auth::key::checksum(head.as_bytes());
    format!("{head}{}", String::from_utf8_lossy(&sum))
}
