//! WhatsApp's linked-device mode through the real binary, with the loopback
//! test server behind `STEWARD_WHATSAPP_WIRE` playing WhatsApp
//! (tests/common/wawire.rs): `steward whatsapp link` draws a QR that scans to
//! the server's code and `status` shows the number; the daemon's reader
//! stores Ann's DM, the owner gets the draft, `1 send` sends exactly once
//! (with "typing…" while pacing), receipts verify; a crash between the send
//! and its ledger line sends once and tells the owner; a logout is told once
//! on another owner channel; `unlink` logs out and removes the session.

mod common;

use std::time::Duration;

use axum::Json;
use common::wawire::{WaWire, decode_qr};
use common::{TestHome, json, stderr, stdout, wait_until};
use serde_json::{Value, json};

const OWNER_JID: &str = "15125550000:9@s.whatsapp.net";
const ANN_JID: &str = "15125551234@s.whatsapp.net";
const PAYLOAD: &str = "2@Hk3QpW9nLx1Sj7u,Tq8rU2cHw4yB0dNx6sV8zC3gM5qH1iX9tF2kP7qS4lO=,aWRlbnRpdHkta2V5LWRhZW1vbi10ZXN0LWxpbmstMDE=,YWR2LXNlY3JldC1kYWVtb24tdGVzdC1saW5rLTAx";

async fn chat(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "yes! 7pm works" } }],
        "usage": { "prompt_tokens": 80, "completion_tokens": 4 },
    }))
}

/// A home in linked mode, a model double for drafts, and the wire hook set.
fn home_for(wire: &WaWire) -> TestHome {
    let model = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)),
    );
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"+15125550000\"]\n  channels: [whatsapp, console]\n\
             quietHours: {{start: \"00:00\", end: \"00:00\"}}\n\
             bridges:\n  imessage:\n    enabled: false\n  whatsapp:\n    mode: linked\n    maxSendsPerHour: 5\n\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{model}/v1\"}}\n  capabilities:\n    draft: [\"local/tiny\"]\n"
        ),
    )
    .unwrap();
    let _ = wire;
    home
}

fn cmd(home: &TestHome, wire: &WaWire, args: &[&str]) -> std::process::Command {
    let mut c = home.cmd(args);
    c.env("STEWARD_WHATSAPP_WIRE", wire.addr.to_string());
    c
}

/// `steward whatsapp link`: the QR on stdout scans to the server's code.
fn link(home: &TestHome, wire: &WaWire) {
    wire.script(vec![
        json!({"event": "qr", "code": PAYLOAD}),
        json!({"event": "paired", "jid": OWNER_JID, "lid": "555000111@lid", "platform": "android"}),
        json!({"event": "connected"}),
    ]);
    let out = cmd(home, wire, &["whatsapp", "link"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(decode_qr(&text), PAYLOAD, "{text}");
    assert!(text.contains("Linked WhatsApp +1 512-555-0000"), "{text}");
    let status = json(&home.run(&["status", "--json"]));
    assert_eq!(status["whatsapp"]["status"], "linked", "{status}");
    assert_eq!(status["whatsapp"]["number"], "+15125550000");
    assert_eq!(wire.connects()[0], Value::String("qr".into()));
}

fn outbox(home: &TestHome) -> Vec<String> {
    steward::bridges::console::read_outbox(&home.file("console/outbox.jsonl"))
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.text)
        .collect()
}

/// The owner's messages on WhatsApp (their "Message yourself" chat).
fn to_owner(wire: &WaWire) -> Vec<String> {
    wire.sent()
        .into_iter()
        .filter(|(to, _)| to == "15125550000@s.whatsapp.net")
        .map(|(_, t)| t)
        .collect()
}

fn to_ann(wire: &WaWire) -> Vec<String> {
    wire.sent()
        .into_iter()
        .filter(|(to, _)| to == ANN_JID)
        .map(|(_, t)| t)
        .collect()
}

fn ann_writes(wire: &WaWire, id: &str) {
    wire.emit(json!({
        "event": "message", "id": id, "chat": ANN_JID, "sender": ANN_JID,
        "pushName": "Ann Lee", "at": jiff::Timestamp::now().as_second(),
        "text": "are we still on for friday?",
    }));
}

#[test]
fn a_whatsapp_dm_from_ann_becomes_one_send_after_1_send() {
    let wire = WaWire::start();
    let home = home_for(&wire);
    link(&home, &wire);
    wire.script(vec![json!({"event": "connected"})]);
    let d = common::start(cmd(&home, &wire, &["up", "--listen", "127.0.0.1:0"]));
    assert!(
        wait_until(Duration::from_secs(20), || wire.connects().len() == 2),
        "the daemon's reader connected: {}",
        d.log.lock().unwrap()
    );
    ann_writes(&wire, "ANN1");
    // The draft comes to the owner on WhatsApp, their first owner channel.
    assert!(
        wait_until(Duration::from_secs(30), || to_owner(&wire)
            .iter()
            .any(|t| t.starts_with("✍️"))),
        "a draft reached the owner on WhatsApp: {:?}\n{}",
        wire.sent(),
        d.log.lock().unwrap()
    );
    let prompt = to_owner(&wire)
        .into_iter()
        .find(|t| t.starts_with("✍️"))
        .unwrap();
    assert!(
        prompt.contains("Ann Lee") && prompt.contains("yes! 7pm works"),
        "{prompt}"
    );
    assert!(to_ann(&wire).is_empty(), "nothing before the owner's yes");
    // The same person as her iMessage: her phone handle.
    let ann = json(&home.run(&["person", "show", "+1 512 555 1234", "--json"]));
    assert_eq!(ann["name"], "Ann Lee", "{ann}");

    // The owner answers in their "Message yourself" chat: `1 send`.
    wire.emit(json!({
        "event": "message", "id": "OWN1", "chat": "15125550000@s.whatsapp.net",
        "sender": "15125550000:2@s.whatsapp.net", "fromMe": true,
        "at": jiff::Timestamp::now().as_second(), "text": "1 send",
    }));
    assert!(
        wait_until(Duration::from_secs(30), || !to_ann(&wire).is_empty()),
        "the reply went out: {:?}\n{}",
        wire.sent(),
        d.log.lock().unwrap()
    );
    assert_eq!(to_ann(&wire), vec!["yes! 7pm works".to_string()]);
    assert!(
        wire.typing().contains(&(ANN_JID.to_string(), true)),
        "typing… while pacing: {:?}",
        wire.typing()
    );
    assert!(
        wait_until(Duration::from_secs(10), || to_owner(&wire)
            .iter()
            .any(|t| t.contains("sent to Ann Lee"))),
        "{:?}",
        to_owner(&wire)
    );
    // A second yes sends nothing more.
    let again = home.run(&["say", "1 send", "--json"]);
    assert!(again.status.success(), "{}", stderr(&again));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(to_ann(&wire).len(), 1, "exactly one send");
    let ledger = steward::bridges::ledger::read(&home.file("whatsapp/linked-sent.jsonl")).unwrap();
    assert!(
        ledger.iter().any(|l| l.audience == "contact"
            && l.state == steward::bridges::ledger::State::Delivered
            && l.id.as_deref().is_some_and(|i| i.starts_with("3EB0WIRE"))),
        "{ledger:?}"
    );
    let verify = home.run(&["receipts", "verify", "--json"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    receipts_move_the_ledger_forward_only(&home, &wire);

    // WhatsApp logs the device out: the owner hears it once, elsewhere, with the fix.
    wire.emit(json!({"event": "loggedOut"}));
    assert!(
        wait_until(Duration::from_secs(20), || outbox(&home)
            .iter()
            .any(|t| t.contains("steward whatsapp link"))),
        "told on the console: {:?}\n{}",
        outbox(&home),
        d.log.lock().unwrap()
    );
    std::thread::sleep(Duration::from_millis(500));
    let told = outbox(&home)
        .iter()
        .filter(|t| t.contains("steward whatsapp link"))
        .count();
    assert_eq!(told, 1, "once");
    assert_eq!(wire.connects().len(), 2, "no retry after a logout");
    let doctor = json(&home.run(&["doctor", "--json"]));
    let check = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "whatsapp")
        .cloned()
        .unwrap();
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .contains("steward whatsapp link"),
        "{check}"
    );
}

/// The newest ledger line about WhatsApp's message `id`, and its status.
fn ledger_status(home: &TestHome, id: &str) -> Option<String> {
    steward::bridges::ledger::read(&home.file("whatsapp/linked-sent.jsonl"))
        .unwrap()
        .into_iter()
        .rev()
        .find(|l| l.id.as_deref() == Some(id))
        .and_then(|l| l.status)
}

fn receipt(wire: &WaWire, kind: &str, chat: &str, ids: &[&str]) {
    wire.emit(json!({"event": "receipt", "type": kind, "chat": chat, "ids": ids}));
}

/// Delivered then read receipts for the reply to Ann land on its ledger line;
/// a late `delivered` never takes a `read` back, and a receipt for an id
/// Steward never sent writes nothing.
fn receipts_move_the_ledger_forward_only(home: &TestHome, wire: &WaWire) {
    let ledger_path = home.file("whatsapp/linked-sent.jsonl");
    let lines = || steward::bridges::ledger::read(&ledger_path).unwrap();
    let sent_id = |audience: &str| {
        lines()
            .into_iter()
            .find(|l| l.audience == audience && l.id.is_some())
            .and_then(|l| l.id)
            .unwrap()
    };
    let (ann_id, owner_id) = (sent_id("contact"), sent_id("owner"));
    assert_eq!(ledger_status(home, &ann_id).as_deref(), Some("sent"));
    receipt(wire, "delivered", ANN_JID, &[&ann_id]);
    assert!(
        wait_until(Duration::from_secs(10), || ledger_status(home, &ann_id)
            .as_deref()
            == Some("delivered")),
        "{:?}",
        lines()
    );
    receipt(wire, "read", ANN_JID, &[&ann_id]);
    assert!(
        wait_until(Duration::from_secs(10), || ledger_status(home, &ann_id)
            .as_deref()
            == Some("read")),
        "{:?}",
        lines()
    );
    let before = lines();
    // Out of order (an offline queue drained on reconnect), and an unknown id.
    receipt(wire, "delivered", ANN_JID, &[&ann_id]);
    receipt(wire, "read", ANN_JID, &["3EB0NEVERSENT"]);
    // Events are handled in order: once this one lands, the two above were handled.
    receipt(wire, "read", "15125550000@s.whatsapp.net", &[&owner_id]);
    assert!(
        wait_until(Duration::from_secs(10), || ledger_status(home, &owner_id)
            .as_deref()
            == Some("read")),
        "{:?}",
        lines()
    );
    let after = lines();
    assert_eq!(
        after.len(),
        before.len() + 1,
        "only the owner's read: {after:?}"
    );
    assert_eq!(ledger_status(home, &ann_id).as_deref(), Some("read"));
    assert!(
        !after
            .iter()
            .any(|l| l.id.as_deref() == Some("3EB0NEVERSENT"))
    );
}

#[test]
fn killed_between_the_send_and_its_ledger_line_sends_once() {
    let wire = WaWire::start();
    let home = home_for(&wire);
    link(&home, &wire);
    wire.script(vec![json!({"event": "connected"})]);
    let mut c = cmd(&home, &wire, &["up", "--listen", "127.0.0.1:0"]);
    c.env("STEWARD_FAULT", "crash-after:whatsapp.linked.sent.contact");
    let mut d = common::start(c);
    assert!(wait_until(Duration::from_secs(20), || wire
        .connects()
        .len()
        == 2));
    ann_writes(&wire, "ANN1");
    assert!(
        wait_until(Duration::from_secs(30), || to_owner(&wire)
            .iter()
            .any(|t| t.starts_with("✍️"))),
        "{}",
        d.log.lock().unwrap()
    );
    let _ = home.run(&["say", "1 send", "--json"]);
    assert!(
        d.wait_for_exit(Duration::from_secs(30)).is_some(),
        "the daemon crashed after the send"
    );
    assert_eq!(to_ann(&wire).len(), 1);
    wire.script(vec![json!({"event": "connected"})]);
    let d = common::start(cmd(&home, &wire, &["up", "--listen", "127.0.0.1:0"]));
    assert!(
        wait_until(Duration::from_secs(30), || to_owner(&wire)
            .iter()
            .any(|t| t.contains("may or may not have gone out")
                || t.contains("was being sent when Steward stopped"))),
        "the owner is told the send is uncertain: {:?}\n{}",
        to_owner(&wire),
        d.log.lock().unwrap()
    );
    assert_eq!(to_ann(&wire).len(), 1, "one send, not two");
}

#[test]
fn unlink_logs_out_and_removes_the_session() {
    let wire = WaWire::start();
    let home = home_for(&wire);
    // A bad number is refused before anything changes.
    let bad = cmd(
        &home,
        &wire,
        &["whatsapp", "link", "--phone", "12", "--json"],
    )
    .output()
    .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("country code"), "{}", stderr(&bad));
    assert!(wire.connects().is_empty());
    // The pair-code path prints the server's code.
    wire.script(vec![
        json!({"event": "pairCode", "code": "K7QW2XPL"}),
        json!({"event": "paired", "jid": OWNER_JID, "lid": "555000111@lid", "platform": "ios"}),
        json!({"event": "connected"}),
    ]);
    let out = cmd(
        &home,
        &wire,
        &["whatsapp", "link", "--phone", "+1 512 555 0000", "--json"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("K7QW2XPL"), "{}", stderr(&out));
    let linked = json(&out);
    assert_eq!(
        (linked["linked"].clone(), linked["number"].clone()),
        (json!(true), json!("+15125550000"))
    );
    assert_eq!(wire.connects()[0], json!({"code": "+15125550000"}));
    std::fs::write(home.file("whatsapp/session.db"), b"keys").unwrap();
    wire.script(vec![json!({"event": "connected"})]);
    let out = cmd(&home, &wire, &["whatsapp", "unlink", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let done = json(&out);
    assert_eq!(done["loggedOut"], true, "{done}");
    assert_eq!(wire.logouts(), 1);
    assert!(!home.file("whatsapp/session.db").exists());
    let status = json(&home.run(&["status", "--json"]));
    assert_eq!(status["whatsapp"]["status"], "unlinked");
}
