//! The head file: a MACed note of where the chain starts and how far it had reached.
//!
//! A chain by itself cannot tell a log whose first or last records were cut off from a
//! log that simply starts or ends there. The file sink therefore keeps `audit.head`
//! beside the log files, MACed under a key derived from the chain key, naming both ends:
//!
//! - the **start**: the sequence number of the first record of the chain and the MAC that
//!   record must carry as its `prev` (1 and all zeros for a new chain). Only retention
//!   moves it, and only forward, when it removes whole old files;
//! - the **end**: the sequence number and MAC of the last record the sink made durable,
//!   written after each durability point.
//!
//! `verify` given the head reports a chain that starts after its start as deleted, a
//! chain that ends before its end as truncated, and a head naming a different record at
//! either end as a head mismatch.
//!
//! The file has two fixed 256-byte slots, written alternately, each
//! `<first seq, 20 digits> <first prev, 64 hex> <last seq, 20 digits> <last mac, 64 hex>
//! <tag, 64 hex>\n` (one line); a reader takes the valid slot with the higher last
//! sequence number, so a write torn by a crash leaves the other slot readable. The head
//! is written only after the records it names are synced, so it never claims more than
//! the disk holds. The sink writes a first head (start and end at the chain's beginning)
//! before it writes any record, so a log directory holding records always holds a head:
//! a missing one was removed.

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
const SEQ_DIGITS: usize = 20;
const SLOT_TEXT: usize = 2 * (SEQ_DIGITS + 1 + 2 * MAC_LEN + 1) + 2 * MAC_LEN + 1;

/// Where a chain must start and how far it must reach, read from a head file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The link the first record continues: its sequence number is one less than the
    /// first record's, its MAC is the first record's `prev`.
    start: Link,
    end: Link,
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
    /// The sequence number of the last record the head vouches for (0 before the first).
    pub fn seq(&self) -> u64 {
        self.end.seq
    }

    /// The sequence number the chain starts at: 1, or the first record retention kept.
    pub fn first_seq(&self) -> u64 {
        self.start.seq + 1
    }

    /// The link the chain's first record must continue.
    pub(crate) fn start(&self) -> Link {
        self.start
    }

    /// The last record the head vouches for.
    pub(crate) fn end(&self) -> Link {
        self.end
    }

    /// Reads a head file; `Ok(None)` when there is none (no file, or one never written).
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
            .max_by_key(|head| (head.end.seq, head.start.seq));
        match best {
            Some(head) => Ok(Some(head)),
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
    start: Link,
    /// The last and first sequence numbers of the head last written, if any head was
    /// written or read.
    written: Option<(u64, u64)>,
}

impl HeadWriter {
    /// A writer that carries on from `head`, or starts a new chain when there is none.
    pub(crate) fn new(file: File, key: &ChainKey, head: Option<Head>) -> Self {
        Self {
            file,
            mac: key.head_mac(),
            start: head.map_or(Link::START, |h| h.start),
            written: head.map(|h| (h.end.seq, h.start.seq)),
        }
    }

    /// A writer for a chain found without a head, starting where its files start.
    pub(crate) fn rebuilt(file: File, key: &ChainKey, start: Link) -> Self {
        Self {
            file,
            mac: key.head_mac(),
            start,
            written: None,
        }
    }

    /// Where the chain starts, as the next head will say.
    pub(crate) fn start(&self) -> Link {
        self.start
    }

    /// Moves the start forward; the next [`write`](Self::write) records it. Retention
    /// calls this only once the files before `start` are accounted for in the chain.
    pub(crate) fn move_start(&mut self, start: Link) {
        if start.seq > self.start.seq {
            self.start = start;
        }
    }

    /// Writes `end` (with the current start) into its slot unless this head or a later
    /// one is written already.
    ///
    /// A head with a new start and the same end overwrites the slot of the head before
    /// it; retention removes files only after that write is synced, so if it is torn, the
    /// other slot's older start still holds for the files on disk.
    pub(crate) fn write(&mut self, end: Link) -> io::Result<()> {
        let next = (end.seq, self.start.seq);
        if self.written.is_some_and(|written| next <= written) {
            return Ok(());
        }
        let head = Head {
            start: self.start,
            end,
        };
        let text = slot_text(&head, &self.mac);
        write_at(&self.file, text.as_bytes(), (end.seq % 2) * SLOT)?;
        self.written = Some(next);
        Ok(())
    }

    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn slot_text(head: &Head, mac: &Hmac<Sha256>) -> String {
    let tag = head_tag(head, mac);
    format!(
        "{:020} {} {:020} {} {}\n",
        head.start.seq + 1,
        hex::encode(head.start.mac),
        head.end.seq,
        hex::encode(head.end.mac),
        hex::encode(tag)
    )
}

fn head_tag(head: &Head, mac: &Hmac<Sha256>) -> Tag {
    let mut mac = mac.clone();
    mac.update(&(head.start.seq + 1).to_be_bytes());
    mac.update(&head.start.mac);
    mac.update(&head.end.seq.to_be_bytes());
    mac.update(&head.end.mac);
    mac.finalize().into_bytes().into()
}

fn parse_slot(slot: &[u8], mac: &Hmac<Sha256>) -> Option<Head> {
    let text = std::str::from_utf8(slot.get(..SLOT_TEXT)?).ok()?;
    let mut parts = text.strip_suffix('\n')?.split(' ');
    let first_seq = parse_seq(parts.next()?)?;
    let start = Link {
        seq: first_seq.checked_sub(1)?,
        mac: parse_mac(parts.next()?)?,
    };
    let end = Link {
        seq: parse_seq(parts.next()?)?,
        mac: parse_mac(parts.next()?)?,
    };
    let tag = parse_mac(parts.next()?)?;
    let head = Head { start, end };
    // Constant-time for the same reason as record MACs.
    let valid: bool = head_tag(&head, mac).ct_eq(&tag).into();
    (valid && end.seq >= start.seq).then_some(head)
}

fn parse_seq(digits: &str) -> Option<u64> {
    if digits.len() != SEQ_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn parse_mac(hex: &str) -> Option<Tag> {
    let mut out = [0u8; MAC_LEN];
    hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
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
        HeadWriter::new(file, &key(), None)
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
            head.end(),
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

    #[test]
    fn a_new_chain_starts_at_genesis_and_the_start_only_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        let mut w = writer(&path);
        w.write(Link::START).unwrap();
        let head = Head::read(&path, &key()).unwrap().unwrap();
        assert_eq!(
            (head.first_seq(), head.start(), head.seq()),
            (1, Link::START, 0)
        );

        let kept = Link {
            seq: 40,
            mac: [6; 32],
        };
        w.move_start(kept);
        w.move_start(Link {
            seq: 12,
            mac: [7; 32],
        });
        w.write(Link {
            seq: 41,
            mac: [8; 32],
        })
        .unwrap();
        let head = Head::read(&path, &key()).unwrap().unwrap();
        assert_eq!((head.first_seq(), head.start(), head.seq()), (41, kept, 41));

        // A writer reopened on the file keeps the start.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        let mut again = HeadWriter::new(file, &key(), Some(head));
        again
            .write(Link {
                seq: 42,
                mac: [9; 32],
            })
            .unwrap();
        let head = Head::read(&path, &key()).unwrap().unwrap();
        assert_eq!((head.first_seq(), head.seq()), (41, 42));
    }

    #[test]
    fn a_changed_start_does_not_authenticate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        let mut w = writer(&path);
        w.write(Link {
            seq: 3,
            mac: [1; 32],
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let moved = text.replacen("00000000000000000001 ", "00000000000000000002 ", 1);
        assert_ne!(moved, text);
        std::fs::write(&path, moved).unwrap();
        assert!(matches!(
            Head::read(&path, &key()),
            Err(HeadError::Invalid { .. })
        ));
    }
}
