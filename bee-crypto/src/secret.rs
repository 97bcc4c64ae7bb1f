//! Secret values: keys, passwords and passphrases that zeroize on drop and never print.

use std::fmt;

use rand::TryRng;
use rand::rngs::SysRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::RandomError;

/// Length in bytes of every symmetric key in this crate.
pub const KEY_LEN: usize = 32;

/// A 256-bit symmetric key.
///
/// The bytes are wiped when the value is dropped, and `Debug` prints only the type name.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// Takes ownership of 32 key bytes.
    ///
    /// The array is moved in; a copy the caller still holds is the caller's to wipe.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Copies a key out of a slice.
    ///
    /// # Errors
    ///
    /// [`KeyLengthError`] when the slice is not exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyLengthError> {
        let mut key = Self([0; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(KeyLengthError { len: bytes.len() });
        }
        key.0.copy_from_slice(bytes);
        Ok(key)
    }

    /// Draws a fresh key from the operating system's random source.
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the operating system cannot provide random bytes.
    pub fn generate() -> Result<Self, RandomError> {
        let mut key = Self([0; KEY_LEN]);
        fill_random(&mut key.0)?;
        Ok(key)
    }

    /// The raw key bytes, for a [`KeyProvider`](crate::KeyProvider) that must hand them
    /// to an external service. Keep the borrow short and never log it.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A key of the wrong length was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a key must be 32 bytes long, got {len}")]
pub struct KeyLengthError {
    len: usize,
}

/// A password, such as an administrator's login password.
///
/// Wiped on drop; `Debug` prints only the type name.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

/// A passphrase from which a master key is derived with Argon2id.
///
/// Wiped on drop; `Debug` prints only the type name.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

macro_rules! secret_string {
    ($ty:ident) => {
        impl $ty {
            /// Takes ownership of the secret text.
            pub fn new(secret: String) -> Self {
                Self(Zeroizing::new(secret))
            }

            /// The secret text. Keep the borrow short and never log it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $ty {
            fn from(secret: String) -> Self {
                Self::new(secret)
            }
        }

        impl From<&str> for $ty {
            fn from(secret: &str) -> Self {
                Self::new(secret.to_owned())
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "(..)"))
            }
        }
    };
}

secret_string!(Password);
secret_string!(Passphrase);

/// Fills `buf` from the operating system's random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    SysRng.try_fill_bytes(buf).map_err(|_| RandomError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let key = SecretKey::from_bytes([0xAB; KEY_LEN]);
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
        let password = Password::from("hunter2");
        assert_eq!(format!("{password:?}"), "Password(..)");
        let passphrase = Passphrase::from("correct horse");
        assert_eq!(format!("{passphrase:?}"), "Passphrase(..)");
    }

    #[test]
    fn key_from_slice_rejects_wrong_lengths() {
        for len in [0, 1, 31, 33, 64] {
            assert_eq!(
                SecretKey::from_slice(&vec![0; len]).unwrap_err(),
                KeyLengthError { len }
            );
        }
        assert!(SecretKey::from_slice(&[7; KEY_LEN]).is_ok());
    }

    #[test]
    fn generated_keys_differ() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
