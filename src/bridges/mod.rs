//! Bridges: the channels Steward speaks through, registered in one closed enum.
//!
//! A bridge's sends take [`ConfirmedSend`] (contacts; only the confirmation gate
//! makes one) or [`OwnerSend`] (the owner's own chat; only the pipeline makes
//! one), each with the step's idempotency key, and every bridge keeps an
//! outbound ledger so the pipeline can ask, after a crash, whether a key was
//! already delivered instead of sending again (`ledger.rs`). Each channel
//! implements [`Channel`]; [`Bridge`] is the closed enum the pipeline holds;
//! `factory` builds the configured set and starts the readers, which publish
//! new messages on the daemon's bus.

pub mod console;
pub mod email;
pub mod factory;
pub mod imessage;
pub mod ledger;
pub mod telegram;
pub mod whatsapp;

use std::future::Future;

use serde::Serialize;

use crate::pipeline::{ConfirmedSend, OwnerSend};
use crate::types::StepKey;

pub use factory::build;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("no bridge serves channel {0:?}")]
    NoChannel(String),
    /// Certainly not delivered: the send may be tried again.
    #[error("the {channel} bridge failed to deliver: {detail}")]
    Delivery { channel: String, detail: String },
    /// May or may not have been delivered (a timeout, a line dropped mid-send,
    /// a crash with only the intent on record): never retried on its own.
    #[error("the {channel} send is uncertain: {detail}")]
    Uncertain { channel: String, detail: String },
}

impl BridgeError {
    /// Whether the message may have reached its recipient.
    pub fn is_uncertain(&self) -> bool {
        matches!(self, BridgeError::Uncertain { .. })
    }
}

/// What a channel can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Confirmed replies to contacts.
    pub contact_sends: bool,
    /// Messages to the owner (the owner's own chat): it can be an owner channel.
    pub owner_sends: bool,
}

/// A channel's health as `status` and the factory see it (cheap: no network;
/// `doctor` does the round trips).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub channel: &'static str,
    pub up: bool,
    /// What is wrong, with the fix; empty when up.
    pub detail: String,
}

/// The contract every channel's send side keeps (the checklist for a new
/// channel is in ARCHITECTURE.md). Sends carry the step's key; a bridge
/// records each delivery in its outbound ledger so `delivered` can answer
/// after a crash, and reports a send it cannot be sure of as `Uncertain`.
pub trait Channel {
    fn channel(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    /// A confirmed reply to a contact; the delivery id.
    fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> impl Future<Output = Result<String, BridgeError>> + Send;
    /// A message to the owner's own chat; the delivery id.
    fn send_owner(
        &self,
        key: &StepKey,
        send: &OwnerSend,
    ) -> impl Future<Output = Result<String, BridgeError>> + Send;
    /// The delivery id if `key` was already delivered (the outbound ledger).
    fn delivered(
        &self,
        key: &StepKey,
    ) -> impl Future<Output = Result<Option<String>, BridgeError>> + Send;
    fn health(&self) -> Health;
}

/// Every bridge that can send. A closed set: adding one is a variant here
/// and an arm in each method below.
#[derive(Debug, Clone)]
pub enum Bridge {
    Console(console::ConsoleBridge),
    Imessage(imessage::outbound::ImessageOutbound),
    Email(email::outbound::EmailOutbound),
    Whatsapp(whatsapp::cloud::outbound::WhatsappCloud),
    /// The owner's own number as a linked device (`bridges.whatsapp.mode: linked`).
    #[cfg(feature = "whatsapp-web")]
    WhatsappLinked(whatsapp::linked::outbound::WhatsappLinked),
    Telegram(telegram::outbound::TelegramOutbound),
}

macro_rules! each {
    ($self:expr, $b:ident => $e:expr) => {
        match $self {
            Bridge::Console($b) => $e,
            Bridge::Imessage($b) => $e,
            Bridge::Email($b) => $e,
            Bridge::Whatsapp($b) => $e,
            #[cfg(feature = "whatsapp-web")]
            Bridge::WhatsappLinked($b) => $e,
            Bridge::Telegram($b) => $e,
        }
    };
}

impl Bridge {
    pub fn channel(&self) -> &'static str {
        each!(self, b => b.channel())
    }

    pub fn capabilities(&self) -> Capabilities {
        each!(self, b => b.capabilities())
    }

    pub fn health(&self) -> Health {
        each!(self, b => b.health())
    }

    pub async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        each!(self, b => b.send_contact(key, send).await)
    }

    pub async fn send_owner(&self, key: &StepKey, send: &OwnerSend) -> Result<String, BridgeError> {
        each!(self, b => b.send_owner(key, send).await)
    }

    /// The delivery id if `key` was already delivered (the outbound ledger).
    pub async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        each!(self, b => b.delivered(key).await)
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

    pub fn health(&self) -> Vec<Health> {
        self.list.iter().map(Bridge::health).collect()
    }

    /// The ledger of `channel` when its lines carry the platform's own
    /// delivery statuses (WhatsApp's receipts and status webhooks).
    pub fn status_ledger(&self, channel: &str) -> Option<ledger::Ledger> {
        self.list.iter().find_map(|b| match b {
            Bridge::Whatsapp(w) if b.channel() == channel => Some(w.ledger().clone()),
            #[cfg(feature = "whatsapp-web")]
            Bridge::WhatsappLinked(w) if b.channel() == channel => Some(w.ledger().clone()),
            _ => None,
        })
    }

    /// The linked WhatsApp session, when that bridge is built (its reader shares it).
    #[cfg(feature = "whatsapp-web")]
    pub fn whatsapp_session(
        &self,
    ) -> Option<std::sync::Arc<dyn whatsapp::linked::session::Session>> {
        self.list.iter().find_map(|b| match b {
            Bridge::WhatsappLinked(w) => Some(w.session()),
            _ => None,
        })
    }
}

/// The bridge that sends to a contact whose chat is on `channel`, among the
/// `available` ones: the channel itself, or iMessage for an SMS or RCS chat
/// (Messages sends those too). `None`: nothing here can reach that chat.
pub fn sending_channel(available: &[&'static str], channel: &str) -> Option<&'static str> {
    let on = |c: &str| available.iter().copied().find(|a| *a == c);
    on(channel).or_else(|| {
        matches!(channel, "sms" | "rcs")
            .then(|| on("imessage"))
            .flatten()
    })
}
