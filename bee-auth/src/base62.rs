//! Base62 digits in the order `0-9A-Za-z`, as the key format defines them.

use rand::CryptoRng;

/// The base62 alphabet, in digit order.
pub(crate) const ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `byte` is a base62 digit.
pub(crate) fn is_digit(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// Writes `value` as exactly `N` base62 digits, most significant first, zero-padded.
///
/// `N` must be large enough for `value` (6 digits hold every `u32`).
pub(crate) fn encode_fixed<const N: usize>(mut value: u64) -> [u8; N] {
    let mut out = [b'0'; N];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// Fills `out` with uniformly random base62 digits drawn from `rng`.
pub(crate) fn fill_random<R: CryptoRng + ?Sized>(rng: &mut R, out: &mut [u8]) {
    // Rejection sampling on 6-bit values keeps every digit equally likely: 62 and 63
    // are thrown away instead of folded onto `0` and `1`.
    let mut filled = 0;
    let mut pool = [0u8; 64];
    while filled < out.len() {
        rng.fill_bytes(&mut pool);
        for byte in pool {
            let six = byte & 0x3f;
            if six < 62 && filled < out.len() {
                out[filled] = ALPHABET[usize::from(six)];
                filled += 1;
            }
        }
    }
    zeroize::Zeroize::zeroize(&mut pool);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_most_significant_digit_first_with_zero_padding() {
        assert_eq!(&encode_fixed::<6>(0), b"000000");
        assert_eq!(&encode_fixed::<6>(61), b"00000z");
        assert_eq!(&encode_fixed::<6>(62), b"000010");
        assert_eq!(&encode_fixed::<6>(u64::from(u32::MAX)), b"4gfFC3");
    }

    #[test]
    fn random_digits_are_all_base62() {
        let mut out = [0u8; 500];
        fill_random(&mut rand::rng(), &mut out);
        assert!(out.iter().all(|b| is_digit(*b)));
    }
}
