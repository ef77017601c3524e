//! The scheduler: every scheduled agent's slots, in the owner's zone, each a
//! pipeline run with the dedup key `agent:slot` so a slot never runs twice,
//! even across restarts. After sleep or downtime each agent runs once for its
//! latest missed slot. Held nudges are released when the hold ends.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::cron;
use super::nudge::{self, Nudge};
use super::roster::{self, Tick, Work};
use crate::commands::Owner;
use crate::config::QuietHours;
use crate::owner_state::{self, ListItem};
use crate::pipeline::{Actor, Effect, PipelineError, RunOutcome, RunRequest, Trigger, runs};
use crate::spec::{AgentSpec, Tier};
use crate::store::StoreError;

/// Longest sleep between ticks, so a wall-clock jump (the Mac slept) is noticed.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{agent} cannot run here: {why}")]
    Needs { agent: String, why: String },
    #[error("{0}")]
    Unknown(String),
}

impl From<rusqlite::Error> for ScheduleError {
    fn from(e: rusqlite::Error) -> Self {
        ScheduleError::Store(StoreError::from(e))
    }
}

pub use crate::clock::{Clock, SystemClock, TokioClock};

pub fn enabled(conn: &Connection, spec: &AgentSpec) -> rusqlite::Result<bool> {
    let set: Option<Option<bool>> = conn
        .query_row(
            "SELECT enabled FROM agent_state WHERE agent = ?1",
            [&spec.name],
            |r| r.get(0),
        )
        .optional()?;
    Ok(set.flatten().unwrap_or(spec.disabled.is_none()))
}

pub fn set_enabled(conn: &Connection, agent: &str, on: bool) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO agent_state (agent, enabled, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (agent) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
        params![agent, on, Timestamp::now().to_string()],
    )?;
    Ok(())
}

fn last_slot(conn: &Connection, agent: &str) -> rusqlite::Result<Option<Timestamp>> {
    Ok(conn
        .query_row(
            "SELECT last_slot FROM agent_state WHERE agent = ?1",
            [agent],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten()
        .and_then(|s| s.parse().ok()))
}

fn set_last_slot(conn: &Connection, agent: &str, slot: Timestamp) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO agent_state (agent, last_slot, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (agent) DO UPDATE SET last_slot = excluded.last_slot, updated_at = excluded.updated_at",
        params![agent, slot.to_string(), Timestamp::now().to_string()],
    )?;
    Ok(())
}

#[derive(Clone)]
pub struct Scheduler {
    pub(super) owner: Owner,
    quiet: QuietHours,
    http: reqwest::Client,
}

impl Scheduler {
    pub fn new(owner: Owner, quiet: QuietHours) -> Self {
        Scheduler {
            owner,
            quiet,
            http: crate::tls::http_client()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
        }
    }

    pub(super) fn store(&self) -> &crate::store::Store {
        self.owner.pipeline().store()
    }

    fn specs(&self) -> Vec<AgentSpec> {
        self.owner
            .pipeline()
            .roster()
            .specs
            .values()
            .cloned()
            .collect()
    }

    /// Fire every agent whose slot has come (one catch-up each after a gap) and
    /// release held nudges. Returns the runs started.
    pub async fn tick(&self, now: Timestamp) -> Result<Vec<RunOutcome>, ScheduleError> {
        let tz = self.owner.tz();
        let tick = Tick::at(now, &tz).reaching(self.owner.pipeline().channels());
        let store = self.owner.pipeline().store();
        store.write(|c| Ok(roster::scan_life_events(c)?)).await?;
        let mut out = Vec::new();
        if let Some(run) = self.release(&tick).await? {
            out.push(run);
        }
        for spec in self.specs() {
            if spec.tier == Tier::Nano {
                continue;
            }
            let (Some(cron), _) = cron::effective(spec.tier, spec.cron.as_deref()) else {
                continue;
            };
            let s = spec.clone();
            let (on, last) = store
                .read(move |c| Ok((enabled(c, &s)?, last_slot(c, &s.name)?)))
                .await?;
            if !on || roster::needs(&spec).is_some() {
                continue;
            }
            let Some(last) = last else {
                // First sight: start counting from now, nothing is "missed".
                let name = spec.name.clone();
                store
                    .write(move |c| Ok(set_last_slot(c, &name, now)?))
                    .await?;
                continue;
            };
            let Some(slot) = cron.last_in(last, now, &tz) else {
                continue;
            };
            match self.fire(&spec, Some(slot), now).await {
                Ok(run) => out.push(run),
                Err(e) => tracing::warn!(agent = %spec.name, error = %e, "a scheduled run failed"),
            }
            let name = spec.name.clone();
            store
                .write(move |c| Ok(set_last_slot(c, &name, slot)?))
                .await?;
        }
        Ok(out)
    }

    /// The earliest next slot of any enabled scheduled agent.
    pub async fn next_wake(&self, now: Timestamp) -> Option<Timestamp> {
        let tz = self.owner.tz();
        self.specs()
            .iter()
            .filter(|s| s.tier != Tier::Nano && roster::needs(s).is_none())
            .filter_map(|s| cron::effective(s.tier, s.cron.as_deref()).0)
            .filter_map(|c| c.next_after(now, &tz))
            .min()
    }

    /// Tick until `stop` resolves, sleeping until the next slot (at most a minute).
    pub async fn run(self, clock: Arc<dyn Clock>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let now = clock.now();
            if let Err(e) = self.tick(now).await {
                tracing::warn!(error = %e, "scheduler tick failed");
            }
            let wait = self
                .next_wake(now)
                .await
                .and_then(|t| t.duration_since(clock.now()).try_into().ok())
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Release held nudges now if nothing holds them (focus just ended).
    pub async fn release_now(&self) -> Result<Option<RunOutcome>, ScheduleError> {
        let tick =
            Tick::at(self.owner.now(), &self.owner.tz()).reaching(self.owner.pipeline().channels());
        self.release(&tick).await
    }

    /// Held nudges go out as one message once nothing holds them.
    async fn release(&self, tick: &Tick) -> Result<Option<RunOutcome>, ScheduleError> {
        let (quiet, t) = (self.quiet, tick.clone());
        let texts = self
            .owner
            .pipeline()
            .store()
            .write(move |c| {
                if roster::hold(c, &quiet, &t)?.is_some() {
                    return Ok(Vec::new());
                }
                Ok(nudge::release(c, t.now_ms)?)
            })
            .await?;
        if texts.is_empty() {
            return Ok(None);
        }
        let text = format!("📥 while you were heads-down:\n{}", texts.join("\n"));
        let channel = self.owner.pipeline().settings().owner_channel.clone();
        Ok(Some(
            self.owner
                .pipeline()
                .run(RunRequest {
                    agent: "focus-guardian".into(),
                    trigger: Trigger::Schedule,
                    actor: Actor::Scheduler,
                    input: String::new(),
                    dedup_key: None,
                    plan: vec![Effect::NotifyOwner {
                        channel,
                        text,
                        regarding: None,
                    }],
                    forecast_usd: crate::spec::Usd(0),
                })
                .await?,
        ))
    }

    /// One run of `spec`: for `slot` (scheduled, deduplicated) or now (by hand).
    pub async fn fire(
        &self,
        spec: &AgentSpec,
        slot: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<RunOutcome, ScheduleError> {
        let tick = Tick::at(now, &self.owner.tz()).reaching(self.owner.pipeline().channels());
        let store = self.owner.pipeline().store();
        let dedup = slot.map(|s| format!("{}:{}", spec.name, s));
        if let Some(key) = dedup.clone()
            && let Some(run) = store
                .read(move |c| Ok(runs::by_dedup_key(c, &key)?))
                .await?
        {
            return Ok(RunOutcome {
                run_id: run.id,
                status: run.status,
                reason: run.reason,
                confirmations: Vec::new(),
                duplicate: true,
            });
        }
        let (s, t) = (spec.clone(), tick.clone());
        let work = store.write(move |c| Ok(roster::work(c, &s, &t)?)).await?;
        let channel = self.owner.pipeline().settings().owner_channel.clone();
        let mut input = json!({ "slot": slot.map(|s| s.to_string()) });
        let mut sent_keys = Vec::new();
        let plan = self
            .plan(spec, work, &tick, &channel, &mut input, &mut sent_keys)
            .await?;
        let plan = if plan.is_empty() {
            vec![Effect::Noop]
        } else {
            plan
        };
        let (trigger, actor) = match slot {
            Some(_) => (Trigger::Schedule, Actor::Scheduler),
            None => (Trigger::Manual, Actor::Console),
        };
        let out = self
            .owner
            .pipeline()
            .run(RunRequest {
                agent: spec.name.clone(),
                trigger,
                actor,
                input: input.to_string(),
                dedup_key: dedup,
                plan,
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        if out.status == crate::pipeline::RunStatus::Refused && !sent_keys.is_empty() {
            // Never delivered: forget them so a later run may nudge again.
            store
                .write(move |c| {
                    for k in &sent_keys {
                        c.execute("DELETE FROM nudges WHERE dedup_key = ?1", [k])?;
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(out)
    }

    /// The run's effects for `work` (nudges gated, the brief, triaged mail);
    /// what the run reports goes into `input`, nudge keys into `sent_keys`.
    async fn plan(
        &self,
        spec: &AgentSpec,
        work: Work,
        tick: &Tick,
        channel: &str,
        input: &mut serde_json::Value,
        sent_keys: &mut Vec<String>,
    ) -> Result<Vec<Effect>, ScheduleError> {
        let store = self.owner.pipeline().store();
        Ok(match work {
            Work::Needs(why) => {
                return Err(ScheduleError::Needs {
                    agent: spec.name.clone(),
                    why,
                });
            }
            Work::SignalDriven => vec![Effect::Noop],
            Work::Feeds(feeds) => {
                let report = roster::radar::fetch_all(store, &self.http, &feeds, tick.now_ms).await;
                input["feeds"] = serde_json::to_value(&report).unwrap_or_default();
                vec![Effect::Noop]
            }
            Work::Brief(text) => {
                let date = tick.zoned().date();
                let key = format!("brief:{date}");
                let mut plan = self
                    .gated(
                        spec,
                        vec![Nudge::new(key.clone(), text.clone())],
                        tick,
                        channel,
                        sent_keys,
                    )
                    .await?;
                if !plan.is_empty() && self.has_model(spec) {
                    plan.push(Effect::Ask {
                        prompt: format!(
                            "Summarise this morning brief for the owner in two short sentences: what matters most today.\n\n{text}"
                        ),
                        json: false,
                    });
                    plan.push(Effect::Relay {
                        channel: channel.to_string(),
                    });
                }
                plan
            }
            Work::Nudges(nudges) => self.gated(spec, nudges, tick, channel, sent_keys).await?,
            Work::Triage(mails) => {
                if !mails.is_empty() && !self.has_model(spec) {
                    return Err(self.no_model(spec));
                }
                let (plan, counts) = self.triage(mails, channel).await?;
                input["inboxTriaged"] = serde_json::to_value(counts).unwrap_or_default();
                plan
            }
            Work::Track(pending) => {
                if !pending.mails.is_empty() && !self.has_model(spec) {
                    return Err(self.no_model(spec));
                }
                let (nudges, counts) = self.track(spec, pending, tick).await?;
                input["tracked"] = serde_json::to_value(counts).unwrap_or_default();
                self.gated(spec, nudges, tick, channel, sent_keys).await?
            }
        })
    }

    /// `steward agents run NAME`: a roster agent's own behaviour now; any other
    /// agent asks its model with `input` (or leaves a receipt if it has none).
    pub async fn run_now(&self, name: &str, input: &str) -> Result<RunOutcome, ScheduleError> {
        let spec = self
            .owner
            .pipeline()
            .roster()
            .get(name)
            .map_err(ScheduleError::Unknown)?
            .clone();
        if let Some(why) = roster::needs(&spec) {
            return Err(ScheduleError::Needs {
                agent: spec.name,
                why,
            });
        }
        if roster::has_behaviour(&spec) {
            return self.fire(&spec, None, self.owner.now()).await;
        }
        Ok(self
            .owner
            .pipeline()
            .run(RunRequest {
                agent: spec.name.clone(),
                trigger: Trigger::Manual,
                actor: Actor::Console,
                input: input.to_string(),
                dedup_key: None,
                plan: super::manual_plan(&spec, input),
                forecast_usd: crate::spec::Usd(0),
            })
            .await?)
    }

    /// What the model answered in run `id` ("" if nothing).
    pub(super) async fn model_answer(&self, id: String) -> Result<String, ScheduleError> {
        Ok(self
            .store()
            .read(move |c| Ok(runs::model_answer(c, &id, None)?))
            .await?
            .unwrap_or_default())
    }

    fn no_model(&self, spec: &AgentSpec) -> ScheduleError {
        ScheduleError::Needs {
            agent: spec.name.clone(),
            why: crate::llm::no_model(spec.capability.as_deref().unwrap_or("fast")),
        }
    }

    fn has_model(&self, spec: &AgentSpec) -> bool {
        spec.capability
            .as_deref()
            .is_some_and(|c| self.owner.pipeline().has_model(c))
    }

    /// Pass nudges through the gate; the owner messages for those sent now.
    async fn gated(
        &self,
        spec: &AgentSpec,
        nudges: Vec<Nudge>,
        tick: &Tick,
        channel: &str,
        sent_keys: &mut Vec<String>,
    ) -> Result<Vec<Effect>, ScheduleError> {
        if nudges.is_empty() {
            return Ok(Vec::new());
        }
        let (name, quiet, t) = (spec.name.clone(), self.quiet, tick.clone());
        let sent = self
            .owner
            .pipeline()
            .store()
            .write(move |c| {
                let hold = roster::hold(c, &quiet, &t)?;
                let gated = nudge::gate(c, &name, nudges, hold, t.now_ms, t.day_start_ms)?;
                if name == "concierge" {
                    roster::owner_loops::concierge_sent(c, &gated.send, t.now_ms)?;
                }
                let items: Vec<ListItem> =
                    gated.send.iter().filter_map(|n| n.item.clone()).collect();
                if !items.is_empty() {
                    owner_state::set_list(c, &items)?;
                }
                Ok(gated.send)
            })
            .await?;
        let mut n = 0;
        let mut plan = Vec::new();
        for s in sent {
            sent_keys.push(s.key.clone());
            let text = if s.item.is_some() {
                n += 1;
                let numbered = match s.text.strip_prefix("📌 ") {
                    Some(rest) => format!("📌 {n} · {rest}"),
                    None => format!("{n} · {}", s.text),
                };
                numbered
                    .replace("\"N draft\"", &format!("\"{n} draft\""))
                    .replace("\"N done\"", &format!("\"{n} done\""))
            } else {
                s.text
            };
            plan.push(Effect::NotifyOwner {
                channel: channel.to_string(),
                text,
                regarding: None,
            });
        }
        Ok(plan)
    }
}
