//! WhatsApp through Meta's Cloud API (`bridges.whatsapp.mode: cloud`): a
//! business number. `webhook.rs` is Meta's side of the wire (handshake,
//! signature, payload), `graph.rs` the send, `outbound.rs` the bridge the
//! pipeline holds. [`Webhook`] is what the HTTP route calls: it checks the
//! signature before parsing, stores new messages in memory (the sender's
//! `wa_id` is their phone handle, so they are the same person as their
//! iMessage), publishes them on the bus, and appends statuses to the ledger.

pub mod graph;
pub mod outbound;
pub mod webhook;

use std::path::Path;

use rusqlite::{Connection, params};
use tokio::sync::broadcast;

use super::CHANNEL;
use crate::bridges::ledger::{self, Ledger, State};
use crate::config::{Config, Secret, SecretError};
use crate::memory::Canonicalizer;
use crate::memory::handle::Handle;
use crate::memory::messages::{self, ChatKind, Direction, NewMessage, Stored};
use crate::memory::people;
use crate::store::Store;
use crate::types::Inbound;
use webhook::{Message, Payload, SignatureError, Status};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the body is not a WhatsApp webhook payload: {0}")]
    Malformed(String),
    #[error("could not store the messages: {0}")]
    Store(String),
}

/// What one delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub messages: usize,
    pub statuses: usize,
}

/// The webhook's state: secrets resolved at boot, the store, the bus, the ledger.
pub struct Webhook {
    app_secret: Secret,
    verify_token: Secret,
    phone_number_id: String,
    store: Store,
    bus: broadcast::Sender<Inbound>,
    ledger: Ledger,
    canon: Canonicalizer,
    owner_name: Option<String>,
    owner_handles: Vec<String>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The webhook when `bridges.whatsapp` is configured; an unresolvable
    /// secret is an error naming the fix.
    pub fn new(
        config: &Config,
        home: &Path,
        store: Store,
        bus: broadcast::Sender<Inbound>,
    ) -> Result<Option<Webhook>, String> {
        let Some(w) = config.bridges.whatsapp.as_ref().and_then(|w| w.cloud()) else {
            return Ok(None);
        };
        let resolve = |r: &crate::config::SecretRef, key: &str| {
            r.resolve()
                .map_err(|e: SecretError| format!("{e}; {}", r.fix(key)))
        };
        Ok(Some(Webhook {
            app_secret: resolve(&w.app_secret, "bridges.whatsapp.appSecret")?,
            verify_token: resolve(&w.verify_token, "bridges.whatsapp.verifyToken")?,
            phone_number_id: w.phone_number_id.clone(),
            store,
            bus,
            ledger: outbound::ledger(home),
            canon: Canonicalizer::new(config.owner.region.as_str()),
            owner_name: Some(config.owner.name.clone()).filter(|n| !n.is_empty()),
            owner_handles: config.owner.handles.clone(),
        }))
    }

    /// The `GET` handshake: the challenge to echo, if the token is ours.
    pub fn challenge<'a>(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&'a str>,
    ) -> Option<&'a str> {
        webhook::verify_challenge(mode, token, challenge, self.verify_token.expose())
    }

    /// One `POST`: signature first, then the payload.
    pub async fn deliver(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Report, WebhookError> {
        webhook::check_signature(self.app_secret.expose().as_bytes(), body, signature)?;
        let payload: Payload =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let mut report = Report::default();
        let mut batch: Vec<(Message, Option<String>)> = Vec::new();
        let mut statuses: Vec<Status> = Vec::new();
        for change in payload.entry.into_iter().flat_map(|e| e.changes) {
            let v = change.value;
            let ours = v.metadata.as_ref().is_none_or(|m| {
                m.phone_number_id.is_empty() || m.phone_number_id == self.phone_number_id
            });
            if change.field != "messages" || !ours {
                continue;
            }
            for m in v.messages {
                let name = v
                    .contacts
                    .iter()
                    .find(|c| c.wa_id == m.from)
                    .and_then(|c| c.profile.as_ref())
                    .map(|p| p.name.clone())
                    .filter(|n| !n.is_empty());
                batch.push((m, name));
            }
            statuses.extend(v.statuses);
        }
        if !batch.is_empty() {
            let (canon, owner_name, owner_handles) = (
                self.canon.clone(),
                self.owner_name.clone(),
                self.owner_handles.clone(),
            );
            let new = self
                .store
                .write(move |c| {
                    Ok(store_messages(
                        c,
                        &canon,
                        owner_name.as_deref(),
                        &owner_handles,
                        &batch,
                    )?)
                })
                .await
                .map_err(|e| WebhookError::Store(e.to_string()))?;
            report.messages = new.len();
            for inbound in new {
                let _ = self.bus.send(inbound);
            }
        }
        report.statuses = statuses.len();
        if !statuses.is_empty() {
            let ledger = self.ledger.clone();
            let done =
                tokio::task::spawn_blocking(move || record_statuses(&ledger, &statuses)).await;
            if let Ok(Err(e)) | Err(e) = done.map_err(std::io::Error::other) {
                tracing::warn!(error = %e, "could not record WhatsApp statuses in the ledger");
            }
        }
        Ok(report)
    }
}

/// Store new messages (one transaction); the ones new to memory, for the bus.
fn store_messages(
    conn: &Connection,
    canon: &Canonicalizer,
    owner_name: Option<&str>,
    owner_handles: &[String],
    batch: &[(Message, Option<String>)],
) -> rusqlite::Result<Vec<Inbound>> {
    let handles: Vec<Handle> = owner_handles
        .iter()
        .map(|h| canon.canonicalize(h))
        .collect();
    let owner = people::ensure_owner(conn, owner_name, &handles, CHANNEL)?;
    let mut new = Vec::new();
    for (m, name) in batch {
        let handle = canon.canonicalize(&format!("{}@s.whatsapp.net", m.from));
        let resolved = people::resolve(conn, &handle, CHANNEL)?;
        let created = resolved.created();
        // A forgotten number's messages are not kept.
        let Some(person) = resolved.person() else {
            continue;
        };
        if person == owner {
            // The owner writing to the business number is not a contact; owner
            // commands do not come this way (see `owner.channels`).
            continue;
        }
        if created && let Some(n) = name {
            conn.execute(
                "UPDATE people SET name = ?2, name_source = 'whatsapp' WHERE id = ?1 AND name IS NULL",
                params![person, n],
            )?;
        }
        let chat_id = handle.value().to_string();
        let (chat, _) =
            messages::upsert_chat(conn, CHANNEL, &chat_id, ChatKind::Direct, name.as_deref())?;
        messages::add_member(conn, chat, &person)?;
        let text = m.text();
        let stored = messages::insert_message(
            conn,
            &NewMessage {
                channel: CHANNEL,
                external_id: &m.id,
                chat_id: Some(chat),
                sender_id: &person,
                person_id: &person,
                handle: Some(handle.as_str()),
                direction: Direction::In,
                text: &text,
                at_ms: m.at_ms(),
                reply_to: m.context.as_ref().and_then(|c| c.id.as_deref()),
                edited: false,
                is_command: false,
            },
        )?;
        if stored != Stored::New {
            continue;
        }
        new.push(Inbound {
            channel: CHANNEL.to_string(),
            external_id: m.id.clone(),
            chat_external_id: Some(chat_id),
            chat_kind: Some("direct".into()),
            person_id: person.clone(),
            sender_id: person,
            handle: Some(handle.to_string()),
            from_me: false,
            is_command: false,
            text,
            at_ms: m.at_ms(),
        });
    }
    messages::index_new(conn)?;
    Ok(new)
}

/// Append each status to the ledger line of the send it is about (found by
/// our step key, echoed as `biz_opaque_callback_data`, else by wamid). A
/// status settles an intent left by a crash: the message did go out.
fn record_statuses(ledger: &Ledger, statuses: &[Status]) -> std::io::Result<()> {
    for s in statuses {
        let found = match &s.biz_opaque_callback_data {
            Some(key) => ledger.lookup(key)?,
            None => ledger.by_id(&s.id)?,
        };
        let Some(mut line) = found else {
            tracing::debug!(wamid = %s.id, "a status for a message this ledger does not know");
            continue;
        };
        // The newest status this message has (`lookup` gives the send itself).
        if let Some(newest) = ledger.by_id(&s.id)? {
            line = newest;
        }
        if s.status != "failed"
            && ledger::status_rank(line.status.as_deref()) >= ledger::status_rank(Some(&s.status))
        {
            continue;
        }
        if s.status == "failed" {
            let why: Vec<String> = s
                .errors
                .iter()
                .map(|e| format!("{} ({})", e.title, e.code))
                .collect();
            tracing::warn!(to = %s.recipient_id, errors = %why.join("; "), "WhatsApp reports a message failed");
        }
        // A failed message did not go out: its line keeps the state it had.
        if s.status != "failed" {
            line.state = State::Delivered;
        }
        line.id = Some(s.id.clone());
        line.status = Some(s.status.clone());
        line.at = jiff::Timestamp::now().to_string();
        ledger.write(&line)?;
    }
    Ok(())
}
