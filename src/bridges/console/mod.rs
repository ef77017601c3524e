//! The console bridge: the owner at this machine (`steward say`, the HTTP API,
//! tests). What it "sends" is appended, one JSON line per delivery, to
//! `<home>/console/outbox.jsonl`; that file is also its outbound ledger.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::BridgeError;
use crate::pipeline::{ConfirmedSend, OwnerSend, StepKey};

pub const CHANNEL: &str = "console";

#[derive(Debug, Clone)]
pub struct ConsoleBridge {
    outbox: Arc<PathBuf>,
    // Appends from concurrent steps must not interleave.
    lock: Arc<std::sync::Mutex<()>>,
}

/// One line of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub key: String,
    pub audience: String,
    pub to: String,
    pub text: String,
    pub at: String,
}

impl ConsoleBridge {
    pub fn new(home: &Path) -> Self {
        ConsoleBridge {
            outbox: Arc::new(home.join("console").join("outbox.jsonl")),
            lock: Arc::new(std::sync::Mutex::new(())),
        }
    }

    pub fn outbox_path(&self) -> &Path {
        &self.outbox
    }

    fn err(detail: impl std::fmt::Display) -> BridgeError {
        BridgeError::Delivery {
            channel: CHANNEL.to_string(),
            detail: detail.to_string(),
        }
    }

    async fn append(
        &self,
        key: &StepKey,
        audience: &str,
        to: &str,
        text: &str,
    ) -> Result<String, BridgeError> {
        let line = serde_json::to_string(&Delivery {
            key: key.to_string(),
            audience: audience.to_string(),
            to: to.to_string(),
            text: text.to_string(),
            at: jiff::Timestamp::now().to_string(),
        })
        .map_err(Self::err)?;
        let path = Arc::clone(&self.outbox);
        let lock = Arc::clone(&self.lock);
        let id = key.to_string();
        tokio::task::spawn_blocking(move || {
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(dir) = path.parent() {
                crate::home::ensure_private_dir(dir).map_err(Self::err)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&*path)
                .map_err(Self::err)?;
            // One write of the whole line, then fsync: the line is the delivery.
            file.write_all(format!("{line}\n").as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(Self::err)?;
            Ok(id)
        })
        .await
        .map_err(Self::err)?
    }

    pub async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        self.append(key, "contact", send.to(), send.text()).await
    }

    pub async fn send_owner(&self, key: &StepKey, send: &OwnerSend) -> Result<String, BridgeError> {
        self.append(key, "owner", "owner", send.text()).await
    }

    pub async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        let wanted = key.to_string();
        let path = Arc::clone(&self.outbox);
        tokio::task::spawn_blocking(move || {
            Ok(read_outbox(&path)
                .map_err(Self::err)?
                .into_iter()
                .find(|d| d.key == wanted)
                .map(|d| d.key))
        })
        .await
        .map_err(Self::err)?
    }
}

/// Every delivery in the outbox; a torn last line (a crash mid-write) is ignored.
pub fn read_outbox(path: &Path) -> std::io::Result<Vec<Delivery>> {
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
