//! `POST /v1/telegram/webhook`: Telegram's updates in webhook mode. Not behind
//! the api-token (Telegram cannot send it): each post must carry the
//! configured secret in `X-Telegram-Bot-Api-Secret-Token`, compared in
//! constant time. An update is stored (with the offset) before the 200, so
//! Telegram retries anything the daemon did not keep.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState};

/// Telegram's updates are small; a message is at most 4,096 characters.
const MAX_UPDATE_BYTES: usize = 256 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/telegram/webhook", axum::routing::post(webhook))
        .layer(DefaultBodyLimit::max(MAX_UPDATE_BYTES))
}

async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(hook) = state.telegram.as_ref() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "no Telegram webhook here: set bridges.telegram.mode: webhook",
        )
        .into_response();
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !crate::keys::constant_time_eq(given, hook.secret.as_bytes()) {
        tracing::warn!("a Telegram webhook post with a missing or wrong secret was refused");
        return ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong secret token")
            .into_response();
    }
    let update: teloxide_core::types::Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("not a Telegram update: {e}"),
            )
            .into_response();
        }
    };
    match hook.intake.take(vec![update]).await {
        Ok(_) => axum::Json(json!({ "ok": true })).into_response(),
        // Not stored: Telegram posts it again.
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}
