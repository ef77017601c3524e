//! Phone signals through the real daemon: good, forged, stale, future, replayed
//! (also after a restart), revoked, oversized, malformed, rate-limited, and
//! token mode off and on. A refused signal stores nothing.

mod common;

use std::time::Duration;

use common::{TestHome, json};
use serde_json::json;
use steward::http::probe;
use steward::signals::signal::signature;

const T: Duration = Duration::from_secs(10);

struct Phone {
    id: String,
    secret: String,
}

fn add(home: &TestHome, name: &str, token_mode: bool) -> Phone {
    let mut args = vec!["devices", "add", name, "--json"];
    if token_mode {
        args.push("--token-mode");
    }
    let out = home.run(&args);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let d = json(&out);
    assert_eq!(d["mode"], if token_mode { "token" } else { "signed" });
    Phone {
        id: d["id"].as_str().unwrap().into(),
        secret: d["secret"].as_str().unwrap().into(),
    }
}

fn now_iso(offset_s: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_s)).to_string()
}

fn send(d: &common::Daemon, phone: &Phone, msg: &str, secret: &str) -> u16 {
    let body = json!({ "msg": msg, "sig": signature(secret, msg) }).to_string();
    probe::post_with_headers(
        d.addr,
        "/v1/signals",
        &[("X-Steward-Device", &phone.id)],
        &body,
        T,
    )
    .unwrap()
    .status
}

fn stored(home: &TestHome) -> usize {
    json(&home.run(&["signals", "--json", "--limit", "500"]))
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn signed_signals_are_checked_every_way() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let phone = add(&home, "iPhone", false);
    let mut daemon = home.up();

    let good = format!("v1|{}|{}|n-1|location|detail=gym", phone.id, now_iso(0));
    assert_eq!(send(&daemon, &phone, &good, &phone.secret), 200);
    assert_eq!(stored(&home), 1);

    // Forged, stale, future, another device's name inside, malformed: refused, nothing stored.
    let forged = format!("v1|{}|{}|n-2|wake", phone.id, now_iso(0));
    assert_eq!(send(&daemon, &phone, &forged, "not-the-secret"), 401);
    assert_eq!(
        send(
            &daemon,
            &phone,
            &format!("v1|{}|{}|n-3|wake", phone.id, now_iso(-300)),
            &phone.secret
        ),
        401
    );
    assert_eq!(
        send(
            &daemon,
            &phone,
            &format!("v1|{}|{}|n-4|wake", phone.id, now_iso(300)),
            &phone.secret
        ),
        401
    );
    assert_eq!(
        send(
            &daemon,
            &phone,
            &format!("v1|dother|{}|n-5|wake", now_iso(0)),
            &phone.secret
        ),
        401
    );
    assert_eq!(
        send(
            &daemon,
            &phone,
            &format!("v1|{}|{}|n-6|teleport|detail=x", phone.id, now_iso(0)),
            &phone.secret
        ),
        400
    );
    let not_json = probe::post_with_headers(
        daemon.addr,
        "/v1/signals",
        &[("X-Steward-Device", &phone.id)],
        "{msg",
        T,
    )
    .unwrap();
    assert_eq!(not_json.status, 400);
    let big = "x".repeat(9 * 1024);
    let oversized = probe::post_with_headers(
        daemon.addr,
        "/v1/signals",
        &[("X-Steward-Device", &phone.id)],
        &big,
        T,
    )
    .unwrap();
    assert_eq!(oversized.status, 413);
    let anonymous = probe::post_with_headers(daemon.addr, "/v1/signals", &[], "{}", T).unwrap();
    assert_eq!(anonymous.status, 401);
    assert_eq!(stored(&home), 1);

    // Replay: refused now, and after a restart.
    assert_eq!(send(&daemon, &phone, &good, &phone.secret), 409);
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_exit(T).unwrap();
    let daemon = home.up();
    assert_eq!(send(&daemon, &phone, &good, &phone.secret), 409);
    assert_eq!(stored(&home), 1);

    // Revoked: refused.
    assert!(home.run(&["devices", "revoke", "iPhone"]).status.success());
    let after = format!("v1|{}|{}|n-7|wake", phone.id, now_iso(0));
    assert_eq!(send(&daemon, &phone, &after, &phone.secret), 401);
    let listed = json(&home.run(&["devices", "--json"]));
    assert!(listed[0]["revokedAt"].is_string());
    assert!(
        listed[0].get("secret").is_none(),
        "secrets are shown once, never listed"
    );
}

#[test]
fn a_device_is_rate_limited_and_token_mode_is_opt_in() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let phone = add(&home, "iPhone", false);
    let watch = add(&home, "Watch", true);
    let daemon = home.up();

    let mut codes = Vec::new();
    for i in 0..61 {
        let m = format!(
            "v1|{}|{}|r-{i}|health|metric=steps|value={i}",
            phone.id,
            now_iso(0)
        );
        codes.push(send(&daemon, &phone, &m, &phone.secret));
    }
    assert!(codes[..60].iter().all(|c| *c == 200), "{codes:?}");
    assert_eq!(codes[60], 429);
    assert_eq!(stored(&home), 60);

    // Token mode: only for the device created with --token-mode.
    let body = json!({ "kind": "focus", "detail": "dnd", "value": 1 }).to_string();
    let post = |token: &str| {
        probe::post_with_headers(
            daemon.addr,
            "/v1/signals",
            &[("x-steward-signal-token", token)],
            &body,
            T,
        )
        .unwrap()
        .status
    };
    assert_eq!(
        post(&phone.secret),
        401,
        "a signed-mode device's secret is not a token"
    );
    assert_eq!(post(&watch.secret), 200);
    let bare = json!({ "kind": "location" }).to_string();
    let r = probe::post_with_headers(
        daemon.addr,
        "/v1/signals",
        &[("x-steward-signal-token", &watch.secret)],
        &bare,
        T,
    )
    .unwrap();
    assert_eq!(r.status, 400);

    // Listed newest first, over the API too (with the api-token).
    let token = std::fs::read_to_string(home.file("api-token")).unwrap();
    let list = probe::get(daemon.addr, "/v1/signals?limit=5", Some(token.trim()), T).unwrap();
    let rows: serde_json::Value = serde_json::from_str(&list.body).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 5);
    assert_eq!(rows[0]["kind"], "focus");
    assert_eq!(rows[0]["device"], "Watch");
    assert_eq!(
        probe::get(daemon.addr, "/v1/signals", None, T)
            .unwrap()
            .status,
        401
    );
}

#[test]
fn a_drive_fires_commute_copilot_once_and_shows_in_presence() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let phone = add(&home, "iPhone", false);
    let daemon = home.up();
    let post = |nonce: &str, rest: &str| {
        let msg = format!("v1|{}|{}|{nonce}|{rest}", phone.id, now_iso(0));
        let body = json!({ "msg": msg, "sig": signature(&phone.secret, &msg) }).to_string();
        let r = probe::post_with_headers(
            daemon.addr,
            "/v1/signals",
            &[("X-Steward-Device", &phone.id)],
            &body,
            T,
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
    };
    let first = post("d-1", "device|detail=driving");
    assert_eq!(first["runs"].as_array().unwrap().len(), 1);
    let second = post("d-2", "device|detail=CarPlay");
    assert!(
        second["runs"].as_array().unwrap().is_empty(),
        "the same drive"
    );
    post("d-3", "location|detail=gym");

    let runs = json(&home.run(&["runs", "--json", "--agent", "commute-copilot"]));
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["trigger"], "signal");
    assert_eq!(runs[0]["status"], "succeeded");
    // The owner heard about it once, with their open loops.
    let outbox = std::fs::read_to_string(home.file("console/outbox.jsonl")).unwrap();
    assert_eq!(
        outbox.matches("🚗 driving — all clear.").count(),
        1,
        "{outbox}"
    );
    // health-coach: a short night is worth one line a day, a workout is logged.
    post("h-1", "health|metric=sleep|value=5.2");
    post("h-2", "health|metric=sleep|value=5.0");
    post("h-3", "health|metric=workout|detail=run 5k");
    let outbox = std::fs::read_to_string(home.file("console/outbox.jsonl")).unwrap();
    assert_eq!(outbox.matches("😴 ~").count(), 1, "{outbox}");
    assert!(
        outbox.contains("💪 nice (run 5k) — workout logged."),
        "{outbox}"
    );

    let token = std::fs::read_to_string(home.file("api-token")).unwrap();
    let p: serde_json::Value = serde_json::from_str(
        &probe::get(daemon.addr, "/v1/presence", Some(token.trim()), T)
            .unwrap()
            .body,
    )
    .unwrap();
    // The gym came after the drive: contacts hear "working out", never the place.
    assert_eq!(p["availability"], "working out right now");
    assert_eq!(p["place"], "the gym");
    assert!(
        p["summary"]
            .as_str()
            .unwrap()
            .starts_with("On iPhone (last 2h):")
    );
}
