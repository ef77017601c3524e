//! inbox-triage on the real binary with a model double: new mail (imported
//! from an mbox) is sorted into action, fyi and noise; an action becomes a
//! numbered draft behind a confirmation in the owner's channel; junk from the
//! model is fyi; a list is noise without a model call; a second run judges
//! nothing again.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

async fn chat(State(calls): State<Arc<AtomicU32>>, Json(body): Json<Value>) -> Json<Value> {
    calls.fetch_add(1, Ordering::SeqCst);
    let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
    let text = if prompt.contains("invoice") {
        "{\"category\":\"action\",\"reason\":\"asks you to confirm the invoice\",\"replyTo\":null,\"replySubject\":null,\"replyBody\":\"Confirmed, thanks!\"}"
    } else {
        "I think this is probably fine."
    };
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text } }],
        "usage": { "prompt_tokens": 120, "completion_tokens": 30 },
    }))
}

/// The mbox, its mails dated `date` (recent mail is triaged; old mail is history).
fn mbox(date: &str) -> String {
    ["10:00:00", "10:01:00", "10:02:00"]
        .iter()
        .fold(MBOX.to_string(), |m, t| {
            m.replace(&format!("Tue, 1 Dec 2026 {t} +0000"), date)
        })
}

const MBOX: &str = "From MAILER-DAEMON Tue Dec  1 10:00:00 2026
From: Ann Lee <ann@example.com>
To: me@example.com
Subject: March invoice
Date: Tue, 1 Dec 2026 10:00:00 +0000
Message-ID: <inv1@example.com>

Please confirm the invoice for March.

From MAILER-DAEMON Tue Dec  1 10:01:00 2026
From: Rust Weekly <news@example.org>
To: me@example.com
Subject: This week in Rust
Date: Tue, 1 Dec 2026 10:01:00 +0000
Message-ID: <l1@example.org>
List-Id: <weekly.example.org>

Hello readers.

From MAILER-DAEMON Tue Dec  1 10:02:00 2026
From: Bob Stone <bob@example.com>
To: me@example.com
Subject: photos
Date: Tue, 1 Dec 2026 10:02:00 +0000
Message-ID: <b1@example.com>

Here are the photos from the weekend.
";

/// A home, a model double's URL, and how often the double was asked.
fn rig() -> (common::TestHome, String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let url = common::lantern::serve_in_thread(
        axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(chat))
            .with_state(calls.clone()),
    );
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    (home, url, calls)
}

#[test]
fn new_mail_is_triaged_once_and_an_action_becomes_a_confirmed_draft() {
    let (home, url, calls) = rig();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"me@example.com\"]\n\
             bridges:\n  email:\n    accounts:\n\
             \x20     - {{name: personal, address: me@example.com, password: \"env:STEWARD_TEST_UNUSED\",\n\
             \x20        imap: {{host: 127.0.0.1, port: 9, security: none}}, smtp: {{host: 127.0.0.1, port: 9, security: none}}}}\n\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{url}/v1\"}}\n  capabilities:\n    fast: [\"local/m\"]\n"
        ),
    )
    .unwrap();
    let path = home.user_home.join("mail.mbox");
    let recent = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2))
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    std::fs::write(&path, mbox(&recent)).unwrap();
    let out = home.run(&["import", "mbox", path.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));

    let out = home.run(&["agents", "run", "inbox-triage", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::json(&out)["status"], "succeeded");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the list mail is not sent to the model"
    );
    let outbox: Vec<String> =
        steward::bridges::console::read_outbox(&home.file("console/outbox.jsonl"))
            .unwrap()
            .into_iter()
            .map(|d| d.text)
            .collect();
    assert!(
        outbox.iter().any(|t| t.starts_with(
            "📥 1 · Ann Lee — Re: March invoice: asks you to confirm the invoice → draft: \"Confirmed, thanks!\""
        )),
        "{outbox:?}"
    );
    assert!(
        outbox
            .iter()
            .any(|t| t == "📥 triaged 3 new mails: 1 action, 1 fyi, 1 noise"),
        "{outbox:?}"
    );
    let pending = common::json(&home.run(&["confirm", "list", "--json"]));
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["channel"], "email");
    assert_eq!(pending[0]["text"], "Confirmed, thanks!");

    // Again: nothing new, no model call, no second draft.
    let out = home.run(&["agents", "run", "inbox-triage", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let pending = common::json(&home.run(&["confirm", "list", "--json"]));
    assert_eq!(pending.as_array().unwrap().len(), 1);
}

#[test]
fn old_mail_is_history_and_is_not_triaged() {
    let (home, url, calls) = rig();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"me@example.com\"]\n\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{url}/v1\"}}\n  capabilities:\n    fast: [\"local/m\"]\n"
        ),
    )
    .unwrap();
    let path = home.user_home.join("old.mbox");
    std::fs::write(&path, mbox("Mon, 2 Mar 2020 10:00:00 +0000")).unwrap();
    assert!(
        home.run(&["import", "mbox", path.to_str().unwrap()])
            .status
            .success()
    );
    let out = home.run(&["agents", "run", "inbox-triage", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "history costs no model call"
    );
}
