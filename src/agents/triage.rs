//! The scheduler's side of inbox-triage: one model run per new mail (dedup
//! key `triage:<Message-ID>`, so a mail is judged once however often the agent
//! fires), an action with a reply becomes a draft behind the owner's
//! confirmation (the `email-assistant`'s reply run, as if the contact
//! assistant had drafted it), and the owner hears one numbered line per
//! action. The cursor moves past each mail as it is judged. The daemon fires
//! it on new mail (`on_mail`) as well as on its meso schedule.

use rusqlite::Connection;
use serde_json::json;

use super::roster::triage::{self, Category, Mail, Triaged, Verdict};
use super::scheduler::{ScheduleError, Scheduler};
use crate::owner_state::{self as state, ListItem};
use crate::pipeline::{Actor, Effect, RunRequest, RunStatus, Trigger};

const AGENT: &str = "inbox-triage";
const REPLY_AGENT: &str = "email-assistant";

/// Whether a draft was made for this thread, or the contact assistant is
/// drafting this mail (it drafts a 1:1 mail on arrival): triage then does
/// not propose another.
fn drafted(conn: &Connection, thread: &str, message_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM confirmations WHERE channel = 'email' AND recipient = ?1)
             OR EXISTS (SELECT 1 FROM runs WHERE dedup_key IN (?2, ?3, ?4))",
        rusqlite::params![
            thread,
            format!("screen:email:{message_id}"),
            format!("draft0:email:{message_id}"),
            format!("reply:email:{message_id}")
        ],
        |r| r.get(0),
    )
}

impl Scheduler {
    /// Judge `mails`; returns the owner lines to send and the counts.
    pub(super) async fn triage(
        &self,
        mails: Vec<Mail>,
        channel: &str,
    ) -> Result<(Vec<Effect>, Triaged), ScheduleError> {
        let mut counts = Triaged::default();
        let mut plan = Vec::new();
        for mail in mails {
            let verdict = self.judge(&mail).await?;
            counts.add(verdict.category);
            if let Some(line) = self.propose(&mail, &verdict).await? {
                plan.push(Effect::NotifyOwner {
                    channel: channel.to_string(),
                    text: line,
                    regarding: None,
                });
            }
            let row = mail.row;
            self.store()
                .write(move |c| Ok(super::roster::set_cursor(c, AGENT, row)?))
                .await?;
        }
        if counts.triaged > 0 {
            plan.push(Effect::NotifyOwner {
                channel: channel.to_string(),
                text: format!(
                    "📥 triaged {} new mail{}: {} action, {} fyi, {} noise",
                    counts.triaged,
                    if counts.triaged == 1 { "" } else { "s" },
                    counts.action,
                    counts.fyi,
                    counts.noise
                ),
                regarding: None,
            });
        }
        Ok((plan, counts))
    }

    /// The model's verdict on one mail (lists and automatic mail are noise unasked).
    async fn judge(&self, mail: &Mail) -> Result<Verdict, ScheduleError> {
        if mail.bulk {
            let mut v = Verdict::fyi("a list or automatic mail");
            v.category = Category::Noise;
            return Ok(v);
        }
        if mail.text.trim().is_empty() {
            return Ok(Verdict::fyi("no text"));
        }
        let out = self
            .owner
            .pipeline()
            .run(RunRequest {
                agent: AGENT.into(),
                trigger: Trigger::Schedule,
                actor: Actor::Scheduler,
                input: json!({ "messageId": mail.message_id }).to_string(),
                dedup_key: Some(format!("triage:{}", mail.message_id)),
                plan: vec![Effect::Ask {
                    prompt: triage::prompt(mail),
                    json: true,
                }],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        if out.status != RunStatus::Succeeded {
            let why = out.reason.unwrap_or_else(|| out.status.as_str().into());
            return Ok(Verdict::fyi(&format!("not judged: {why}")));
        }
        Ok(triage::parse(&self.model_answer(out.run_id).await?))
    }

    /// For an action with a reply: a draft behind a confirmation and the
    /// owner's numbered line. None when there is nothing to propose.
    async fn propose(&self, mail: &Mail, v: &Verdict) -> Result<Option<String>, ScheduleError> {
        let Some(body) = v.reply() else {
            return Ok(None);
        };
        let (thread, id) = (mail.thread.clone(), mail.message_id.clone());
        if self
            .store()
            .read(move |c| Ok(drafted(c, &thread, &id)?))
            .await?
        {
            return Ok(None);
        }
        let out = self
            .owner
            .pipeline()
            .run(RunRequest {
                agent: REPLY_AGENT.into(),
                // On the contact's mail, as the contact assistant would have drafted it.
                trigger: Trigger::Contact,
                actor: Actor::Handle {
                    channel: crate::bridges::email::CHANNEL.into(),
                    handle: mail.handle.clone(),
                },
                input: json!({ "triage": mail.message_id, "reason": v.reason }).to_string(),
                dedup_key: Some(format!("triage-reply:{}", mail.message_id)),
                plan: vec![Effect::Reply {
                    channel: crate::bridges::email::CHANNEL.into(),
                    to: mail.thread.clone(),
                    text: body.to_string(),
                }],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        let Some(confirmation) = out.confirmations.first().cloned() else {
            let why = out.reason.unwrap_or_else(|| out.status.as_str().into());
            return Ok(Some(format!(
                "📥 {} — {}: needs you ({}); no draft: {why}",
                mail.from, mail.subject, v.reason
            )));
        };
        let now = self.owner.now().as_millisecond();
        let n = self
            .store()
            .write(move |c| {
                let items: Vec<ListItem> = crate::commands::views::pending(c, now)?
                    .iter()
                    .map(|p| ListItem::Confirmation(p.id.clone()))
                    .collect();
                state::set_list(c, &items)?;
                Ok(items
                    .iter()
                    .position(|i| *i == ListItem::Confirmation(confirmation.clone()))
                    .map_or(1, |i| i + 1))
            })
            .await?;
        Ok(Some(format!(
            "📥 {n} · {} — {}: {} → draft: \"{body}\" — reply \"{n} send\", \"{n} edit …\", \"{n} no\"",
            mail.from,
            crate::bridges::email::smtp::reply_subject(&mail.subject),
            v.reason
        )))
    }
}

/// Quiet time after new mail before triage runs, so a burst is one run and
/// the contact assistant has begun its own draft of a 1:1 mail.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(20);

/// Run inbox-triage when new mail arrives on the bus (after `SETTLE` without more).
pub async fn on_mail(
    scheduler: Scheduler,
    mut rx: tokio::sync::broadcast::Receiver<crate::types::Inbound>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let is_mail =
        |m: &crate::types::Inbound| m.channel == crate::bridges::email::CHANNEL && !m.from_me;
    loop {
        match rx.recv().await {
            Ok(m) if is_mail(&m) => {}
            Ok(_) | Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
        // Let the burst settle.
        while let Ok(Ok(_) | Err(RecvError::Lagged(_))) =
            tokio::time::timeout(SETTLE, rx.recv()).await
        {}
        match scheduler.run_now(AGENT, "").await {
            Ok(out) => {
                tracing::info!(run = %out.run_id, status = out.status.as_str(), "inbox-triage ran on new mail")
            }
            Err(e) => tracing::info!(error = %e, "inbox-triage did not run on new mail"),
        }
    }
}
