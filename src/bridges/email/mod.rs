//! The email channel. Parts, as every channel has them: `mime` (one mail,
//! parsed), `ingest` (into memory, one chat per thread), `mbox` (the backfill
//! from a file). The IMAP reader (backfill + IDLE, cursor per account and
//! folder in `email_cursors`) and SMTP outbound with its ledger come next.

pub mod imap;
pub mod ingest;
pub mod mbox;
pub mod mime;

/// The channel name on messages, chats and handles' sources.
pub const CHANNEL: &str = "email";
