//! The outcome of checking an API key: a typed reason for the audit log, and one
//! uninformative answer for the caller.

use crate::key::KeyFormatError;
use crate::record::KeyRecord;

/// What the caller of an API is told about any key that is not valid.
pub const PUBLIC_KEY_ERROR: &str = "invalid api key";

/// The outcome of [`ApiKeys::verify`](crate::ApiKeys::verify).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyVerdict {
    /// The key is valid; here is its record.
    Valid(Box<KeyRecord>),
    /// The key is not valid, for this reason (for the audit log, not the caller).
    Invalid(KeyRejection),
}

impl KeyVerdict {
    /// Whether the key is valid.
    pub fn is_valid(&self) -> bool {
        matches!(self, KeyVerdict::Valid(_))
    }

    /// The record of a valid key, or the reason it is not.
    ///
    /// # Errors
    ///
    /// The [`KeyRejection`] of an invalid key.
    pub fn into_result(self) -> Result<KeyRecord, KeyRejection> {
        match self {
            KeyVerdict::Valid(record) => Ok(*record),
            KeyVerdict::Invalid(why) => Err(why),
        }
    }
}

/// Why a key was refused. Every variant maps to the same public answer
/// ([`public_message`](Self::public_message), HTTP 401), so a caller learns nothing
/// about which check failed; the variant itself belongs in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRejection {
    /// The text is not a key: wrong shape, bad prefix or checksum mismatch. Rejected
    /// offline, before any lookup.
    #[error("malformed key: {0}")]
    Malformed(KeyFormatError),
    /// A well-formed key with a prefix this deployment does not issue (a test key used
    /// against production, say).
    #[error("key prefix is not the one this deployment issues")]
    WrongPrefix,
    /// No record has the key id.
    #[error("no key has this key id")]
    NotFound,
    /// The key id exists but the secret does not match its hash.
    #[error("the secret does not match the key id")]
    SecretMismatch,
    /// The record names a pepper the server does not have (a configuration fault).
    #[error("the key's pepper id is unknown to this server")]
    UnknownPepper,
    /// The key was revoked.
    #[error("key is revoked")]
    Revoked,
    /// The key is suspended.
    #[error("key is suspended")]
    Suspended,
    /// The key has expired (`now >= expires_at`), including a rotated key past its
    /// grace period.
    #[error("key has expired")]
    Expired,
    /// The client address is outside the key's allowed ranges.
    #[error("client address is not allowed for this key")]
    IpNotAllowed,
    /// The request's origin is not among the key's allowed origins.
    #[error("request origin is not allowed for this key")]
    OriginNotAllowed,
}

impl KeyRejection {
    /// The answer for the HTTP caller, the same for every reason: `invalid api key`.
    pub fn public_message(&self) -> &'static str {
        PUBLIC_KEY_ERROR
    }

    /// The HTTP status for the caller, the same for every reason: 401.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::UNAUTHORIZED
    }

    /// A short stable code for the audit log and metrics (`not_found`, `expired`...).
    pub fn code(&self) -> &'static str {
        match self {
            KeyRejection::Malformed(_) => "malformed",
            KeyRejection::WrongPrefix => "wrong_prefix",
            KeyRejection::NotFound => "not_found",
            KeyRejection::SecretMismatch => "secret_mismatch",
            KeyRejection::UnknownPepper => "unknown_pepper",
            KeyRejection::Revoked => "revoked",
            KeyRejection::Suspended => "suspended",
            KeyRejection::Expired => "expired",
            KeyRejection::IpNotAllowed => "ip_not_allowed",
            KeyRejection::OriginNotAllowed => "origin_not_allowed",
        }
    }
}

/// The API key a request presents: `Authorization: Bearer <key>` or, failing that,
/// `X-Api-Key: <key>`. Only the header's shape is looked at;
/// [`ApiKeys::verify`](crate::ApiKeys::verify) checks the key.
pub fn presented_key(headers: &http::HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    bearer
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|key| !key.is_empty())
}

/// What the verifier knows about the request a key came with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    /// The client address, as the server determined it.
    pub ip: Option<std::net::IpAddr>,
    /// The value of the request's `Origin` header, if any.
    pub origin: Option<&'a str>,
}

impl<'a> Caller<'a> {
    /// The caller of a request from `ip` (as the server determined it, behind its
    /// trusted proxies) with these headers (the `Origin` header is read).
    pub fn from_request(ip: Option<std::net::IpAddr>, headers: &'a http::HeaderMap) -> Self {
        let origin = headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        Self { ip, origin }
    }
}
