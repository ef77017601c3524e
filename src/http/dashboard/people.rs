//! People: search, a person's handles across channels, recent messages and
//! facts; merge, split and forget, each behind a confirm step (the first POST
//! shows what will happen, only the second, with `confirmed=yes`, does it).
//! The same memory functions as `steward person merge|split|forget`.

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, csrf_field};
use super::session::Session;
use crate::http::AppState;
use crate::memory::{MemoryError, people, query};

/// People listed per page, most recently active first.
const LISTED: u32 = 25;
/// Recent messages on a person's page.
const RECENT: u32 = 20;

#[derive(Debug, Default, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// `GET /people?q=`.
pub async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(s): Query<Search>,
) -> Response {
    let q = s.q.trim().to_string();
    let canonical = (!q.is_empty()).then(|| state.owner.canon().canonicalize(&q).to_string());
    let search = (!q.is_empty()).then(|| q.clone());
    let loaded = state
        .pipeline
        .store()
        .read(move |c| {
            Ok(query::people_limited(
                c,
                search.as_deref(),
                canonical.as_deref(),
                LISTED,
            )?)
        })
        .await;
    let rows = match loaded {
        Ok(r) => r,
        Err(e) => return super::store_error(e),
    };
    let body = html! {
        h1 { "People" }
        form.filters method="get" action="/people" {
            input type="search" name="q" value=(q) placeholder="name, number or address";
            button type="submit" { "Search" }
        }
        @if rows.is_empty() { p.muted { "No one matches." } }
        @else {
            table {
                thead { tr { th { "name" } th { "handles" } th { "messages" } th { "last" } } }
                tbody {
                    @for p in &rows {
                        tr {
                            td { a href={ "/people/" (p.id) } { (p.name.as_deref().unwrap_or("(no name)")) } @if p.is_owner { " (you)" } }
                            td { (p.handles.join(", ")) }
                            td { (p.message_count) }
                            td.muted { (p.last_message_at.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    layout::respond(layout::page("People", "/people", &session.csrf, body))
}

fn not_found() -> Response {
    layout::error(
        StatusCode::NOT_FOUND,
        "No such person",
        "search for them on People",
    )
}

/// `GET /people/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let key = id.clone();
    let loaded = state
        .pipeline
        .store()
        .read(move |c| match query::show(c, &key, RECENT) {
            Ok(d) => Ok(Some(d)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await;
    let d = match loaded {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(),
        Err(e) => return super::store_error(e),
    };
    let csrf = &session.csrf;
    let name = d.name.clone().unwrap_or_else(|| "(no name)".into());
    let body = html! {
        h1 { (name) }
        p.muted { (d.message_count) " messages · id " code { (d.id) } }
        h2 { "Handles" }
        table {
            @for h in &d.handles {
                tr {
                    td { (h) }
                    td.actions {
                        form method="post" action={ "/people/" (d.id) "/split" } {
                            (csrf_field(csrf))
                            input type="hidden" name="handle" value=(h);
                            button type="submit" { "Split off…" }
                        }
                    }
                }
            }
        }
        h2 { "Facts" }
        @if d.facts.is_empty() { p.muted { "None yet." } }
        ul { @for f in &d.facts { li { (f.key) ": " (f.value) span.muted { " (" (f.source) ")" } } } }
        h2 { "Recent messages" }
        table {
            @for l in &d.recent {
                tr {
                    td.muted { (l.at) }
                    td { (if l.direction == "in" { "←" } else { "→" }) " " (l.channel) }
                    td { (l.text) }
                }
            }
        }
        h2 { "Change" }
        div.actions {
            form method="post" action={ "/people/" (d.id) "/merge" } {
                (csrf_field(csrf))
                input type="text" name="other" placeholder="merge in: name, handle or id" required;
                button type="submit" { "Merge…" }
            }
            form method="post" action={ "/people/" (d.id) "/forget" } {
                (csrf_field(csrf))
                button type="submit" { "Forget…" }
            }
        }
    };
    layout::respond(layout::page(&name, "/people", csrf, body))
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    confirmed: String,
    #[serde(default)]
    other: String,
    #[serde(default)]
    handle: String,
}

/// The confirm step: what `what` will do, and a form that does it.
fn ask(session: &Session, action: &str, question: Markup, form: &ChangeForm) -> Response {
    let body = html! {
        h1 { "Are you sure?" }
        p #question { (question) }
        div.actions {
            form method="post" action=(action) {
                (csrf_field(&session.csrf))
                input type="hidden" name="confirmed" value="yes";
                input type="hidden" name="other" value=(form.other);
                input type="hidden" name="handle" value=(form.handle);
                button.primary type="submit" { "Yes, do it" }
            }
            a href="/people" { "Cancel" }
        }
    };
    layout::respond(layout::page("Confirm", "/people", &session.csrf, body))
}

/// `POST /people/{id}/merge|split|forget`: asks first, acts on `confirmed=yes`.
pub async fn change(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path((id, what)): Path<(String, String)>,
    Form(form): Form<ChangeForm>,
) -> Response {
    let action = format!("/people/{id}/{what}");
    let canon = state.owner.canon().clone();
    let detail = {
        let key = id.clone();
        state
            .pipeline
            .store()
            .read(move |c| Ok(query::show(c, &key, 0).ok()))
            .await
    };
    let Ok(Some(d)) = detail else {
        return not_found();
    };
    let name = d.name.clone().unwrap_or_else(|| d.id.clone());
    if form.confirmed != "yes" {
        let question = match what.as_str() {
            "forget" => html! { "Forget " strong { (name) } " (" (d.handles.join(", ")) "): "
            (d.message_count) " messages and every fact, for good? Nothing else is touched." },
            "merge" => {
                html! { "Merge " strong { (form.other) } " into " strong { (name) } "? Their handles, messages and facts move here." }
            }
            "split" => {
                html! { "Split " strong { (form.handle) } " off " strong { (name) } " as a person of its own?" }
            }
            _ => return not_found(),
        };
        return ask(&session, &action, question, &form);
    }
    let (other, handle) = (form.other.clone(), form.handle.clone());
    let key = id.clone();
    let what2 = what.clone();
    let done = state
        .pipeline
        .store()
        .write(move |c| {
            let tx = c.transaction()?;
            let out: Result<String, MemoryError> = match what2.as_str() {
                "forget" => people::forget(&tx, &key).map(|f| {
                    format!(
                        "Forgot {}: {} handles, {} messages, {} facts deleted.",
                        f.id, f.handles, f.messages, f.facts
                    )
                }),
                "merge" => people::find(&tx, &other, &canon)
                    .and_then(|b| people::merge(&tx, &key, &b))
                    .map(|m| m.note.unwrap_or_else(|| "Merged.".into())),
                _ => people::split(&tx, &canon.canonicalize(&handle))
                    .map(|new| format!("Split off as person {new}.")),
            };
            if out.is_ok() {
                tx.commit()?;
            }
            Ok(out)
        })
        .await;
    match done {
        Ok(Ok(said)) => {
            let back = if what == "forget" {
                "/people".to_string()
            } else {
                format!("/people/{id}")
            };
            let body = html! {
                h1 { "Done" }
                p.notice role="status" { (said) }
                p { a href=(back) { "Back" } }
            };
            layout::respond(layout::page("Done", "/people", &session.csrf, body))
        }
        Ok(Err(e)) => layout::error(
            StatusCode::BAD_REQUEST,
            &e.to_string(),
            "nothing was changed; go back and pick another",
        ),
        Err(e) => super::store_error(e),
    }
}
