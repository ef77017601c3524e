//! The email bridge's send side: a confirmed reply goes out over SMTP in the
//! thread it answers (From the account that received the mail, `Re:` once,
//! In-Reply-To and References set), a copy is appended to the Sent folder,
//! and `<home>/email/sent.jsonl` is the outbound ledger.
//!
//! The order is intent → SMTP → Sent copy → delivered. SMTP gives no way to
//! ask later whether a mail went out, so a restart that finds only the intent
//! looks for the Message-ID (derived from the step key) in the Sent folder;
//! not there, it is `Uncertain`, and the pipeline never sends it again on its
//! own: a duplicate mail is worse than asking the owner.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::smtp::{self, Reply, SmtpError};
use super::{CHANNEL, sent};
use crate::bridges::ledger::{Delivery, Ledger, State};
use crate::bridges::{BridgeError, Capabilities, Channel, Health};
use crate::config::{Config, EmailAccount};
use crate::fault::Fault;
use crate::pipeline::{ConfirmedSend, OwnerSend};
use crate::store::Store;
use crate::types::StepKey;

#[derive(Debug, Clone)]
pub struct EmailOutbound {
    accounts: Arc<Vec<EmailAccount>>,
    store: Store,
    ledger: Ledger,
    owner_name: Option<String>,
    /// Whether the owner listed `email` in `owner.channels`: only then do
    /// notes to the owner go by mail (a mail per note is a lot otherwise).
    owner_mail: bool,
    fault: Fault,
}

/// The mail a reply answers, as memory has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parent {
    pub message_id: String,
    pub subject: String,
    pub references: Vec<String>,
    pub account: String,
    pub reply_address: Option<String>,
    pub bulk: bool,
}

/// The latest mail from a contact in thread `thread` (its root Message-ID).
pub fn parent(conn: &Connection, thread: &str) -> rusqlite::Result<Option<Parent>> {
    conn.query_row(
        "SELECT e.message_id, e.subject, e.refs, e.account, e.reply_address, e.bulk
         FROM chats c JOIN messages m ON m.chat_id = c.id
         JOIN email_messages e ON e.message_row = m.id
         WHERE c.channel = ?1 AND c.external_id = ?2 AND m.direction = 'in'
         ORDER BY m.at_ms DESC, m.id DESC LIMIT 1",
        [CHANNEL, thread],
        |r| {
            let refs: String = r.get(2)?;
            Ok(Parent {
                message_id: r.get(0)?,
                subject: r.get(1)?,
                references: serde_json::from_str(&refs).unwrap_or_default(),
                account: r.get(3)?,
                reply_address: r.get(4)?,
                bulk: r.get(5)?,
            })
        },
    )
    .optional()
}

/// A Message-ID no one can guess: 128 random bits at the account's domain.
fn owner_message_id(address: &str) -> String {
    let mut b = [0u8; 16];
    // getrandom fails only without an OS source; the clock then still differs per mail.
    if getrandom::fill(&mut b).is_err() {
        b[..8].copy_from_slice(&crate::owner_state::now_ms().to_le_bytes());
    }
    let domain = address
        .rsplit_once('@')
        .map_or("steward.invalid", |(_, d)| d);
    format!("steward.owner.{}@{domain}", hex::encode(b))
}

/// What the owner reads: the first line as the subject, and how to answer.
struct OwnerNote {
    subject: String,
    body: String,
}

impl OwnerNote {
    fn new(text: &str) -> OwnerNote {
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("Steward");
        let mut subject: String = first.chars().take(70).collect();
        if subject.chars().count() < first.chars().count() {
            subject.push('…');
        }
        OwnerNote {
            subject: format!("Steward: {subject}"),
            body: format!(
                "{text}\n\n-- \nReply to this mail to answer Steward: the first line of your reply is read as a command (\"1 send\", \"status\", \"help\")."
            ),
        }
    }
}

fn failed(detail: impl std::fmt::Display) -> BridgeError {
    crate::bridges::delivery_error(CHANNEL, detail)
}

impl From<SmtpError> for BridgeError {
    fn from(e: SmtpError) -> Self {
        match e {
            SmtpError::Uncertain { .. } => BridgeError::Uncertain {
                channel: CHANNEL.to_string(),
                detail: e.to_string(),
            },
            other => failed(other),
        }
    }
}

impl EmailOutbound {
    /// The bridge, if any account has an SMTP server to send with.
    pub fn new(config: &Config, home: &Path, store: Store) -> Option<EmailOutbound> {
        let accounts = &config.bridges.email.accounts;
        accounts
            .iter()
            .any(|a| a.smtp.is_some())
            .then(|| EmailOutbound {
                accounts: Arc::new(accounts.clone()),
                store,
                ledger: Ledger::new(home.join("email").join("sent.jsonl")),
                owner_name: Some(config.owner.name.clone()).filter(|n| !n.is_empty()),
                owner_mail: config.owner.channels.iter().any(|c| c == CHANNEL),
                fault: Fault::from_env(),
            })
    }

    /// The account a reply goes out through: the one the mail came to, else
    /// the first that can send.
    fn account(&self, name: &str) -> Result<&EmailAccount, BridgeError> {
        self.accounts
            .iter()
            .find(|a| a.name == name && a.smtp.is_some())
            .or_else(|| self.accounts.iter().find(|a| a.smtp.is_some()))
            .ok_or_else(|| failed("no email account has an smtp server"))
    }

    async fn reply_to(&self, thread: &str) -> Result<Parent, BridgeError> {
        let t = thread.to_string();
        let parent = self
            .store
            .read(move |c| Ok(parent(c, &t)?))
            .await
            .map_err(failed)?
            .ok_or_else(|| failed(format!("no mail from a contact in thread {thread}")))?;
        // The assistant never drafts to these; the bridge refuses them anyway.
        if parent.bulk {
            return Err(failed(
                "the thread is a mailing list or automatic mail; it gets no reply",
            ));
        }
        Ok(parent)
    }

    async fn write(&self, line: &Delivery) -> Result<(), BridgeError> {
        let (ledger, line) = (self.ledger.clone(), line.clone());
        tokio::task::spawn_blocking(move || ledger.write(&line))
            .await
            .map_err(failed)?
            .map_err(failed)
    }
}

impl Channel for EmailOutbound {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    /// The owner is reached at their own address when they asked for it
    /// (`owner.channels`): a mail from Steward whose replies are read as
    /// commands (see the `owner_mail` table).
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            contact_sends: true,
            owner_sends: self.owner_mail,
        }
    }

    /// Up when every sending account's transport can be set up (password
    /// resolves, no cleartext off loopback, the CA file reads).
    fn health(&self) -> Health {
        let problems: Vec<String> = self
            .accounts
            .iter()
            .filter(|a| a.smtp.is_some())
            .filter_map(|a| smtp::transport(a).err().map(|e| e.to_string()))
            .collect();
        Health {
            channel: CHANNEL,
            up: problems.is_empty(),
            detail: problems.join("; "),
        }
    }

    async fn send_contact(
        &self,
        key: &StepKey,
        send: &ConfirmedSend,
    ) -> Result<String, BridgeError> {
        let parent = self.reply_to(send.to()).await?;
        let account = self.account(&parent.account)?.clone();
        let to = parent
            .reply_address
            .clone()
            .ok_or_else(|| failed("the mail has no sender address to reply to"))?;
        let reply = Reply {
            to: to.clone(),
            subject: parent.subject.clone(),
            in_reply_to: Some(parent.message_id.clone()),
            references: parent.references.clone(),
            text: send.text().to_string(),
        };
        let key = key.to_string();
        let id = smtp::message_id(&key, &account.address);
        let message = smtp::build(&account, self.owner_name.as_deref(), &id, &reply)?;
        let mut line = Delivery::new(&key, "contact", &to, send.text());
        line.id = Some(id.clone());
        line.via = Some(account.name.clone());
        line.state = State::Intended;
        self.write(&line).await?;
        smtp::send(&account, &message).await?;
        self.fault.point("smtp.accepted");
        // The copy comes before the ledger line: a crash between them is
        // then found in the Sent folder, not left uncertain.
        if let Err(e) = sent::append(&account, &message.formatted()).await {
            tracing::warn!(account = %account.name, error = %e, "the reply was sent but no copy was kept in Sent");
        }
        self.fault.point("email.sent-copy");
        line.state = State::Delivered;
        self.write(&line).await?;
        Ok(id)
    }

    /// A mail to the owner's own address (the first account that sends):
    /// its Message-ID, random, is kept in `owner_mail` before it goes, so the
    /// owner's reply to it is their command and its own copy arriving in the
    /// inbox is not.
    async fn send_owner(&self, key: &StepKey, send: &OwnerSend) -> Result<String, BridgeError> {
        if !self.owner_mail {
            return Err(failed(
                "notes to the owner go by mail only when owner.channels lists email",
            ));
        }
        let account = self.account("")?.clone();
        let id = owner_message_id(&account.address);
        let note = OwnerNote::new(send.text());
        let message = smtp::build(
            &account,
            Some("Steward"),
            &id,
            &Reply {
                to: account.address.clone(),
                subject: note.subject,
                in_reply_to: None,
                references: Vec::new(),
                text: note.body,
            },
        )?;
        let (mid, now) = (id.clone(), crate::owner_state::now_ms());
        self.store
            .write(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO owner_mail (message_id, sent_ms) VALUES (?1, ?2)",
                    rusqlite::params![mid, now],
                )?;
                Ok(())
            })
            .await
            .map_err(failed)?;
        let key = key.to_string();
        let mut line = Delivery::new(&key, "owner", &account.address, send.text());
        line.id = Some(id.clone());
        line.via = Some(account.name.clone());
        line.state = State::Intended;
        self.write(&line).await?;
        smtp::send(&account, &message).await?;
        if let Err(e) = sent::append(&account, &message.formatted()).await {
            tracing::warn!(account = %account.name, error = %e, "a note to the owner was sent but no copy was kept in Sent");
        }
        line.state = State::Delivered;
        self.write(&line).await?;
        Ok(id)
    }

    /// Delivered: its Message-ID. Intended only: the Sent folder decides,
    /// else the send is uncertain and must not be repeated by a retry.
    async fn delivered(&self, key: &StepKey) -> Result<Option<String>, BridgeError> {
        let (ledger, k) = (self.ledger.clone(), key.to_string());
        let found = tokio::task::spawn_blocking(move || ledger.lookup(&k))
            .await
            .map_err(failed)?
            .map_err(failed)?;
        let Some(mut line) = found else {
            return Ok(None);
        };
        let id = line.id.clone().unwrap_or_else(|| line.key.clone());
        if line.state == State::Delivered {
            return Ok(Some(id));
        }
        let account = self.account(line.via.as_deref().unwrap_or_default())?;
        match sent::contains(account, &id).await {
            Ok(true) => {
                line.state = State::Delivered;
                self.write(&line).await?;
                Ok(Some(id))
            }
            Ok(false) => Err(BridgeError::Uncertain {
                channel: CHANNEL.to_string(),
                detail: format!(
                    "the reply to {} (Message-ID <{id}>) was being sent when Steward stopped and is not in {}'s {} folder; it may or may not have gone out, so it was not sent again",
                    line.to, account.name, account.sent
                ),
            }),
            Err(e) => Err(BridgeError::Uncertain {
                channel: CHANNEL.to_string(),
                detail: format!(
                    "the reply to {} may or may not have gone out, and the Sent folder could not be checked ({e}); it was not sent again",
                    line.to
                ),
            }),
        }
    }
}
