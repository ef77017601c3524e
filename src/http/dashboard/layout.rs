//! The page shell every dashboard page shares (maud: templates checked at
//! compile time), the static assets compiled into the binary, and the HTML
//! error page.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// htmx 2, vendored as one file (`npm pack htmx.org@2`, dist/htmx.min.js).
const HTMX: &str = include_str!("../../../assets/dashboard/htmx.min.js");
const CSS: &str = include_str!("../../../assets/dashboard/dashboard.css");
/// The SSE glue: a few lines, so no second htmx extension file.
const LIVE: &str = include_str!("../../../assets/dashboard/live.js");

/// Only our own origin: no fonts, CDNs or inline scripts.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages in the header, in order: (path, title).
const NAV: &[(&str, &str)] = &[
    ("/", "Approvals"),
    ("/activity", "Activity"),
    ("/people", "People"),
    ("/budgets", "Budgets"),
    ("/agents", "Agents"),
    ("/channels", "Channels"),
    ("/audit", "Audit"),
];

/// A whole page: header with the page list, `body` under it.
pub fn page(title: &str, here: &str, csrf: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // The indicator styles htmx would inject inline are refused by the CSP.
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false}"#;
                title { (title) " · Steward" }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/htmx.min.js" defer {}
                script src="/assets/live.js" defer {}
            }
            body hx-boost="true" {
                header {
                    strong { "Steward" }
                    @for (path, name) in NAV {
                        a href=(path) class=[(*path == here).then_some("here")] { (name) }
                    }
                    form method="post" action="/logout" {
                        (csrf_field(csrf))
                        button type="submit" { "Log out" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name=(super::session::CSRF_FIELD) value=(csrf); }
}

/// A page outside the session (login, errors): no navigation.
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Steward" }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body { main { (body) } }
        }
    }
}

/// An HTML error with the fix, answered with `status`.
pub fn error(status: StatusCode, what: &str, fix: &str) -> Response {
    let body = bare(
        "Error",
        html! {
            h1 { (what) }
            p { (fix) }
            p { a href="/" { "Back to Approvals" } }
        },
    );
    (status, html_headers(), Html(body.into_string())).into_response()
}

/// Headers every HTML answer carries.
pub fn html_headers() -> [(header::HeaderName, HeaderValue); 3] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ]
}

/// An HTML page answer.
pub fn respond(body: Markup) -> Response {
    (html_headers(), Html(body.into_string())).into_response()
}

/// `GET /assets/{name}`: the three files compiled into the binary.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "live.js" => (LIVE, "text/javascript; charset=utf-8"),
        "dashboard.css" => (CSS, "text/css; charset=utf-8"),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "No such file",
                "the dashboard serves htmx.min.js, live.js and dashboard.css",
            );
        }
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The size of the static files, for the < 100 KB check.
pub fn assets_bytes() -> usize {
    HTMX.len() + CSS.len() + LIVE.len()
}

/// Money as the owner reads it.
pub fn usd(v: f64) -> String {
    format!("${v:.4}")
}

/// An RFC 3339 time as the owner reads it, in their zone ("Dec 01 23:39");
/// the raw text if it does not parse.
pub fn local(ts: &str, tz: &jiff::tz::TimeZone) -> String {
    match ts.parse::<jiff::Timestamp>() {
        Ok(t) => t.to_zoned(tz.clone()).strftime("%b %d %H:%M").to_string(),
        Err(_) => ts.to_string(),
    }
}
