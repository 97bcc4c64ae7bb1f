//! Keys of the audit log and the file format they are kept in.
//!
//! A key file holds 32 random bytes as 64 lowercase hexadecimal characters followed by a
//! newline. [`ChainKey::create_file`] writes one with mode 0600 (owner read and write only)
//! and refuses to replace an existing file; [`ChainKey::read_file`] reads it back and
//! accepts surrounding white space. The same format holds a [`PseudonymKey`].

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// Length in bytes of every key of the crate.
pub const KEY_LEN: usize = 32;

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The key file does not hold 64 hexadecimal characters.
    #[error("key file {path} does not hold a key: expected 64 hexadecimal characters")]
    Format {
        /// The key file.
        path: PathBuf,
    },
    /// A key given as bytes has the wrong length.
    #[error("a key is {KEY_LEN} bytes, got {0}")]
    Length(usize),
}

/// The secret that chains the records of an audit log.
///
/// Whoever holds it can verify the log, and also forge a new one: keep it apart from the
/// log files (the reference server keeps it in `<data-dir>/keys/audit-chain.key`).
#[derive(Clone)]
pub struct ChainKey(Key32);

/// The secret that turns subject ids into [pseudonyms](crate::Pseudonym).
#[derive(Clone)]
pub struct PseudonymKey(Key32);

macro_rules! key_api {
    ($name:ident) => {
        impl $name {
            /// A fresh key from the operating system's random source.
            pub fn generate() -> Self {
                Self(Key32::generate())
            }

            /// The key made of these 32 bytes.
            ///
            /// # Errors
            ///
            /// [`KeyError::Length`] when `bytes` is not 32 bytes long.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
                Key32::from_bytes(bytes).map(Self)
            }

            /// Reads a key file (64 hexadecimal characters, white space around them ignored).
            ///
            /// # Errors
            ///
            /// [`KeyError::Io`] when the file cannot be read, [`KeyError::Format`] when it
            /// does not hold a key.
            pub fn read_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
                Key32::read_file(path.as_ref()).map(Self)
            }

            /// Generates a key and writes it to a new file with mode 0600.
            ///
            /// # Errors
            ///
            /// [`KeyError::Io`] when the file exists already or cannot be written.
            pub fn create_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
                let key = Key32::generate();
                key.write_new_file(path.as_ref())?;
                Ok(Self(key))
            }
        }

        impl $name {
            /// Reads the key file at `path`, or creates it (mode 0600) when there is none:
            /// what a server does at start.
            ///
            /// # Errors
            ///
            /// As [`read_file`](Self::read_file) and [`create_file`](Self::create_file).
            pub fn read_or_create_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
                let path = path.as_ref();
                match Self::read_file(path) {
                    Err(KeyError::Io { source, .. })
                        if source.kind() == io::ErrorKind::NotFound =>
                    {
                        match Self::create_file(path) {
                            // Another process created it first: use theirs.
                            Err(KeyError::Io { source, .. })
                                if source.kind() == io::ErrorKind::AlreadyExists =>
                            {
                                Self::read_file(path)
                            }
                            created => created,
                        }
                    }
                    read => read,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

key_api!(ChainKey);
key_api!(PseudonymKey);

impl ChainKey {
    /// The MAC key for records, derived so that record and head MACs never share a key.
    pub(crate) fn record_mac(&self) -> Hmac<Sha256> {
        self.0.derive(b"bee-audit record mac v1")
    }

    /// The MAC key for the head file (v2: slots name the chain's start as well as its end).
    pub(crate) fn head_mac(&self) -> Hmac<Sha256> {
        self.0.derive(b"bee-audit head mac v2")
    }
}

impl PseudonymKey {
    /// The keyed function behind pseudonyms.
    pub(crate) fn subject_mac(&self) -> Hmac<Sha256> {
        self.0.derive(b"bee-audit subject pseudonym v1")
    }
}

/// 32 secret bytes, wiped on drop.
#[derive(Clone)]
struct Key32(Zeroizing<[u8; KEY_LEN]>);

impl Key32 {
    fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(Self(Zeroizing::new(array)))
    }

    fn read_file(path: &Path) -> Result<Self, KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io_err)?);
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(text.trim(), bytes.as_mut()).map_err(|_| KeyError::Format {
            path: path.to_owned(),
        })?;
        Ok(Self(bytes))
    }

    fn write_new_file(&self, path: &Path) -> Result<(), KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io_err)?;

        let mut text = Zeroizing::new(hex::encode(self.0.as_ref()));
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        text.zeroize();
        Ok(())
    }

    /// HMAC under a subkey `HMAC(key, label)`, so each use has its own key.
    fn derive(&self, label: &[u8]) -> Hmac<Sha256> {
        let mut outer = keyed(&self.0);
        outer.update(label);
        let sub = Zeroizing::new(<[u8; KEY_LEN]>::from(outer.finalize().into_bytes()));
        keyed(&sub)
    }
}

fn keyed(key: &[u8; KEY_LEN]) -> Hmac<Sha256> {
    // HMAC pads a key shorter than the hash block with zeros (RFC 2104, section 2), so
    // padding it here gives the same function without a fallible constructor.
    let mut block = hmac::digest::Key::<Hmac<Sha256>>::default();
    block[..KEY_LEN].copy_from_slice(key);
    let mac = <Hmac<Sha256> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_key_file_reads_back_as_the_same_key_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-chain.key");
        let created = ChainKey::create_file(&path).unwrap();
        let read = ChainKey::read_file(&path).unwrap();
        assert_eq!(created.0.0.as_ref(), read.0.0.as_ref());

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65);
        assert!(text.ends_with('\n'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn read_or_create_makes_a_key_once_and_reads_it_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let first = ChainKey::read_or_create_file(&path).unwrap();
        let second = ChainKey::read_or_create_file(&path).unwrap();
        assert_eq!(first.0.0.as_ref(), second.0.0.as_ref());
    }

    #[test]
    fn create_file_refuses_to_replace_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        ChainKey::create_file(&path).unwrap();
        assert!(matches!(
            ChainKey::create_file(&path),
            Err(KeyError::Io { .. })
        ));
    }

    #[test]
    fn malformed_key_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(66)] {
            std::fs::write(&path, bad).unwrap();
            assert!(matches!(
                ChainKey::read_file(&path),
                Err(KeyError::Format { .. })
            ));
        }
        std::fs::write(&path, format!("  {}\r\n", "0f".repeat(32))).unwrap();
        assert!(ChainKey::read_file(&path).is_ok());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = ChainKey::from_bytes(&[0xab; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "ChainKey(..)");
    }

    #[test]
    fn record_and_head_macs_use_different_keys() {
        let key = ChainKey::from_bytes(&[7; 32]).unwrap();
        let a = key.record_mac().chain_update(b"x").finalize().into_bytes();
        let b = key.head_mac().chain_update(b"x").finalize().into_bytes();
        assert_ne!(a, b);
    }
}
