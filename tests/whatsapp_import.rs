//! `steward import whatsapp` through the real binary: an Android .txt and an
//! iOS .zip, the owner's lines, the same person as their iMessage, idempotence,
//! and bad files or missing flags refused with nothing changed.

mod common;
mod fixtures;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{TestHome, json, stderr};

const ANDROID: &str = "\
13/01/2022, 09:58 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.
13/01/2022, 10:00 - Ann Lee: are we still on for friday?
13/01/2022, 10:01 - Priya: yes!
bring the blue rope
and snacks
13/01/2022, 10:02 - Ann Lee: <Media omitted>
13/01/2022, 10:03 - Ann Lee: This message was deleted
13/01/2022, 10:04 - Ann Lee: 7pm at the crag <This message was edited>
13/01/2022, 10:04 - Ann Lee: ok
13/01/2022, 10:04 - Ann Lee: ok
";

fn home_with_owner(extra: &str) -> TestHome {
    let home = TestHome::new();
    let out = home.run(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(
        home.file("steward.yaml"),
        format!("owner:\n  name: Priya\n  region: US\n  timezone: Europe/London\n{extra}"),
    )
    .unwrap();
    home
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn import(home: &TestHome, file: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["import", "whatsapp", file.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = home.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out)
}

/// WhatsApp messages in memory (0 when the store was never created).
fn whatsapp_rows(home: &TestHome) -> i64 {
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        home.file("steward.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return 0;
    };
    conn.query_row(
        "SELECT COUNT(*) FROM messages WHERE channel = 'whatsapp'",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

fn person(home: &TestHome, who: &str) -> serde_json::Value {
    let out = home.run(&["person", "show", who, "--json"]);
    assert!(out.status.success(), "{who}: {}", stderr(&out));
    json(&out)
}

#[test]
fn an_android_export_fills_memory_once_and_a_later_export_adds_only_the_new_lines() {
    let home = home_with_owner("");
    let file = write(&home.user_home, "WhatsApp Chat with Ann Lee.txt", ANDROID);
    let first = import(&home, &file, &[]);
    // 6 messages (two identical "ok" in one minute are two), 1 system line, 1 deleted.
    assert_eq!(first["messages"], 6, "{first}");
    assert_eq!(first["skipped"], 2, "{first}");
    assert_eq!(first["system"], 1, "{first}");
    assert_eq!(first["media"], 1, "{first}");
    assert_eq!(first["alreadyKnown"], 0, "{first}");
    assert_eq!(first["people"], 1, "{first}");
    assert_eq!(first["chats"], 1, "{first}");
    assert_eq!(first["lines"], 10, "{first}");
    assert_eq!(first["chat"], "Ann Lee", "{first}");
    assert_eq!(first["me"], "Priya", "{first}");
    assert!(first["seconds"].is_number(), "{first}");

    let ann = person(&home, "Ann Lee");
    assert_eq!(ann["messageCount"], 6, "{ann}");
    let recent = ann["recent"].as_array().unwrap();
    assert!(recent.iter().all(|m| m["channel"] == "whatsapp"), "{ann}");
    let mine = recent
        .iter()
        .find(|m| m["direction"] == "out")
        .expect("the owner's line");
    assert_eq!(mine["text"], "yes!\nbring the blue rope\nand snacks");
    assert!(recent.iter().any(|m| m["text"] == "[media]"), "{ann}");
    let edited = recent
        .iter()
        .find(|m| m["text"] == "7pm at the crag")
        .unwrap();
    assert_eq!(edited["edited"], true);
    // 10:00 in London in January is 10:00 UTC.
    let first_line = recent.last().unwrap();
    assert_eq!(first_line["text"], "are we still on for friday?");
    assert!(
        first_line["at"]
            .as_str()
            .unwrap()
            .starts_with("2022-01-13T10:00:00"),
        "{first_line}"
    );

    let again = import(&home, &file, &[]);
    assert_eq!(again["messages"], 0, "{again}");
    assert_eq!(again["alreadyKnown"], 6, "{again}");
    assert_eq!(again["people"], 0, "{again}");
    assert_eq!(again["chats"], 0, "{again}");

    let later = format!("{ANDROID}14/01/2022, 08:00 - Ann Lee: running late\n");
    write(&home.user_home, "WhatsApp Chat with Ann Lee.txt", &later);
    let third = import(&home, &file, &[]);
    assert_eq!(third["messages"], 1, "{third}");
    assert_eq!(third["alreadyKnown"], 6, "{third}");
    assert_eq!(person(&home, "Ann Lee")["messageCount"], 7);
}

fn zip(dir: &Path, name: &str, entries: &[(&str, &[u8])]) -> PathBuf {
    let path = dir.join(name);
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (n, bytes) in entries {
        w.start_file(*n, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
    path
}

/// iOS, a group, 12 h and month first; Ann by her number and Bob by his name,
/// who joins the one person called so from iMessage's Contacts.
const IOS_GROUP: &str = "\
[1/13/22, 9:58:00 PM] Climbing: \u{200e}Messages and calls are end-to-end encrypted.
[1/13/22, 9:58:01 PM] Climbing: \u{200e}Priya P created group \u{201c}Climbing\u{201d}
[1/13/22, 10:00:00 PM] \u{202a}+1 (512) 555-1234\u{202c}: who's in for saturday?
[1/13/22, 10:01:00 PM] Priya P: me
[1/13/22, 10:02:30 PM] Bob Stone: \u{200e}image omitted
[1/14/22, 7:15:00 AM] Bob Stone: count me in
";

#[test]
fn an_ios_zip_lands_on_the_people_imessage_knows() {
    let home = home_with_owner("");
    let s = fixtures::standard(&home.user_home);
    let out = home.cmd(&[]).args(s.import_args()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let before = person(&home, "+15125551234");
    let n_before = before["messageCount"].as_u64().unwrap();
    let bob_before = person(&home, "+14155550199");
    assert_eq!(bob_before["name"], "Bob Stone", "{bob_before}");
    let group = IOS_GROUP;
    let file = zip(
        &home.user_home,
        "WhatsApp Chat - Climbing.zip",
        &[
            ("_chat.txt", group.as_bytes()),
            ("00000012-PHOTO-2022-01-13.jpg", b"\xff\xd8\xff"),
        ],
    );
    let got = import(&home, &file, &["--me", "priya p"]);
    assert_eq!(got["messages"], 4, "{got}");
    assert_eq!(got["system"], 2, "{got}");
    assert_eq!(got["chat"], "Climbing", "{got}");
    assert_eq!(got["me"], "Priya P", "{got}");
    let ann = person(&home, "+15125551234");
    assert_eq!(ann["name"], "Ann Lee", "{ann}");
    assert_eq!(ann["messageCount"].as_u64().unwrap(), n_before + 1, "{ann}");
    let bob = person(&home, "+14155550199");
    assert_eq!(
        bob["messageCount"].as_u64().unwrap(),
        bob_before["messageCount"].as_u64().unwrap() + 2,
        "{bob}"
    );
    // The owner's group line counts for the owner, not for Ann.
    assert!(
        ann["recent"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["text"] != "me"),
        "{ann}"
    );
}

#[test]
fn a_file_whose_dates_fit_both_orders_asks_for_date_order_and_changes_nothing() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let text = "01/02/2022, 10:00 - Ann: a\n03/04/2022, 10:00 - Ann: b\n";
    let file = write(&home.user_home, "WhatsApp Chat with Ann.txt", text);
    let out = home.run(&["import", "whatsapp", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--date-order dmy"),
        "{}",
        stderr(&out)
    );
    let people = common::json(&home.run(&["people", "--json"]));
    assert_eq!(
        people,
        serde_json::json!([]),
        "a refused import stores nothing"
    );

    let got = import(&home, &file, &["--date-order", "mdy"]);
    assert_eq!(got["messages"], 2, "{got}");
    let ann = person(&home, "Ann");
    let at = ann["recent"][1]["at"].as_str().unwrap().to_string();
    assert!(at.starts_with("2022-01-02"), "{at}");
}

#[test]
fn a_chat_where_no_sender_is_the_owner_asks_for_me() {
    let home = home_with_owner("");
    let text = "13/01/2022, 10:00 - Ann: hi\n13/01/2022, 10:01 - Pri: hello\n";
    let file = write(&home.user_home, "chat.txt", text);
    let out = home.run(&["import", "whatsapp", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--me NAME") && err.contains("Ann, Pri"),
        "{err}"
    );
    assert_eq!(whatsapp_rows(&home), 0);

    let out = home.run(&[
        "import",
        "whatsapp",
        file.to_str().unwrap(),
        "--me",
        "Nobody",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("pass one of them"),
        "{}",
        stderr(&out)
    );

    let got = import(&home, &file, &["--me", "Pri", "--chat", "Ann (old phone)"]);
    assert_eq!(got["messages"], 2, "{got}");
    assert_eq!(got["chat"], "Ann (old phone)", "{got}");
}

#[test]
fn files_that_are_not_exports_are_refused() {
    let home = home_with_owner("");
    let text = write(&home.user_home, "notes.txt", "just some notes\n");
    let out = home.run(&["import", "whatsapp", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Export chat"), "{}", stderr(&out));

    let no_text = zip(&home.user_home, "photos.zip", &[("a.jpg", b"\xff\xd8")]);
    let out = home.run(&["import", "whatsapp", no_text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("holds no chat text"),
        "{}",
        stderr(&out)
    );

    let binary = write(&home.user_home, "x.txt", "");
    std::fs::write(&binary, b"\xff\xfe\x00garbage").unwrap();
    let out = home.run(&["import", "whatsapp", binary.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not UTF-8"), "{}", stderr(&out));

    let missing = home.user_home.join("missing.txt");
    let out = home.run(&["import", "whatsapp", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
    assert_eq!(whatsapp_rows(&home), 0);
}
