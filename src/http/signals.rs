//! `POST /v1/signals` (device-authenticated, not the api-token) and
//! `GET /v1/signals` (api-token). A refused signal stores nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::keys::constant_time_eq;
use crate::signals::devices;
use crate::signals::signal::{self, Rejection, SignalBody, SignedBody, StoreSignalError};

/// Signals accepted per device per minute.
pub const RATE_PER_MINUTE: u32 = 60;

/// Sliding one-minute windows per device.
#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    seen: Arc<Mutex<HashMap<String, VecDeque<i64>>>>,
}

impl RateLimiter {
    fn allow(&self, device: &str, now_ms: i64) -> bool {
        let mut map = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.entry(device.to_string()).or_default();
        while q.front().is_some_and(|t| *t <= now_ms - 60_000) {
            q.pop_front();
        }
        if q.len() as u32 >= RATE_PER_MINUTE {
            return false;
        }
        q.push_back(now_ms);
        true
    }
}

fn refuse(r: Rejection) -> (StatusCode, Json<Value>) {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({ "error": r.to_string() })))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    match accept(&state, &headers, &body).await {
        Ok(id) => (StatusCode::OK, Json(json!({ "ok": true, "id": id }))),
        Err(r) => refuse(r),
    }
}

async fn accept(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<i64, Rejection> {
    let now = jiff::Timestamp::now().as_millisecond();
    let store = state.pipeline.store().clone();
    let internal = |e: crate::store::StoreError| {
        Rejection::Malformed(format!("could not store the signal: {e}"))
    };
    let (device, nonce, signal) = if let Some(device) = header(headers, "x-steward-device") {
        let signed: SignedBody = serde_json::from_slice(body)
            .map_err(|e| Rejection::Malformed(format!("body must be {{\"msg\",\"sig\"}}: {e}")))?;
        let id = device.to_string();
        let creds = store
            .read(move |c| Ok(devices::credentials(c, &id)?))
            .await
            .map_err(internal)?;
        let Some((secret, _, revoked)) = creds else {
            return Err(Rejection::Unauthorized("unknown device"));
        };
        if revoked {
            return Err(Rejection::Unauthorized("this device was revoked"));
        }
        let s = signal::verify_signed(&signed, device, &secret, now)?;
        (device.to_string(), Some(s.nonce), s.signal)
    } else if let Some(token) = header(headers, "x-steward-signal-token") {
        let candidates = store
            .read(|c| Ok(devices::token_devices(c)?))
            .await
            .map_err(internal)?;
        // Compare against every token device, in constant time each.
        let mut matched = None;
        for (id, secret) in candidates {
            if constant_time_eq(secret.as_bytes(), token.as_bytes()) {
                matched = Some(id);
            }
        }
        let Some(device) = matched else {
            return Err(Rejection::Unauthorized(
                "no token-mode device has this token (token mode is off unless a device was added with --token-mode)",
            ));
        };
        let parsed: SignalBody = serde_json::from_slice(body).map_err(|e| {
            Rejection::Malformed(format!(
                "body must be {{kind, app?, detail?, metric?, value?, ts?}}: {e}"
            ))
        })?;
        (device, None, parsed.into_signal(now)?)
    } else {
        return Err(Rejection::Unauthorized(
            "send X-Steward-Device with a signed {msg, sig} body, or x-steward-signal-token",
        ));
    };
    if !state.signal_rate.allow(&device, now) {
        return Err(Rejection::RateLimited(RATE_PER_MINUTE));
    }
    store
        .write(
            move |c| match signal::store(c, &device, nonce.as_deref(), &signal, now) {
                Ok(id) => Ok(Ok(id)),
                Err(StoreSignalError::Replay) => Ok(Err(Rejection::Replay)),
                Err(StoreSignalError::Sqlite(e)) => Err(e.into()),
            },
        )
        .await
        .map_err(internal)?
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).min(500);
    let rows = state
        .pipeline
        .store()
        .read(move |c| Ok(signal::list(c, limit)?))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!(rows)))
}
