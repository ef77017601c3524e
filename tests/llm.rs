//! Both wire protocols against local servers that speak them: success, tool
//! calls, JSON mode, 429 with Retry-After, 500 then success, timeouts,
//! malformed replies, missing usage, fallbacks, and the no-model refusal.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use steward::config::{ModelsConfig, ProviderConfig, ProviderKind, SecretRef};
use steward::llm::{ChatRequest, LlmError, Message, Role, Router, ToolSpec};

#[derive(Clone, Default)]
struct Server {
    calls: Arc<AtomicU32>,
    last: Arc<std::sync::Mutex<(HeaderMap, Value)>>,
}

async fn openai(State(s): State<Server>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let n = s.calls.fetch_add(1, Ordering::SeqCst);
    *s.last.lock().unwrap() = (headers, body.clone());
    let usage = json!({ "prompt_tokens": 12, "completion_tokens": 5, "prompt_tokens_details": { "cached_tokens": 2 } });
    let reply = |message: Value, usage: Option<Value>| {
        let mut v = json!({ "id": "c1", "model": format!("{}-2025", body["model"].as_str().unwrap()), "choices": [{ "index": 0, "message": message }] });
        if let Some(u) = usage {
            v["usage"] = u;
        }
        Json(v).into_response()
    };
    match body["model"].as_str().unwrap() {
        "ok" => reply(
            json!({ "role": "assistant", "content": "hello" }),
            Some(usage),
        ),
        "nousage" => reply(
            json!({ "role": "assistant", "content": "twelve chars" }),
            None,
        ),
        "tools" => reply(
            json!({ "role": "assistant", "content": null, "tool_calls": [{ "id": "t1", "type": "function", "function": { "name": "lookup", "arguments": "{\"who\":\"Ann\"}" } }] }),
            Some(usage),
        ),
        "json" => reply(
            json!({ "role": "assistant", "content": "{\"a\":1}" }),
            Some(usage),
        ),
        "junk-json" => reply(
            json!({ "role": "assistant", "content": "sure! here you go" }),
            Some(usage),
        ),
        "flaky-429" if n == 0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response(),
        "flaky-500" if n == 0 => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "flaky-429" | "flaky-500" => reply(
            json!({ "role": "assistant", "content": "recovered" }),
            Some(usage),
        ),
        "down" => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            reply(
                json!({ "role": "assistant", "content": "late" }),
                Some(usage),
            )
        }
        // Never answers: only a deadline ends the call.
        "never" => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        // Stops at the cap, as a server does when max_tokens runs out.
        "capped" => {
            let mut v = json!({ "id": "c1", "model": "capped", "choices": [{ "index": 0, "finish_reason": "length",
                "message": { "role": "assistant", "content": "{\"a\": \"unfinished" } }] });
            v["usage"] = json!({ "prompt_tokens": 3, "completion_tokens": body["max_tokens"] });
            Json(v).into_response()
        }
        "garbage" => (StatusCode::OK, "<html>not json</html>").into_response(),
        "unauthorized" => (StatusCode::UNAUTHORIZED, "{\"error\":\"bad key\"}").into_response(),
        other => panic!("unexpected model {other}"),
    }
}

async fn anthropic(
    State(s): State<Server>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    *s.last.lock().unwrap() = (headers, body.clone());
    let content = if body["tools"].is_array() {
        json!([{ "type": "tool_use", "id": "tu1", "name": "lookup", "input": { "who": "Ann" } }])
    } else {
        json!([{ "type": "text", "text": "{\"ok\":true}" }])
    };
    Json(json!({
        "id": "m1", "type": "message", "role": "assistant", "model": body["model"], "content": content,
        "usage": { "input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 50 }
    }))
    .into_response()
}

async fn start(server: Server) -> String {
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic))
        .with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn router(base: &str, caps: &[(&str, &[&str])]) -> Router {
    router_limited(base, caps, BTreeMap::new())
}

fn router_limited(
    base: &str,
    caps: &[(&str, &[&str])],
    limits: BTreeMap<String, steward::config::CallLimitsConfig>,
) -> Router {
    unsafe { std::env::set_var("STEWARD_TEST_LLM_KEY", "sk-test-123") };
    let mut providers = BTreeMap::new();
    let key = Some(SecretRef::Env("STEWARD_TEST_LLM_KEY".into()));
    providers.insert(
        "local".to_string(),
        ProviderConfig {
            kind: ProviderKind::Openai,
            base_url: format!("{base}/v1"),
            api_key: key.clone(),
            timeout_seconds: 1,
        },
    );
    providers.insert(
        "anthropic".to_string(),
        ProviderConfig {
            kind: ProviderKind::Anthropic,
            base_url: base.to_string(),
            api_key: key,
            timeout_seconds: 5,
        },
    );
    let capabilities = caps
        .iter()
        .map(|(c, l)| (c.to_string(), l.iter().map(|s| s.to_string()).collect()))
        .collect();
    Router::from_config(&ModelsConfig {
        providers,
        capabilities,
        prices: BTreeMap::new(),
        limits,
    })
    .unwrap()
}

/// An OpenAI-compatible provider at `base_url` without a key.
fn openai_at(base_url: String) -> ProviderConfig {
    ProviderConfig {
        kind: ProviderKind::Openai,
        base_url,
        api_key: None,
        timeout_seconds: 5,
    }
}

fn models(
    providers: Vec<(&str, ProviderConfig)>,
    caps: &[(&str, &[&str])],
    prices: BTreeMap<String, steward::config::Price>,
) -> Router {
    let providers = providers
        .into_iter()
        .map(|(n, p)| (n.to_string(), p))
        .collect();
    let capabilities = caps
        .iter()
        .map(|(c, l)| (c.to_string(), l.iter().map(|s| s.to_string()).collect()))
        .collect();
    Router::from_config(&ModelsConfig {
        providers,
        capabilities,
        prices,
        limits: BTreeMap::new(),
    })
    .unwrap()
}

/// A pipeline over a fresh store in `dir` (agents from `dir/agents` override), using `models`.
fn pipeline_in(
    dir: &std::path::Path,
    models: Router,
) -> (steward::pipeline::Pipeline, steward::store::Store) {
    let (pipeline, store) = common::console_pipeline(dir, common::default_settings());
    (pipeline.with_models(models), store)
}

/// A manual run of `agent` whose plan is one model question.
fn ask_run(agent: &str, prompt: &str, forecast_micros: i64) -> steward::pipeline::RunRequest {
    use steward::pipeline::{Actor, Effect, RunRequest, Trigger};
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
        forecast_usd: steward::spec::Usd(forecast_micros),
    }
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message {
                role: Role::System,
                content: "be brief".into(),
            },
            Message {
                role: Role::User,
                content: text.into(),
            },
        ],
        max_tokens: 64,
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn openai_compatible_success_tools_json_and_usage() {
    let server = Server::default();
    let base = start(server.clone()).await;
    let r = router(
        &base,
        &[
            ("fast", &["local/ok"]),
            ("tools", &["local/tools"]),
            ("json", &["local/json"]),
            ("junk", &["local/junk-json"]),
            ("nousage", &["local/nousage"]),
        ],
    );

    let mut req = ask("hi");
    req.idempotency_key = Some("run_1:0:1".into());
    let out = r.chat("fast", &req).await.unwrap();
    assert_eq!(out.text.as_deref(), Some("hello"));
    assert_eq!(
        (
            out.usage.input,
            out.usage.output,
            out.usage.cached,
            out.usage.estimated
        ),
        (12, 5, 2, false)
    );
    assert_eq!(
        (out.model.as_str(), out.provider.as_str()),
        ("ok-2025", "local")
    );
    let (headers, body) = server.last.lock().unwrap().clone();
    assert_eq!(headers["authorization"], "Bearer sk-test-123");
    assert_eq!(headers["idempotency-key"], "run_1:0:1");
    assert_eq!(body["messages"][0]["role"], "system");

    let mut tools = ask("who?");
    tools.tools = vec![ToolSpec {
        name: "lookup".into(),
        description: "find a person".into(),
        parameters: json!({ "type": "object" }),
    }];
    let out = r.chat("tools", &tools).await.unwrap();
    assert_eq!(out.tool_calls[0].name, "lookup");
    assert_eq!(out.tool_calls[0].arguments, json!({ "who": "Ann" }));
    assert_eq!(
        server.last.lock().unwrap().1["tools"][0]["function"]["name"],
        "lookup"
    );

    let mut j = ask("json please");
    j.json = true;
    assert_eq!(
        r.chat("json", &j).await.unwrap().text.as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(
        server.last.lock().unwrap().1["response_format"]["type"],
        "json_object"
    );
    let err = r.chat("junk", &j).await.unwrap_err();
    assert!(err.to_string().contains("not JSON"), "{err}");

    let est = r.chat("nousage", &ask("abcdefgh")).await.unwrap();
    assert!(est.usage.estimated);
    assert_eq!(est.usage.output, 3, "12 chars / 4");
}

#[tokio::test]
async fn retries_honour_retry_after_and_recover_from_500() {
    let server = Server::default();
    let base = start(server.clone()).await;
    let r = router(&base, &[("a", &["local/flaky-429"])]);
    let started = Instant::now();
    assert_eq!(
        r.chat("a", &ask("x")).await.unwrap().text.as_deref(),
        Some("recovered")
    );
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After: {:?}",
        started.elapsed()
    );
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);

    let server = Server::default();
    let base = start(server.clone()).await;
    let r = router(&base, &[("b", &["local/flaky-500"])]);
    assert_eq!(
        r.chat("b", &ask("x")).await.unwrap().text.as_deref(),
        Some("recovered")
    );
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn failures_are_typed_and_fall_back_in_order() {
    let server = Server::default();
    let base = start(server.clone()).await;
    let r = router(
        &base,
        &[
            ("slow", &["local/slow"]),
            ("garbage", &["local/garbage"]),
            ("auth", &["local/unauthorized"]),
            ("draft", &["local/down", "local/ok"]),
        ],
    );
    let err = r.chat("slow", &ask("x")).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Exhausted { last, .. } if matches!(**last, LlmError::Timeout { .. })),
        "{err}"
    );
    let err = r.chat("garbage", &ask("x")).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Exhausted { last, .. } if matches!(**last, LlmError::Malformed { .. })),
        "{err}"
    );
    // 401 is not retried, and the key never appears in the error.
    let before = server.calls.load(Ordering::SeqCst);
    let err = r.chat("auth", &ask("x")).await.unwrap_err();
    assert_eq!(server.calls.load(Ordering::SeqCst), before + 1);
    assert!(!err.to_string().contains("sk-test-123"), "{err}");
    // The first model is down after its retries; the second answers.
    assert_eq!(
        r.chat("draft", &ask("x")).await.unwrap().text.as_deref(),
        Some("hello")
    );
    // No model for a capability: the refusal says how to fix it.
    let err = r.chat("reason", &ask("x")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no model for capability `reason`: add one under `models:` in steward.yaml, then `steward restart` or send the daemon SIGHUP (a running daemon reads it at start)"
    );
}

#[tokio::test]
async fn anthropic_messages_protocol_and_cost() {
    let server = Server::default();
    let base = start(server.clone()).await;
    let r = router(&base, &[("draft", &["anthropic/claude-sonnet-4-5"])]);
    let mut req = ask("hi");
    req.json = true;
    let out = r.chat("draft", &req).await.unwrap();
    assert_eq!(out.text.as_deref(), Some("{\"ok\":true}"));
    assert_eq!(
        (out.usage.input, out.usage.cached, out.usage.output),
        (150, 50, 20)
    );
    // 100 × $3 + 50 × $0.30 + 20 × $15 per million, in micro-dollars.
    assert_eq!(out.cost_micros, 300 + 15 + 300);
    let (headers, body) = server.last.lock().unwrap().clone();
    assert_eq!(headers["x-api-key"], "sk-test-123");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert!(body["system"].as_str().unwrap().starts_with("be brief"));
    assert_eq!(
        body["messages"].as_array().unwrap().len(),
        1,
        "system goes in its own field"
    );

    let mut tools = ask("who?");
    tools.tools = vec![ToolSpec {
        name: "lookup".into(),
        description: "d".into(),
        parameters: json!({ "type": "object" }),
    }];
    let out = r.chat("draft", &tools).await.unwrap();
    assert_eq!(out.tool_calls[0].arguments, json!({ "who": "Ann" }));
    assert_eq!(
        server.last.lock().unwrap().1["tools"][0]["input_schema"]["type"],
        "object"
    );
}

#[tokio::test]
async fn an_ask_step_records_model_tokens_and_cost_in_the_receipt() {
    use steward::pipeline::{RunStatus, runs};

    let server = Server::default();
    let base = start(server.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut prices = BTreeMap::new();
    prices.insert(
        "local/ok".to_string(),
        steward::config::Price {
            input: 1.0,
            out: 2.0,
            cached_in: None,
        },
    );
    let router = models(
        vec![("local", openai_at(format!("{base}/v1")))],
        &[("fast", &["local/ok"])],
        prices,
    );
    let (pipeline, store) = pipeline_in(dir.path(), router);
    let ask = |agent: &str| ask_run(agent, "what is due today?", 1000);
    // concierge's capability is `fast`: configured.
    let out = pipeline.run(ask("concierge")).await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.reason);
    let id = out.run_id.clone();
    let receipt = store
        .read(move |c| Ok(runs::receipt(c, &id)?))
        .await
        .unwrap()
        .unwrap();
    let p = &receipt.payload;
    assert_eq!(
        (p["model"].as_str(), p["provider"].as_str()),
        (Some("ok-2025"), Some("local"))
    );
    assert_eq!(
        (p["tokensIn"].as_i64(), p["tokensOut"].as_i64()),
        (Some(12), Some(5))
    );
    // 12 input × $1 + 5 output × $2 per million = 22 micro-dollars.
    assert_eq!(p["costUsd"].as_f64(), Some(0.000022));
    assert_eq!(
        server.last.lock().unwrap().0["idempotency-key"]
            .to_str()
            .unwrap(),
        format!("{}:0:1", out.run_id)
    );
    // chief-of-staff needs `reason`, which is not configured: refused with the fix.
    let refused = pipeline.run(ask("chief-of-staff")).await.unwrap();
    assert_eq!(refused.status, RunStatus::Refused);
    assert_eq!(
        refused.reason.as_deref(),
        Some(
            "no model for capability `reason`: add one under `models:` in steward.yaml, then `steward restart` or send the daemon SIGHUP (a running daemon reads it at start)"
        )
    );
    // The budget was settled with the actual cost.
    let day = pipeline.today();
    let spent: i64 = store
        .read(move |c| Ok(c.query_row("SELECT spent_micros FROM budget_usage WHERE scope = 'agent:concierge' AND day = ?1", [day], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(spent, 22);
}

/// Against a real OpenAI-compatible server (llama.cpp's, Ollama, …) when one runs:
/// `STEWARD_TEST_LLM_URL=http://127.0.0.1:8080/v1 STEWARD_TEST_LLM_MODEL=x cargo test --test llm -- --ignored`.
#[tokio::test]
#[ignore = "needs a running model server: set STEWARD_TEST_LLM_URL (and STEWARD_TEST_LLM_MODEL)"]
async fn a_real_local_model_answers() {
    let url = std::env::var("STEWARD_TEST_LLM_URL").expect("STEWARD_TEST_LLM_URL");
    let model = std::env::var("STEWARD_TEST_LLM_MODEL").unwrap_or_else(|_| "local".into());
    let mut providers = BTreeMap::new();
    providers.insert(
        "real".to_string(),
        ProviderConfig {
            kind: ProviderKind::Openai,
            base_url: url,
            api_key: None,
            timeout_seconds: 120,
        },
    );
    let mut capabilities = BTreeMap::new();
    capabilities.insert("fast".to_string(), vec![format!("real/{model}")]);
    let r = Router::from_config(&ModelsConfig {
        providers,
        capabilities,
        prices: BTreeMap::new(),
        limits: BTreeMap::new(),
    })
    .unwrap();
    let out = r
        .chat("fast", &ask("Say hello in one word."))
        .await
        .unwrap();
    assert!(out.text.is_some_and(|t| !t.trim().is_empty()));
    assert!(out.usage.input > 0);
}

#[tokio::test]
async fn a_model_locked_agent_only_uses_local_providers() {
    use steward::pipeline::RunStatus;

    let server = Server::default();
    let base = start(server.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("agents")).unwrap();
    for (name, cap) in [("doc-reader", "fast"), ("doc-summary", "reason")] {
        std::fs::write(
            dir.path().join(format!("agents/{name}.yaml")),
            format!("name: {name}\nrole: documents\ndescription: reads owner documents\ntier: nano\ncapability: {cap}\naudience: owner\nmodelLock: local\n"),
        )
        .unwrap();
    }
    // "cloud" is never contacted: the lock skips it (and .invalid would not resolve anyway).
    let router = models(
        vec![
            (
                "cloud",
                openai_at("https://models.example.invalid/v1".into()),
            ),
            ("local", openai_at(format!("{base}/v1"))),
        ],
        &[
            ("fast", &["cloud/ok", "local/ok"]),
            ("reason", &["cloud/ok"]),
        ],
        BTreeMap::new(),
    );
    let (pipeline, _store) = pipeline_in(dir.path(), router);
    let ask = |agent: &str| ask_run(agent, "summarise my passport scan", 0);
    let ok = pipeline.run(ask("doc-reader")).await.unwrap();
    assert_eq!(ok.status, RunStatus::Succeeded, "{:?}", ok.reason);
    assert_eq!(
        server.calls.load(Ordering::SeqCst),
        1,
        "only the local model was called"
    );
    let refused = pipeline.run(ask("doc-summary")).await.unwrap();
    assert_eq!(refused.status, RunStatus::Refused);
    assert!(refused.reason.unwrap().contains("locked to local models"));
}

/// Issue 22: every call carries its capability's output cap (or the agent's,
/// or the caller's), and a draft carries its stop sequences, on both protocols.
#[tokio::test]
async fn every_call_carries_the_cap_of_its_use() {
    let server = Server::default();
    let base = start(server.clone()).await;
    let mut limits = BTreeMap::new();
    limits.insert(
        "fast".to_string(),
        steward::config::CallLimitsConfig {
            max_output_tokens: Some(99),
            ..Default::default()
        },
    );
    let r = router_limited(
        &base,
        &[
            ("draft", &["local/ok"]),
            ("fast", &["local/ok"]),
            ("reason", &["local/ok"]),
            ("mine", &["local/ok"]),
            ("cloud", &["anthropic/claude-sonnet-4-5"]),
        ],
        limits,
    );
    let mut uncapped = ask("hi");
    uncapped.max_tokens = 0;
    let sent = |cap: &'static str| {
        let r = &r;
        let req = uncapped.clone();
        let last = server.last.clone();
        async move {
            r.chat(cap, &req).await.unwrap();
            last.lock().unwrap().1.clone()
        }
    };
    let draft = sent("draft").await;
    assert_eq!(draft["max_tokens"], 160);
    assert!(
        draft["stop"]
            .as_array()
            .unwrap()
            .contains(&json!("\nthem:")),
        "{draft}"
    );
    assert_eq!(sent("fast").await["max_tokens"], 99, "models.limits wins");
    let reason = sent("reason").await;
    assert_eq!(reason["max_tokens"], 1024);
    assert!(reason.get("stop").is_none(), "no stops outside drafts");
    assert_eq!(sent("mine").await["max_tokens"], 512);
    let cloud = sent("cloud").await;
    assert_eq!(cloud["max_tokens"], 512);
    // A caller's own cap (an agent's maxOutputTokens) is sent as it is.
    r.chat("draft", &ask("hi")).await.unwrap();
    assert_eq!(server.last.lock().unwrap().1["max_tokens"], 64);
}

/// A reply cut at the cap is marked, and cut JSON says why it is not JSON.
#[tokio::test]
async fn a_reply_stopped_at_the_cap_is_marked() {
    let server = Server::default();
    let base = start(server.clone()).await;
    let r = router(&base, &[("fast", &["local/capped"])]);
    let out = r.chat("fast", &ask("x")).await.unwrap();
    assert!(out.truncated);
    assert_eq!(out.usage.output, 64);
    let mut j = ask("x");
    j.json = true;
    let err = r.chat("fast", &j).await.unwrap_err();
    assert!(err.to_string().contains("output cap"), "{err}");
}

fn never_router(base: &str) -> Router {
    let mut limits = BTreeMap::new();
    limits.insert(
        "fast".to_string(),
        steward::config::CallLimitsConfig {
            deadline_seconds: Some(1),
            ..Default::default()
        },
    );
    let providers = [("local".to_string(), openai_at(format!("{base}/v1")))]
        .into_iter()
        .collect();
    let capabilities = [("fast".to_string(), vec!["local/never".to_string()])]
        .into_iter()
        .collect();
    Router::from_config(&ModelsConfig {
        providers,
        capabilities,
        prices: BTreeMap::new(),
        limits,
    })
    .unwrap()
}

/// A model that never answers is cancelled at the capability's deadline, well
/// before the provider's own timeout (5 s here) and its retries would end it.
#[tokio::test]
async fn a_call_is_cancelled_at_its_deadline() {
    let server = Server::default();
    let base = start(server.clone()).await;
    let r = never_router(&base);
    let started = Instant::now();
    let err = r.chat("fast", &ask("x")).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, LlmError::Deadline { ref cap, seconds: 1 } if cap == "fast"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("models.limits.fast.deadlineSeconds")
    );
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    assert_eq!(server.calls.load(Ordering::SeqCst), 1, "no retry after it");

    // Through the pipeline: the run fails at the deadline with the fix, and
    // its worst case was reserved (cap × price) before the call.
    let dir = tempfile::tempdir().unwrap();
    let (pipeline, store) = pipeline_in(dir.path(), never_router(&base));
    let started = Instant::now();
    let out = pipeline
        .run(ask_run("concierge", "what is due today?", 0))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(out.status, steward::pipeline::RunStatus::Failed);
    assert!(
        out.reason.as_deref().unwrap().contains("within 1 s"),
        "{:?}",
        out.reason
    );
    let id = out.run_id.clone();
    let failed: String = store
        .read(move |c| {
            Ok(c.query_row(
                "SELECT payload FROM journal WHERE run_id = ?1 AND kind = 'model.failed'",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    let failed: Value = serde_json::from_str(&failed).unwrap();
    assert_eq!(failed["maxTokens"], 256, "{failed}");
}

/// The forecast knows the worst case before admission, and admission reserves it.
#[tokio::test]
async fn the_budget_reserves_the_worst_case() {
    let server = Server::default();
    let base = start(server.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("agents")).unwrap();
    std::fs::write(
        dir.path().join("agents/terse.yaml"),
        "name: terse\nrole: t\ndescription: d\ntier: nano\ncapability: fast\naudience: owner\nmaxOutputTokens: 40\n",
    )
    .unwrap();
    let mut prices = BTreeMap::new();
    prices.insert(
        "local/ok".to_string(),
        steward::config::Price {
            input: 1.0,
            out: 1000.0,
            cached_in: None,
        },
    );
    let router = models(
        vec![("local", openai_at(format!("{base}/v1")))],
        &[("fast", &["local/ok"])],
        prices,
    );
    let (pipeline, store) = pipeline_in(dir.path(), router);
    let f = pipeline.forecast("concierge", "abcd", 1).await.unwrap();
    assert_eq!((f.max_tokens_per_call, f.max_tokens_out), (256, 256));
    // 1 input token × $1 + 256 × $1000 per million.
    assert_eq!(f.worst_case_micros, 1 + 256_000);
    assert_eq!(f.deadline_seconds, Some(20));
    let f = pipeline.forecast("terse", "abcd", 2).await.unwrap();
    assert_eq!((f.max_tokens_per_call, f.max_tokens_out), (40, 80));

    let out = pipeline.run(ask_run("terse", "abcd", 0)).await.unwrap();
    assert_eq!(out.status, steward::pipeline::RunStatus::Succeeded);
    assert_eq!(server.last.lock().unwrap().1["max_tokens"], 40);
    let id = out.run_id.clone();
    let requested: String = store
        .read(move |c| {
            Ok(c.query_row(
                "SELECT payload FROM journal WHERE run_id = ?1 AND kind = 'run.requested'",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    let requested: Value = serde_json::from_str(&requested).unwrap();
    assert_eq!(requested["forecastUsd"], 0.040001, "{requested}");
}
