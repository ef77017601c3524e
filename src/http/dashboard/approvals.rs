//! Approvals, the home page: the drafts waiting for the owner, live, with
//! Send / Edit / Drop. A decision here is the self-chat's own: it goes through
//! `Owner::answer_draft`, the path "1 send" takes, so one row sends once
//! however many times it is pressed.

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, csrf_field};
use super::session::Session;
use crate::commands::grammar::ItemAction;
use crate::commands::{OwnerMessage, views};
use crate::http::AppState;
use crate::pipeline::{Actor, confirm};

/// How many expired drafts stay visible (greyed) under the pending ones.
const EXPIRED_SHOWN: u32 = 5;

/// One draft as shown: the row and the contact's display name.
pub struct Row {
    pub pending: confirm::Pending,
    pub name: String,
}

/// The pending drafts and the last expired ones.
pub async fn load(state: &AppState) -> Result<(Vec<Row>, Vec<Row>), crate::store::StoreError> {
    let now = state.pipeline.now().as_millisecond();
    state
        .pipeline
        .store()
        .read(move |c| {
            // Drafts to one person repeat the name lookup (a handle scan): once each.
            let names = std::cell::RefCell::new(std::collections::HashMap::new());
            let named = |p: confirm::Pending| Row {
                name: names
                    .borrow_mut()
                    .entry((p.channel.clone(), p.to.clone()))
                    .or_insert_with(|| views::display_name(c, &p.channel, &p.to))
                    .clone(),
                pending: p,
            };
            let pending = views::pending(c, now)?.into_iter().map(&named).collect();
            let expired = confirm::recent_expired(c, EXPIRED_SHOWN)?
                .into_iter()
                .map(&named)
                .collect();
            Ok((pending, expired))
        })
        .await
}

/// The live part: what `/events` sends as `approvals`.
pub fn list(pending: &[Row], expired: &[Row], csrf: &str, tz: &jiff::tz::TimeZone) -> Markup {
    html! {
        @if pending.is_empty() {
            p.muted { "Nothing waits for you. Drafts to your contacts appear here as they are written." }
        }
        @for row in pending {
            (card(row, csrf, tz))
        }
        @if !expired.is_empty() {
            h2 { "Expired (never sent)" }
            @for row in expired {
                div.card.expired {
                    div.meta { "to " (row.name) " on " (row.pending.channel) " · expired " (layout::local(&row.pending.expires_at, tz)) }
                    div.draft { (row.pending.text) }
                }
            }
        }
    }
}

fn card(row: &Row, csrf: &str, tz: &jiff::tz::TimeZone) -> Markup {
    let p = &row.pending;
    let action = |what: &str| format!("/approvals/{}/{what}", p.id);
    html! {
        div.card id={ "c-" (p.id) } {
            div.meta {
                "to " strong { (row.name) } " on " (p.channel) " · by " (p.agent)
                " · expires " (layout::local(&p.expires_at, tz)) " · " a href={ "/runs/" (p.run_id) } { "run" }
            }
            div.draft { (p.text) }
            div.actions {
                form method="post" action=(action("send")) {
                    (csrf_field(csrf))
                    button.primary type="submit" { "Send" }
                }
                form method="post" action=(action("drop")) {
                    (csrf_field(csrf))
                    button type="submit" { "Drop" }
                }
                details {
                    summary { "Edit" }
                    form method="post" action=(action("edit")) {
                        (csrf_field(csrf))
                        textarea name="text" required { (p.text) }
                        button type="submit" { "Send edited" }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    notice: Option<String>,
}

/// `GET /`: the approvals page.
pub async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<Notice>,
) -> Response {
    let (pending, expired) = match load(&state).await {
        Ok(rows) => rows,
        Err(e) => return super::store_error(e),
    };
    let body = html! {
        h1 { "Approvals" }
        @if let Some(n) = &q.notice {
            p.notice role="status" { (n) }
        }
        div id="approvals" data-live { (list(&pending, &expired, &session.csrf, &state.owner.tz())) }
    };
    layout::respond(layout::page("Approvals", "/", &session.csrf, body))
}

#[derive(Debug, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    text: Option<String>,
}

/// `POST /approvals/{id}/send|edit|drop`: the self-chat's decision, then back
/// to the list with what happened.
pub async fn decide(
    State(state): State<AppState>,
    Path((id, what)): Path<(String, String)>,
    Form(form): Form<DecideForm>,
) -> Response {
    let action = match (what.as_str(), form.text) {
        ("send", _) => ItemAction::Send,
        ("drop", _) => ItemAction::No,
        ("edit", Some(t)) if !t.trim().is_empty() => ItemAction::Edit(t),
        ("edit", _) => {
            return layout::error(
                StatusCode::BAD_REQUEST,
                "An edit needs the new text",
                "type the text to send in the Edit box, or press Drop",
            );
        }
        _ => {
            return layout::error(
                StatusCode::NOT_FOUND,
                "No such action",
                "a draft takes send, edit or drop",
            );
        }
    };
    // The owner at this machine, as on the console and the token-guarded API.
    let msg = OwnerMessage {
        channel: crate::bridges::console::CHANNEL.to_string(),
        actor: Actor::Console,
        text: String::new(),
    };
    match state.owner.answer_draft(&id, action, &msg).await {
        Ok(said) => {
            let q = serde_urlencoded::to_string([("notice", said)]).unwrap_or_default();
            Redirect::to(&format!("/?{q}")).into_response()
        }
        Err(e) => layout::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("The decision was not recorded: {e}"),
            "run `steward doctor`, then try again from Approvals",
        ),
    }
}
