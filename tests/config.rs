//! A bad steward.yaml: exit 2 with file:line:column, and nothing starts.

mod common;

use std::time::Duration;

use common::{TestHome, json, stderr};

#[test]
fn unknown_key_in_config_exits_2_with_position_and_expected_keys() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let path = home.file("steward.yaml");
    std::fs::write(
        &path,
        "owner:\n  name: Ann\nhttp:\n  listen: 127.0.0.1:0\n  lisen: x\n",
    )
    .unwrap();
    let out = home.run(&["up"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:5:3", path.display())), "{err}");
    assert!(err.contains("unknown field `lisen`"), "{err}");
    assert!(err.contains("expected one of"), "{err}");
    assert!(!home.file("steward.pid").exists());
}

#[test]
fn broken_yaml_syntax_exits_2_with_position() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let path = home.file("steward.yaml");
    std::fs::write(&path, "http:\n  listen: [127.0.0.1\n").unwrap();
    let out = home.run(&["up"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("{}:", path.display())));
}

#[test]
fn an_inline_secret_is_refused_without_printing_it() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        "http:\n  apiToken: hunter2hunter2\n",
    )
    .unwrap();
    let out = home.run(&["up"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("env:NAME"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn doctor_reports_the_bad_config_and_fails() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(home.file("steward.yaml"), "log:\n  levle: debug\n").unwrap();
    let out = home.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["ok"], false);
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config")
        .unwrap();
    assert_eq!(check["status"], "fail");
    assert!(
        check["detail"].as_str().unwrap().contains(":2:3"),
        "{check}"
    );
}

#[test]
fn api_token_from_an_env_reference_is_what_the_daemon_takes() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        "http:\n  apiToken: env:STEWARD_TEST_TOKEN\n",
    )
    .unwrap();
    let token = "f".repeat(40);
    let mut cmd = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    cmd.env("STEWARD_TEST_TOKEN", &token);
    // Missing variable: a clear refusal naming it.
    let out = home.run(&["up", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("STEWARD_TEST_TOKEN"),
        "{}",
        stderr(&out)
    );
    // With it set, the daemon accepts that token and not the file's.
    let mut daemon = common::start(cmd);
    let t = std::time::Duration::from_secs(5);
    let file_token = std::fs::read_to_string(home.file("api-token")).unwrap();
    let probe = steward::http::probe::get;
    assert_eq!(
        probe(daemon.addr, "/v1/status", Some(&token), t)
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        probe(daemon.addr, "/v1/status", Some(file_token.trim()), t)
            .unwrap()
            .status,
        401
    );
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_for_exit(t).unwrap().code(), Some(0));
}

/// Issue 20 item 9: a number out of its range is refused at load with
/// file:line:column (exit 2), never turned into a silent default.
#[test]
fn issue20_out_of_range_numbers_exit_2_with_position() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let path = home.file("steward.yaml");
    for (yaml, needle) in [
        ("budget:\n  maxCostUsdPerDay: -5\n", "maxCostUsdPerDay"),
        ("budget:\n  maxCostUsdPerDay: .nan\n", "maxCostUsdPerDay"),
        ("budget:\n  maxCostUsdPerDay: .inf\n", "maxCostUsdPerDay"),
        ("confirm:\n  ttlMinutes: 0\n", "ttlMinutes"),
        ("confirm:\n  ttlMinutes: 4294967295\n", "ttlMinutes"),
    ] {
        std::fs::write(&path, yaml).unwrap();
        let out = home.run_for(&["up", "--listen", "127.0.0.1:0"], Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{yaml}: {err}");
        assert!(
            err.contains(&format!("{}:2:", path.display())),
            "{yaml}: {err}"
        );
        assert!(err.contains(needle), "{yaml}: {err}");
        assert!(!home.file("steward.pid").exists());
        // Every command that reads the config refuses it the same way.
        let budget = home.run(&["budget", "--json"]);
        assert_eq!(budget.status.code(), Some(2), "{yaml}: {}", stderr(&budget));
    }
}

/// Issue 20 item 12: a steward.yaml that is not UTF-8 is a bad config (exit 2)
/// naming the byte offset, not a missing file to `init`.
#[test]
fn issue20_a_non_utf8_config_exits_2_naming_the_byte_offset() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let path = home.file("steward.yaml");
    // Latin-1 "é" (0xE9) at byte 18, line 2, column 12.
    std::fs::write(&path, b"owner:\n  name: Ren\xe9\n").unwrap();
    for args in [
        &["up", "--listen", "127.0.0.1:0"][..],
        &["budget", "--json"][..],
    ] {
        let out = home.run_for(args, Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&format!("{}:2:12", path.display())), "{err}");
        assert!(err.contains("byte 18"), "{err}");
        assert!(err.contains("UTF-8"), "{err}");
        assert!(!err.contains("steward init"), "{err}");
    }
    let doctor = json(&home.run(&["doctor", "--json"]));
    let c = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config")
        .unwrap();
    assert!(c["detail"].as_str().unwrap().contains("byte 18"), "{c}");
}
