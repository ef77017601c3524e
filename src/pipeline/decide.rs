//! Decisions on confirmations: the owner's (identity-checked), a standing
//! approval's (named by its rule), a withdrawal's; and expiry. Each is journaled
//! and audited in the transaction that records it, then the run continues.

use std::sync::Arc;

use serde_json::json;

use super::audit::{self, Record};
use super::gates::{self, Identity};
use super::request::{self, Actor, RunOutcome, RunStatus};
use super::{Decision, Pipeline, PipelineError, approval, confirm, journal, runs};

impl Pipeline {
    /// The owner's decision on a pending confirmation; continues the run.
    pub async fn decide(
        &self,
        id: &str,
        decision: Decision,
        edited: Option<String>,
        by: &Actor,
    ) -> Result<RunOutcome, PipelineError> {
        if gates::identity(by, &self.inner.settings.owners) != Identity::Owner {
            return Err(PipelineError::NotOwner(by.to_string()));
        }
        self.decide_as(id, decision, edited, by.to_string()).await
    }

    /// A standing approval the owner wrote in their profile: approves `id` with
    /// the rule's words as the decider, so the journal and receipt name the rule.
    pub async fn approve_by_rule(&self, id: &str, rule: &str) -> Result<RunOutcome, PipelineError> {
        self.decide_as(id, Decision::Approved, None, format!("rule: {rule}"))
            .await
    }

    /// Withdraw a pending draft (the owner took over the thread): nothing is sent.
    pub async fn withdraw(&self, id: &str, why: &str) -> Result<RunOutcome, PipelineError> {
        self.decide_as(id, Decision::Rejected, None, format!("withdrawn: {why}"))
            .await
    }

    async fn decide_as(
        &self,
        id: &str,
        decision: Decision,
        edited: Option<String>,
        by_s: String,
    ) -> Result<RunOutcome, PipelineError> {
        self.ensure_unsealed()?;
        if self
            .store
            .read(|c| Ok(crate::owner_state::kill_switch(c)?))
            .await?
        {
            return Err(PipelineError::KillSwitch);
        }
        if let Some(text) = &edited {
            let n = text.chars().count();
            if n == 0 || n > request::MAX_TEXT_CHARS {
                return Err(PipelineError::BadEdit);
            }
        }
        self.expire_due().await?;
        let inner = Arc::clone(&self.inner);
        let id_owned = id.to_string();
        let run_id = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let Some((run_id, status, _)) = confirm::state(&tx, &id_owned)? else {
                    return Ok(Err(PipelineError::NoConfirmation(id_owned)));
                };
                if status == "expired" {
                    return Ok(Err(PipelineError::Expired(id_owned)));
                }
                let now = jiff::Timestamp::now().to_string();
                if !confirm::decide(&tx, &id_owned, decision, edited.as_deref(), &by_s, &now)? {
                    return Ok(Err(PipelineError::AlreadyDecided {
                        id: id_owned,
                        status,
                    }));
                }
                let kind = format!("confirmation.{}", decision.as_str());
                // The decision is evidence: signed, journaled and audited with the row change.
                approval::record(
                    &tx,
                    &inner.key,
                    &id_owned,
                    decision,
                    edited.as_deref(),
                    &by_s,
                    &now,
                )?;
                if confirm::pending_for_run(&tx, &run_id)?.is_empty() {
                    runs::set_status(&tx, &run_id, RunStatus::Running)?;
                }
                tx.commit()?;
                inner.fault.point(&kind);
                Ok(Ok(run_id))
            })
            .await??;
        let outcome = self.execute(&run_id).await;
        self.anchor_after_work().await;
        outcome
    }

    /// Expire every pending confirmation past its time; their runs end `expired`.
    pub async fn expire_due(&self) -> Result<usize, PipelineError> {
        let inner = Arc::clone(&self.inner);
        let n = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let due = confirm::due(&tx, jiff::Timestamp::now())?;
                let now = jiff::Timestamp::now().to_string();
                for (id, run_id) in &due {
                    if !confirm::mark_expired(&tx, id, &now)? {
                        continue;
                    }
                    journal::append(&tx, run_id, "confirmation.expired", &json!({ "id": id, "by": "expiry" }))?;
                    audit::append(
                        &tx,
                        &Record {
                            run_id: Some(run_id),
                            kind: "confirmation",
                            actor: "expiry",
                            subject: id,
                            decision: "expired",
                            payload: &json!({}),
                        },
                    )?;
                    if let Some(run) = runs::load(&tx, run_id)?
                        && !run.status.is_final()
                    {
                        runs::finish(
                            &tx,
                            &inner.key,
                            &inner.fingerprint,
                            &run,
                            RunStatus::Expired,
                            Some("the owner did not answer the confirmation in time; nothing was sent"),
                            0,
                        )?;
                    }
                }
                tx.commit()?;
                Ok(due.len())
            })
            .await?;
        if n > 0 {
            self.anchor_after_work().await;
        }
        Ok(n)
    }
}
