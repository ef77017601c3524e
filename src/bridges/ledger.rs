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

/// How far a sent message got, by the status on its ledger line: receipts
/// and status webhooks arrive out of order (an offline queue drained on
/// reconnect), and a status only ever moves forward. `failed` is not on
/// this scale: it is recorded whenever it comes.
pub fn status_rank(status: Option<&str>) -> u8 {
    match status {
        Some("read") => 3,
        Some("delivered") => 2,
        // The linked device's send, and the Graph API's acceptance and `sent`.
        Some("sent" | "accepted") => 1,
        _ => 0,
    }
}

/// How much of a ledger's end `last_sent` reads: far more than the lines
/// of the last few sends and their statuses, and a page render stays cheap
/// however long the ledger grows.
const TAIL: u64 = 64 * 1024;

/// The newest message the ledger saw go out (the last id to appear in its
/// tail) and the status its newest line gives it (WhatsApp: `sent`,
/// `delivered`, `read`). Blocking.
pub fn last_sent(path: &Path) -> std::io::Result<Option<(String, Option<String>)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let from = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    // Started mid-file: the first line is cut.
    let lines = text.lines().skip(usize::from(from > 0));
    let mut newest: Option<String> = None;
    let mut statuses: std::collections::HashMap<String, Option<String>> = Default::default();
    for d in lines.filter_map(|l| serde_json::from_str::<Delivery>(l).ok()) {
        let Some(id) = d.id else { continue };
        if !statuses.contains_key(&id) {
            newest = Some(id.clone());
        }
        statuses.insert(id, d.status);
    }
    Ok(newest.map(|id| {
        let status = statuses.remove(&id).flatten();
        (id, status)
    }))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, status: &str) -> Delivery {
        let mut d = Delivery::new("k", "contact", "+15125551234", "hi");
        d.id = Some(id.into());
        d.status = Some(status.into());
        d
    }

    #[test]
    fn last_sent_is_the_newest_send_with_its_newest_status() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path().join("sent.jsonl"));
        assert_eq!(last_sent(ledger.path()).unwrap(), None);
        ledger.write(&line("A", "sent")).unwrap();
        ledger.write(&line("B", "sent")).unwrap();
        // A receipt for the older send does not make it the newest.
        ledger.write(&line("A", "read")).unwrap();
        ledger.write(&line("B", "delivered")).unwrap();
        assert_eq!(
            last_sent(ledger.path()).unwrap(),
            Some(("B".into(), Some("delivered".into())))
        );
        // Past the tail's size only the tail is read, its cut first line skipped.
        for i in 0..2000 {
            ledger.write(&line(&format!("X{i}"), "sent")).unwrap();
        }
        ledger.write(&line("X1999", "read")).unwrap();
        assert_eq!(
            last_sent(ledger.path()).unwrap(),
            Some(("X1999".into(), Some("read".into())))
        );
    }
}
