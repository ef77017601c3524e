//! Live ingestion: rows Messages appends while Steward runs reach memory and the
//! bus; history is never acted on; a restart neither loses nor repeats a row.

mod common;
mod fixtures;

use std::time::{Duration, Instant};

use common::{TestHome, json};
use fixtures::Msg;
use steward::bridges::imessage::live::{self, LiveConfig};
use steward::store::Store;

fn wait_until(mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

fn config(s: &fixtures::Scenario) -> String {
    format!(
        "bridges:\n  imessage:\n    enabled: true\n    chatDb: {}\n    contacts: [{}]\n    pollSeconds: 1\n",
        s.db.display(),
        s.contacts.display()
    )
}

fn count_for(home: &TestHome, who: &str) -> i64 {
    let out = home.run(&["person", "show", who, "--json"]);
    if !out.status.success() {
        return -1;
    }
    json(&out)["messageCount"].as_i64().unwrap()
}

#[test]
fn rows_appended_while_up_runs_reach_memory_once() {
    let home = TestHome::new();
    let mut s = fixtures::standard(&home.user_home);
    assert!(home.run(&["init"]).status.success());
    std::fs::write(home.file("steward.yaml"), config(&s)).unwrap();
    let mut daemon = home.up();
    // The reader has set its cursor at the newest row: history was not ingested.
    assert!(
        wait_until(|| count_for(&home, "Ann Lee") == 0),
        "contacts known, no history"
    );

    let ann = 1; // handle ROWIDs in the standard fixture
    let now = 1_760_000_000;
    s.fixture.message(Msg {
        text: Some("live one"),
        body_only: true,
        handle: ann,
        unix: now,
        chat: Some(s.ann_chat),
        ..Msg::default()
    });
    assert!(
        wait_until(|| count_for(&home, "Ann Lee") == 1),
        "the appended row arrived"
    );

    daemon.signal(libc::SIGTERM);
    daemon.wait_for_exit(Duration::from_secs(5)).unwrap();
    // Appended while Steward was down: picked up on the next start, once.
    s.fixture.message(Msg {
        text: Some("while you were out"),
        handle: ann,
        unix: now + 60,
        chat: Some(s.ann_chat),
        ..Msg::default()
    });
    let _daemon = home.up();
    assert!(wait_until(|| count_for(&home, "Ann Lee") == 2));
    std::thread::sleep(Duration::from_millis(1500)); // a poll or two later
    assert_eq!(count_for(&home, "Ann Lee"), 2);
    let recent = json(&home.run(&["person", "show", "Ann Lee", "--json"]));
    assert_eq!(recent["recent"][0]["text"], "while you were out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_messages_are_published_as_inbound_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fixtures::standard(dir.path());
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let (bus, mut rx) = tokio::sync::broadcast::channel(64);
    let cfg = LiveConfig {
        chat_db: s.db.clone(),
        contacts: vec![s.contacts.clone()],
        poll: Duration::from_secs(30),
        region: "US".into(),
        owner_name: None,
        owner_handles: vec![],
    };
    let handle = live::spawn(cfg, store.clone(), bus).unwrap();
    // Let it set the cursor at the newest row first.
    let ready = store.clone();
    assert!(
        tokio::task::spawn_blocking(move || wait_until(|| ready
            .write_blocking(|c| Ok(steward::memory::messages::get_cursor(c, live::CURSOR)?))
            .unwrap()
            .is_some()))
        .await
        .unwrap()
    );
    s.fixture.message(Msg {
        text: Some("remind me to water the plants"),
        handle: 5,
        from_me: true,
        unix: 1_760_000_000,
        chat: Some(s.self_chat),
        ..Msg::default()
    });
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("published in time")
        .unwrap();
    assert_eq!(got.text, "remind me to water the plants");
    assert!(got.is_command, "a self-chat line is for the command layer");
    assert_eq!(got.chat_kind.as_deref(), Some("self"));
    tokio::task::spawn_blocking(move || handle.stop())
        .await
        .unwrap();
}

#[test]
fn a_replaced_chat_db_is_reopened_and_read_from_its_newest_row() {
    let home = TestHome::new();
    let s = fixtures::standard(&home.user_home);
    assert!(home.run(&["init"]).status.success());
    std::fs::write(home.file("steward.yaml"), config(&s)).unwrap();
    let _daemon = home.up();
    assert!(wait_until(|| count_for(&home, "Ann Lee") == 0));

    // Messages (or a restore) swaps in a new file: build it aside, rename over.
    let fresh = home.user_home.join("fresh.db");
    let mut f = fixtures::ChatDbFixture::create(&fresh, true);
    let ann = f.handle("+15125551234");
    let chat = f.chat("iMessage;-;+15125551234", 45, None, &[ann]);
    f.message(Msg {
        text: Some("old line in the new file"),
        handle: ann,
        unix: 1_760_000_000,
        chat: Some(chat),
        ..Msg::default()
    });
    drop(f);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", s.db.display()));
    }
    std::fs::rename(&fresh, &s.db).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut f = fixtures::ChatDbFixture::open(&s.db);
    f.message(Msg {
        text: Some("new after the swap"),
        handle: ann,
        unix: 1_760_000_100,
        chat: Some(chat),
        ..Msg::default()
    });
    assert!(
        wait_until(|| count_for(&home, "Ann Lee") == 1),
        "only the row after the swap"
    );
    let shown = json(&home.run(&["person", "show", "Ann Lee", "--json"]));
    assert_eq!(shown["recent"][0]["text"], "new after the swap");
}

#[test]
fn a_backfill_after_live_ingestion_never_duplicates() {
    let home = TestHome::new();
    let mut s = fixtures::standard(&home.user_home);
    assert!(home.run(&["init"]).status.success());
    std::fs::write(home.file("steward.yaml"), config(&s)).unwrap();
    let mut daemon = home.up();
    assert!(wait_until(|| count_for(&home, "Ann Lee") == 0));
    s.fixture.message(Msg {
        text: Some("live first"),
        handle: 1,
        unix: 1_760_000_000,
        chat: Some(s.ann_chat),
        ..Msg::default()
    });
    assert!(wait_until(|| count_for(&home, "Ann Lee") == 1));
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_exit(Duration::from_secs(5)).unwrap();

    let out = home.cmd(&[]).args(s.import_args()).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let counts = json(&out);
    assert_eq!(counts["messages"], fixtures::MESSAGES, "{counts}");
    assert_eq!(counts["alreadyKnown"], 1, "{counts}");
    assert_eq!(count_for(&home, "Ann Lee"), 6);
}

/// Issue 18: "HANDLE is NAME" in the self-chat applies to the very next live
/// message from that handle, without a restart (the reader's handle → person
/// cache starts over when people change).
#[test]
fn an_identity_correction_applies_to_the_next_live_message() {
    let home = TestHome::new();
    let mut s = fixtures::standard(&home.user_home);
    assert!(home.run(&["init"]).status.success());
    std::fs::write(home.file("steward.yaml"), config(&s)).unwrap();
    let _daemon = home.up();
    assert!(wait_until(|| count_for(&home, "Ann Lee") == 0));
    let said = home.run(&["say", "+15125551234 is Manasa", "--json"]);
    assert!(said.status.success(), "{}", common::stderr(&said));
    s.fixture.message(Msg {
        text: Some("it's manasa on this number now"),
        handle: 1,
        unix: 1_760_000_000,
        chat: Some(s.ann_chat),
        ..Msg::default()
    });
    assert!(
        wait_until(|| count_for(&home, "Manasa") == 1),
        "the next message is Manasa's: {}",
        json(&said)["reply"]
    );
    assert_eq!(count_for(&home, "Ann Lee"), 0, "and not Ann's");
}
