//! The person-graph memory: people and their handles, chats, messages,
//! reactions and facts, with full-text search and the context builder.
//! Functions take a `&Connection` so an importer can batch many in one
//! transaction and the daemon can run them through `Store::write`.

pub mod bulk;
pub mod handle;
pub mod messages;
pub mod people;
pub mod phone_regexes;
pub mod query;

pub use handle::{Canonicalizer, Handle};
pub use people::MemoryError;
pub use query::{Caps, Context, context};
