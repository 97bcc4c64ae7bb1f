//! Profiles: which kinds to find, how sure to be, and what to add or leave alone.
//!
//! A profile is data. Presets cover the usual cases; a YAML or TOML document can start
//! from a preset (`base`) and change any field:
//!
//! ```yaml
//! base: moderate
//! threshold: 0.6
//! allow: ["support@example.com"]
//! deny:
//!   - { value: "Project Bluebird", kind: codename }
//! recognizers:
//!   - { kind: employee_id, pattern: "EMP-[0-9]{6}", score: 0.9 }
//! ```

use serde::{Deserialize, Serialize};

use crate::error::ProfileError;
use crate::kind::Kind;

/// Which kinds to find and how.
///
/// Defaults (`Profile::default()`) are the `moderate` preset: every built-in kind except
/// `date_of_birth`, threshold 0.5, no lists, no custom recognizers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Name of the profile, for logs and audit records.
    pub name: String,
    /// The built-in and custom kinds to report.
    pub kinds: Vec<Kind>,
    /// Detections below this confidence are dropped. Weak kinds without context words
    /// score 0.35, so 0.5 keeps them out and 0.3 lets them in.
    pub threshold: f32,
    /// Values that are never reported (compared without ASCII case), such as the
    /// service's own support address.
    pub allow: Vec<String>,
    /// Exact strings that are always reported, with the kind to report them as.
    pub deny: Vec<DenyTerm>,
    /// Extra pattern-based recognizers.
    pub recognizers: Vec<Recognizer>,
}

/// A string that is always reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyTerm {
    /// The exact text (ASCII case ignored).
    pub value: String,
    /// The kind to report it as.
    pub kind: Kind,
}

/// A custom recognizer: a regular expression, an optional validator, a kind and a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recognizer {
    /// The kind to report matches as.
    pub kind: Kind,
    /// A `regex` pattern, run on the normalised text.
    pub pattern: String,
    /// A check that a match must pass.
    #[serde(default)]
    pub validator: Validator,
    /// The confidence of a match, in `(0, 1]`.
    #[serde(default = "default_score")]
    pub score: f32,
    /// The longest match expected, in bytes (default 256, at most 4096). The streaming
    /// redactor holds back this much text so that such matches are not cut.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
}

/// A check that a custom recognizer's match must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Validator {
    /// No check.
    #[default]
    None,
    /// The digits of the match pass the Luhn check.
    Luhn,
    /// The match, without spaces, is a valid IBAN.
    Iban,
}

fn default_score() -> f32 {
    0.8
}

fn default_max_len() -> usize {
    256
}

/// A profile document: a base preset and the fields to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    kinds: Option<Vec<Kind>>,
    #[serde(default)]
    threshold: Option<f32>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<DenyTerm>,
    #[serde(default)]
    recognizers: Vec<Recognizer>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile::moderate()
    }
}

impl Profile {
    /// Secrets, cards and Social Security numbers only.
    #[must_use]
    pub fn minimal() -> Self {
        use Kind::*;
        Profile::with_kinds(
            "minimal",
            vec![ApiKey, Password, UrlCredentials, CreditCard, Ssn],
            0.5,
        )
    }

    /// Every built-in kind except dates of birth; weak kinds need context words.
    #[must_use]
    pub fn moderate() -> Self {
        let kinds = Kind::BUILT_IN
            .iter()
            .filter(|k| **k != Kind::DateOfBirth)
            .cloned()
            .collect();
        Profile::with_kinds("moderate", kinds, 0.5)
    }

    /// Every built-in kind, weak kinds reported without context words.
    #[must_use]
    pub fn strict() -> Self {
        Profile::with_kinds("strict", Kind::BUILT_IN.to_vec(), 0.3)
    }

    /// PCI DSS: cardholder data, and the secrets that guard it.
    #[must_use]
    pub fn pci() -> Self {
        use Kind::*;
        Profile::with_kinds(
            "pci",
            vec![CreditCard, ApiKey, Password, UrlCredentials],
            0.5,
        )
    }

    /// HIPAA Safe Harbor identifiers that text patterns can find: phone, email, SSN,
    /// account and card numbers, device and network addresses, dates of birth.
    #[must_use]
    pub fn hipaa() -> Self {
        use Kind::*;
        let kinds = vec![
            Email,
            Phone,
            Ssn,
            CreditCard,
            Iban,
            IpAddress,
            MacAddress,
            DateOfBirth,
        ];
        Profile::with_kinds("hipaa", kinds, 0.5)
    }

    /// GDPR personal data: every kind that identifies a person or gives access to
    /// their data.
    #[must_use]
    pub fn gdpr() -> Self {
        Profile::with_kinds("gdpr", Kind::BUILT_IN.to_vec(), 0.5)
    }

    /// A preset by name: `minimal`, `moderate`, `strict`, `pci`, `hipaa`, `gdpr`.
    ///
    /// # Errors
    ///
    /// [`ProfileError::UnknownPreset`] for any other name.
    pub fn preset(name: &str) -> Result<Self, ProfileError> {
        match name {
            "minimal" => Ok(Profile::minimal()),
            "moderate" => Ok(Profile::moderate()),
            "strict" => Ok(Profile::strict()),
            "pci" => Ok(Profile::pci()),
            "hipaa" => Ok(Profile::hipaa()),
            "gdpr" => Ok(Profile::gdpr()),
            other => Err(ProfileError::UnknownPreset(
                other.chars().take(40).collect(),
            )),
        }
    }

    /// Loads a profile document in YAML and validates it.
    ///
    /// # Errors
    ///
    /// [`ProfileError::Yaml`] when the document does not parse, or the error of
    /// [`Profile::validate`].
    pub fn from_yaml(doc: &str) -> Result<Self, ProfileError> {
        let file: ProfileFile = serde_yaml_ng::from_str(doc).map_err(ProfileError::Yaml)?;
        Profile::from_file(file)
    }

    /// Loads a profile document in TOML and validates it.
    ///
    /// # Errors
    ///
    /// [`ProfileError::Toml`] when the document does not parse, or the error of
    /// [`Profile::validate`].
    pub fn from_toml(doc: &str) -> Result<Self, ProfileError> {
        let file: ProfileFile = toml::from_str(doc).map_err(ProfileError::Toml)?;
        Profile::from_file(file)
    }

    /// Checks every field: threshold and scores in `(0, 1]`, patterns that compile,
    /// list entries of 1 to 256 bytes, at least one kind.
    ///
    /// # Errors
    ///
    /// The first [`ProfileError`] found, naming the field.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.kinds.is_empty() {
            return Err(ProfileError::NoKinds);
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(ProfileError::Threshold(self.threshold));
        }
        check_list("allow", self.allow.iter().map(String::as_str))?;
        check_list("deny", self.deny.iter().map(|d| d.value.as_str()))?;
        for (index, r) in self.recognizers.iter().enumerate() {
            if !(r.score > 0.0 && r.score <= 1.0) {
                return Err(ProfileError::Score {
                    index,
                    score: r.score,
                });
            }
            if r.max_len == 0 || r.max_len > 4096 {
                return Err(ProfileError::MaxLen { index });
            }
            compile(&r.pattern).map_err(|source| ProfileError::Pattern { index, source })?;
        }
        Ok(())
    }

    fn with_kinds(name: &str, kinds: Vec<Kind>, threshold: f32) -> Self {
        Profile {
            name: name.to_owned(),
            kinds,
            threshold,
            allow: Vec::new(),
            deny: Vec::new(),
            recognizers: Vec::new(),
        }
    }

    fn from_file(file: ProfileFile) -> Result<Self, ProfileError> {
        let mut profile = Profile::preset(file.base.as_deref().unwrap_or("moderate"))?;
        if let Some(name) = file.name {
            profile.name = name;
        }
        if let Some(kinds) = file.kinds {
            profile.kinds = kinds;
        }
        if let Some(threshold) = file.threshold {
            profile.threshold = threshold;
        }
        profile.allow = file.allow;
        profile.deny = file.deny;
        profile.recognizers = file.recognizers;
        profile.validate()?;
        Ok(profile)
    }
}

/// Compiles a custom pattern with a size limit, so that a profile cannot make the
/// detector's memory explode.
pub(crate) fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 21)
        .build()
}

fn check_list<'a>(
    list: &'static str,
    entries: impl Iterator<Item = &'a str>,
) -> Result<(), ProfileError> {
    for (index, entry) in entries.enumerate() {
        if entry.is_empty() || entry.len() > 256 {
            return Err(ProfileError::ListEntry { list, index });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moderate_leaves_out_dates_of_birth() {
        let p = Profile::moderate();
        assert!(!p.kinds.contains(&Kind::DateOfBirth));
        assert!(p.kinds.contains(&Kind::Email));
    }

    #[test]
    fn yaml_document_starts_from_its_base() {
        let p = Profile::from_yaml("base: minimal\nthreshold: 0.7\nallow: [a@b.io]\n").unwrap();
        assert_eq!(p.kinds, Profile::minimal().kinds);
        assert_eq!(p.threshold, 0.7);
        assert_eq!(p.allow, vec!["a@b.io".to_owned()]);
    }

    #[test]
    fn toml_document_loads_recognizers() {
        let doc = "base = \"strict\"\n[[recognizers]]\nkind = \"employee_id\"\npattern = \"EMP-[0-9]{6}\"\n";
        let p = Profile::from_toml(doc).unwrap();
        assert_eq!(p.recognizers[0].kind.name(), "employee_id");
        assert_eq!(p.recognizers[0].score, 0.8);
    }

    #[test]
    fn zero_threshold_is_rejected_naming_the_field() {
        let err = Profile::from_yaml("threshold: 0\n").unwrap_err();
        assert!(err.to_string().contains("threshold"));
    }

    #[test]
    fn bad_pattern_is_rejected_naming_the_recognizer() {
        let err = Profile::from_yaml("recognizers: [{kind: x, pattern: \"(\"}]\n").unwrap_err();
        assert!(err.to_string().contains("recognizers[0].pattern"));
    }

    #[test]
    fn unknown_fields_and_presets_are_rejected() {
        assert!(Profile::from_yaml("colour: blue\n").is_err());
        assert!(Profile::from_yaml("base: lax\n").is_err());
        assert!(Profile::from_yaml("kinds: [Email]\n").is_err());
    }
}
