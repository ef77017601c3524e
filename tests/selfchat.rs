//! The owner's self-chat end to end through the real binary on 127.0.0.1:
//! `steward say` through the daemon and without one, numbered approvals, the
//! kill switch (persisted; refuses agent runs and sends), the owner profile's hot
//! reload, echo suppression across a restart, and a contact who types a command.

mod common;
mod fixtures;

use std::time::Duration;

use common::osascript::fake as fake_osascript;
use common::{TestHome, json, stderr, wait_until};
use fixtures::Msg;
use serde_json::Value;
use steward::http::probe;

fn say(home: &TestHome, text: &str) -> Value {
    let out = home.run(&["say", text, "--json"]);
    assert!(out.status.success(), "say {text:?}: {}", stderr(&out));
    json(&out)
}

fn reply(home: &TestHome, text: &str) -> String {
    say(home, text)["reply"].as_str().unwrap().to_string()
}

/// What the console bridge delivered to the owner, oldest first.
fn owner_outbox(home: &TestHome) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(home.file("console/outbox.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["audience"] == "owner")
        .map(|v| v["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn token(home: &TestHome) -> String {
    std::fs::read_to_string(home.file("api-token"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn say_goes_through_the_daemon_and_every_reply_has_a_receipt() {
    let home = TestHome::new();
    let _d = home.up();
    let out = say(&home, "ping");
    assert!(
        out["reply"].as_str().unwrap().starts_with("🏓 pong"),
        "{out}"
    );
    assert_eq!(out["kind"], "command");
    let run_id = out["runId"].as_str().unwrap();
    let run = json(&home.run(&["runs", "show", run_id, "--json"]));
    assert_eq!(run["agent"], "self-chat");
    assert_eq!(run["status"], "succeeded");
    assert!(run["receipt"]["signature"].is_string());
    // The reply reached the owner's console chat, once.
    assert_eq!(
        owner_outbox(&home)
            .iter()
            .filter(|t| t.starts_with("🏓 pong"))
            .count(),
        1
    );
    // Not a command: an owner turn, refused without a model, with the fix;
    // `say` exits 1 on it (issue 18) and says so in the JSON.
    let out = home.run(&["say", "ping me about the deck", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let turn = json(&out);
    assert_eq!(turn["kind"], "turn");
    assert_eq!(turn["failed"], true);
    assert!(
        turn["reply"]
            .as_str()
            .unwrap()
            .contains("no model for capability `reason`"),
        "{turn}"
    );
    let status = reply(&home, "status");
    assert!(status.contains("bridges: console"), "{status}");
}

#[test]
fn say_without_a_daemon_runs_the_turn_in_process() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let out = say(&home, "remind me to call the bank");
    assert!(out["reply"].as_str().unwrap().contains("call the bank"));
    let brief = reply(&home, "brief");
    assert!(brief.contains("📌 1 · call the bank"), "{brief}");
    assert!(
        brief.contains("(reply \"N done\" or \"N snooze\")"),
        "{brief}"
    );
}

#[test]
fn numbered_approvals_send_edit_and_drop() {
    let home = TestHome::new();
    let d = home.up();
    let tok = token(&home);
    for text in ["see you at 7", "running late", "sure thing"] {
        let body = serde_json::json!({
            "agent": "imessage-assistant",
            "plan": [{"kind": "reply", "channel": "console", "to": "ann", "text": text}],
        });
        let resp = probe::post_json(
            d.addr,
            "/v1/runs",
            Some(&tok),
            &body.to_string(),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(resp.status, 201, "{}", resp.body);
    }
    let list = reply(&home, "approvals");
    assert!(
        list.contains("✍️ 1 · ann: draft \"see you at 7\""),
        "{list}"
    );
    assert!(list.contains("✍️ 3 ·"), "{list}");
    assert_eq!(reply(&home, "7 send"), "no item 7.");
    assert_eq!(reply(&home, "1 send"), "✅ sent to ann.");
    assert_eq!(
        reply(&home, "2 edit running 10 min late"),
        "✅ sent to ann."
    );
    assert_eq!(reply(&home, "3 no"), "👍 dropped — nothing sent to ann.");
    assert!(
        reply(&home, "1 send").contains("no longer waiting"),
        "sent once only"
    );
    let contact: Vec<String> = std::fs::read_to_string(home.file("console/outbox.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["audience"] == "contact")
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(contact, vec!["see you at 7", "running 10 min late"]);
}

#[test]
fn the_kill_switch_refuses_runs_and_sends_and_survives_a_restart() {
    let home = TestHome::new();
    let mut d = home.up();
    let tok = token(&home);
    let body = serde_json::json!({
        "agent": "imessage-assistant",
        "plan": [{"kind": "reply", "channel": "console", "to": "ann", "text": "on my way"}],
    });
    let resp = probe::post_json(
        d.addr,
        "/v1/runs",
        Some(&tok),
        &body.to_string(),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(resp.status, 201);
    let pending = json(&home.run(&["confirm", "list", "--json"]));
    let id = pending[0]["id"].as_str().unwrap().to_string();

    assert!(reply(&home, "kill switch on").contains("kill switch ON"));
    d.signal(libc::SIGTERM);
    d.wait_for_exit(Duration::from_secs(5)).unwrap();
    let _d = home.up();
    assert!(
        reply(&home, "status").contains("KILL SWITCH ON"),
        "persisted"
    );

    // An agent run is refused, with a receipt.
    let out = home.run(&["agents", "run", "concierge", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let run = json(&out);
    assert_eq!(run["status"], "refused");
    assert!(run["reason"].as_str().unwrap().contains("kill switch"));
    assert!(
        home.run(&["receipts", "show", run["id"].as_str().unwrap()])
            .status
            .success()
    );
    // A send is refused: approving the waiting draft sends nothing.
    let out = home.run(&["confirm", "approve", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("kill switch"), "{}", stderr(&out));
    let before_contact = std::fs::read_to_string(home.file("console/outbox.jsonl")).unwrap();
    assert!(!before_contact.contains("\"audience\":\"contact\""));

    assert!(reply(&home, "kill switch off").contains("off"));
    let out = home.run(&["confirm", "approve", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
}

const PROFILE: &str =
    "## My world\nLocation: Europe/Berlin\n## Relationships\n- Ann: sister | inner circle\n";

#[test]
fn the_profile_reloads_on_save_and_a_bad_edit_keeps_the_last_good_one() {
    let home = TestHome::new();
    let d = home.up();
    let tok = token(&home);
    let profile = || {
        let r = probe::get(
            d.addr,
            "/v1/owner/profile",
            Some(&tok),
            Duration::from_secs(5),
        )
        .unwrap();
        serde_json::from_str::<Value>(&r.body).unwrap()
    };
    assert_eq!(profile()["relationships"].as_array().unwrap().len(), 0);
    let path = home.file("profiles/owner.md");
    std::fs::write(&path, PROFILE).unwrap();
    assert!(
        wait_until(Duration::from_secs(1), || profile()["relationships"]
            .as_array()
            .unwrap()
            .len()
            == 1),
        "reloaded within a second"
    );
    assert_eq!(profile()["timezone"], "Europe/Berlin");

    let problems = || {
        owner_outbox(&home)
            .iter()
            .filter(|t| t.contains("owner profile line"))
            .count()
    };
    std::fs::write(&path, format!("{PROFILE}- Bob friend\n")).unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || problems() == 1),
        "told once"
    );
    // The same problem saved again is not told again; the last good profile stays.
    std::fs::write(&path, format!("{PROFILE}- Bob friend\n\n")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(problems(), 1);
    assert_eq!(profile()["relationships"][0]["name"], "Ann");
    std::fs::write(&path, format!("{PROFILE}- Bob: friend\n")).unwrap();
    assert!(wait_until(
        Duration::from_secs(1),
        || profile()["relationships"].as_array().unwrap().len() == 2
    ));
    assert!(reply(&home, "profile").contains("2 relationships"));
}

#[test]
fn steward_never_reads_its_own_reply_as_a_command_even_after_a_restart() {
    let home = TestHome::new();
    let mut s = fixtures::standard(&home.user_home);
    let calls = home.user_home.join("calls");
    std::fs::create_dir(&calls).unwrap();
    let osascript = fake_osascript(&calls);
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  handles: [\"+15125550000\"]\nbridges:\n  imessage:\n    enabled: true\n    chatDb: {}\n    contacts: [{}]\n    osascript: {}\n    pollSeconds: 1\n",
            s.db.display(),
            s.contacts.display(),
            osascript.display()
        ),
    )
    .unwrap();
    let mut d = home.up();
    // The reader is up (contacts known, cursor at the newest row) before we type.
    assert!(wait_until(Duration::from_secs(10), || home
        .run(&["person", "show", "Ann Lee"])
        .status
        .success()));
    let me = 5; // the owner's handle ROWID in the standard fixture
    let t = 1_760_000_000;
    s.fixture.message(Msg {
        text: Some("help"),
        handle: me,
        from_me: true,
        unix: t,
        chat: Some(s.self_chat),
        ..Msg::default()
    });
    assert!(
        wait_until(Duration::from_secs(10), || sent_texts(&calls).len() == 1),
        "the self-chat command was answered: {}",
        d.log.lock().unwrap()
    );
    let help = sent_texts(&calls)[0].clone();
    assert!(help.starts_with("Steward commands"), "{help}");

    // Restart before Messages shows our reply in the self-chat.
    d.signal(libc::SIGTERM);
    // Generous limits: on a loaded 2-core machine a stop and a first read after a
    // restart were seen to take longer than 5 and 10 s; a healthy run takes ~1 s.
    d.wait_for_exit(Duration::from_secs(20)).unwrap();
    let d2 = home.up();
    // Our reply lands in chat.db as the owner's own line (it even contains "help"
    // lines and command words): it is dropped, not answered.
    s.fixture.message(Msg {
        text: Some(&help),
        handle: me,
        from_me: true,
        unix: t + 5,
        chat: Some(s.self_chat),
        ..Msg::default()
    });
    // A contact who types a command changes nothing.
    s.fixture.message(Msg {
        text: Some("kill switch on"),
        handle: 1,
        unix: t + 6,
        chat: Some(s.ann_chat),
        ..Msg::default()
    });
    // Then a real command, so we know the router has read past both.
    s.fixture.message(Msg {
        text: Some("status"),
        handle: me,
        from_me: true,
        unix: t + 10,
        chat: Some(s.self_chat),
        ..Msg::default()
    });
    let status_sent = || sent_texts(&calls).iter().any(|t| t.starts_with("📊"));
    assert!(
        wait_until(Duration::from_secs(30), status_sent),
        "{:?}\n{}",
        sent_texts(&calls),
        d2.log.lock().unwrap()
    );
    std::thread::sleep(Duration::from_millis(300));
    let sent = sent_texts(&calls);
    let helps = sent
        .iter()
        .filter(|t| t.starts_with("Steward commands"))
        .count();
    assert_eq!(helps, 1, "the echo was not answered: {sent:?}");
    let status = sent.iter().find(|t| t.starts_with("📊")).unwrap();
    assert!(status.starts_with("📊 active"), "no kill switch: {status}");
    // Without a model, the contact's line only earns the owner a one-time notice.
    assert!(sent.len() <= 3, "{sent:?}");
    assert!(!reply(&home, "status").contains("KILL SWITCH"));
}

fn sent_texts(dir: &std::path::Path) -> Vec<String> {
    common::osascript::calls(dir)
        .into_iter()
        .map(|(text, _)| text)
        .collect()
}

/// Issue 18: "save 2" on the numbered news list keeps that story on the
/// readlist; "2 save" says the same; `readlist` shows what was saved.
#[test]
fn save_n_keeps_a_news_story_on_the_readlist() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let conn = rusqlite::Connection::open(home.file("steward.db")).unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    for (i, title) in ["Older story", "Newer story"].iter().enumerate() {
        conn.execute(
            "INSERT INTO news_items (url, title, title_key, source, published_ms, seen_ms)
             VALUES (?1, ?2, ?2, 'feed', ?3, ?3)",
            rusqlite::params![
                format!("https://example.org/{i}"),
                title,
                now - 1000 + i as i64
            ],
        )
        .unwrap();
    }
    drop(conn);
    let news = reply(&home, "news");
    assert!(news.contains("1 · Newer story"), "{news}");
    assert!(news.contains("2 · Older story"), "{news}");
    assert_eq!(
        reply(&home, "save 2"),
        "🔖 saved to your readlist: Older story"
    );
    assert_eq!(
        reply(&home, "2 save"),
        "🔖 already on your readlist: Older story"
    );
    let list = reply(&home, "readlist");
    assert!(
        list.contains("Older story") && !list.contains("Newer story"),
        "{list}"
    );
    assert_eq!(reply(&home, "save 9"), "no item 9.");
}
