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
mod vault;
pub mod validate;

pub use detector::Detector;
pub use error::ProfileError;
pub use kind::{Detection, Kind};
pub use redact::{HashKey, Operator, RedactionPolicy, Redaction, Redactor};
pub use profile::{DenyTerm, Profile, Recognizer, Validator};
pub use stream::StreamRedactor;
pub use vault::{DEFAULT_VAULT_LIMIT, Vault};
pub use message::{CheckedMessage, Markup, MarkupAction, MessageError, MessagePolicy, escape_html, estimate_tokens};
