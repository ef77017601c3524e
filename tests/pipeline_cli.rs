//! The pipeline's CLI and HTTP contracts, through the real binary.

mod common;

use std::time::Duration;

use common::{TestHome, json, stdout};
use serde_json::json;
use steward::http::probe;

const T: Duration = Duration::from_secs(10);

fn token(home: &TestHome) -> String {
    std::fs::read_to_string(home.file("api-token"))
        .unwrap()
        .trim()
        .to_string()
}

fn start_reply(d: &common::Daemon, tok: &str, text: &str) -> serde_json::Value {
    let body = json!({
        "agent": "imessage-assistant",
        "plan": [{"kind": "reply", "channel": "console", "to": "ann", "text": text}],
    });
    let resp = probe::post_json(d.addr, "/v1/runs", Some(tok), &body.to_string(), T).unwrap();
    assert_eq!(resp.status, 201, "{}", resp.body);
    serde_json::from_str(&resp.body).unwrap()
}

#[test]
fn runs_confirm_receipts_and_audit_keep_their_json_contracts() {
    let home = TestHome::new();
    let daemon = home.up();
    let tok = token(&home);
    let started = start_reply(&daemon, &tok, "on my way");
    assert_eq!(started["status"], "waiting");

    let pending = json(&home.run(&["confirm", "list", "--json"]));
    let row = &pending[0];
    for key in [
        "id",
        "agent",
        "channel",
        "to",
        "text",
        "createdAt",
        "expiresAt",
    ] {
        assert!(row.get(key).is_some(), "confirm list lacks {key}: {row}");
    }
    assert_eq!(row["text"], "on my way");

    // Edit through the CLI, which hands the decision to the running daemon.
    let id = row["id"].as_str().unwrap();
    let out = home.run(&["confirm", "edit", id, "on my way, 5 min", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(json(&out)["status"], "succeeded");
    let again = home.run(&["confirm", "approve", id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        common::stderr(&again).contains("already edited"),
        "{}",
        common::stderr(&again)
    );

    // By agent: the scheduler may add a run of its own at a slot boundary.
    let runs = json(&home.run(&["runs", "--json", "--agent", "imessage-assistant"]));
    let run = &runs[0];
    for key in [
        "id",
        "agent",
        "trigger",
        "status",
        "costUsd",
        "startedAt",
        "finishedAt",
        "reason",
    ] {
        assert!(run.get(key).is_some(), "runs lacks {key}: {run}");
    }
    assert_eq!(run["status"], "succeeded");
    let run_id = run["id"].as_str().unwrap();

    let detail = json(&home.run(&["runs", "show", run_id, "--json"]));
    assert!(detail["journal"].as_array().unwrap().len() >= 8);
    assert_eq!(detail["receipt"]["algorithm"], "ed25519");

    // The receipt, saved to a file, verifies offline with the published key only.
    let receipt = home.run(&["receipts", "show", run_id]);
    let file = home.user_home.join("receipt.json");
    std::fs::write(&file, &receipt.stdout).unwrap();
    let published: serde_json::Value = serde_json::from_str(
        &probe::get(daemon.addr, "/.well-known/steward-receipts", None, T)
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(published["algorithm"], "ed25519");
    let key = published["publicKey"].as_str().unwrap();
    let ok = home.run(&["receipts", "verify", file.to_str().unwrap(), "--key", key]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    // Another key: refused, exit 1.
    let other = "A".repeat(43) + "=";
    let bad = home.run(&[
        "receipts",
        "verify",
        file.to_str().unwrap(),
        "--key",
        &other,
        "--json",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(json(&bad)["valid"], false);

    // POST /v1/receipts/verify agrees.
    let resp = probe::post_json(
        daemon.addr,
        "/v1/receipts/verify",
        Some(&tok),
        &String::from_utf8_lossy(&receipt.stdout),
        T,
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&resp.body).unwrap()["valid"],
        true
    );

    let budget = json(&home.run(&["budget", "--json"]));
    assert_eq!(budget[0]["scope"], "global");
    let sent = steward::bridges::console::read_outbox(&home.file("console/outbox.jsonl")).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, "on my way, 5 min");
}

#[test]
fn pipeline_routes_need_the_token_but_the_key_is_public() {
    let home = TestHome::new();
    let daemon = home.up();
    for path in [
        "/v1/runs",
        "/v1/confirmations",
        "/v1/budget",
        "/v1/audit/verify",
    ] {
        assert_eq!(
            probe::get(daemon.addr, path, None, T).unwrap().status,
            401,
            "{path}"
        );
    }
    let resp = probe::post_json(
        daemon.addr,
        "/v1/runs",
        None,
        "{\"agent\":\"concierge\"}",
        T,
    )
    .unwrap();
    assert_eq!(resp.status, 401);
    assert_eq!(
        probe::get(daemon.addr, "/.well-known/steward-receipts", None, T)
            .unwrap()
            .status,
        200
    );
    // Malformed bodies are 4xx and create nothing.
    let tok = token(&home);
    let bad = probe::post_json(daemon.addr, "/v1/runs", Some(&tok), "{\"agent\":1}", T).unwrap();
    assert!((400..500).contains(&bad.status), "{}", bad.status);
    let unknown = probe::post_json(
        daemon.addr,
        "/v1/runs",
        Some(&tok),
        "{\"agent\":\"concierge\",\"sudo\":true}",
        T,
    )
    .unwrap();
    assert!((400..500).contains(&unknown.status));
    let missing = probe::post_json(
        daemon.addr,
        "/v1/confirmations/nope/approve",
        Some(&tok),
        "{}",
        T,
    )
    .unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(
        json(&home.run(&["runs", "--json", "--agent", "imessage-assistant"])),
        json!([])
    );
}

#[test]
fn confirm_without_a_daemon_takes_the_lock_and_sends_once() {
    let home = TestHome::new();
    let mut daemon = home.up();
    let tok = token(&home);
    start_reply(&daemon, &tok, "later");
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_exit(T).unwrap();
    let pending = json(&home.run(&["confirm", "list", "--json"]));
    let id = pending[0]["id"].as_str().unwrap();
    let out = home.run(&["confirm", "approve", id]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let sent = steward::bridges::console::read_outbox(&home.file("console/outbox.jsonl")).unwrap();
    assert_eq!(sent.len(), 1);
    assert!(home.run(&["audit", "verify"]).status.success());
}

#[test]
fn a_tampered_store_fails_verification_naming_what_broke() {
    let home = TestHome::new();
    let mut daemon = home.up();
    let tok = token(&home);
    let body = json!({"agent": "concierge", "plan": [{"kind": "noop"}]});
    for _ in 0..3 {
        probe::post_json(daemon.addr, "/v1/runs", Some(&tok), &body.to_string(), T).unwrap();
    }
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_exit(T).unwrap();
    assert!(home.run(&["audit", "verify"]).status.success());
    assert!(home.run(&["receipts", "verify"]).status.success());
    {
        let conn = rusqlite::Connection::open(home.file("steward.db")).unwrap();
        conn.execute("UPDATE audit SET actor = 'someone' WHERE seq = 5", [])
            .unwrap();
    }
    let out = home.run(&["audit", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["firstBadSeq"], 5);
    let plain = stdout(&home.run(&["audit", "verify"]));
    assert!(plain.contains("seq 5"), "{plain}");
}

#[test]
fn runs_forecast_prices_the_first_model_of_the_capability() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        "models:\n  providers:\n    anthropic: {kind: anthropic, baseUrl: \"http://127.0.0.1:9\", apiKey: \"env:STEWARD_TEST_UNSET_KEY\"}\n  capabilities:\n    reason: [\"anthropic/claude-sonnet-4-5\"]\n",
    )
    .unwrap();
    let input = "x".repeat(400);
    let out = home.run(&[
        "runs",
        "forecast",
        "chief-of-staff",
        "--input",
        &input,
        "--json",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let f = json(&out);
    assert_eq!(f["model"], "anthropic/claude-sonnet-4-5");
    assert_eq!(
        (f["tokensIn"].as_u64(), f["tokensOut"].as_u64()),
        (Some(100), Some(256))
    );
    // 100 × $3 + 256 × $15 per million.
    assert_eq!(f["costMicros"], 4140);
    assert_eq!(f["confidence"], 0.0);
    let unknown = home.run(&["runs", "forecast", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
}
