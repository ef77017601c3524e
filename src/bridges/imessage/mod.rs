//! The iMessage bridge: reads the Messages database (backfill and live) and
//! Contacts into memory, and sends through AppleScript. chat.db and the
//! AddressBook are only ever opened read-only (invariant 1).

pub mod chatdb;
pub mod contacts;
pub mod ingest;
pub mod live;
pub mod outbound;
pub mod send;
pub mod typedstream;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::config::ImessageConfig;
use crate::memory::bulk::Bulk;
use chatdb::{ChatDb, ChatDbError, RawMessage};
use contacts::Card;
use ingest::{Counts, Ingest};

/// Rows read per short read transaction (and written per write transaction) live.
pub const BATCH: u32 = 10_000;
/// Rows per transaction in a backfill: fewer commits rewrite hot index pages less often.
const BULK_BATCH: u32 = 50_000;

/// Where this bridge reads from.
#[derive(Debug, Clone)]
pub struct Paths {
    pub chat_db: PathBuf,
    pub contacts: Vec<PathBuf>,
}

impl Paths {
    pub fn resolve(cfg: &ImessageConfig, user_home: &Path) -> Paths {
        let expand = |p: &Path| match p.strip_prefix("~") {
            Ok(rest) => user_home.join(rest),
            Err(_) => p.to_path_buf(),
        };
        Paths {
            chat_db: cfg
                .chat_db
                .as_deref()
                .map(expand)
                .unwrap_or_else(|| user_home.join("Library/Messages/chat.db")),
            contacts: if cfg.contacts.is_empty() {
                vec![contacts::default_root(user_home)]
            } else {
                cfg.contacts.iter().map(|p| expand(p)).collect()
            },
        }
    }
}

/// Open another app's SQLite file read-only, by path rather than `file:` URI, so
/// `#`, `%` and `?` in a folder name are plain characters and nothing can push
/// `mode=ro` out of the query string. The bundled SQLite parses any name that
/// starts with `file:` as a URI, so the path is made absolute first.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    crate::store::tune_library();
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Connection::open_with_flags(
        absolute,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// Every card from every readable AddressBook database; unreadable ones are counted.
pub fn load_cards(paths: &[PathBuf]) -> (Vec<Card>, u64) {
    let mut cards = Vec::new();
    let mut unreadable = 0;
    for db in paths.iter().flat_map(|p| contacts::databases(p)) {
        match contacts::read(&db) {
            Ok(mut c) => cards.append(&mut c),
            Err(e) => {
                unreadable += 1;
                tracing::warn!(path = %db.display(), error = %e, "skipping an unreadable Contacts database");
            }
        }
    }
    (cards, unreadable)
}

/// A store (not chat.db) failure, named as such.
fn sqlite(e: rusqlite::Error) -> ChatDbError {
    ChatDbError::Sqlite {
        path: PathBuf::from("steward.db"),
        source: e,
    }
}

/// Read every message of `db` into memory, `BATCH` rows per transaction.
/// `progress(done_rowid, max_rowid)` is called after each batch.
pub fn backfill(
    store: &mut Connection,
    db: &mut ChatDb,
    ingest: &mut Ingest,
    mut progress: impl FnMut(i64, i64),
) -> Result<Counts, ChatDbError> {
    let max = db.max_rowid()?;
    let chats = db.chats()?;
    {
        let tx = store.transaction().map_err(sqlite)?;
        ingest.sync_chats(&tx, &chats).map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
    }
    // A large page cache and rare checkpoints for the duration (store::bulk).
    crate::store::bulk(store, |store| {
        Ok::<_, rusqlite::Error>(bulk_copy(store, db, ingest, max, &mut progress))
    })
    .map_err(sqlite)??;
    Ok(ingest.counts.clone())
}

/// Copy every row in the mode `memory::bulk` picks: a first import (memory
/// holds no messages, and the live reader, if it ever ran, starts past these
/// rows, so nobody else can store them) skips the duplicate probes and builds
/// the indexes once at the end.
fn bulk_copy(
    store: &mut Connection,
    db: &mut ChatDb,
    ingest: &mut Ingest,
    max: i64,
    progress: &mut impl FnMut(i64, i64),
) -> Result<(), ChatDbError> {
    let live = crate::memory::messages::get_cursor(store, live::CURSOR).map_err(sqlite)?;
    let bulk = Bulk::begin(store, live.is_none_or(|c| c >= max)).map_err(sqlite)?;
    if bulk.is_first() {
        ingest.skip_checks_upto(max);
    }
    let copied = copy_all(store, db, ingest, &bulk, max, progress);
    // Also after a failure: what was committed gets its indexes now.
    let built = bulk.finish(store).map_err(sqlite);
    copied.and(built)
}

/// Rows per chat.db read: small enough that the writer starts at once.
const READ_BATCH: u32 = 5_000;
/// Read batches waiting for the writer: bounds memory (about 2 MB each).
const READ_AHEAD: usize = 4;

/// One chat.db read: rows with their bodies decoded, malformed rows counted,
/// and the highest ROWID seen.
type ReadBatch = (Vec<RawMessage>, u64, i64);

/// Copy rows past 0 up to `max`: a reader thread reads chat.db and decodes
/// bodies while this thread inserts (two cores: both halves cost about the same).
fn copy_all(
    store: &mut Connection,
    db: &mut ChatDb,
    ingest: &mut Ingest,
    bulk: &Bulk,
    max: i64,
    progress: &mut impl FnMut(i64, i64),
) -> Result<(), ChatDbError> {
    let (send, batches) = std::sync::mpsc::sync_channel(READ_AHEAD);
    let (give_back, done) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || read_all(db, max, send, done));
        write_all(store, ingest, bulk, (batches, give_back, max), progress)
    })
}

/// The reader half: stops at `max`, at an error (sent on), or when the writer
/// hangs up. It also frees the rows the writer is done with: they were
/// allocated here, and freeing them on the writer (the busier thread) took
/// ~10% of its time.
fn read_all(
    db: &mut ChatDb,
    max: i64,
    send: std::sync::mpsc::SyncSender<Result<ReadBatch, ChatDbError>>,
    done: std::sync::mpsc::Receiver<Vec<RawMessage>>,
) {
    let mut cursor = 0;
    while cursor < max {
        done.try_iter().for_each(drop);
        let batch = db.messages_after(cursor, READ_BATCH);
        let last = batch.as_ref().map_or(cursor, |b| b.2);
        let stop = batch.is_err() || last <= cursor;
        if send.send(batch).is_err() || stop {
            return;
        }
        cursor = last;
    }
}

/// The writer half: `BULK_BATCH` rows per write transaction.
fn write_all(
    store: &mut Connection,
    ingest: &mut Ingest,
    bulk: &Bulk,
    (batches, give_back, max): (
        std::sync::mpsc::Receiver<Result<ReadBatch, ChatDbError>>,
        std::sync::mpsc::Sender<Vec<RawMessage>>,
        i64,
    ),
    progress: &mut impl FnMut(i64, i64),
) -> Result<(), ChatDbError> {
    // Crash injection for tests: a killed import must leave a usable store.
    let fault = crate::fault::Fault::from_env();
    let mut batches = batches.into_iter().peekable();
    while batches.peek().is_some() {
        let tx = store.transaction().map_err(sqlite)?;
        let mut insert = crate::memory::messages::Inserter::new(&tx).map_err(sqlite)?;
        let mut rows_in_tx = 0;
        let mut last = 0;
        while rows_in_tx < BULK_BATCH as usize
            && let Some(batch) = batches.next()
        {
            let (mut rows, bad, upto) = batch?;
            ingest.counts.skipped += bad;
            for row in &mut rows {
                ingest.store(&tx, &mut insert, row).map_err(sqlite)?;
            }
            rows_in_tx += rows.len() + bad as usize;
            // The reader may have finished: then they are freed here.
            let _ = give_back.send(rows);
            last = upto;
        }
        drop(insert);
        bulk.batch(&tx).map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        fault.point("imessage.backfill.batch");
        progress(last, max);
    }
    Ok(())
}
