//! `steward agents run` against a model server, and forwarding heavy runs to a
//! Lantern-compatible runtime (a local double speaking
//! its protocol): success with the remote receipt verified and embedded, 402
//! refusals, 429 and 5xx, a forged receipt, a deadline, `runtime: auto`, and a
//! crash between create and poll that must not start the remote run twice.

mod common;

use std::time::Duration;

use common::TestHome;
use common::lantern;
use serde_json::Value;
use steward::config::{RuntimeConfig, SecretRef};
use steward::pipeline::{Actor, Effect, Pipeline, RunRequest, RunStatus, Trigger, runs};
use steward::store::Store;

fn agent_yaml(name: &str, runtime: &str) -> String {
    format!(
        "name: {name}\nrole: research\ndescription: researches for the owner\ntier: nano\ncapability: reason\naudience: owner\nruntime: {runtime}\n"
    )
}

fn runtime_config(url: &str, deadline: u64) -> RuntimeConfig {
    unsafe { std::env::set_var("STEWARD_TEST_LANTERN_TOKEN", "lt-secret-9") };
    RuntimeConfig {
        url: url.to_string(),
        token: Some(SecretRef::Env("STEWARD_TEST_LANTERN_TOKEN".into())),
        heavy_tokens: 1000,
        deadline_seconds: deadline,
        poll_millis: 20,
    }
}

/// A pipeline over a fresh store with agents `researcher` (remote) and `sizer`
/// (auto), forwarding to `url` when given.
fn pipeline(dir: &std::path::Path, url: Option<&str>) -> (Pipeline, Store) {
    std::fs::create_dir_all(dir.join("agents")).unwrap();
    for (name, rt) in [("researcher", "remote"), ("sizer", "auto")] {
        std::fs::write(
            dir.join(format!("agents/{name}.yaml")),
            agent_yaml(name, rt),
        )
        .unwrap();
    }
    let (p, store) = common::console_pipeline(dir, common::default_settings());
    let p =
        p.with_runtime(url.map(|u| steward::runtime::Runtime::from_config(&runtime_config(u, 2))));
    (p, store)
}

fn ask(agent: &str, prompt: &str) -> RunRequest {
    RunRequest {
        agent: agent.into(),
        trigger: Trigger::Manual,
        actor: Actor::Console,
        input: prompt.into(),
        dedup_key: None,
        plan: vec![Effect::Ask {
            prompt: prompt.into(),
            json: false,
        }],
        forecast_usd: steward::spec::Usd(0),
    }
}

async fn detail(store: &Store, id: &str) -> runs::RunDetail {
    let id = id.to_string();
    store
        .read(move |c| Ok(runs::show(c, &id)?))
        .await
        .unwrap()
        .unwrap()
}

fn kinds(d: &runs::RunDetail) -> Vec<String> {
    d.journal.iter().map(|e| e.kind.clone()).collect()
}

#[tokio::test]
async fn a_remote_run_completes_and_its_verified_receipt_is_covered_by_ours() {
    let (lantern, url) = lantern::start();
    let dir = tempfile::tempdir().unwrap();
    let (p, store) = pipeline(dir.path(), Some(&url));
    let out = p
        .run(ask("researcher", "compare three flights"))
        .await
        .unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.reason);
    assert_eq!(lantern.created(), 1);
    let d = detail(&store, &out.run_id).await;
    assert!(
        matches!(d.plan[0], Effect::Forward { .. }),
        "routed: {:?}",
        d.plan
    );
    let k = kinds(&d);
    for want in ["runtime.forecast", "runtime.created", "runtime.verified"] {
        assert!(k.contains(&want.to_string()), "{want} in {k:?}");
    }
    let verified: Value = serde_json::from_str(
        &d.journal
            .iter()
            .find(|e| e.kind == "runtime.verified")
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(verified["receipt"]["payload"]["runId"], "lrun_1");
    assert_eq!(verified["verified"], true);
    // Our receipt names the remote run, its cost and tokens, and verifies.
    let r = d.receipt.unwrap();
    assert_eq!(r.payload["remoteRuns"][0]["runId"], "lrun_1");
    assert_eq!(
        r.payload["remoteRuns"][0]["signature"],
        verified["receipt"]["signature"]
    );
    assert_eq!(r.payload["costUsd"].as_f64(), Some(0.0123));
    assert_eq!(
        (
            r.payload["tokensIn"].as_i64(),
            r.payload["tokensOut"].as_i64()
        ),
        (Some(1500), Some(300))
    );
    assert_eq!(r.payload["model"], "claude-sonnet-4-5");
    steward::receipt::verify(&r, &p.verifying_key()).unwrap();
    // The token went by reference and never into the journal.
    assert_eq!(
        lantern.state.lock().unwrap().tokens[0],
        "Bearer lt-secret-9"
    );
    assert!(d.journal.iter().all(|e| !e.payload.contains("lt-secret-9")));
    // The remote cost is what the budget settled.
    let day = p.today();
    let spent: i64 = store
        .read(move |c| Ok(c.query_row("SELECT spent_micros FROM budget_usage WHERE scope = 'agent:researcher' AND day = ?1", [day], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(spent, 12_300);
}

#[tokio::test]
async fn refusals_failures_and_a_forged_receipt_never_end_succeeded() {
    let (lantern, url) = lantern::start();
    let dir = tempfile::tempdir().unwrap();
    let (p, store) = pipeline(dir.path(), Some(&url));

    let out = p.run(ask("researcher", "broke-forecast")).await.unwrap();
    assert_eq!(out.status, RunStatus::Refused);
    assert_eq!(
        out.reason.as_deref(),
        Some("the remote runtime refused the run: daily cap of $1.00 reached")
    );
    assert_eq!(
        lantern.create_attempts(),
        0,
        "a refused forecast creates nothing"
    );

    let out = p.run(ask("researcher", "broke-create")).await.unwrap();
    assert_eq!(out.status, RunStatus::Refused);
    assert!(out.reason.unwrap().contains("per-run cap"));

    // 500 on every attempt: retried, then failed.
    let before = lantern.create_attempts();
    let out = p.run(ask("researcher", "down")).await.unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.reason.unwrap().contains("HTTP 500"));
    assert_eq!(lantern.create_attempts() - before, 4, "retried 5xx");

    // A receipt signed by another key: the run fails, naming why.
    let out = p.run(ask("researcher", "forged")).await.unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    let reason = out.reason.unwrap();
    assert!(reason.contains("does not verify"), "{reason}");
    let d = detail(&store, &out.run_id).await;
    assert!(!kinds(&d).contains(&"runtime.verified".to_string()));

    // The remote run itself failed: so does ours.
    let out = p.run(ask("researcher", "fails")).await.unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.reason.unwrap().contains("ended failed"));

    // Never finishing: the deadline fails the run.
    let out = p.run(ask("researcher", "never")).await.unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.reason.unwrap().contains("still running after 2 s"));
}

#[tokio::test]
async fn a_spawn_storm_is_retried_and_creates_one_run() {
    let (lantern, url) = lantern::start();
    let dir = tempfile::tempdir().unwrap();
    let (p, _store) = pipeline(dir.path(), Some(&url));
    let out = p.run(ask("researcher", "storm")).await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.reason);
    assert_eq!((lantern.create_attempts(), lantern.created()), (2, 1));
}

#[tokio::test]
async fn auto_goes_remote_only_above_heavy_tokens_and_remote_needs_a_runtime() {
    let (lantern, url) = lantern::start();
    let dir = tempfile::tempdir().unwrap();
    let (p, store) = pipeline(dir.path(), Some(&url));
    // Small: stays local, where `reason` has no model → refused with the fix.
    let small = p.run(ask("sizer", "short question")).await.unwrap();
    assert_eq!(small.status, RunStatus::Refused);
    assert!(
        small
            .reason
            .unwrap()
            .contains("no model for capability `reason`")
    );
    assert_eq!(lantern.create_attempts(), 0);
    // Heavy (forecast > 1000 tokens): forwarded.
    let heavy = p.run(ask("sizer", &"x".repeat(8000))).await.unwrap();
    assert_eq!(heavy.status, RunStatus::Succeeded, "{:?}", heavy.reason);
    assert_eq!(lantern.created(), 1);
    let d = detail(&store, &heavy.run_id).await;
    assert!(matches!(d.plan[0], Effect::Forward { .. }));

    let dir = tempfile::tempdir().unwrap();
    let (p, _) = pipeline(dir.path(), None);
    let out = p.run(ask("researcher", "anything")).await.unwrap();
    assert_eq!(out.status, RunStatus::Refused);
    assert!(
        out.reason
            .unwrap()
            .contains("add `runtime: {url: …}` to steward.yaml"),
        "the refusal says how to fix it"
    );
}

fn configure(home: &TestHome, url: &str) {
    assert!(home.run(&["init"]).status.success());
    std::fs::create_dir_all(home.file("agents")).unwrap();
    std::fs::write(
        home.file("agents/researcher.yaml"),
        agent_yaml("researcher", "remote"),
    )
    .unwrap();
    let config = home.file("steward.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "runtime: {{url: \"{url}\", token: \"env:STEWARD_TEST_LANTERN_TOKEN\", pollMillis: 20}}\n"
    ));
    std::fs::write(&config, text).unwrap();
}

#[test]
fn agents_run_forwards_through_the_daemon_and_prints_the_run() {
    let (lantern, url) = lantern::start();
    let home = TestHome::new();
    configure(&home, &url);
    // doctor reaches the runtime and names its receipt key.
    let report = common::json(&home.run(&["doctor", "--json"]));
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "runtime")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "ok", "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains("receipt key"),
        "{check}"
    );
    let mut up = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    up.env("STEWARD_TEST_LANTERN_TOKEN", "lt-secret-9");
    let _d = common::start(up);
    let out = home
        .cmd(&[
            "agents",
            "run",
            "researcher",
            "--input",
            "plan my trip",
            "--json",
        ])
        .env("STEWARD_TEST_LANTERN_TOKEN", "lt-secret-9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let run = common::json(&out);
    assert_eq!(run["agent"], "researcher");
    assert_eq!(run["status"], "succeeded");
    assert_eq!(lantern.created(), 1);
    let id = run["id"].as_str().unwrap();
    let shown = common::json(&home.run(&["receipts", "show", id, "--json"]));
    assert_eq!(
        shown["payload"]["remoteRuns"][0]["runId"], "lrun_1",
        "{shown}"
    );
}

/// Crash at `point`, restart, and wait for the run to end; the runs list.
fn crash_and_resume(home: &TestHome, point: &str) -> Value {
    let mut cmd = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    cmd.env("STEWARD_FAULT", format!("crash-after:{point}"))
        .env("STEWARD_TEST_LANTERN_TOKEN", "lt-secret-9");
    let mut d = common::start(cmd);
    let run = home
        .cmd(&["agents", "run", "researcher", "--input", "a long report"])
        .output()
        .unwrap();
    assert!(!run.status.success(), "the daemon died mid-run");
    assert!(d.wait_for_exit(Duration::from_secs(10)).is_some());

    let mut cmd = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    cmd.env("STEWARD_TEST_LANTERN_TOKEN", "lt-secret-9");
    let _d = common::start(cmd);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let runs = common::json(&home.run(&["runs", "--json", "--agent", "researcher"]));
        if runs[0]["status"] != "running" || std::time::Instant::now() > deadline {
            return runs;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_crash_before_the_remote_id_is_journaled_finds_the_run_by_its_key() {
    let (lantern, url) = lantern::start();
    let home = TestHome::new();
    configure(&home, &url);
    let runs = crash_and_resume(&home, "runtime.answered");
    assert_eq!(runs[0]["status"], "succeeded", "{runs}");
    let s = lantern.state.lock().unwrap();
    assert!(s.lookups >= 1, "looked the run up before creating");
    assert_eq!((s.created, s.create_attempts), (1, 1));
}

#[test]
fn a_crash_between_create_and_poll_never_starts_the_remote_run_twice() {
    let (lantern, url) = lantern::start();
    let home = TestHome::new();
    configure(&home, &url);
    let runs = crash_and_resume(&home, "runtime.created");
    assert_eq!(runs[0]["status"], "succeeded", "{runs}");
    let s = lantern.state.lock().unwrap();
    assert_eq!(s.lookups, 0, "the journal knew the remote id");
    assert_eq!(
        (s.created, s.create_attempts),
        (1, 1),
        "created once, asked once"
    );
}

async fn chat_completions(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    axum::Json(serde_json::json!({
        "id": "c1", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "two things are due today" } }],
        "usage": { "prompt_tokens": 40, "completion_tokens": 8 },
    }))
}

#[test]
fn agents_run_a_fast_agent_against_an_openai_compatible_server_or_refuse_without_one() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::create_dir_all(home.file("agents")).unwrap();
    std::fs::write(
        home.file("agents/summarizer.yaml"),
        "name: summarizer\nrole: summary\ndescription: summarises for the owner\ntier: nano\ncapability: fast\naudience: owner\n",
    )
    .unwrap();
    // No model configured: refused, with the fix, exit 1.
    let out = home.run(&["agents", "run", "summarizer", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let run = common::json(&out);
    assert_eq!(run["status"], "refused");
    assert_eq!(
        run["reason"],
        "no model for capability `fast`: add one under `models:` in steward.yaml, then `steward restart` or send the daemon SIGHUP (a running daemon reads it at start)"
    );

    let url = lantern::serve_in_thread(axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(chat_completions),
    ));
    let config = home.file("steward.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{url}/v1\"}}\n  capabilities:\n    fast: [\"local/tiny\"]\n  prices:\n    \"local/tiny\": {{in: 1.0, out: 2.0}}\n"
    ));
    std::fs::write(&config, text).unwrap();
    let out = home.run(&["agents", "run", "summarizer", "--input", "what is due?"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains("two things are due today"));
    let id = common::stdout(&out).split(' ').next().unwrap().to_string();
    let r = common::json(&home.run(&["receipts", "show", &id, "--json"]));
    let p = &r["payload"];
    assert_eq!(
        (p["model"].as_str(), p["provider"].as_str()),
        (Some("tiny"), Some("local"))
    );
    assert_eq!(
        (p["tokensIn"].as_i64(), p["tokensOut"].as_i64()),
        (Some(40), Some(8))
    );
    // 40 × $1 + 8 × $2 per million tokens.
    assert_eq!(p["costUsd"].as_f64(), Some(0.000056));
}
