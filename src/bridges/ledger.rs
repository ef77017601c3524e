//! The outbound ledger a bridge keeps: one fsynced JSON line per delivery,
//! keyed by the step's idempotency key. After a crash the pipeline asks
//! `find(key)` instead of sending again. A bridge whose send cannot be looked
//! up afterwards (SMTP) also writes an `intended` line before it sends: a key
//! intended but never delivered is a send that may or may not have happened,
//! which the pipeline must not repeat on its own.

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
    /// Lines written before `intended` existed are deliveries.
    #[serde(default, skip_serializing_if = "State::is_delivered")]
    pub state: State,
    /// What the server knows the message by (an email's Message-ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Which of the owner's accounts it went out through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// What the channel reported since (WhatsApp: `sent`, `delivered`, `read`, `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Delivery {
    /// A delivered line, stamped now.
    pub fn new(key: &str, audience: &str, to: &str, text: &str) -> Delivery {
        Delivery {
            key: key.to_string(),
            audience: audience.to_string(),
            to: to.to_string(),
            text: text.to_string(),
            at: jiff::Timestamp::now().to_string(),
            state: State::Delivered,
            id: None,
            via: None,
            status: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// About to be handed to the server.
    Intended,
    /// The server accepted it.
    #[default]
    Delivered,
}

impl State {
    fn is_delivered(&self) -> bool {
        *self == State::Delivered
    }
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
        self.write(&Delivery::new(key, audience, to, text))
    }

    /// Append one line (a delivery, or with `State::Intended` a send about to
    /// happen) and fsync it. Blocking.
    pub fn write(&self, d: &Delivery) -> std::io::Result<()> {
        let line = serde_json::to_string(d)?;
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
        Ok(self.lookup(key)?.filter(|d| d.state == State::Delivered))
    }

    /// The newest line whose delivery id is `id` (a status names the message by it). Blocking.
    pub fn by_id(&self, id: &str) -> std::io::Result<Option<Delivery>> {
        Ok(read(&self.path)?
            .into_iter()
            .rev()
            .find(|d| d.id.as_deref() == Some(id)))
    }

    /// What the ledger knows of `key`: delivered if any line says so, else
    /// the intent if one was written. Blocking.
    pub fn lookup(&self, key: &str) -> std::io::Result<Option<Delivery>> {
        let mut found = None;
        for d in read(&self.path)?.into_iter().filter(|d| d.key == key) {
            if d.state == State::Delivered {
                return Ok(Some(d));
            }
            found = Some(d);
        }
        Ok(found)
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
