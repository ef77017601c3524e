//! The governed run pipeline: the only way anything acts.
//!
//! `Pipeline::run(RunRequest)` admits a run through identity → policy → budget
//! in one transaction (every decision journaled and appended to the audit
//! chain), parks contact-facing steps as pending confirmations, executes the
//! rest as journaled, idempotent steps, and ends every run, refused ones
//! included, with an audit entry and an Ed25519 receipt.
//!
//! Bypass is impossible by construction: a bridge's contact send takes a
//! [`ConfirmedSend`], whose only constructor reads an approved confirmation row
//! whose decision is signed and audited (`approval`);
//! its owner send takes an [`OwnerSend`], constructible only inside this module.
//! Only the process holding the home's pid lock builds a `Pipeline` that executes.

pub mod anchor;
pub mod approval;
pub mod audit;
pub mod budget;
pub mod confirm;
mod decide;
mod documents;
mod execute;

pub mod forecast;
mod forward;
pub mod gates;
mod hold;
pub mod integrity;
pub mod journal;
pub mod request;
pub mod runs;
pub mod trim;
pub mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use serde_json::json;

pub use confirm::{ConfirmedSend, Decision};
pub use documents::OwnerRead;
pub use request::{Actor, Effect, Regarding, RunOutcome, RunRequest, RunStatus, Trigger};

use crate::bridges::Bridges;
use crate::canonical;
use crate::spec::{AgentSpec, Roster, Usd};
use crate::store::{Store, StoreError};
use crate::types::StepKey;
use audit::Record;
use gates::{Identity, OwnerIdentities};

/// A message for the owner's own chat. Only the pipeline creates one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerSend {
    channel: String,
    text: String,
    regarding: Option<Regarding>,
}

impl OwnerSend {
    fn new(channel: &str, text: &str, regarding: Option<Regarding>) -> Self {
        OwnerSend {
            channel: channel.to_string(),
            text: text.to_string(),
            regarding,
        }
    }
    /// What the message is about (a draft's buttons, their outcome).
    pub fn regarding(&self) -> Option<&Regarding> {
        self.regarding.as_ref()
    }
    pub fn channel(&self) -> &str {
        &self.channel
    }
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no confirmation {0:?}; `steward confirm list` shows the pending ones")]
    NoConfirmation(String),
    #[error("confirmation {id} is already {status}; nothing changed")]
    AlreadyDecided { id: String, status: String },
    #[error("confirmation {0} expired before it was answered; nothing was sent")]
    Expired(String),
    #[error("only the owner may decide a confirmation; {0} is not the owner")]
    NotOwner(String),
    #[error("the edited text must be 1-{max} characters", max = request::MAX_TEXT_CHARS)]
    BadEdit,
    #[error("no run {0:?}")]
    NoRun(String),
    #[error("Steward will not act: {0}")]
    Sealed(String),
    #[error("the kill switch is on: nothing is sent until the owner says `kill switch off`")]
    KillSwitch,
    #[error("{0}")]
    Anchor(String),
}

impl From<rusqlite::Error> for PipelineError {
    fn from(e: rusqlite::Error) -> Self {
        PipelineError::Store(StoreError::from(e))
    }
}

/// Settings the pipeline takes from steward.yaml.
#[derive(Debug, Clone)]
pub struct Settings {
    pub global_cap: Usd,
    pub confirm_ttl: jiff::SignedDuration,
    pub timezone: jiff::tz::TimeZone,
    pub owners: OwnerIdentities,
    /// Where the pipeline's own messages to the owner go (budget notices).
    pub owner_channel: String,
}

impl Settings {
    pub fn from_config(config: &crate::config::Config) -> Settings {
        Settings {
            global_cap: Usd::try_from(config.budget.max_cost_usd_per_day).unwrap_or(Usd(0)),
            confirm_ttl: jiff::SignedDuration::from_mins(i64::from(config.confirm.ttl_minutes)),
            timezone: config.owner.timezone.zone(),
            owners: OwnerIdentities::new(&config.owner.handles, config.owner.region.as_str()),
            // The self-chat bridges take this over when they arrive.
            owner_channel: crate::bridges::console::CHANNEL.to_string(),
        }
    }
}

/// Shared, immutable parts handed into store closures.
struct Inner {
    key: SigningKey,
    fingerprint: String,
    roster: Roster,
    settings: Settings,
    bridges: Bridges,
    fault: crate::fault::Fault,
    models: crate::llm::Router,
    /// Where heavy runs go; `None` refuses agents that need it.
    runtime: Option<crate::runtime::Runtime>,
    /// The audit seq last written to `<home>/audit.head`.
    anchored: std::sync::atomic::AtomicI64,
    /// "Today" (budgets), "this week" (news) and "due" are decided by this clock.
    clock: Arc<dyn crate::clock::Clock>,
    /// Set when the store fails its integrity check: every run is refused.
    sealed: Mutex<Option<String>>,
    // One executor per run at a time, so two approvals of one run cannot race.
    executing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    inner: Arc<Inner>,
}

impl Pipeline {
    pub fn new(
        store: Store,
        key: SigningKey,
        roster: Roster,
        settings: Settings,
        bridges: Bridges,
    ) -> Self {
        let fingerprint = crate::keys::fingerprint(&key);
        Pipeline {
            store,
            inner: Arc::new(Inner {
                key,
                fingerprint,
                roster,
                settings,
                bridges,
                fault: crate::fault::Fault::from_env(),
                models: crate::llm::Router::default(),
                runtime: None,
                anchored: std::sync::atomic::AtomicI64::new(-1),
                clock: Arc::new(crate::clock::SystemClock),
                sealed: Mutex::new(None),
                executing: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The models `ask` steps use. Call before the pipeline is shared.
    pub fn with_models(mut self, models: crate::llm::Router) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_models is called right after new()")
            .models = models;
        self
    }

    /// The remote runtime `forward` steps use. Call before the pipeline is shared.
    pub fn with_runtime(mut self, runtime: Option<crate::runtime::Runtime>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_runtime is called right after new()")
            .runtime = runtime;
        self
    }

    /// The clock that decides "today" and "due". Call before the pipeline is shared.
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_clock is called right after new()")
            .clock = clock;
        self
    }

    /// Now, by the pipeline's clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.inner.clock.now()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
    /// Whether `actor` is the owner (the console, or one of the owner's handles).
    pub fn is_owner(&self, actor: &Actor) -> bool {
        gates::identity(actor, &self.inner.settings.owners) == Identity::Owner
    }
    /// Whether an owner handle is written like a phone number (see
    /// `OwnerIdentities::may_hold_phone`).
    pub fn owner_may_have_phone(&self) -> bool {
        self.inner.settings.owners.may_hold_phone()
    }
    /// Whether a model is configured for `capability`.
    pub fn has_model(&self, capability: &str) -> bool {
        self.inner.models.has(capability, false)
    }

    /// Whether `agent` may ask a model now: its capability is configured, on
    /// this machine when its spec is locked to local models. Lets a caller
    /// skip an optional model step instead of collecting refused runs.
    pub fn can_ask(&self, agent: &str) -> bool {
        let Ok(spec) = self.inner.roster.get(agent) else {
            return false;
        };
        let local_only = spec.model_lock == Some(crate::spec::ModelLock::Local);
        spec.capability
            .as_deref()
            .is_some_and(|cap| self.inner.models.has(cap, local_only))
    }

    /// The channels this process has bridges for.
    pub fn channels(&self) -> Vec<&'static str> {
        self.inner.bridges.channels()
    }

    /// Whether `channel`'s bridge can carry messages to the owner.
    pub fn reaches_owner(&self, channel: &str) -> bool {
        self.inner
            .bridges
            .get(channel)
            .is_ok_and(|b| b.capabilities().owner_sends)
    }

    /// The bridges this process sends through (a reader shares its bridge's session).
    pub fn bridges(&self) -> &crate::bridges::Bridges {
        &self.inner.bridges
    }

    /// Each bridge's health, for `status` and the dashboard.
    pub fn bridge_health(&self) -> Vec<crate::bridges::Health> {
        self.inner.bridges.health()
    }
    pub fn roster(&self) -> &Roster {
        &self.inner.roster
    }
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.inner.key.verifying_key()
    }
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The forecast for `agent` given `input` and `calls` model calls (see `forecast`).
    pub async fn forecast(
        &self,
        agent: &str,
        input: &str,
        calls: u32,
    ) -> Result<forecast::Forecast, PipelineError> {
        let inner = Arc::clone(&self.inner);
        let (agent, input) = (agent.to_string(), input.to_string());
        Ok(self
            .store
            .read(move |c| {
                let spec = inner.roster.get(&agent).ok();
                Ok(forecast::forecast(
                    c,
                    &agent,
                    spec,
                    &inner.models,
                    &input,
                    calls,
                )?)
            })
            .await?)
    }

    /// The owner's local day now (budgets count per local day).
    pub fn today(&self) -> String {
        self.now()
            .to_zoned(self.inner.settings.timezone.clone())
            .date()
            .to_string()
    }

    /// Admit, gate and (as far as confirmations allow) execute one run.
    pub async fn run(&self, mut req: RunRequest) -> Result<RunOutcome, PipelineError> {
        // A run that asks a model reserves its worst case (every call writing up
        // to its cap) even if the caller gave no forecast, and goes to the
        // remote runtime when its agent or its size says so.
        let prompts: Vec<&str> = req
            .plan
            .iter()
            .filter_map(|e| match e {
                Effect::Ask { prompt, .. } => Some(prompt.as_str()),
                _ => None,
            })
            .collect();
        if !prompts.is_empty() {
            let calls = prompts.len() as u32;
            let f = self.forecast(&req.agent, &prompts.concat(), calls).await?;
            if req.forecast_usd.micros() == 0 {
                req.forecast_usd = Usd(f.worst_case_micros);
            }
            forward::route(&self.inner, &mut req, f.tokens_in + f.tokens_out);
        }
        let inner = Arc::clone(&self.inner);
        let day = self.today();
        let admitted = self
            .store
            .write(move |c| Ok(admit(c, &inner, req, &day)?))
            .await?;
        let outcome = match admitted {
            Admitted::Done(outcome) => outcome,
            Admitted::Execute(run_id) => self.execute(&run_id).await?,
        };
        self.anchor_after_work().await;
        Ok(outcome)
    }

    fn ensure_unsealed(&self) -> Result<(), PipelineError> {
        match self
            .inner
            .sealed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(reason) => Err(PipelineError::Sealed(reason)),
            None => Ok(()),
        }
    }

    /// Continue every run a previous process left running or waiting.
    pub async fn resume(&self) -> Result<Vec<RunOutcome>, PipelineError> {
        if self.ensure_unsealed().is_err() {
            // Leave unfinished runs as they are; the owner repairs first.
            return Ok(Vec::new());
        }
        self.expire_due().await?;
        let ids = self.store.read(|c| Ok(runs::unfinished(c)?)).await?;
        let mut out = Vec::new();
        for id in ids {
            out.push(self.execute(&id).await?);
        }
        self.anchor_after_work().await;
        Ok(out)
    }
}

enum Admitted {
    Done(RunOutcome),
    Execute(String),
}

fn new_id(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let millis = jiff::Timestamp::now().as_millisecond();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut rand = [0u8; 4];
    // Time + counter keep ids unique in this process even if the RNG fails.
    let _ = getrandom::fill(&mut rand);
    format!("{prefix}{millis:012x}{n:04x}{}", hex::encode(rand))
}

/// A short id the owner can type in self-chat.
fn confirmation_id(conn: &rusqlite::Connection) -> rusqlite::Result<String> {
    loop {
        let mut b = [0u8; 3];
        let _ = getrandom::fill(&mut b);
        let id = hex::encode(b);
        if confirm::state(conn, &id)?.is_none() {
            return Ok(id);
        }
    }
}

fn gate_record(
    conn: &rusqlite::Connection,
    run_id: &str,
    actor: &str,
    gate: &str,
    result: &Result<(), String>,
) -> rusqlite::Result<()> {
    let (decision, reason) = match result {
        Ok(()) => ("allow", None),
        Err(r) => ("refuse", Some(r.as_str())),
    };
    let payload = json!({ "gate": gate, "decision": decision, "reason": reason });
    journal::append(conn, run_id, &format!("gate.{gate}"), &payload)?;
    audit::append(
        conn,
        &Record {
            run_id: Some(run_id),
            kind: "gate",
            actor,
            subject: gate,
            decision,
            payload: &payload,
        },
    )?;
    Ok(())
}

/// Admission: dedup, then the gates, in one transaction. Refusals end here with
/// a receipt; runs without side effects finish here too (one commit per run).
fn admit(
    conn: &mut rusqlite::Connection,
    inner: &Inner,
    mut req: RunRequest,
    day: &str,
) -> rusqlite::Result<Admitted> {
    let tx = conn.transaction()?;
    if let Some(done) = duplicate(&tx, &req)? {
        return Ok(done);
    }
    let run_id = new_id("run_");
    let now = jiff::Timestamp::now();
    let actor = req.actor.to_string();
    let plan = serde_json::to_string(&req.plan).expect("plan serialises");
    tx.prepare_cached(
        "INSERT INTO runs (id, agent, trigger, actor, dedup_key, input, plan, status, day, forecast_micros, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'running', ?8, ?9, ?10)",
    )?
    .execute(rusqlite::params![
        run_id,
        req.agent,
        req.trigger.as_str(),
        actor,
        req.dedup_key,
        req.input,
        plan,
        day,
        req.forecast_usd.micros(),
        now.to_string()
    ])?;
    journal::append(
        &tx,
        &run_id,
        "run.requested",
        &json!({
            "agent": req.agent, "trigger": req.trigger.as_str(), "actor": actor,
            "inputDigest": canonical::sha256_hex(req.input.as_bytes()),
            "plan": req.plan, "forecastUsd": req.forecast_usd.dollars(),
        }),
    )?;

    let refuse =
        |tx: &rusqlite::Transaction<'_>, reason: String| refused(tx, inner, &run_id, reason);

    // 0-2. Integrity, kill switch, identity, policy.
    let (spec, decision) = match gates_before_budget(&tx, inner, &run_id, &actor, &req)? {
        Ok(ok) => ok,
        Err(reason) => {
            let out = refuse(&tx, reason)?;
            tx.commit()?;
            return Ok(out);
        }
    };
    // 3. Budget.
    let admission = budget::reserve(&tx, spec, inner.settings.global_cap, day, req.forecast_usd)?;
    let budget_result = match &admission {
        budget::Admission::Reserved { .. } => Ok(()),
        budget::Admission::Refused { reason } => Err(reason.clone()),
    };
    gate_record(&tx, &run_id, &actor, "budget", &budget_result)?;
    match admission {
        budget::Admission::Refused { reason } => {
            let out = refuse(&tx, reason)?;
            tx.commit()?;
            return Ok(out);
        }
        budget::Admission::Reserved { notices } => {
            tx.execute(
                "UPDATE runs SET reserved_micros = ?2 WHERE id = ?1",
                rusqlite::params![run_id, req.forecast_usd.micros()],
            )?;
            budget_notices(&tx, inner, &run_id, spec, &mut req.plan, notices)?;
        }
    }
    // 4. Confirmation: park every contact-facing step.
    let confirmations = park_confirmations(&tx, inner, &run_id, spec, &decision, &req.plan, now)?;
    settle(tx, inner, run_id, confirmations, &req.plan)
}

/// A run with this dedup key was admitted before: its outcome, marked duplicate.
fn duplicate(
    tx: &rusqlite::Transaction<'_>,
    req: &RunRequest,
) -> rusqlite::Result<Option<Admitted>> {
    let Some(key) = &req.dedup_key else {
        return Ok(None);
    };
    Ok(runs::by_dedup_key(tx, key)?.map(|existing| {
        Admitted::Done(RunOutcome {
            run_id: existing.id,
            status: existing.status,
            reason: existing.reason,
            confirmations: Vec::new(),
            duplicate: true,
        })
    }))
}

/// End the run `refused` with `reason` (and its receipt).
fn refused(
    tx: &rusqlite::Transaction<'_>,
    inner: &Inner,
    run_id: &str,
    reason: String,
) -> rusqlite::Result<Admitted> {
    let run = runs::load(tx, run_id)?.expect("inserted above");
    runs::finish(
        tx,
        &inner.key,
        &inner.fingerprint,
        &run,
        RunStatus::Refused,
        Some(&reason),
        0,
    )?;
    Ok(Admitted::Done(RunOutcome {
        run_id: run_id.to_string(),
        status: RunStatus::Refused,
        reason: Some(reason),
        confirmations: Vec::new(),
        duplicate: false,
    }))
}

/// The gates before the budget, in order, each in the journal and the audit
/// chain: integrity and the kill switch (recorded when they refuse), identity
/// and policy (recorded either way). The agent's spec and the policy's
/// decision, or the reason the run is refused.
fn gates_before_budget<'a>(
    tx: &rusqlite::Transaction<'_>,
    inner: &'a Inner,
    run_id: &str,
    actor: &str,
    req: &RunRequest,
) -> rusqlite::Result<Result<(&'a AgentSpec, gates::PolicyDecision), String>> {
    // 0. Integrity: a store that failed its check acts on nothing.
    let sealed = inner
        .sealed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(reason) = sealed {
        gate_record(tx, run_id, actor, "integrity", &Err(reason.clone()))?;
        return Ok(Err(reason));
    }
    // 0b. Kill switch: nothing acts; only the self-chat's replies reach the owner.
    if req.agent != crate::spec::SELF_CHAT_AGENT && crate::owner_state::kill_switch(tx)? {
        let reason = PipelineError::KillSwitch.to_string();
        gate_record(tx, run_id, actor, "killSwitch", &Err(reason.clone()))?;
        return Ok(Err(reason));
    }
    // 1. Identity.
    let who = gates::identity(&req.actor, &inner.settings.owners);
    let identity = gates::check_identity(req.trigger, &req.actor, &who);
    gate_record(tx, run_id, actor, "identity", &identity)?;
    if let Err(reason) = identity {
        return Ok(Err(reason));
    }
    // 2. Policy.
    let policy = inner.roster.get(&req.agent).and_then(|spec| {
        let d = gates::check_policy(spec, req, |c| inner.bridges.has(c))?;
        gates::check_models(spec, req, |c, local| inner.models.has(c, local))?;
        gates::check_runtime(spec, req, inner.runtime.is_some())?;
        Ok((spec, d))
    });
    gate_record(
        tx,
        run_id,
        actor,
        "policy",
        &policy.as_ref().map(|_| ()).map_err(Clone::clone),
    )?;
    Ok(policy)
}

/// The budget's notices for the owner: notify steps added to the plan (if
/// the owner's channel is here), journaled and audited.
fn budget_notices(
    tx: &rusqlite::Transaction<'_>,
    inner: &Inner,
    run_id: &str,
    spec: &AgentSpec,
    plan: &mut Vec<Effect>,
    notices: Vec<String>,
) -> rusqlite::Result<()> {
    let channel = &inner.settings.owner_channel;
    if !notices.is_empty() && inner.bridges.has(channel) {
        // The owner hears about it through the same journaled, idempotent steps.
        plan.extend(notices.iter().map(|n| Effect::NotifyOwner {
            channel: channel.clone(),
            text: format!("💸 {n}"),
            regarding: None,
        }));
        tx.execute(
            "UPDATE runs SET plan = ?2 WHERE id = ?1",
            rusqlite::params![
                run_id,
                serde_json::to_string(&plan).expect("plan serialises")
            ],
        )?;
    }
    for notice in notices {
        tracing::warn!(agent = %spec.name, %notice, "budget notice for the owner");
        journal::append(tx, run_id, "budget.notice", &json!({ "notice": notice }))?;
        audit::append(
            tx,
            &Record {
                run_id: Some(run_id),
                kind: "budget.notice",
                actor: "pipeline",
                subject: &spec.name,
                decision: "notify",
                payload: &json!({ "notice": notice }),
            },
        )?;
    }
    Ok(())
}

/// A confirmation for every step the policy says needs one: their ids.
fn park_confirmations(
    tx: &rusqlite::Transaction<'_>,
    inner: &Inner,
    run_id: &str,
    spec: &AgentSpec,
    decision: &gates::PolicyDecision,
    plan: &[Effect],
    now: jiff::Timestamp,
) -> rusqlite::Result<Vec<String>> {
    let expires = (now + inner.settings.confirm_ttl).to_string();
    let mut confirmations = Vec::new();
    for &step in &decision.needs_confirmation {
        let Effect::Reply { channel, to, text } = &plan[step] else {
            continue;
        };
        let id = confirmation_id(tx)?;
        confirm::insert(
            tx,
            &confirm::NewConfirmation {
                id: &id,
                run_id,
                step,
                agent: &spec.name,
                channel,
                to,
                text,
                created_at: &now.to_string(),
                expires_at: &expires,
            },
        )?;
        let payload = json!({ "id": id, "step": step, "channel": channel, "to": to, "text": text, "expiresAt": expires });
        journal::append(tx, run_id, "confirmation.requested", &payload)?;
        audit::append(
            tx,
            &Record {
                run_id: Some(run_id),
                kind: "confirmation",
                actor: "pipeline",
                subject: &id,
                decision: "requested",
                payload: &payload,
            },
        )?;
        confirmations.push(id);
    }
    Ok(confirmations)
}

/// Commit the admission: a run with confirmations waits; one without side
/// effects has finished; the rest executes.
fn settle(
    tx: rusqlite::Transaction<'_>,
    inner: &Inner,
    run_id: String,
    confirmations: Vec<String>,
    plan: &[Effect],
) -> rusqlite::Result<Admitted> {
    if !confirmations.is_empty() {
        runs::set_status(&tx, &run_id, RunStatus::Waiting)?;
        tx.commit()?;
        inner.fault.point("confirmation.requested");
        return Ok(Admitted::Done(RunOutcome {
            run_id,
            status: RunStatus::Waiting,
            reason: None,
            confirmations,
            duplicate: false,
        }));
    }
    if !plan.iter().any(Effect::has_side_effect) {
        let run = runs::load(&tx, &run_id)?.expect("inserted above");
        runs::finish(
            &tx,
            &inner.key,
            &inner.fingerprint,
            &run,
            RunStatus::Succeeded,
            None,
            0,
        )?;
        tx.commit()?;
        return Ok(Admitted::Done(RunOutcome {
            run_id,
            status: RunStatus::Succeeded,
            reason: None,
            confirmations: Vec::new(),
            duplicate: false,
        }));
    }
    tx.commit()?;
    Ok(Admitted::Execute(run_id))
}
