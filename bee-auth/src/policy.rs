//! The key policy: how long keys live, when they rotate, what a new key must carry.

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::config::{self, ConfigError};
use crate::key::{Prefix, SECRET_BITS};
use crate::record::OriginPattern;

/// Rules every key issued by [`ApiKeys`](crate::ApiKeys) follows.
///
/// Load it from YAML or TOML; every field is optional and defaults as documented:
///
/// ```yaml
/// prefix: pb              # required prefix of every key (default "bee")
/// rotate_after_days: 90   # a key is due for rotation this long after creation
/// grace_days: 7           # a rotated key keeps working this long
/// notice_days: 14         # a key is "expiring" this long before it expires
/// max_age_days: 365       # no key lives longer than this
/// min_entropy_bits: 256   # entropy a key's secret must have (128 to 256)
/// require_scope: true     # a key must carry at least one scope
/// allowed_domains: []     # when set, keys must name origins under these domains
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyPolicy {
    /// The prefix every key carries.
    pub prefix: String,
    /// Days after creation when a key is due for rotation.
    pub rotate_after_days: u32,
    /// Days a rotated key keeps working beside its replacement.
    pub grace_days: u32,
    /// Days before expiry when a key is listed as expiring.
    pub notice_days: u32,
    /// The longest life of a key, in days.
    pub max_age_days: u32,
    /// Bits of entropy a secret must have. Every key has a 43-character base62 secret
    /// (256.03 bits), so any accepted value (128 to 256) is met; the field exists so
    /// that a policy asking for more than the format gives is refused on load.
    pub min_entropy_bits: u32,
    /// Whether a key needs at least one scope.
    pub require_scope: bool,
    /// Domains browser keys are restricted to; when non-empty, every key must name at
    /// least one allowed origin, and each origin's host must be one of these domains or
    /// under one of them.
    pub allowed_domains: Vec<String>,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            prefix: "bee".to_owned(),
            rotate_after_days: 90,
            grace_days: 7,
            notice_days: 14,
            max_age_days: 365,
            min_entropy_bits: 256,
            require_scope: true,
            allowed_domains: Vec::new(),
        }
    }
}

impl KeyPolicy {
    /// Loads and validates a policy from YAML.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the field at fault.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        config::from_yaml::<Self>(text)?.validated()
    }

    /// Loads and validates a policy from TOML.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the field at fault.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        config::from_toml::<Self>(text)?.validated()
    }

    /// Checks that the values make sense together.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first field at fault.
    pub fn validated(self) -> Result<Self, ConfigError> {
        Prefix::new(&self.prefix).map_err(|e| ConfigError::invalid("prefix", e.to_string()))?;
        let days = [
            ("rotate_after_days", self.rotate_after_days),
            ("grace_days", self.grace_days),
            ("notice_days", self.notice_days),
            ("max_age_days", self.max_age_days),
        ];
        for (field, value) in days {
            if value == 0 {
                return Err(ConfigError::invalid(field, "must be at least 1"));
            }
        }
        if self.rotate_after_days > self.max_age_days {
            return Err(ConfigError::invalid(
                "rotate_after_days",
                "must not exceed max_age_days",
            ));
        }
        if self.grace_days >= self.rotate_after_days {
            return Err(ConfigError::invalid(
                "grace_days",
                "must be shorter than rotate_after_days",
            ));
        }
        if self.notice_days >= self.max_age_days {
            return Err(ConfigError::invalid(
                "notice_days",
                "must be shorter than max_age_days",
            ));
        }
        if !(128..=256).contains(&self.min_entropy_bits) {
            return Err(ConfigError::invalid(
                "min_entropy_bits",
                format!("must be 128 to 256 (a key's secret has {SECRET_BITS} bits)"),
            ));
        }
        for domain in &self.allowed_domains {
            if !is_domain(domain) {
                return Err(ConfigError::invalid(
                    "allowed_domains",
                    format!("{domain:?} is not a domain name"),
                ));
            }
        }
        Ok(self)
    }

    /// How long after creation a key is due for rotation.
    pub fn rotate_after(&self) -> SignedDuration {
        days(self.rotate_after_days)
    }

    /// How long a rotated key keeps working.
    pub fn grace(&self) -> SignedDuration {
        days(self.grace_days)
    }

    /// How long before expiry a key counts as expiring.
    pub fn notice(&self) -> SignedDuration {
        days(self.notice_days)
    }

    /// The longest life of a key.
    pub fn max_age(&self) -> SignedDuration {
        days(self.max_age_days)
    }

    /// The latest expiry a key created at `created_at` may have.
    pub fn latest_expiry(&self, created_at: Timestamp) -> Timestamp {
        created_at
            .saturating_add(self.max_age())
            .unwrap_or(Timestamp::MAX)
    }

    /// Whether `origin` is allowed by the domain restrictions.
    pub fn allows_origin(&self, origin: &OriginPattern) -> bool {
        if self.allowed_domains.is_empty() {
            return true;
        }
        let host = origin.host();
        self.allowed_domains.iter().any(|domain| {
            let domain = domain.to_ascii_lowercase();
            host == domain
                || host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }
}

fn days(n: u32) -> SignedDuration {
    SignedDuration::from_hours(i64::from(n) * 24)
}

fn is_domain(text: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    text.len() <= 253 && text.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let policy = KeyPolicy::from_yaml("{}").unwrap();
        assert_eq!(policy, KeyPolicy::default());
        assert_eq!(policy.rotate_after_days, 90);
        assert_eq!(policy.grace_days, 7);
        assert_eq!(policy.notice_days, 14);
        assert_eq!(policy.max_age_days, 365);
        assert_eq!(policy.min_entropy_bits, 256);
        assert!(policy.require_scope);
    }

    #[test]
    fn loads_from_toml_too() {
        let policy = KeyPolicy::from_toml("prefix = \"pb\"\ngrace_days = 3\n").unwrap();
        assert_eq!(policy.prefix, "pb");
        assert_eq!(policy.grace_days, 3);
    }

    #[test]
    fn nonsense_values_are_refused_naming_the_field() {
        let cases = [
            ("grace_days: 0", "grace_days"),
            ("max_age_days: 0", "max_age_days"),
            ("rotate_after_days: 400", "rotate_after_days"),
            ("grace_days: 90", "grace_days"),
            ("notice_days: 365", "notice_days"),
            ("min_entropy_bits: 512", "min_entropy_bits"),
            ("prefix: Bad", "prefix"),
            ("allowed_domains: ['exa mple.com']", "allowed_domains"),
        ];
        for (yaml, field) in cases {
            match KeyPolicy::from_yaml(yaml) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{yaml}"),
                other => panic!("{yaml}: {other:?}"),
            }
        }
        assert!(matches!(
            KeyPolicy::from_yaml("grace_dayz: 3"),
            Err(ConfigError::Yaml(_))
        ));
    }

    #[test]
    fn domain_restrictions_cover_subdomains_only_on_label_boundaries() {
        let policy = KeyPolicy {
            allowed_domains: vec!["example.com".into()],
            ..KeyPolicy::default()
        };
        let ok = OriginPattern::parse("https://app.example.com").unwrap();
        let apex = OriginPattern::parse("https://example.com").unwrap();
        let bad = OriginPattern::parse("https://badexample.com").unwrap();
        assert!(policy.allows_origin(&ok));
        assert!(policy.allows_origin(&apex));
        assert!(!policy.allows_origin(&bad));
    }
}
