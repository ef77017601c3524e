//! Executing a run's steps: each side effect is written as intended (with its
//! idempotency key) before it runs and as done after. A step found intended but
//! not done (the process died in between) is checked against the bridge's
//! outbound ledger, never blindly re-sent.

use std::sync::Arc;

use serde_json::json;

use super::audit::{self, Record};
use super::confirm::{self, StepConfirmation};
use super::request::{Effect, RunOutcome, RunStatus};
use super::{OwnerSend, Pipeline, PipelineError, StepKey, journal, runs};
use rusqlite::{Connection, OptionalExtension, params};

/// What to do about one step, decided in a transaction.
pub(super) enum Next {
    Done,
    /// The step may not run (the remote runtime refused it): the run is refused.
    Refused(String),
    Waiting,
    /// A contact send that repeats a recent one: its confirmation is pending
    /// again, and this is what the owner is told.
    Held(String),
    Skipped,
    Expired,
    /// Intended now (or already, after a crash): deliver or check the ledger.
    Deliver {
        key: StepKey,
        delivery: Delivery,
        recovering: bool,
    },
}

pub(super) enum Delivery {
    Contact(confirm::ConfirmedSend),
    Owner(OwnerSend),
    /// A model call: reaches no one, so a call left half-done is simply made again.
    Model {
        prompt: String,
        json: bool,
    },
    /// A run on the remote runtime: found again by its key after a crash, never created twice.
    Forward {
        input: String,
    },
}

impl Delivery {
    fn channel(&self) -> &str {
        match self {
            Delivery::Contact(c) => c.channel(),
            Delivery::Owner(o) => o.channel(),
            Delivery::Model { .. } => "model",
            Delivery::Forward { .. } => "runtime",
        }
    }
    fn target(&self) -> String {
        match self {
            Delivery::Contact(c) => format!("{}:{}", c.channel(), c.to()),
            Delivery::Owner(o) => format!("{}:owner", o.channel()),
            Delivery::Model { .. } => "model".to_string(),
            Delivery::Forward { .. } => "runtime".to_string(),
        }
    }
}

/// The name memory has for the contact at `to` (as the bridge addresses
/// them: a number, an address), if any.
fn contact_name(conn: &Connection, to: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT p.name FROM handles h JOIN people p ON p.id = h.person_id
         WHERE h.handle IN (?1, 'phone:' || ?1, 'email:' || lower(?1)) AND p.name <> ''",
        [to],
        |r| r.get(0),
    )
    .optional()
}

/// The latest attempt of a step: `(attempt, state)`.
fn latest_attempt(
    conn: &Connection,
    run_id: &str,
    step: usize,
) -> rusqlite::Result<Option<(u32, String)>> {
    conn.query_row(
        "SELECT attempt, state FROM steps WHERE run_id = ?1 AND step = ?2 ORDER BY attempt DESC LIMIT 1",
        params![run_id, step as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub(super) fn record_step(
    conn: &Connection,
    key: &StepKey,
    kind: &str,
    state: &str,
    result: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO steps (run_id, step, attempt, kind, state, result, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (run_id, step, attempt) DO UPDATE SET state = excluded.state, result = excluded.result,
         updated_at = excluded.updated_at",
        params![key.run_id, key.step as i64, key.attempt, kind, state, result, jiff::Timestamp::now().to_string()],
    )?;
    Ok(())
}

/// Record a step as skipped (it will never run), in the caller's transaction.
fn skip(
    tx: &Connection,
    run_id: &str,
    step: usize,
    effect: &Effect,
    detail: &str,
    reason: &str,
) -> rusqlite::Result<()> {
    let key = StepKey {
        run_id: run_id.to_string(),
        step,
        attempt: 1,
    };
    record_step(tx, &key, effect.kind(), "skipped", Some(detail))?;
    journal::append(
        tx,
        run_id,
        "step.skipped",
        &json!({ "step": step, "reason": reason }),
    )?;
    Ok(())
}

/// An approval that is not evidence: skip the step, audit the refusal, refuse the run.
fn refuse_unproven(
    tx: &Connection,
    run_id: &str,
    step: usize,
    effect: &Effect,
    why: &super::approval::Unproven,
) -> rusqlite::Result<Next> {
    tracing::error!(run = %run_id, step, error = %why, "refusing to send: the approval is not evidence");
    skip(
        tx,
        run_id,
        step,
        effect,
        &why.to_string(),
        "approval not proven",
    )?;
    audit::append(
        tx,
        &Record {
            run_id: Some(run_id),
            kind: "tamper",
            actor: "pipeline",
            subject: &format!("step {step}"),
            decision: "refuse",
            payload: &json!({ "reason": why.to_string() }),
        },
    )?;
    Ok(Next::Refused(why.reason()))
}

/// A reply step: the confirmed send, or why there is nothing to deliver now
/// (waiting, expired, rejected, held as a duplicate, or an unproven approval).
fn reply_delivery(
    tx: &Connection,
    key: &ed25519_dalek::VerifyingKey,
    run_id: &str,
    step: usize,
    effect: &Effect,
    latest: Option<&(u32, String)>,
    ttl: jiff::SignedDuration,
) -> rusqlite::Result<Result<Delivery, Next>> {
    Ok(Err(match confirm::for_step(tx, key, run_id, step)? {
        StepConfirmation::Unproven(why) => refuse_unproven(tx, run_id, step, effect, &why)?,
        StepConfirmation::Confirmed(send) => {
            // A fresh attempt (not a crash recovery, not the owner's yes
            // after a hold) must not repeat a recent send to them.
            let fresh = latest.is_none_or(|(_, s)| s == "failed");
            let attempt = latest.map_or(1, |(a, _)| a + 1);
            let held = if fresh {
                super::hold::check(tx, &send, step, attempt, ttl)?
            } else {
                None
            };
            match held {
                Some(why) => Next::Held(why),
                None => return Ok(Ok(Delivery::Contact(send))),
            }
        }
        StepConfirmation::Pending => Next::Waiting,
        StepConfirmation::Expired => Next::Expired,
        StepConfirmation::Missing | StepConfirmation::Rejected => {
            skip(
                tx,
                run_id,
                step,
                effect,
                "rejected by the owner",
                "rejected",
            )?;
            Next::Skipped
        }
    }))
}

fn prepare(
    conn: &mut Connection,
    key: &ed25519_dalek::VerifyingKey,
    run_id: &str,
    step: usize,
    effect: &Effect,
    ttl: jiff::SignedDuration,
) -> rusqlite::Result<Next> {
    let tx = conn.transaction()?;
    let latest = latest_attempt(&tx, run_id, step)?;
    if let Some((_, state)) = &latest
        && (state == "done" || state == "skipped")
    {
        return Ok(Next::Done);
    }
    let delivery = match effect {
        Effect::Noop => return Ok(Next::Done),
        Effect::NotifyOwner {
            channel,
            text,
            regarding,
        } => Delivery::Owner(OwnerSend::new(channel, text, regarding.clone())),
        Effect::Ask { prompt, json } => Delivery::Model {
            // Documents this run read go to its own model steps, nowhere else.
            prompt: super::documents::with_context(&tx, run_id, step, prompt)?,
            json: *json,
        },
        Effect::ReadDocuments { query, limit, path } => {
            super::documents::read(&tx, run_id, step, query, *limit, path.as_deref())?;
            tx.commit()?;
            return Ok(Next::Done);
        }
        Effect::Forward { input } => Delivery::Forward {
            input: input.clone(),
        },
        Effect::Relay { channel } => match runs::model_answer(&tx, run_id, Some(step))? {
            Some(text) => {
                let text = super::documents::name_source(&tx, run_id, step, text)?;
                // Readable in the owner's chat; the rest waits for `more`.
                let trimmed = super::trim::for_channel(channel, &text);
                crate::owner_state::set_more(&tx, trimmed.rest.as_deref())?;
                Delivery::Owner(OwnerSend::new(channel, &trimmed.shown, None))
            }
            None => {
                skip(
                    &tx,
                    run_id,
                    step,
                    effect,
                    "no model answer to relay",
                    "no model answer",
                )?;
                tx.commit()?;
                return Ok(Next::Skipped);
            }
        },
        Effect::Reply { .. } => {
            match reply_delivery(&tx, key, run_id, step, effect, latest.as_ref(), ttl)? {
                Ok(d) => d,
                Err(next) => {
                    // Nothing to deliver now; whatever was recorded commits.
                    tx.commit()?;
                    return Ok(next);
                }
            }
        }
    };
    if let Some((attempt, state)) = &latest
        && state == "intended"
    {
        let key = StepKey {
            run_id: run_id.to_string(),
            step,
            attempt: *attempt,
        };
        return Ok(Next::Deliver {
            key,
            delivery,
            recovering: true,
        });
    }
    let attempt = latest.map_or(1, |(a, _)| a + 1);
    let key = StepKey {
        run_id: run_id.to_string(),
        step,
        attempt,
    };
    record_step(&tx, &key, effect.kind(), "intended", None)?;
    // Before the send: the copy the bridge reads back is never taken for the
    // owner (a command in the self-chat, a takeover in a contact's thread).
    match &delivery {
        Delivery::Owner(send) => {
            crate::owner_state::record_echo(&tx, send.channel(), send.text())?;
        }
        Delivery::Contact(send) => {
            let thread = format!("{}>{}", send.channel(), send.to());
            crate::owner_state::record_echo(&tx, &thread, send.text())?;
        }
        _ => {}
    }
    journal::append(
        &tx,
        run_id,
        "step.intended",
        &json!({ "step": step, "attempt": attempt, "kind": effect.kind(), "key": key.to_string(), "target": delivery.target() }),
    )?;
    tx.commit()?;
    Ok(Next::Deliver {
        key,
        delivery,
        recovering: false,
    })
}

impl Pipeline {
    fn run_lock(&self, run_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .inner
            .executing
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(run_id.to_string()).or_default())
    }

    /// Run every step that can run now; finish the run when all are settled.
    pub(crate) async fn execute(&self, run_id: &str) -> Result<RunOutcome, PipelineError> {
        self.ensure_unsealed()?;
        let lock = self.run_lock(run_id);
        let _guard = lock.lock().await;
        let id = run_id.to_string();
        let run = self
            .store
            .read(move |c| Ok(runs::load(c, &id)?))
            .await?
            .ok_or_else(|| PipelineError::NoRun(run_id.to_string()))?;
        if run.status.is_final() {
            return Ok(outcome(&run.id, run.status, run.reason.clone(), Vec::new()));
        }
        for (step, effect) in run.plan.iter().enumerate() {
            match self.step(&run.id, &run.agent, step, effect).await? {
                Next::Done | Next::Skipped => {}
                next @ (Next::Waiting | Next::Held(_)) => {
                    let id = run.id.clone();
                    let pending = self
                        .store
                        .write(move |c| {
                            runs::set_status(c, &id, RunStatus::Waiting)?;
                            Ok(confirm::pending_for_run(c, &id)?)
                        })
                        .await?;
                    let reason = match next {
                        Next::Held(why) => Some(why),
                        _ => None,
                    };
                    return Ok(outcome(&run.id, RunStatus::Waiting, reason, pending));
                }
                Next::Refused(reason) => {
                    return self
                        .finish(&run.id, RunStatus::Refused, Some(&reason))
                        .await;
                }
                Next::Expired => {
                    let reason =
                        "the owner did not answer the confirmation in time; nothing was sent";
                    return self.finish(&run.id, RunStatus::Expired, Some(reason)).await;
                }
                Next::Deliver { .. } => unreachable!("step() delivers before returning"),
            }
        }
        let failed = self.failed_step(&run.id).await?;
        match failed {
            Some(reason) => self.finish(&run.id, RunStatus::Failed, Some(&reason)).await,
            None => self.finish(&run.id, RunStatus::Succeeded, None).await,
        }
    }

    /// Drive one step to done, skipped, waiting or expired.
    async fn step(
        &self,
        run_id: &str,
        agent: &str,
        step: usize,
        effect: &Effect,
    ) -> Result<Next, PipelineError> {
        let (id, eff) = (run_id.to_string(), effect.clone());
        let key = self.inner.key.verifying_key();
        let ttl = self.inner.settings.confirm_ttl;
        let next = self
            .store
            .write(move |c| Ok(prepare(c, &key, &id, step, &eff, ttl)?))
            .await?;
        let Next::Deliver {
            key,
            delivery,
            recovering,
        } = next
        else {
            return Ok(next);
        };
        match &delivery {
            Delivery::Model { prompt, json } => return self.ask(&key, agent, prompt, *json).await,
            Delivery::Forward { input } => {
                return self.forward(&key, agent, input, recovering).await;
            }
            _ => {}
        }
        let bridge = match self.inner.bridges.get(delivery.channel()) {
            Ok(b) => b.clone(),
            Err(e) => {
                return self
                    .settle(&key, effect, &delivery, Err(e.to_string()), false)
                    .await;
            }
        };
        if recovering {
            // Died between "intended" and "done": ask the bridge's ledger, never guess.
            match bridge.delivered(&key).await {
                Ok(Some(delivery_id)) => {
                    return self
                        .settle(&key, effect, &delivery, Ok(delivery_id), true)
                        .await;
                }
                Ok(None) => {
                    // Not delivered: that attempt failed; a new attempt takes its place.
                    let (k, eff) = (key.clone(), effect.clone());
                    self.store
                        .write(move |c| {
                            record_step(
                                c,
                                &k,
                                eff.kind(),
                                "failed",
                                Some("not in the outbound ledger after a restart"),
                            )?;
                            Ok(())
                        })
                        .await?;
                    return Box::pin(self.step(run_id, agent, step, effect)).await;
                }
                Err(e) => {
                    return self
                        .settle(&key, effect, &delivery, Err(e.to_string()), false)
                        .await;
                }
            }
        }
        self.inner.fault.point("step.intended");
        let sent = match &delivery {
            Delivery::Contact(send) => bridge.send_contact(&key, send).await,
            Delivery::Owner(send) => bridge.send_owner(&key, send).await,
            Delivery::Model { .. } | Delivery::Forward { .. } => {
                unreachable!("model and runtime steps return above")
            }
        };
        if sent.is_ok() {
            self.inner.fault.point("send.delivered");
        }
        self.settle(
            &key,
            effect,
            &delivery,
            sent.map_err(|e| e.to_string()),
            false,
        )
        .await
    }

    /// Call the agent's capability model; journal the call and add its usage and
    /// cost to the run (settled against the budget when the run finishes).
    async fn ask(
        &self,
        key: &StepKey,
        agent: &str,
        prompt: &str,
        json: bool,
    ) -> Result<Next, PipelineError> {
        let spec = self.inner.roster.get(agent).ok();
        let capability = spec.and_then(|s| s.capability.clone()).unwrap_or_default();
        // The agent's own cap, else its capability's (what the forecast reserved for).
        let max_tokens = super::forecast::output_cap(&self.inner.models, &capability, spec);
        let req = crate::llm::ChatRequest {
            messages: vec![crate::llm::Message {
                role: crate::llm::Role::User,
                content: prompt.to_string(),
            }],
            json,
            max_tokens,
            idempotency_key: Some(key.to_string()),
            ..Default::default()
        };
        let local_only = spec.is_some_and(|s| s.model_lock == Some(crate::spec::ModelLock::Local));
        let result = self
            .inner
            .models
            .chat_locked(&capability, &req, local_only)
            .await;
        let k = key.clone();
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                match &result {
                    Ok(r) => {
                        let payload = json!({
                            "step": k.step, "attempt": k.attempt, "capability": capability, "model": r.model,
                            "provider": r.provider, "tokensIn": r.usage.input, "tokensOut": r.usage.output,
                            "cached": r.usage.cached, "estimated": r.usage.estimated, "costMicros": r.cost_micros,
                            "maxTokens": max_tokens, "truncated": r.truncated,
                            "text": r.text, "toolCalls": r.tool_calls,
                        });
                        record_step(&tx, &k, "ask", "done", Some(&payload.to_string()))?;
                        journal::append(&tx, &k.run_id, "model.called", &payload)?;
                        tx.execute(
                            "UPDATE runs SET tokens_in = tokens_in + ?2, tokens_out = tokens_out + ?3,
                                    cost_micros = cost_micros + ?4, model = ?5, provider = ?6 WHERE id = ?1",
                            rusqlite::params![k.run_id, r.usage.input as i64, r.usage.output as i64, r.cost_micros, r.model, r.provider],
                        )?;
                    }
                    Err(e) => {
                        let payload = json!({ "step": k.step, "attempt": k.attempt, "capability": capability, "maxTokens": max_tokens, "error": e.to_string() });
                        record_step(&tx, &k, "ask", "failed", Some(&e.to_string()))?;
                        journal::append(&tx, &k.run_id, "model.failed", &payload)?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.inner.fault.point("model.called");
        Ok(Next::Done)
    }

    async fn settle(
        &self,
        key: &StepKey,
        effect: &Effect,
        delivery: &Delivery,
        result: Result<String, String>,
        recovered: bool,
    ) -> Result<Next, PipelineError> {
        let (k, kind, target) = (key.clone(), effect.kind(), delivery.target());
        let ok = result.is_ok();
        let failure = result.as_ref().err().cloned();
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                let (state, event, decision, detail) = match &result {
                    Ok(id) => ("done", if recovered { "step.recovered" } else { "step.done" }, "delivered", id.clone()),
                    Err(e) => ("failed", "step.failed", "failed", e.clone()),
                };
                record_step(&tx, &k, kind, state, Some(&detail))?;
                let payload = json!({ "step": k.step, "attempt": k.attempt, "key": k.to_string(), "result": detail });
                journal::append(&tx, &k.run_id, event, &payload)?;
                audit::append(
                    &tx,
                    &Record {
                        run_id: Some(&k.run_id),
                        kind: "send",
                        actor: "pipeline",
                        subject: &target,
                        decision,
                        payload: &payload,
                    },
                )?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        if ok {
            self.inner.fault.point("step.done");
        }
        self.log_send(key, delivery, failure).await;
        Ok(Next::Done)
    }

    /// One readable line per send: the channel and who it reached by name
    /// (their number when memory has none), never the message's text.
    async fn log_send(&self, key: &StepKey, delivery: &Delivery, failure: Option<String>) {
        let who = match delivery {
            Delivery::Contact(send) => {
                let to = send.to().to_string();
                let lookup = to.clone();
                self.store
                    .read(move |c| Ok(contact_name(c, &lookup)?))
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(to)
            }
            Delivery::Owner(_) => "the owner".to_string(),
            Delivery::Model { .. } | Delivery::Forward { .. } => return,
        };
        let channel = delivery.channel();
        match failure {
            None => tracing::info!("sent on {channel} to {who} (run {})", key.run_id),
            Some(e) => tracing::warn!(
                "send on {channel} to {who} failed (run {}): {e}",
                key.run_id
            ),
        }
    }

    async fn failed_step(&self, run_id: &str) -> Result<Option<String>, PipelineError> {
        let id = run_id.to_string();
        Ok(self
            .store
            .read(move |c| {
                // A step failed if its latest attempt failed.
                Ok(c.query_row(
                    "SELECT s.step, s.result FROM steps s
                     WHERE s.run_id = ?1 AND s.state = 'failed'
                       AND s.attempt = (SELECT MAX(attempt) FROM steps t WHERE t.run_id = s.run_id AND t.step = s.step)
                     LIMIT 1",
                    [id],
                    |r| Ok(format!("step {} failed: {}", r.get::<_, i64>(0)?, r.get::<_, String>(1).unwrap_or_default())),
                )
                .optional()?)
            })
            .await?)
    }

    pub(super) async fn finish(
        &self,
        run_id: &str,
        status: RunStatus,
        reason: Option<&str>,
    ) -> Result<RunOutcome, PipelineError> {
        let inner = Arc::clone(&self.inner);
        let (id, why) = (run_id.to_string(), reason.map(str::to_string));
        let final_status = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let run =
                    runs::load(&tx, &id)?.ok_or_else(|| rusqlite::Error::QueryReturnedNoRows)?;
                if run.status.is_final() {
                    return Ok((run.status, run.reason));
                }
                // What the run's model calls cost replaces its reservation.
                runs::finish(
                    &tx,
                    &inner.key,
                    &inner.fingerprint,
                    &run,
                    status,
                    why.as_deref(),
                    run.cost_micros,
                )?;
                tx.commit()?;
                Ok((status, why))
            })
            .await?;
        self.inner.fault.point("run.finished");
        Ok(outcome(run_id, final_status.0, final_status.1, Vec::new()))
    }
}

fn outcome(
    run_id: &str,
    status: RunStatus,
    reason: Option<String>,
    confirmations: Vec<String>,
) -> RunOutcome {
    RunOutcome {
        run_id: run_id.to_string(),
        status,
        reason,
        confirmations,
        duplicate: false,
    }
}
