//! WhatsApp. `linked/` is the owner's own number as a linked device
//! (whatsapp-rust; the default mode); `cloud/` is the Cloud API bridge
//! (webhook in, Graph API out) for a business number; `export.rs` parses the
//! "Export chat" text and `import.rs` stores it as history (`steward import whatsapp`).

pub mod cloud;
pub mod export;
pub mod import;
pub mod linked;

/// The channel's name in memory, config and the pipeline.
pub const CHANNEL: &str = "whatsapp";
