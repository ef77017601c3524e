//! Issue 17: the daemon keeps the documents index current. A first pass at
//! start, then create, modify, rename and delete through file events; a bad
//! file is skipped and the watcher and the daemon keep running.

mod common;

use std::time::Duration;

use common::{TestHome, json, stderr};
use serde_json::Value;

fn hits(t: &TestHome, q: &str) -> Vec<Value> {
    let out = t.run(&["docs", "search", q, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out).as_array().unwrap().clone()
}

fn paths(t: &TestHome, q: &str) -> Vec<String> {
    hits(t, q)
        .iter()
        .map(|h| h["path"].as_str().unwrap().to_string())
        .collect()
}

/// Files appear within a few seconds of the event (a loaded CI machine is slow).
const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn the_daemon_indexes_at_start_and_follows_create_modify_rename_and_delete() {
    let t = TestHome::new();
    t.init_if_missing();
    let docs = t.user_home.join("Documents");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("before.txt"),
        "written before the daemon: gardener invoice",
    )
    .unwrap();
    let daemon = t.up();
    let real = std::fs::canonicalize(&docs).unwrap();

    assert!(
        common::wait_until(LIMIT, || !hits(&t, "gardener").is_empty()),
        "first pass missing: {}",
        daemon.log.lock().unwrap()
    );

    std::fs::write(docs.join("new.md"), "# Boiler\nservice code 8812").unwrap();
    assert!(
        common::wait_until(LIMIT, || !hits(&t, "boiler").is_empty()),
        "create missed: {}",
        daemon.log.lock().unwrap()
    );

    std::fs::write(
        docs.join("new.md"),
        "# Boiler\nservice code changed to 7703 in winter",
    )
    .unwrap();
    assert!(
        common::wait_until(LIMIT, || hits(&t, "boiler")
            .first()
            .is_some_and(|h| h["snippet"].as_str().unwrap().contains("7703"))),
        "modify missed: {}",
        daemon.log.lock().unwrap()
    );

    std::fs::rename(docs.join("new.md"), docs.join("boiler.md")).unwrap();
    let renamed = real.join("boiler.md").display().to_string();
    assert!(
        common::wait_until(LIMIT, || paths(&t, "boiler") == vec![renamed.clone()]),
        "rename missed: {:?}",
        paths(&t, "boiler")
    );

    // A folder moved in is walked.
    let outside = t.user_home.join("incoming");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("deed.txt"), "title deed for the cabin").unwrap();
    std::fs::rename(&outside, docs.join("incoming")).unwrap();
    assert!(
        common::wait_until(LIMIT, || !hits(&t, "cabin").is_empty()),
        "moved-in folder missed: {}",
        daemon.log.lock().unwrap()
    );

    // Bad input does not stop the watcher.
    std::fs::write(docs.join("junk.txt"), b"\0\0\0binary").unwrap();
    std::fs::write(docs.join("after-junk.txt"), "parking permit 44").unwrap();
    assert!(
        common::wait_until(LIMIT, || !hits(&t, "permit").is_empty()),
        "watcher stopped after a bad file"
    );

    std::fs::remove_file(docs.join("boiler.md")).unwrap();
    assert!(
        common::wait_until(LIMIT, || hits(&t, "boiler").is_empty()),
        "delete missed: {}",
        daemon.log.lock().unwrap()
    );

    let health = steward::http::probe::get(daemon.addr, "/healthz", None, Duration::from_secs(5));
    assert!(health.is_ok(), "the daemon stopped: {health:?}");
}
