//! A local stand-in for a Lantern-compatible agent runtime, speaking its wire
//! protocol on 127.0.0.1: forecast, create (idempotent on `Idempotency-Key`),
//! lookup by label, poll, receipt and the published key. The input text picks
//! the behaviour, so one server serves every case.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

#[derive(Default)]
pub struct State_ {
    /// Remote runs by id: (agent, input, key, polls so far).
    pub runs: HashMap<String, (String, String, String, u32)>,
    /// Every POST /v1/runs that reached the handler, accepted or not.
    pub create_attempts: u32,
    /// Runs actually created.
    pub created: u32,
    pub lookups: u32,
    pub tokens: Vec<String>,
}

#[derive(Clone)]
pub struct Lantern {
    pub state: Arc<Mutex<State_>>,
    key: Arc<SigningKey>,
}

impl Lantern {
    pub fn created(&self) -> u32 {
        self.state.lock().unwrap().created
    }
    pub fn create_attempts(&self) -> u32 {
        self.state.lock().unwrap().create_attempts
    }
}

fn refused(reason: &str) -> Response {
    (
        StatusCode::PAYMENT_REQUIRED,
        Json(json!({ "error": format!("agent budget limit reached: {reason}"), "reason": reason })),
    )
        .into_response()
}

fn run_json(id: &str, agent: &str, status: &str) -> Value {
    json!({
        "id": id, "tenantId": "t1", "agentId": format!("agent-{agent}"), "agentVersionId": "v1",
        "status": status, "costUsd": 0.0123, "tokensIn": 1500, "tokensOut": 300,
        "model": "claude-sonnet-4-5", "provider": "anthropic",
        "createdAt": "2026-11-22T06:00:00Z", "labels": {}, "output": { "text": format!("done: {agent}") },
    })
}

fn status_of(input: &str, polls: u32) -> &'static str {
    if input.contains("never") {
        "running"
    } else if input.contains("fails") {
        "failed"
    } else if polls == 0 {
        "running"
    } else {
        "succeeded"
    }
}

async fn forecast(State(l): State<Lantern>, headers: HeaderMap, Json(b): Json<Value>) -> Response {
    if let Some(t) = headers.get("authorization") {
        l.state
            .lock()
            .unwrap()
            .tokens
            .push(t.to_str().unwrap().to_string());
    }
    if b["input"]
        .as_str()
        .unwrap_or_default()
        .contains("broke-forecast")
    {
        return refused("daily cap of $1.00 reached");
    }
    Json(json!({ "estimatedCostUsd": 0.01, "confidence": 0.5 })).into_response()
}

async fn create(State(l): State<Lantern>, headers: HeaderMap, Json(b): Json<Value>) -> Response {
    let input = b["input"].as_str().unwrap_or_default().to_string();
    let agent = b["agentName"].as_str().unwrap_or_default().to_string();
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let mut s = l.state.lock().unwrap();
    s.create_attempts += 1;
    if input.contains("broke-create") {
        return refused("per-run cap");
    }
    if input.contains("down") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
    }
    if input.contains("storm") && s.create_attempts == 1 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            Json(json!({ "error": "spawn storm" })),
        )
            .into_response();
    }
    if !key.is_empty()
        && let Some((id, (a, _, _, _))) = s.runs.iter().find(|(_, r)| r.2 == key)
    {
        return (StatusCode::OK, Json(run_json(id, a, "running"))).into_response();
    }
    s.created += 1;
    let id = format!("lrun_{}", s.created);
    s.runs.insert(id.clone(), (agent.clone(), input, key, 0));
    (StatusCode::CREATED, Json(run_json(&id, &agent, "queued"))).into_response()
}

async fn list(State(l): State<Lantern>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut s = l.state.lock().unwrap();
    s.lookups += 1;
    let wanted = q
        .get("label")
        .and_then(|l| l.strip_prefix("stewardKey:"))
        .unwrap_or_default()
        .to_string();
    let found: Vec<Value> = s
        .runs
        .iter()
        .filter(|(_, r)| r.2 == wanted)
        .map(|(id, r)| run_json(id, &r.0, status_of(&r.1, r.3)))
        .collect();
    Json(Value::Array(found)).into_response()
}

async fn show(State(l): State<Lantern>, Path(id): Path<String>) -> Response {
    let mut s = l.state.lock().unwrap();
    let Some(run) = s.runs.get_mut(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such run" })),
        )
            .into_response();
    };
    let status = status_of(&run.1, run.3);
    run.3 += 1;
    Json(run_json(&id, &run.0, status)).into_response()
}

async fn receipt(State(l): State<Lantern>, Path(id): Path<String>) -> Response {
    let s = l.state.lock().unwrap();
    let Some((agent, input, _, _)) = s.runs.get(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such run" })),
        )
            .into_response();
    };
    let payload = json!({
        "agentName": agent, "costUsd": 0.0123, "issuedAt": "2026-11-22T06:00:01Z",
        "journalHash": "9f".repeat(32), "model": "claude-sonnet-4-5", "provider": "anthropic",
        "runId": id, "status": status_of(input, 1), "tenantId": "t1",
        "tokensIn": 1500, "tokensOut": 300, "version": 1,
    });
    // Canonical: compact with sorted keys (serde_json's map is ordered).
    let canonical = serde_json::to_string(&payload).unwrap();
    let signer = if input.contains("forged") {
        SigningKey::from_bytes(&[66u8; 32])
    } else {
        (*l.key).clone()
    };
    let signature = B64.encode(signer.sign(canonical.as_bytes()).to_bytes());
    Json(json!({ "payload": payload, "signature": signature, "algorithm": "ed25519" }))
        .into_response()
}

async fn well_known(State(l): State<Lantern>) -> Json<Value> {
    use sha2::Digest;
    let public = l.key.verifying_key().to_bytes();
    let fp = hex::encode(&sha2::Sha256::digest(public)[..8]);
    Json(json!({
        "algorithm": "ed25519", "publicKey": B64.encode(public), "keyFingerprint": fp, "docs": "https://example.invalid",
    }))
}

/// Start the double on its own thread and runtime (so blocking test code can
/// drive a daemon meanwhile); returns it and its base URL.
pub fn start() -> (Lantern, String) {
    let lantern = Lantern {
        state: Arc::default(),
        key: Arc::new(SigningKey::from_bytes(&[42u8; 32])),
    };
    let app = axum::Router::new()
        .route("/v1/runs/forecast", post(forecast))
        .route("/v1/runs", post(create).get(list))
        .route("/v1/runs/{id}", get(show))
        .route("/v1/runs/{id}/receipt", post(receipt))
        .route("/.well-known/lantern-receipts", get(well_known))
        .with_state(lantern.clone());
    let url = serve_in_thread(app);
    (lantern, url)
}

/// Serve `app` on 127.0.0.1:0 from a thread with its own runtime; the base URL.
pub fn serve_in_thread(app: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    format!("http://{addr}")
}
