//! Errors of profile loading, redaction setup and the vault.

use thiserror::Error;

/// A profile or redaction policy that cannot be used.
///
/// Messages name the field at fault and never repeat a value from a deny or allow list.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The named preset does not exist.
    #[error("unknown profile `{0}` (expected minimal, moderate, strict, pci, hipaa or gdpr)")]
    UnknownPreset(String),
    /// A kind name is not a built-in kind and not a valid custom name (`[a-z][a-z0-9_]*`).
    #[error("invalid kind name `{0}`: expected a built-in kind or [a-z][a-z0-9_]{{0,39}}")]
    KindName(String),
    /// `threshold` is outside `(0, 1]` or not a number.
    #[error("threshold must be a number in (0, 1], got {0}")]
    Threshold(f32),
    /// A custom recognizer's `score` is outside `(0, 1]`.
    #[error("recognizers[{index}].score must be in (0, 1], got {score}")]
    Score {
        /// Position of the recognizer in the list.
        index: usize,
        /// The rejected score.
        score: f32,
    },
    /// A custom recognizer's pattern does not compile or is too large.
    #[error("recognizers[{index}].pattern does not compile")]
    Pattern {
        /// Position of the recognizer in the list.
        index: usize,
        /// The regex error.
        #[source]
        source: regex::Error,
    },
    /// A custom recognizer's `max_len` is zero or above the streaming limit.
    #[error("recognizers[{index}].max_len must be between 1 and 4096")]
    MaxLen {
        /// Position of the recognizer in the list.
        index: usize,
    },
    /// An allow-list or deny-list entry is empty or longer than 256 bytes.
    #[error("{list}[{index}] must be 1 to 256 bytes long")]
    ListEntry {
        /// `allow` or `deny`.
        list: &'static str,
        /// Position of the entry.
        index: usize,
    },
    /// The deny list could not be compiled into an automaton.
    #[error("deny list cannot be compiled")]
    DenyList(#[source] aho_corasick::BuildError),
    /// `kinds` is present but empty.
    #[error("kinds must name at least one kind")]
    NoKinds,
    /// The YAML document does not describe a profile.
    #[error("profile YAML is invalid")]
    Yaml(#[source] serde_yaml_ng::Error),
    /// The TOML document does not describe a profile.
    #[error("profile TOML is invalid")]
    Toml(#[source] toml::de::Error),
    /// The policy asks for the `hash` operator but no hash key was supplied.
    #[error("operator `hash` needs a hash key (Redactor::with_hash_key)")]
    MissingHashKey,
    /// The hash key is shorter than 16 bytes.
    #[error("hash key must be at least 16 bytes")]
    ShortHashKey,
}
