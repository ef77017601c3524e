//! iMessage into memory through the real binary: counts, idempotence, people,
//! person show/merge/split/forget, and that Apple's files are never written.

mod common;
mod fixtures;

use common::{TestHome, json, stderr};
use fixtures::{MESSAGES, REACTIONS, SKIPPED};

fn import(home: &TestHome, s: &fixtures::Scenario) -> serde_json::Value {
    home.init_if_missing();
    let out = home.cmd(&[]).args(s.import_args()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out)
}

fn person<'a>(people: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    people
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {people}"))
}

#[test]
fn import_fills_memory_with_the_right_counts_and_is_idempotent() {
    let home = TestHome::new();
    home.init_if_missing();
    let s = fixtures::standard(&home.user_home);
    let before = fixtures::hash_tree(&s.contacts);
    let db_before = std::fs::read(&s.db).unwrap();

    let first = import(&home, &s);
    assert_eq!(first["messages"], MESSAGES, "{first}");
    assert_eq!(first["reactions"], REACTIONS, "{first}");
    assert_eq!(first["skipped"], SKIPPED, "{first}");
    assert_eq!(first["chats"], 5, "{first}");
    assert_eq!(first["echoes"], 1, "{first}");
    assert_eq!(first["groupEvents"], 1, "{first}");
    assert!(first["seconds"].is_number());

    let people = json(&home.run(&["people", "--json"]));
    let ann = person(&people, "Ann Lee");
    assert_eq!(
        ann["handles"],
        serde_json::json!(["email:ann@example.com", "phone:+15125551234"])
    );
    assert_eq!(ann["messageCount"], 5);
    assert_eq!(ann["channels"], serde_json::json!(["imessage"]));
    assert_eq!(ann["isOwner"], false);
    assert_eq!(ann["lastMessageAt"], "2025-10-09T08:05:00Z");
    let bob = person(&people, "Bob Stone");
    assert_eq!(bob["messageCount"], 4);
    assert_eq!(bob["channels"], serde_json::json!(["imessage", "sms"]));
    assert_eq!(person(&people, "Carol")["messageCount"], 1);
    let owner: Vec<_> = people
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["isOwner"] == true)
        .collect();
    assert_eq!(owner.len(), 1);
    assert_eq!(
        owner[0]["handles"],
        serde_json::json!(["phone:+15125550000"])
    );
    assert_eq!(
        owner[0]["messageCount"], 2,
        "the group line and the self-chat command"
    );

    // Again: nothing new, nothing duplicated.
    let second = import(&home, &s);
    assert_eq!(
        (
            second["messages"].as_u64(),
            second["reactions"].as_u64(),
            second["people"].as_u64(),
            second["chats"].as_u64()
        ),
        (Some(0), Some(0), Some(0), Some(0)),
        "{second}"
    );
    assert_eq!(second["alreadyKnown"], MESSAGES);
    assert_eq!(json(&home.run(&["people", "--json"])), people);

    let status = json(&home.run(&["status", "--json"]));
    assert_eq!(status["database"]["messages"], MESSAGES);
    assert_eq!(
        status["database"]["people"],
        people.as_array().unwrap().len()
    );

    // Apple's files were only read.
    assert_eq!(std::fs::read(&s.db).unwrap(), db_before);
    assert_eq!(fixtures::hash_tree(&s.contacts), before);
}

#[test]
fn person_show_resolves_any_handle_form_newest_first() {
    let home = TestHome::new();
    home.init_if_missing();
    let s = fixtures::standard(&home.user_home);
    import(&home, &s);
    for who in [
        "(512) 555-1234",
        "+1 512 555 1234",
        "ANN@example.com",
        "Ann Lee",
        "ann lee",
    ] {
        let out = home.run(&["person", "show", who, "--json"]);
        assert!(out.status.success(), "{who}: {}", stderr(&out));
        assert_eq!(json(&out)["name"], "Ann Lee", "{who}");
    }
    let ann = json(&home.run(&["person", "show", "5125551234", "--json"]));
    assert_eq!(ann["messageCount"], 5);
    let recent = ann["recent"].as_array().unwrap();
    assert_eq!(recent[0]["text"], "sent from my laptop");
    assert_eq!(recent[1]["text"], "bring the blue rope");
    assert_eq!(recent[1]["edited"], true);
    assert_eq!(recent[2]["text"], "🎉 see you there 𝖘𝖔𝖔𝖓");
    assert_eq!(recent[3]["direction"], "out");
    assert_eq!(recent[4]["direction"], "in");
    for key in ["channel", "chat", "direction", "text", "at", "edited"] {
        assert!(recent[0].get(key).is_some(), "{key}");
    }
    let missing = home.run(&["person", "show", "nobody at all"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no person matches"));
}

#[test]
fn merge_split_and_forget() {
    let home = TestHome::new();
    home.init_if_missing();
    let s = fixtures::standard(&home.user_home);
    import(&home, &s);
    let people = json(&home.run(&["people", "--json"]));
    let bob = person(&people, "Bob Stone")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let carol = person(&people, "Carol")["id"].as_str().unwrap().to_string();

    let out = json(&home.run(&["person", "merge", &bob, &carol, "--json"]));
    assert_eq!(out["merged"], true);
    let merged = json(&home.run(&["person", "show", &bob, "--json"]));
    assert_eq!(merged["messageCount"], 5);
    assert!(
        merged["handles"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("email:carol@example.org"))
    );
    // Again: a no-op with a note. Self-merge: an error.
    let again = json(&home.run(&["person", "merge", &bob, &carol, "--json"]));
    assert_eq!(again["merged"], false);
    assert!(again["note"].as_str().unwrap().contains("already merged"));
    let selfmerge = home.run(&["person", "merge", &bob, &bob]);
    assert_eq!(selfmerge.status.code(), Some(1));
    assert!(stderr(&selfmerge).contains("themself"));

    // Split Carol's address back out, with her message.
    let split = json(&home.run(&["person", "split", "carol@example.org", "--json"]));
    let new_id = split["person"].as_str().unwrap();
    assert_eq!(
        json(&home.run(&["person", "show", new_id, "--json"]))["messageCount"],
        1
    );
    assert_eq!(
        json(&home.run(&["person", "show", &bob, "--json"]))["messageCount"],
        4
    );

    // Forget Bob: his messages go, and FTS no longer finds them.
    // Issue 18: forget asks first; without a terminal it needs --yes and deletes nothing.
    let refused = home.run(&["person", "forget", "Bob Stone"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert!(home.run(&["person", "show", "Bob Stone"]).status.success());
    let gone = json(&home.run(&["person", "forget", "Bob Stone", "--yes", "--json"]));
    assert_eq!(gone["messages"], 4);
    assert_eq!(home.run(&["person", "show", &bob]).status.code(), Some(1));
    let conn = rusqlite::Connection::open(home.file("steward.db")).unwrap();
    let hits: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'orphaned'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hits, 0);
}

/// Issue 18: a forgotten person stays forgotten. The next import (and her
/// Contacts card) does not bring her back; only a hash of each handle is kept;
/// `person unforget` lets a handle back.
#[test]
fn a_forgotten_person_stays_forgotten_until_unforget() {
    let home = TestHome::new();
    home.init_if_missing();
    let s = fixtures::standard(&home.user_home);
    import(&home, &s);
    let gone = json(&home.run(&["person", "forget", "Ann Lee", "--yes", "--json"]));
    assert_eq!(gone["handles"], 2, "{gone}");
    let again = import(&home, &s);
    assert_eq!(again["people"], 0, "nobody new: {again}");
    assert!(again["skipped"].as_u64().unwrap() > SKIPPED, "{again}");
    let conn = rusqlite::Connection::open(home.file("steward.db")).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM messages WHERE handle IN ('phone:+15125551234', 'email:ann@example.com')"
        ),
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM people WHERE name = 'Ann Lee'"),
        0
    );
    assert_eq!(
        home.run(&["person", "show", "+15125551234"]).status.code(),
        Some(1)
    );
    // Only hashes are kept: no trace of the number or the address.
    let kept: Vec<String> = conn
        .prepare("SELECT hash FROM forgotten_handles")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept.len(), 2);
    for h in &kept {
        assert!(
            h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()),
            "{h}"
        );
        assert!(!h.contains("5551234"));
    }

    let back = json(&home.run(&["person", "unforget", "(512) 555-1234", "--json"]));
    assert_eq!(back["wasForgotten"], true, "{back}");
    assert_eq!(back["handle"], "phone:+15125551234");
    let twice = json(&home.run(&["person", "unforget", "+15125551234", "--json"]));
    assert_eq!(twice["wasForgotten"], false);
    let third = import(&home, &s);
    assert_eq!(third["people"], 1, "{third}");
    let ann = json(&home.run(&["person", "show", "+15125551234", "--json"]));
    assert_eq!(ann["name"], "Ann Lee", "her card names her again");
    assert_eq!(
        ann["handles"],
        serde_json::json!(["phone:+15125551234"]),
        "the address is still forgotten"
    );
}

#[test]
fn self_chat_lines_are_marked_once_and_reactions_sit_on_their_target() {
    let home = TestHome::new();
    home.init_if_missing();
    let s = fixtures::standard(&home.user_home);
    import(&home, &s);
    let conn = rusqlite::Connection::open(home.file("steward.db")).unwrap();
    let commands: Vec<String> = conn
        .prepare("SELECT text FROM messages WHERE is_command = 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(commands, vec!["remind me to call the bank".to_string()]);
    let (target_text, kind, removed): (String, String, bool) = conn
        .query_row(
            "SELECT m.text, r.kind, r.removed FROM reactions r JOIN messages m ON m.external_id = r.target ORDER BY r.id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (target_text.as_str(), kind.as_str(), removed),
        ("calling now", "love", false)
    );
    let chats: i64 = conn
        .query_row("SELECT COUNT(*) FROM chats WHERE kind = 'self'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(chats, 1);
    let group: (String, i64) = conn
        .query_row(
            "SELECT c.name, (SELECT COUNT(*) FROM chat_members WHERE chat_id = c.id) FROM chats c WHERE kind = 'group'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(group, ("Climbing crew".to_string(), 3));
}

#[test]
fn an_old_schema_with_seconds_dates_imports() {
    let home = TestHome::new();
    home.init_if_missing();
    let db = home.user_home.join("old.db");
    let mut f = fixtures::ChatDbFixture::create(&db, false);
    let ann = f.handle("+15125551234");
    let chat = f.chat("iMessage;-;+15125551234", 45, None, &[ann]);
    f.message(fixtures::Msg {
        text: Some("from 2016"),
        handle: ann,
        unix: 1_457_000_000,
        chat: Some(chat),
        ..Default::default()
    });
    f.message(fixtures::Msg {
        text: Some("body only"),
        body_only: true,
        handle: ann,
        unix: 1_457_000_060,
        chat: Some(chat),
        ..Default::default()
    });
    let empty = home.user_home.join("no-contacts");
    std::fs::create_dir(&empty).unwrap();
    let out = home.run(&[
        "import",
        "imessage",
        "--db",
        db.to_str().unwrap(),
        "--contacts",
        empty.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["messages"], 2);
    let p = json(&home.run(&["person", "show", "+15125551234", "--json"]));
    assert_eq!(p["recent"][1]["at"], "2016-03-03T10:13:20Z");
    assert_eq!(p["recent"][0]["text"], "body only");
}

#[test]
fn a_missing_or_corrupt_chat_db_is_a_clear_error_and_changes_nothing() {
    let home = TestHome::new();
    home.init_if_missing();
    let missing = home.user_home.join("nope/chat.db");
    let out = home.run(&["import", "imessage", "--db", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no Messages database at"),
        "{}",
        stderr(&out)
    );
    let junk = home.user_home.join("junk.db");
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    let out = home.run(&["import", "imessage", "--db", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a readable Messages database"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&junk).unwrap(), vec![7u8; 4096]);
    assert_eq!(
        json(&home.run(&["people", "--json"])),
        serde_json::json!([])
    );
}

#[test]
fn people_search_matches_names_and_any_handle_form() {
    let home = TestHome::new();
    home.init_if_missing();
    let s = fixtures::standard(&home.user_home);
    import(&home, &s);
    for q in ["ann", "Lee", "(512) 555-1234", "example.com"] {
        let found = json(&home.run(&["people", "--json", "--search", q]));
        let names: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(names.contains(&"Ann Lee"), "{q}: {names:?}");
    }
    let none = json(&home.run(&["people", "--json", "--search", "zebra"]));
    assert_eq!(none, serde_json::json!([]));
}

/// Issue 20 item 11: folders whose names mean something in a URI (`#`, `%`, `?`)
/// hold readable Contacts and Messages databases like any other folder.
#[test]
fn issue20_contacts_and_chat_db_in_folders_with_uri_characters_are_read() {
    for name in ["a#b", "50%25off", "q?x", "sp ace"] {
        let home = TestHome::new();
        home.init_if_missing();
        let dir = home.user_home.join(name);
        let book = dir.join("book");
        fixtures::address_book(&book, &[("Zed", "Quinn", &["+15125550199"])]);
        let db = dir.join("chat.db");
        let mut f = fixtures::ChatDbFixture::create(&db, true);
        let zed = f.handle("+15125550199");
        let chat = f.chat("iMessage;-;+15125550199", 45, None, &[zed]);
        f.message(fixtures::Msg {
            text: Some("hello"),
            handle: zed,
            unix: 1_760_000_000,
            chat: Some(chat),
            ..Default::default()
        });
        drop(f);
        let before = fixtures::hash_tree(&book);
        let db_before = std::fs::read(&db).unwrap();
        let out = home.run(&[
            "import",
            "imessage",
            "--db",
            db.to_str().unwrap(),
            "--contacts",
            book.to_str().unwrap(),
            "--json",
        ]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let report = json(&out);
        assert_eq!(report["contactsUnreadable"], 0, "{name}: {report}");
        assert_eq!(report["messages"], 1, "{name}: {report}");
        let people = json(&home.run(&["people", "--json"]));
        person(&people, "Zed Quinn");
        // Read-only all the same: neither database changed.
        assert_eq!(fixtures::hash_tree(&book), before, "{name}");
        assert_eq!(std::fs::read(&db).unwrap(), db_before, "{name}");
    }
}

/// Issue 20 item 11: a `--contacts` path that does not exist is bad usage, not silence.
#[test]
fn issue20_a_missing_contacts_path_is_an_error_and_imports_nothing() {
    let home = TestHome::new();
    home.init_if_missing();
    let s = fixtures::standard(&home.user_home);
    let missing = home.user_home.join("no/such/AddressBook");
    let out = home.run(&[
        "import",
        "imessage",
        "--db",
        s.db.to_str().unwrap(),
        "--contacts",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&missing.display().to_string()),
        "{}",
        stderr(&out)
    );
    let people = json(&home.run(&["people", "--json"]));
    assert_eq!(
        people.as_array().map(Vec::len),
        Some(0),
        "refused before any import: {people}"
    );
}

/// Issue 20 item 12: an empty or foreign SQLite file says it is not a Messages
/// database and what is missing, not "Query is not read-only".
#[test]
fn issue20_an_empty_or_wrong_schema_chat_db_names_what_is_missing() {
    let home = TestHome::new();
    home.init_if_missing();
    let empty = home.user_home.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let other = home.user_home.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
        .unwrap();
    let partial = home.user_home.join("partial.db");
    rusqlite::Connection::open(&partial)
        .unwrap()
        .execute_batch("CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, handle_id INTEGER, is_from_me INTEGER, date INTEGER);")
        .unwrap();
    for (db, missing) in [
        (&empty, "message"),
        (&other, "message"),
        (&partial, "handle"),
    ] {
        let before = std::fs::read(db).unwrap();
        let out = home.run(&["import", "imessage", "--db", db.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.contains("read-only"), "{err}");
        assert!(err.contains("not a Messages database"), "{err}");
        assert!(err.contains(&format!("`{missing}`")), "{err}");
        assert_eq!(std::fs::read(db).unwrap(), before);
    }
}

/// The reader keeps handles by ROWID instead of joining `handle` per row: a
/// handle first met after the first read is read then, a dangling or 0
/// `handle_id` is no handle (as the join gave), and the service is read as is.
#[test]
fn handles_met_later_are_read_and_dangling_ones_are_none() {
    use steward::bridges::imessage::chatdb::ChatDb;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let mut f = fixtures::ChatDbFixture::create(&path, true);
    let ann = f.handle("+15125551234");
    let text = |t| fixtures::Msg {
        text: Some(t),
        unix: 1_700_000_000,
        ..Default::default()
    };
    f.message(fixtures::Msg {
        handle: ann,
        ..text("from ann")
    });
    f.message(fixtures::Msg {
        handle: 0,
        from_me: true,
        ..text("mine")
    });
    let mut db = ChatDb::open(&path).unwrap();
    let (rows, bad, last) = db.messages_after(0, 100).unwrap();
    let handles: Vec<_> = rows.iter().map(|r| r.handle.as_deref()).collect();
    assert_eq!((handles, bad), (vec![Some("+15125551234"), None], 0));
    assert_eq!(rows[0].service.as_deref(), Some("iMessage"));

    let bob = f.handle("bob@example.com");
    f.message(fixtures::Msg {
        handle: bob,
        service: Some("SMS"),
        ..text("from bob")
    });
    f.message(fixtures::Msg {
        handle: 999,
        ..text("from nobody")
    });
    f.message(fixtures::Msg {
        handle: ann,
        ..text("ann again")
    });
    let (rows, bad, _) = db.messages_after(last, 100).unwrap();
    let read: Vec<_> = rows
        .iter()
        .map(|r| (r.handle.as_deref(), r.service.as_deref()))
        .collect();
    assert_eq!(
        (read, bad),
        (
            vec![
                (Some("bob@example.com"), Some("SMS")),
                (None, Some("iMessage")),
                (Some("+15125551234"), Some("iMessage")),
            ],
            0
        )
    );
}

/// Each row's chat comes from one range read of `chat_message_join` per batch
/// (issue 19): the lowest chat when a message is in two, none when orphaned,
/// right across batch boundaries, with and without Apple's message_id index.
#[test]
fn each_row_gets_its_lowest_chat_or_none_across_batches() {
    use steward::bridges::imessage::chatdb::ChatDb;
    for modern in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let mut f = fixtures::ChatDbFixture::create(&path, modern);
        let ann = f.handle("+15125551234");
        let a = f.chat("iMessage;-;+15125551234", 45, None, &[ann]);
        let b = f.chat("iMessage;+;chat1", 43, Some("Group"), &[ann]);
        let msg = |chat| fixtures::Msg {
            text: Some("hi"),
            handle: ann,
            unix: 1_700_000_000,
            chat,
            ..Default::default()
        };
        f.message(msg(Some(a)));
        f.message(msg(Some(b)));
        f.message(msg(None));
        f.message(msg(Some(b)));
        f.message(msg(None));
        // The second message is in both chats: the lower ROWID is its chat.
        let extra = rusqlite::Connection::open(&path).unwrap();
        extra
            .execute(
                "INSERT INTO chat_message_join (chat_id, message_id) VALUES (?1, 2)",
                [a],
            )
            .unwrap();
        drop(extra);
        let mut db = ChatDb::open(&path).unwrap();
        let mut chats = Vec::new();
        let mut cursor = 0;
        loop {
            let (rows, bad, last) = db.messages_after(cursor, 2).unwrap();
            assert_eq!(bad, 0);
            if rows.is_empty() {
                break;
            }
            chats.extend(rows.iter().map(|r| (r.rowid, r.chat_rowid)));
            cursor = last;
        }
        let want = vec![
            (1, Some(a)),
            (2, Some(a)),
            (3, None),
            (4, Some(b)),
            (5, None),
        ];
        assert_eq!(chats, want, "modern schema: {modern}");
    }
}
