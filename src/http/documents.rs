//! `POST /v1/documents/search` and `POST /v1/documents/show`: `steward docs
//! search|show` against a running daemon. Each is an owner-triggered
//! `documents` run (`Pipeline::read_documents`), so the read is journaled and
//! audited with the files it named, as the self-chat's are. Behind the token:
//! whoever holds it is the owner at the machine.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::pipeline::{OwnerRead, RunOutcome, RunStatus};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    query: String,
    #[serde(default = "ten")]
    limit: u32,
}

fn ten() -> u32 {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowBody {
    path: String,
}

/// The run's result, or its refusal as an error with the reason.
fn finished(out: RunOutcome, result: Option<Value>) -> Result<Value, ApiError> {
    match (out.status, result) {
        (RunStatus::Succeeded, Some(r)) => Ok(r),
        (status, _) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the documents run {} ended {}: {}",
                out.run_id,
                status.as_str(),
                out.reason.unwrap_or_default()
            ),
        )
        .with_fix(format!("see `steward runs show {}`", out.run_id))),
    }
}

/// `{runId, hits: [{path, kind, snippet, score, modifiedAt}]}`.
pub async fn search(
    State(state): State<AppState>,
    Json(body): Json<SearchBody>,
) -> Result<Json<Value>, ApiError> {
    let read = OwnerRead::Search {
        query: body.query,
        limit: body.limit.clamp(1, 100),
    };
    let (out, result) = state.pipeline.read_documents(read).await?;
    let run_id = out.run_id.clone();
    let r = finished(out, result)?;
    Ok(Json(json!({ "runId": run_id, "hits": r["hits"] })))
}

/// `{runId, path, kind, text}`; 404 with the fix for a path not indexed.
pub async fn show(
    State(state): State<AppState>,
    Json(body): Json<ShowBody>,
) -> Result<Json<Value>, ApiError> {
    let read = OwnerRead::Show { path: body.path };
    let (out, result) = state.pipeline.read_documents(read).await?;
    let run_id = out.run_id.clone();
    let r = finished(out, result)?;
    if let Some(error) = r["error"].as_str() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, error)
            .with_fix("run `steward docs index`, or give the path `steward docs search` prints"));
    }
    Ok(Json(json!({
        "runId": run_id, "path": r["path"], "kind": r["kind"], "text": r["text"],
    })))
}
