//! Every temporary file and folder lockstep makes: created exclusively under a random name, inside one
//! private folder per run that the process starting the run owns and removes.
//!
//! Rationale: the system's temporary directory is shared with every local user. A name another user can
//! predict lets them plant a symlink there first, turning a program's scratch directory into any host
//! folder, or an AOT artifact into a write to any file or native code of their choosing. Random names
//! created with `O_EXCL` (the `tempfile` crate) cannot be planted; one folder for the whole run, removed
//! by the parent process, also collects what a worker that was killed mid-run left behind.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tempfile::TempDir;

/// How a process that starts workers tells them its run folder.
pub const RUN_FOLDER_ENV: &str = "LOCKSTEP_RUN_FOLDER";

/// The private folder (mode 0700) of one run; removed with everything in it when dropped.
pub struct RunFolder(TempDir);

/// The run folder this process made, once it has made one.
static CURRENT: OnceLock<PathBuf> = OnceLock::new();

impl RunFolder {
    /// A fresh `lockstep-*` folder in the system's temporary directory; every temporary file this
    /// process and its workers make from now on goes inside it.
    pub fn create() -> io::Result<RunFolder> {
        let folder = tempfile::Builder::new().prefix("lockstep-").tempdir()?;
        let _ = CURRENT.set(folder.path().to_path_buf());
        Ok(RunFolder(folder))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Where this process makes temporary files: its own run folder, the one its parent handed it
/// (a worker), or else (a test, a library user) the system's temporary directory.
pub fn parent_folder() -> PathBuf {
    CURRENT
        .get()
        .cloned()
        .or_else(|| std::env::var_os(RUN_FOLDER_ENV).map(PathBuf::from))
        .unwrap_or_else(std::env::temp_dir)
}

/// A new, empty folder named `PREFIX…`, removed when dropped.
pub fn folder(prefix: &str) -> io::Result<TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent_folder())
}

/// A new file with no name, in memory (`memfd_create`): in no folder, so nothing can swap it, and
/// nothing is left behind, even when the process is killed. Once written, [`seal`] makes it
/// unchangeable.
///
/// Rationale: in memory rather than unlinked on disk (`O_TMPFILE`), because an AOT artifact is
/// written and loaded for every module: on the disk each took a new inode of the file system, which
/// was an eighth of the worker processes' time in the default conformance matrix.
pub fn anonymous_file() -> io::Result<File> {
    let options = memfd::MemfdOptions::default()
        .close_on_exec(true)
        .allow_sealing(true);
    let file = options.create("lockstep").map_err(io::Error::other)?;
    Ok(file.into_file())
}

/// Forbids every later change to `file`, an [`anonymous_file`] written in full: whatever reads it
/// next reads those bytes.
pub fn seal(file: File) -> io::Result<File> {
    let memfd =
        memfd::Memfd::try_from_file(file).map_err(|_| io::Error::other("not an anonymous file"))?;
    memfd
        .add_seals(&[
            memfd::FileSeal::SealShrink,
            memfd::FileSeal::SealGrow,
            memfd::FileSeal::SealWrite,
            memfd::FileSeal::SealSeal,
        ])
        .map_err(io::Error::other)?;
    Ok(memfd.into_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_get_fresh_names_and_are_removed_when_dropped() {
        let first = folder("lockstep-test-").unwrap();
        let second = folder("lockstep-test-").unwrap();
        assert_ne!(first.path(), second.path());
        let path = first.path().to_path_buf();
        drop(first);
        assert!(!path.exists());
    }

    #[test]
    fn a_sealed_anonymous_file_reads_back_and_refuses_changes() {
        use std::io::{Read, Seek, SeekFrom, Write};
        let mut file = anonymous_file().unwrap();
        file.write_all(b"artifact").unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut file = seal(file).unwrap();
        assert!(file.write_all(b"tampered").is_err());
        assert!(file.set_len(0).is_err());
        let mut read = String::new();
        file.read_to_string(&mut read).unwrap();
        assert_eq!(read, "artifact");
    }
}
