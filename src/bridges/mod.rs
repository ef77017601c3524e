//! Bridges: the channels Steward speaks through, registered in one closed enum.
//!
//! A bridge's sends take [`ConfirmedSend`] (contacts; only the confirmation gate
//! makes one) or [`OwnerSend`] (the owner's own chat; only the pipeline makes
//! one), each with the step's idempotency key, and every bridge keeps an
//! outbound ledger so the pipeline can ask, after a crash, whether a key was
//! already delivered instead of sending again (`ledger.rs`). Inbound is per
//! bridge for now (the iMessage live reader publishes on the daemon's bus).

pub mod console;
pub mod email;
pub mod imessage;
pub mod ledger;

use crate::pipeline::{ConfirmedSend, OwnerSend};
use crate::types::StepKey;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("no bridge serves channel {0:?}")]
    NoChannel(String),
    #[error("the {channel} bridge failed to deliver: {detail}")]
    Delivery { channel: String, detail: String },
}

/// Every bridge that can send. A closed set: adding one is a variant here.
#[derive(Debug, Clone)]
pub enum Bridge {
    Console(console::ConsoleBridge),
    Imessage(imessage::outbound::ImessageOutbound),
}

impl Bridge {
    pub fn channel(&self) -> &'static str {
        match self {
            Bridge::Console(_) => console::CHANNEL,
            Bridge::Imessage(_) => imessage::outbound::CHANNEL,
        }
    }

    pub async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        match self {
            Bridge::Console(b) => b.send_contact(key, send).await,
            Bridge::Imessage(b) => b.send_contact(key, send).await,
        }
    }

    pub async fn send_owner(&self, key: &StepKey, send: &OwnerSend) -> Result<String, BridgeError> {
        match self {
            Bridge::Console(b) => b.send_owner(key, send).await,
            Bridge::Imessage(b) => b.send_owner(key, send).await,
        }
    }

    /// The delivery id if `key` was already delivered (the outbound ledger).
    pub async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        match self {
            Bridge::Console(b) => b.delivered(key).await,
            Bridge::Imessage(b) => b.delivered(key).await,
        }
    }
}

pub(crate) fn delivery_error(channel: &str, detail: impl std::fmt::Display) -> BridgeError {
    BridgeError::Delivery {
        channel: channel.to_string(),
        detail: detail.to_string(),
    }
}

/// Look `key` up in a ledger off the async runtime.
pub(crate) async fn ledger_lookup(
    ledger: &ledger::Ledger,
    channel: &str,
    key: &StepKey,
) -> Result<Option<String>, BridgeError> {
    let (ledger, key) = (ledger.clone(), key.to_string());
    tokio::task::spawn_blocking(move || ledger.find(&key).map(|d| d.map(|d| d.key)))
        .await
        .map_err(|e| delivery_error(channel, e))?
        .map_err(|e| delivery_error(channel, e))
}

/// The bridges this process runs, by channel.
#[derive(Debug, Clone, Default)]
pub struct Bridges {
    list: Vec<Bridge>,
}

impl Bridges {
    pub fn new(list: Vec<Bridge>) -> Self {
        Bridges { list }
    }

    pub fn get(&self, channel: &str) -> Result<&Bridge, BridgeError> {
        self.list
            .iter()
            .find(|b| b.channel() == channel)
            .ok_or_else(|| BridgeError::NoChannel(channel.to_string()))
    }

    pub fn has(&self, channel: &str) -> bool {
        self.get(channel).is_ok()
    }

    pub fn channels(&self) -> Vec<&'static str> {
        self.list.iter().map(Bridge::channel).collect()
    }
}
