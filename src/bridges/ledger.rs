//! The outbound ledger a bridge keeps: one fsynced JSON line per delivery,
//! keyed by the step's idempotency key. After a crash the pipeline asks
//! `find(key)` instead of sending again.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// One line of a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub key: String,
    pub audience: String,
    pub to: String,
    pub text: String,
    pub at: String,
}

#[derive(Debug, Clone)]
pub struct Ledger {
    path: Arc<PathBuf>,
    // Appends from concurrent steps must not interleave.
    lock: Arc<Mutex<()>>,
}

impl Ledger {
    pub fn new(path: PathBuf) -> Ledger {
        Ledger {
            path: Arc::new(path),
            lock: Arc::new(Mutex::new(())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one delivery and fsync it. Blocking.
    pub fn append(&self, key: &str, audience: &str, to: &str, text: &str) -> std::io::Result<()> {
        let line = serde_json::to_string(&Delivery {
            key: key.to_string(),
            audience: audience.to_string(),
            to: to.to_string(),
            text: text.to_string(),
            at: jiff::Timestamp::now().to_string(),
        })?;
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.path.parent() {
            crate::home::ensure_private_dir(dir).map_err(std::io::Error::other)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*self.path)?;
        // One write of the whole line, then fsync.
        file.write_all(format!("{line}\n").as_bytes())?;
        file.sync_data()
    }

    /// Whether `key` was delivered. Blocking.
    pub fn find(&self, key: &str) -> std::io::Result<Option<Delivery>> {
        Ok(read(&self.path)?.into_iter().find(|d| d.key == key))
    }
}

/// Every delivery in a ledger; a torn last line (a crash mid-write) is ignored.
pub fn read(path: &Path) -> std::io::Result<Vec<Delivery>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect())
}
