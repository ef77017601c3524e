//! The scheduler's side of the domain trackers: one model run per matching
//! mail (dedup key `track:<agent>:<Message-ID>`, so a mail is read once
//! however often the tracker fires), its `{records, obligations}` kept, each
//! new obligation told to the owner once through the nudge gate, and a weekly
//! coach brief. The cursor moves past each mail as it is read.

use serde::Serialize;
use serde_json::json;

use super::nudge::Nudge;
use super::roster::tracker::{self, Extract, Mail, Pending};
use super::roster::{self, Tick};
use super::scheduler::{ScheduleError, Scheduler};
use crate::pipeline::{Actor, Effect, RunRequest, RunStatus, Trigger};
use crate::spec::AgentSpec;

/// What a tracker's run reports (`tracked`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracked {
    pub mails: u32,
    pub records: u32,
    pub obligations: u32,
    /// Mails the model could not read (it failed, or its answer was junk).
    pub unread: u32,
}

impl Scheduler {
    /// Read `pending` for `spec`; the nudges to pass through the gate and the counts.
    pub(super) async fn track(
        &self,
        spec: &AgentSpec,
        pending: Pending,
        tick: &Tick,
    ) -> Result<(Vec<Nudge>, Tracked), ScheduleError> {
        let domain = spec.domain.clone().unwrap_or_default();
        let mut counts = Tracked::default();
        let mut nudges = Vec::new();
        for mail in &pending.mails {
            counts.mails += 1;
            match self.extract(spec, &domain, tick, mail).await? {
                Some(e) => {
                    counts.records += e.records.len() as u32;
                    counts.obligations += e.obligations.len() as u32;
                    nudges.extend(self.keep(spec, &domain, tick, mail, e).await?);
                }
                None => counts.unread += 1,
            }
            self.move_cursor(spec, mail.row).await?;
        }
        self.move_cursor(spec, pending.scanned_to).await?;
        let (agent, d, tz, now) = (
            spec.name.clone(),
            domain.clone(),
            tick.tz.clone(),
            tick.now_ms,
        );
        let week = iso_week(tick);
        let coach = self
            .store()
            .write(move |c| Ok(tracker::coach(c, &agent, &d, &week, &tz, now)?))
            .await?;
        if let Some(text) = coach {
            nudges.push(Nudge::new(
                format!("coach:{}:{}", spec.name, iso_week(tick)),
                text,
            ));
        }
        Ok((nudges, counts))
    }

    /// The model's extract from one mail; None when it could not be read.
    async fn extract(
        &self,
        spec: &AgentSpec,
        domain: &str,
        tick: &Tick,
        mail: &Mail,
    ) -> Result<Option<Extract>, ScheduleError> {
        let out = self
            .owner
            .pipeline()
            .run(RunRequest {
                agent: spec.name.clone(),
                trigger: Trigger::Schedule,
                actor: Actor::Scheduler,
                input: json!({ "messageId": mail.message_id }).to_string(),
                dedup_key: Some(format!("track:{}:{}", spec.name, mail.message_id)),
                plan: vec![Effect::Ask {
                    prompt: tracker::prompt(domain, tick.zoned().date(), mail),
                    json: true,
                }],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        if out.status != RunStatus::Succeeded {
            // Refused (budget, kill switch) or failed: the cursor moves on, so
            // count it as not read. A duplicate (read before a crash) is read
            // again from its answer; keeping it twice changes nothing.
            return Ok(None);
        }
        let answer = self.model_answer(out.run_id).await?;
        match tracker::parse(&answer) {
            Ok(e) => Ok(Some(e)),
            Err(why) => {
                tracing::info!(agent = %spec.name, why, "a tracker's model answer was unusable");
                Ok(None)
            }
        }
    }

    /// Keep `e`; a nudge for each obligation it made new.
    async fn keep(
        &self,
        spec: &AgentSpec,
        domain: &str,
        tick: &Tick,
        mail: &Mail,
        e: Extract,
    ) -> Result<Vec<Nudge>, ScheduleError> {
        let (agent, d, m, tz, now) = (
            spec.name.clone(),
            domain.to_string(),
            mail.clone(),
            tick.tz.clone(),
            tick.now_ms,
        );
        let new = self
            .store()
            .write(move |c| Ok(tracker::keep(c, &agent, &d, &m, &e, &tz, now)?))
            .await?;
        Ok(new
            .iter()
            .enumerate()
            .map(|(i, (o, commitment))| Nudge {
                key: format!("track:{}:{}:{i}", spec.name, mail.message_id),
                text: tracker::obligation_line(domain, o, mail, commitment.is_some()),
                urgent: false,
                item: commitment.map(crate::owner_state::ListItem::Commitment),
            })
            .collect())
    }

    async fn move_cursor(&self, spec: &AgentSpec, row: i64) -> Result<(), ScheduleError> {
        let agent = spec.name.clone();
        self.store()
            .write(move |c| {
                if row > roster::cursor(c, &agent)? {
                    roster::set_cursor(c, &agent, row)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// `2026-W49` in the owner's zone.
fn iso_week(tick: &Tick) -> String {
    let w = tick.zoned().date().iso_week_date();
    format!("{}-W{:02}", w.year(), w.week())
}
