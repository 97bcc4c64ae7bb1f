//! What the server lets out: personal data through the admin API, and the security
//! headers of every answer the probe received.

use serde_json::json;

use super::fixture::chat_path;
use super::http::{Call, Seen, encode};
use super::report::Outcome;
use super::{Ctx, ProbeError, judge};

/// Referrer policies that do not send a full URL across origins.
const STRICT_REFERRER: [&str; 5] = [
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "origin",
];

/// `pii-admin-plaintext`: personal data sent in chat messages (and a user id) is never
/// found in plaintext through the admin endpoints.
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn pii(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let fx = cx.fx;
    let who = cx.target.fresh()?;
    let data = Personal::new(&fx.tag);
    let messages = [
        format!("Hello, my email is {} and please call me.", data.email),
        format!("My card number is {}, is that safe?", data.card_spaced()),
        format!("You can reach me on {} after five.", data.phone),
    ];
    let mut seen = Vec::new();
    let mut problems = Vec::new();
    for message in messages {
        let body = json!({"message": message, "user_id": data.user});
        let call = Call::post(chat_path(&fx.a.id))
            .key(&fx.key_a.key)
            .json(&body);
        let answer = cx.target.send(who, call).await?;
        if answer.status != 200 {
            problems.push(format!(
                "{}: a message with personal data was not answered",
                answer.line()
            ));
        }
        seen.push(answer);
    }
    let a = encode(&fx.a.id);
    let reads = [
        "/api/admin/audit".to_owned(),
        "/api/admin/audit?kind=pii_detected".to_owned(),
        "/api/admin/audit?kind=data_access".to_owned(),
        "/api/admin/alerts".to_owned(),
        "/api/admin/processing-records".to_owned(),
        "/api/admin/bots".to_owned(),
        format!("/api/admin/bots/{a}"),
        format!("/api/admin/keys/{}", encode(&fx.key_a.key_id)),
    ];
    for path in reads {
        let answer = cx.target.send(who, Call::get(path).key(&fx.admin)).await?;
        if answer.status != 200 {
            problems.push(format!(
                "{}: an admin view could not be read",
                answer.line()
            ));
        }
        if let Some(found) = data.found_in(&answer.body) {
            problems.push(format!("{}: {found} in plaintext", answer.line()));
        }
        seen.push(answer);
    }
    cx.report
        .record("pii-admin-plaintext", judge(&seen, &problems));
    Ok(())
}

/// Personal data made up for one run.
struct Personal {
    email: String,
    card: String,
    phone: String,
    user: String,
}

impl Personal {
    fn new(tag: &str) -> Self {
        let digits: [u8; 15] = rand::random();
        let mut card: Vec<u8> = vec![4];
        card.extend(digits.iter().skip(1).map(|d| d % 10));
        card.push(luhn_digit(&card));
        let card = card.iter().map(|d| char::from(b'0' + d)).collect();
        let line = u16::from_le_bytes([digits[0], digits[1]]) % 100;
        Self {
            email: format!("jane.{tag}@example.com"),
            card,
            phone: format!("+1 415 555 01{line:02}"),
            user: format!("probe.{tag}@example.org"),
        }
    }

    fn card_spaced(&self) -> String {
        let groups: Vec<&str> = (0..4).map(|i| &self.card[i * 4..i * 4 + 4]).collect();
        groups.join(" ")
    }

    /// Which value `body` holds, if any.
    fn found_in(&self, body: &str) -> Option<&'static str> {
        let lower = body.to_lowercase();
        let digits: String = body.chars().filter(char::is_ascii_digit).collect();
        if lower.contains(&self.email) {
            Some("the email address")
        } else if lower.contains(&self.user) {
            Some("the user id")
        } else if body.contains(&self.card_spaced()) || body.contains(&self.card) {
            Some("the card number")
        } else if body.contains(&self.phone) || digits.contains(&self.phone_digits()) {
            Some("the phone number")
        } else {
            None
        }
    }

    fn phone_digits(&self) -> String {
        self.phone.chars().filter(char::is_ascii_digit).collect()
    }
}

/// The check digit that makes `digits` pass the Luhn test.
fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

/// `headers-*` and `json-content-type`, over every answer of the run, with a few
/// error answers added on purpose (unknown route, wrong method, no key).
///
/// # Errors
///
/// When the server stops answering.
pub(crate) async fn headers(cx: &mut Ctx<'_>) -> Result<(), ProbeError> {
    let who = cx.target.fresh()?;
    let mut extra = vec![
        Call::get("/health"),
        Call::get("/api/probe-nowhere"),
        Call::new(reqwest::Method::DELETE, "/api/public/bots"),
        Call::new(reqwest::Method::OPTIONS, "/api/public/bots"),
    ];
    if cx.no_failed_auth.is_none() {
        extra.push(Call::get("/api/admin/bots"));
    }
    for call in extra {
        cx.target.send(who, call).await?;
    }
    let seen = cx.target.seen().to_vec();
    for rule in RULES {
        let outcome = over_all(&seen, &rule);
        cx.report.record(rule.name, outcome);
    }
    Ok(())
}

/// A property every answer must have.
struct Rule {
    /// The check's name.
    name: &'static str,
    /// The header it is about.
    header: &'static str,
    /// Whether an answer has it.
    holds: fn(&Seen) -> bool,
}

const RULES: [Rule; 5] = [
    Rule {
        name: "headers-csp",
        header: "content-security-policy",
        holds: |s| {
            s.header("content-security-policy")
                .is_some_and(|v| !v.trim().is_empty())
        },
    },
    Rule {
        name: "headers-nosniff",
        header: "x-content-type-options",
        holds: |s| {
            s.header("x-content-type-options")
                .is_some_and(|v| v.eq_ignore_ascii_case("nosniff"))
        },
    },
    Rule {
        name: "headers-frame-options",
        header: "x-frame-options",
        holds: |s| {
            s.header("x-frame-options")
                .is_some_and(|v| v.eq_ignore_ascii_case("deny"))
        },
    },
    Rule {
        name: "headers-referrer-policy",
        header: "referrer-policy",
        holds: |s| {
            s.header("referrer-policy")
                .is_some_and(|v| STRICT_REFERRER.iter().any(|p| v.eq_ignore_ascii_case(p)))
        },
    },
    Rule {
        name: "json-content-type",
        header: "content-type",
        holds: json_typed,
    },
];

/// A body that is a JSON object or array is served as `application/json`.
fn json_typed(seen: &Seen) -> bool {
    let is_json = seen.json().is_some_and(|v| v.is_object() || v.is_array());
    !is_json
        || seen
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
}

fn over_all(seen: &[Seen], rule: &Rule) -> Outcome {
    let bad: Vec<&Seen> = seen.iter().filter(|s| !(rule.holds)(s)).collect();
    let Some(first) = bad.first() else {
        return Outcome::Pass;
    };
    let errors = bad.iter().filter(|s| s.status >= 400).count();
    Outcome::Fail(format!(
        "{} of {} answers ({errors} of them errors) lack it; first {}: {}: {:?}",
        bad.len(),
        seen.len(),
        first.line(),
        rule.header,
        first.header(rule.header)
    ))
}
