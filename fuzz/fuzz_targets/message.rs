//! Chat message validation and HTML escaping on any text.
//!
//! Input: byte 0 picks the policy (limits, markup action, invisible characters), the
//! rest is the message (at most 64 KiB).
//!
//! Invariants: no panic; an accepted message is within the policy's limits, not blank,
//! free of control characters other than line breaks and tabs, carries no markup under
//! `reject`, and checks again to itself; escaped text holds no `<`, `>` or quote.
#![no_main]

use std::num::NonZeroUsize;

use arbitrary::{Result, Unstructured};
use bee_fuzz::{MAX_INPUT, byte, rest_text, within};
use bee_pii::{MarkupAction, MessagePolicy, escape_html, estimate_tokens};
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Input {
    policy: MessagePolicy,
    text: String,
}

bee_fuzz::whole_input!(Input);

impl Input {
    fn read(mut u: Unstructured<'_>) -> Result<Self> {
        within(&u, MAX_INPUT)?;
        let pick = byte(&mut u);
        let small = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        let policy = MessagePolicy {
            max_chars: if pick & 1 == 0 {
                small(8000)
            } else {
                small(40)
            },
            max_tokens: if pick & 2 == 0 { small(2000) } else { small(8) },
            markup: if pick & 4 == 0 {
                MarkupAction::Escape
            } else {
                MarkupAction::Reject
            },
            reject_invisible: pick & 8 != 0,
        };
        Ok(Input {
            policy,
            text: rest_text(u),
        })
    }
}

fuzz_target!(|input: Input| {
    let policy = &input.policy;
    let escaped = escape_html(&input.text);
    assert!(
        !escaped.contains(['<', '>', '"', '\'']),
        "escaped text has markup"
    );

    let Ok(message) = policy.check(&input.text) else {
        return;
    };
    assert!(!message.text.trim().is_empty(), "blank message accepted");
    assert_eq!(message.chars, message.text.chars().count());
    assert!(message.chars <= policy.max_chars.get());
    assert_eq!(message.tokens, estimate_tokens(&message.text));
    assert!(message.tokens <= policy.max_tokens.get());
    assert!(
        !message
            .text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
        "control character left in {:?}",
        message.text
    );
    if policy.markup == MarkupAction::Reject {
        assert!(message.markup.is_empty(), "markup passed under reject");
    }
    if policy.reject_invisible {
        assert_eq!(message.invisible, 0);
    }

    let again = policy
        .check(&message.text)
        .expect("a checked message checks again");
    assert_eq!(again.text, message.text, "normalisation is not stable");
    assert_eq!(again.markup, message.markup);
});
