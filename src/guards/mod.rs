//! Guards on the contact-facing path: injection probes in what a contact
//! writes (`probes`), bot-tells and rewrites on what the model drafts
//! (`draft`), and the confidence shown to the owner (`confidence`). Pure
//! functions, table-tested in `tests/guards.rs`.

pub mod confidence;
pub mod draft;
pub mod probes;
