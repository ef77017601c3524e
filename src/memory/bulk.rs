//! How an import writes a lot of history at once (`steward import …`).
//!
//! Every import commits in batches, so a killed one keeps what it wrote and
//! the next run goes on from there without duplicates. What a batch costs
//! depends on whether memory already holds messages:
//!
//! - **First import** (no messages at all): the secondary indexes on
//!   `messages` are dropped before the first batch, and both they and the
//!   full-text index are built once at the end. Rows arrive in time order
//!   with random keys (GUIDs hashed to `ext_key`), so keeping the indexes
//!   current would mean a random b-tree insert per row per index, and each
//!   commit would rewrite most of their pages into the WAL. Building them at
//!   the end sorts each key once. The importer must not probe for duplicates
//!   in this mode (there is nothing to find, and no index to find it with).
//!   A killed first import leaves the indexes missing until the next writer
//!   open, which restores them (`store::migrate::restore_message_indexes`);
//!   its unindexed rows are indexed by the next write batch of any reader.
//!   Foreign keys are not checked row by row either: the importer writes
//!   only people and chats it has just made or read, and the per-row lookups
//!   (two into `people`, one into `chats`) were ~1.8 s of a 6.6 s
//!   1M-message import. `finish` checks the whole store once instead and applies each
//!   key's `ON DELETE` action to what lost its parent meanwhile (a person
//!   forgotten by the daemon between two batches): the state the checked
//!   import would have reached, had the forget come after it.
//! - **Later imports**: indexes stay, and the full-text index is brought up
//!   to date in each batch, before its commit.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::messages;
use crate::store::migrate::{MESSAGE_INDEXES, restore_message_indexes};

/// Helper threads for sorting while the indexes are built (two cores here).
const SORTER_THREADS: i64 = 2;

/// Page cache while the indexes are built (KiB). SQLite's sorter gathers keys
/// in memory up to the cache's size before it hands a sorted run to a helper
/// thread: under the import's 64 MiB cache each index sorted as one run, on
/// this thread, after the whole table was read. At 4 MiB (the sorter's floor
/// at 16 KiB pages) runs are sorted on the other core while this one reads
/// on, and the runs are merged on both: the three index builds of a
/// 1M-message store took 1.0 s instead of 1.8 s (`sqlite3`, 6 runs each).
const BUILD_CACHE_KIB: i64 = 4 * 1024;

/// FTS5's pending-terms hash while an import indexes (bytes). FTS5 writes a
/// new segment each time the hash passes this size and merges segments as
/// they pile up; at its 1 MB default a 1M-message first import wrote
/// thousands of small segments. 32 MB cut the full-text build by ~20% on the
/// 1M-message bench store (a bounded cost: the hash is freed at commit).
const IMPORT_FTS_HASH: i64 = 32 * 1024 * 1024;
/// FTS5's default, put back when the import ends.
const DEFAULT_FTS_HASH: i64 = 1024 * 1024;

#[derive(Debug)]
pub struct Bulk {
    first: bool,
    /// Foreign keys were switched off (a first import, outside a transaction).
    unchecked: bool,
}

impl Bulk {
    /// Decide the mode; in a first import, drop the secondary indexes.
    /// `may_be_first`: the caller can import without probing for duplicates.
    pub fn begin(conn: &Connection, may_be_first: bool) -> rusqlite::Result<Bulk> {
        let first = may_be_first
            && !conn.query_row("SELECT EXISTS (SELECT 1 FROM messages)", [], |r| r.get(0))?;
        let mut unchecked = false;
        if first {
            for (name, _) in MESSAGE_INDEXES {
                conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
            }
            // A no-op inside a transaction: then the rows stay checked.
            conn.pragma_update(None, "foreign_keys", "OFF")?;
            unchecked = !conn.query_row("PRAGMA foreign_keys", [], |r| r.get::<_, bool>(0))?;
        }
        // Persistent in the index's config table; a killed import leaves the
        // larger size behind, which only lets a big transaction hold more.
        fts_hash(conn, IMPORT_FTS_HASH)?;
        Ok(Bulk { first, unchecked })
    }

    /// Whether this is a first import (no duplicate probes allowed).
    pub fn is_first(&self) -> bool {
        self.first
    }

    /// Call in each batch's transaction, before its commit.
    pub fn batch(&self, tx: &Connection) -> rusqlite::Result<()> {
        if !self.first {
            messages::index_new(tx)?;
        }
        Ok(())
    }

    /// Build what a first import deferred; call after the last batch (also
    /// after a failed one: what was committed is then indexed).
    pub fn finish(self, conn: &mut Connection) -> rusqlite::Result<()> {
        // Outside the transaction, where the switch takes effect.
        if self.unchecked {
            conn.pragma_update(None, "foreign_keys", "ON")?;
        }
        let path = conn.path().filter(|p| !p.is_empty()).map(PathBuf::from);
        std::thread::scope(|scope| {
            let tx = conn.transaction()?;
            build_indexes(&tx)?;
            // The whole-store key check only reads: it runs on a connection
            // of its own, on the other core, while this one builds the
            // full-text index (the index builds already use both cores).
            let check = path
                .filter(|_| self.unchecked)
                .map(|path| scope.spawn(move || broken_keys_at(&path)));
            // Orphans go after the full-text index is built: deleting a
            // message tells that index to drop it, so it must be there.
            messages::index_new(&tx)?;
            if self.unchecked {
                let broken = match check.and_then(|c| c.join().ok().flatten()) {
                    Some(found) => found?,
                    None => broken_keys(&tx)?,
                };
                settle_orphans(&tx, &broken)?;
            }
            fts_hash(&tx, DEFAULT_FTS_HASH)?;
            tx.commit()
        })
    }
}

/// `restore_message_indexes` with the sorter on both cores (`BUILD_CACHE_KIB`).
fn build_indexes(conn: &Connection) -> rusqlite::Result<()> {
    let threads: i64 = conn.query_row("PRAGMA threads", [], |r| r.get(0))?;
    let cache: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
    conn.pragma_update(None, "threads", SORTER_THREADS)?;
    conn.pragma_update(None, "cache_size", -BUILD_CACHE_KIB)?;
    let built = restore_message_indexes(conn);
    conn.pragma_update(None, "cache_size", cache)?;
    conn.pragma_update(None, "threads", threads)?;
    built
}

/// Foreign keys broken anywhere in the store, as (table, key id).
fn broken_keys(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.prepare("SELECT DISTINCT \"table\", fkid FROM pragma_foreign_key_check")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// `broken_keys` on a read-only connection of its own; `None` if it cannot
/// be opened (the caller then checks on its own connection). It sees what the
/// last batch committed: all an import can have left broken, since the
/// daemon's own deletes cascade as they happen.
fn broken_keys_at(path: &Path) -> Option<rusqlite::Result<Vec<(String, i64)>>> {
    let conn = crate::store::open_readonly(path).ok()?;
    Some(broken_keys(&conn))
}

/// Apply each broken foreign key's `ON DELETE` action (CASCADE: the rows go;
/// SET NULL: the column is cleared), as SQLite would have when the parent was
/// deleted. Set-wise per key, since rows of WITHOUT ROWID tables (chat
/// members) have no rowid to name. Returns how many rows changed.
fn settle_orphans(conn: &Connection, broken: &[(String, i64)]) -> rusqlite::Result<usize> {
    let mut settled = 0;
    for (table, fkid) in broken {
        let (parent, from, to, action): (String, String, Option<String>, String) = conn
            .query_row(
                "SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1) WHERE id = ?2",
                rusqlite::params![table, fkid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
        let to = to.unwrap_or_else(|| "rowid".into());
        // Names from SQLite's own schema tables, quoted.
        let orphan = format!(
            "\"{from}\" IS NOT NULL AND \"{from}\" NOT IN (SELECT \"{to}\" FROM \"{parent}\")"
        );
        let sql = match action.as_str() {
            "CASCADE" => format!("DELETE FROM \"{table}\" WHERE {orphan}"),
            "SET NULL" => format!("UPDATE \"{table}\" SET \"{from}\" = NULL WHERE {orphan}"),
            other => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!(
                        "{table}.{from} lost its parent and its key is ON DELETE {other}"
                    )),
                ));
            }
        };
        settled += conn.execute(&sql, [])?;
    }
    if settled > 0 {
        tracing::info!(
            rows = settled,
            "import: rows whose person or chat went meanwhile were settled"
        );
    }
    Ok(settled)
}

/// Set the full-text index's pending-terms hash size.
fn fts_hash(conn: &Connection, bytes: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('hashsize', ?1)",
        [bytes],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes(conn: &Connection) -> Vec<String> {
        conn.prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    fn hash_size(conn: &Connection) -> Option<i64> {
        conn.query_row(
            "SELECT v FROM messages_fts_config WHERE k = 'hashsize'",
            [],
            |r| r.get(0),
        )
        .ok()
    }

    /// A person and one message: memory is no longer empty.
    fn one_message(conn: &Connection) {
        conn.execute_batch(
            "INSERT INTO people (id, created_at) VALUES ('pa', 'now');
             INSERT INTO messages (channel, external_id, ext_key, sender_id, person_id, direction, text, at, at_ms)
             VALUES ('imessage', 'G', 1, 'pa', 'pa', 'in', 'hi', 'now', 0);",
        )
        .unwrap();
    }

    #[test]
    fn a_first_import_drops_the_indexes_and_finish_puts_them_back() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        let all = indexes(&conn);
        assert_eq!(all.len(), MESSAGE_INDEXES.len());
        let bulk = Bulk::begin(&conn, true).unwrap();
        assert!(bulk.is_first());
        assert!(indexes(&conn).is_empty());
        assert_eq!(hash_size(&conn), Some(IMPORT_FTS_HASH));
        bulk.finish(&mut conn).unwrap();
        assert_eq!(indexes(&conn), all);
        assert_eq!(hash_size(&conn), Some(DEFAULT_FTS_HASH));
        // A killed first import: the next writer open restores them.
        let _ = Bulk::begin(&conn, true).unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        assert_eq!(indexes(&conn), all);
    }

    #[test]
    fn an_import_into_a_store_with_messages_keeps_the_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        one_message(&conn);
        let bulk = Bulk::begin(&conn, true).unwrap();
        assert!(!bulk.is_first());
        assert_eq!(indexes(&conn).len(), MESSAGE_INDEXES.len());
        let mut fresh = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut fresh).unwrap();
        let careful = Bulk::begin(&fresh, false).unwrap();
        assert!(!careful.is_first(), "a caller that must probe never drops");
        assert_eq!(indexes(&fresh).len(), MESSAGE_INDEXES.len());
    }

    fn fk_on(conn: &Connection) -> bool {
        conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap()
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_first_import_checks_keys_once_and_settles_what_lost_its_parent() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        settles_what_lost_its_parent(&mut conn);
    }

    /// In a store file the check runs on a second, read-only connection
    /// while the writer builds: it must find the same seven keys.
    #[test]
    fn in_a_store_file_the_key_check_beside_the_build_settles_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_writer(&dir.path().join("s.db")).unwrap();
        settles_what_lost_its_parent(&mut conn);
    }

    fn settles_what_lost_its_parent(conn: &mut Connection) {
        let bulk = Bulk::begin(conn, true).unwrap();
        assert!(!fk_on(conn), "rows are not checked one by one");
        // Two people and two chats; then the daemon forgets one person and
        // drops one chat between two batches (no cascade: keys are off here).
        conn.execute_batch(
            "INSERT INTO people (id, created_at) VALUES ('pa', 'now'), ('pb', 'now');
             INSERT INTO chats (id, channel, external_id, kind) VALUES (1, 'imessage', 'c1', 'group'), (2, 'imessage', 'c2', 'group');
             INSERT INTO chat_members (chat_id, person_id) VALUES (1, 'pa'), (2, 'pb'), (1, 'pb');
             INSERT INTO messages (channel, external_id, ext_key, chat_id, sender_id, person_id, direction, text, at, at_ms)
             VALUES ('imessage', 'A', 1, 1, 'pa', 'pa', 'in', 'kept apple', 'now', 0),
                    ('imessage', 'B', 2, 2, 'pb', 'pb', 'in', 'gone banana', 'now', 1),
                    ('imessage', 'C', 3, 2, 'pa', 'pa', 'in', 'kept cherry', 'now', 2);
             DELETE FROM people WHERE id = 'pb';
             DELETE FROM chats WHERE id = 2;",
        )
        .unwrap();
        assert_eq!(
            count(conn, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
            7,
            "B's sender, person and chat; C's chat; pb's two memberships and chat 2's"
        );
        bulk.finish(conn).unwrap();
        assert!(fk_on(conn), "finish puts the checks back");
        assert_eq!(
            count(conn, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
            0
        );
        // CASCADE: pb's message and memberships went; SET NULL: chat 2's other line stays, chatless.
        assert_eq!(
            count(conn, "SELECT COUNT(*) FROM messages WHERE person_id = 'pb'"),
            0
        );
        assert_eq!(count(conn, "SELECT COUNT(*) FROM chat_members"), 1);
        assert_eq!(
            count(
                conn,
                "SELECT COUNT(*) FROM messages WHERE external_id = 'C' AND chat_id IS NULL"
            ),
            1
        );
        // The full-text index agrees with the table: the settled row left it too.
        conn.execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
        assert_eq!(
            count(
                conn,
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'banana'"
            ),
            0
        );
        assert_eq!(
            count(
                conn,
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'kept'"
            ),
            2
        );
    }

    #[test]
    fn keys_stay_checked_when_an_import_runs_inside_a_transaction_or_into_messages() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        {
            let tx = conn.transaction().unwrap();
            let bulk = Bulk::begin(&tx, true).unwrap();
            assert!(bulk.is_first());
            assert!(fk_on(&tx), "SQLite ignores the switch in a transaction");
            let err = tx.execute_batch(
                "INSERT INTO messages (channel, external_id, ext_key, sender_id, person_id, direction, text, at, at_ms)
                 VALUES ('imessage', 'G', 1, 'nobody', 'nobody', 'in', 'hi', 'now', 0);",
            );
            assert!(err.is_err(), "a row with no person is refused");
        }
        one_message(&conn);
        let later = Bulk::begin(&conn, true).unwrap();
        assert!(fk_on(&conn), "a later import is checked row by row");
        later.finish(&mut conn).unwrap();
        assert!(fk_on(&conn));
    }
}
