//! The owner's console over HTTP: `POST /v1/owner/messages {text}` → `{reply,
//! runId, kind}` (what `steward say` uses), and the parsed owner profile.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, AppState};
use crate::commands::{CommandError, OwnerMessage, Reply};
use crate::pipeline::Actor;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Said {
    text: String,
}

pub async fn message(
    State(state): State<AppState>,
    Json(body): Json<Said>,
) -> Result<Json<Reply>, ApiError> {
    // The token holder is the owner at the machine; the reply goes to the console.
    let msg = OwnerMessage {
        channel: crate::bridges::console::CHANNEL.to_string(),
        actor: Actor::Console,
        text: body.text,
    };
    match state.owner.handle(msg).await {
        Ok(reply) => Ok(Json(reply)),
        Err(e @ CommandError::BadText) => Err(ApiError(StatusCode::BAD_REQUEST, e.to_string())),
        Err(e @ CommandError::NotOwner(_)) => Err(ApiError(StatusCode::FORBIDDEN, e.to_string())),
        Err(CommandError::Pipeline(e)) => Err(e.into()),
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

pub async fn profile(State(state): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(&*state.owner.profile().get()).unwrap_or_default())
}
