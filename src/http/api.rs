//! The pipeline's JSON API: runs, receipts, confirmations, budget, audit.
//! Everything here sits behind the api-token, except the public receipt key.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::pipeline::{
    Actor, Decision, Effect, PipelineError, RunOutcome, RunRequest, Trigger, audit, budget,
    confirm, runs, verify,
};
use crate::receipt::{self, Receipt};
use crate::spec::Usd;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/runs", get(list_runs).post(start_run))
        .route("/v1/runs/{id}", get(show_run))
        .route("/v1/runs/{id}/receipt", get(run_receipt))
        .route("/v1/receipts/verify", post(verify_receipt))
        .route("/v1/confirmations", get(list_confirmations))
        .route("/v1/confirmations/{id}/approve", post(approve))
        .route("/v1/confirmations/{id}/edit", post(edit))
        .route("/v1/confirmations/{id}/reject", post(reject))
        .route("/v1/budget", get(budget_report))
        .route("/v1/audit/verify", get(audit_verify))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        let status = match &e {
            PipelineError::NoConfirmation(_) | PipelineError::NoRun(_) => StatusCode::NOT_FOUND,
            PipelineError::AlreadyDecided { .. } => StatusCode::CONFLICT,
            PipelineError::Expired(_) => StatusCode::GONE,
            PipelineError::NotOwner(_) => StatusCode::FORBIDDEN,
            PipelineError::BadEdit => StatusCode::BAD_REQUEST,
            PipelineError::Sealed(_) => StatusCode::SERVICE_UNAVAILABLE,
            PipelineError::KillSwitch => StatusCode::LOCKED,
            PipelineError::Store(_) | PipelineError::Anchor(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// `GET /.well-known/steward-receipts`: the public key receipts verify against.
pub async fn receipt_key(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "algorithm": receipt::ALGORITHM,
        "publicKey": receipt::public_key_b64(&state.pipeline.verifying_key()),
        "keyFingerprint": state.pipeline.fingerprint(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    agent: Option<String>,
    limit: Option<u32>,
}

async fn list_runs(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).min(1000);
    let rows = state
        .pipeline
        .store()
        .read(move |c| Ok(runs::list(c, q.agent.as_deref(), limit)?))
        .await
        .map_err(internal)?;
    Ok(Json(json!(rows)))
}

async fn show_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = id.clone();
    let detail = state
        .pipeline
        .store()
        .read(move |c| Ok(runs::show(c, &key)?))
        .await
        .map_err(internal)?;
    detail
        .map(|d| Json(json!(d)))
        .ok_or_else(|| PipelineError::NoRun(id).into())
}

async fn run_receipt(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Receipt>, ApiError> {
    let key = id.clone();
    state
        .pipeline
        .store()
        .read(move |c| Ok(runs::receipt(c, &key)?))
        .await
        .map_err(internal)?
        .map(Json)
        .ok_or_else(|| PipelineError::NoRun(id).into())
}

/// A manual run started by the token holder (the owner at this machine).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StartRun {
    agent: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    dedup_key: Option<String>,
    #[serde(default)]
    plan: Vec<Effect>,
    #[serde(default)]
    forecast_usd: Option<f64>,
}

async fn start_run(
    State(state): State<AppState>,
    Json(body): Json<StartRun>,
) -> Result<(StatusCode, Json<RunOutcome>), ApiError> {
    let forecast = match body.forecast_usd {
        None => Usd(0),
        Some(v) => Usd::try_from(v).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?,
    };
    let outcome = state
        .pipeline
        .run(RunRequest {
            agent: body.agent,
            trigger: Trigger::Manual,
            actor: Actor::Console,
            input: body.input,
            dedup_key: body.dedup_key,
            plan: body.plan,
            forecast_usd: forecast,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

async fn verify_receipt(
    State(state): State<AppState>,
    Json(r): Json<Receipt>,
) -> Result<Json<Value>, ApiError> {
    if !r.algorithm.eq_ignore_ascii_case(receipt::ALGORITHM) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("unknown algorithm {:?}", r.algorithm),
        ));
    }
    let key = state.pipeline.verifying_key();
    let run_id = r.payload["runId"].as_str().unwrap_or_default().to_string();
    let id = run_id.clone();
    let result = state
        .pipeline
        .store()
        .read(move |c| {
            // A known run is also checked against its journal and audit entry.
            if runs::load(c, &id)?.is_some() {
                Ok(verify::check(c, &key, &id, &r)?)
            } else {
                Ok(receipt::verify(&r, &key))
            }
        })
        .await
        .map_err(internal)?;
    Ok(Json(match result {
        Ok(()) => json!({ "valid": true, "runId": run_id }),
        Err(e) => json!({ "valid": false, "runId": run_id, "reason": e.to_string() }),
    }))
}

async fn list_confirmations(
    State(state): State<AppState>,
) -> Result<Json<Vec<confirm::Pending>>, ApiError> {
    state.pipeline.expire_due().await?;
    Ok(Json(
        state
            .pipeline
            .store()
            .read(|c| Ok(confirm::list_pending(c)?))
            .await
            .map_err(internal)?,
    ))
}

async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunOutcome>, ApiError> {
    Ok(Json(
        state
            .pipeline
            .decide(&id, Decision::Approved, None, &Actor::Console)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    text: String,
}

async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<EditBody>,
) -> Result<Json<RunOutcome>, ApiError> {
    Ok(Json(
        state
            .pipeline
            .decide(&id, Decision::Edited, Some(body.text), &Actor::Console)
            .await?,
    ))
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunOutcome>, ApiError> {
    Ok(Json(
        state
            .pipeline
            .decide(&id, Decision::Rejected, None, &Actor::Console)
            .await?,
    ))
}

async fn budget_report(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let specs: Vec<_> = state.pipeline.roster().specs.values().cloned().collect();
    let cap = state.pipeline.settings().global_cap;
    let day = state.pipeline.today();
    let report = state
        .pipeline
        .store()
        .read(move |c| {
            Ok(budget::report(
                c,
                &specs.iter().collect::<Vec<_>>(),
                cap,
                &day,
            )?)
        })
        .await
        .map_err(internal)?;
    Ok(Json(json!(report)))
}

async fn audit_verify(State(state): State<AppState>) -> Result<Json<audit::ChainReport>, ApiError> {
    Ok(Json(
        state
            .pipeline
            .store()
            .read(|c| Ok(audit::verify(c)?))
            .await
            .map_err(internal)?,
    ))
}
