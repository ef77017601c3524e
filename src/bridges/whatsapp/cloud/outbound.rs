//! The Cloud API bridge's send side: a confirmed reply goes to the contact's
//! number through the Graph API, and `<home>/whatsapp/sent.jsonl` is the
//! outbound ledger (intent → send → delivered with the wamid; statuses from
//! the webhook are appended to it).
//!
//! The 24-hour rule: WhatsApp delivers free text to a person only within 24
//! hours of their last message to the business number; outside it only an
//! approved template may open the conversation. The bridge checks the last
//! message memory has from that chat and refuses with the reason, before the
//! intent is written, so nothing is attempted.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::graph::{Graph, GraphError};
use crate::bridges::ledger::{Delivery, Ledger, State};
use crate::bridges::whatsapp::CHANNEL;
use crate::bridges::{BridgeError, Capabilities, Channel, Health};
use crate::config::{SecretRef, WhatsappConfig};
use crate::fault::Fault;
use crate::pipeline::{ConfirmedSend, OwnerSend};
use crate::store::Store;
use crate::types::StepKey;

/// The customer-service window.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct WhatsappCloud {
    graph: Graph,
    token: Arc<SecretRef>,
    store: Store,
    ledger: Ledger,
    fault: Fault,
}

fn failed(detail: impl std::fmt::Display) -> BridgeError {
    crate::bridges::delivery_error(CHANNEL, detail)
}

impl From<GraphError> for BridgeError {
    fn from(e: GraphError) -> Self {
        match e {
            GraphError::Uncertain { .. } => BridgeError::Uncertain {
                channel: CHANNEL.to_string(),
                detail: format!("{e}; it was not sent again"),
            },
            other => failed(other),
        }
    }
}

/// The ledger of the WhatsApp bridge under `home`.
pub fn ledger(home: &Path) -> Ledger {
    Ledger::new(home.join("whatsapp").join("sent.jsonl"))
}

/// When the contact in chat `chat` (`+15125551234`) last wrote, if ever.
pub fn last_inbound(conn: &Connection, chat: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MAX(m.at_ms) FROM messages m JOIN chats c ON c.id = m.chat_id
         WHERE c.channel = ?1 AND c.external_id = ?2 AND m.direction = 'in'",
        [CHANNEL, chat],
        |r| r.get::<_, Option<i64>>(0),
    )
    .optional()
    .map(Option::flatten)
}

impl WhatsappCloud {
    /// The outbound ledger (status webhooks land on its lines).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn new(config: &WhatsappConfig, home: &Path, store: Store) -> WhatsappCloud {
        WhatsappCloud {
            graph: Graph::new(
                &config.api_url,
                &config.api_version,
                &config.phone_number_id,
            ),
            token: Arc::new(config.token.clone()),
            store,
            ledger: ledger(home),
            fault: Fault::from_env(),
        }
    }

    /// Refuse a free-text send outside the 24-hour window, with the reason.
    async fn window(&self, chat: &str) -> Result<(), BridgeError> {
        let c = chat.to_string();
        let last = self
            .store
            .read(move |conn| Ok(last_inbound(conn, &c)?))
            .await
            .map_err(failed)?;
        let now = jiff::Timestamp::now().as_millisecond();
        match last {
            Some(at) if now - at < WINDOW_MS => Ok(()),
            Some(at) => Err(failed(format!(
                "{chat} last wrote {} hours ago; WhatsApp delivers free text only within 24 hours of the contact's last message (outside it a template message is needed), so nothing was sent",
                (now - at) / 3_600_000
            ))),
            None => Err(failed(format!(
                "{chat} has never written to this WhatsApp number; free text may only answer a message from the last 24 hours (a template message is needed to write first), so nothing was sent"
            ))),
        }
    }

    async fn write(&self, line: &Delivery) -> Result<(), BridgeError> {
        let (ledger, line) = (self.ledger.clone(), line.clone());
        tokio::task::spawn_blocking(move || ledger.write(&line))
            .await
            .map_err(failed)?
            .map_err(failed)
    }
}

/// `+15125551234` (a chat) → `15125551234` (what the Graph API takes).
fn digits(chat: &str) -> Result<String, BridgeError> {
    let d: String = chat.chars().filter(char::is_ascii_digit).collect();
    if d.len() < 7 || !chat.trim_start().starts_with('+') {
        return Err(failed(format!(
            "{chat:?} is not a WhatsApp number chat (+ and the international number)"
        )));
    }
    Ok(d)
}

impl Channel for WhatsappCloud {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    /// The Cloud API sends from a business number and may write to the
    /// owner's own number only inside a 24-hour window: not an owner channel.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            contact_sends: true,
            owner_sends: false,
        }
    }

    fn health(&self) -> Health {
        match self.token.resolve() {
            Ok(_) => Health {
                channel: CHANNEL,
                up: true,
                detail: String::new(),
            },
            Err(e) => Health {
                channel: CHANNEL,
                up: false,
                detail: format!("{e}; {}", self.token.fix("bridges.whatsapp.token")),
            },
        }
    }

    async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        let to = digits(send.to())?;
        self.window(send.to()).await?;
        let token = self
            .token
            .resolve()
            .map_err(|e| failed(format!("{e}; {}", self.token.fix("bridges.whatsapp.token"))))?;
        let key = key.to_string();
        let mut line = Delivery::new(&key, "contact", send.to(), send.text());
        line.state = State::Intended;
        self.write(&line).await?;
        let wamid = self
            .graph
            .send_text(token.expose(), &to, send.text(), &key)
            .await?;
        self.fault.point("whatsapp.accepted");
        line.state = State::Delivered;
        line.id = Some(wamid.clone());
        line.status = Some("accepted".into());
        self.write(&line).await?;
        Ok(wamid)
    }

    async fn send_owner(&self, _key: &StepKey, _send: &OwnerSend) -> Result<String, BridgeError> {
        Err(failed(
            "the WhatsApp Cloud API does not carry the owner's own messages; list another channel first in owner.channels",
        ))
    }

    /// Delivered: the wamid. Intended only: a status webhook naming the key
    /// would have settled it; without one the send is uncertain.
    async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        let (ledger, k) = (self.ledger.clone(), key.to_string());
        let found = tokio::task::spawn_blocking(move || ledger.lookup(&k))
            .await
            .map_err(failed)?
            .map_err(failed)?;
        match found {
            None => Ok(None),
            Some(line) if line.state == State::Delivered => Ok(Some(line.id.unwrap_or(line.key))),
            Some(line) => Err(BridgeError::Uncertain {
                channel: CHANNEL.to_string(),
                detail: format!(
                    "the WhatsApp reply to {} was being sent when Steward stopped and no status came back for it; it may or may not have gone out, so it was not sent again",
                    line.to
                ),
            }),
        }
    }
}
