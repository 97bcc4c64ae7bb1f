//! The data folder: everything one instance keeps on disk.
//!
//! ```text
//! <data-dir>/                      mode 0700
//!   public-bee.sqlite3             the records (when no PostgreSQL URL is given)
//!   bootstrap-admin-key            the first admin key, mode 0600, written once
//!   keys/                          mode 0700: secret key files, each mode 0600
//!   audit/                         mode 0700: audit logs, *.jsonl
//! ```
//!
//! Secret files are created with mode 0600 from the start (never widened, then narrowed),
//! written to a temporary name and linked into place, so that a crash leaves either no
//! file or a whole one, and a second writer never replaces the first one's secret.
//! A secret file that group or others may read is refused at start.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Name of the SQLite database file inside the data folder.
pub const SQLITE_FILE: &str = "public-bee.sqlite3";
/// Name of the bootstrap admin key file inside the data folder.
pub const BOOTSTRAP_KEY_FILE: &str = "bootstrap-admin-key";

/// The data folder of one instance.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// A problem with the data folder or one of its files.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file or folder could not be created, read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// A secret file may be read by group or others.
    #[error("{path} has mode {mode:o}; a secret file must be 600 (chmod 600 it)")]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl DataDir {
    /// Opens the data folder, creating it and its `keys/` and `audit/` folders (mode 0700)
    /// when they are missing.
    ///
    /// # Errors
    ///
    /// When a folder cannot be created.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, DataDirError> {
        let dir = Self { root: root.into() };
        for path in [dir.root.clone(), dir.keys(), dir.audit()] {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(io_error("cannot create folder", &path))?;
        }
        Ok(dir)
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of secret key files.
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// The folder of audit logs.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// The SQLite database file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.root.join(SQLITE_FILE)
    }

    /// The file that receives the bootstrap admin key.
    pub fn bootstrap_key_path(&self) -> PathBuf {
        self.root.join(BOOTSTRAP_KEY_FILE)
    }

    /// A secret key file inside `keys/`.
    pub fn key_path(&self, name: &str) -> PathBuf {
        self.keys().join(name)
    }
}

/// Writes `secret` to `path` with mode 0600 unless the file already exists. Returns
/// whether this call created it.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_secret_new(path: &Path, secret: &[u8]) -> Result<bool, DataDirError> {
    if path.exists() {
        return Ok(false);
    }
    let tmp = temp_name(path);
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_error("cannot create", &tmp))?;
    file.write_all(secret)
        .and_then(|()| file.sync_all())
        .map_err(io_error("cannot write", &tmp))?;
    drop(file);

    // A hard link never replaces an existing file, unlike a rename: when two starts race,
    // the first secret stays and the second start reads it.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_parent(path);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_error("cannot create", path)(e)),
    }
}

/// Reads a secret file, refusing one that group or others may read. `None` when the
/// file does not exist.
///
/// # Errors
///
/// When the file cannot be read or its mode is wider than 0600.
pub fn read_secret(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, DataDirError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("cannot open", path)(e)),
    };
    let mode = file
        .metadata()
        .map_err(io_error("cannot read", path))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(DataDirError::TooOpen {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes)
        .map_err(io_error("cannot read", path))?;
    Ok(Some(bytes))
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_os_string());
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(tmp)
}

/// Makes the new directory entry durable; a failure here only weakens crash safety.
fn sync_parent(path: &Path) {
    if let Some(Ok(dir)) = path.parent().map(File::open) {
        let _ = dir.sync_all();
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DataDirError {
    let path = path.to_owned();
    move |source| DataDirError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn open_creates_the_layout_with_private_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(tmp.path().join("data")).unwrap();
        for path in [dir.root().to_owned(), dir.keys(), dir.audit()] {
            assert!(path.is_dir());
            assert_eq!(mode(&path), 0o700, "{}", path.display());
        }
    }

    #[test]
    fn a_secret_file_is_created_once_with_mode_600() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k");
        assert!(write_secret_new(&path, b"first").unwrap());
        assert!(!write_secret_new(&path, b"second").unwrap());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(read_secret(&path).unwrap().unwrap().as_slice(), b"first");
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn a_secret_file_readable_by_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k");
        fs::write(&path, b"x").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret(&path).unwrap_err();
        assert!(matches!(err, DataDirError::TooOpen { mode: 0o644, .. }));
    }

    #[test]
    fn a_missing_secret_file_reads_as_none() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(read_secret(&tmp.path().join("none")).unwrap().is_none());
    }
}
