//! A first import into an empty store (issue 19) drops the secondary indexes
//! and builds them, and the full-text index, once at its end. Killed halfway,
//! it must still leave a store that opens, answers and resumes without
//! duplicates.

mod common;
mod fixtures;

use common::{TestHome, json, stderr};
use rusqlite::{Connection, params};
use steward::bridges::imessage::typedstream;

/// More than one 50,000-row write batch.
const ROWS: i64 = 60_000;

/// A chat.db with `ROWS` messages with Ann, every third saying "dinner",
/// half of the bodies only in attributedBody.
fn chat_db(home: &TestHome) -> std::path::PathBuf {
    let path = home.user_home.join("chat.db");
    let f = fixtures::ChatDbFixture::create(&path, true);
    let ann = f.handle("+15125551234");
    let chat = f.chat("iMessage;-;+15125551234", 45, None, &[ann]);
    let tx = f.conn.unchecked_transaction().unwrap();
    {
        let mut msg = tx
            .prepare("INSERT INTO message (guid, text, handle_id, attributedBody, service, date, is_from_me) VALUES (?1, ?2, ?3, ?4, 'iMessage', ?5, ?6)")
            .unwrap();
        let mut join = tx
            .prepare("INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (?1, ?2, ?3)")
            .unwrap();
        let base = (1_700_000_000 - fixtures::APPLE_EPOCH) * 1_000_000_000;
        for i in 0..ROWS {
            let text = if i % 3 == 0 {
                format!("dinner at {i}")
            } else {
                format!("line {i}")
            };
            let date = base + i * 1_000_000_000;
            let body_only = i % 2 == 0;
            msg.execute(params![
                format!("{i:08X}-0000-4000-8000-{i:012X}"),
                (!body_only).then_some(text.as_str()),
                ann,
                typedstream::encode(&text, false),
                date,
                i % 4 == 0
            ])
            .unwrap();
            join.execute(params![chat, tx.last_insert_rowid(), date])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    path
}

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

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_killed_first_import_leaves_a_usable_store_and_resumes_without_duplicates() {
    let home = TestHome::new();
    home.init_if_missing();
    let db = chat_db(&home);
    let args = ["import", "imessage", "--json", "--db", db.to_str().unwrap()];

    let killed = home
        .cmd(&[])
        .env("STEWARD_FAULT", "crash-after:imessage.backfill.batch")
        .args(args)
        .output()
        .unwrap();
    assert!(!killed.status.success(), "the fault point was not reached");
    assert!(
        stderr(&killed).contains("injected crash"),
        "{}",
        stderr(&killed)
    );
    let store = home.path.join("steward.db");
    let kept = {
        let conn = Connection::open(&store).unwrap();
        let kept = count(&conn, "SELECT COUNT(*) FROM messages");
        assert!(
            0 < kept && kept < ROWS,
            "one batch committed, not all: {kept}"
        );
        assert!(
            indexes(&conn).is_empty(),
            "a first import runs without its secondary indexes"
        );
        kept
    };

    // The next run opens the store (which restores the indexes) and goes on.
    let out = home.cmd(&[]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let counts = json(&out);
    assert_eq!(counts["alreadyKnown"], kept, "{counts}");
    assert_eq!(counts["messages"], ROWS - kept, "{counts}");

    let conn = Connection::open(&store).unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM messages"), ROWS);
    assert_eq!(
        count(&conn, "SELECT COUNT(DISTINCT external_id) FROM messages"),
        ROWS
    );
    assert_eq!(
        indexes(&conn),
        [
            "messages_by_chat",
            "messages_by_ext_key",
            "messages_by_person"
        ]
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'dinner'"
        ),
        ROWS / 3,
        "every message is in the full-text index, once"
    );
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_first_import_builds_its_indexes_and_a_second_changes_nothing() {
    let home = TestHome::new();
    home.init_if_missing();
    let db = chat_db(&home);
    let args = ["import", "imessage", "--json", "--db", db.to_str().unwrap()];
    let first = home.cmd(&[]).args(args).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(json(&first)["messages"], ROWS);
    let second = home.cmd(&[]).args(args).output().unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(json(&second)["messages"], 0);
    assert_eq!(json(&second)["alreadyKnown"], ROWS);
    let conn = Connection::open(home.path.join("steward.db")).unwrap();
    assert_eq!(indexes(&conn).len(), 3);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'dinner'"
        ),
        ROWS / 3
    );
    // The plan for a person's thread uses the rebuilt index, not a table scan.
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE chat_id = 1 ORDER BY at_ms DESC LIMIT 20",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("messages_by_chat"), "{plan}");
}
