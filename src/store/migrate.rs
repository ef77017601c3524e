//! Numbered migrations, embedded in the binary and applied on open.
//!
//! Each file in `src/store/migrations/` is `NNNN_name.sql`. All pending ones run
//! in one IMMEDIATE transaction with their rows in `schema_version`, so a failed
//! migration leaves the database exactly as it was. The SHA-256 of each applied
//! file is recorded; `doctor` reports a file edited after it was applied.

use rusqlite::{Connection, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::StoreError;

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Append only.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "pipeline",
        sql: include_str!("migrations/0002_pipeline.sql"),
    },
    Migration {
        version: 3,
        name: "memory",
        sql: include_str!("migrations/0003_memory.sql"),
    },
    Migration {
        version: 4,
        name: "signals",
        sql: include_str!("migrations/0004_signals.sql"),
    },
    Migration {
        version: 5,
        name: "owner",
        sql: include_str!("migrations/0005_owner.sql"),
    },
    Migration {
        version: 6,
        name: "assistant",
        sql: include_str!("migrations/0006_assistant.sql"),
    },
    Migration {
        version: 7,
        name: "agents",
        sql: include_str!("migrations/0007_agents.sql"),
    },
    Migration {
        version: 8,
        name: "email",
        sql: include_str!("migrations/0008_email.sql"),
    },
    Migration {
        version: 9,
        name: "email_reply",
        sql: include_str!("migrations/0009_email_reply.sql"),
    },
    Migration {
        version: 10,
        name: "trackers",
        sql: include_str!("migrations/0010_trackers.sql"),
    },
    Migration {
        version: 11,
        name: "telegram",
        sql: include_str!("migrations/0011_telegram.sql"),
    },
    Migration {
        version: 12,
        name: "forgotten",
        sql: include_str!("migrations/0012_forgotten.sql"),
    },
    Migration {
        version: 13,
        name: "readlist",
        sql: include_str!("migrations/0013_readlist.sql"),
    },
    Migration {
        version: 14,
        name: "documents",
        sql: include_str!("migrations/0014_documents.sql"),
    },
    Migration {
        version: 15,
        name: "dashboard_reads",
        sql: include_str!("migrations/0015_dashboard_reads.sql"),
    },
    Migration {
        version: 16,
        name: "fts_without_sizes",
        sql: include_str!("migrations/0016_fts_without_sizes.sql"),
    },
];

/// The schema version this binary writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT;";

/// The highest applied version, or 0 for a database without the table.
pub fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?)
}

/// Apply what is pending. Returns the versions applied (empty when up to date).
pub fn migrate(conn: &mut Connection) -> Result<Vec<u32>, StoreError> {
    let applied = apply(conn, MIGRATIONS)?;
    restore_message_indexes(conn)?;
    Ok(applied)
}

/// The secondary indexes on `messages`, as migration 0003 made them. A first
/// import into an empty store drops them and builds each once at its end
/// (`memory::bulk`): sorting 1M keys once is several times cheaper than 1M
/// random b-tree inserts. A killed import leaves them missing, so every
/// writer open puts back whatever is gone (a no-op when all are there).
pub const MESSAGE_INDEXES: &[(&str, &str)] = &[
    (
        "messages_by_ext_key",
        "CREATE INDEX IF NOT EXISTS messages_by_ext_key ON messages (ext_key)",
    ),
    (
        "messages_by_person",
        "CREATE INDEX IF NOT EXISTS messages_by_person ON messages (person_id, at_ms, chat_id, channel)",
    ),
    (
        "messages_by_chat",
        "CREATE INDEX IF NOT EXISTS messages_by_chat ON messages (chat_id, at_ms)",
    ),
];

/// Create any of `MESSAGE_INDEXES` that is missing.
pub fn restore_message_indexes(conn: &Connection) -> rusqlite::Result<()> {
    for (_, sql) in MESSAGE_INDEXES {
        conn.execute_batch(sql)?;
    }
    Ok(())
}

fn apply(conn: &mut Connection, migrations: &[Migration]) -> Result<Vec<u32>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(BOOTSTRAP)?;
    let current = current_version(&tx)?;
    let supported = migrations.last().map_or(0, |m| m.version);
    if current > supported {
        return Err(StoreError::NewerSchema { current, supported });
    }
    let now = jiff::Timestamp::now().to_string();
    let mut applied = Vec::new();
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql)
            .map_err(|source| StoreError::Migration {
                version: m.version,
                name: m.name,
                source,
            })?;
        tx.execute(
            "INSERT INTO schema_version (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            params![m.version, m.name, checksum(m.sql), now],
        )?;
        applied.push(m.version);
    }
    tx.commit()?;
    Ok(applied)
}

/// Applied migrations whose embedded file no longer matches what was applied.
pub fn edited_migrations(conn: &Connection) -> Result<Vec<u32>, StoreError> {
    let mut stmt = conn.prepare("SELECT version, checksum FROM schema_version ORDER BY version")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?;
    let mut edited = Vec::new();
    for row in rows {
        let (version, sum) = row?;
        if let Some(m) = MIGRATIONS.iter().find(|m| m.version == version)
            && checksum(m.sql) != sum
        {
            edited.push(version);
        }
    }
    Ok(edited)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_and_match_file_names() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "migration {} out of order",
                m.name
            );
        }
        // Every .sql file in the folder is listed (none forgotten).
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, listed);
    }

    #[test]
    fn applies_once_and_records_versions() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(current_version(&conn).unwrap(), 0);
        let first = migrate(&mut conn).unwrap();
        assert_eq!(first.len(), MIGRATIONS.len());
        assert_eq!(current_version(&conn).unwrap(), latest_version());
        assert!(migrate(&mut conn).unwrap().is_empty());
        let rows: u32 = conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows as usize, MIGRATIONS.len());
        assert!(edited_migrations(&conn).unwrap().is_empty());
    }

    #[test]
    fn newer_schema_is_refused_and_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let future = latest_version() + 1;
        conn.execute(
            "INSERT INTO schema_version VALUES (?1, 'future', 'x', 'later')",
            [future],
        )
        .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { current, .. } if current == future));
        assert_eq!(current_version(&conn).unwrap(), future);
    }

    #[test]
    fn a_failing_migration_leaves_the_database_unchanged() {
        let list = [
            Migration {
                version: 1,
                name: "a",
                sql: "CREATE TABLE a (x INTEGER);",
            },
            Migration {
                version: 2,
                name: "b",
                sql: "CREATE TABLE b (y INTEGER); NOT SQL;",
            },
        ];
        let mut conn = Connection::open_in_memory().unwrap();
        let err = apply(&mut conn, &list).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { version: 2, .. }),
            "{err}"
        );
        // Neither migration nor the bookkeeping table survived.
        let tables: u32 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn edited_migration_is_detected() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "UPDATE schema_version SET checksum = 'old' WHERE version = 1",
            [],
        )
        .unwrap();
        assert_eq!(edited_migrations(&conn).unwrap(), vec![1]);
    }

    #[test]
    fn the_sizeless_full_text_index_holds_what_the_old_one_held() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, &MIGRATIONS[..15]).unwrap();
        // Three messages, two of them indexed (the mark is at 2), as a store
        // on version 15 would hold mid-batch.
        conn.execute_batch(
            "INSERT INTO people (id, created_at) VALUES ('pa', 'now');
             INSERT INTO messages (id, channel, external_id, ext_key, sender_id, person_id, direction, text, at, at_ms)
             VALUES (1, 'imessage', 'A', 1, 'pa', 'pa', 'in', 'apple pie', 'now', 0),
                    (2, 'imessage', 'B', 2, 'pa', 'pa', 'in', 'apple tart', 'now', 1),
                    (3, 'imessage', 'C', 3, 'pa', 'pa', 'in', 'apple cake', 'now', 2);
             INSERT INTO messages_fts (rowid, text, person_id) SELECT id, text, person_id FROM messages WHERE id <= 2;
             INSERT INTO source_cursors (source, value, updated_at) VALUES ('fts.messages', 2, 'now');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'messages_fts_docsize'"),
            0
        );
        assert_eq!(
            count(
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'person_id : \"pa\" AND text : (\"apple\")'"
            ),
            2
        );
        // The next batch indexes the rows past the mark, as before
        // (`memory::messages::index_new`'s statement).
        conn.execute(
            "INSERT INTO messages_fts (rowid, text, person_id) SELECT id, text, person_id FROM messages WHERE id > 2",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
        assert_eq!(
            count("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'apple'"),
            3
        );
    }
}
