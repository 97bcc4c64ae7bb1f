//! The one place where this crate calls the AEAD primitive.
//!
//! Every ciphertext format of the crate, and the known-answer tests, go through these two
//! functions, so the vectors check exactly the code path that seals and opens real data.

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::aead::{self, AeadInOut, KeyInit};
use zeroize::Zeroize;

/// Encrypts `buf` in place and returns the detached tag.
///
/// Fails (opaquely) on a key or nonce of the wrong length, or a message too long for
/// the cipher.
pub(crate) fn encrypt_in_place<A>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<aead::Tag<A>, aead::Error>
where
    A: AeadInOut + KeyInit,
{
    let cipher = A::new_from_slice(key).map_err(|_| aead::Error)?;
    let nonce = <&aead::Nonce<A>>::try_from(nonce).map_err(|_| aead::Error)?;
    cipher.encrypt_inout_detached(nonce, aad, buf.into())
}

/// Authenticates `ciphertext` and `aad` against `tag` and, only if they match, writes the
/// plaintext into `out`, which must be as long as `ciphertext`.
///
/// The cipher verifies the tag before it decrypts, so on failure `out` never held
/// plaintext; it is wiped all the same, so that no caller can see partial output.
pub(crate) fn decrypt_into<A>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
    out: &mut [u8],
) -> Result<(), aead::Error>
where
    A: AeadInOut + KeyInit,
{
    let result = decrypt_checked::<A>(key, nonce, aad, ciphertext, tag, out);
    if result.is_err() {
        out.zeroize();
    }
    result
}

fn decrypt_checked<A>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
    out: &mut [u8],
) -> Result<(), aead::Error>
where
    A: AeadInOut + KeyInit,
{
    let cipher = A::new_from_slice(key).map_err(|_| aead::Error)?;
    let nonce = <&aead::Nonce<A>>::try_from(nonce).map_err(|_| aead::Error)?;
    let tag = <&aead::Tag<A>>::try_from(tag).map_err(|_| aead::Error)?;
    let buf = InOutBuf::new(ciphertext, out).map_err(|_| aead::Error)?;
    cipher.decrypt_inout_detached(nonce, aad, buf, tag)
}

/// Tag length of `A`, for callers that size buffers.
#[cfg(test)]
pub(crate) fn tag_len<A: aead::AeadCore>() -> usize {
    use chacha20poly1305::aead::array::typenum::Unsigned;
    <A as aead::AeadCore>::TagSize::USIZE
}
