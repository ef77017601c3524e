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
