//! The live reader: new chat.db rows into memory and onto the daemon's bus.
//!
//! A plain thread (chat.db reads block) woken by file events on the Messages
//! folder (chat.db, -wal, -shm), debounced ~20 ms, plus a slow fallback poll.
//! It reads rows past a cursor persisted in steward.db, in the same transaction
//! as the rows it stores, so a restart neither loses nor repeats a message. On
//! the very first start the cursor is set to the newest row: history is never
//! acted on (a backfill only fills memory). Survives the file being replaced,
//! Messages' checkpoints and sleep: any failure reopens on the next wake.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use tokio::sync::broadcast;

use super::chatdb::ChatDb;
use super::ingest::Ingest;
use super::{BATCH, load_cards};
use crate::memory::Canonicalizer;
use crate::memory::messages::{get_cursor, set_cursor};
use crate::store::{Store, StoreError};
use crate::types::Inbound;

/// The cursor's name in `source_cursors`.
pub const CURSOR: &str = "imessage.rowid";
/// File events closer together than this are one wake-up.
pub const DEBOUNCE: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub chat_db: PathBuf,
    pub contacts: Vec<PathBuf>,
    pub poll: Duration,
    pub region: String,
    pub owner_name: Option<String>,
    pub owner_handles: Vec<String>,
}

enum Wake {
    Changed,
    Stop,
}

pub struct LiveHandle {
    tx: mpsc::Sender<Wake>,
    thread: Option<JoinHandle<()>>,
}

impl LiveHandle {
    /// Stop the reader and wait for it (it finishes the batch in hand).
    pub fn stop(mut self) {
        let _ = self.tx.send(Wake::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn spawn(
    cfg: LiveConfig,
    store: Store,
    bus: broadcast::Sender<Inbound>,
) -> std::io::Result<LiveHandle> {
    let (tx, rx) = mpsc::channel();
    let events = tx.clone();
    let thread = std::thread::Builder::new()
        .name("imessage-live".into())
        .spawn(move || run(cfg, store, bus, rx, events))?;
    Ok(LiveHandle {
        tx,
        thread: Some(thread),
    })
}

fn watch(cfg: &LiveConfig, tx: mpsc::Sender<Wake>) -> Option<notify::RecommendedWatcher> {
    let dir = cfg.chat_db.parent()?.to_path_buf();
    let name = cfg.chat_db.file_name()?.to_string_lossy().into_owned();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res
            && event.paths.iter().any(|p| {
                p.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&name))
            })
        {
            let _ = tx.send(Wake::Changed);
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "no file events for chat.db; polling only"))
    .ok()?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the Messages folder; polling only"))
        .ok()?;
    Some(watcher)
}

struct Session {
    db: ChatDb,
    /// The file the connection has open; a different one at the path means replaced.
    identity: Option<(u64, u64)>,
    ingest: Option<Ingest>,
    /// The first row read without its chat, and since when: it waits for
    /// its `chat_message_join` row (a writer that commits the message before
    /// its join would otherwise have it read as chat-less, and a self-chat
    /// line taken for a contact's).
    held: Option<(i64, Instant)>,
}

/// How long a row may lack its chat before it is read as chat-less.
pub const CHATLESS_GRACE: Duration = Duration::from_secs(2);

/// Rows up to the first one without a chat (unless that one has waited
/// `CHATLESS_GRACE`), and the cursor they cover; `None` when all of `rows`
/// may be read now.
fn hold_chatless(
    held: &mut Option<(i64, Instant)>,
    rows: &[super::chatdb::RawMessage],
    now: Instant,
) -> Option<(usize, i64)> {
    let Some(i) = rows.iter().position(|r| r.chat_rowid.is_none()) else {
        *held = None;
        return None;
    };
    let id = rows[i].rowid;
    let since = match *held {
        Some((h, since)) if h == id => since,
        _ => now,
    };
    if now.duration_since(since) >= CHATLESS_GRACE {
        *held = None;
        return None;
    }
    *held = Some((id, since));
    Some((i, id - 1))
}

fn file_identity(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn run(
    cfg: LiveConfig,
    store: Store,
    bus: broadcast::Sender<Inbound>,
    rx: mpsc::Receiver<Wake>,
    events: mpsc::Sender<Wake>,
) {
    let _watcher = watch(&cfg, events);
    let mut session: Option<Session> = None;
    let mut last_error: Option<String> = None;
    loop {
        match step(&cfg, &store, &bus, &mut session) {
            Ok(()) => last_error = None,
            Err(e) => {
                // Log a failure once, not every poll; reopen on the next wake.
                let msg = e.to_string();
                if last_error.as_deref() != Some(&msg) {
                    tracing::warn!(error = %msg, "iMessage live reader");
                }
                last_error = Some(msg);
                session = None;
            }
        }
        match rx.recv_timeout(cfg.poll) {
            Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Wake::Changed) => {
                // Debounce: let a burst of writes settle, then read once.
                std::thread::sleep(DEBOUNCE);
                while let Ok(w) = rx.try_recv() {
                    if matches!(w, Wake::Stop) {
                        return;
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// The live cursor, set to `newest` if there is none yet. Atomic under the
/// single writer: a backfill and the live reader agree on one value.
pub fn ensure_cursor(conn: &rusqlite::Connection, newest: i64) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO source_cursors (source, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (source) DO NOTHING",
        rusqlite::params![CURSOR, newest, jiff::Timestamp::now().to_string()],
    )?;
    Ok(get_cursor(conn, CURSOR)?.unwrap_or(newest))
}

#[derive(Debug, thiserror::Error)]
enum LiveError {
    #[error(transparent)]
    ChatDb(#[from] super::chatdb::ChatDbError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn step(
    cfg: &LiveConfig,
    store: &Store,
    bus: &broadcast::Sender<Inbound>,
    session: &mut Option<Session>,
) -> Result<(), LiveError> {
    let identity = file_identity(&cfg.chat_db);
    if session.as_ref().is_some_and(|s| s.identity != identity) {
        tracing::info!(path = %cfg.chat_db.display(), "chat.db was replaced; reopening");
        *session = None;
    }
    if session.is_none() {
        *session = Some(Session {
            db: ChatDb::open(&cfg.chat_db)?,
            identity,
            ingest: None,
            held: None,
        });
    }
    let s = session.as_mut().expect("opened above");
    let max = s.db.max_rowid()?;
    let first_max = max;
    // First start: begin at the newest row; history is never acted on.
    let cursor = store.write_blocking(move |c| Ok(ensure_cursor(c, first_max)?))?;
    let cursor = if max < cursor {
        // chat.db was replaced by a smaller one: do not re-read it as new.
        tracing::warn!(
            cursor,
            max,
            "chat.db was replaced; the live cursor moves to its newest row"
        );
        store.write_blocking(move |c| Ok(set_cursor(c, CURSOR, max)?))?;
        max
    } else {
        cursor
    };
    if cursor == max && s.ingest.is_some() {
        return Ok(());
    }
    if s.ingest.is_none() {
        let mut owner = cfg.owner_handles.clone();
        owner.extend(s.db.owner_accounts()?);
        let (cards, _) = load_cards(&cfg.contacts);
        let chats = s.db.chats()?;
        let (region, name) = (cfg.region.clone(), cfg.owner_name.clone());
        // On this thread, not the writer's (see `load_metadata`).
        crate::memory::handle::load_metadata();
        let ingest = store.write_blocking(move |c| {
            let tx = c.transaction()?;
            let mut ingest = Ingest::new(
                &tx,
                Canonicalizer::new(&region),
                name.as_deref(),
                &owner,
                &cards,
            )?;
            ingest.sync_chats(&tx, &chats)?;
            tx.commit()?;
            Ok(ingest)
        })?;
        s.ingest = Some(ingest);
    }
    read_new(store, bus, s, cursor, max)
}

/// Read the rows past `cursor` up to `max` into memory, batch by batch,
/// and publish the new ones.
fn read_new(
    store: &Store,
    bus: &broadcast::Sender<Inbound>,
    s: &mut Session,
    mut cursor: i64,
    max: i64,
) -> Result<(), LiveError> {
    while cursor < max {
        let (mut rows, mut bad, mut last) = s.db.messages_after(cursor, BATCH)?;
        let holding = hold_chatless(&mut s.held, &rows, Instant::now());
        if let Some((keep, upto)) = holding {
            // Counted when the held rows are read (a malformed one before it is not).
            (bad, last) = (0, upto);
            rows.truncate(keep);
        }
        let mut ingest = s.ingest.take().expect("step sets the ingest first");
        if rows
            .iter()
            .any(|r| r.chat_rowid.is_some_and(|c| !ingest.knows_chat(c)))
        {
            let chats = s.db.chats()?;
            ingest = store.write_blocking(move |c| {
                ingest.sync_chats(c, &chats)?;
                Ok(ingest)
            })?;
        }
        let (ingest, fresh) = store.write_blocking(move |c| {
            let tx = c.transaction()?;
            ingest.people_changed(&tx)?;
            ingest.counts.skipped += bad;
            let mut fresh = Vec::new();
            for row in &mut rows {
                if let Some(m) = ingest.row(&tx, row)? {
                    fresh.push(m);
                }
            }
            crate::memory::messages::index_new(&tx)?;
            set_cursor(&tx, CURSOR, last)?;
            tx.commit()?;
            Ok((ingest, fresh))
        })?;
        s.ingest = Some(ingest);
        for m in fresh {
            // No subscriber is fine: memory already has it.
            let _ = bus.send(m);
        }
        if last <= cursor || holding.is_some() {
            break;
        }
        cursor = last;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridges::imessage::chatdb::RawMessage;

    fn row(rowid: i64, chat: Option<i64>) -> RawMessage {
        RawMessage {
            rowid,
            chat_rowid: chat,
            ..RawMessage::default()
        }
    }

    #[test]
    fn a_row_without_its_chat_waits_for_it_then_is_read_as_it_is() {
        let t0 = Instant::now();
        let mut held = None;
        let rows = [row(5, Some(1)), row(6, None), row(7, Some(1))];
        assert_eq!(
            hold_chatless(&mut held, &rows, t0),
            Some((1, 5)),
            "row 6 waits"
        );
        // Its join arrived: everything reads.
        let joined = [row(6, Some(2)), row(7, Some(1))];
        assert_eq!(hold_chatless(&mut held, &joined, t0), None);
        assert_eq!(held, None);
        // A row that never gets a chat is read once it has waited the grace.
        assert_eq!(hold_chatless(&mut held, &rows[1..], t0), Some((0, 5)));
        let later = t0 + CHATLESS_GRACE / 2;
        assert_eq!(
            hold_chatless(&mut held, &rows[1..], later),
            Some((0, 5)),
            "the wait is not restarted"
        );
        assert_eq!(
            hold_chatless(&mut held, &rows[1..], t0 + CHATLESS_GRACE),
            None
        );
    }
}
