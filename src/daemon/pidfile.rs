//! The pid lock: one daemon per home.
//!
//! `<home>/steward.pid` is held with an exclusive `flock` for the daemon's whole
//! life and records its pid and listen address as JSON. The lock, not the file's
//! existence, decides whether a daemon runs: the kernel drops it when the process
//! dies, so a crash never leaves a home locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::home::SECRET_MODE;

#[derive(Debug, thiserror::Error)]
pub enum PidError {
    #[error(
        "another steward{} is already running for this home (lock {path}); stop it first (`steward status` shows where it listens) or use another --home",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Held { pid: Option<u32>, path: PathBuf },
    #[error("cannot use the pid file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// What the running daemon wrote into its pid file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PidInfo {
    pub pid: u32,
    pub listen: String,
    /// The phones-only listener, when `http.signalsListen` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals_listen: Option<String>,
    pub started_at: String,
    pub version: String,
}

/// Held while the daemon runs; removes the file on drop.
#[derive(Debug)]
pub struct PidLock {
    file: File,
    path: PathBuf,
}

fn open(path: &Path) -> Result<File, PidError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false) // the holder's record must survive a failed attempt
        .mode(SECRET_MODE)
        .open(path)
        .map_err(|source| PidError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn read_info(file: &mut File) -> Option<PidInfo> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Take the lock or say who holds it.
pub fn acquire(path: &Path) -> Result<PidLock, PidError> {
    let mut file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(PidLock {
            file,
            path: path.to_path_buf(),
        }),
        Err(TryLockError::WouldBlock) => Err(PidError::Held {
            pid: read_info(&mut file).map(|i| i.pid),
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(source)) => Err(PidError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl PidLock {
    /// Replace the record (called once the listener is bound).
    pub fn record(&mut self, info: &PidInfo) -> Result<(), PidError> {
        let io_err = |source| PidError::Io {
            path: self.path.clone(),
            source,
        };
        let text = serde_json::to_string(info).expect("PidInfo serialises");
        self.file.set_len(0).map_err(io_err)?;
        self.file.rewind().map_err(io_err)?;
        self.file.write_all(text.as_bytes()).map_err(io_err)?;
        self.file.sync_data().map_err(io_err)
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // Remove while still holding the lock, so no one sees a half-dead record.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The daemon holding `path`, if one does. Never creates the file.
pub fn inspect(path: &Path) -> Option<PidInfo> {
    let mut file = File::open(path).ok()?;
    match file.try_lock_shared() {
        // We could lock it: nobody holds it; the file is stale.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_info(&mut file).unwrap_or(PidInfo {
            pid: 0,
            listen: String::new(),
            signals_listen: None,
            started_at: String::new(),
            version: String::new(),
        })),
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PidInfo {
        PidInfo {
            pid: 4242,
            listen: "127.0.0.1:1".into(),
            signals_listen: None,
            started_at: "now".into(),
            version: "0".into(),
        }
    }

    #[test]
    fn second_acquire_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("steward.pid");
        let mut lock = acquire(&path).unwrap();
        lock.record(&info()).unwrap();
        let err = acquire(&path).unwrap_err();
        assert!(
            matches!(
                err,
                PidError::Held {
                    pid: Some(4242),
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("pid 4242"));
        // The failed attempt did not wipe the record.
        assert_eq!(inspect(&path), Some(info()));
        drop(lock);
        assert!(!path.exists());
        assert_eq!(inspect(&path), None);
        acquire(&path).unwrap();
    }

    #[test]
    fn a_stale_file_is_not_a_running_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("steward.pid");
        std::fs::write(&path, serde_json::to_string(&info()).unwrap()).unwrap();
        assert_eq!(inspect(&path), None);
        let mut lock = acquire(&path).unwrap();
        lock.record(&info()).unwrap();
    }
}
