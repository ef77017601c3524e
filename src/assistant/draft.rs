//! One draft, in the order its phases run: the contact's context; the probes
//! and the model check (a probe gets no draft); a model for the agent's
//! capability (told once when there is none); the draft run with one
//! regeneration after a guard suppresses; confidence and the reply run (a
//! confirmation); a standing approval for a HIGH draft; the ✍️ line that asks
//! the owner. Each phase either hands the next what it needs or stops the
//! draft with its [`Outcome`], having told the owner what they need to know.

use std::sync::Arc;

use serde_json::json;

use crate::guards::confidence::{self, Confidence, Signals, Tier};
use crate::guards::draft::{self, DraftContext, Verdict};
use crate::guards::probes::{self, Probe};
use crate::owner::views;
use crate::owner_state::{self, Key, ListItem};
use crate::pipeline::{Actor, Effect, PipelineError, RunRequest, RunStatus, Trigger};
use crate::profile::OwnerProfile;
use crate::store::StoreError;
use crate::types::Inbound;

use super::{Assistant, AssistantError, Outcome, compose, ignored};

/// Why a draft ended before the owner was asked: an outcome, or a failure.
enum Stop {
    Done(Outcome),
    Failed(AssistantError),
}

impl From<AssistantError> for Stop {
    fn from(e: AssistantError) -> Self {
        Stop::Failed(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Failed(e.into())
    }
}

impl From<PipelineError> for Stop {
    fn from(e: PipelineError) -> Self {
        Stop::Failed(e.into())
    }
}

/// What every phase of one draft works from.
struct Job<'a> {
    msg: &'a Inbound,
    send_channel: &'a str,
    thread: &'a str,
    /// A check-in the owner asked for ("1 draft"), not a contact's message.
    by_owner: bool,
    profile: Arc<OwnerProfile>,
    ctx: compose::Context,
    /// The contact's name for the owner, and their message as quoted to the owner.
    name: String,
    quoted: String,
    agent: &'static str,
}

impl Job<'_> {
    /// A contact's message drafts on the contact's trigger; a check-in the
    /// owner asked for ("1 draft") is the owner's run.
    fn trigger_and_actor(&self) -> (Trigger, Actor) {
        if self.by_owner {
            (Trigger::Owner, Actor::Console)
        } else {
            (Trigger::Contact, Assistant::contact_actor(self.msg))
        }
    }

    /// What the draft guards check a draft against.
    fn guard_context(&self) -> DraftContext {
        let (ctx, profile) = (&self.ctx, &self.profile);
        DraftContext {
            contact_names: std::iter::once(self.name.clone())
                .chain(ctx.relationship.as_ref().and_then(|r| r.address_as.clone()))
                .chain(ctx.relationship.as_ref().map(|r| r.name.clone()))
                .collect(),
            inbound: self.msg.text.clone(),
            facts: profile
                .facts
                .iter()
                .map(|f| (f.key.clone(), f.value.clone()))
                .collect(),
            allowed_places: ctx.place.iter().cloned().collect(),
            lowercase: {
                let s = profile.how_i_text.to_lowercase();
                s.contains("lower-case") || s.contains("lowercase") || s.contains("lower case")
            },
        }
    }

    fn confidence(&self, text: &str) -> Confidence {
        confidence::score(
            &self.msg.text,
            text,
            &Signals {
                known_relationship: self.ctx.relationship.is_some(),
                cold_contact: self.ctx.message_count < 3,
                prior_dislikes: false,
            },
        )
    }
}

impl Assistant {
    /// Draft a reply to `msg` (or, `by_owner`, a check-in) and ask the owner.
    pub(super) async fn draft(
        &self,
        msg: &Inbound,
        send_channel: &str,
        thread: &str,
        now_ms: i64,
        by_owner: bool,
    ) -> Result<Outcome, AssistantError> {
        let job = self
            .context(msg, send_channel, thread, now_ms, by_owner)
            .await?;
        match self.phases(&job).await {
            Ok(outcome) | Err(Stop::Done(outcome)) => Ok(outcome),
            Err(Stop::Failed(e)) => Err(e),
        }
    }

    async fn phases(&self, job: &Job<'_>) -> Result<Outcome, Stop> {
        self.check_probes(job).await?;
        self.check_model(job).await?;
        let text = self.generate(job).await?;
        let conf = job.confidence(&text);
        let confirmation = self.reply_run(job, &text, &conf).await?;
        let held = self
            .standing_approval(job, &confirmation, &text, conf.tier)
            .await?;
        Ok(self
            .ask_owner(job, confirmation, &text, conf.tier, held)
            .await?)
    }

    /// The contact's context from memory and the profile.
    async fn context<'a>(
        &self,
        msg: &'a Inbound,
        send_channel: &'a str,
        thread: &'a str,
        now_ms: i64,
        by_owner: bool,
    ) -> Result<Job<'a>, AssistantError> {
        let profile = self.owner.profile().get();
        let (m, p) = (msg.clone(), profile.clone());
        let ctx = self
            .store()
            .read(move |c| Ok(compose::gather(c, &m, &p, now_ms)?))
            .await?;
        Ok(Job {
            msg,
            send_channel,
            thread,
            by_owner,
            profile,
            name: ctx.name.clone(),
            quoted: msg.text.chars().take(200).collect(),
            ctx,
            agent: Self::agent_for(&msg.channel),
        })
    }

    /// The probes, then (for a contact's message) the model check: a probe is
    /// reported to the owner instead of drafted.
    async fn check_probes(&self, job: &Job<'_>) -> Result<(), Stop> {
        let (msg, name, quoted) = (job.msg, &job.name, &job.quoted);
        if let Some(probe) = probes::detect(&msg.text, &job.ctx.recent, job.ctx.location_denied) {
            let line = match probe {
                Probe::LifeThreat => format!(
                    "🚨 {name} may be in danger: \"{quoted}\" — reach them now (call 911 if needed)."
                ),
                p => format!(
                    "🛡 {name} {}: \"{quoted}\" — no draft; answer them yourself if you want.",
                    p.what()
                ),
            };
            self.tell_owner(&msg.channel, &line).await?;
            return Err(Stop::Done(Outcome::Probe { probe }));
        }
        if !job.by_owner
            && let Some(probe) = self.screen(msg, &Self::contact_actor(msg)).await?
        {
            let line = format!(
                "🛡 {name} {} (my model check flagged it): \"{quoted}\" — no draft; answer them yourself if you want.",
                probe.what()
            );
            self.tell_owner(&msg.channel, &line).await?;
            return Err(Stop::Done(Outcome::Probe { probe }));
        }
        Ok(())
    }

    /// A model for the agent's capability. Without one there is nothing to
    /// propose; the owner hears it once, not per message.
    async fn check_model(&self, job: &Job<'_>) -> Result<(), Stop> {
        let cap = self
            .owner
            .pipeline()
            .roster()
            .get(job.agent)
            .ok()
            .and_then(|s| s.capability.clone())
            .unwrap_or_else(|| "draft".into());
        if self.owner.pipeline().has_model(&cap) {
            return Ok(());
        }
        let first = self
            .store()
            .write(|c| {
                let told = owner_state::get(c, Key::NoDraftModelTold)?.is_some();
                if !told {
                    owner_state::set(c, Key::NoDraftModelTold, &serde_json::Value::Bool(true))?;
                }
                Ok(!told)
            })
            .await?;
        if first {
            self.tell_owner(
                &job.msg.channel,
                &format!(
                    "✍️ contacts are writing (e.g. {}), but I can't draft replies: {}. I won't repeat this.",
                    job.name,
                    crate::llm::no_model(&cap)
                ),
            )
            .await?;
        }
        Err(Stop::Done(ignored("no model for drafts")))
    }

    /// The draft run (`ask`), and once more with the guard's reason if the
    /// guards suppress the first answer: the text that passed them.
    async fn generate(&self, job: &Job<'_>) -> Result<String, Stop> {
        let (msg, name, quoted) = (job.msg, &job.name, &job.quoted);
        let dctx = job.guard_context();
        let mut rejected: Option<String> = None;
        for attempt in 0..2 {
            let answer = self.draft_run(job, attempt, rejected.as_deref()).await?;
            match draft::check(&answer, &dctx) {
                Verdict::Ok(t) => return Ok(t),
                Verdict::Suppress(why) => rejected = Some(why),
            }
        }
        let why = rejected.unwrap_or_default();
        self.tell_owner(
            &msg.channel,
            &format!("✍️ {name} wrote \"{quoted}\" — my drafts failed my checks ({why}); nothing was sent. Reply yourself."),
        )
        .await?;
        Err(Stop::Done(Outcome::NoDraft { why }))
    }

    /// One draft run (dedup `draft{attempt}:channel:external_id`): the model's answer.
    async fn draft_run(
        &self,
        job: &Job<'_>,
        attempt: usize,
        rejected: Option<&str>,
    ) -> Result<String, Stop> {
        let (msg, name, quoted) = (job.msg, &job.name, &job.quoted);
        let (trigger, actor) = job.trigger_and_actor();
        let prompt = compose::prompt(
            self.owner.prompts(),
            &job.ctx,
            msg,
            &job.profile,
            self.owner.name(),
            rejected,
        )
        .map_err(|e| Stop::Done(Outcome::NoDraft { why: e.to_string() }))?;
        let out = self
            .owner
            .pipeline()
            .run(RunRequest {
                agent: job.agent.into(),
                trigger,
                actor,
                input: msg.text.clone(),
                dedup_key: Some(format!(
                    "draft{attempt}:{}:{}",
                    msg.channel, msg.external_id
                )),
                plan: vec![Effect::Ask {
                    prompt,
                    json: false,
                }],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        if out.status != RunStatus::Succeeded {
            let why = out.reason.unwrap_or_else(|| out.status.as_str().into());
            let line = match out.status {
                RunStatus::Refused => {
                    format!("✍️ {name} wrote \"{quoted}\" — I can't draft a reply: {why}")
                }
                _ => format!("⚠️ couldn't draft a reply to {name} ({why}); nothing was sent."),
            };
            self.tell_owner(&msg.channel, &line).await?;
            return Err(Stop::Done(Outcome::NoDraft { why }));
        }
        let id = out.run_id.clone();
        Ok(self
            .store()
            .read(move |c| Ok(crate::pipeline::runs::model_answer(c, &id, None)?))
            .await?
            .unwrap_or_default())
    }

    /// The reply run (dedup `reply:channel:external_id`), which parks the
    /// draft as a confirmation: its id.
    async fn reply_run(
        &self,
        job: &Job<'_>,
        text: &str,
        conf: &Confidence,
    ) -> Result<String, Stop> {
        let msg = job.msg;
        let (trigger, actor) = job.trigger_and_actor();
        let out = self
            .owner
            .pipeline()
            .run(RunRequest {
                agent: job.agent.into(),
                trigger,
                actor,
                input: json!({ "inbound": msg.text, "confidence": conf }).to_string(),
                dedup_key: Some(format!("reply:{}:{}", msg.channel, msg.external_id)),
                plan: vec![Effect::Reply {
                    channel: job.send_channel.to_string(),
                    to: job.thread.to_string(),
                    text: text.to_string(),
                }],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        let Some(confirmation) = out.confirmations.first().cloned() else {
            let why = out.reason.unwrap_or_else(|| out.status.as_str().into());
            self.tell_owner(
                &msg.channel,
                &format!("⚠️ no draft for {}: {why}", job.name),
            )
            .await?;
            return Err(Stop::Done(Outcome::NoDraft { why }));
        };
        Ok(confirmation)
    }

    /// A HIGH draft to a contact with `auto send` in the profile is approved by
    /// that rule. A standing approval that the pipeline held (it repeats a
    /// recent send) falls through to asking the owner: the reason it was held.
    async fn standing_approval(
        &self,
        job: &Job<'_>,
        confirmation: &str,
        text: &str,
        tier: Tier,
    ) -> Result<Option<String>, Stop> {
        if tier != Tier::High {
            return Ok(None);
        }
        let Some(r) = job.ctx.relationship.as_ref().filter(|r| r.auto_send) else {
            return Ok(None);
        };
        let rule = format!(
            "auto send for {} in the owner profile (confidence high)",
            r.name
        );
        let sent = self
            .owner
            .pipeline()
            .approve_by_rule(confirmation, &rule)
            .await?;
        if sent.status == RunStatus::Waiting {
            return Ok(sent.reason);
        }
        self.tell_owner(
            &job.msg.channel,
            &format!(
                "🤖 sent to {} (your standing approval): \"{text}\"",
                job.name
            ),
        )
        .await?;
        Err(Stop::Done(Outcome::AutoSent {
            run_id: sent.run_id,
        }))
    }

    /// Number the draft in the owner's list and ask them (a draft the owner
    /// asked for is answered in their own chat instead).
    async fn ask_owner(
        &self,
        job: &Job<'_>,
        confirmation: String,
        text: &str,
        tier: Tier,
        held: Option<String>,
    ) -> Result<Outcome, AssistantError> {
        let c_id = confirmation.clone();
        let n = self
            .store()
            .write(move |c| {
                let pending = views::pending(c, owner_state::now_ms())?;
                let items: Vec<ListItem> = pending
                    .iter()
                    .map(|p| ListItem::Confirmation(p.id.clone()))
                    .collect();
                owner_state::set_list(c, &items)?;
                Ok(items
                    .iter()
                    .position(|i| *i == ListItem::Confirmation(c_id.clone()))
                    .map_or(1, |i| i + 1))
            })
            .await?;
        let mut prompt = self
            .confirm_line(job.msg, &job.name, &job.quoted, n, text, tier)
            .await?;
        if let Some(why) = held {
            prompt.push_str(&format!(" (not auto-sent: {why})"));
        }
        if !job.by_owner {
            let about = crate::pipeline::Regarding::Asks(confirmation.clone());
            self.ask_owner_about(&job.msg.channel, &prompt, Some(about))
                .await?;
        }
        Ok(Outcome::Drafted {
            confirmation,
            tier,
            prompt,
        })
    }

    /// The line that asks the owner: `✍️ 2 · Ann: "…" → draft: "…"`, and for
    /// mail `✉️ 2 · Ann Lee — Re: Friday: "…" → draft: "…"`.
    async fn confirm_line(
        &self,
        msg: &Inbound,
        name: &str,
        quoted: &str,
        n: usize,
        text: &str,
        tier: Tier,
    ) -> Result<String, AssistantError> {
        let mut icon = "✍️";
        let mut about = if msg.text.is_empty() {
            format!("to {name} (a check-in)")
        } else {
            format!("{name}: \"{quoted}\"")
        };
        if msg.channel == crate::bridges::email::CHANNEL {
            let thread = msg.chat_external_id.clone().unwrap_or_default();
            let parent = self
                .store()
                .read(move |c| Ok(crate::bridges::email::outbound::parent(c, &thread)?))
                .await?;
            let subject = parent.map(|p| crate::bridges::email::smtp::reply_subject(&p.subject));
            icon = "✉️";
            about = match (subject, msg.text.is_empty()) {
                (Some(s), false) => format!("{name} — {s}: \"{quoted}\""),
                (Some(s), true) => format!("to {name} — {s} (a check-in)"),
                (None, _) => about,
            };
        }
        Ok(format!(
            "{icon} {n} · {about} → draft: \"{text}\" ({} confidence) — reply \"{n} send\", \"{n} edit …\", \"{n} no\"",
            tier.as_str()
        ))
    }
}
