//! WhatsApp. `export.rs` parses the "Export chat" text and `import.rs` stores it
//! as history (`steward import whatsapp`); `cloud/` is the Cloud API bridge
//! (webhook in, Graph API out) for a business number.

pub mod cloud;
pub mod export;
pub mod import;

/// The channel's name in memory, config and the pipeline.
pub const CHANNEL: &str = "whatsapp";
