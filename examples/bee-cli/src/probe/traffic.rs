//! What a request may carry and how often: rate limits, body size and shape, content
//! types, and which browser origins may call.

use reqwest::Method;
use serde_json::json;

use super::fixture::{ALLOWED_ORIGIN, SMALL_PER_MINUTE, chat_path};
use super::http::{Call, Seen};
use super::report::Outcome;
use super::{Ctx, ProbeError, judge};

/// A body past the server's 64 KiB limit.
const OVERSIZED: usize = 70 * 1024;
/// An origin no bot allows.
const FOREIGN_ORIGIN: &str = "https://attacker.example";

/// `rate-limit-enforced` and `rate-limit-headers`: the bot with a tier of three a
/// minute refuses the fourth message with 429 and `Retry-After`; answers carry
/// `RateLimit` and `RateLimit-Policy`.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn rate_limits(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let who = cx.target.fresh()?;
    let mut seen = Vec::new();
    for i in 0..SMALL_PER_MINUTE + 2 {
        let body = json!({"message": format!("rate probe number {i}")});
        let call = Call::post(chat_path(&fx.small.id))
            .key(&fx.key_small.key)
            .json(&body);
        let answer = cx.target.send(who, call).await?;
        let refused = answer.status == 429;
        seen.push(answer);
        if refused {
            break;
        }
    }
    let limited = seen.iter().find(|s| s.status == 429);
    let enforced = match limited {
        Some(_) => judge(&seen, &[]),
        None => Outcome::Fail(format!(
            "{} messages within a minute on a tier of {SMALL_PER_MINUTE}, none refused ({})",
            seen.len(),
            seen.last().map(Seen::line).unwrap_or_default()
        )),
    };
    cx.report.record("rate-limit-enforced", enforced);
    let mut problems: Vec<String> = seen.iter().filter_map(limit_fields_missing).collect();
    problems.extend(limit_values_wrong(&seen));
    cx.report
        .record("rate-limit-headers", judge(&seen, &problems));
    Ok(())
}

/// Where the fields' values contradict the tier: the policy must name the one-minute
/// tier with at most its configured quota (load may scale it down), the remaining count
/// must fall with each admitted message, and be 0 on a refusal.
fn limit_values_wrong(seen: &[Seen]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut last: Option<u64> = None;
    for s in seen.iter().filter(|s| s.status == 200 || s.status == 429) {
        let quota = s
            .header("ratelimit-policy")
            .and_then(|p| tier_param(p, "1m", "q"));
        if quota.is_none_or(|q| q == 0 || q > u64::from(SMALL_PER_MINUTE)) {
            problems.push(format!(
                "{}: RateLimit-Policy {:?} does not give the 1m tier a quota of at most \
                 {SMALL_PER_MINUTE}",
                s.line(),
                s.header("ratelimit-policy")
            ));
        }
        let remaining = s.header("ratelimit").and_then(|p| tier_param(p, "1m", "r"));
        let wrong = match (s.status, remaining, last) {
            (_, None, _) => true,
            (429, Some(r), _) => r != 0,
            (_, Some(r), Some(before)) => r >= before,
            (_, Some(_), None) => false,
        };
        if wrong {
            problems.push(format!(
                "{}: RateLimit {:?} after a remaining count of {last:?}",
                s.line(),
                s.header("ratelimit")
            ));
        }
        last = remaining;
    }
    problems
}

/// Parameter `param` of tier `tier` in a structured field such as
/// `"1m";q=3;w=60, "1h";q=100;w=3600`.
fn tier_param(field: &str, tier: &str, param: &str) -> Option<u64> {
    let quoted = format!("\"{tier}\"");
    field
        .split(',')
        .map(str::trim)
        .find(|item| item.split(';').next() == Some(quoted.as_str()))?
        .split(';')
        .skip(1)
        .find_map(|kv| kv.trim().strip_prefix(param)?.strip_prefix('='))?
        .parse()
        .ok()
}

fn limit_fields_missing(seen: &Seen) -> Option<String> {
    let mut missing = Vec::new();
    if seen.status == 200 || seen.status == 429 {
        missing.extend(
            ["ratelimit", "ratelimit-policy"]
                .into_iter()
                .filter(|h| seen.header(h).is_none()),
        );
    }
    if seen.status == 429 {
        let retry = seen
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if retry.is_none_or(|s| s < 1) {
            missing.push("retry-after (seconds)");
        }
    }
    (!missing.is_empty()).then(|| format!("{}: missing {}", seen.line(), missing.join(", ")))
}

/// `body-oversized` (413) and `body-malformed` (400 or 422).
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn bodies(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let who = cx.target.fresh()?;
    let chat = || Call::post(chat_path(&fx.a.id)).key(&fx.key_a.key);
    let admin = || Call::post("/api/admin/bots").key(&fx.admin);
    let big = json!({"message": "x".repeat(OVERSIZED)});
    let big_bot =
        json!({"name": format!("probe-{}-big", fx.tag), "description": "y".repeat(OVERSIZED)});

    let mut seen = Vec::new();
    for call in [chat().json(&big), admin().json(&big_bot)] {
        // The server may answer before reading the body and close the connection.
        let call = call.header("connection", "close");
        seen.push(cx.target.send(who, call).await?);
    }
    let problems = expect(&seen, &[413]);
    cx.report.record("body-oversized", judge(&seen, &problems));

    let json_type = "application/json";
    let malformed: [(&[u8], bool); 8] = [
        (b"{\"message\": ", true),
        (b"not json at all", true),
        (b"{\"message\": 5}", true),
        (b"{\"message\": \"hi\", \"unknown\": 1}", true),
        (b"[]", true),
        (b"{\"message\": \"\xff\xfe\"}", true),
        (b"{\"name\": ", false),
        (b"{\"name\": [1, 2]}", false),
    ];
    let mut seen = Vec::new();
    for (body, to_chat) in malformed {
        let call = if to_chat { chat() } else { admin() };
        seen.push(
            cx.target
                .send(who, call.raw(json_type, body.to_vec()))
                .await?,
        );
    }
    let problems = expect(&seen, &[400, 422]);
    cx.report.record("body-malformed", judge(&seen, &problems));
    Ok(())
}

/// `content-type`: a body that is not declared JSON is refused with 415.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn content_types(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let who = cx.target.fresh()?;
    let chat_body = br#"{"message": "typed wrong"}"#.to_vec();
    let bot_body = format!(r#"{{"name": "probe-{}-ct"}}"#, fx.tag).into_bytes();
    let mut seen = Vec::new();
    for content_type in [
        "text/plain",
        "",
        "application/x-www-form-urlencoded",
        "text/html",
        "application/xml",
    ] {
        let chat = Call::post(chat_path(&fx.a.id)).key(&fx.key_a.key);
        seen.push(
            cx.target
                .send(who, chat.raw(content_type, chat_body.clone()))
                .await?,
        );
        let bot = Call::post("/api/admin/bots").key(&fx.admin);
        seen.push(
            cx.target
                .send(who, bot.raw(content_type, bot_body.clone()))
                .await?,
        );
    }
    let problems = expect(&seen, &[415]);
    cx.report.record("content-type", judge(&seen, &problems));
    Ok(())
}

/// `cors-foreign-origin`: no route grants a foreign origin (or `null`) access, in a
/// preflight or a plain request.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn cors(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let who = cx.target.fresh()?;
    let chat = chat_path(&fx.a.id);
    let conversation = format!("/api/public/conversations/{}", fx.conversation_a);
    let mut seen = Vec::new();
    for origin in [FOREIGN_ORIGIN, "null"] {
        let preflight = |path: &str, method: &str| {
            Call::new(Method::OPTIONS, path)
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                )
        };
        let calls = [
            preflight(&chat, "POST"),
            preflight(&conversation, "GET"),
            preflight("/api/admin/bots", "POST"),
            Call::get("/api/public/bots").header("origin", origin),
            Call::get(&conversation)
                .key(&fx.key_a.key)
                .header("origin", origin),
            Call::post(&chat)
                .key(&fx.key_a.key)
                .header("origin", origin)
                .json(&json!({"message": "cors probe from elsewhere"})),
            Call::get("/api/admin/bots")
                .key(&fx.admin)
                .header("origin", origin),
        ];
        for call in calls {
            seen.push(cx.target.send(who, call).await?);
        }
    }
    let problems: Vec<String> = seen.iter().filter_map(granted).collect();
    cx.report
        .record("cors-foreign-origin", judge(&seen, &problems));

    // The control: the origin bot A allows is granted, so the check above is not
    // passing only because CORS is off altogether.
    let control = Call::new(Method::OPTIONS, &chat)
        .header("origin", ALLOWED_ORIGIN)
        .header("access-control-request-method", "POST");
    let answer = cx.target.send(who, control).await?;
    let outcome = match answer.header("access-control-allow-origin") {
        Some(o) if o == ALLOWED_ORIGIN => Outcome::Pass,
        other => Outcome::Fail(format!(
            "{}: a bot's own allowed origin got {other:?}",
            answer.line()
        )),
    };
    cx.report.record("cors-allowed-origin", outcome);
    Ok(())
}

/// Where an answer to a foreign origin grants it access.
fn granted(seen: &Seen) -> Option<String> {
    let origin = seen.header("access-control-allow-origin")?;
    Some(format!(
        "{}: Access-Control-Allow-Origin: {origin}",
        seen.line()
    ))
}

/// Problems of answers whose status is not one of `statuses`.
fn expect(seen: &[Seen], statuses: &[u16]) -> Vec<String> {
    seen.iter()
        .filter(|s| !statuses.contains(&s.status))
        .map(|s| {
            let wanted: Vec<String> = statuses.iter().map(u16::to_string).collect();
            format!("{}: expected {}", s.line(), wanted.join(" or "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_parameters_are_read_from_structured_fields() {
        let policy = r#""1m";q=3;w=60, "1h";q=100;w=3600"#;
        assert_eq!(tier_param(policy, "1m", "q"), Some(3));
        assert_eq!(tier_param(policy, "1h", "w"), Some(3600));
        assert_eq!(tier_param(policy, "1d", "q"), None);
        assert_eq!(tier_param(r#""1m";r=0;t=42"#, "1m", "r"), Some(0));
        assert_eq!(tier_param("garbage", "1m", "r"), None);
    }
}
