//! The email channel. Parts, as every channel has them: `mime` (one mail,
//! parsed), `ingest` (into memory, one chat per thread), `mbox` (the backfill
//! from a file), `imap` (the reader: backfill + IDLE, a cursor per account and
//! folder in `email_cursors`), `smtp` + `sent` + `outbound` (the send side:
//! a confirmed reply over SMTP in its thread, the Sent copy, the ledger).

pub mod backfill;
pub mod imap;
pub mod ingest;
pub mod mbox;
pub mod mime;
pub mod outbound;
pub mod sent;
pub mod smtp;

/// The channel name on messages, chats and handles' sources.
pub const CHANNEL: &str = "email";

/// Start one reader per (account, folder); they stop when `stop` turns true.
pub async fn start(
    config: &crate::config::Config,
    store: crate::store::Store,
    bus: tokio::sync::broadcast::Sender<crate::types::Inbound>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for account in &config.bridges.email.accounts {
        let mut owner = config.owner.handles.clone();
        owner.push(account.address.clone());
        let canon = crate::memory::Canonicalizer::new(config.owner.region.as_str());
        let name = Some(config.owner.name.clone()).filter(|n| !n.is_empty());
        let ingest = store
            .write(move |c| Ok(ingest::EmailIngest::new(c, canon, name.as_deref(), &owner)?))
            .await;
        let ingest = match ingest {
            Ok(i) => std::sync::Arc::new(std::sync::Mutex::new(i)),
            Err(e) => {
                tracing::warn!(account = %account.name, error = %e, "cannot start the mail reader");
                continue;
            }
        };
        for folder in &account.folders {
            tasks.push(tokio::spawn(imap::watch(
                account.clone(),
                folder.clone(),
                store.clone(),
                ingest.clone(),
                bus.clone(),
                stop.clone(),
            )));
        }
    }
    tasks
}
