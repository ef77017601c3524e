//! WhatsApp. `export.rs` parses the "Export chat" text and `import.rs` stores it
//! as history (`steward import whatsapp`).

pub mod export;
pub mod import;

/// The channel's name in memory, config and the pipeline.
pub const CHANNEL: &str = "whatsapp";
