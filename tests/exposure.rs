//! Exposure: the API stays on loopback unless the owner says otherwise, and
//! phones get their own listener that serves signals and health only.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{TestHome, stderr};
use steward::http::probe;

const T: Duration = Duration::from_secs(5);

/// `steward init`, then replace the `http:` section of steward.yaml.
fn home_with_http(http: &str) -> TestHome {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let path = home.file("steward.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for line in yaml.lines() {
        if line.starts_with("http:") {
            skipping = true;
            out.push_str(http);
            continue;
        }
        if skipping && (line.starts_with(' ') || line.is_empty()) {
            continue;
        }
        skipping = false;
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
    home
}

#[test]
fn a_non_loopback_api_listen_is_refused_with_the_fix_and_binds_nothing() {
    let home = TestHome::new();
    home.init_if_missing();
    let out = home.run(&["up", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refusing to serve the API on 0.0.0.0:0")
            && err.contains("http.signalsListen")
            && err.contains("http.allowRemoteApi"),
        "{err}"
    );
    assert!(!home.file("steward.pid").exists());
}

#[test]
fn the_signals_listener_serves_signals_and_health_only() {
    let home = home_with_http("http:\n  listen: 127.0.0.1:0\n  signalsListen: 127.0.0.1:0\n");
    let daemon = home.up_with(&[]);
    let token = std::fs::read_to_string(home.file("api-token")).unwrap();
    let token = token.trim();
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.file("steward.pid")).unwrap()).unwrap();
    let phones: SocketAddr = info["signalsListen"].as_str().unwrap().parse().unwrap();
    assert_ne!(phones, daemon.addr);

    assert_eq!(probe::get(phones, "/healthz", None, T).unwrap().status, 200);
    // The signals route is there (a request without a device's credentials is refused, not missing).
    let signal = probe::post_json(phones, "/v1/signals", None, "{}", T).unwrap();
    assert!(
        matches!(signal.status, 400 | 401 | 403),
        "{} {}",
        signal.status,
        signal.body
    );
    // No API route, even with the token.
    for path in [
        "/v1/status",
        "/v1/runs",
        "/v1/signals",
        "/.well-known/steward-receipts",
    ] {
        let r = probe::get(phones, path, Some(token), T).unwrap();
        assert!(
            matches!(r.status, 404 | 405),
            "{path} on the phones' listener: {}",
            r.status
        );
    }
    // The API is still on its own loopback listener.
    assert_eq!(
        probe::get(daemon.addr, "/v1/status", Some(token), T)
            .unwrap()
            .status,
        200
    );

    // doctor names the addresses the running daemon actually listens on.
    let doc = common::json(&home.run(&["doctor", "--json"]));
    let exposure = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "exposure")
        .unwrap()
        .clone();
    let detail = exposure["detail"].as_str().unwrap_or_default().to_string();
    assert!(
        detail.contains(&daemon.addr.to_string()) && detail.contains(&phones.to_string()),
        "{exposure}"
    );
}
