//! The contact assistant end to end on the real binary: a row appended to a
//! chat.db fixture while `steward up` runs becomes a self-chat confirmation
//! (through a stand-in osascript), `steward say "1 send"` sends exactly that
//! text once to the contact's chat, and every receipt verifies.

mod common;
mod fixtures;

use std::time::Duration;

use axum::Json;
use common::osascript::{calls, fake as fake_osascript};
use common::{TestHome, json, stderr, wait_until};
use fixtures::Msg;
use serde_json::{Value, json};

async fn chat(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "yes! 7pm works" } }],
        "usage": { "prompt_tokens": 80, "completion_tokens": 4 },
    }))
}

#[test]
fn a_new_message_becomes_a_confirmation_and_1_send_sends_it_once() {
    let model = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)),
    );
    let home = TestHome::new();
    let mut s = fixtures::standard(&home.user_home);
    let dir = home.user_home.join("calls");
    std::fs::create_dir(&dir).unwrap();
    let osascript = fake_osascript(&dir);
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"+15125550000\"]\nquietHours: {{start: \"00:00\", end: \"00:00\"}}\n\
             bridges:\n  imessage:\n    enabled: true\n    chatDb: {}\n    contacts: [{}]\n    osascript: {}\n    pollSeconds: 1\n\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{model}/v1\"}}\n  capabilities:\n    draft: [\"local/tiny\"]\n",
            s.db.display(),
            s.contacts.display(),
            osascript.display()
        ),
    )
    .unwrap();
    let d = home.up();
    assert!(wait_until(Duration::from_secs(10), || home
        .run(&["person", "show", "Ann Lee"])
        .status
        .success()));
    s.fixture.message(Msg {
        text: Some("are we still on for friday?"),
        handle: 1,
        unix: jiff::Timestamp::now().as_second() - 5,
        chat: Some(s.ann_chat),
        ..Msg::default()
    });
    assert!(
        wait_until(Duration::from_secs(10), || calls(&dir).len() == 1),
        "a confirmation reached the self-chat: {}",
        d.log.lock().unwrap()
    );
    let (prompt, target) = calls(&dir)[0].clone();
    assert_eq!(target, "+15125550000", "to the owner's self-chat");
    assert!(
        prompt.starts_with(
            "✍️ 1 · Ann Lee: \"are we still on for friday?\" → draft: \"yes! 7pm works\""
        ),
        "{prompt}"
    );

    let out = home.run(&["say", "1 send", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["reply"], "✅ sent to Ann Lee.");
    let sent = calls(&dir);
    assert_eq!(sent.len(), 2, "exactly one send to the contact: {sent:?}");
    assert_eq!(
        sent[1],
        (
            "yes! 7pm works".to_string(),
            "iMessage;-;+15125551234".to_string()
        )
    );

    let verify = home.run(&["receipts", "verify", "--json"]);
    assert!(verify.status.success(), "{}", common::stdout(&verify));
    // Messages shows our send in Ann's thread: not a takeover, nothing more sent.
    s.fixture.message(Msg {
        text: Some("yes! 7pm works"),
        handle: 1,
        from_me: true,
        unix: jiff::Timestamp::now().as_second(),
        chat: Some(s.ann_chat),
        ..Msg::default()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(calls(&dir).len(), 2);
    // Proactive messages reach the owner's self-chat too: the morning brief.
    let out = home.run(&["agents", "run", "chief-of-staff"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = calls(&dir);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[2].0.starts_with("☀️ brief"), "{sent:?}");
    assert_eq!(sent[2].1, "+15125550000");
    // Thread-peek reads memory, no model.
    let peek = json(&home.run(&["say", "what did Ann Lee say", "--json"]));
    let peek = peek["reply"].as_str().unwrap();
    assert!(
        peek.contains("Ann Lee (") && peek.contains("are we still on for friday?"),
        "{peek}"
    );
    assert!(
        peek.contains("you ("),
        "our sent reply is in the thread: {peek}"
    );
    assert!(
        json(&home.run(&["say", "what's paused", "--json"]))["reply"]
            .as_str()
            .unwrap()
            .contains("nothing is paused")
    );
}
