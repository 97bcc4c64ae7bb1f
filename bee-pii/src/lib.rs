//! Finds personal data and secrets in text, and removes them.
//!
//! `bee-pii` is for services that pass untrusted chat text to a language model, a log or
//! a database: it finds card numbers, phone numbers, email addresses, national ids,
//! passwords and leaked API keys, and redacts or pseudonymises them before the text goes
//! on. It also validates chat input.
//!
//! - [`Detector`]: one pass over the text finds candidates of every enabled [`Kind`];
//!   validators confirm them (Luhn and issuer ranges, SSN rules, IBAN mod-97, IPv4 octets
//!   and IPv6 parsing, NANP and E.164, vendor token shapes and checksums, entropy,
//!   context words). Detection runs on a normalised view (NFKC, invisible characters
//!   removed, digits folded) and reports byte ranges of the original text.
//! - [`Profile`]: presets (`minimal`, `moderate`, `strict`, `pci`, `hipaa`, `gdpr`),
//!   custom recognizers, allow and deny lists, a confidence threshold; loads from YAML
//!   or TOML.
//! - [`Redactor`]: operators per kind ([`Operator`]: label, mask, keyed hash, remove,
//!   keep); [`Redactor::redact`] is the plain `&str -> String` a log scrubber wraps.
//! - [`Vault`]: reversible pseudonymisation for one conversation (`[EMAIL_1]`), shared
//!   between threads, bounded, serialisable for encrypted storage.
//! - [`StreamRedactor`]: redacts a model's streamed answer chunk by chunk, with output
//!   equal to redacting the whole text; [`StreamRestorer`] puts a vault's values back into
//!   a streamed answer the same way.
//! - [`MessagePolicy`]: chat input limits, control and invisible characters, markup that
//!   would run in a browser; [`escape_html`] for output.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use bee_pii::{Detector, MessagePolicy, Redactor, Vault};
//!
//! // Built once at start-up and kept in the server's state: cheap to clone, Send + Sync.
//! let detector = Detector::default(); // the moderate profile
//! let redactor = Redactor::new(detector.clone());
//!
//! // Chat input: validate, then pseudonymise before the model sees it.
//! let message = MessagePolicy::default().check("Mail me at ana@example.org, SSN 262-68-2755")?;
//! let vault = Arc::new(Vault::default()); // one per conversation
//! let prompt = vault.pseudonymise(&detector, &message.text);
//! assert_eq!(prompt, "Mail me at [EMAIL_1], SSN [SSN_1]");
//!
//! // The model answers with placeholders; the user gets the values back.
//! let answer = vault.restore("I will write to [EMAIL_1].");
//! assert_eq!(answer, "I will write to ana@example.org.");
//!
//! // Logs get labels.
//! assert_eq!(redactor.redact("card 4111 1111 1111 1111"), "card [CREDIT_CARD]");
//! # Ok::<(), bee_pii::MessageError>(())
//! ```
//!
//! # Threats and limits
//!
//! What it protects against:
//!
//! - Personal data and secrets in chat input reaching a model, a log or a database, and
//!   secrets leaking back out in a model's answer (run the streaming redactor on output).
//! - Simple evasion: fullwidth and other-script digits, Unicode dashes and spaces,
//!   zero-width characters, soft hyphens, bidirectional controls and other invisible
//!   characters inside a value. Normalisation is per character group, and a group whose
//!   normal form would be more than four times its size is left as it is, so crafted
//!   input cannot make the view explode.
//! - Cost attacks: matchers read a bounded number of bytes around each trigger, so time
//!   grows linearly with the input; custom patterns are compiled with size limits.
//! - False alarms on look-alikes: order and tracking numbers, timestamps, UUIDs, version
//!   strings, invalid IP addresses, money amounts and dates without birth words are not
//!   reported, because every kind is validated and weak kinds need context words.
//!
//! What it does not do, and known limits:
//!
//! - It finds structured data only: names, postal addresses and free-text medical facts
//!   are not detected. Pair it with a named-entity model if those matter.
//! - Homoglyphs (a Cyrillic `а` inside an email address) are not folded; NFKC leaves them.
//! - Values split by words or spelled out ("four one one one...") are not found.
//! - Context rules are English-centred (with a few other words for birth); national ids
//!   other than the US SSN, and phone formats other than NANP, E.164 and a leading `0`
//!   national format next to phone words, are not covered.
//! - Passwords are found only as the value of an assignment (`password: ...`, `pwd=...`)
//!   or after "password is"; an unlabelled password is indistinguishable from a word.
//! - Normalisation composes a base character with the combining marks that follow it;
//!   compositions across two base characters (Hangul jamo sequences) are not made.
//! - The vault is in memory: a server must serialise it (and encrypt the result, which
//!   holds the raw values) to keep pseudonyms across requests or restarts. Once full,
//!   new values are labelled and cannot be restored. Text that already holds one of the
//!   vault's placeholders literally is restored to that placeholder's value.
//! - Restoring puts real values back into whatever the model wrote around the
//!   placeholders. A model steered by injected instructions can place `[EMAIL_1]` inside
//!   a link or an image URL that the user's browser then fetches: render restored answers
//!   as escaped text, or restore only where links are not followed automatically.
//! - The streaming redactor's output equals whole-text redaction for the built-in kinds
//!   and deny lists; custom recognizers are exact only for matches no longer than their
//!   `max_len`, and patterns anchored with `^` or `\A` may match differently mid-stream.
//! - Message validation finds markup by pattern, not by parsing HTML: escape output with
//!   [`escape_html`] (or a template engine) whatever the verdict.

mod detector;
mod error;
mod kind;
mod message;
mod normalize;
mod profile;
mod redact;
mod scan;
mod stream;
pub mod validate;
mod vault;

pub use detector::Detector;
pub use error::ProfileError;
pub use kind::{Detection, Kind};
pub use message::{
    CheckedMessage, Markup, MarkupAction, MessageError, MessagePolicy, escape_html, estimate_tokens,
};
pub use profile::{DenyTerm, Profile, Recognizer, Validator};
pub use redact::{HashKey, Operator, Redaction, RedactionPolicy, Redactor};
pub use stream::StreamRedactor;
pub use vault::{DEFAULT_VAULT_LIMIT, StreamRestorer, Vault};

/// The README's example, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
