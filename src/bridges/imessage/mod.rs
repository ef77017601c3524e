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
use crate::store::{BULK_CACHE_KIB, BULK_CHECKPOINT_PAGES};
use chatdb::{ChatDb, ChatDbError};
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

/// Read every message of `db` into memory, `BATCH` rows per transaction.
/// `progress(done_rowid, max_rowid)` is called after each batch.
pub fn backfill(
    store: &mut Connection,
    db: &ChatDb,
    ingest: &mut Ingest,
    mut progress: impl FnMut(i64, i64),
) -> Result<Counts, ChatDbError> {
    let max = db.max_rowid()?;
    let chats = db.chats()?;
    let sqlite = |e: rusqlite::Error| ChatDbError::Sqlite {
        path: PathBuf::from("steward.db"),
        source: e,
    };
    {
        let tx = store.transaction().map_err(sqlite)?;
        ingest.sync_chats(&tx, &chats).map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
    }
    // A bulk load touches many b-tree pages; a large page cache for the duration
    // keeps them in memory instead of re-reading them from the WAL. Restored after.
    let cache: i64 = store
        .query_row("PRAGMA cache_size", [], |r| r.get(0))
        .map_err(sqlite)?;
    let checkpoint: i64 = store
        .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
        .map_err(sqlite)?;
    store
        .pragma_update(None, "cache_size", -BULK_CACHE_KIB)
        .map_err(sqlite)?;
    store
        .pragma_update(None, "wal_autocheckpoint", BULK_CHECKPOINT_PAGES)
        .map_err(sqlite)?;
    let result = copy_all(store, db, ingest, max, &mut progress);
    store
        .pragma_update(None, "cache_size", cache)
        .map_err(sqlite)?;
    store
        .pragma_update(None, "wal_autocheckpoint", checkpoint)
        .map_err(sqlite)?;
    result?;
    Ok(ingest.counts.clone())
}

fn copy_all(
    store: &mut Connection,
    db: &ChatDb,
    ingest: &mut Ingest,
    max: i64,
    progress: &mut impl FnMut(i64, i64),
) -> Result<(), ChatDbError> {
    let sqlite = |e: rusqlite::Error| ChatDbError::Sqlite {
        path: PathBuf::from("steward.db"),
        source: e,
    };
    let mut cursor = 0;
    while cursor < max {
        let (rows, bad, last) = db.messages_after(cursor, BULK_BATCH)?;
        ingest.counts.skipped += bad;
        let tx = store.transaction().map_err(sqlite)?;
        for row in &rows {
            ingest.row(&tx, row).map_err(sqlite)?;
        }
        crate::memory::messages::index_new(&tx).map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        if last <= cursor {
            break;
        }
        cursor = last;
        progress(cursor, max);
    }
    Ok(())
}
