//! memory::context over an imported fixture: thread, other channels, FTS
//! matches limited to the person, and caps.

mod fixtures;

use steward::bridges::imessage::{self, chatdb::ChatDb, ingest::Ingest};
use steward::memory::{Canonicalizer, Caps, context, people, query};

fn imported() -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let s = fixtures::standard(dir.path());
    let mut conn = steward::store::open_writer(&dir.path().join("steward.db")).unwrap();
    let mut db = ChatDb::open(&s.db).unwrap();
    let (cards, _) = imessage::load_cards(std::slice::from_ref(&s.contacts));
    let mut ingest = {
        let tx = conn.transaction().unwrap();
        let i = Ingest::new(
            &tx,
            Canonicalizer::new("US"),
            Some("Me"),
            &db.owner_accounts().unwrap(),
            &cards,
        )
        .unwrap();
        tx.commit().unwrap();
        i
    };
    imessage::backfill(&mut conn, &mut db, &mut ingest, |_, _| {}).unwrap();
    (dir, conn)
}

#[test]
fn context_gathers_thread_other_channels_and_person_scoped_matches() {
    let (_dir, conn) = imported();
    let canon = Canonicalizer::new("US");
    let ann = people::find(&conn, "Ann Lee", &canon).unwrap();
    let bob = people::find(&conn, "Bob Stone", &canon).unwrap();
    let ann_chat: i64 = conn
        .query_row(
            "SELECT id FROM chats WHERE external_id = 'iMessage;-;+15125551234'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    query::add_fact(&conn, &ann, "climbs", "sport routes", "test", 0.9).unwrap();

    let c = context(
        &conn,
        &ann,
        Some(ann_chat),
        Some("friday crag"),
        Caps::default(),
    )
    .unwrap();
    assert_eq!(c.person.name.as_deref(), Some("Ann Lee"));
    assert_eq!(c.facts.len(), 1);
    // The thread, oldest first, only this chat.
    let thread: Vec<&str> = c.thread.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(thread.first(), Some(&"hey, are we still on for friday?"));
    assert_eq!(thread.len(), 4);
    // Other channels: her email chat, not this thread.
    assert_eq!(c.other_channels.len(), 1);
    assert_eq!(c.other_channels[0].text, "sent from my laptop");
    // Matches: words must all occur, in her messages only.
    assert!(c.matches.is_empty(), "no single message has both words");
    let c = context(&conn, &ann, Some(ann_chat), Some("friday"), Caps::default()).unwrap();
    assert_eq!(c.matches.len(), 1);
    let c = context(&conn, &bob, None, Some("friday"), Caps::default()).unwrap();
    assert!(c.matches.is_empty(), "Ann's words are not Bob's");
    // Caps hold.
    let small = Caps {
        thread: 2,
        line_chars: 5,
        ..Caps::default()
    };
    let c = context(&conn, &ann, Some(ann_chat), None, small).unwrap();
    assert_eq!(c.thread.len(), 2);
    assert!(c.thread.iter().all(|l| l.text.chars().count() <= 6));
}

#[test]
fn a_merge_keeps_search_working_for_the_merged_person() {
    let (_dir, mut conn) = imported();
    let canon = Canonicalizer::new("US");
    let bob = people::find(&conn, "Bob Stone", &canon).unwrap();
    let carol = people::find(&conn, "Carol", &canon).unwrap();
    let tx = conn.transaction().unwrap();
    people::merge(&tx, &bob, &carol).unwrap();
    tx.commit().unwrap();
    let c = context(&conn, &bob, None, Some("saturday"), Caps::default()).unwrap();
    assert_eq!(
        c.matches.len(),
        1,
        "Carol's message now belongs to Bob and is found under him"
    );
}

/// People whose `last_message_ms` is not the newest of their messages.
fn stale_last_message(conn: &rusqlite::Connection) -> Vec<(String, Option<i64>, Option<i64>)> {
    let mut stmt = conn
        .prepare(
            "SELECT id, last_message_ms, (SELECT MAX(at_ms) FROM messages m WHERE m.person_id = p.id) AS newest
             FROM people p WHERE last_message_ms IS NOT newest",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn each_persons_last_message_time_is_kept_through_import_merge_and_split() {
    let (_dir, mut conn) = imported();
    let canon = Canonicalizer::new("US");
    let with_messages: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM people WHERE last_message_ms IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(with_messages >= 3, "the import set it: {with_messages}");
    assert_eq!(stale_last_message(&conn), vec![], "after the bulk import");

    let ann = people::find(&conn, "Ann Lee", &canon).unwrap();
    let email = people::handles_of(&conn, &ann)
        .unwrap()
        .into_iter()
        .find(|h| h.starts_with("email:"))
        .expect("Ann has an email handle");
    let tx = conn.transaction().unwrap();
    let moved =
        people::split(&tx, &canon.canonicalize(email.trim_start_matches("email:"))).unwrap();
    tx.commit().unwrap();
    assert_eq!(stale_last_message(&conn), vec![], "after a split");
    let moved_last: Option<i64> = conn
        .query_row(
            "SELECT last_message_ms FROM people WHERE id = ?1",
            [&moved],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        moved_last.is_some(),
        "her email message went with the handle"
    );

    let tx = conn.transaction().unwrap();
    people::merge(&tx, &ann, &moved).unwrap();
    tx.commit().unwrap();
    assert_eq!(stale_last_message(&conn), vec![], "after a merge");

    // The People list reads the kept time, newest first.
    let list = query::people(&conn, None, None).unwrap();
    let times: Vec<&str> = list
        .iter()
        .filter_map(|p| p.last_message_at.as_deref())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}
