//! Running the model check (`guards::probes::screen`) through the pipeline:
//! the `probe-screen` agent's `ask`, budgeted, journaled and receipted like
//! every run. Skipped when no model serves its capability (or none on this
//! machine when its spec is locked to local models).

use crate::guards::probes::{Probe, screen};
use crate::pipeline::{Actor, Effect, RunRequest, RunStatus, Trigger};
use crate::types::Inbound;

use super::{Assistant, AssistantError};

/// The agent whose spec (capability, budget, model lock) the check runs under.
pub const AGENT: &str = "probe-screen";

impl Assistant {
    /// The probe the model finds in `msg`, if the message asks about the
    /// owner and a model is there to ask. A failed, refused or unreadable
    /// check is `None`: not flagged (see `guards::probes::screen`).
    pub(super) async fn screen(
        &self,
        msg: &Inbound,
        actor: &Actor,
    ) -> Result<Option<Probe>, AssistantError> {
        let pipeline = self.owner.pipeline();
        if msg.text.is_empty() || !screen::asks_about_owner(&msg.text) || !pipeline.can_ask(AGENT) {
            return Ok(None);
        }
        let out = pipeline
            .run(RunRequest {
                agent: AGENT.into(),
                trigger: Trigger::Contact,
                actor: actor.clone(),
                input: msg.text.clone(),
                dedup_key: Some(format!("screen:{}:{}", msg.channel, msg.external_id)),
                plan: vec![Effect::Ask {
                    prompt: screen::prompt(&msg.text),
                    json: true,
                }],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        if out.status != RunStatus::Succeeded {
            tracing::info!(
                status = out.status.as_str(),
                reason = out.reason.as_deref().unwrap_or("none"),
                "probe screen gave no verdict; not flagged"
            );
            return Ok(None);
        }
        let id = out.run_id.clone();
        let answer = self
            .store()
            .read(move |c| Ok(crate::pipeline::runs::model_answer(c, &id, None)?))
            .await?
            .unwrap_or_default();
        Ok(screen::parse(&answer))
    }
}
