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
