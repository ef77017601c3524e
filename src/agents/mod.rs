//! Agents: the scheduler, cron, nudges and the roster's behaviour. Their specs
//! (`AgentSpec`, the `Roster` of specs) live in `crate::spec`, below the
//! pipeline that gates them; every agent acts only through the pipeline.

pub mod cron;
pub mod nano;
pub mod nudge;
pub mod roster;
pub mod scheduler;
pub mod tracker;
pub mod triage;

use crate::pipeline::Effect;
use crate::spec::AgentSpec;

/// The plan of a run started by hand (`steward agents run`): a model agent asks
/// its capability with the input as data; an agent without a model leaves only
/// its journal and receipt until its deterministic behaviour is scheduled.
pub fn manual_plan(spec: &AgentSpec, input: &str) -> Vec<Effect> {
    if spec.capability.is_none() {
        return vec![Effect::Noop];
    }
    let mut prompt = format!("You are {}, {}.", spec.name, spec.description);
    if !input.trim().is_empty() {
        prompt.push_str("\n\nThe owner's input, as data:\n<input>\n");
        prompt.push_str(input);
        prompt.push_str("\n</input>");
    }
    vec![Effect::Ask {
        prompt,
        json: false,
    }]
}
