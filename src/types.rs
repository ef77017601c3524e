//! Types shared across modules.

use serde::{Deserialize, Serialize};

/// A message new to memory, as bridges publish it on the daemon's bus. The
/// router (self-chat commands, contact assistants) subscribes to these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbound {
    pub channel: String,
    pub external_id: String,
    pub chat_external_id: Option<String>,
    /// `direct`, `group` or `self`; `None` for a message in no chat.
    pub chat_kind: Option<String>,
    /// The person the message counts for.
    pub person_id: String,
    pub sender_id: String,
    pub handle: Option<String>,
    pub from_me: bool,
    /// A self-chat line: for the command layer, never for a contact assistant.
    pub is_command: bool,
    pub text: String,
    pub at_ms: i64,
}

/// (The pipeline's `Effect::NotifyOwner` carries it; bridges read it, so it lives below both.)
/// What an owner message is about, for a channel that can show controls with
/// it (Telegram's inline buttons); every other channel shows the text alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "confirmation")]
pub enum Regarding {
    /// Asks about a pending confirmation: Send / Edit / Drop buttons.
    Asks(String),
    /// Asks for a new text for the confirmation's draft (answered by a reply).
    EditText(String),
    /// The outcome of a decision made with those buttons: it replaces the question.
    Settles(String),
    /// The approvals list: numbered Send / Edit / Drop buttons for each
    /// pending confirmation, in the list's order.
    Approvals(Vec<String>),
}

/// The idempotency key of one side effect: `(run_id, step, attempt)`. The
/// pipeline journals it and a bridge's outbound ledger records it, so it lives
/// below both; it is a plain value (what may be sent is `pipeline::ConfirmedSend`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepKey {
    pub run_id: String,
    pub step: usize,
    pub attempt: u32,
}

impl std::fmt::Display for StepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.run_id, self.step, self.attempt)
    }
}
