//! What a run is asked to do: the agent, the trigger, who asked, and the plan.

use serde::{Deserialize, Serialize};

use crate::spec::Usd;
pub use crate::types::Regarding;

/// Longest text a single send may carry.
pub const MAX_TEXT_CHARS: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Owner,
    Contact,
    Schedule,
    Signal,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Owner => "owner",
            Trigger::Contact => "contact",
            Trigger::Schedule => "schedule",
            Trigger::Signal => "signal",
            Trigger::Manual => "manual",
        }
    }
}

/// Who asked, as the caller claims it; the identity gate decides what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Actor {
    /// The local console or the token-holding HTTP API: the owner at the machine.
    Console,
    /// A sender on a bridge, e.g. `{channel: "imessage", handle: "+15125551234"}`.
    Handle { channel: String, handle: String },
    /// The scheduler firing a slot.
    Scheduler,
    /// An authenticated phone.
    Device { id: String },
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Console => f.write_str("console"),
            Actor::Handle { channel, handle } => write!(f, "{channel}:{handle}"),
            Actor::Scheduler => f.write_str("scheduler"),
            Actor::Device { id } => write!(f, "device:{id}"),
        }
    }
}

/// One step of a plan. Everything that leaves Steward is one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Effect {
    /// A message to a contact: always behind the owner's confirmation.
    #[serde(rename_all = "camelCase")]
    Reply {
        channel: String,
        to: String,
        text: String,
    },
    /// A message to the owner's own chat on `channel`.
    #[serde(rename_all = "camelCase")]
    NotifyOwner {
        channel: String,
        text: String,
        /// What it is about, for a channel that can attach controls to it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        regarding: Option<Regarding>,
    },
    /// Ask the agent's capability model; the reply is journaled, and its usage
    /// and cost are recorded on the run and settled against the budget.
    #[serde(rename_all = "camelCase")]
    Ask {
        prompt: String,
        #[serde(default)]
        json: bool,
    },
    /// Send the owner (on `channel`) the text the run's last model step got back.
    #[serde(rename_all = "camelCase")]
    Relay { channel: String },
    /// Run the agent on the remote runtime with `input`; its verified receipt
    /// is journaled and its cost recorded on this run.
    #[serde(rename_all = "camelCase")]
    Forward { input: String },
    /// Search the owner's documents index for `query` (owner trigger only:
    /// policy `documents.ownerOnly`). Every file read is journaled and audited;
    /// the hits go to this run's later `ask` steps, and the best snippet with
    /// its path is what `relay` sends when no model step follows. With `path`,
    /// that one indexed file's text instead (`steward docs show`; `query` then
    /// names the path too).
    #[serde(rename_all = "camelCase")]
    ReadDocuments {
        query: String,
        #[serde(default = "default_documents_limit")]
        limit: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// Nothing leaves; the run only leaves its journal and receipt.
    Noop,
}

fn default_documents_limit() -> u32 {
    3
}

impl Effect {
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::Reply { .. } => "reply",
            Effect::NotifyOwner { .. } => "notifyOwner",
            Effect::Ask { .. } => "ask",
            Effect::Forward { .. } => "forward",
            Effect::Relay { .. } => "relay",
            Effect::ReadDocuments { .. } => "readDocuments",
            Effect::Noop => "noop",
        }
    }

    pub fn has_side_effect(&self) -> bool {
        !matches!(self, Effect::Noop)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    pub agent: String,
    pub trigger: Trigger,
    pub actor: Actor,
    #[serde(default)]
    pub input: String,
    /// The same key never runs twice (`agent:slot`, `channel:external_id`).
    #[serde(default)]
    pub dedup_key: Option<String>,
    #[serde(default)]
    pub plan: Vec<Effect>,
    /// Forecast model cost, reserved against the budgets before anything runs.
    #[serde(default = "zero_usd")]
    pub forecast_usd: Usd,
}

fn zero_usd() -> Usd {
    Usd(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Waiting,
    Succeeded,
    Refused,
    Failed,
    Expired,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Refused => "refused",
            RunStatus::Failed => "failed",
            RunStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "waiting" => RunStatus::Waiting,
            "succeeded" => RunStatus::Succeeded,
            "refused" => RunStatus::Refused,
            "failed" => RunStatus::Failed,
            "expired" => RunStatus::Expired,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Running | RunStatus::Waiting)
    }
}

/// What `Pipeline::run` and the confirmation decisions return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    pub run_id: String,
    pub status: RunStatus,
    pub reason: Option<String>,
    /// Confirmations this run waits on.
    pub confirmations: Vec<String>,
    /// True when the dedup key had already run: nothing new happened.
    pub duplicate: bool,
}
