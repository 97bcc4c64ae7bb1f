//! The ciphertext format.
//!
//! ```text
//! offset  size  field
//! 0       1     format version, 1
//! 1       1     key kind: 1 = a keyring key, 2 = a subject's conversation key
//! 2       4     key id, u32 big-endian, never 0: the keyring key id for kind 1,
//!               the subject key generation for kind 2
//! 6       24    nonce, random for every seal
//! 30      n     ciphertext, as long as the plaintext
//! 30 + n  16    Poly1305 tag
//! ```
//!
//! The cipher is XChaCha20-Poly1305. Its associated data is the 30 header bytes followed
//! by the [`Context`] encoding, so neither the header nor the context can change without
//! the tag failing. A ciphertext is 46 bytes longer than its plaintext.

use chacha20poly1305::XChaCha20Poly1305;
use rand::Rng;

use crate::aead;
use crate::context::Context;
use crate::error::{OpenFailure, SealError};
use crate::secret::SecretKey;

/// The only format version this crate writes and reads.
pub(crate) const VERSION: u8 = 1;
/// Length of the header: version, kind, key id, nonce.
pub(crate) const HEADER_LEN: usize = 30;
/// Length of the Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a ciphertext adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

const NONCE_LEN: usize = 24;
/// Associated data up to this length is assembled on the stack.
const STACK_AAD: usize = 256;

/// Which kind of key sealed a ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// A keyring key, named by its [`KeyId`](crate::KeyId).
    Keyring,
    /// A conversation key derived from a subject key, named by the subject key generation.
    Subject,
}

impl KeyKind {
    fn byte(self) -> u8 {
        match self {
            KeyKind::Keyring => 1,
            KeyKind::Subject => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(KeyKind::Keyring),
            2 => Some(KeyKind::Subject),
            _ => None,
        }
    }
}

/// A parsed ciphertext, borrowing its bytes.
pub(crate) struct Parsed<'a> {
    pub(crate) kind: KeyKind,
    pub(crate) key_id: u32,
    header: &'a [u8],
    nonce: &'a [u8],
    body: &'a [u8],
    tag: &'a [u8],
}

/// Splits a ciphertext into its fields, checking only lengths and header values.
pub(crate) fn parse(ciphertext: &[u8]) -> Result<Parsed<'_>, OpenFailure> {
    if ciphertext.len() < OVERHEAD {
        return Err(OpenFailure::Malformed);
    }
    let (header, rest) = ciphertext.split_at(HEADER_LEN);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    if header[0] != VERSION {
        return Err(OpenFailure::UnknownVersion);
    }
    let kind = KeyKind::from_byte(header[1]).ok_or(OpenFailure::Malformed)?;
    let key_id = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
    if key_id == 0 {
        return Err(OpenFailure::Malformed);
    }
    Ok(Parsed {
        kind,
        key_id,
        header,
        nonce: &header[6..],
        body,
        tag,
    })
}

/// Seals `plaintext` under `key`, writing `kind` and `key_id` into the header.
pub(crate) fn seal(
    key: &SecretKey,
    kind: KeyKind,
    key_id: u32,
    context: &Context,
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let mut out = Vec::with_capacity(plaintext.len().saturating_add(OVERHEAD));
    out.push(VERSION);
    out.push(kind.byte());
    out.extend_from_slice(&key_id.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    // The thread-local generator is a CSPRNG seeded from the operating system; see the
    // crate's "Threats and limits" for why that is enough for 192-bit random nonces.
    rand::rng().fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);

    let (header, body) = out.split_at_mut(HEADER_LEN);
    let tag = with_aad(header, context, |aad| {
        aead::encrypt_in_place::<XChaCha20Poly1305>(key.expose_secret(), &nonce, aad, body)
    })
    .map_err(|_| SealError::TooLong)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a parsed ciphertext under `key`.
pub(crate) fn open(
    key: &SecretKey,
    parsed: &Parsed<'_>,
    context: &Context,
) -> Result<Vec<u8>, OpenFailure> {
    let mut plaintext = vec![0u8; parsed.body.len()];
    with_aad(parsed.header, context, |aad| {
        aead::decrypt_into::<XChaCha20Poly1305>(
            key.expose_secret(),
            parsed.nonce,
            aad,
            parsed.body,
            parsed.tag,
            &mut plaintext,
        )
    })
    .map_err(|_| OpenFailure::Inauthentic)?;
    Ok(plaintext)
}

/// Runs `f` over header || context, without a heap allocation for small contexts.
fn with_aad<R>(header: &[u8], context: &Context, f: impl FnOnce(&[u8]) -> R) -> R {
    let encoded = context.encoded();
    let len = header.len() + encoded.len();
    if len <= STACK_AAD {
        let mut aad = [0u8; STACK_AAD];
        aad[..header.len()].copy_from_slice(header);
        aad[header.len()..len].copy_from_slice(encoded);
        f(&aad[..len])
    } else {
        let mut aad = Vec::with_capacity(len);
        aad.extend_from_slice(header);
        aad.extend_from_slice(encoded);
        f(&aad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (SecretKey, Context, Vec<u8>) {
        let key = SecretKey::from_bytes([7; 32]);
        let context = Context::record("t", "b", "c", "message").unwrap();
        let sealed = seal(&key, KeyKind::Keyring, 1, &context, b"plaintext").unwrap();
        (key, context, sealed)
    }

    #[test]
    fn changing_any_byte_of_the_context_encoding_fails() {
        let (key, context, sealed) = sample();
        let parsed = parse(&sealed).unwrap();
        assert!(open(&key, &parsed, &context).is_ok());
        for position in 0..context.encoded().len() {
            let mut encoded = context.encoded().to_vec();
            encoded[position] ^= 0x01;
            let changed = Context::from_encoded_for_test(encoded);
            assert_eq!(
                open(&key, &parsed, &changed).unwrap_err(),
                OpenFailure::Inauthentic,
                "byte {position}"
            );
        }
    }

    #[test]
    fn appending_or_dropping_context_bytes_fails() {
        let (key, context, sealed) = sample();
        let parsed = parse(&sealed).unwrap();
        let mut longer = context.encoded().to_vec();
        longer.push(0);
        let shorter = context.encoded()[..context.encoded().len() - 1].to_vec();
        for encoded in [longer, shorter] {
            let changed = Context::from_encoded_for_test(encoded);
            assert!(open(&key, &parsed, &changed).is_err());
        }
    }

    #[test]
    fn large_contexts_take_the_heap_path_and_still_bind() {
        let key = SecretKey::from_bytes([9; 32]);
        let big = Context::new().with("blob", vec![1u8; 1000]).unwrap();
        let sealed = seal(&key, KeyKind::Subject, 5, &big, b"x").unwrap();
        let parsed = parse(&sealed).unwrap();
        assert_eq!(open(&key, &parsed, &big).unwrap(), b"x");
        let other = Context::new().with("blob", vec![2u8; 1000]).unwrap();
        assert!(open(&key, &parsed, &other).is_err());
    }

    #[test]
    fn a_failed_open_returns_no_plaintext_buffer() {
        let (key, context, mut sealed) = sample();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        let parsed = parse(&sealed).unwrap();
        // The error carries nothing but the reason; the output buffer was wiped and dropped.
        assert_eq!(open(&key, &parsed, &context), Err(OpenFailure::Inauthentic));
    }
}
