//! `GET|POST /v1/whatsapp/webhook`: Meta's webhook for the Cloud API. Open
//! (Meta holds no api-token) on the API listener and on `http.signalsListen`;
//! a POST must carry `X-Hub-Signature-256` over its raw body, checked before
//! the body is parsed, and may be at most `webhook::MAX_BODY` bytes.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{ApiError, AppState};
use crate::bridges::whatsapp::cloud::{WebhookError, webhook};

pub const PATH: &str = "/v1/whatsapp/webhook";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATH, get(verify).post(deliver))
        .layer(DefaultBodyLimit::max(webhook::MAX_BODY))
}

fn not_configured() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "WhatsApp is not configured here: add bridges.whatsapp (mode: cloud) to steward.yaml and restart",
    )
    .into_response()
}

/// Meta's subscription handshake: echo `hub.challenge` when `hub.verify_token` is ours.
async fn verify(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(hook) = state.whatsapp.as_deref() else {
        return not_configured();
    };
    let get = |k: &str| q.get(k).map(String::as_str);
    match hook.challenge(
        get("hub.mode"),
        get("hub.verify_token"),
        get("hub.challenge"),
    ) {
        Some(c) => (StatusCode::OK, c.to_string()).into_response(),
        None => ApiError::new(
            StatusCode::FORBIDDEN,
            "hub.verify_token does not match bridges.whatsapp.verifyToken",
        )
        .into_response(),
    }
}

async fn deliver(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(hook) = state.whatsapp.as_deref() else {
        return not_configured();
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    match hook.deliver(&body, signature).await {
        Ok(r) => (
            StatusCode::OK,
            axum::Json(
                serde_json::json!({"ok": true, "messages": r.messages, "statuses": r.statuses}),
            ),
        )
            .into_response(),
        Err(e @ WebhookError::Signature(_)) => {
            tracing::warn!(error = %e, "a WhatsApp webhook delivery was refused");
            ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()).into_response()
        }
        Err(e @ WebhookError::Malformed(_)) => {
            ApiError::new(StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        // Meta retries a 5xx: the messages are stored on a later delivery.
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}
