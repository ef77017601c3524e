//! Email into memory: `steward import mbox` (counts, idempotent, threads, the
//! person graph, bulk marking, bad input refused without changes).

mod common;

use common::{TestHome, json, stderr};
use rusqlite::Connection;

fn mail(id: &str, from: &str, to: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From {from} Tue Dec  1 10:00:00 2026\nFrom: {from}\nTo: {to}\nSubject: {subject}\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <{id}>\n{extra}\n{body}\n\n"
    )
}

fn mbox() -> String {
    [
        mail(
            "a1@x",
            "Ann Lee <ann@example.com>",
            "me@example.com",
            "Friday",
            "",
            "Dinner friday at 7?",
        ),
        mail(
            "a2@x",
            "me@example.com",
            "Ann Lee <ann@example.com>",
            "Re: Friday",
            "In-Reply-To: <a1@x>\nReferences: <a1@x>\n",
            "Yes!\n\nOn Tue, Ann wrote:\n> Dinner friday at 7?",
        ),
        mail(
            "n1@x",
            "News <noreply@news.example>",
            "me@example.com",
            "Weekly",
            "List-Id: <weekly.news.example>\n",
            "Top stories",
        ),
        // The same Message-ID again (a copy in another folder): one message.
        mail(
            "a1@x",
            "Ann Lee <ann@example.com>",
            "me@example.com",
            "Friday",
            "",
            "Dinner friday at 7?",
        ),
        "From nobody Tue Dec  1 10:00:00 2026\n\nno headers at all\n\n".to_string(),
    ]
    .concat()
}

fn home() -> TestHome {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let cfg = home.file("steward.yaml");
    let yaml = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("  handles: []", "  handles: [\"me@example.com\"]");
    std::fs::write(&cfg, yaml).unwrap();
    home
}

#[test]
fn import_mbox_fills_memory_once_with_threads_people_and_bulk_marked() {
    let home = home();
    let file = home.file("mail.mbox");
    std::fs::write(&file, mbox()).unwrap();
    let out = home.run(&["import", "mbox", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = json(&out);
    assert_eq!(first["messages"], 3, "{first}");
    assert_eq!(
        first["alreadyKnown"], 1,
        "the duplicate Message-ID: {first}"
    );
    assert_eq!(first["skipped"], 1, "the mail without headers: {first}");
    assert_eq!(first["people"], 2, "Ann and the newsletter: {first}");
    assert_eq!(
        first["chats"], 2,
        "one thread for Friday, one for the list: {first}"
    );
    assert!(first["seconds"].is_number());

    let again = json(&home.run(&["import", "mbox", file.to_str().unwrap(), "--json"]));
    assert_eq!(again["messages"], 0);
    assert_eq!(again["alreadyKnown"], 4);

    let c = Connection::open(home.file("steward.db")).unwrap();
    let ann: (String, String) = c
        .query_row(
            "SELECT p.id, p.name FROM handles h JOIN people p ON p.id = h.person_id WHERE h.handle = 'email:ann@example.com'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(ann.1, "Ann Lee");
    // The owner's reply counts for Ann, in the same thread, with the quote trimmed.
    let (dir, person, text, chat_same): (String, String, String, bool) = c
        .query_row(
            "SELECT m.direction, m.person_id, m.text,
                    m.chat_id = (SELECT chat_id FROM messages WHERE external_id = 'a1@x')
             FROM messages m WHERE m.external_id = 'a2@x'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (dir.as_str(), person.as_str(), text.as_str(), chat_same),
        ("out", ann.0.as_str(), "Yes!", true)
    );
    let (bulk, body): (bool, String) = c
        .query_row(
            "SELECT bulk, body FROM email_messages WHERE message_id = 'a2@x'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(!bulk);
    assert!(
        body.contains("> Dinner friday at 7?"),
        "the full body is kept: {body}"
    );
    // A mail with nothing trimmed keeps one copy; its whole body is still there.
    let stored: String = c
        .query_row(
            "SELECT body FROM email_messages WHERE message_id = 'a1@x'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, "", "no second copy of an untrimmed body");
    let whole = steward::bridges::email::ingest::body(&c, "a1@x")
        .unwrap()
        .unwrap();
    assert!(whole.contains("Dinner friday at 7?"), "{whole}");
    assert!(
        steward::bridges::email::ingest::body(&c, "a2@x")
            .unwrap()
            .unwrap()
            .contains("> Dinner friday at 7?")
    );
    let news_bulk: bool = c
        .query_row(
            "SELECT bulk FROM email_messages WHERE message_id = 'n1@x'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        news_bulk,
        "a list mail is marked so the assistant never drafts to it"
    );
    // Full-text search finds mail like any message.
    let hits: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'dinner'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hits >= 1);
}

#[test]
fn a_file_that_is_not_mbox_is_refused_and_changes_nothing() {
    let home = home();
    let file = home.file("notes.txt");
    std::fs::write(&file, "just some notes\n").unwrap();
    let out = home.run(&["import", "mbox", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not an mbox file"),
        "{}",
        stderr(&out)
    );
    let missing = home.run(&["import", "mbox", "/nonexistent/x.mbox"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("cannot read /nonexistent/x.mbox"),
        "{}",
        stderr(&missing)
    );
    let c = Connection::open(home.file("steward.db")).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE channel = 'email'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn the_account_config_as_the_issue_writes_it_parses() {
    let yaml = "bridges:\n  email:\n    accounts:\n      - name: work\n        address: me@work.example\n        imap: {host: imap.work.example, port: 143, security: starttls}\n        smtp: {host: smtp.work.example, port: 587, security: starttls}\n        user: me\n        password: env:WORK_MAIL\n        folders: [INBOX, Archive]\n        sent: Sent\n";
    let c = steward::config::Config::parse(yaml, std::path::Path::new("steward.yaml")).unwrap();
    let a = &c.bridges.email.accounts[0];
    assert_eq!((a.name.as_str(), a.folders.len()), ("work", 2));
    assert!(a.smtp.is_some());
    let bad = "bridges:\n  email:\n    accounts:\n      - name: x\n        address: a@b.c\n        password: env:X\n        imap: {host: h, port: 1, security: ssl}\n";
    let err = steward::config::Config::parse(bad, std::path::Path::new("steward.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("steward.yaml:") && err.contains("ssl"),
        "{err}"
    );
}
