//! Crash injection: kill the daemon at every step of a confirm → send flow,
//! restart it, and prove exactly one send and a chain and receipts that verify.

mod common;

use std::time::{Duration, Instant};

use common::{TestHome, start};
use serde_json::{Value, json};
use steward::bridges::console::read_outbox;
use steward::http::probe;

const T: Duration = Duration::from_secs(10);

/// Every point the pipeline can crash at in this flow, in order.
const POINTS: [&str; 6] = [
    "confirmation.requested",
    "confirmation.approved",
    "step.intended",
    "send.delivered",
    "step.done",
    "run.finished",
];

fn token(home: &TestHome) -> String {
    std::fs::read_to_string(home.file("api-token"))
        .unwrap()
        .trim()
        .to_string()
}

fn up(home: &TestHome, fault: Option<&str>) -> common::Daemon {
    let mut cmd = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    if let Some(point) = fault {
        cmd.env("STEWARD_FAULT", format!("crash-after:{point}"));
    }
    start(cmd)
}

fn post(d: &common::Daemon, tok: &str, path: &str, body: &Value) -> Option<Value> {
    let resp = probe::post_json(d.addr, path, Some(tok), &body.to_string(), T).ok()?;
    serde_json::from_str(&resp.body).ok()
}

fn get(d: &common::Daemon, tok: &str, path: &str) -> Value {
    serde_json::from_str(&probe::get(d.addr, path, Some(tok), T).unwrap().body).unwrap()
}

fn crashed(d: &mut common::Daemon) -> bool {
    d.wait_for_exit(Duration::from_secs(5))
        .is_some_and(|s| !s.success())
}

#[test]
fn a_crash_at_any_step_still_sends_exactly_once() {
    for point in POINTS {
        let home = TestHome::new();
        assert!(home.run(&["init"]).status.success());
        let tok = token(&home);
        let mut daemon = up(&home, Some(point));
        let plan = json!({
            "agent": "imessage-assistant",
            "input": "are we still on?",
            "plan": [{"kind": "reply", "channel": "console", "to": "ann", "text": "yes, 6pm"}],
        });
        let started = post(&daemon, &tok, "/v1/runs", &plan);
        let mut did_crash = false;
        if started.is_none() {
            assert!(crashed(&mut daemon), "{point}: no answer but no crash");
            did_crash = true;
            daemon = up(&home, None);
        }
        let pending = get(&daemon, &tok, "/v1/confirmations");
        let id = pending[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{point}: no confirmation: {pending}"))
            .to_string();
        let decided = post(
            &daemon,
            &tok,
            &format!("/v1/confirmations/{id}/approve"),
            &json!({}),
        );
        if decided.is_none() {
            assert!(
                crashed(&mut daemon),
                "{point}: approve got no answer but no crash"
            );
            did_crash = true;
            daemon = up(&home, None);
        }
        assert!(did_crash, "{point}: the fault never fired");

        // The restarted daemon resumes; wait until the run has ended.
        let deadline = Instant::now() + T;
        let run = loop {
            let runs = get(&daemon, &tok, "/v1/runs");
            let status = runs[0]["status"].as_str().unwrap_or_default().to_string();
            if status == "succeeded" || Instant::now() > deadline {
                break runs[0].clone();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(run["status"], "succeeded", "{point}: {run}");

        let sent: Vec<_> = read_outbox(&home.file("console/outbox.jsonl"))
            .unwrap()
            .into_iter()
            .filter(|d| d.audience == "contact")
            .collect();
        assert_eq!(sent.len(), 1, "{point}: sent {sent:?}");
        assert_eq!(sent[0].text, "yes, 6pm");

        let chain = get(&daemon, &tok, "/v1/audit/verify");
        assert_eq!(chain["ok"], true, "{point}: {chain}");
        daemon.signal(libc::SIGTERM);
        daemon.wait_for_exit(T).unwrap();
        let out = home.run(&["receipts", "verify", "--json"]);
        assert!(out.status.success(), "{point}: {}", common::stdout(&out));
        let out = home.run(&["audit", "verify"]);
        assert!(out.status.success(), "{point}");
    }
}
