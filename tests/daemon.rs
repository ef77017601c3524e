//! `steward up`: health, auth, clean stop, one daemon per home, clear refusals.

mod common;

use std::time::Duration;

use common::{TestHome, json, stderr};
use steward::http::probe;

const T: Duration = Duration::from_secs(5);

#[test]
fn up_initialises_serves_healthz_and_stops_cleanly_on_sigterm() {
    let home = TestHome::new();
    // Never initialised: `up` does it first.
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

#[test]
fn status_on_an_uninitialised_home_creates_nothing() {
    let home = TestHome::new();
    let out = home.run(&["status", "--json"]);
    assert!(out.status.success());
    let s = json(&out);
    assert_eq!(s["initialised"], false);
    assert_eq!(s["database"]["exists"], false);
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
