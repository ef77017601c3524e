//! The linked device's send side (`Bridge::WhatsappLinked`): confirmed
//! replies to contacts and messages to the owner's own "Message yourself"
//! chat, only through the pipeline's send values. `<home>/whatsapp/linked-sent.jsonl`
//! is the ledger: an intent before the session is asked, the delivery with
//! WhatsApp's message id after (receipts add `delivered`/`read` lines). WhatsApp
//! cannot be asked later what was sent, so an intent without its delivery is
//! `Uncertain` and never sent again on its own. Contact sends wait a human
//! typing time with "typing…" showing, and at most `maxSendsPerHour` go out
//! in any hour (counted from the ledger, so a restart does not reset it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::CHANNEL;
use super::ingest::send_jid;
use super::session::{Session, SessionError};
use super::state;
use crate::bridges::ledger::{self, Delivery, Ledger, State};
use crate::bridges::{BridgeError, Capabilities, Channel, Health};
use crate::config::WhatsappLinkedConfig;
use crate::fault::Fault;
use crate::pipeline::{ConfirmedSend, OwnerSend};
use crate::types::StepKey;

/// The ledger of the linked mode (the Cloud API's is `sent.jsonl`).
pub fn ledger(home: &Path) -> Ledger {
    Ledger::new(state::dir(home).join("linked-sent.jsonl"))
}

#[derive(Clone)]
pub struct WhatsappLinked {
    session: Arc<dyn Session>,
    home: PathBuf,
    ledger: Ledger,
    pacing: bool,
    max_per_hour: u32,
    fault: Fault,
}

impl std::fmt::Debug for WhatsappLinked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappLinked")
            .field("home", &self.home)
            .field("pacing", &self.pacing)
            .field("max_per_hour", &self.max_per_hour)
            .finish_non_exhaustive()
    }
}

fn failed(detail: impl std::fmt::Display) -> BridgeError {
    crate::bridges::delivery_error(CHANNEL, detail)
}

fn uncertain(detail: String) -> BridgeError {
    BridgeError::Uncertain {
        channel: CHANNEL.to_string(),
        detail,
    }
}

impl WhatsappLinked {
    pub fn new(
        config: &WhatsappLinkedConfig,
        home: &Path,
        session: Arc<dyn Session>,
    ) -> WhatsappLinked {
        WhatsappLinked {
            session,
            home: home.to_path_buf(),
            ledger: ledger(home),
            pacing: config.pacing,
            max_per_hour: config.max_sends_per_hour,
            fault: Fault::from_env(),
        }
    }

    /// The outbound ledger (statuses land on its lines).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The session, for the reader (one session per process).
    pub fn session(&self) -> Arc<dyn Session> {
        self.session.clone()
    }

    async fn write(&self, line: &Delivery) -> Result<(), BridgeError> {
        let (ledger, line) = (self.ledger.clone(), line.clone());
        tokio::task::spawn_blocking(move || ledger.write(&line))
            .await
            .map_err(failed)?
            .map_err(failed)
    }

    /// Contact sends begun in the last hour, from the ledger.
    async fn sends_last_hour(&self) -> Result<u32, BridgeError> {
        let path = self.ledger.path().to_path_buf();
        let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        tokio::task::spawn_blocking(move || {
            let n = ledger::read(&path)?
                .iter()
                .filter(|d| d.audience == "contact" && d.state == State::Intended)
                .filter(|d| d.at.parse::<jiff::Timestamp>().is_ok_and(|t| t >= since))
                .count();
            Ok::<_, std::io::Error>(u32::try_from(n).unwrap_or(u32::MAX))
        })
        .await
        .map_err(failed)?
        .map_err(failed)
    }

    /// The intent, the send, the delivery (crash point `whatsapp.linked.sent.<audience>`
    /// between the last two).
    async fn deliver(
        &self,
        key: &StepKey,
        audience: &str,
        to: &str,
        text: &str,
    ) -> Result<String, BridgeError> {
        let st = state::load(&self.home);
        if !st.status.usable() {
            return Err(failed(SessionError::NotLinked));
        }
        let jid = send_jid(to)
            .ok_or_else(|| failed(format!("{to:?} is not a WhatsApp number or chat")))?
            .to_string();
        let mut line = Delivery::new(&key.to_string(), audience, to, text);
        line.state = State::Intended;
        self.write(&line).await?;
        let id = match self.session.send_text(&jid, text).await {
            Ok(id) => id,
            Err(SessionError::Uncertain(e)) => {
                return Err(uncertain(format!(
                    "the message may or may not have gone out ({e}); it was not sent again"
                )));
            }
            Err(e) => return Err(failed(format!("the message was not sent: {e}"))),
        };
        self.fault
            .point(&format!("whatsapp.linked.sent.{audience}"));
        line.state = State::Delivered;
        line.id = Some(id.clone());
        // WhatsApp's single tick; receipts move it to `delivered` and `read`.
        line.status = Some("sent".into());
        self.write(&line).await?;
        Ok(id)
    }
}

impl Channel for WhatsappLinked {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            contact_sends: true,
            owner_sends: true,
        }
    }

    /// Up while the session is linked (from the state file; no network).
    fn health(&self) -> Health {
        let st = state::load(&self.home);
        let detail = match st.status {
            state::Status::Linked => String::new(),
            state::Status::Unlinked => "not linked: run `steward whatsapp link`".into(),
            s => format!(
                "{} ({}): run `steward whatsapp link`",
                s.as_str(),
                st.ended.as_deref().unwrap_or("ended by WhatsApp")
            ),
        };
        Health {
            channel: CHANNEL,
            up: st.status.usable(),
            detail,
        }
    }

    async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        let sent = self.sends_last_hour().await?;
        if sent >= self.max_per_hour {
            return Err(failed(format!(
                "{sent} messages to contacts went out in the last hour, the cap (bridges.whatsapp.maxSendsPerHour: {}); bursts get numbers banned, so this one was not sent: send it later",
                self.max_per_hour
            )));
        }
        if self.pacing
            && let Some(jid) = send_jid(send.to())
        {
            let jid = jid.to_string();
            let _ = self.session.typing(&jid, true).await;
            tokio::time::sleep(crate::bridges::imessage::outbound::typing_time(send.text())).await;
            let _ = self.session.typing(&jid, false).await;
        }
        self.deliver(key, "contact", send.to(), send.text()).await
    }

    /// To the owner's "Message yourself" chat (their own number).
    async fn send_owner(&self, key: &StepKey, send: &OwnerSend) -> Result<String, BridgeError> {
        let number = state::load(&self.home)
            .number
            .ok_or_else(|| failed(SessionError::NotLinked))?;
        self.deliver(key, "owner", &number, send.text()).await
    }

    /// Delivered: WhatsApp's message id. An intent alone is uncertain.
    async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        let (ledger, k) = (self.ledger.clone(), key.to_string());
        let found = tokio::task::spawn_blocking(move || ledger.lookup(&k))
            .await
            .map_err(failed)?
            .map_err(failed)?;
        match found {
            None => Ok(None),
            Some(line) if line.state == State::Delivered => Ok(Some(line.id.unwrap_or(line.key))),
            Some(line) => Err(uncertain(format!(
                "the message to {} was being sent when Steward stopped; WhatsApp cannot be asked whether it arrived, so it was not sent again",
                if line.audience == "owner" {
                    "you".to_string()
                } else {
                    line.to
                }
            ))),
        }
    }
}
