//! Permission and grant parsing and matching, checked against a plain model.
//!
//! Input: the text, by lines: grants separated by spaces, the permission asked for, the
//! principal, the resource's owner (empty for none), and the resource's labels separated
//! by spaces (at most 64 KiB).
//!
//! Invariants: no panic; a permission parses only as two segments of `[a-z0-9_]` (1 to
//! 64 bytes) and prints back as written; a grant set allows exactly what the model of
//! whole-segment matching allows, so `bot:*` never matches `bot_admin:read`; malformed
//! grants grant nothing.
#![no_main]

use arbitrary::{Result, Unstructured};
use bee_auth::{Grant, GrantSet, Permission, Target};
use bee_fuzz::{MAX_INPUT, rest_text, within};
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Input {
    grants: Vec<String>,
    permission: String,
    principal: String,
    owner: Option<String>,
    labels: Vec<String>,
}

bee_fuzz::whole_input!(Input);

impl Input {
    fn read(u: Unstructured<'_>) -> Result<Self> {
        within(&u, MAX_INPUT)?;
        let text = rest_text(u);
        let mut lines = text.split('\n');
        let mut next = || lines.next().unwrap_or("").to_owned();
        let grants = next().split(' ').map(str::to_owned).collect();
        let permission = next();
        let principal = next();
        let owner = Some(next()).filter(|o| !o.is_empty());
        let labels = next().split(' ').map(str::to_owned).collect();
        Ok(Input {
            grants,
            permission,
            principal,
            owner,
            labels,
        })
    }
}

fn is_segment(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The model: a grant is `*` or two or three `:`-separated segments; a segment matches
/// another whole, or is `*`; the qualifier `*` or none holds always, `own` for the owner
/// (never an empty principal), a label when the resource carries it.
fn model_allows(
    grant: &str,
    permission: (&str, &str),
    principal: &str,
    owner: Option<&str>,
    labels: &[&str],
) -> Option<bool> {
    if grant == "*" {
        return Some(true);
    }
    let parts: Vec<&str> = grant.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let segment_ok = |s: &str| s == "*" || is_segment(s);
    if !parts.iter().all(|p| segment_ok(p) || *p == "own") {
        return None;
    }
    if parts[..2].iter().any(|p| !segment_ok(p)) {
        return None;
    }
    let matches = |g: &str, p: &str| g == "*" || g == p;
    let qualified = match parts.get(2) {
        None | Some(&"*") => true,
        Some(&"own") => !principal.is_empty() && owner == Some(principal),
        Some(label) => labels.contains(label),
    };
    Some(matches(parts[0], permission.0) && matches(parts[1], permission.1) && qualified)
}

fuzz_target!(|input: Input| {
    let parsed = Permission::parse(&input.permission);
    let shape = input
        .permission
        .split_once(':')
        .filter(|(r, a)| is_segment(r) && is_segment(a));
    assert_eq!(
        parsed.is_ok(),
        shape.is_some(),
        "permission parse disagrees with the model"
    );
    let Ok(permission) = parsed else { return };
    assert_eq!(permission.to_string(), input.permission);

    let labels: Vec<&str> = input.labels.iter().map(String::as_str).collect();
    let target = Target {
        owner: input.owner.as_deref(),
        labels: &labels,
    };
    let asked = (permission.resource(), permission.action());

    let mut expected = false;
    for text in &input.grants {
        let model = model_allows(
            text,
            asked,
            &input.principal,
            input.owner.as_deref(),
            &labels,
        );
        let grant = Grant::parse(text);
        assert_eq!(
            grant.is_ok(),
            model.is_some(),
            "grant {text:?} parse disagrees"
        );
        if let Ok(grant) = grant {
            let allows = grant.allows(&input.principal, &permission, &target);
            assert_eq!(Some(allows), model, "grant {text:?} on {permission}");
            expected |= allows;
        }
    }
    let set = GrantSet::lenient(&input.grants);
    assert_eq!(
        set.allows(&input.principal, &permission, &target),
        expected,
        "grant set"
    );
});
