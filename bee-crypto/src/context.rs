//! The context a ciphertext is bound to: ordered name/value pairs, encoded without ambiguity.

use std::fmt;

/// Most pairs a context may hold.
pub const MAX_PAIRS: usize = 32;
/// Longest name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Longest value, in bytes.
pub const MAX_VALUE_LEN: usize = 65_535;

/// Where a ciphertext belongs: ordered name/value pairs that are authenticated with it.
///
/// A ciphertext opens only under the exact context it was sealed with, so a ciphertext
/// copied into another row, conversation or tenant does not open.
///
/// # Encoding
///
/// ```text
/// count          u16, big-endian: number of pairs
/// then, for each pair in the order they were added:
///   name length  u16, big-endian
///   name         1 to 64 bytes of [a-z0-9_.-]
///   value length u32, big-endian
///   value        0 to 65 535 bytes, any bytes
/// ```
///
/// Every field carries its own length, so moving bytes from a name into a value (or from
/// one value into the next) changes the encoding; two contexts encode to the same bytes
/// only if they hold the same pairs in the same order.
///
/// ```
/// use bee_crypto::Context;
///
/// let context = Context::record("tenant-7", "support-bot", "conv-42", "message")?;
/// assert_eq!(context.len(), 4);
/// # Ok::<(), bee_crypto::ContextError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Context {
    encoded: Vec<u8>,
}

impl Context {
    /// An empty context. Prefer adding at least the tenant and the record kind.
    pub fn new() -> Self {
        Self {
            encoded: vec![0, 0],
        }
    }

    /// The context of a stored conversation record: tenant, bot, conversation and record
    /// kind (for example `message` or `pseudonym-vault`), under the names `tenant`, `bot`,
    /// `conversation` and `kind`, in that order.
    ///
    /// # Errors
    ///
    /// [`ContextError::ValueTooLong`] when a value is longer than 65 535 bytes.
    pub fn record(
        tenant: impl AsRef<[u8]>,
        bot: impl AsRef<[u8]>,
        conversation: impl AsRef<[u8]>,
        kind: impl AsRef<[u8]>,
    ) -> Result<Self, ContextError> {
        Self::new()
            .with("tenant", tenant)?
            .with("bot", bot)?
            .with("conversation", conversation)?
            .with("kind", kind)
    }

    /// Appends one pair. Order matters: the same pairs in another order are another context.
    ///
    /// # Errors
    ///
    /// - [`ContextError::InvalidName`] when the name is empty, longer than 64 bytes or uses
    ///   a character outside `[a-z0-9_.-]`;
    /// - [`ContextError::DuplicateName`] when the name is already present;
    /// - [`ContextError::ValueTooLong`] when the value is longer than 65 535 bytes;
    /// - [`ContextError::TooManyPairs`] when the context already holds 32 pairs.
    pub fn with(mut self, name: &str, value: impl AsRef<[u8]>) -> Result<Self, ContextError> {
        let value = value.as_ref();
        check_name(name)?;
        if self.names().any(|existing| existing == name.as_bytes()) {
            return Err(ContextError::DuplicateName(name.to_owned()));
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(ContextError::ValueTooLong(name.to_owned()));
        }
        let value_len =
            u32::try_from(value.len()).map_err(|_| ContextError::ValueTooLong(name.to_owned()))?;
        let count = self.len();
        if count >= MAX_PAIRS {
            return Err(ContextError::TooManyPairs);
        }

        // The name length fits in u16: check_name caps it at 64.
        let name_len = u16::try_from(name.len()).map_err(|_| invalid_name(name))?;
        self.encoded.extend_from_slice(&name_len.to_be_bytes());
        self.encoded.extend_from_slice(name.as_bytes());
        self.encoded.extend_from_slice(&value_len.to_be_bytes());
        self.encoded.extend_from_slice(value);
        self.set_count(count + 1);
        Ok(self)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.encoded[0], self.encoded[1]]))
    }

    /// True when the context holds no pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The canonical encoding described under [Encoding](Context#encoding).
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// A context over arbitrary bytes, to check that every byte of the encoding counts.
    #[cfg(test)]
    pub(crate) fn from_encoded_for_test(encoded: Vec<u8>) -> Self {
        Self { encoded }
    }

    fn set_count(&mut self, count: usize) {
        // Callers keep count at or under MAX_PAIRS, far below u16::MAX.
        let count = u16::try_from(count).unwrap_or(u16::MAX);
        self.encoded[..2].copy_from_slice(&count.to_be_bytes());
    }

    fn names(&self) -> impl Iterator<Item = &[u8]> {
        Pairs {
            rest: &self.encoded[2..],
        }
        .map(|(name, _)| name)
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

/// Shows the names only: values may be identifiers that should not reach a log.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.names().map(String::from_utf8_lossy).collect();
        f.debug_struct("Context").field("names", &names).finish()
    }
}

/// A context pair was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The name is empty, too long, or uses a character outside `[a-z0-9_.-]`.
    #[error("context name {0:?} must be 1 to 64 characters of [a-z0-9_.-]")]
    InvalidName(String),
    /// The name is already in the context.
    #[error("context name {0:?} appears twice")]
    DuplicateName(String),
    /// The value under this name is longer than 65 535 bytes.
    #[error("context value of {0:?} is longer than 65535 bytes")]
    ValueTooLong(String),
    /// The context already holds 32 pairs.
    #[error("a context holds at most 32 pairs")]
    TooManyPairs,
}

fn check_name(name: &str) -> Result<(), ContextError> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b);
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.bytes().all(allowed) {
        return Err(invalid_name(name));
    }
    Ok(())
}

fn invalid_name(name: &str) -> ContextError {
    // A rejected name may be anything: keep only a short, printable prefix in the error.
    ContextError::InvalidName(name.chars().take(MAX_NAME_LEN).collect())
}

/// Walks the pairs of an encoding this module built (so every length is in bounds).
struct Pairs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (name_len, rest) = self.rest.split_first_chunk::<2>()?;
        let (name, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*name_len)))?;
        let (value_len, rest) = rest.split_first_chunk::<4>()?;
        let value_len = usize::try_from(u32::from_be_bytes(*value_len)).ok()?;
        let (value, rest) = rest.split_at_checked(value_len)?;
        self.rest = rest;
        Some((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_count_then_length_prefixed_pairs() {
        let context = Context::new()
            .with("tenant", "t1")
            .unwrap()
            .with("kind", "")
            .unwrap();
        let expected: &[u8] = &[
            0, 2, // two pairs
            0, 6, b't', b'e', b'n', b'a', b'n', b't', 0, 0, 0, 2, b't', b'1', //
            0, 4, b'k', b'i', b'n', b'd', 0, 0, 0, 0,
        ];
        assert_eq!(context.encoded(), expected);
    }

    #[test]
    fn moving_bytes_between_name_and_value_changes_the_encoding() {
        let a = Context::new().with("ab", "c").unwrap();
        let b = Context::new().with("a", "bc").unwrap();
        assert_ne!(a.encoded(), b.encoded());

        let c = Context::new()
            .with("x", "ab")
            .unwrap()
            .with("y", "c")
            .unwrap();
        let d = Context::new()
            .with("x", "a")
            .unwrap()
            .with("y", "bc")
            .unwrap();
        assert_ne!(c.encoded(), d.encoded());
    }

    #[test]
    fn order_of_pairs_matters() {
        let a = Context::new()
            .with("a", "1")
            .unwrap()
            .with("b", "2")
            .unwrap();
        let b = Context::new()
            .with("b", "2")
            .unwrap()
            .with("a", "1")
            .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_bad_names_duplicates_and_oversized_values() {
        for name in ["", "Tenant", "ten ant", "é", &"a".repeat(65)] {
            assert!(matches!(
                Context::new().with(name, "v"),
                Err(ContextError::InvalidName(_))
            ));
        }
        let once = Context::new().with("tenant", "a").unwrap();
        assert_eq!(
            once.with("tenant", "b").unwrap_err(),
            ContextError::DuplicateName("tenant".into())
        );
        let long = vec![0u8; MAX_VALUE_LEN + 1];
        assert_eq!(
            Context::new().with("v", &long).unwrap_err(),
            ContextError::ValueTooLong("v".into())
        );
        assert!(Context::new().with("v", &long[1..]).is_ok());
    }

    #[test]
    fn holds_at_most_32_pairs() {
        let mut context = Context::new();
        for i in 0..MAX_PAIRS {
            context = context.with(&format!("n{i}"), "v").unwrap();
        }
        assert_eq!(
            context.with("last", "v").unwrap_err(),
            ContextError::TooManyPairs
        );
    }

    #[test]
    fn debug_shows_names_but_not_values() {
        let context = Context::record("tenant-secret", "b", "c", "message").unwrap();
        let shown = format!("{context:?}");
        assert!(shown.contains("tenant"));
        assert!(!shown.contains("tenant-secret"));
    }
}
