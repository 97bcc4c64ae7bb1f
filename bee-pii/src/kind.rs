//! What a detection is: its kind, where it lies and how sure the detector is.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ProfileError;

/// A kind of personal data or secret.
///
/// The names (`email`, `credit_card`, ...) are the ones used in every output, in
/// profiles and on the command line. Custom recognizers add kinds of their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// An email address.
    Email,
    /// A telephone number (NANP or E.164).
    Phone,
    /// A US Social Security number.
    Ssn,
    /// A payment card number.
    CreditCard,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// An International Bank Account Number.
    Iban,
    /// A secret or token: vendor API keys, this workspace's keys, JWTs, private keys.
    ApiKey,
    /// The value of a password assignment.
    Password,
    /// A hardware (MAC) address.
    MacAddress,
    /// A user name and password inside a URL.
    UrlCredentials,
    /// A date next to words about birth.
    DateOfBirth,
    /// A kind named by a custom recognizer or a deny list.
    Custom(Arc<str>),
}

impl Kind {
    /// Every built-in kind, in a stable order.
    pub const BUILT_IN: [Kind; 11] = [
        Kind::Email,
        Kind::Phone,
        Kind::Ssn,
        Kind::CreditCard,
        Kind::IpAddress,
        Kind::Iban,
        Kind::ApiKey,
        Kind::Password,
        Kind::MacAddress,
        Kind::UrlCredentials,
        Kind::DateOfBirth,
    ];

    /// The name of the kind as it appears in outputs (`credit_card`).
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Ssn => "ssn",
            Kind::CreditCard => "credit_card",
            Kind::IpAddress => "ip_address",
            Kind::Iban => "iban",
            Kind::ApiKey => "api_key",
            Kind::Password => "password",
            Kind::MacAddress => "mac_address",
            Kind::UrlCredentials => "url_credentials",
            Kind::DateOfBirth => "date_of_birth",
            Kind::Custom(name) => name,
        }
    }

    /// The label the `label` operator writes (`[CREDIT_CARD]`).
    #[must_use]
    pub fn label(&self) -> String {
        format!("[{}]", self.name().to_ascii_uppercase())
    }

    /// How much a kind wins when two detections overlap: the validated, more specific
    /// kind has the higher rank.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Kind::UrlCredentials => 10,
            Kind::ApiKey => 9,
            Kind::Email => 8,
            Kind::CreditCard => 7,
            Kind::Iban => 7,
            Kind::Ssn => 6,
            Kind::IpAddress | Kind::MacAddress => 5,
            Kind::Phone => 4,
            Kind::DateOfBirth => 3,
            Kind::Password => 2,
            Kind::Custom(_) => 1,
        }
    }

    /// Index of a built-in kind in [`Kind::BUILT_IN`].
    pub(crate) fn index(&self) -> Option<usize> {
        Kind::BUILT_IN.iter().position(|k| k == self)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(kind) = Kind::BUILT_IN.iter().find(|k| k.name() == s) {
            return Ok(kind.clone());
        }
        let valid = !s.is_empty()
            && s.len() <= 40
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && s.as_bytes()[0].is_ascii_lowercase();
        if valid {
            Ok(Kind::Custom(Arc::from(s)))
        } else {
            Err(ProfileError::KindName(s.chars().take(40).collect()))
        }
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// One finding: a kind, a byte range in the original text and a confidence.
///
/// `start..end` are byte offsets into the text that was scanned (not into its normalised
/// view) and always lie on character boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset just past the last byte.
    pub end: usize,
    /// How sure the detector is, in `[0, 1]`.
    pub confidence: f32,
}

impl Detection {
    /// The matched text, taken from the text the detection was made on.
    ///
    /// Returns an empty string if `text` is not the scanned text (the range does not fit).
    #[must_use]
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or("")
    }

    /// Length of the detection in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the detection is empty (never true for a detection the crate made).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}
