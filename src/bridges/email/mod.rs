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
/// A task per account: its owner setup runs there, not before the daemon
/// answers (a phone among `owner.handles` loads libphonenumber's metadata,
/// ~100 ms, on the database writer).
pub fn start(
    config: &crate::config::Config,
    store: crate::store::Store,
    bus: tokio::sync::broadcast::Sender<crate::types::Inbound>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let name = Some(config.owner.name.clone()).filter(|n| !n.is_empty());
    let canon = crate::memory::Canonicalizer::new(config.owner.region.as_str());
    let mut tasks = Vec::new();
    for account in &config.bridges.email.accounts {
        let mut owner = config.owner.handles.clone();
        owner.push(account.address.clone());
        let setup = Setup {
            canon: canon.clone(),
            name: name.clone(),
            owner,
        };
        tasks.push(tokio::spawn(account_readers(
            account.clone(),
            setup,
            store.clone(),
            bus.clone(),
            stop.clone(),
        )));
    }
    tasks
}

/// What an account's reader needs to set up the owner in memory.
struct Setup {
    canon: crate::memory::Canonicalizer,
    name: Option<String>,
    owner: Vec<String>,
}

/// One account: the owner setup, then a reader per folder until they all
/// stop. The readers live in a `JoinSet`, so cutting this task off (a reader
/// stuck at stop) cuts them off too.
async fn account_readers(
    account: crate::config::EmailAccount,
    setup: Setup,
    store: crate::store::Store,
    bus: tokio::sync::broadcast::Sender<crate::types::Inbound>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let Setup { canon, name, owner } = setup;
    crate::memory::handle::load_metadata_for(&owner).await;
    let ingest = store
        .write(move |c| Ok(ingest::EmailIngest::new(c, canon, name.as_deref(), &owner)?))
        .await;
    let ingest = match ingest {
        Ok(i) => std::sync::Arc::new(std::sync::Mutex::new(i)),
        Err(e) => {
            tracing::warn!(account = %account.name, error = %e, "cannot start the mail reader");
            return;
        }
    };
    let mut readers = tokio::task::JoinSet::new();
    for folder in &account.folders {
        readers.spawn(imap::watch(
            account.clone(),
            folder.clone(),
            store.clone(),
            ingest.clone(),
            bus.clone(),
            stop.clone(),
        ));
    }
    while readers.join_next().await.is_some() {}
}
