//! The owner's self-chat: every owner message is parsed (`grammar`) into a
//! deterministic command or a turn for the chief of staff. Every reply goes
//! back to the chat it came from through the pipeline (agent `self-chat`,
//! owner audience), so each one has a journal and a receipt, and the echo
//! ledger keeps Steward's own replies from being read back as commands.

pub mod duration;
pub mod grammar;
mod items;
pub mod teach;
mod turn;
pub mod views;

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::memory::handle::Canonicalizer;
use crate::owner_state::{self, Key};
use crate::pipeline::{Actor, Effect, Pipeline, PipelineError, RunRequest, RunStatus, Trigger};
use crate::profile::watch::SharedProfile;
use crate::spec::SELF_CHAT_AGENT;
use crate::store::StoreError;
use grammar::{Command, Parsed};

/// The agent that answers owner turns that are not commands.
pub const CHIEF_OF_STAFF: &str = "chief-of-staff";

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// One owner message: where it came from and what it says.
#[derive(Debug, Clone)]
pub struct OwnerMessage {
    /// The chat the reply goes back to (`console`, `imessage`, …).
    pub channel: String,
    pub actor: Actor,
    pub text: String,
}

/// What the owner gets back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    pub reply: String,
    /// The run that delivered the reply (its receipt covers it).
    pub run_id: Option<String>,
    /// `command` or `turn`.
    pub kind: String,
}

#[derive(Clone)]
pub struct Owner {
    pipeline: Pipeline,
    profile: SharedProfile,
    canon: Canonicalizer,
    started: Instant,
    /// The owner's name as contacts know it (for drafts in their voice).
    name: String,
}

impl Owner {
    pub fn new(pipeline: Pipeline, profile: SharedProfile, region: &str) -> Self {
        Owner {
            pipeline,
            profile,
            canon: Canonicalizer::new(region),
            started: Instant::now(),
            name: String::new(),
        }
    }

    /// Now, by the pipeline's clock (the one place "today" comes from).
    pub fn now(&self) -> jiff::Timestamp {
        self.pipeline.now()
    }

    /// The owner's name (`owner.name`), for drafts written in their voice.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    pub fn profile(&self) -> &SharedProfile {
        &self.profile
    }

    /// The owner's zone: the profile's, else the configured one.
    pub fn tz(&self) -> jiff::tz::TimeZone {
        self.profile
            .get()
            .zone()
            .unwrap_or_else(|| self.pipeline.settings().timezone.clone())
    }

    /// Handle one owner message and deliver the reply to its chat.
    pub async fn handle(&self, msg: OwnerMessage) -> Result<Reply, CommandError> {
        let n = msg.text.chars().count();
        if n == 0 || n > crate::pipeline::request::MAX_TEXT_CHARS {
            return Err(CommandError::BadText);
        }
        if !self.pipeline.is_owner(&msg.actor) {
            return Err(CommandError::NotOwner(msg.actor.to_string()));
        }
        match grammar::parse(&msg.text) {
            Parsed::Command(cmd) => {
                let text = self.execute(cmd, &msg).await?;
                let run_id = self.tell(&msg, &text).await?;
                Ok(Reply {
                    reply: text,
                    run_id,
                    kind: "command".into(),
                })
            }
            Parsed::Turn(text) => self.turn(&msg, &text).await,
        }
    }

    /// Send `text` to the owner's chat through the pipeline; the run id, if admitted.
    pub async fn tell(
        &self,
        msg: &OwnerMessage,
        text: &str,
    ) -> Result<Option<String>, CommandError> {
        let out = self
            .pipeline
            .run(RunRequest {
                agent: SELF_CHAT_AGENT.into(),
                trigger: Trigger::Owner,
                actor: msg.actor.clone(),
                input: msg.text.clone(),
                dedup_key: None,
                plan: vec![Effect::NotifyOwner {
                    channel: msg.channel.clone(),
                    text: text.to_string(),
                }],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        if out.status != RunStatus::Succeeded {
            tracing::warn!(run = %out.run_id, reason = ?out.reason, "the reply to the owner was not delivered");
        }
        Ok(Some(out.run_id))
    }

    async fn execute(&self, cmd: Command, msg: &OwnerMessage) -> Result<String, CommandError> {
        let now_ts = self.now();
        let now = now_ts.as_millisecond();
        let tz = self.tz();
        let store = self.pipeline.store();
        let canon = self.canon.clone();
        Ok(match cmd {
            Command::Help => views::HELP.to_string(),
            Command::Ping => format!(
                "🏓 pong — up {}, bridges: {}",
                views::human_duration(self.started.elapsed().as_millis() as i64),
                self.pipeline.channels().join(", ")
            ),
            Command::Status => self.status(now).await?,
            Command::Budget => self.budget().await?,
            Command::Pause(span) => {
                let until = span.map(|s| s.resolve(&now_ts.to_zoned(tz.clone())));
                let until_ms = until.map(|t| t.as_millisecond());
                store
                    .write(move |c| Ok(owner_state::set_global_pause(c, until_ms)?))
                    .await?;
                match until_ms {
                    Some(u) => format!(
                        "⏸ paused until {}: no drafts, no nudges; I'll auto-resume.",
                        views::local_time(u, &tz)
                    ),
                    None => "⏸ paused: no drafts, no nudges; say *resume* when ready.".into(),
                }
            }
            Command::Resume => {
                let was = store
                    .write(|c| Ok(owner_state::clear(c, Key::Pause)?))
                    .await?;
                if was {
                    "▶️ resumed.".into()
                } else {
                    "▶️ I wasn't paused.".into()
                }
            }
            Command::PauseContact { who, span } => {
                let until = span.map(|s| s.resolve(&now_ts.to_zoned(tz.clone())).as_millisecond());
                store
                    .write(move |c| Ok(teach::pause_contact(c, &who, until, &canon, &tz)?))
                    .await?
            }
            Command::ResumeContact(who) => {
                store
                    .write(move |c| Ok(teach::resume_contact(c, &who, &canon)?))
                    .await?
            }
            Command::ResumeAll => {
                let n = store.write(|c| Ok(owner_state::resume_all(c)?)).await?;
                format!(
                    "▶️ resumed {n} paused contact{}.",
                    if n == 1 { "" } else { "s" }
                )
            }
            Command::WhatsPaused => {
                store
                    .read(move |c| Ok(teach::whats_paused(c, now, &tz)?))
                    .await?
            }
            Command::KillSwitch(on) => {
                store
                    .write(move |c| Ok(owner_state::set_kill_switch(c, on)?))
                    .await?;
                if on {
                    "🛑 kill switch ON: nothing acts and nothing is sent until you say \"kill switch off\".".into()
                } else {
                    "✅ kill switch off: back to normal.".into()
                }
            }
            Command::Approvals => store.write(move |c| Ok(views::approvals(c, now)?)).await?,
            Command::Item { n, action } => self.item(n, action, msg).await?,
            Command::Runs => store.write(move |c| Ok(views::runs(c, now)?)).await?,
            Command::Receipt(n) => {
                let key = self.pipeline.verifying_key();
                store
                    .read(move |c| {
                        Ok(match views::nth_run(c, n, now)? {
                            Some(id) => views::receipt(c, &id, &key)?,
                            None => format!("no run {n}; say runs for the list."),
                        })
                    })
                    .await?
            }
            Command::Brief => {
                let today = self.pipeline.today();
                store
                    .read(move |c| Ok(views::brief(c, now, &today)?))
                    .await?
            }
            Command::Profile => profile_summary(&self.profile.get()),
            Command::More => self.more(&msg.channel).await?,
            Command::Peek(who) => {
                store
                    .read(move |c| Ok(teach::peek(c, &who, &canon)?))
                    .await?
            }
            Command::Monitor { group, on } => {
                store
                    .write(move |c| Ok(teach::monitor(c, &group, on)?))
                    .await?
            }
            Command::News(filter) => {
                store
                    .read(move |c| Ok(views::news(c, filter.as_deref(), now)?))
                    .await?
            }
            Command::Presence(p) => {
                let until = p
                    .span
                    .resolve(&now_ts.to_zoned(tz.clone()))
                    .as_millisecond();
                store
                    .write(move |c| Ok(teach::set_presence(c, &p, until, &tz)?))
                    .await?
            }
            Command::PresenceOff => {
                store
                    .write(|c| Ok(owner_state::clear(c, Key::Presence)?))
                    .await?;
                "👋 welcome back; status cleared.".into()
            }
            Command::Remember { who, key, value } => {
                store
                    .write(move |c| Ok(teach::remember(c, &who, &key, &value, &canon)?))
                    .await?
            }
            Command::Answer(yes) => {
                store
                    .write(move |c| Ok(teach::answer(c, yes, now)?))
                    .await?
            }
            Command::Remind(title) => {
                store
                    .write(move |c| Ok(teach::remind(c, &title, now, &tz)?))
                    .await?
            }
            Command::Identity { handle, name } => {
                store
                    .write(move |c| Ok(teach::identity(c, &handle, &name, &canon)?))
                    .await?
            }
            Command::Disclose { who, allow } => {
                store
                    .write(move |c| Ok(teach::disclose(c, &who, allow, &canon)?))
                    .await?
            }
        })
    }

    async fn status(&self, now: i64) -> Result<String, CommandError> {
        let tz = self.tz();
        let today = self.pipeline.today();
        let channels = self.pipeline.channels().join(", ");
        let uptime = views::human_duration(self.started.elapsed().as_millis() as i64);
        let cap = self.pipeline.settings().global_cap.dollars();
        Ok(self
            .pipeline
            .store()
            .read(move |c| {
                let kill = owner_state::kill_switch(c)?;
                let pause = match owner_state::global_pause(c, now)? {
                    Some(Some(u)) => format!("paused until {}", views::local_time(u, &tz)),
                    Some(None) => "paused".into(),
                    None => "active".into(),
                };
                let paused = owner_state::paused_contacts(c, now)?.len();
                let pending = views::pending(c, now)?.len();
                let spent = crate::pipeline::budget::usage(c, crate::pipeline::budget::GLOBAL, &today)?;
                let presence = owner_state::presence_now(c, now)?
                    .and_then(|p| p["text"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "none".into());
                let feeds: String = views::failing(c)?
                    .into_iter()
                    .map(|(url, n, e)| format!("\nfeed failing ({n}×): {url}: {e}"))
                    .collect();
                Ok(format!(
                    "📊 {}{pause} · up {uptime}\nbridges: {channels}\npaused contacts: {paused} · drafts waiting: {pending}\nspent today: ${:.4} of ${cap:.2}\nstatus: {presence}{feeds}",
                    if kill { "🛑 KILL SWITCH ON · " } else { "" },
                    spent.spent as f64 / 1e6,
                ))
            })
            .await?)
    }

    async fn budget(&self) -> Result<String, CommandError> {
        let today = self.pipeline.today();
        let cap = self.pipeline.settings().global_cap;
        let roster = self.pipeline.roster().clone();
        Ok(self
            .pipeline
            .store()
            .read(move |c| {
                let specs: Vec<_> = roster.specs.values().collect();
                let report = crate::pipeline::budget::report(c, &specs, cap, &today)?;
                let mut out = String::new();
                for r in report.iter().filter(|r| r.scope == "global" || r.runs > 0) {
                    out.push_str(&format!(
                        "💸 {}: ${:.4} of ${:.2} · {} runs\n",
                        r.scope, r.spent_usd, r.max_cost_usd_per_day, r.runs
                    ));
                }
                Ok(out.trim_end().to_string())
            })
            .await?)
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
