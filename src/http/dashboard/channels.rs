//! Channels and devices: each bridge's health (connected, or what is wrong
//! with the fix), its last message, last send and a failed last send with the
//! bridge's error (`channel_events.rs`); and the phones that may send signals:
//! add (the secret shown once), revoke, and the iPhone Shortcuts for a device
//! as downloads (what `steward shortcuts build` writes, unsigned, secret asked
//! on import). With the linked WhatsApp, its link (`whatsapp_link.rs`).

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::channel_events::{LastEvents, last_events};
use super::layout::{self, csrf_field};
use super::session::Session;
use crate::http::AppState;
use crate::signals::{devices, shortcuts};

/// `GET /channels`.
pub async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Response {
    let health = state.pipeline.bridge_health();
    let channels: Vec<&'static str> = health.iter().map(|h| h.channel).collect();
    let listed = state
        .pipeline
        .store()
        .read(move |c| {
            let events = channels
                .iter()
                .map(|ch| last_events(c, ch))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((devices::list(c)?, events))
        })
        .await;
    let (list, events) = match listed {
        Ok(l) => l,
        Err(e) => return super::store_error(e),
    };
    let statuses = send_statuses(&state, &health).await;
    let tz = state.owner.tz();
    let recipes = shortcuts::recipes(state.home.root()).unwrap_or_default();
    let csrf = &session.csrf;
    let body = html! {
        h1 { "Channels" }
        (bridges_table(&health, &events, &statuses, &tz))
        @if let Some(wa) = super::whatsapp_section(&state, csrf) { (wa) }
        h2 { "Devices" }
        (devices_table(&list, &recipes, csrf, &tz))
        form.filters method="post" action="/channels/devices" {
            (csrf_field(csrf))
            input type="text" name="name" placeholder="device name, e.g. iphone" required maxlength="40";
            button type="submit" { "Add device" }
        }
    };
    layout::respond(layout::page("Channels", "/channels", csrf, body))
}

/// Each bridge's health, last message and last send (with how far a WhatsApp
/// send got), and the last failed send with its run.
fn bridges_table(
    health: &[crate::bridges::Health],
    events: &[LastEvents],
    statuses: &[Option<String>],
    tz: &jiff::tz::TimeZone,
) -> Markup {
    let when = |at: &Option<String>| {
        at.as_deref()
            .map_or("—".to_string(), |t| layout::local(t, tz))
    };
    html! {
    table {
        thead { tr { th { "channel" } th { "state" } th { "last message" } th { "last send" } th { "what to do" } } }
        tbody {
            @for ((h, ev), sent) in health.iter().zip(events).zip(statuses) {
                tr id={ "channel-" (h.channel) } {
                    td { (h.channel) }
                    td class=(if h.up { "ok" } else { "bad" }) { (if h.up { "connected" } else { "down" }) }
                    td.last-message { (when(&ev.message_at)) }
                    td.last-send {
                        (when(&ev.sent_at))
                        @if let Some(s) = sent { " " span.send-status.muted { "· " (s) } }
                    }
                    td {
                        (h.detail)
                        @if let Some(f) = &ev.failure {
                            p.bad.last-error {
                                "The last send failed " (layout::local(&f.at, tz)) ": " (f.error) " "
                                a href={ "/runs/" (f.run_id) } { "its run" }
                                " (a send that works clears this)."
                            }
                        }
                    }
                }
            }
        }
    }
    }
}

/// The phones that may send signals, each with its Shortcuts and Revoke.
fn devices_table(
    list: &[devices::Device],
    recipes: &[(String, shortcuts::Recipe)],
    csrf: &str,
    tz: &jiff::tz::TimeZone,
) -> Markup {
    html! {
    @if list.is_empty() { p.muted { "No phone sends signals yet." } }
    @else {
        table {
            thead { tr { th { "device" } th { "mode" } th { "added" } th { "" } } }
            tbody {
                @for d in list {
                    tr id={ "device-" (d.name) } {
                        td { (d.name) br; code.muted { (d.id) } }
                        td { (d.mode.as_str()) }
                        td { (layout::local(&d.created_at, tz)) }
                        td {
                            @if let Some(at) = &d.revoked_at {
                                span.bad { "revoked " (layout::local(at, tz)) }
                            } @else {
                                details {
                                    summary { "Shortcuts" }
                                    form method="get" action={ "/channels/devices/" (d.id) "/shortcut" } {
                                        label { "URL the phone reaches " input type="text" name="url" required placeholder="https://mac.your-tailnet.ts.net:7788"; }
                                        " "
                                        select name="recipe" {
                                            @for (stem, r) in recipes { option value=(stem) { (r.name) } }
                                        }
                                        " "
                                        button type="submit" { "Download" }
                                    }
                                }
                                form method="post" action={ "/channels/devices/" (d.id) "/revoke" } {
                                    (csrf_field(csrf))
                                    button type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    }
}

/// For each bridge whose ledger carries the platform's statuses (WhatsApp),
/// how far its newest send got: `sent`, `delivered`, `read`.
async fn send_statuses(state: &AppState, health: &[crate::bridges::Health]) -> Vec<Option<String>> {
    let ledgers: Vec<_> = health
        .iter()
        .map(|h| state.pipeline.bridges().status_ledger(h.channel))
        .collect();
    let n = ledgers.len();
    let read = tokio::task::spawn_blocking(move || {
        ledgers
            .iter()
            .map(|l| {
                let l = l.as_ref()?;
                crate::bridges::ledger::last_sent(l.path()).ok()??.1
            })
            .collect()
    });
    read.await.unwrap_or_else(|_| vec![None; n])
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    name: String,
}

/// `POST /channels/devices`: a new device; its secret is shown this once.
pub async fn add(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Form(form): Form<AddForm>,
) -> Response {
    let name = form.name.clone();
    let added = state
        .pipeline
        .store()
        .write(move |c| Ok(devices::add(c, &name, devices::Mode::Signed)))
        .await;
    let d = match added {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            return layout::error(
                StatusCode::BAD_REQUEST,
                &e.to_string(),
                "nothing was added; pick another name on Channels",
            );
        }
        Err(e) => return super::store_error(e),
    };
    let body = html! {
        h1 { "Device " (d.name) " added" }
        p { "Its secret, shown only now (the Shortcuts ask for it when imported):" }
        pre #secret { (d.secret) }
        p { "Device id " code { (d.id) } ". " a href="/channels" { "Back to Channels" } " for its Shortcuts." }
    };
    layout::respond(layout::page(
        "Device added",
        "/channels",
        &session.csrf,
        body,
    ))
}

/// `POST /channels/devices/{id}/revoke`.
pub async fn revoke(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let done = state
        .pipeline
        .store()
        .write(move |c| Ok(devices::revoke(c, &id)))
        .await;
    match done {
        Ok(Ok(())) => Redirect::to("/channels").into_response(),
        Ok(Err(e)) => layout::error(
            StatusCode::NOT_FOUND,
            &e.to_string(),
            "pick a device on Channels",
        ),
        Err(e) => super::store_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ShortcutQuery {
    url: String,
    recipe: String,
}

/// `GET /channels/devices/{id}/shortcut?url=&recipe=`: one `.shortcut` file.
pub async fn shortcut(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ShortcutQuery>,
) -> Response {
    let url = q.url.trim().trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return layout::error(
            StatusCode::BAD_REQUEST,
            "The URL must start with http:// or https://",
            "give the address the phone reaches this Mac at, e.g. https://mac.your-tailnet.ts.net:7788",
        );
    }
    let key = id.clone();
    let found = state
        .pipeline
        .store()
        .read(move |c| Ok(devices::list(c)?.into_iter().find(|d| d.id == key)))
        .await;
    match found {
        Ok(Some(d)) if d.revoked_at.is_none() => {}
        Ok(_) => {
            return layout::error(
                StatusCode::NOT_FOUND,
                "No such device, or it is revoked",
                "add a device on Channels",
            );
        }
        Err(e) => return super::store_error(e),
    }
    let recipes = shortcuts::recipes(state.home.root()).unwrap_or_default();
    let Some((_, recipe)) = recipes.iter().find(|(stem, _)| *stem == q.recipe) else {
        return layout::error(
            StatusCode::NOT_FOUND,
            "No such shortcut",
            "pick one from the list on Channels",
        );
    };
    let mut bytes = Vec::new();
    if let Err(e) = shortcuts::build(recipe, &id, &url, None).to_writer_binary(&mut bytes) {
        return layout::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
            "try again",
        );
    }
    let file = format!(
        "attachment; filename=\"{}.shortcut\"",
        recipe.name.replace('"', "")
    );
    let disposition =
        HeaderValue::from_str(&file).unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}
