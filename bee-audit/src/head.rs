//! The head file: a MACed note of how far the chain had reached.
//!
//! A chain by itself cannot tell a log whose last records were cut off from a log that
//! simply ended there. The file sink therefore keeps `audit.head` beside the log files:
//! after each durability point it writes the sequence number and MAC of the last record
//! it made durable, MACed under a key derived from the chain key. `verify` given the head
//! reports a chain that ends before it as truncated.
//!
//! The file has two fixed 256-byte slots, written alternately, each
//! `<seq, 20 digits> <mac, 64 hex> <tag, 64 hex>\n`; a reader takes the valid slot with the
//! higher sequence number, so a write torn by a crash leaves the other slot readable. The
//! head is written only after the records it names are synced, so it never claims more
//! than the disk holds.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::chain::{Link, MAC_LEN, Tag};
use crate::key::ChainKey;

/// The head file's name inside a log directory.
pub const HEAD_FILE: &str = "audit.head";

const SLOT: u64 = 256;
const SLOT_TEXT: usize = 20 + 1 + 2 * MAC_LEN + 1 + 2 * MAC_LEN + 1;

/// The expected end of a chain, read from a head file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    link: Link,
}

/// Why a head file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The file could not be read or written.
    #[error("head file {path}: {source}")]
    Io {
        /// The head file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Neither slot holds a head that authenticates under the key.
    #[error("head file {path} holds no valid head (wrong key or altered)")]
    Invalid {
        /// The head file.
        path: PathBuf,
    },
}

impl Head {
    /// The sequence number of the last record the head vouches for.
    pub fn seq(&self) -> u64 {
        self.link.seq
    }

    pub(crate) fn link(&self) -> Link {
        self.link
    }

    /// Reads a head file; `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// [`HeadError::Io`] when it cannot be read, [`HeadError::Invalid`] when it exists but
    /// no slot authenticates under `key`.
    pub fn read(path: impl AsRef<Path>, key: &ChainKey) -> Result<Option<Head>, HeadError> {
        let path = path.as_ref();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(HeadError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let mac = key.head_mac();
        let best = bytes
            .chunks(usize::try_from(SLOT).unwrap_or(256))
            .filter_map(|slot| parse_slot(slot, &mac))
            .max_by_key(|link| link.seq);
        match best {
            Some(link) => Ok(Some(Head { link })),
            None if bytes.iter().all(|&b| b == 0) => Ok(None),
            None => Err(HeadError::Invalid {
                path: path.to_owned(),
            }),
        }
    }
}

/// Writes heads into an open head file.
pub(crate) struct HeadWriter {
    file: File,
    mac: Hmac<Sha256>,
    written: u64,
}

impl HeadWriter {
    pub(crate) fn new(file: File, key: &ChainKey, written: u64) -> Self {
        Self {
            file,
            mac: key.head_mac(),
            written,
        }
    }

    /// Writes `link` into its slot unless a later head is written already.
    pub(crate) fn write(&mut self, link: Link) -> io::Result<()> {
        if link.seq <= self.written {
            return Ok(());
        }
        let text = slot_text(link, &self.mac);
        write_at(&self.file, text.as_bytes(), (link.seq % 2) * SLOT)?;
        self.written = link.seq;
        Ok(())
    }

    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn slot_text(link: Link, mac: &Hmac<Sha256>) -> String {
    let tag = head_tag(link, mac);
    format!(
        "{:020} {} {}\n",
        link.seq,
        hex::encode(link.mac),
        hex::encode(tag)
    )
}

fn head_tag(link: Link, mac: &Hmac<Sha256>) -> Tag {
    let mut mac = mac.clone();
    mac.update(&link.seq.to_be_bytes());
    mac.update(&link.mac);
    mac.finalize().into_bytes().into()
}

fn parse_slot(slot: &[u8], mac: &Hmac<Sha256>) -> Option<Link> {
    let text = std::str::from_utf8(slot.get(..SLOT_TEXT)?).ok()?;
    let mut parts = text.strip_suffix('\n')?.split(' ');
    let seq: u64 = parts.next()?.parse().ok()?;
    let mut link = Link {
        seq,
        mac: [0; MAC_LEN],
    };
    hex::decode_to_slice(parts.next()?, &mut link.mac).ok()?;
    let mut tag = [0u8; MAC_LEN];
    hex::decode_to_slice(parts.next()?, &mut tag).ok()?;
    // Constant-time for the same reason as record MACs.
    let valid: bool = head_tag(link, mac).ct_eq(&tag).into();
    valid.then_some(link)
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(not(unix))]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;

    fn key() -> ChainKey {
        ChainKey::from_bytes(&[3; 32]).unwrap()
    }

    fn writer(path: &Path) -> HeadWriter {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap();
        HeadWriter::new(file, &key(), 0)
    }

    #[test]
    fn reader_takes_the_latest_valid_slot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        let mut w = writer(&path);
        w.write(Link {
            seq: 7,
            mac: [1; 32],
        })
        .unwrap();
        w.write(Link {
            seq: 8,
            mac: [2; 32],
        })
        .unwrap();
        w.write(Link {
            seq: 8,
            mac: [9; 32],
        })
        .unwrap();
        let head = Head::read(&path, &key()).unwrap().unwrap();
        assert_eq!(
            head.link(),
            Link {
                seq: 8,
                mac: [2; 32]
            }
        );
    }

    #[test]
    fn a_torn_slot_falls_back_to_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        let mut w = writer(&path);
        w.write(Link {
            seq: 7,
            mac: [1; 32],
        })
        .unwrap();
        w.write(Link {
            seq: 8,
            mac: [2; 32],
        })
        .unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[30] ^= 1; // slot of seq 8
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Head::read(&path, &key()).unwrap().unwrap().seq(), 7);
    }

    #[test]
    fn a_head_under_another_key_is_invalid_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        assert!(Head::read(&path, &key()).unwrap().is_none());
        writer(&path)
            .write(Link {
                seq: 1,
                mac: [1; 32],
            })
            .unwrap();
        let other = ChainKey::from_bytes(&[4; 32]).unwrap();
        assert!(matches!(
            Head::read(&path, &other),
            Err(HeadError::Invalid { .. })
        ));
    }
}
