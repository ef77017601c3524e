//! The owner's self-chat: every owner message is parsed (`grammar`) into a
//! deterministic command or a turn for the chief of staff. Every reply goes
//! back to the chat it came from through the pipeline (agent `self-chat`,
//! owner audience), so each one has a journal and a receipt, and the echo
//! ledger keeps Steward's own replies from being read back as commands.

mod docs;
pub mod duration;
pub mod grammar;
mod items;
mod show;
mod switches;
pub mod teach;
mod turn;
pub mod when;

use serde::{Deserialize, Serialize};

/// The owner's handle and what the owner reads live below the assistant, which
/// reaches the owner through them too; `commands` adds the command handling.
pub use crate::owner::{Owner, OwnerMessage, views};
use crate::pipeline::{PipelineError, Regarding};
use crate::store::StoreError;

use duration::Span;
use grammar::{Command, Parsed};

/// The agent that answers owner turns that are not commands.
pub const CHIEF_OF_STAFF: &str = "chief-of-staff";

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Prompt(#[from] crate::prompts::PromptError),
    #[error("only the owner can command Steward; {0} is not one of the owner's identities")]
    NotOwner(String),
    #[error("an owner message must be 1-4000 characters")]
    BadText,
}

impl From<rusqlite::Error> for CommandError {
    fn from(e: rusqlite::Error) -> Self {
        CommandError::Store(StoreError::from(e))
    }
}

/// What the owner gets back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    pub reply: String,
    /// The run that delivered the reply (its receipt covers it).
    pub run_id: Option<String>,
    /// `command`, `turn`, or `ignored` (a blank message: no reply, no run).
    pub kind: String,
    /// The turn did not get its answer (the model failed or was refused):
    /// `say` exits non-zero on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

impl Owner {
    /// Handle one owner message and deliver the reply to its chat.
    pub async fn handle(&self, msg: OwnerMessage) -> Result<Reply, CommandError> {
        let n = msg.text.chars().count();
        if n == 0 || n > crate::pipeline::request::MAX_TEXT_CHARS {
            return Err(CommandError::BadText);
        }
        if !self.pipeline().is_owner(&msg.actor) {
            return Err(CommandError::NotOwner(msg.actor.to_string()));
        }
        // A blank line (a stray Enter, a sticker's empty text) asks nothing.
        if msg.text.trim().is_empty() {
            return Ok(Reply {
                reply: String::new(),
                run_id: None,
                kind: "ignored".into(),
                failed: false,
            });
        }
        match grammar::parse(&msg.text) {
            // Its own run: the read, a model's pick and the relay under one receipt.
            Parsed::Command(Command::Docs(question)) => self.documents(&msg, &question).await,
            Parsed::Command(cmd) => {
                let lists_approvals = cmd == Command::Approvals;
                let text = self.execute(cmd, &msg).await?;
                let about = match lists_approvals {
                    true => self.approvals_list().await?,
                    false => None,
                };
                let run_id = self.tell_regarding(&msg, &text, about).await?;
                Ok(Reply {
                    reply: text,
                    run_id,
                    kind: "command".into(),
                    failed: false,
                })
            }
            Parsed::Turn(text) => self.turn(&msg, &text).await,
        }
    }

    /// One command, by what it does: a view, a switch, something taught, or a
    /// numbered item. The reply text.
    async fn execute(&self, cmd: Command, msg: &OwnerMessage) -> Result<String, CommandError> {
        let now_ts = self.now();
        let now = now_ts.as_millisecond();
        let tz = self.tz();
        let canon = self.canon().clone();
        let until = |span: Span| span.resolve(&now_ts.to_zoned(tz.clone())).as_millisecond();
        match cmd {
            Command::Help => Ok(views::HELP.to_string()),
            // `handle` runs these as their own `documents` run, never as a reply text.
            Command::Docs(_) => unreachable!("document questions are a documents run"),
            Command::DidYouMean(word) => Ok(format!(
                "🤔 did you mean `{word}`? (`help` lists every command)"
            )),
            Command::Ping => Ok(self.ping()),
            Command::Status => self.status(now).await,
            Command::Budget => self.budget().await,
            Command::Pause(span) => self.pause(span.map(until), &tz).await,
            Command::Resume => self.resume().await,
            Command::PauseContact { who, span } => {
                let until = span.map(until);
                self.write_text(move |c| teach::pause_contact(c, &who, until, &canon, &tz))
                    .await
            }
            Command::ResumeContact(who) => {
                self.write_text(move |c| teach::resume_contact(c, &who, &canon))
                    .await
            }
            Command::ResumeAll => self.resume_all().await,
            Command::WhatsPaused => {
                self.read_text(move |c| teach::whats_paused(c, now, &tz))
                    .await
            }
            Command::KillSwitch(on) => self.kill_switch(on).await,
            Command::Approvals => self.write_text(move |c| views::approvals(c, now)).await,
            Command::Item { n, action } => self.item(n, action, msg).await,
            Command::Runs => self.write_text(move |c| views::runs(c, now)).await,
            Command::Receipt(n) => self.receipt(n, now).await,
            Command::Brief => {
                let today = self.pipeline().today();
                self.write_text(move |c| views::brief(c, now, &today, true))
                    .await
            }
            Command::More => self.more(&msg.channel).await,
            Command::Profile => Ok(profile_summary(&self.profile().get())),
            Command::Peek(who) => self.read_text(move |c| teach::peek(c, &who, &canon)).await,
            Command::Monitor { group, on } => {
                self.write_text(move |c| teach::monitor(c, &group, on))
                    .await
            }
            Command::News(filter) => {
                self.write_text(move |c| views::news(c, filter.as_deref(), now))
                    .await
            }
            Command::Readlist => self.read_text(views::readlist).await,
            Command::Domain(d) => {
                self.read_text(move |c| crate::owner::domains::view(c, &d, &tz, now))
                    .await
            }
            Command::Presence(p) => {
                let until = until(p.span);
                self.write_text(move |c| teach::set_presence(c, &p, until, &tz))
                    .await
            }
            Command::PresenceOff => self.presence_off().await,
            Command::Remember { who, key, value } => {
                self.write_text(move |c| teach::remember(c, &who, &key, &value, &canon))
                    .await
            }
            Command::Answer(yes) => self.write_text(move |c| teach::answer(c, yes, now)).await,
            Command::Remind(title) => {
                self.write_text(move |c| teach::remind(c, &title, now, &tz))
                    .await
            }
            Command::Identity { handle, name } => {
                self.write_text(move |c| teach::identity(c, &handle, &name, &canon))
                    .await
            }
            Command::Disclose { who, allow } => {
                self.write_text(move |c| teach::disclose(c, &who, allow, &canon))
                    .await
            }
        }
    }

    /// The list `approvals` just numbered, for a channel that shows buttons with it.
    async fn approvals_list(&self) -> Result<Option<Regarding>, CommandError> {
        let now = self.now().as_millisecond();
        let items = self
            .pipeline()
            .store()
            .read(move |c| Ok(crate::owner_state::list(c, now)?))
            .await?
            .unwrap_or_default();
        let ids: Vec<String> = items
            .into_iter()
            .filter_map(|i| match i {
                crate::owner_state::ListItem::Confirmation(id) => Some(id),
                _ => None,
            })
            .collect();
        Ok((!ids.is_empty()).then_some(Regarding::Approvals(ids)))
    }

    /// The reply `f` reads from the store.
    async fn read_text<F>(&self, f: F) -> Result<String, CommandError>
    where
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<String> + Send + 'static,
    {
        Ok(self.pipeline().store().read(move |c| Ok(f(c)?)).await?)
    }

    /// The reply `f` gives on the store's writer.
    async fn write_text<F>(&self, f: F) -> Result<String, CommandError>
    where
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<String> + Send + 'static,
    {
        Ok(self.pipeline().store().write(move |c| Ok(f(c)?)).await?)
    }
}

fn profile_summary(p: &crate::profile::OwnerProfile) -> String {
    format!(
        "👤 profile: time zone {} · {} facts · {} relationships · {} style lessons · {} private lines",
        p.timezone.as_deref().unwrap_or("(from config)"),
        p.facts.len(),
        p.relationships.len(),
        p.style_lessons.len(),
        p.private.len()
    )
}
