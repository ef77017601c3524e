//! The console bridge: the owner at this machine (`steward say`, the HTTP API,
//! tests). What it "sends" is appended to `<home>/console/outbox.jsonl`; that
//! file is both the delivery and its outbound ledger.

use std::path::Path;

use super::ledger::Ledger;
use super::{BridgeError, Capabilities, Channel, Health};
use crate::pipeline::{ConfirmedSend, OwnerSend};
use crate::types::StepKey;

pub use super::ledger::{Delivery, read as read_outbox};

pub const CHANNEL: &str = "console";

#[derive(Debug, Clone)]
pub struct ConsoleBridge {
    outbox: Ledger,
}

impl ConsoleBridge {
    pub fn new(home: &Path) -> Self {
        ConsoleBridge {
            outbox: Ledger::new(home.join("console").join("outbox.jsonl")),
        }
    }

    pub fn outbox_path(&self) -> &Path {
        self.outbox.path()
    }

    async fn append(
        &self,
        key: &StepKey,
        audience: &'static str,
        to: String,
        text: String,
    ) -> Result<String, BridgeError> {
        let ledger = self.outbox.clone();
        let key = key.to_string();
        tokio::task::spawn_blocking(move || ledger.append(&key, audience, &to, &text).map(|()| key))
            .await
            .map_err(|e| super::delivery_error(CHANNEL, e))?
            .map_err(|e| super::delivery_error(CHANNEL, e))
    }
}

impl Channel for ConsoleBridge {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            contact_sends: true,
            owner_sends: true,
        }
    }

    fn health(&self) -> Health {
        Health {
            channel: CHANNEL,
            up: true,
            detail: String::new(),
        }
    }

    async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        self.append(
            key,
            "contact",
            send.to().to_string(),
            send.text().to_string(),
        )
        .await
    }

    async fn send_owner(&self, key: &StepKey, send: &OwnerSend) -> Result<String, BridgeError> {
        self.append(key, "owner", "owner".to_string(), send.text().to_string())
            .await
    }

    async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        super::ledger_lookup(&self.outbox, CHANNEL, key).await
    }
}
