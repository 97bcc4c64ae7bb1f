//! Files of a log directory: names, creation, and the state of the tail on reopening.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::chain::{Chainer, Line, Link};
use crate::sink::TornTail;
use crate::sink::chained::OpenError;

const PREFIX: &str = "audit-";
const SUFFIX: &str = ".jsonl";

/// The name of the `index`th log file.
pub(crate) fn file_name(index: u64) -> String {
    format!("{PREFIX}{index:08}{SUFFIX}")
}

/// The index in a log file's name.
pub(crate) fn file_index(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The log files of `dir`, oldest first.
pub(crate) fn log_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<(u64, PathBuf)> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter_map(|path| file_index(&path).map(|i| (i, path)))
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

pub(crate) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

pub(crate) fn create_log_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

pub(crate) fn open_head(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes a file's creation in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Whether an event (in either format) is the rotation marker that ends a file.
pub(crate) fn is_rotation_marker(event: &[u8]) -> bool {
    // Cheap test first: most records are not system notes.
    if memchr::memmem::find(event, b"\"rotated\"").is_none() {
        return false;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(event) else {
        return false;
    };
    let own = value.get("unmapped").unwrap_or(&value);
    own.get("kind").and_then(|k| k.as_str()) == Some("audit_system")
        && own.get("note").and_then(|n| n.as_str()) == Some("rotated")
}

/// Where a reopened chain stands.
pub(crate) struct Tail {
    pub(crate) path: PathBuf,
    pub(crate) index: u64,
    pub(crate) last: Link,
    pub(crate) rotated: bool,
    pub(crate) torn: Option<TornTail>,
}

impl Tail {
    pub(crate) fn empty(path: PathBuf, index: u64) -> Self {
        Self {
            path,
            index,
            last: Link::START,
            rotated: false,
            torn: None,
        }
    }
}

/// A log file's bytes split after its last newline.
pub(crate) struct Split<'a> {
    /// Every complete line, with its newline.
    pub(crate) complete: &'a [u8],
    /// What follows the last newline: a torn line, or nothing.
    pub(crate) torn: &'a [u8],
    /// How many complete lines there are.
    pub(crate) lines: u64,
}

impl<'a> Split<'a> {
    pub(crate) fn of(bytes: &'a [u8]) -> Self {
        let end = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
        let (complete, torn) = bytes.split_at(end);
        let lines = memchr::memchr_iter(b'\n', complete).count() as u64;
        Self {
            complete,
            torn,
            lines,
        }
    }

    /// The last complete line, without its newline.
    pub(crate) fn last_line(&self) -> Option<&'a [u8]> {
        let text = self.complete.strip_suffix(b"\n")?;
        let start = memchr::memrchr(b'\n', text).map_or(0, |i| i + 1);
        Some(&text[start..])
    }
}

/// Finds the last complete record of the chain and sets aside a torn final line.
pub(crate) fn recover_tail(
    last: &Path,
    files: &[PathBuf],
    chainer: &Chainer,
) -> Result<Tail, OpenError> {
    let bytes = read(last)?;
    let split = Split::of(&bytes);
    let index = file_index(last).unwrap_or(1);

    let mut tail = Tail::empty(last.to_owned(), index);
    if let Some(line) = split.last_line() {
        let (link, rotated) = authentic(line, last, split.lines, chainer)?;
        (tail.last, tail.rotated) = (link, rotated);
    } else if files.len() > 1 {
        tail.last = previous_file_end(&files[files.len() - 2], chainer)?;
    }
    if !split.torn.is_empty() {
        let keep = split.complete.len();
        tail.torn = Some(set_aside(last, split.torn, keep, split.lines + 1)?);
    }
    Ok(tail)
}

fn read(path: &Path) -> Result<Vec<u8>, OpenError> {
    fs::read(path).map_err(|source| OpenError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The link and rotation flag of a line that must authenticate.
fn authentic(
    line: &[u8],
    path: &Path,
    line_no: u64,
    chainer: &Chainer,
) -> Result<(Link, bool), OpenError> {
    let corrupt = || OpenError::Corrupt {
        file: path.to_owned(),
        line: line_no,
    };
    let line = Line::parse(line)
        .filter(|l| chainer.authentic(l))
        .ok_or_else(corrupt)?;
    let link = Link {
        seq: line.seq,
        mac: line.mac,
    };
    Ok((link, is_rotation_marker(line.event)))
}

/// The end of the file before an empty last file: it must end with a valid record.
fn previous_file_end(path: &Path, chainer: &Chainer) -> Result<Link, OpenError> {
    let bytes = read(path)?;
    let split = Split::of(&bytes);
    let line = split.last_line().ok_or_else(|| OpenError::Corrupt {
        file: path.to_owned(),
        line: 1,
    })?;
    authentic(line, path, split.lines, chainer).map(|(link, _)| link)
}

/// Where the chain in `files` starts: the link its first record continues. The record
/// must authenticate.
pub(crate) fn chain_start(files: &[PathBuf], chainer: &Chainer) -> Result<Link, OpenError> {
    for path in files {
        let mut reader = BufReader::new(File::open(path).map_err(|source| OpenError::Io {
            path: path.clone(),
            source,
        })?);
        let mut line = Vec::new();
        reader
            .read_until(b'\n', &mut line)
            .map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?;
        if line.pop() != Some(b'\n') {
            continue; // empty, or only a torn line
        }
        let first = Line::parse(&line).filter(|l| chainer.authentic(l));
        let first = first.ok_or_else(|| OpenError::Corrupt {
            file: path.clone(),
            line: 1,
        })?;
        return Ok(Link {
            seq: first.seq.saturating_sub(1),
            mac: first.prev,
        });
    }
    Ok(Link::START)
}

/// Copies the torn bytes to `<file>.torn-<n>`, then cuts them from the log.
fn set_aside(path: &Path, torn: &[u8], keep: usize, line: u64) -> Result<TornTail, OpenError> {
    let io_err = |p: &Path| {
        let p = p.to_owned();
        move |source| OpenError::Io { path: p, source }
    };
    let kept_in = (1..)
        .map(|n| PathBuf::from(format!("{}.torn-{n}", path.display())))
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.with_extension("torn"));
    let mut copy = create_log_file(&kept_in).map_err(io_err(&kept_in))?;
    copy.write_all(torn)
        .and_then(|()| copy.sync_all())
        .map_err(io_err(&kept_in))?;

    let log = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    log.set_len(keep as u64)
        .and_then(|()| log.sync_all())
        .map_err(io_err(path))?;
    Ok(TornTail {
        file: path.to_owned(),
        line,
        bytes: torn.len() as u64,
        kept_in,
    })
}

/// Opens the file the next record goes to: the last one, or a new one after a marker.
pub(crate) fn open_for_append(
    dir: &Path,
    tail: &Tail,
) -> Result<(File, PathBuf, u64, u64), OpenError> {
    let (path, index) = if tail.rotated {
        (dir.join(file_name(tail.index + 1)), tail.index + 1)
    } else {
        (tail.path.clone(), tail.index)
    };
    let io_err = |source| OpenError::Io {
        path: path.clone(),
        source,
    };
    let file = if path.exists() {
        OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err)?
    } else {
        let file = create_log_file(&path).map_err(io_err)?;
        sync_dir(dir).map_err(io_err)?;
        file
    };
    let size = file.metadata().map_err(io_err)?.len();
    Ok((file, path, index, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_and_parse_back() {
        assert_eq!(file_name(7), "audit-00000007.jsonl");
        assert_eq!(file_index(Path::new("/x/audit-00000007.jsonl")), Some(7));
        assert_eq!(
            file_index(Path::new("/x/audit-00000007.jsonl.torn-1")),
            None
        );
        assert_eq!(file_index(Path::new("/x/audit-.jsonl")), None);
    }

    #[test]
    fn rotation_markers_are_recognised_in_both_formats() {
        assert!(is_rotation_marker(
            br#"{"kind":"audit_system","note":"rotated","next":"a"}"#
        ));
        assert!(is_rotation_marker(
            br#"{"class_uid":3004,"unmapped":{"kind":"audit_system","note":"rotated"}}"#
        ));
        assert!(!is_rotation_marker(
            br#"{"kind":"config_change","setting":"rotated"}"#
        ));

        let marker = crate::event::Event::new(
            jiff::Timestamp::UNIX_EPOCH,
            crate::event::Activity::AuditSystem {
                note: crate::event::SystemNote::Rotated { next: file_name(2) },
            },
        );
        assert!(is_rotation_marker(&serde_json::to_vec(&marker).unwrap()));
    }
}
