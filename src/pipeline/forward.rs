//! Forwarding heavy work to the remote runtime. Routing happens before admission
//! (an agent with `runtime: remote`, or `auto` whose forecast exceeds
//! `heavyTokens`, has its `ask` steps turned into `forward` steps, so the plan in
//! the journal says where the work went). The forward step is a side effect like
//! a send: intended before the create, with the step key as the runtime's
//! idempotency key and label, and the remote run id journaled as soon as it is
//! known. After a crash the step looks for that id (journal first, then the
//! runtime's lookup) before it would ever create again.

use serde_json::{Value, json};

use super::execute::{Next, record_step};
use super::request::{Effect, RunRequest};
use super::{Inner, Pipeline, PipelineError, StepKey, journal};
use crate::runtime::{self, RemoteRun, RuntimeError};
use crate::spec::{ModelLock, RuntimeKind};

/// Turn the plan's model steps into forward steps when this run belongs on the
/// remote runtime. `forecast_tokens` is the forecast's input + output.
pub(super) fn route(inner: &Inner, req: &mut RunRequest, forecast_tokens: u64) {
    let Ok(spec) = inner.roster.get(&req.agent) else {
        return;
    };
    let remote = match spec.runtime {
        RuntimeKind::Local => false,
        RuntimeKind::Remote => true,
        RuntimeKind::Auto => {
            spec.model_lock != Some(ModelLock::Local)
                && inner
                    .runtime
                    .as_ref()
                    .is_some_and(|rt| forecast_tokens > rt.heavy_tokens)
        }
    };
    if !remote {
        return;
    }
    for effect in &mut req.plan {
        if let Effect::Ask { prompt, .. } = effect {
            *effect = Effect::Forward {
                input: std::mem::take(prompt),
            };
        }
    }
}

/// What the journal says about a step's remote run.
fn journaled_remote_id(
    conn: &rusqlite::Connection,
    key: &StepKey,
) -> rusqlite::Result<Option<String>> {
    let wanted = key.to_string();
    let mut stmt = conn.prepare_cached(
        "SELECT payload FROM journal WHERE run_id = ?1 AND kind = 'runtime.created' ORDER BY seq",
    )?;
    let rows = stmt.query_map([&key.run_id], |r| r.get::<_, String>(0))?;
    for row in rows {
        let v: Value = serde_json::from_str(&row?).unwrap_or(Value::Null);
        if v["key"].as_str() == Some(wanted.as_str()) {
            return Ok(v["remoteRunId"].as_str().map(str::to_string));
        }
    }
    Ok(None)
}

impl Pipeline {
    pub(super) async fn forward(
        &self,
        key: &StepKey,
        agent: &str,
        input: &str,
        recovering: bool,
    ) -> Result<Next, PipelineError> {
        let Some(rt) = self.inner.runtime.clone() else {
            let e = "no remote runtime is configured: add `runtime: {url: …}` to steward.yaml";
            return self.forward_failed(key, e.to_string()).await;
        };
        let step_key = key.to_string();
        let known = if recovering {
            let k = key.clone();
            self.store
                .read(move |c| Ok(journaled_remote_id(c, &k)?))
                .await?
        } else {
            None
        };
        let remote_id = match known {
            Some(id) => id,
            None => {
                let found = if recovering {
                    match rt.find(&step_key).await {
                        Ok(found) => found,
                        Err(e) => return self.forward_failed(key, e.to_string()).await,
                    }
                } else {
                    None
                };
                let (run, recovered) = match found {
                    Some(run) => (run, true),
                    None => match self.create_remote(&rt, key, agent, input).await? {
                        Ok(run) => {
                            // Created remotely, not yet journaled: a crash here is
                            // what the lookup by key on restart is for.
                            self.inner.fault.point("runtime.answered");
                            (run, false)
                        }
                        Err(next) => return Ok(next),
                    },
                };
                let (k, id) = (key.clone(), run.id.clone());
                let payload = json!({
                    "step": k.step, "attempt": k.attempt, "key": k.to_string(),
                    "remoteRunId": id, "status": run.status, "recovered": recovered,
                });
                self.store
                    .write(move |c| Ok(journal::append(c, &k.run_id, "runtime.created", &payload)?))
                    .await?;
                self.inner.fault.point("runtime.created");
                run.id
            }
        };
        let run = match rt.wait(&remote_id).await {
            Ok(run) => run,
            Err(e) => return self.forward_failed(key, e.to_string()).await,
        };
        let checked = async {
            let receipt = rt.receipt(&remote_id).await?;
            let published = rt.published_key().await?;
            runtime::check_receipt(&receipt, &published, &run)?;
            Ok::<_, RuntimeError>((receipt, published))
        }
        .await;
        match checked {
            Ok((receipt, published)) => {
                self.record_remote(key, &run, receipt, &published.fingerprint)
                    .await?;
                Ok(Next::Done)
            }
            // Never a silent success: the run fails, and says which remote run it was.
            Err(e) => self.forward_failed(key, e.to_string()).await,
        }
    }

    /// Forecast, then create. `Err(next)` when the runtime refused or failed.
    async fn create_remote(
        &self,
        rt: &crate::runtime::Runtime,
        key: &StepKey,
        agent: &str,
        input: &str,
    ) -> Result<Result<RemoteRun, Next>, PipelineError> {
        let forecast = rt.forecast(agent, input).await;
        let forecast = match forecast {
            Ok(v) => v,
            Err(RuntimeError::Refused(reason)) => {
                return Ok(Err(self.forward_refused(key, reason).await?));
            }
            Err(e) => return Ok(Err(self.forward_failed(key, e.to_string()).await?)),
        };
        let k = key.clone();
        let payload = json!({ "step": k.step, "attempt": k.attempt, "forecast": forecast });
        self.store
            .write(move |c| Ok(journal::append(c, &k.run_id, "runtime.forecast", &payload)?))
            .await?;
        match rt.create(agent, input, &key.to_string()).await {
            Ok(run) => Ok(Ok(run)),
            Err(RuntimeError::Refused(reason)) => {
                Ok(Err(self.forward_refused(key, reason).await?))
            }
            Err(e) => Ok(Err(self.forward_failed(key, e.to_string()).await?)),
        }
    }

    async fn record_remote(
        &self,
        key: &StepKey,
        run: &RemoteRun,
        receipt: crate::receipt::Receipt,
        fingerprint: &str,
    ) -> Result<(), PipelineError> {
        let k = key.clone();
        let p = &receipt.payload;
        let model = run
            .model
            .clone()
            .or(p["model"].as_str().map(str::to_string));
        let provider = run
            .provider
            .clone()
            .or(p["provider"].as_str().map(str::to_string))
            .unwrap_or_else(|| "runtime".to_string());
        let cost_micros = (run.cost_usd.max(0.0) * 1e6).round() as i64;
        let payload = json!({
            "step": k.step, "attempt": k.attempt, "remoteRunId": run.id, "status": run.status,
            "costUsd": run.cost_usd, "tokensIn": run.tokens_in, "tokensOut": run.tokens_out,
            "model": model, "provider": provider, "output": run.output,
            "receipt": receipt, "keyFingerprint": fingerprint, "verified": true,
        });
        let succeeded = run.status == "succeeded";
        let output_text = match &run.output {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => v["text"].as_str().map(str::to_string),
            None => None,
        };
        let (id, status) = (run.id.clone(), run.status.clone());
        let (tokens_in, tokens_out) = (run.tokens_in as i64, run.tokens_out as i64);
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                journal::append(&tx, &k.run_id, "runtime.verified", &payload)?;
                tx.execute(
                    "UPDATE runs SET tokens_in = tokens_in + ?2, tokens_out = tokens_out + ?3,
                            cost_micros = cost_micros + ?4, model = COALESCE(?5, model), provider = ?6 WHERE id = ?1",
                    rusqlite::params![k.run_id, tokens_in, tokens_out, cost_micros, model, provider],
                )?;
                if succeeded {
                    // The text a later relay step sends the owner, if the runtime gave one.
                    let result = json!({ "remoteRunId": id, "text": output_text });
                    record_step(&tx, &k, "forward", "done", Some(&result.to_string()))?;
                } else {
                    let why = format!("remote run {id} ended {status}");
                    record_step(&tx, &k, "forward", "failed", Some(&why))?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn forward_failed(&self, key: &StepKey, error: String) -> Result<Next, PipelineError> {
        let k = key.clone();
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                record_step(&tx, &k, "forward", "failed", Some(&error))?;
                let payload = json!({ "step": k.step, "attempt": k.attempt, "error": error });
                journal::append(&tx, &k.run_id, "runtime.failed", &payload)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(Next::Done)
    }

    async fn forward_refused(&self, key: &StepKey, reason: String) -> Result<Next, PipelineError> {
        let k = key.clone();
        let why = format!("the remote runtime refused the run: {reason}");
        let recorded = why.clone();
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                record_step(&tx, &k, "forward", "refused", Some(&recorded))?;
                let payload = json!({ "step": k.step, "attempt": k.attempt, "reason": reason });
                journal::append(&tx, &k.run_id, "runtime.refused", &payload)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(Next::Refused(why))
    }
}
