//! `steward up`: health, auth, clean stop, one daemon per home, clear refusals.

mod common;

use std::time::Duration;

use common::{TestHome, json, stderr};
use steward::http::probe;

const T: Duration = Duration::from_secs(5);

#[test]
fn up_serves_healthz_and_stops_cleanly_on_sigterm() {
    let home = TestHome::new();
    let mut daemon = home.up();
    assert!(home.file("steward.db").is_file());

    let health = probe::get(daemon.addr, "/healthz", None, T).unwrap();
    assert_eq!(health.status, 200);
    let body: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["version"], steward::VERSION);

    let pid_file = home.file("steward.pid");
    assert!(pid_file.exists());
    daemon.signal(libc::SIGTERM);
    let status = daemon
        .wait_for_exit(Duration::from_secs(2))
        .expect("steward up must stop within 2 s of SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(
        !pid_file.exists(),
        "the pid file is removed on a clean stop"
    );
    // Every handle is gone before the database closes (so SQLite checkpoints the WAL).
    std::thread::sleep(Duration::from_millis(100));
    let log = daemon.log.lock().unwrap().clone();
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains("still in use"), "{log}");
    assert!(
        !home.file("steward.db-wal").exists(),
        "the WAL was folded back"
    );
}

#[test]
fn sigint_also_stops_with_exit_zero() {
    let home = TestHome::new();
    let mut daemon = home.up();
    daemon.signal(libc::SIGINT);
    let status = daemon.wait_for_exit(Duration::from_secs(2)).unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn api_routes_need_the_token_and_health_does_not() {
    let home = TestHome::new();
    let daemon = home.up();
    let token = std::fs::read_to_string(home.file("api-token")).unwrap();
    let token = token.trim();

    let denied = probe::get(daemon.addr, "/v1/status", None, T).unwrap();
    assert_eq!(denied.status, 401);
    assert!(denied.body.contains("api-token"));
    let wrong = probe::get(daemon.addr, "/v1/status", Some("0".repeat(64).as_str()), T).unwrap();
    assert_eq!(wrong.status, 401);

    let ok = probe::get(daemon.addr, "/v1/status", Some(token), T).unwrap();
    assert_eq!(ok.status, 200);
    let body: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(body["pid"], daemon.pid());
    assert_eq!(body["listen"], daemon.addr.to_string());
    assert_eq!(
        body["schemaVersion"],
        steward::store::migrate::latest_version()
    );

    let missing = probe::get(daemon.addr, "/nope", None, T).unwrap();
    assert_eq!(missing.status, 404);
}

#[test]
fn a_second_up_on_the_same_home_is_refused_naming_the_pid() {
    let home = TestHome::new();
    let daemon = home.up();
    let out = home.run(&["up", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("already running"), "{err}");
    assert!(err.contains(&format!("pid {}", daemon.pid())), "{err}");
    // The first daemon is unharmed.
    assert_eq!(
        probe::get(daemon.addr, "/healthz", None, T).unwrap().status,
        200
    );
}

#[test]
fn a_port_in_use_names_the_port_and_the_flag() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let home = TestHome::new();
    home.init_if_missing();
    let out = home.run(&["up", "--listen", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("port {port}")), "{err}");
    assert!(err.contains("--listen"), "{err}");
    // Nothing claims to run.
    assert!(!home.file("steward.pid").exists());
}

#[test]
fn a_database_from_a_newer_steward_is_refused_and_left_alone() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let db = home.file("steward.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "INSERT INTO schema_version VALUES (999, 'future', 'x', 'later')",
            [],
        )
        .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let out = home.run(&["up", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("schema version 999"), "{err}");
    assert!(err.contains("upgrade steward"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn status_reports_the_running_daemon_and_then_its_absence() {
    let home = TestHome::new();
    let mut daemon = home.up();
    let out = home.run(&["status", "--json"]);
    assert!(out.status.success());
    let s = json(&out);
    assert_eq!(s["version"], steward::VERSION);
    assert_eq!(s["initialised"], true);
    assert_eq!(
        s["database"]["schemaVersion"],
        steward::store::migrate::latest_version()
    );
    assert_eq!(s["daemon"]["running"], true);
    assert_eq!(s["daemon"]["pid"], daemon.pid());
    assert_eq!(s["daemon"]["listen"], daemon.addr.to_string());
    assert_eq!(s["daemon"]["healthy"], true);
    assert!(s["daemon"]["uptimeSecs"].is_u64());
    assert_eq!(s["keyFingerprint"].as_str().unwrap().len(), 16);

    daemon.signal(libc::SIGTERM);
    daemon.wait_for_exit(Duration::from_secs(2)).unwrap();
    let s = json(&home.run(&["status", "--json"]));
    assert_eq!(s["daemon"]["running"], false);
    assert_eq!(s["daemon"]["pid"], serde_json::Value::Null);
}

#[test]
fn a_killed_daemon_leaves_no_lock_behind() {
    let home = TestHome::new();
    let mut daemon = home.up();
    daemon.signal(libc::SIGKILL);
    daemon.wait_for_exit(Duration::from_secs(5)).unwrap();
    // The stale pid file remains, but the lock died with the process.
    assert!(home.file("steward.pid").exists());
    let s = json(&home.run(&["status", "--json"]));
    assert_eq!(s["daemon"]["running"], false);
    let again = home.up();
    assert_eq!(
        probe::get(again.addr, "/healthz", None, T).unwrap().status,
        200
    );
}

/// Issue 18: before a home exists `status` says how to make one (it used to
/// report `initialised: false`), and creates nothing.
#[test]
fn status_on_an_uninitialised_home_creates_nothing() {
    let home = TestHome::new();
    let out = home.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("run `steward setup`"),
        "{}",
        stderr(&out)
    );
    assert!(!home.path.exists());
}

/// Issue 20 item 10: like ssh with a readable key, `up` refuses a home or
/// secret other users can reach, prints the exact chmod, and changes nothing.
#[test]
fn issue20_up_refuses_loose_permissions_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let token = home.file("api-token");
    for (home_mode, token_mode) in [(0o777, 0o600), (0o755, 0o600), (0o700, 0o644)] {
        set(&home.path, home_mode);
        set(&token, token_mode);
        let out = home.run_for(&["up", "--listen", "127.0.0.1:0"], Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{home_mode:o}/{token_mode:o}: {err}"
        );
        if home_mode != 0o700 {
            assert!(
                err.contains(&format!("chmod 700 {}", home.path.display())),
                "{err}"
            );
        }
        if token_mode != 0o600 {
            assert!(
                err.contains(&format!("chmod 600 {}", token.display())),
                "{err}"
            );
        }
        assert!(!home.file("steward.pid").exists());
        // Refusing changes nothing: the modes are the owner's to fix.
        assert_eq!(common::mode(&home.path), home_mode);
        assert_eq!(common::mode(&token), token_mode);
    }
    // Fixed as told, it starts.
    set(&home.path, 0o700);
    set(&token, 0o600);
    drop(home.up());
}

/// One raw HTTP/1.1 exchange, for requests `probe` will not make (no JSON
/// content type, an oversized body, other methods).
fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    // The server may answer (413) before reading the whole body.
    let _ = s.write_all(request);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// Issue 20 item 12: every API error, extractor rejections included, is JSON
/// `{error, fix}` — never axum's plain text or an empty body.
#[test]
fn issue20_every_api_error_is_json_with_error_and_fix() {
    let home = TestHome::new();
    let daemon = home.up();
    let token = std::fs::read_to_string(home.file("api-token")).unwrap();
    let token = token.trim();
    let req = |method: &str, path: &str, ctype: Option<&str>, extra: &str, body: &[u8]| {
        let mut r = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(c) = ctype {
            r.push_str(&format!("Content-Type: {c}\r\n"));
        }
        r.push_str("\r\n");
        let mut bytes = r.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    };
    let json_ct = Some("application/json");
    let big = vec![b' '; 70 * 1024];
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "bad JSON",
            req("POST", "/v1/owner/messages", json_ct, "", b"{not json"),
            400,
        ),
        (
            "wrong shape",
            req("POST", "/v1/owner/messages", json_ct, "", br#"{"txt":"x"}"#),
            422,
        ),
        (
            "no JSON type",
            req(
                "POST",
                "/v1/owner/messages",
                Some("text/plain"),
                "",
                br#"{"text":"x"}"#,
            ),
            415,
        ),
        (
            "too large",
            req("POST", "/v1/owner/messages", json_ct, "", &big),
            413,
        ),
        (
            "phone too large",
            req(
                "POST",
                "/v1/signals",
                json_ct,
                "X-Steward-Device: d1\r\n",
                &big[..9 * 1024],
            ),
            413,
        ),
        (
            "bad query",
            req("GET", "/v1/runs?limit=abc", None, "", b""),
            400,
        ),
        (
            "wrong method",
            req("DELETE", "/v1/runs", None, "", b""),
            405,
        ),
        ("unknown route", req("GET", "/v1/nope", None, "", b""), 404),
        (
            "unknown run",
            req("GET", "/v1/runs/r-missing", None, "", b""),
            404,
        ),
    ];
    for (what, request, want) in cases {
        let (status, head, body) = raw_exchange(daemon.addr, &request);
        assert_eq!(status, want, "{what}: {head}{body}");
        assert!(
            head.contains("content-type: application/json"),
            "{what}: {head}"
        );
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
        assert!(
            v["error"].as_str().is_some_and(|s| !s.is_empty()),
            "{what}: {v}"
        );
        assert!(
            v["fix"].as_str().is_some_and(|s| !s.is_empty()),
            "{what}: {v}"
        );
    }
    // Without the token: 401, the same shape.
    let r = probe::get(daemon.addr, "/v1/status", None, T).unwrap();
    assert_eq!(r.status, 401);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(v["fix"].as_str().unwrap().contains("api-token"), "{v}");
}
