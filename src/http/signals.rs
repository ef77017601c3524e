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
use crate::pipeline::{Actor, Effect, RunRequest, Trigger};
use crate::signals::signal::{self, Rejection, SignalBody, SignedBody, StoreSignalError};
use crate::signals::{devices, presence};
use crate::spec::Usd;

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
    let fix = match &r {
        Rejection::Malformed(_) => {
            "send the body the Shortcut builds ({msg, sig}, or {kind, …} in token mode)".to_string()
        }
        Rejection::Unauthorized(_) => {
            "add this phone with `steward devices add` and use the secret it shows".to_string()
        }
        Rejection::Replay => "send each signal with a fresh nonce".to_string(),
        Rejection::RateLimited(_) => super::errors::fix_for(status, "/v1/signals", None),
    };
    (status, Json(json!({ "error": r.to_string(), "fix": fix })))
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
        Ok((id, device, signal)) => {
            let fired = fire_nano_agents(&state, id, &device, &signal).await;
            tracing::info!(
                "signal {} from device {device}: {} run(s)",
                signal.kind,
                fired.len()
            );
            (
                StatusCode::OK,
                Json(json!({ "ok": true, "id": id, "runs": fired })),
            )
        }
        Err(r) => refuse(r),
    }
}

/// Signals wake nano agents through the pipeline. A drive starts when a driving
/// signal has no driving signal from the same device in the 10 minutes before
/// it; commute-copilot runs once per drive (deduplicated by the start signal).
async fn fire_nano_agents(
    state: &AppState,
    id: i64,
    device: &str,
    s: &signal::Signal,
) -> Vec<String> {
    let channel = state.pipeline.settings().owner_channel.clone();
    let notify = |agent: &str, key: String, text: String| RunRequest {
        agent: agent.into(),
        trigger: Trigger::Signal,
        actor: Actor::Device {
            id: device.to_string(),
        },
        input: serde_json::to_string(s).unwrap_or_default(),
        dedup_key: Some(key),
        plan: vec![Effect::NotifyOwner {
            channel: channel.clone(),
            text,
            regarding: None,
        }],
        forecast_usd: Usd(0),
    };
    let local = jiff::Timestamp::from_millisecond(s.ts)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(state.owner.tz());
    if let Some((agent, key, text)) = crate::agents::nano::health(s, &local, id) {
        return match state.pipeline.run(notify(agent, key, text)).await {
            Ok(out) => vec![out.run_id],
            Err(e) => {
                tracing::warn!(error = %e, "health-coach did not run");
                Vec::new()
            }
        };
    }
    if s.kind == "focus"
        && s.detail
            .as_deref()
            .is_some_and(|d| matches!(d.to_lowercase().as_str(), "off" | "available" | "none"))
    {
        // Heads-down ended: what was held goes out now (focus-guardian).
        return match state.scheduler.release_now().await {
            Ok(Some(out)) => vec![out.run_id],
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!(error = %e, "releasing held nudges failed");
                Vec::new()
            }
        };
    }
    if !presence::is_driving(s) {
        return Vec::new();
    }
    let since = s.ts - presence::DRIVING_FRESH_MS;
    let dev = device.to_string();
    let earlier = state
        .pipeline
        .store()
        .read(move |c| Ok(signal::since(c, since)?))
        .await
        .unwrap_or_default()
        .into_iter()
        .any(|(other, d, sig)| {
            other != id && d == dev && sig.ts <= s.ts && presence::is_driving(&sig)
        });
    if earlier {
        return Vec::new();
    }
    let open = state
        .pipeline
        .store()
        .read(|c| Ok(crate::commands::views::open_commitments(c, 20)?))
        .await
        .unwrap_or_default();
    let req = notify(
        "commute-copilot",
        format!("commute-copilot:drive:{id}"),
        crate::agents::nano::commute(&open),
    );
    match state.pipeline.run(req).await {
        Ok(out) => vec![out.run_id],
        Err(e) => {
            tracing::warn!(error = %e, "commute-copilot did not run");
            Vec::new()
        }
    }
}

async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(i64, String, signal::Signal), Rejection> {
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
    let (dev, sig) = (device.clone(), signal.clone());
    let id = store
        .write(
            move |c| match signal::store(c, &dev, nonce.as_deref(), &sig, now) {
                Ok(id) => Ok(Ok(id)),
                Err(StoreSignalError::Replay) => Ok(Err(Rejection::Replay)),
                Err(StoreSignalError::Sqlite(e)) => Err(e.into()),
            },
        )
        .await
        .map_err(internal)??;
    Ok((id, device, signal))
}

/// `GET /v1/presence`: availability (what contacts may hear), place (inner
/// circle only) and the owner's summary line.
pub async fn presence_now(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = jiff::Timestamp::now().as_millisecond();
    let since = now - presence::PLACE_FRESH_MS.max(presence::FOCUS_FRESH_MS);
    let rows = state
        .pipeline
        .store()
        .read(move |c| Ok(signal::since(c, since)?))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let signals: Vec<signal::Signal> = rows.into_iter().map(|(_, _, s)| s).collect();
    Ok(Json(json!({
        "availability": presence::availability(&signals, now),
        "place": presence::place(&signals, now),
        "summary": presence::owner_summary(&signals, now),
    })))
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
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!(rows)))
}
