//! The canonical request: the exact bytes a request signature covers.
//!
//! ```text
//! bee-v1
//! <METHOD>
//! <path>
//! <canonical query>
//! <timestamp>
//! <nonce>
//! <signed header names, lowercase, sorted, joined by ';'>
//! <name>:<value>            one line per signed header, in the same order
//! <hex SHA-256 of the body>
//! ```
//!
//! Lines are joined by `\n` and no field can contain `\n`: the method is an HTTP token,
//! the path is printable ASCII without `?` or `#`, the query is re-encoded (below),
//! header values are trimmed and repeated headers joined by `,` (HTTP forbids CR and LF
//! in them), the timestamp is digits, the nonce base64url. So moving bytes from one
//! field to another always changes the signed bytes. The body enters as its hash, so
//! it must be the exact bytes that were sent.
//!
//! The canonical query: split on `&`, drop empty pairs, split each pair on its first
//! `=` (a missing `=` means an empty value), percent-decode both sides with `+` as a
//! space (as form decoding does), re-encode every byte outside `A-Za-z0-9-._~` as `%XX`
//! (uppercase hex), sort the pairs by name then value, join with `&`.

use std::fmt::Write as _;

use http::HeaderMap;
use sha2::{Digest, Sha256};

/// The first line of every canonical request.
pub const SCHEME_LINE: &str = "bee-v1";

/// Why a request cannot be put in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// The method is not an HTTP token.
    #[error("the method is not an HTTP token")]
    Method,
    /// The path does not start with `/` or has a byte outside printable ASCII, `?` or
    /// `#`.
    #[error("the path must start with / and hold printable ASCII without ? or #")]
    Path,
    /// The query has a broken percent escape or a non-printable byte.
    #[error("the query has a broken percent escape or a non-printable byte")]
    Query,
    /// A signed header name is not a lowercase HTTP token or is listed twice.
    #[error("signed header name {0:?} is not a lowercase token or is repeated")]
    HeaderName(String),
    /// A header listed as signed is not in the request.
    #[error("signed header {0} is missing from the request")]
    MissingHeader(String),
    /// The nonce or the timestamp has a character it may not have.
    #[error("the timestamp or nonce has a character it may not have")]
    Field,
}

/// A view of the HTTP request being signed or verified.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, as sent (`POST`).
    pub method: &'a str,
    /// The path, as sent, without the query (`/v1/chat`).
    pub path: &'a str,
    /// The raw query, without `?`, if any.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The body, byte for byte as sent.
    pub body: &'a [u8],
}

impl<'a> RequestParts<'a> {
    /// The view of an `http` request head (as axum hands it over) and its body.
    pub fn from_http(head: &'a http::request::Parts, body: &'a [u8]) -> Self {
        Self {
            method: head.method.as_str(),
            path: head.uri.path(),
            query: head.uri.query(),
            headers: &head.headers,
            body,
        }
    }
}

/// The canonical bytes of `request` for `timestamp`, `nonce` and the headers named in
/// `signed_headers` (lowercase, any order; they are sorted here).
///
/// # Errors
///
/// [`CanonicalError`] when a part of the request cannot be put in canonical form.
pub fn canonical_request(
    request: &RequestParts<'_>,
    timestamp: &str,
    nonce: &str,
    signed_headers: &[&str],
) -> Result<Vec<u8>, CanonicalError> {
    check_method(request.method)?;
    check_path(request.path)?;
    if !timestamp.bytes().all(|b| b.is_ascii_digit()) || !is_nonce(nonce) {
        return Err(CanonicalError::Field);
    }
    let names = sorted_names(signed_headers)?;

    let mut out = Vec::with_capacity(256 + request.path.len());
    for line in [SCHEME_LINE, request.method, request.path] {
        push_line(&mut out, line.as_bytes());
    }
    push_line(
        &mut out,
        canonical_query(request.query.unwrap_or(""))?.as_bytes(),
    );
    push_line(&mut out, timestamp.as_bytes());
    push_line(&mut out, nonce.as_bytes());
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    for name in &names {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        push_header_value(&mut out, request.headers, name)?;
        out.push(b'\n');
    }
    let mut body_hash = [0u8; 64];
    // 32 bytes always fit in 64 hex digits.
    let _ = hex::encode_to_slice(Sha256::digest(request.body), &mut body_hash);
    out.extend_from_slice(&body_hash);
    Ok(out)
}

/// The canonical form of a raw query string (see the module docs).
///
/// # Errors
///
/// [`CanonicalError::Query`] for a broken percent escape or a non-printable byte.
pub fn canonical_query(raw: &str) -> Result<String, CanonicalError> {
    let mut pairs = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((form_decode(name)?, form_decode(value)?));
    }
    pairs.sort();
    let mut out = String::with_capacity(raw.len() + 8);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(&mut out, name);
        out.push('=');
        percent_encode(&mut out, value);
    }
    Ok(out)
}

/// Whether `nonce` is 16 to 64 characters of `[A-Za-z0-9_-]`.
pub fn is_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    out.extend_from_slice(line);
    out.push(b'\n');
}

fn push_header_value(
    out: &mut Vec<u8>,
    headers: &HeaderMap,
    name: &str,
) -> Result<(), CanonicalError> {
    let mut values = headers.get_all(name).iter().peekable();
    if values.peek().is_none() {
        return Err(CanonicalError::MissingHeader(name.to_owned()));
    }
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(value.as_bytes().trim_ascii());
    }
    Ok(())
}

fn sorted_names<'a>(names: &[&'a str]) -> Result<Vec<&'a str>, CanonicalError> {
    let mut sorted = names.to_vec();
    sorted.sort_unstable();
    for (i, name) in sorted.iter().enumerate() {
        let token =
            !name.is_empty() && name.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase());
        if !token || (i > 0 && sorted[i - 1] == *name) {
            return Err(CanonicalError::HeaderName(name.chars().take(64).collect()));
        }
    }
    Ok(sorted)
}

fn check_method(method: &str) -> Result<(), CanonicalError> {
    if !method.is_empty() && method.bytes().all(is_tchar) {
        Ok(())
    } else {
        Err(CanonicalError::Method)
    }
}

fn check_path(path: &str) -> Result<(), CanonicalError> {
    let printable = |b: u8| b.is_ascii_graphic() && b != b'?' && b != b'#';
    if path.starts_with('/') && path.bytes().all(printable) {
        Ok(())
    } else {
        Err(CanonicalError::Path)
    }
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn form_decode(text: &str) -> Result<Vec<u8>, CanonicalError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(CanonicalError::Query);
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            b if b.is_ascii_graphic() => out.push(b),
            _ => return Err(CanonicalError::Query),
        }
        i += 1;
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_encode(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_decoded_sorted_and_reencoded() {
        assert_eq!(canonical_query("b=2&a=1").unwrap(), "a=1&b=2");
        assert_eq!(canonical_query("a=2&a=1").unwrap(), "a=1&a=2");
        assert_eq!(canonical_query("q=a+b&r=a%20b").unwrap(), "q=a%20b&r=a%20b");
        assert_eq!(canonical_query("x&&y=").unwrap(), "x=&y=");
        assert_eq!(canonical_query("k=%7e%2F").unwrap(), "k=~%2F");
        assert_eq!(canonical_query("").unwrap(), "");
    }

    #[test]
    fn broken_escapes_are_refused() {
        for bad in ["a=%", "a=%4", "a=%zz", "a=b c"] {
            assert_eq!(canonical_query(bad), Err(CanonicalError::Query), "{bad}");
        }
    }
}
