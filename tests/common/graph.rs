//! A local stand-in for Meta's Graph API send endpoint, on 127.0.0.1,
//! speaking its wire format: `POST /{version}/{phoneNumberId}/messages` with
//! `Authorization: Bearer <token>` and the JSON body of a text message,
//! answering `{messaging_product, contacts: [{input, wa_id}], messages: [{id}]}`
//! or Graph's `{error: {message, type, code, error_data, fbtrace_id}}`.
//! Answers can be scripted (429 with Retry-After, 5xx) before the default
//! success; every request is recorded. Also builds signed webhook deliveries.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const TOKEN: &str = "graph-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const VERSION: &str = "v21.0";

/// A scripted answer: status, Retry-After, body.
pub type Answer = (u16, Option<u64>, Value);

#[derive(Clone, Default)]
struct Inner {
    /// Requests that reached the endpoint with the right token and path, in order.
    requests: Arc<Mutex<Vec<Value>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    /// Sends the double accepted (answered 200).
    accepted: Arc<Mutex<Vec<Value>>>,
}

pub struct Graph {
    pub url: String,
    inner: Inner,
}

impl Graph {
    pub fn start() -> Graph {
        let inner = Inner::default();
        let app = axum::Router::new()
            .route("/{version}/{phone}/messages", axum::routing::post(send))
            .route("/{version}/{phone}", axum::routing::get(number))
            .with_state(inner.clone());
        let url = super::lantern::serve_in_thread(app);
        Graph { url, inner }
    }

    /// Answer the next requests with these, in order, then succeed again.
    pub fn script(&self, answers: Vec<Answer>) {
        self.inner.script.lock().unwrap().extend(answers);
    }

    pub fn requests(&self) -> Vec<Value> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> Vec<Value> {
        self.inner.accepted.lock().unwrap().clone()
    }
}

/// Graph's error body.
pub fn error(code: i64, message: &str) -> Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message}, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}})
}

async fn send(
    State(s): State<Inner>,
    Path((version, phone)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(error(190, "Invalid OAuth access token.")),
        )
            .into_response();
    }
    if version != VERSION || phone != PHONE_NUMBER_ID {
        return (
            StatusCode::BAD_REQUEST,
            Json(error(100, "Unsupported post request.")),
        )
            .into_response();
    }
    s.requests.lock().unwrap().push(body.clone());
    if let Some((status, retry, answer)) = s.script.lock().unwrap().pop_front() {
        let mut resp = (StatusCode::from_u16(status).unwrap(), Json(answer)).into_response();
        if let Some(r) = retry {
            resp.headers_mut()
                .insert("retry-after", r.to_string().parse().unwrap());
        }
        return resp;
    }
    if body["messaging_product"] != "whatsapp"
        || body["type"] != "text"
        || !body["text"]["body"].is_string()
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(error(100, "Invalid parameter")),
        )
            .into_response();
    }
    let n = {
        let mut acc = s.accepted.lock().unwrap();
        acc.push(body.clone());
        acc.len()
    };
    let to = body["to"].as_str().unwrap_or_default().to_string();
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.HBgLMTUxMjU1NTEyMzQVAgARGBI{n:04}")}],
    }))
    .into_response()
}

/// `GET /{version}/{phoneNumberId}?fields=…`: the number's fields.
async fn number(Path((version, phone)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(error(190, "Invalid OAuth access token.")),
        )
            .into_response();
    }
    if version != VERSION || phone != PHONE_NUMBER_ID {
        return (
            StatusCode::BAD_REQUEST,
            Json(error(100, "Unsupported get request.")),
        )
            .into_response();
    }
    Json(json!({"display_phone_number": "+1 555-078-3881", "verified_name": "Priya Test", "id": PHONE_NUMBER_ID}))
        .into_response()
}

/// A webhook delivery as Meta sends it: one text message from `wa_id`.
pub fn inbound(wa_id: &str, name: &str, wamid: &str, text: &str, at_secs: i64) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                    "messages": [{"from": wa_id, "id": wamid, "timestamp": at_secs.to_string(),
                                  "type": "text", "text": {"body": text}}]
                }
            }]
        }]
    })
}

/// A status delivery for one of our messages.
pub fn status(wamid: &str, status: &str, to: &str, key: Option<&str>) -> Value {
    let mut s = json!({"id": wamid, "status": status, "timestamp": "1700000000", "recipient_id": to,
        "conversation": {"id": "c1", "origin": {"type": "service"}},
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "service"}});
    if let Some(k) = key {
        s["biz_opaque_callback_data"] = json!(k);
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                  "statuses": [s]}}]}]})
}
