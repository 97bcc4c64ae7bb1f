//! Secrets: vendor tokens, this workspace's keys, JWTs, private keys, and the values of
//! `password = ...` and `token: ...` assignments.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Candidate, Ctx, is_alnum, is_word};
use crate::kind::Kind;
use crate::validate;

/// The longest PEM block we follow before giving up on its end line.
const PEM_MAX: usize = 16 * 1024;
/// The longest value of an assignment.
const VALUE_MAX: usize = 256;

fn b62(b: u8) -> bool {
    is_alnum(b)
}

fn b64url(b: u8) -> bool {
    is_alnum(b) || b == b'-' || b == b'_'
}

/// Whether a token may start at `p`: nothing word-like sticks to its left.
fn starts_token(ctx: &Ctx<'_>, p: usize) -> bool {
    let prev = ctx.before(p, 1);
    !is_word(prev) && prev != b'-'
}

/// An underscore: a key in this workspace's format, or a vendor token whose prefix ends
/// with `_` (`ghp_`, `github_pat_`, `sk_`, `rk_`, `whsec_`, `npm_`, `hf_`).
pub(crate) fn underscore(ctx: &Ctx<'_>, u: usize, out: &mut Vec<Candidate>) -> usize {
    let next = workspace_key(ctx, u, out);
    if next > u + 1 {
        return next;
    }
    let back = ctx.run_back(u, 7, is_alnum);
    let start = u - back;
    if back == 0 || back == 7 {
        return u + 1;
    }
    match &ctx.text[start..u] {
        b"ghp" | b"gho" | b"ghu" | b"ghs" | b"ghr" => github(ctx, start, out),
        b"npm" => github(ctx, start, out),
        b"github" => github_pat(ctx, start, out),
        b"sk" | b"rk" => sk_underscore(ctx, start, out),
        b"whsec" => stripe_webhook(ctx, start, out),
        b"hf" => hugging_face(ctx, start, out),
        _ => u + 1,
    }
}

/// `ghp_` and its siblings, and `npm_`: 36 base62 characters whose last six are a CRC-32
/// checksum of the 30 before them.
fn github(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let n = ctx.run(p + 4, 64, b62);
    let end = p + 4 + n;
    if n != 36 || is_word(ctx.byte(end)) {
        return end;
    }
    let valid = validate::github_classic(&ctx.text[p..end]);
    ctx.push(out, Kind::ApiKey, p, end, if valid { 0.99 } else { 0.4 });
    end
}

/// Fine-grained GitHub tokens: `github_pat_`, 22 characters, `_`, 59 characters.
fn github_pat(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    let a = ctx.run(p + 11, 23, b62);
    if !starts_token(ctx, p) || a != 22 || ctx.byte(p + 33) != b'_' {
        return p + 1;
    }
    let b = ctx.run(p + 34, 60, b62);
    let end = p + 34 + b;
    if b == 59 && !is_word(ctx.byte(end)) {
        ctx.push(out, Kind::ApiKey, p, end, 0.95);
    }
    end
}

/// AWS access key ids: a four-letter type prefix and 16 base32 characters.
pub(crate) fn aws(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let n = ctx.run(p + 4, 17, |b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let end = p + 4 + n;
    if n != 16 || is_word(ctx.byte(end)) {
        return p + 1;
    }
    let base32 = ctx.text[p + 4..end]
        .iter()
        .all(|&b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    ctx.push(out, Kind::ApiKey, p, end, if base32 { 0.95 } else { 0.7 });
    end
}

/// `sk_` and `rk_`: Stripe keys (`sk_live_...`) and other secret keys of that shape.
fn sk_underscore(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let mut body = p + 3;
    let mut stripe = false;
    for mode in [&b"live_"[..], b"test_"] {
        if (0..mode.len()).all(|i| ctx.byte(p + 3 + i) == mode[i]) {
            body += mode.len();
            stripe = true;
        }
    }
    let n = ctx.run(body, VALUE_MAX, b62);
    let end = body + n;
    if is_word(ctx.byte(end)) {
        return end;
    }
    let value = &ctx.text[body..end];
    if stripe && n >= 16 {
        ctx.push(out, Kind::ApiKey, p, end, 0.95);
    } else if n >= 20 && random_looking(value) {
        ctx.push(out, Kind::ApiKey, p, end, 0.85);
    }
    end
}

/// Hugging Face tokens: `hf_` and at least 30 letters and digits.
fn hugging_face(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let n = ctx.run(p + 3, 64, b62);
    let end = p + 3 + n;
    if (30..=40).contains(&n) && !is_word(ctx.byte(end)) && random_looking(&ctx.text[p + 3..end]) {
        ctx.push(out, Kind::ApiKey, p, end, 0.9);
    }
    end
}

/// Google API keys: `AIza` and 35 characters of `[A-Za-z0-9_-]`.
pub(crate) fn google(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let n = ctx.run(p + 4, 40, b64url);
    let end = p + 4 + n;
    if n == 35 && !is_word(ctx.byte(end)) && ctx.byte(end) != b'-' {
        ctx.push(out, Kind::ApiKey, p, end, 0.9);
    }
    end
}

/// GitLab personal access tokens: `glpat-` and at least 20 characters of `[A-Za-z0-9_-]`.
pub(crate) fn gitlab(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let n = ctx.run(p + 6, 128, b64url);
    let end = p + 6 + n;
    if n >= 20 && !is_word(ctx.byte(end)) {
        ctx.push(out, Kind::ApiKey, p, end, 0.9);
    }
    end
}

/// `sk-`: OpenAI keys (`sk-proj-...`), Anthropic keys (`sk-ant-...`) and the like.
pub(crate) fn sk_dash(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let n = ctx.run(p + 3, 512, b64url);
    let end = p + 3 + n;
    if is_word(ctx.byte(end)) || n < 20 {
        return end.max(p + 1);
    }
    let body = &ctx.text[p + 3..end];
    let vendor = [&b"ant-"[..], b"proj-", b"svcacct-", b"admin-"]
        .iter()
        .any(|v| body.starts_with(v))
        || body.windows(8).any(|w| w == b"T3BlbkFJ");
    if vendor {
        ctx.push(out, Kind::ApiKey, p, end, 0.95);
    } else if random_looking(body) {
        ctx.push(out, Kind::ApiKey, p, end, 0.85);
    }
    end
}

/// Stripe webhook signing secrets: `whsec_` and at least 24 base64 characters.
fn stripe_webhook(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let n = ctx.run(p + 6, VALUE_MAX, |b| {
        is_alnum(b) || b == b'+' || b == b'/' || b == b'='
    });
    let end = p + 6 + n;
    if n >= 24 && !is_word(ctx.byte(end)) {
        ctx.push(out, Kind::ApiKey, p, end, 0.9);
    }
    end.max(p + 1)
}

/// Slack tokens: `xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxs-`, `xoxr-` and numbered parts.
pub(crate) fn slack(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) || !matches!(ctx.byte(p + 3), b'a' | b'b' | b'p' | b'o' | b's' | b'r')
    {
        return p + 1;
    }
    if ctx.byte(p + 4) != b'-' {
        return p + 1;
    }
    let n = ctx.run(p + 5, VALUE_MAX, |b| is_alnum(b) || b == b'-');
    let end = p + 5 + n;
    let body = &ctx.text[p + 5..end];
    if n >= 10 && body.iter().any(u8::is_ascii_digit) && !is_word(ctx.byte(end)) {
        ctx.push(out, Kind::ApiKey, p, end, 0.95);
    }
    end
}

/// JWTs: three base64url parts whose first decodes to a JSON header with `alg` or `typ`.
pub(crate) fn jwt(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !starts_token(ctx, p) {
        return p + 1;
    }
    let h = ctx.run(p, 2048, b64url);
    if h < 10 || ctx.byte(p + h) != b'.' {
        return p + h.max(1);
    }
    let c = ctx.run(p + h + 1, 8192, b64url);
    let sig_at = p + h + 1 + c;
    if c < 2 || ctx.byte(sig_at) != b'.' {
        return sig_at;
    }
    let s = ctx.run(sig_at + 1, 2048, b64url);
    let end = sig_at + 1 + s;
    if is_word(ctx.byte(end)) || !json_header(&ctx.text[p..p + h]) {
        return end;
    }
    ctx.push(out, Kind::ApiKey, p, end, 0.95);
    end
}

fn json_header(part: &[u8]) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(part) else {
        return false;
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(map)) => map.contains_key("alg") || map.contains_key("typ"),
        _ => false,
    }
}

/// PEM private key blocks, from the BEGIN line to the END line (or to the end of the
/// base64 body when the END line is missing).
pub(crate) fn pem(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    let label_at = p + 11;
    let l = ctx.run(label_at, 64, |b| {
        b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit()
    });
    let label = &ctx.text[label_at..label_at + l];
    let dashes = (0..5).all(|i| ctx.byte(label_at + l + i) == b'-');
    if !dashes || !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
        return p + 1;
    }
    let body = label_at + l + 5;
    let limit = (body + PEM_MAX).min(ctx.text.len());
    let end_line = memchr::memmem::find(&ctx.text[body..limit], b"-----END ");
    let end = match end_line {
        Some(i) => {
            let at = body + i + 9;
            let tail = ctx.run(at, 64, |b| b != b'\n' && b != b'\r');
            at + tail
        }
        None => {
            if body + PEM_MAX > ctx.text.len() {
                ctx.byte(ctx.text.len());
            }
            body + ctx.run(body, PEM_MAX, |b| {
                b.is_ascii_alphanumeric() || b"+/=\r\n\t :-,".contains(&b)
            })
        }
    };
    ctx.push(out, Kind::ApiKey, p, end, 0.99);
    end
}

/// Keys in this workspace's format, `<prefix>_<12 base62>_<49 base62>`, found at the
/// underscore before the key id and validated by their CRC-32 checksum.
fn workspace_key(ctx: &Ctx<'_>, u: usize, out: &mut Vec<Candidate>) -> usize {
    if ctx.run(u + 1, 13, b62) != 12 || ctx.byte(u + 13) != b'_' {
        return u + 1;
    }
    let n = ctx.run(u + 14, 50, b62);
    let end = u + 14 + n;
    if n != 49 || is_word(ctx.byte(end)) {
        return u + 1;
    }
    let back = ctx.run_back(u, 33, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
    });
    // The prefix may itself contain '_': try every start the checksum could cover.
    let mut best = None;
    for start in u - back..u {
        let first = ctx.text[start];
        let boundary = start == u - back || ctx.text[start - 1] == b'_';
        if boundary && first.is_ascii_lowercase() && validate::workspace_key(&ctx.text[start..end])
        {
            best = Some(start);
            break;
        }
    }
    match best {
        Some(start) => ctx.push(out, Kind::ApiKey, start, end, 0.99),
        None if back > 0 && back <= 32 => ctx.push(out, Kind::ApiKey, u - back, end, 0.45),
        None => {}
    }
    end
}

/// What the name before `:` or `=` says the value is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Name {
    Password,
    Secret,
    Authorization,
}

/// `password: ...`, `pwd=...`, `api_key = "..."`, `"token": "..."`, `Authorization: Bearer ...`.
pub(crate) fn assignment(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    let next = ctx.byte(p + 1);
    if next == b'=' || next == b'>' || (ctx.text[p] == b':' && next == b':') {
        return p + 1;
    }
    let Some(name) = name_before(ctx, p) else {
        return p + 1;
    };
    match name {
        Name::Password if ctx.on(&Kind::Password) => password_value(ctx, p + 1, 0.85, out),
        Name::Secret if ctx.on(&Kind::ApiKey) => secret_value(ctx, p + 1, out),
        Name::Authorization if ctx.on(&Kind::ApiKey) => authorization_value(ctx, p + 1, out),
        _ => p + 1,
    };
    // The value is scanned again by the other matchers: a vendor token or a card number
    // inside it is more specific than the assignment and wins the overlap.
    p + 1
}

/// `password is ...` in prose.
pub(crate) fn password_is(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    // `p` is at "ssword is "; the word must be "password" on its own.
    let pa = [
        ctx.before(p, 2).to_ascii_lowercase(),
        ctx.before(p, 1).to_ascii_lowercase(),
    ];
    if pa != *b"pa" || is_word(ctx.before(p, 3)) || !ctx.on(&Kind::Password) {
        return p + 1;
    }
    password_value(ctx, p + 10, 0.7, out)
}

fn name_before(ctx: &Ctx<'_>, p: usize) -> Option<Name> {
    let mut i = p;
    i -= ctx.run_back(i, 4, |b| b == b' ' || b == b'\t');
    if matches!(ctx.before(i, 1), b'"' | b'\'') {
        i -= 1;
    }
    let n = ctx.run_back(i, 48, |b| is_alnum(b) || matches!(b, b'_' | b'-' | b'.'));
    if n == 0 || n == 48 {
        return None;
    }
    classify_name(&ctx.text[i - n..i])
}

fn classify_name(name: &[u8]) -> Option<Name> {
    let mut lower = [0u8; 48];
    let len = name.len().min(48);
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let lower = &lower[..len];
    let last = last_segment(name);
    let has = |w: &[u8]| lower.windows(w.len()).any(|x| x == w);
    if has(b"passw")
        || has(b"passphrase")
        || has(b"passcode")
        || matches!(last.as_str(), "pwd" | "pass" | "pw")
    {
        return Some(Name::Password);
    }
    if matches!(last.as_str(), "authorization" | "auth") {
        return Some(Name::Authorization);
    }
    const WORDS: &[&str] = &[
        "key",
        "token",
        "secret",
        "secrets",
        "credential",
        "credentials",
        "pat",
    ];
    const COMPOUNDS: &[&str] = &[
        "apikey",
        "accesskey",
        "secretkey",
        "privatekey",
        "accesstoken",
        "authtoken",
        "refreshtoken",
        "clientsecret",
        "appsecret",
        "apitoken",
        "bearertoken",
        "sessiontoken",
    ];
    (WORDS.contains(&last.as_str()) || COMPOUNDS.contains(&last.as_str())).then_some(Name::Secret)
}

/// The last word of an identifier, lower-cased: `DB_PASSWORD` → `password`,
/// `apiKey` → `key`, `x-api-key` → `key`.
fn last_segment(name: &[u8]) -> String {
    let mut start = 0;
    for i in 1..name.len() {
        let sep = matches!(name[i - 1], b'_' | b'-' | b'.');
        let camel = name[i].is_ascii_uppercase() && name[i - 1].is_ascii_lowercase();
        if sep || camel {
            start = i;
        }
    }
    String::from_utf8_lossy(&name[start..]).to_ascii_lowercase()
}

/// Reads a value after a separator: skips blanks, honours quotes. Returns its span.
fn value_span(ctx: &Ctx<'_>, at: usize, stop: impl Fn(u8) -> bool) -> Option<(usize, usize)> {
    let at = at + ctx.run(at, 4, |b| b == b' ' || b == b'\t');
    let q = ctx.byte(at);
    if matches!(q, b'"' | b'\'' | b'`') {
        let n = ctx.run(at + 1, VALUE_MAX + 1, |b| b != q && b != b'\n');
        if n > 0 && n <= VALUE_MAX && ctx.byte(at + 1 + n) == q {
            return Some((at + 1, at + 1 + n));
        }
    }
    let n = ctx.run(at, VALUE_MAX + 1, |b| !stop(b));
    (n > 0 && n <= VALUE_MAX).then_some((at, at + n))
}

fn password_value(ctx: &Ctx<'_>, at: usize, confidence: f32, out: &mut Vec<Candidate>) -> usize {
    if bracketed(ctx, at) {
        return at;
    }
    let Some((s, mut e)) = value_span(ctx, at, |b| b.is_ascii_whitespace()) else {
        return at;
    };
    // In a query string the value ends where the next parameter starts.
    if let Some(amp) = ctx.text[s..e].iter().position(|&b| b == b'&') {
        let rest = &ctx.text[s + amp + 1..e];
        let param = rest
            .iter()
            .take_while(|&&b| is_alnum(b) || b == b'_')
            .count();
        if param > 0 && rest.get(param) == Some(&b'=') {
            e = s + amp;
        }
    }
    // A closing bracket or quote that the value did not open belongs to the text around.
    while e > s
        && matches!(
            ctx.text[e - 1],
            b'"' | b'\'' | b')' | b']' | b'}' | b',' | b';'
        )
    {
        let open = match ctx.text[e - 1] {
            b')' => b'(',
            b']' => b'[',
            b'}' => b'{',
            other => other,
        };
        if ctx.text[s..e - 1].contains(&open) && open != b',' && open != b';' {
            break;
        }
        e -= 1;
    }
    let value = &ctx.text[s..e];
    if password_like(value, confidence < 0.8) {
        ctx.push(out, Kind::Password, s, e, confidence);
    }
    e.max(at)
}

/// Whether the value at `at` is `<...>` or `[...]` on one line: a template or a mask,
/// such as `<your password>` or `[hidden]`.
fn bracketed(ctx: &Ctx<'_>, at: usize) -> bool {
    let at = at + ctx.run(at, 4, |b| b == b' ' || b == b'\t');
    let close = match ctx.byte(at) {
        b'<' => b'>',
        b'[' => b']',
        _ => return false,
    };
    let n = ctx.run(at + 1, 64, |b| b != close && b != b'\n');
    n < 64 && ctx.byte(at + 1 + n) == close
}

/// Values after `password:` that are words about the password, not the password.
const PASSWORD_STOP: &[&str] = &[
    "reset",
    "required",
    "invalid",
    "incorrect",
    "wrong",
    "expired",
    "forgotten",
    "forgot",
    "changed",
    "change",
    "protected",
    "manager",
    "field",
    "hash",
    "hashed",
    "null",
    "none",
    "nil",
    "undefined",
    "empty",
    "hidden",
    "redacted",
    "masked",
    "password",
    "passwords",
    "secret",
    "policy",
    "strength",
    "length",
    "please",
    "same",
    "blank",
    "missing",
    "unknown",
    "n/a",
    "tbd",
    "here",
    "below",
    "above",
    "sent",
    "updated",
    "weak",
    "strong",
    "true",
    "false",
    "yes",
    "enter",
    "your",
    "new",
    "old",
    "the",
    "not",
    "and",
    "was",
    "has",
    "is",
    "are",
    "must",
    "should",
    "will",
    "can",
    "cannot",
    "doesn't",
    "isn't",
];

fn password_like(value: &[u8], prose: bool) -> bool {
    if value.len() < 4 || value.len() > 128 {
        return false;
    }
    let lower = String::from_utf8_lossy(value).to_ascii_lowercase();
    let trimmed = lower.trim_end_matches(['.', '!', '?', ':']);
    if PASSWORD_STOP.contains(&trimmed) || placeholder(&lower) || variable(value) {
        return false;
    }
    if value
        .iter()
        .all(|&b| matches!(b, b'*' | b'x' | b'X' | b'.' | b'#' | b'-'))
    {
        return false;
    }
    let letters_only = value.iter().all(u8::is_ascii_alphabetic);
    let inner_upper = value[1..].iter().any(u8::is_ascii_uppercase);
    let lower_any = value.iter().any(u8::is_ascii_lowercase);
    let classes = classes(value);
    if prose {
        return classes >= 2 && value.len() >= 6 && (!letters_only || (inner_upper && lower_any));
    }
    !letters_only || (inner_upper && lower_any) || value.len() >= 6
}

fn classes(value: &[u8]) -> usize {
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let digit = value.iter().any(u8::is_ascii_digit);
    let other = value.iter().any(|b| !b.is_ascii_alphanumeric());
    usize::from(lower) + usize::from(upper) + usize::from(digit) + usize::from(other)
}

fn placeholder(lower: &str) -> bool {
    const MARKS: &[&str] = &[
        "example",
        "your_",
        "your-",
        "yourpass",
        "xxxx",
        "****",
        "placeholder",
        "changeme",
        "dummy",
        "sample",
        "redacted",
        "insert",
        "${",
        "$(",
        "{{",
        "process.env",
        "os.environ",
        "getenv",
        "•",
    ];
    // Whole-value forms: `<password>`, `[REDACTED]`, a printf slot.
    let wrapped = |open: char, close: char| lower.starts_with(open) && lower.ends_with(close);
    MARKS.iter().any(|m| lower.contains(m))
        || wrapped('<', '>')
        || wrapped('[', ']')
        || matches!(lower, "%s" | "%v" | "{}" | "?")
}

/// A shell or environment variable such as `$DB_PASSWORD`, not a value.
fn variable(value: &[u8]) -> bool {
    value.len() > 1
        && value[0] == b'$'
        && value[1..]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn secret_byte(b: u8) -> bool {
    is_alnum(b) || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~')
}

fn secret_value(ctx: &Ctx<'_>, at: usize, out: &mut Vec<Candidate>) -> usize {
    let Some((s, e)) = value_span(ctx, at, |b| !secret_byte(b)) else {
        return at;
    };
    let value = &ctx.text[s..e];
    if !value.iter().all(|&b| secret_byte(b)) {
        return e;
    }
    let lower = String::from_utf8_lossy(value).to_ascii_lowercase();
    if value.len() >= 16 && random_looking(value) && !placeholder(&lower) && !variable(value) {
        ctx.push(out, Kind::ApiKey, s, e, 0.75);
    }
    e
}

fn authorization_value(ctx: &Ctx<'_>, at: usize, out: &mut Vec<Candidate>) -> usize {
    let at = at + ctx.run(at, 4, |b| b == b' ' || b == b'"' || b == b'\'');
    let w = ctx.run(at, 8, |b| b.is_ascii_alphabetic());
    let scheme = &ctx.text[at..at + w];
    let known = [&b"bearer"[..], b"basic", b"token", b"digest"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s));
    if !known || ctx.byte(at + w) != b' ' {
        return at;
    }
    let s = at + w + 1;
    let n = ctx.run(s, 4096, secret_byte);
    let value = &ctx.text[s..s + n];
    if n >= 8
        && validate::entropy(value) >= 2.5
        && !placeholder(&String::from_utf8_lossy(value).to_ascii_lowercase())
    {
        ctx.push(out, Kind::ApiKey, s, s + n, 0.85);
    }
    s + n
}

/// Whether a value looks generated: long enough, varied enough, more than one class of
/// character (or long hex), and not a run of one repeated character.
pub(crate) fn random_looking(value: &[u8]) -> bool {
    let hex = value.len() >= 32 && value.iter().all(u8::is_ascii_hexdigit);
    let mixed = classes(value) >= 2 && value.iter().any(u8::is_ascii_digit)
        || value.iter().any(u8::is_ascii_uppercase) && value.iter().any(u8::is_ascii_lowercase);
    let threshold = if hex { 3.0 } else { 3.5 };
    value.len() >= 16 && (hex || mixed) && validate::entropy(value) >= threshold
}
