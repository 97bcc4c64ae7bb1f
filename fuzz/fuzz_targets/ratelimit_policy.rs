//! Rate-limit policy files, YAML or TOML, and window durations.
//!
//! Input: byte 0 bit 0 picks TOML over YAML, byte 1 a scaling factor; the rest is the
//! policy file (at most 64 KiB).
//!
//! Invariants: no panic; a loaded policy has at least one tier, and every tier a
//! non-zero window, limit and burst, also once scaled down.
#![no_main]

use arbitrary::{Result, Unstructured};
use bee_fuzz::{MAX_INPUT, byte, rest_text, within};
use bee_ratelimit::Policy;
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Input {
    toml: bool,
    scale: f64,
    text: String,
}

bee_fuzz::whole_input!(Input);

impl Input {
    fn read(mut u: Unstructured<'_>) -> Result<Self> {
        within(&u, MAX_INPUT)?;
        let toml = byte(&mut u) & 1 == 1;
        let scale = f64::from(byte(&mut u)) / 128.0;
        Ok(Input {
            toml,
            scale,
            text: rest_text(u),
        })
    }
}

fn check(policy: &Policy) {
    assert!(!policy.tiers().is_empty(), "a policy without tiers");
    for tier in policy.tiers() {
        assert!(!tier.window().is_zero(), "zero window in {tier:?}");
        assert!(tier.limit() > 0, "zero limit in {tier:?}");
        assert!(tier.burst() > 0, "zero burst in {tier:?}");
    }
}

fuzz_target!(|input: Input| {
    let _ = bee_ratelimit::parse_duration(&input.text);
    let loaded = if input.toml {
        Policy::from_toml(&input.text)
    } else {
        Policy::from_yaml(&input.text)
    };
    let Ok(policy) = loaded else { return };
    check(&policy);
    check(&policy.scaled(input.scale));
});
