//! The opt-in suite against a real model server (issue 22): a contact draft, an
//! owner turn, inbox-triage JSON and `agents create`, each finishing within its
//! deadline with its output cap respected. Every test is ignored unless asked for:
//!
//!   scripts/local-model.sh test
//!
//! or, against a server already running (llama.cpp's, Ollama, …):
//!
//!   STEWARD_TEST_LLM_URL=http://127.0.0.1:8091/v1 STEWARD_TEST_LLM_MODEL=smollm2 \
//!     cargo test --test llm_real -- --ignored --test-threads 1 --nocapture
//!
//! A timing proxy on 127.0.0.1 sits between Steward and the server, so each test
//! prints p50 latency, tokens/s and the share of time spent in the model.

mod assistant_rig;
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use steward::assistant::Outcome;
use steward::pipeline::{Actor, Effect, RunRequest, RunStatus, Trigger};

use assistant_rig::*;

/// One call through the proxy: what was asked and what it cost.
#[derive(Debug, Clone)]
struct Call {
    max_tokens: u64,
    tokens_out: u64,
    ms: f64,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    calls: Arc<Mutex<Vec<Call>>>,
}

async fn forward(State(p): State<Proxy>, Json(body): Json<Value>) -> Json<Value> {
    let started = Instant::now();
    let reply: Value = p
        .http
        .post(format!("{}/chat/completions", p.upstream))
        .json(&body)
        .send()
        .await
        .expect("the model server answers")
        .json()
        .await
        .expect("the model server sends JSON");
    p.calls.lock().unwrap().push(Call {
        max_tokens: body["max_tokens"].as_u64().unwrap_or(0),
        tokens_out: reply["usage"]["completion_tokens"].as_u64().unwrap_or(0),
        ms: started.elapsed().as_secs_f64() * 1e3,
    });
    Json(reply)
}

fn server() -> (String, String) {
    let url = std::env::var("STEWARD_TEST_LLM_URL").expect("STEWARD_TEST_LLM_URL");
    let model = std::env::var("STEWARD_TEST_LLM_MODEL").unwrap_or_else(|_| "local".into());
    (url.trim_end_matches('/').to_string(), model)
}

/// The proxy's base URL (without `/v1`) and its call log.
fn proxy() -> (String, Arc<Mutex<Vec<Call>>>, String) {
    let (upstream, model) = server();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let state = Proxy {
        upstream,
        http: steward::tls::http_client().build().unwrap(),
        calls: calls.clone(),
    };
    let url = common::lantern::serve_in_thread(
        axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(forward))
            .with_state(state),
    );
    (url, calls, model)
}

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Print the figures and check every call kept to `cap`.
fn report(what: &str, totals: Vec<f64>, calls: &[Call], cap: u64) {
    for c in calls {
        assert_eq!(c.max_tokens, cap, "{what}: the request carries the cap");
        assert!(c.tokens_out <= cap, "{what}: {} > {cap}", c.tokens_out);
    }
    let model_ms: f64 = calls.iter().map(|c| c.ms).sum();
    let out: u64 = calls.iter().map(|c| c.tokens_out).sum();
    let total: f64 = totals.iter().sum();
    println!(
        "{what}: n={} p50 {:.0} ms, max {:.0} ms; {} model calls, {:.1} tokens out each, {:.1} tokens/s; model {:.0}% of the time, Steward {:.0}%",
        totals.len(),
        p50(totals.clone()),
        totals.iter().cloned().fold(0.0, f64::max),
        calls.len(),
        out as f64 / calls.len().max(1) as f64,
        out as f64 / (model_ms / 1e3).max(1e-9),
        100.0 * model_ms / total,
        100.0 * (total - model_ms) / total,
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a model server: scripts/local-model.sh test"]
async fn a_contact_draft_within_its_deadline_and_cap() {
    let (url, calls, model) = proxy();
    let mut r = rig_on(
        Some(url),
        Duration::from_secs(1800),
        never_quiet(),
        &[("draft", &model)],
        Default::default(),
    );
    let messages = [
        "hey are we still on for dinner friday at 7?",
        "did you get my email about the trip?",
        "can you grab milk on the way home",
        "lol that movie was so bad",
        "what time is the game tomorrow",
    ];
    let mut totals = Vec::new();
    let mut drafted = 0;
    for text in messages {
        let started = Instant::now();
        let out = r.contact(text).await;
        let took = started.elapsed();
        totals.push(took.as_secs_f64() * 1e3);
        // A guard may refuse a tiny model's draft; it must never time out.
        match &out {
            Outcome::Drafted { .. } => drafted += 1,
            Outcome::NoDraft { why } => assert!(!why.contains("did not finish"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(took < Duration::from_secs(2 * 30 + 5), "{took:?}");
    }
    println!("drafts proposed: {drafted} of {}", messages.len());
    report(
        "contact → confirmation",
        totals,
        &calls.lock().unwrap(),
        160,
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a model server: scripts/local-model.sh test"]
async fn an_owner_turn_within_its_deadline_and_cap() {
    let (url, calls, model) = proxy();
    let r = rig_on(
        Some(url),
        Duration::from_secs(1800),
        never_quiet(),
        &[("draft", &model), ("reason", &model)],
        Default::default(),
    );
    let mut totals = Vec::new();
    for text in [
        "what should I focus on today?",
        "who should I call this week?",
        "summarise my day in one line",
    ] {
        let started = Instant::now();
        let reply = r.say(text).await;
        let took = started.elapsed();
        totals.push(took.as_secs_f64() * 1e3);
        assert!(!reply.contains("did not finish"), "{reply}");
        assert!(
            reply.chars().count() <= steward::pipeline::trim::readable_chars("console"),
            "{reply}"
        );
        assert!(took < Duration::from_secs(65), "{took:?}");
    }
    report("owner turn", totals, &calls.lock().unwrap(), 400);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a model server: scripts/local-model.sh test"]
async fn inbox_triage_json_within_its_deadline_and_cap() {
    let (url, calls, model) = proxy();
    let dir = tempfile::tempdir().unwrap();
    let (pipeline, _store) = common::console_pipeline(dir.path(), common::default_settings());
    let pipeline = pipeline.with_models(common::openai_router_for(&url, &[("fast", &model)], 120));
    let prompt = "You triage the owner's email. Answer with one JSON object and nothing else:\n\
        {\"category\": \"action\"|\"fyi\"|\"noise\", \"reason\": \"<one short sentence>\", \"replyTo\": null, \
        \"replySubject\": null, \"replyBody\": null}\n<<<MAIL\nFrom: ann@example.com\nSubject: Friday\n\n\
        Can you confirm dinner on Friday at 7?\nMAIL>>>";
    let started = Instant::now();
    let out = pipeline
        .run(RunRequest {
            agent: "inbox-triage".into(),
            trigger: Trigger::Manual,
            actor: Actor::Console,
            input: json!({ "messageId": "<m1@example.com>" }).to_string(),
            dedup_key: None,
            plan: vec![Effect::Ask {
                prompt: prompt.into(),
                json: true,
            }],
            forecast_usd: steward::spec::Usd(0),
        })
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.reason);
    assert!(took < Duration::from_secs(20), "{took:?}");
    report(
        "inbox-triage JSON",
        vec![took.as_secs_f64() * 1e3],
        &calls.lock().unwrap(),
        384,
    );
}

#[test]
#[ignore = "needs a model server: scripts/local-model.sh test"]
fn agents_create_within_its_deadline() {
    let (url, model) = server();
    let base = url.trim_end_matches("/v1");
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let config = home.file("steward.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{base}/v1\", timeoutSeconds: 120}}\n  capabilities:\n    reason: [\"local/{model}\"]\n"
    ));
    std::fs::write(&config, text).unwrap();
    let started = Instant::now();
    let out = home.run_for(
        &[
            "agents",
            "create",
            "--prompt",
            "water the plants on sundays",
        ],
        Duration::from_secs(90),
    );
    let took = started.elapsed();
    let err = common::stderr(&out);
    // A tiny model may write a manifest that is not a valid spec: that is a
    // clean refusal. What may not happen is running past the deadline.
    assert!(!err.contains("did not finish"), "{err}");
    assert!(took < Duration::from_secs(65), "{took:?}");
    let db = rusqlite::Connection::open(home.file("steward.db")).unwrap();
    let out_tokens: i64 = db
        .query_row(
            "SELECT tokens_out FROM runs WHERE agent = 'chief-of-staff'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(out_tokens <= 400, "{out_tokens}");
    println!(
        "agents create: {:.0} ms, {out_tokens} tokens out, {}",
        took.as_secs_f64() * 1e3,
        if out.status.success() {
            "manifest written".to_string()
        } else {
            format!("refused: {}", err.trim())
        }
    );
}
