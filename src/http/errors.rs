//! Every API error is JSON `{"error": …, "fix": …}`.
//!
//! Handlers return [`ApiError`]. What they never see — axum's extractor
//! rejections (bad JSON 400, wrong shape 422, missing content type 415, body
//! over the limit 413, bad query 400) and the router's 405 — are plain text
//! from axum; [`json_errors`] rewrites any such response on the way out, so a
//! new route or extractor cannot bring plain text back.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Longest plain-text error body carried over into the JSON (axum's are short).
const MAX_TEXT: usize = 4096;

/// A JSON error body with a status and the fix.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub fix: String,
}

impl ApiError {
    /// An error whose fix is the usual one for its status.
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            fix: fix_for(status, "", None),
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.error, "fix": self.fix })),
        )
            .into_response()
    }
}

/// What a client does about `status` on `path`; `allow` is a 405's Allow header.
pub fn fix_for(status: StatusCode, path: &str, allow: Option<&str>) -> String {
    let limit = if path == "/v1/signals" {
        crate::signals::signal::MAX_BODY
    } else {
        super::MAX_BODY_BYTES
    };
    match status.as_u16() {
        400 => "send a well-formed request: a JSON body (or query) of the shape the route takes; the error names the position".into(),
        401 => "send `Authorization: Bearer <token>` with the token from <home>/api-token (or http.apiToken in steward.yaml)".into(),
        403 => "only the owner may do this".into(),
        404 => "check the path and the id (`steward runs --json` and `steward confirm list --json` list ids)".into(),
        405 => format!("use {}", allow.unwrap_or("another method")),
        409 => "it was already decided or used; fetch its current state".into(),
        410 => "it expired; start a new run".into(),
        413 => format!("send a body of at most {limit} bytes"),
        415 => "send the body as JSON with `Content-Type: application/json`".into(),
        422 => "fix the field the error names; unknown fields are refused".into(),
        423 => "the kill switch is on: turn it off from your self-chat before starting runs".into(),
        429 => "wait a minute, then retry".into(),
        503 => "run `steward doctor` and follow its auditChain fix".into(),
        _ => "see the daemon log in <home>/logs and run `steward doctor`".into(),
    }
}

/// Rewrite a non-JSON error response (an axum rejection, a 405) as `{error, fix}`.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // The dashboard's HTML error pages carry their own fix.
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = to_bytes(body, MAX_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let error = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let allow = parts
        .headers
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let fix = fix_for(status, &path, allow.as_deref());
    let body = serde_json::to_vec(&json!({ "error": error, "fix": fix })).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}
