//! The iMessage bridge's send side for the pipeline: AppleScript delivery plus
//! the outbound ledger `<home>/imessage/sent.jsonl`.

use std::path::Path;

use super::send::{SendError, Sender, Target};
use crate::bridges::ledger::Ledger;
use crate::bridges::{BridgeError, Capabilities, Channel, Health};
use crate::memory::handle::Deferred;
use crate::pipeline::{ConfirmedSend, OwnerSend};
use crate::types::StepKey;

pub const CHANNEL: &str = "imessage";

#[derive(Debug, Clone)]
pub struct ImessageOutbound {
    sender: Sender,
    ledger: Ledger,
    /// The owner's self-chat (their own handle), for owner messages.
    self_chat: Option<Deferred>,
    /// Wait a typing time before each contact send.
    pacing: bool,
}

/// A person's typing time for `text`: ~410 ms a word plus 8 ms a character,
/// 1-10 s (the reference's pacing, with the bounds).
pub fn typing_time(text: &str) -> std::time::Duration {
    let words = text.split_whitespace().count() as u64;
    let chars = text.chars().count() as u64;
    std::time::Duration::from_millis((words * 410 + chars * 8).clamp(1000, 10_000))
}

impl ImessageOutbound {
    pub fn new(
        osascript: &Path,
        home: &Path,
        self_chat: Option<Deferred>,
    ) -> Result<Self, SendError> {
        Ok(ImessageOutbound {
            sender: Sender::new(osascript, home)?,
            ledger: Ledger::new(home.join("imessage").join("sent.jsonl")),
            self_chat,
            pacing: false,
        })
    }

    /// Pace contact sends like a person typing (`bridges.imessage.pacing`).
    pub fn with_pacing(mut self, on: bool) -> Self {
        self.pacing = on;
        self
    }

    async fn deliver(
        &self,
        key: &StepKey,
        audience: &'static str,
        to: String,
        text: String,
    ) -> Result<String, BridgeError> {
        let (sender, ledger, key) = (self.sender.clone(), self.ledger.clone(), key.to_string());
        tokio::task::spawn_blocking(move || {
            sender
                .send(&text, &Target::parse(&to))
                .map_err(|e| match e {
                    // Messages may have sent it before osascript was cut off.
                    SendError::Timeout(_) => BridgeError::Uncertain {
                        channel: CHANNEL.to_string(),
                        detail: e.to_string(),
                    },
                    e => crate::bridges::delivery_error(CHANNEL, e),
                })?;
            // Recorded right after Messages accepted it; a crash in between is the
            // one window the ledger cannot close (osascript returns no message id).
            ledger
                .append(&key, audience, &to, &text)
                .map_err(|e| crate::bridges::delivery_error(CHANNEL, e))?;
            Ok(key)
        })
        .await
        .map_err(|e| crate::bridges::delivery_error(CHANNEL, e))?
    }
}

impl Channel for ImessageOutbound {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            contact_sends: true,
            owner_sends: self.self_chat.is_some(),
        }
    }

    fn health(&self) -> Health {
        let detail = if self.self_chat.is_none() {
            "no self-chat is known: set owner.handles so Steward can write to you in Messages"
                .into()
        } else {
            String::new()
        };
        Health {
            channel: CHANNEL,
            up: true,
            detail,
        }
    }

    async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        if self.pacing {
            tokio::time::sleep(typing_time(send.text())).await;
        }
        self.deliver(
            key,
            "contact",
            send.to().to_string(),
            send.text().to_string(),
        )
        .await
    }

    async fn send_owner(&self, key: &StepKey, send: &OwnerSend) -> Result<String, BridgeError> {
        let to = self.self_chat.as_ref().ok_or_else(|| {
            crate::bridges::delivery_error(CHANNEL, "no self-chat is known yet; set owner.handles")
        })?;
        let to = to.get().to_string();
        self.deliver(key, "owner", to, send.text().to_string())
            .await
    }

    async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        crate::bridges::ledger_lookup(&self.ledger, CHANNEL, key).await
    }
}
