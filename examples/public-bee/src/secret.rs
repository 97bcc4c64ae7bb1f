//! A string that must not be shown: zeroized on drop, hidden from `Debug`.

use std::fmt;

use zeroize::Zeroizing;

/// A secret string, such as a database URL with a password or a backend API key.
///
/// `Debug` prints only the type name; the memory is wiped when the value is dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret itself, for the one place that must send or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_secret() {
        let secret = Secret::new("postgres://u:hunter2@db/x".into());
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        assert_eq!(secret.expose(), "postgres://u:hunter2@db/x");
    }
}
