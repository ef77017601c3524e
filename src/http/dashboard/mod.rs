//! The dashboard (issue 16): server-rendered pages at `/` on the API's own
//! loopback listener. maud templates (checked at compile time), htmx as one
//! vendored file, live parts over Server-Sent Events, every page readable
//! without JavaScript.
//!
//! Who may look: a session cookie (HttpOnly, SameSite=Strict) from the
//! api-token typed once at `/login`, or from a one-time link `steward
//! dashboard` prints. Without one an HTML request is sent to the login page and
//! anything else gets 401. Every POST must carry the session's CSRF token in
//! its form body (checked here, before any handler runs) or it is refused 403.

mod agents;
mod approvals;
mod audit;
mod budgets;
mod channel_events;
mod channels;
mod layout;
mod live;
pub mod metrics;
mod people;
mod runs;
pub mod session;
#[cfg(feature = "whatsapp-web")]
mod whatsapp_link;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use super::AppState;
use crate::keys;
use session::{COOKIE, CSRF_FIELD, LOGIN_COOKIE};

pub use layout::assets_bytes;
pub use session::Sessions;

/// What the dashboard keeps between requests.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    pub sessions: Sessions,
    audit: audit::AuditCache,
}

/// Largest dashboard form body (an edited draft is at most a few KB).
const MAX_FORM: usize = 64 * 1024;

/// The dashboard's routes; pages need a session, login and assets do not.
pub fn routes(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(approvals::page))
        .route("/approvals/{id}/{action}", post(approvals::decide))
        .route("/activity", get(runs::activity))
        .route("/runs/{id}", get(runs::page))
        .route("/runs/{id}/verify", post(runs::verify))
        .route("/audit", get(audit::page).post(audit::full))
        .route("/budgets", get(budgets::page))
        .route("/people", get(people::list))
        .route("/people/{id}", get(people::show))
        .route("/people/{id}/{action}", post(people::change))
        .route("/agents", get(agents::page))
        .route("/agents/{name}/{action}", post(agents::act))
        .route("/channels", get(channels::page))
        .route("/channels/devices", post(channels::add))
        .route("/channels/devices/{id}/revoke", post(channels::revoke))
        .route("/channels/devices/{id}/shortcut", get(channels::shortcut))
        .route("/channels/whatsapp/link", post(link_whatsapp))
        .route("/events", get(live::events))
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(state, require_session));
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/once/{token}", get(login_link))
        .route("/assets/{name}", get(layout::asset))
        .merge(pages)
}

/// `POST /channels/whatsapp/link` (`whatsapp_link.rs`; without the
/// `whatsapp-web` feature there is no linked mode to link).
#[cfg(feature = "whatsapp-web")]
use whatsapp_link::start as link_whatsapp;

#[cfg(not(feature = "whatsapp-web"))]
async fn link_whatsapp() -> Response {
    layout::error(
        StatusCode::NOT_FOUND,
        "This Steward was built without the whatsapp-web feature",
        "rebuild with default features to link WhatsApp",
    )
}

/// The Channels page's WhatsApp link section, when the linked mode runs.
fn whatsapp_section(state: &AppState, csrf: &str) -> Option<maud::Markup> {
    #[cfg(feature = "whatsapp-web")]
    return whatsapp_link::section(state, csrf);
    #[cfg(not(feature = "whatsapp-web"))]
    {
        let _ = (state, csrf);
        None
    }
}

/// The link section's live HTML (`GET /events?parts=whatsapp-link`).
fn whatsapp_live(state: &AppState, csrf: &str) -> Option<maud::Markup> {
    #[cfg(feature = "whatsapp-web")]
    return whatsapp_link::live(state, csrf);
    #[cfg(not(feature = "whatsapp-web"))]
    {
        let _ = (state, csrf);
        None
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::cookie(h, name))
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The CSRF field of an urlencoded form body.
fn form_csrf(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v)
}

/// A session, and for a POST its CSRF token, before any page handler runs.
async fn require_session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let found = cookie_value(req.headers(), COOKIE).and_then(|id| state.dashboard.sessions.get(id));
    let Some(session) = found else {
        if wants_html(req.headers()) && req.method() == Method::GET {
            return Redirect::to("/login").into_response();
        }
        return layout::error(
            StatusCode::UNAUTHORIZED,
            "Not logged in",
            "open /login and type the api-token (in <home>/api-token), or run `steward dashboard` for a one-time link",
        );
    };
    let mut req = req;
    if req.method() == Method::POST {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
            return layout::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form is too large",
                "send at most 64 KB",
            );
        };
        let ok = form_csrf(&bytes)
            .is_some_and(|t| keys::constant_time_eq(t.as_bytes(), session.csrf.as_bytes()));
        if !ok {
            return csrf_refused();
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

fn csrf_refused() -> Response {
    layout::error(
        StatusCode::FORBIDDEN,
        "Refused: the form carried no valid CSRF token",
        "reload the page and submit the form again from the dashboard itself",
    )
}

/// What a store failure looks like on a page.
fn store_error(e: crate::store::StoreError) -> Response {
    layout::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("The store could not be read: {e}"),
        "run `steward doctor` and follow its fix",
    )
}

/// Answer with a new session cookie and go to the approvals.
fn logged_in(state: &AppState) -> Response {
    let id = match state.dashboard.sessions.start() {
        Ok(id) => id,
        Err(e) => {
            return layout::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
                "try again",
            );
        }
    };
    let mut resp = Redirect::to("/").into_response();
    let headers = resp.headers_mut();
    for value in [
        session::set_cookie(COOKIE, &id),
        session::clear_cookie(LOGIN_COOKIE),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// `GET /login`: the token form, with a login CSRF token in a cookie and the form.
async fn login_page() -> Response {
    login_form(StatusCode::OK, None)
}

fn login_form(status: StatusCode, problem: Option<&str>) -> Response {
    let Ok(nonce) = session::random_token() else {
        return layout::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No randomness",
            "try again",
        );
    };
    let body = layout::bare(
        "Log in",
        html! {
            h1 { "Steward" }
            @if let Some(p) = problem { p.bad role="alert" { (p) } }
            form method="post" action="/login" {
                (layout::csrf_field(&nonce))
                p {
                    label { "api-token " input type="password" name="token" autocomplete="current-password" autofocus required; }
                    " "
                    button.primary type="submit" { "Log in" }
                }
            }
            p.muted { "The token is in <home>/api-token. Or run " code { "steward dashboard" } " for a one-time link." }
        },
    );
    let mut resp = (
        status,
        layout::html_headers(),
        axum::response::Html(body.into_string()),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(LOGIN_COOKIE, &nonce)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /login`: the api-token typed once.
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let csrf_ok = match (field(CSRF_FIELD), cookie_value(&headers, LOGIN_COOKIE)) {
        (Some(a), Some(b)) => keys::constant_time_eq(a.as_bytes(), b.as_bytes()),
        _ => false,
    };
    if !csrf_ok {
        return csrf_refused();
    }
    match field("token") {
        Some(t) if state.token_matches(t.trim()) => logged_in(&state),
        _ => login_form(
            StatusCode::UNAUTHORIZED,
            Some("That is not this home's api-token: copy it from <home>/api-token."),
        ),
    }
}

/// `GET /login/once/{token}`: a link from `steward dashboard`, good once.
async fn login_link(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if state.dashboard.sessions.consume_link(&token) {
        logged_in(&state)
    } else {
        login_form(
            StatusCode::UNAUTHORIZED,
            Some(
                "That link was used already or expired: run `steward dashboard` for a new one, or type the api-token.",
            ),
        )
    }
}

/// `POST /logout`.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie_value(&headers, COOKIE) {
        state.dashboard.sessions.end(id);
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(COOKIE)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /v1/dashboard/link` (api-token): a one-time login path for `steward dashboard`.
pub async fn new_link(
    State(state): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, super::ApiError> {
    let token = state
        .dashboard
        .sessions
        .new_link()
        .map_err(|e| super::ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(axum::Json(serde_json::json!({
        "path": format!("/login/once/{token}"),
        "url": format!("http://{}/login/once/{token}", state.listen),
    })))
}
