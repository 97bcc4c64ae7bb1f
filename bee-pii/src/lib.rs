//! Finds personal data and secrets in text, and removes them.

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
pub use vault::{DEFAULT_VAULT_LIMIT, Vault};
