//! Issue 18, "config changes apply without a silent lie": SIGHUP makes the
//! running daemon take steward.yaml again (it stops cleanly and starts again
//! in the same process, so launchd and systemd see no exit). A steward.yaml
//! that does not load is refused with its error and the daemon keeps running.

mod common;

use std::time::Duration;

use common::{TestHome, json, wait_until};

fn model_double() -> String {
    use axum::routing::post;
    use serde_json::json;
    common::lantern::serve_in_thread(axum::Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            axum::Json(json!({
                "id": "c", "model": "tiny-1",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from tiny."}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3},
            }))
        }),
    ))
}

fn ask(home: &TestHome) -> String {
    let out = home.run(&["say", "what should I do first today?", "--json"]);
    json(&out)["reply"].as_str().unwrap_or_default().to_string()
}

#[test]
fn sighup_applies_a_new_models_section_and_refuses_a_broken_config() {
    let home = TestHome::new();
    let setup = home.run(&[
        "setup",
        "--name",
        "Priya Shah",
        "--handle",
        "+15125551234",
        "--timezone",
        "America/Chicago",
        "--yes",
    ]);
    assert!(setup.status.success(), "{}", common::stderr(&setup));
    let mut d = home.up();
    let pid = d.pid() as i32;
    assert!(
        ask(&home).contains("no model for capability"),
        "no model yet"
    );

    // The owner adds a model while the daemon runs, then sends SIGHUP.
    let path = home.file("steward.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let with_model = format!(
        "{yaml}\nmodels:\n  providers:\n    local: {{kind: openai, baseUrl: \"{}/v1\"}}\n  capabilities:\n    reason: [\"local/tiny-1\"]\n",
        model_double()
    );
    std::fs::write(&path, &with_model).unwrap();
    d.signal(libc::SIGHUP);
    let started_again = wait_until(Duration::from_secs(20), || {
        d.stdout
            .lock()
            .unwrap()
            .matches("listening on http://")
            .count()
            == 2
    });
    assert!(started_again, "{}", d.log.lock().unwrap());
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "the same process runs on"
    );
    assert!(
        wait_until(Duration::from_secs(10), || ask(&home) == "Hello from tiny."),
        "the new model answers: {}",
        ask(&home)
    );

    // A broken steward.yaml and SIGHUP: refused, logged, and nothing changes.
    std::fs::write(&path, format!("{with_model}\nbudget: [not, a, map\n")).unwrap();
    d.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || d
            .log
            .lock()
            .unwrap()
            .contains("steward.yaml does not load")),
        "{}",
        d.log.lock().unwrap()
    );
    assert_eq!(
        d.stdout
            .lock()
            .unwrap()
            .matches("listening on http://")
            .count(),
        2
    );
    assert_eq!(ask(&home), "Hello from tiny.", "still running, as it was");
    assert_eq!(d.pid() as i32, pid);
    d.signal(libc::SIGTERM);
    assert!(d.wait_for_exit(Duration::from_secs(10)).is_some());
}
