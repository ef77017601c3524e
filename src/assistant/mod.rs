//! Contact-facing assistants. A contact's 1:1 message (or a monitored group's
//! mention of the owner) becomes, at most, one draft the owner confirms in
//! their self-chat: probes are reported instead of drafted, drafts pass the
//! guards, the confidence is shown, and only an explicit yes (or a standing
//! approval for a HIGH draft) lets the pipeline send. The owner replying in the
//! thread themselves withdraws the draft and pauses the contact for an hour.

mod compose;
mod draft;
mod queue;
mod screen;

use serde::Serialize;

use crate::config::QuietHours;
use crate::guards::confidence::Tier;
use crate::guards::probes::Probe;
use crate::owner::{Owner, OwnerMessage, views};
use crate::owner_state;
use crate::pipeline::{Actor, PipelineError};
use crate::store::StoreError;
use crate::types::Inbound;

/// How long a contact stays paused after the owner answers them directly.
pub const TAKEOVER_MS: i64 = 60 * 60_000;
/// After a handoff phrase ("human here", "I'll call you tonight", "let me
/// reply"): the owner has said they are taking over, so 12 h.
pub const HANDOFF_MS: i64 = 12 * 3600 * 1000;

/// Whether the owner's line in a contact's thread says a person is taking
/// over, not just answering once.
pub fn is_handoff(text: &str) -> bool {
    let t = text.to_lowercase().replace('\u{2019}', "'");
    [
        "human here",
        "i'll call you",
        "ill call you",
        "i will call you",
        "let me reply",
        "let me answer",
        "i'll take it from here",
        "i'll handle this",
        "talk to you in person",
    ]
    .iter()
    .any(|p| t.contains(p))
}
/// Older than this when Steward first sees it (it was down, or the Mac slept):
/// the message is in memory and the brief, but no reply is drafted to it.
pub const STALE_MS: i64 = 12 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for AssistantError {
    fn from(e: rusqlite::Error) -> Self {
        AssistantError::Store(StoreError::from(e))
    }
}

/// What became of one inbound message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Outcome {
    Ignored {
        why: String,
    },
    Queued,
    Probe {
        probe: Probe,
    },
    Drafted {
        confirmation: String,
        tier: Tier,
        /// The ✍️ line the owner got (or gets, for a draft they asked for).
        prompt: String,
    },
    AutoSent {
        run_id: String,
    },
    NoDraft {
        why: String,
    },
    Withdrawn {
        drafts: usize,
    },
}

impl Outcome {
    /// What happened, for the log: kinds and ids, never the message or the
    /// draft (a `Debug` dump would carry both into the log file).
    pub fn summary(&self) -> String {
        match self {
            Outcome::Ignored { why } => format!("ignored ({why})"),
            Outcome::Queued => "queued for after quiet hours".to_string(),
            Outcome::Probe { .. } => "flagged as a probe".to_string(),
            Outcome::Drafted {
                confirmation, tier, ..
            } => format!(
                "drafted {confirmation} ({} confidence), waiting for the owner",
                tier.as_str()
            ),
            Outcome::AutoSent { run_id } => format!("sent on its own (run {run_id})"),
            Outcome::NoDraft { why } => format!("no draft ({why})"),
            Outcome::Withdrawn { drafts } => format!("withdrew {drafts} draft(s)"),
        }
    }
}

fn ignored(why: &str) -> Outcome {
    Outcome::Ignored { why: why.into() }
}

#[derive(Clone)]
pub struct Assistant {
    owner: Owner,
    quiet: QuietHours,
}

impl Assistant {
    /// Drafts in the voice of `owner` (its `name` is how contacts know them).
    pub fn new(owner: Owner, quiet: QuietHours) -> Self {
        Assistant { owner, quiet }
    }

    fn store(&self) -> &crate::store::Store {
        self.owner.pipeline().store()
    }

    /// The bridge a reply on `channel` goes out through (SMS lines through iMessage).
    fn send_channel(&self, channel: &str) -> Option<String> {
        crate::bridges::sending_channel(&self.owner.pipeline().channels(), channel)
            .map(str::to_string)
    }

    /// The owner's chat for prompts about `channel`'s contacts.
    fn owner_channel(&self, channel: &str) -> String {
        match self.send_channel(channel) {
            Some(c) if c != "console" && self.owner.pipeline().reaches_owner(&c) => c,
            _ => self.owner.pipeline().settings().owner_channel.clone(),
        }
    }

    async fn tell_owner(&self, channel: &str, text: &str) -> Result<(), AssistantError> {
        self.ask_owner_about(channel, text, None).await
    }

    /// `tell_owner`, about a confirmation (a channel with buttons shows them).
    async fn ask_owner_about(
        &self,
        channel: &str,
        text: &str,
        regarding: Option<crate::pipeline::Regarding>,
    ) -> Result<(), AssistantError> {
        let msg = OwnerMessage {
            channel: self.owner_channel(channel),
            actor: Actor::Console,
            text: String::new(),
        };
        self.owner.tell_regarding(&msg, text, regarding).await?;
        Ok(())
    }

    /// Handle one new message from a bridge, at `now` (the owner's local time).
    pub async fn on_inbound(
        &self,
        msg: &Inbound,
        now: &jiff::Zoned,
    ) -> Result<Outcome, AssistantError> {
        if msg.is_command {
            return Ok(ignored("self-chat"));
        }
        let Some(send_channel) = self.send_channel(&msg.channel) else {
            return Ok(ignored("no bridge can answer on this channel"));
        };
        let thread = msg
            .chat_external_id
            .clone()
            .or_else(|| msg.handle.clone())
            .unwrap_or_default();
        if msg.from_me {
            if msg.chat_kind.as_deref() != Some("direct") {
                return Ok(ignored("the owner's own line"));
            }
            return self.owner_wrote(msg, &send_channel, &thread).await;
        }
        if self.is_bulk_mail(msg).await? {
            return Ok(ignored(
                "a mailing list, automatic or no-reply mail: never answered",
            ));
        }
        match msg.chat_kind.as_deref() {
            Some("direct") => {}
            Some("group") if self.group_wants_owner(msg).await? => {}
            _ => {
                return Ok(ignored(
                    "not a 1:1 chat, or a group the owner does not monitor",
                ));
            }
        }
        let (now_ms, person) = (now.timestamp().as_millisecond(), msg.person_id.clone());
        if now_ms - msg.at_ms > STALE_MS {
            return Ok(ignored("too old to answer now; it waits in the brief"));
        }
        let (kill, paused) = self
            .store()
            .read(move |c| {
                Ok((
                    owner_state::kill_switch(c)?,
                    owner_state::global_pause(c, now_ms)?.is_some()
                        || owner_state::contact_paused(c, &person, now_ms)?,
                ))
            })
            .await?;
        if kill {
            return Ok(ignored("kill switch"));
        }
        if paused {
            return Ok(ignored("paused"));
        }
        if self.quiet.contains(now.time()) {
            let m = msg.clone();
            self.store()
                .write(move |c| Ok(queue::push(c, &m, "quiet hours")?))
                .await?;
            return Ok(Outcome::Queued);
        }
        self.draft(msg, &send_channel, &thread, now_ms, false).await
    }

    /// Handle what waited for quiet hours to end; how many were handled.
    pub async fn drain(&self, now: &jiff::Zoned) -> Result<usize, AssistantError> {
        if self.quiet.contains(now.time()) {
            return Ok(0);
        }
        let queued = self.store().write(|c| Ok(queue::take_all(c)?)).await?;
        let n = queued.len();
        for msg in queued {
            if let Err(e) = self.on_inbound(&msg, now).await {
                tracing::warn!(error = %e, "a queued contact message failed");
            }
        }
        Ok(n)
    }

    async fn is_bulk_mail(&self, msg: &Inbound) -> Result<bool, AssistantError> {
        if msg.channel != crate::bridges::email::CHANNEL {
            return Ok(false);
        }
        let id = msg.external_id.clone();
        Ok(self
            .store()
            .read(move |c| Ok(crate::bridges::email::ingest::is_bulk(c, &id)?))
            .await?)
    }

    async fn group_wants_owner(&self, msg: &Inbound) -> Result<bool, AssistantError> {
        let (chat, channel) = (msg.chat_external_id.clone(), msg.channel.clone());
        let monitored = self
            .store()
            .read(move |c| Ok(queue::monitored(c, &channel, chat.as_deref())?))
            .await?;
        let name = self.owner.name().to_lowercase();
        let first = name
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(monitored && !first.is_empty() && msg.text.to_lowercase().contains(&first))
    }

    /// The owner typed in a contact's thread: our own send coming back, or a takeover.
    async fn owner_wrote(
        &self,
        msg: &Inbound,
        send_channel: &str,
        thread: &str,
    ) -> Result<Outcome, AssistantError> {
        let key = format!("{send_channel}>{thread}");
        let text = msg.text.clone();
        if self
            .store()
            .write(move |c| Ok(owner_state::take_echo(c, &key, &text)?))
            .await?
        {
            return Ok(ignored("our own send"));
        }
        let (ch, th, handle) = (
            send_channel.to_string(),
            thread.to_string(),
            msg.handle.clone(),
        );
        let person = msg.person_id.clone();
        let (span, why) = if is_handoff(&msg.text) {
            (HANDOFF_MS, "handoff")
        } else {
            (TAKEOVER_MS, "takeover")
        };
        let pending = self
            .store()
            .write(move |c| {
                owner_state::pause_contact(c, &person, owner_state::now_ms() + span, why)?;
                Ok(crate::pipeline::confirm::list_pending(c)?
                    .into_iter()
                    .filter(|p| p.channel == ch && (p.to == th || Some(&p.to) == handle.as_ref()))
                    .map(|p| p.id)
                    .collect::<Vec<_>>())
            })
            .await?;
        for id in &pending {
            self.owner
                .pipeline()
                .withdraw(id, "the owner replied in the thread")
                .await?;
        }
        if !pending.is_empty() {
            let name = msg.handle.clone().unwrap_or_default();
            let name = self
                .store()
                .read(move |c| Ok(views::display_name(c, "", &name)))
                .await?;
            self.tell_owner(
                &msg.channel,
                &format!(
                    "✋ you answered {name} yourself: I dropped my draft and paused {name} for 1h."
                ),
            )
            .await?;
        }
        Ok(Outcome::Withdrawn {
            drafts: pending.len(),
        })
    }

    /// The contact who wrote `msg`, as the pipeline's actor.
    fn contact_actor(msg: &Inbound) -> Actor {
        Actor::Handle {
            channel: msg.channel.clone(),
            handle: msg.handle.clone().unwrap_or_else(|| msg.person_id.clone()),
        }
    }

    fn agent_for(channel: &str) -> &'static str {
        match channel {
            "whatsapp" => "whatsapp-assistant",
            "email" => "email-assistant",
            "telegram" => "telegram-assistant",
            _ => "imessage-assistant",
        }
    }

    /// A check-in draft to someone the owner has not talked with lately (the
    /// owner's "1 draft" on a relationship-keeper nudge); confirmed like any send.
    pub async fn outreach(&self, person_id: &str) -> Result<String, AssistantError> {
        let p = person_id.to_string();
        let chat: Option<(String, String, Option<String>)> = self
            .store()
            .read(move |c| {
                use rusqlite::OptionalExtension;
                Ok(c.query_row(
                    "SELECT c.channel, c.external_id, (SELECT handle FROM handles WHERE person_id = ?1 LIMIT 1)
                     FROM chats c JOIN chat_members m ON m.chat_id = c.id
                     LEFT JOIN messages msg ON msg.chat_id = c.id
                     WHERE m.person_id = ?1 AND c.kind = 'direct'
                     GROUP BY c.id ORDER BY MAX(msg.at_ms) DESC LIMIT 1",
                    [&p],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?)
            })
            .await?;
        let Some((channel, chat, handle)) = chat else {
            return Ok("🤷 I have no 1:1 chat with them to write in.".into());
        };
        let Some(send_channel) = self.send_channel(&channel) else {
            return Ok(format!("🤷 no bridge can send on {channel} here."));
        };
        let now = self.owner.now();
        let now_ms = now.as_millisecond();
        let day = now.to_zoned(self.owner.tz()).date();
        let msg = Inbound {
            channel,
            external_id: format!("outreach:{person_id}:{day}"),
            chat_external_id: Some(chat.clone()),
            chat_kind: Some("direct".into()),
            person_id: person_id.to_string(),
            sender_id: person_id.to_string(),
            handle,
            from_me: false,
            is_command: false,
            text: String::new(),
            at_ms: now_ms,
        };
        Ok(
            match self.draft(&msg, &send_channel, &chat, now_ms, true).await? {
                Outcome::Drafted { prompt, .. } => prompt,
                Outcome::NoDraft { why } => format!("⚠️ no draft: {why}"),
                Outcome::Ignored { why } => format!("⚠️ no draft: {why}"),
                other => format!("⚠️ no draft ({other:?})"),
            },
        )
    }
}

#[cfg(test)]
mod handoff_tests {
    #[test]
    fn handoff_phrases_are_told_from_a_plain_answer() {
        for t in [
            "human here",
            "I\u{2019}ll call you tonight",
            "ok let me reply properly",
        ] {
            assert!(super::is_handoff(t), "{t}");
        }
        for t in ["sure, 7 works", "call me later?", "reply soon"] {
            assert!(!super::is_handoff(t), "{t}");
        }
    }
}
