//! The other configuration files: key policy, signature policy, RBAC roles, ABAC rules,
//! PII profiles, message policy, processing records and monitor thresholds.
//!
//! Input: byte 0 picks the file kind and format (see `KINDS`), the rest is the file (at
//! most 64 KiB).
//!
//! Invariants: no panic; what loads is usable: a loaded PII profile builds a detector,
//! loaded roles hold only well-formed grants, a loaded monitor configuration starts a
//! monitor.
#![no_main]

use std::sync::Arc;

use arbitrary::{Result, Unstructured};
use bee_audit::gdpr::ProcessingRegister;
use bee_audit::{ManualClock, Monitor, MonitorConfig};
use bee_auth::{AbacPolicy, KeyPolicy, Roles, SignaturePolicy};
use bee_fuzz::{MAX_INPUT, byte, rest_text, within};
use bee_pii::{Detector, MessagePolicy, Profile};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

const KINDS: [&str; 13] = [
    "key_policy.yaml",
    "key_policy.toml",
    "signature_policy.yaml",
    "signature_policy.toml",
    "roles.yaml",
    "roles.toml",
    "abac.yaml",
    "abac.toml",
    "pii_profile.yaml",
    "pii_profile.toml",
    "message_policy.yaml",
    "processing.yaml",
    "monitor.yaml",
];

#[derive(Debug)]
struct Input {
    kind: &'static str,
    text: String,
}

bee_fuzz::whole_input!(Input);

impl Input {
    fn read(mut u: Unstructured<'_>) -> Result<Self> {
        within(&u, MAX_INPUT)?;
        let kind = KINDS[usize::from(byte(&mut u)) % KINDS.len()];
        Ok(Input {
            kind,
            text: rest_text(u),
        })
    }
}

fuzz_target!(|input: Input| {
    let text = input.text.as_str();
    match input.kind {
        "key_policy.yaml" => drop(KeyPolicy::from_yaml(text)),
        "key_policy.toml" => drop(KeyPolicy::from_toml(text)),
        "signature_policy.yaml" => drop(SignaturePolicy::from_yaml(text)),
        "signature_policy.toml" => drop(SignaturePolicy::from_toml(text)),
        "roles.yaml" => roles(Roles::from_yaml(text)),
        "roles.toml" => roles(Roles::from_toml(text)),
        "abac.yaml" => drop(AbacPolicy::from_yaml(text, None)),
        "abac.toml" => drop(AbacPolicy::from_toml(text, None)),
        "pii_profile.yaml" => profile(Profile::from_yaml(text)),
        "pii_profile.toml" => profile(Profile::from_toml(text)),
        "message_policy.yaml" => message_policy(text),
        "processing.yaml" => drop(ProcessingRegister::from_yaml(text)),
        _ => monitor(text),
    }
});

fn roles(loaded: std::result::Result<Roles, bee_auth::ConfigError>) {
    let Ok(roles) = loaded else { return };
    for name in roles.names() {
        let grants = roles.grants(name).expect("named role");
        assert!(
            grants.malformed().is_empty(),
            "role {name} kept a malformed grant"
        );
        assert!(!grants.is_empty(), "role {name} has no grant");
    }
}

fn profile(loaded: std::result::Result<Profile, bee_pii::ProfileError>) {
    let Ok(profile) = loaded else { return };
    let detector = Detector::new(&profile).expect("a loaded profile builds a detector");
    let _ = detector.detect("card 4111 1111 1111 1111, mail ana@example.org, ssn 262-68-2755");
}

fn message_policy(text: &str) {
    let Ok(policy) = serde_yaml_ng::from_str::<MessagePolicy>(text) else {
        return;
    };
    let _ = policy.check("hello <script>alert(1)</script>");
}

fn monitor(text: &str) {
    let Ok(config) = MonitorConfig::from_yaml(text) else {
        return;
    };
    let clock = Arc::new(ManualClock::new(
        Timestamp::from_second(1_750_000_000).expect("time"),
    ));
    Monitor::new(config, clock).expect("a loaded configuration starts a monitor");
}
