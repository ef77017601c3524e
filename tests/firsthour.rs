//! Issue 18, "The first hour": what a new user meets before and right after
//! `steward setup`. Each test names the behaviour it pins.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{TestHome, json, stderr, stdout};

fn no_home_line(home: &TestHome) -> String {
    format!(
        "no Steward home at {}: run `steward setup`",
        home.path.display()
    )
}

/// Item 1: before a home exists, every command but init/setup/doctor refuses
/// with one line that names the path and the fix, and creates nothing.
#[test]
fn issue18_commands_before_a_home_say_run_setup_and_create_nothing() {
    let home = TestHome::new();
    let mbox = home.user_home.join("mail.mbox");
    std::fs::write(&mbox, "").unwrap();
    let mbox = mbox.to_str().unwrap();
    for args in [
        &["say", "help"][..],
        &["status"],
        &["up", "--listen", "127.0.0.1:0"],
        &["import", "imessage"],
        &["import", "mbox", mbox],
        &["people"],
        &["person", "show", "Ann"],
        &["agents"],
        &["runs"],
        &["budget"],
        &["confirm", "list"],
        &["devices"],
        &["signals"],
        &["audit", "verify"],
    ] {
        let out = home.run_for(args, Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim(),
            format!("error: {}", no_home_line(&home)),
            "{args:?}"
        );
        assert!(!home.path.exists(), "{args:?} created the home");
    }
}

/// Item 1: with `--json` the refusal is JSON too, with the fix on its own.
#[test]
fn issue18_json_errors_are_json_with_the_fix() {
    let home = TestHome::new();
    let out = home.run(&["people", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_str(stderr(&out).trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&out)));
    assert_eq!(err["error"], no_home_line(&home));
    assert_eq!(err["fix"], "steward setup");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

/// Item 1: doctor on a missing home fails, and reports nothing as ok.
#[test]
fn issue18_doctor_on_a_missing_home_fails_without_any_ok() {
    let home = TestHome::new();
    let out = home.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["status"] != "ok"), "{report:#}");
    assert_eq!(checks[0]["fix"], "steward setup");
    let plain = home.run(&["doctor"]);
    assert!(!stdout(&plain).contains("ok "), "{}", stdout(&plain));
    assert!(!home.path.exists(), "doctor creates nothing");
}

/// Item 1: a reader that goes away (`| head -1`) ends the command quietly,
/// on every print path: JSON, plain lists, and multi-line reports.
#[test]
fn issue18_a_closed_stdout_ends_quietly_instead_of_panicking() {
    let home = TestHome::new();
    home.init_if_missing();
    for args in [
        &["people", "--json"][..],
        &["people"],
        &["agents"],
        &["agents", "--json"],
        &["status"],
        &["doctor"],
        &["runs"],
        &["budget"],
    ] {
        let mut child = home
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command has written a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // doctor's exit code is its verdict; the others succeed.
        if args[0] != "doctor" {
            assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        }
    }
}
