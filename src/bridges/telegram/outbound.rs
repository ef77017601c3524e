//! The Telegram bridge's send side: confirmed replies to contacts, and the
//! owner's console (a draft's question with Send / Edit / Drop buttons, the
//! outcome edited into that question). `<home>/telegram/sent.jsonl` is the
//! ledger: an intent before the first request, a line per piece sent (a text
//! over 4,096 characters goes as several), the delivery after the last. The
//! Bot API cannot be asked later what was sent, so an intent without its
//! delivery is `Uncertain` and never sent again on its own.

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::CHANNEL;
use super::api::{self, Api};
use super::split::{LIMIT, split};
use crate::bridges::ledger::{Delivery, Ledger, State};
use crate::bridges::{BridgeError, Capabilities, Channel, Health};
use crate::config::TelegramConfig;
use crate::fault::Fault;
use crate::pipeline::{ConfirmedSend, OwnerSend};
use crate::store::Store;
use crate::types::{Regarding, StepKey};

#[derive(Debug, Clone)]
pub struct TelegramOutbound {
    /// `Err`: why the bot cannot be used (the token does not resolve).
    api: Result<Api, String>,
    owner_chat: i64,
    store: Store,
    ledger: Ledger,
    pacing: bool,
    fault: Fault,
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

/// A failed request, sorted: it may have reached Telegram, or certainly not.
fn request_error(e: &teloxide_core::RequestError, what: &str) -> BridgeError {
    if api::uncertain(e) {
        uncertain(format!(
            "{what} may or may not have gone out ({e}); it was not sent again"
        ))
    } else {
        failed(format!("{what} was not sent: {e}"))
    }
}

impl TelegramOutbound {
    pub fn new(config: &TelegramConfig, home: &Path, store: Store) -> TelegramOutbound {
        let api = config
            .token
            .resolve()
            .map_err(|e| format!("bridges.telegram.token: {e}"))
            .and_then(|t| {
                Api::new(t.expose(), &config.api_url, config.poll_seconds)
                    .map_err(|e| e.to_string())
            });
        TelegramOutbound {
            api,
            owner_chat: config.owner_user_id,
            store,
            ledger: Ledger::new(home.join("telegram").join("sent.jsonl")),
            pacing: config.pacing,
            fault: Fault::from_env(),
        }
    }

    /// The client, for the reader and the owner's buttons.
    pub fn api(&self) -> Option<&Api> {
        self.api.as_ref().ok()
    }

    fn client(&self) -> Result<&Api, BridgeError> {
        self.api.as_ref().map_err(failed)
    }

    async fn write(&self, line: &Delivery) -> Result<(), BridgeError> {
        let (ledger, line) = (self.ledger.clone(), line.clone());
        tokio::task::spawn_blocking(move || ledger.write(&line))
            .await
            .map_err(failed)?
            .map_err(failed)
    }

    /// Send `text` to `chat` in pieces, the intent and each piece on the
    /// ledger; `markup` goes on the last piece. The message ids, comma-joined.
    async fn deliver(
        &self,
        key: &StepKey,
        audience: &str,
        chat: i64,
        text: &str,
        markup: Option<teloxide_core::types::ReplyMarkup>,
    ) -> Result<(String, i32), BridgeError> {
        let api = self.client()?;
        let key = key.to_string();
        let mut line = Delivery::new(&key, audience, &chat.to_string(), text);
        line.state = State::Intended;
        self.write(&line).await?;
        let parts = split(text, LIMIT);
        let mut ids = Vec::new();
        let mut last = 0;
        for (i, part) in parts.iter().enumerate() {
            let mk = if i + 1 == parts.len() {
                markup.clone()
            } else {
                None
            };
            let sent = match api.send(chat, part, mk).await {
                Ok(m) => m,
                // Some of it went out: sending the rest again would repeat it.
                Err(e) if i > 0 => {
                    return Err(uncertain(format!(
                        "{} of {} pieces went out before Telegram failed ({e}); the rest was not sent",
                        i,
                        parts.len()
                    )));
                }
                Err(e) => return Err(request_error(&e, "the message")),
            };
            last = sent.id.0;
            ids.push(last.to_string());
            let mut piece = Delivery::new(&format!("{key}#{i}"), audience, &chat.to_string(), part);
            piece.id = Some(last.to_string());
            self.write(&piece).await?;
        }
        // `telegram.sent.contact` / `telegram.sent.owner`: every piece is out, the delivery line is not.
        self.fault.point(&format!("telegram.sent.{audience}"));
        let id = ids.join(",");
        line.state = State::Delivered;
        line.id = Some(id.clone());
        self.write(&line).await?;
        Ok((id, last))
    }

    /// The message ids of an intent whose every piece is on the ledger (the
    /// crash came after the last piece went out, before the delivery line).
    async fn every_piece(&self, intent: &Delivery) -> Result<Option<String>, BridgeError> {
        let (ledger, intent) = (self.ledger.clone(), intent.clone());
        tokio::task::spawn_blocking(move || {
            let pieces = split(&intent.text, LIMIT).len();
            let mut ids = Vec::with_capacity(pieces);
            for i in 0..pieces {
                match ledger.lookup(&format!("{}#{i}", intent.key))? {
                    Some(Delivery { id: Some(id), .. }) => ids.push(id),
                    _ => return Ok::<_, std::io::Error>(None),
                }
            }
            Ok(Some(ids.join(",")))
        })
        .await
        .map_err(failed)?
        .map_err(failed)
    }

    /// Remember the bot's question about `confirmation` (its buttons, or the
    /// reply it waits for), so a press or a reply finds the draft.
    async fn remember(&self, message: i32, kind: &'static str, confirmation: &str, text: &str) {
        let (chat, c, t) = (self.owner_chat, confirmation.to_string(), text.to_string());
        let saved = self
            .store
            .write(move |conn| {
                conn.execute(
                    "INSERT OR REPLACE INTO telegram_prompts (chat_id, message_id, kind, confirmation, text, at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![chat, message, kind, c, t, crate::owner_state::now_ms()],
                )?;
                Ok(())
            })
            .await;
        if let Err(e) = saved {
            tracing::warn!(error = %e, "the Telegram prompt was sent but not remembered; its buttons will not work");
        }
    }

    /// The outcome of a button: edited into the question it answers (its
    /// buttons go), else sent as a message of its own.
    async fn settle(
        &self,
        key: &StepKey,
        confirmation: &str,
        outcome: &str,
    ) -> Result<String, BridgeError> {
        let (chat, c) = (self.owner_chat, confirmation.to_string());
        let asked: Option<(i32, String)> = self
            .store
            .read(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT message_id, text FROM telegram_prompts
                         WHERE chat_id = ?1 AND confirmation = ?2 AND kind = 'asks'
                         ORDER BY at_ms DESC LIMIT 1",
                        params![chat, c],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?)
            })
            .await
            .map_err(failed)?;
        let Some((message, question)) = asked else {
            return Ok(self.deliver(key, "owner", chat, outcome, None).await?.0);
        };
        let mut text = format!("{question}\n\n{outcome}");
        if text.chars().count() > LIMIT {
            text = outcome.to_string();
        }
        let key_s = key.to_string();
        let mut line = Delivery::new(&key_s, "owner", &chat.to_string(), &text);
        line.state = State::Intended;
        self.write(&line).await?;
        let api = self.client()?;
        match api.edit(chat, message, &text).await {
            Ok(()) => {
                let id = format!("edit:{message}");
                line.state = State::Delivered;
                line.id = Some(id.clone());
                self.write(&line).await?;
                Ok(id)
            }
            Err(e) if api::uncertain(&e) => Err(request_error(&e, "the outcome")),
            // Too old to edit, or deleted: say it in a message of its own.
            Err(e) => {
                tracing::info!(error = %e, "could not edit the question; sending the outcome");
                Ok(self.deliver(key, "owner", chat, outcome, None).await?.0)
            }
        }
    }
}

impl Channel for TelegramOutbound {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            contact_sends: true,
            owner_sends: true,
        }
    }

    /// Up when the token resolves (doctor does the round trip with getMe).
    fn health(&self) -> Health {
        Health {
            channel: CHANNEL,
            up: self.api.is_ok(),
            detail: self.api.as_ref().err().cloned().unwrap_or_default(),
        }
    }

    async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        let chat: i64 = send.to().parse().map_err(|_| {
            failed(format!(
                "{:?} is not a chat the bot is in (only people who wrote to the bot can get its replies)",
                send.to()
            ))
        })?;
        if self.pacing {
            if let Ok(api) = self.client() {
                let _ = api.typing(chat).await;
            }
            tokio::time::sleep(crate::bridges::imessage::outbound::typing_time(send.text())).await;
        }
        Ok(self
            .deliver(key, "contact", chat, send.text(), None)
            .await?
            .0)
    }

    async fn send_owner(&self, key: &StepKey, send: &OwnerSend) -> Result<String, BridgeError> {
        let chat = self.owner_chat;
        match send.regarding() {
            None => Ok(self.deliver(key, "owner", chat, send.text(), None).await?.0),
            Some(Regarding::Asks(c)) => {
                let (id, message) = self
                    .deliver(key, "owner", chat, send.text(), Some(api::draft_buttons(c)))
                    .await?;
                self.remember(message, "asks", c, send.text()).await;
                Ok(id)
            }
            Some(Regarding::EditText(c)) => {
                let (id, message) = self
                    .deliver(key, "owner", chat, send.text(), Some(api::reply_wanted()))
                    .await?;
                self.remember(message, "edit", c, send.text()).await;
                Ok(id)
            }
            Some(Regarding::Settles(c)) => self.settle(key, c, send.text()).await,
            // A press on the list finds its draft by the button's data; its
            // outcome edits the draft's own question, or comes as a message.
            Some(Regarding::Approvals(list)) => {
                let markup = (!list.is_empty()).then(|| api::approvals_buttons(list));
                Ok(self
                    .deliver(key, "owner", chat, send.text(), markup)
                    .await?
                    .0)
            }
        }
    }

    /// Delivered: the message ids. An intent alone is uncertain.
    async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        let (ledger, k) = (self.ledger.clone(), key.to_string());
        let found = tokio::task::spawn_blocking(move || ledger.lookup(&k))
            .await
            .map_err(failed)?
            .map_err(failed)?;
        match found {
            None => Ok(None),
            Some(line) if line.state == State::Delivered => Ok(Some(line.id.unwrap_or(line.key))),
            Some(line) if let Some(ids) = self.every_piece(&line).await? => Ok(Some(ids)),
            Some(line) => Err(uncertain(format!(
                "the message to {} was being sent when Steward stopped; Telegram cannot be asked whether it arrived, so it was not sent again",
                if line.audience == "owner" {
                    "you".to_string()
                } else {
                    format!("chat {}", line.to)
                }
            ))),
        }
    }
}
