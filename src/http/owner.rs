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
        Err(e @ CommandError::BadText) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
        }
        Err(e @ CommandError::NotOwner(_)) => {
            Err(ApiError::new(StatusCode::FORBIDDEN, e.to_string()))
        }
        Err(CommandError::Pipeline(e)) => Err(e.into()),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunAgent {
    #[serde(default)]
    input: String,
}

/// `POST /v1/agents/{name}/run {input?}`: one run now (what `steward agents run` uses).
pub async fn run_agent(
    State(state): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
    Json(body): Json<RunAgent>,
) -> Result<(StatusCode, Json<crate::pipeline::RunOutcome>), ApiError> {
    use crate::agents::scheduler::ScheduleError;
    match state.scheduler.run_now(&name, &body.input).await {
        Ok(out) => Ok((StatusCode::CREATED, Json(out))),
        Err(e @ ScheduleError::Unknown(_)) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(e @ ScheduleError::Needs { .. }) => {
            Err(ApiError::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(ScheduleError::Pipeline(e)) => Err(e.into()),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}

pub async fn profile(State(state): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(&*state.owner.profile().get()).unwrap_or_default())
}
