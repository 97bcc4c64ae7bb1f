//! Loading policies from YAML or TOML, and the error every loader returns.

use serde::de::DeserializeOwned;

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The YAML does not parse or does not have the expected fields.
    #[error("invalid YAML policy")]
    Yaml(#[source] serde_yaml_ng::Error),
    /// The TOML does not parse or does not have the expected fields.
    #[error("invalid TOML policy")]
    Toml(#[source] toml::de::Error),
    /// A field holds a value the policy cannot work with.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as written in the file (`grace_days`, `roles.bot_user`).
        field: String,
        /// What is wrong with its value.
        reason: String,
    },
}

impl ConfigError {
    /// A [`ConfigError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

pub(crate) fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    serde_yaml_ng::from_str(text).map_err(ConfigError::Yaml)
}

pub(crate) fn from_toml<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(ConfigError::Toml)
}
