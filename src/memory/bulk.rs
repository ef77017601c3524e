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
//! - **Later imports**: indexes stay, and the full-text index is brought up
//!   to date in each batch, before its commit.

use rusqlite::Connection;

use super::messages;
use crate::store::migrate::{MESSAGE_INDEXES, restore_message_indexes};

/// Helper threads for sorting while the indexes are built (two cores here).
const SORTER_THREADS: i64 = 2;

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
}

impl Bulk {
    /// Decide the mode; in a first import, drop the secondary indexes.
    /// `may_be_first`: the caller can import without probing for duplicates.
    pub fn begin(conn: &Connection, may_be_first: bool) -> rusqlite::Result<Bulk> {
        let first = may_be_first
            && !conn.query_row("SELECT EXISTS (SELECT 1 FROM messages)", [], |r| r.get(0))?;
        if first {
            for (name, _) in MESSAGE_INDEXES {
                conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
            }
        }
        // Persistent in the index's config table; a killed import leaves the
        // larger size behind, which only lets a big transaction hold more.
        fts_hash(conn, IMPORT_FTS_HASH)?;
        Ok(Bulk { first })
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
        // CREATE INDEX sorts every row: let SQLite's sorter use a second core.
        let threads: i64 = conn.query_row("PRAGMA threads", [], |r| r.get(0))?;
        conn.pragma_update(None, "threads", SORTER_THREADS)?;
        let tx = conn.transaction()?;
        let built = restore_message_indexes(&tx)
            .and_then(|()| messages::index_new(&tx))
            .and_then(|_| fts_hash(&tx, DEFAULT_FTS_HASH))
            .and_then(|()| tx.commit());
        conn.pragma_update(None, "threads", threads)?;
        built
    }
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
        conn.execute_batch(
            "INSERT INTO people (id, created_at) VALUES ('pa', 'now');
             INSERT INTO messages (channel, external_id, ext_key, sender_id, person_id, direction, text, at, at_ms)
             VALUES ('imessage', 'G', 1, 'pa', 'pa', 'in', 'hi', 'now', 0);",
        )
        .unwrap();
        let bulk = Bulk::begin(&conn, true).unwrap();
        assert!(!bulk.is_first());
        assert_eq!(indexes(&conn).len(), MESSAGE_INDEXES.len());
        let mut fresh = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut fresh).unwrap();
        let careful = Bulk::begin(&fresh, false).unwrap();
        assert!(!careful.is_first(), "a caller that must probe never drops");
        assert_eq!(indexes(&fresh).len(), MESSAGE_INDEXES.len());
    }
}
