//! The daemon's HTTP surface (axum).
//!
//! `GET /healthz` is open; every other route needs `Authorization: Bearer <api-token>`
//! (invariant 8). Routes answer JSON, errors included: `{"error": "...", "fix": "..."}`
//! (`errors.rs`), axum's own rejections too. Later issues add their routers under `/v1`.
//! The dashboard (`dashboard/`) serves HTML at `/` with its own session cookie,
//! and `GET /metrics` (Prometheus) behind the token.

mod api;
pub mod dashboard;
mod documents;
mod errors;
mod owner;
pub mod probe;
mod signals;
mod telegram;
mod whatsapp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

pub use errors::ApiError;

use crate::home::Home;
use crate::keys;
use crate::pipeline::Pipeline;
use crate::store::migrate;

/// Request bodies larger than this are refused with 413 unless a route says otherwise.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub home: Home,
    pub pipeline: Pipeline,
    pub owner: crate::commands::Owner,
    pub scheduler: crate::agents::scheduler::Scheduler,
    pub listen: SocketAddr,
    pub started: Instant,
    token: Arc<String>,
    signal_rate: signals::RateLimiter,
    /// Meta's webhook when `bridges.whatsapp` is configured.
    pub whatsapp: Option<Arc<crate::bridges::whatsapp::cloud::Webhook>>,
    /// The linked WhatsApp's link session (the Channels page's "Link WhatsApp").
    pub whatsapp_link: Option<crate::bridges::whatsapp::linked::Pairing>,
    /// Webhook mode's intake and secret (`POST /v1/telegram/webhook`).
    telegram: Option<crate::bridges::telegram::Webhook>,
    /// The dashboard's browser sessions and one-time login links.
    pub dashboard: dashboard::Shared,
    /// True once the daemon stops: long-lived answers (the dashboard's
    /// event stream) end so a clean stop does not wait for them.
    pub stopping: Option<tokio::sync::watch::Receiver<bool>>,
}

impl AppState {
    pub fn new(
        home: Home,
        pipeline: Pipeline,
        owner: crate::commands::Owner,
        scheduler: crate::agents::scheduler::Scheduler,
        listen: SocketAddr,
        token: String,
    ) -> Self {
        AppState {
            home,
            pipeline,
            owner,
            scheduler,
            listen,
            started: Instant::now(),
            token: Arc::new(token),
            signal_rate: signals::RateLimiter::default(),
            whatsapp: None,
            whatsapp_link: None,
            telegram: None,
            dashboard: dashboard::Shared::default(),
            stopping: None,
        }
    }

    /// End the dashboard's event streams when `stopping` turns true.
    pub fn with_stopping(mut self, stopping: tokio::sync::watch::Receiver<bool>) -> Self {
        self.stopping = Some(stopping);
        self
    }

    /// The api-token, compared in constant time (the dashboard's login form).
    pub fn token_matches(&self, presented: &str) -> bool {
        keys::constant_time_eq(presented.as_bytes(), self.token.as_bytes())
    }

    /// Serve Meta's WhatsApp webhook with `hook`.
    pub fn with_whatsapp(mut self, hook: Option<crate::bridges::whatsapp::cloud::Webhook>) -> Self {
        self.whatsapp = hook.map(Arc::new);
        self
    }
    /// Offer "Link WhatsApp" on the Channels page through `pairing`.
    pub fn with_whatsapp_link(
        mut self,
        pairing: Option<crate::bridges::whatsapp::linked::Pairing>,
    ) -> Self {
        self.whatsapp_link = pairing;
        self
    }

    /// Serve Telegram's webhook posts into this intake.
    pub fn with_telegram(mut self, hook: Option<crate::bridges::telegram::Webhook>) -> Self {
        self.telegram = hook;
        self
    }
}

pub fn router(state: AppState) -> Router {
    let api = api::routes()
        .route("/v1/status", get(status))
        .route("/v1/signals", get(signals::list))
        .route("/v1/presence", get(signals::presence_now))
        .route("/v1/owner/messages", axum::routing::post(owner::message))
        .route("/v1/owner/profile", get(owner::profile))
        .route(
            "/v1/agents/{name}/run",
            axum::routing::post(owner::run_agent),
        )
        .route(
            "/v1/dashboard/link",
            axum::routing::post(dashboard::new_link),
        )
        .route("/metrics", get(dashboard::metrics::metrics))
        .route(
            "/v1/documents/search",
            axum::routing::post(documents::search),
        )
        .route("/v1/documents/show", axum::routing::post(documents::show))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(phone_routes())
        .merge(telegram::routes())
        .route("/.well-known/steward-receipts", get(api::receipt_key))
        .merge(api)
        .merge(dashboard::routes(state.clone()))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(errors::json_errors))
        .with_state(state)
}

/// Phones authenticate per device, not with the api-token; 8 KB at most.
/// Meta's WhatsApp webhook is signed with the app secret instead.
fn phone_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/signals", axum::routing::post(signals::post))
        .layer(DefaultBodyLimit::max(crate::signals::signal::MAX_BODY))
        .merge(whatsapp::routes())
}

/// The phones-only listener (`http.signalsListen`): `POST /v1/signals` and
/// `/healthz`, nothing else, so a LAN or tailnet reaches no API route.
pub fn signals_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(phone_routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(errors::json_errors))
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "ok": true, "version": crate::VERSION }))
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
}

async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(t) if keys::constant_time_eq(t.as_bytes(), state.token.as_bytes()) => {
            next.run(req).await
        }
        _ => ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong api-token").into_response(),
    }
}

/// `GET /v1/status`: what the running daemon knows about itself.
#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonStatus {
    pub version: String,
    pub pid: u32,
    pub uptime_secs: u64,
    pub listen: String,
    pub schema_version: u32,
}

async fn status(State(state): State<AppState>) -> Result<Json<DaemonStatus>, ApiError> {
    let schema_version = state
        .pipeline
        .store()
        .read(migrate::current_version)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(DaemonStatus {
        version: crate::VERSION.to_string(),
        pid: std::process::id(),
        uptime_secs: state.started.elapsed().as_secs(),
        listen: state.listen.to_string(),
        schema_version,
    }))
}
