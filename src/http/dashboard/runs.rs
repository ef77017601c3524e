//! Activity (runs as they happen, filtered by agent, status and trigger) and a
//! run's own page: its gates, journal, cost and receipt, with a Verify button
//! that checks the receipt on the server exactly as `steward receipts verify`
//! does, and the public key shown so anyone can check it offline.

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, csrf_field, usd};
use super::session::Session;
use crate::http::AppState;
use crate::pipeline::runs::{self, RunDetail, RunFilter, RunSummary};
use crate::pipeline::{RunStatus, Trigger, verify};
use crate::receipt;

/// Rows on the Activity page.
pub const SHOWN: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct FilterQuery {
    #[serde(default)]
    pub agent: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub trigger: String,
}

impl FilterQuery {
    pub fn filter(&self) -> RunFilter {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        RunFilter {
            agent: some(&self.agent),
            status: some(&self.status),
            trigger: some(&self.trigger),
        }
    }
}

/// The live part: what `/events` sends as `runs`.
pub fn table(rows: &[RunSummary], tz: &jiff::tz::TimeZone) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { "No runs match." }
        } @else {
            table {
                thead { tr { th { "started" } th { "agent" } th { "trigger" } th { "status" } th { "cost" } th { "why" } } }
                tbody {
                    @for r in rows {
                        tr {
                            td { a href={ "/runs/" (r.id) } { (layout::local(&r.started_at, tz)) } }
                            td { (r.agent) }
                            td { (r.trigger) }
                            td class={ "status-" (r.status.as_str()) } { (r.status.as_str()) }
                            td { (usd(r.cost_usd)) }
                            td.muted { (r.reason.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

/// The Activity page's rows for `f`.
pub async fn load(
    state: &AppState,
    f: RunFilter,
) -> Result<Vec<RunSummary>, crate::store::StoreError> {
    state
        .pipeline
        .store()
        .read(move |c| Ok(runs::filtered(c, &f, SHOWN)?))
        .await
}

fn select(name: &str, label: &str, options: &[String], chosen: &str) -> Markup {
    html! {
        label {
            (label) " "
            select name=(name) {
                option value="" { "any" }
                @for o in options {
                    option value=(o) selected[o == chosen] { (o) }
                }
            }
        }
    }
}

/// `GET /activity?agent=&status=&trigger=`.
pub async fn activity(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<FilterQuery>,
) -> Response {
    let rows = match load(&state, q.filter()).await {
        Ok(v) => v,
        Err(e) => return super::store_error(e),
    };
    let agents: Vec<String> = state.pipeline.roster().specs.keys().cloned().collect();
    let statuses = [
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Succeeded,
        RunStatus::Refused,
        RunStatus::Failed,
        RunStatus::Expired,
    ]
    .map(|s| s.as_str().to_string());
    let triggers = [
        Trigger::Owner,
        Trigger::Contact,
        Trigger::Schedule,
        Trigger::Signal,
        Trigger::Manual,
    ]
    .map(|t| t.as_str().to_string());
    let body = html! {
        h1 { "Activity" }
        form.filters method="get" action="/activity" {
            (select("agent", "agent", &agents, &q.agent))
            (select("status", "status", &statuses, &q.status))
            (select("trigger", "trigger", &triggers, &q.trigger))
            button type="submit" { "Filter" }
        }
        div id="runs" data-live { (table(&rows, &state.owner.tz())) }
    };
    layout::respond(layout::page("Activity", "/activity", &session.csrf, body))
}

/// What the Verify button found.
enum Verified {
    NotAsked,
    Valid,
    Invalid(String),
    NoReceipt,
}

async fn detail(
    state: &AppState,
    id: &str,
    check: bool,
) -> Result<Option<(RunDetail, Verified)>, crate::store::StoreError> {
    let key = state.pipeline.verifying_key();
    let id = id.to_string();
    state
        .pipeline
        .store()
        .read(move |c| {
            let Some(d) = runs::show(c, &id)? else {
                return Ok(None);
            };
            let verified = match (&d.receipt, check) {
                (_, false) => Verified::NotAsked,
                (None, true) => Verified::NoReceipt,
                // The same check as `POST /v1/receipts/verify` for a known run:
                // the signature, the journal's hash and the audit entry.
                (Some(r), true) => match verify::check(c, &key, &id, r)? {
                    Ok(()) => Verified::Valid,
                    Err(e) => Verified::Invalid(e.to_string()),
                },
            };
            Ok(Some((d, verified)))
        })
        .await
}

/// `GET /runs/{id}`.
pub async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    show(&state, &session, &id, false).await
}

/// `POST /runs/{id}/verify`: the same page with the verification's answer.
pub async fn verify(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    show(&state, &session, &id, true).await
}

async fn show(state: &AppState, session: &Session, id: &str, check: bool) -> Response {
    let (d, verified) = match detail(state, id, check).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return layout::error(
                StatusCode::NOT_FOUND,
                "No such run",
                "pick a run from Activity",
            );
        }
        Err(e) => return super::store_error(e),
    };
    let key = receipt::public_key_b64(&state.pipeline.verifying_key());
    let body = html! {
        h1 { "Run " code { (d.summary.id) } }
        (summary(&d))
        h2 { "Gates" }
        (gates(&d))
        h2 { "Journal" }
        table {
            thead { tr { th { "#" } th { "event" } th { "detail" } } }
            tbody {
                @for e in &d.journal {
                    tr { td { (e.seq) } td { (e.kind) } td { code { (e.payload) } } }
                }
            }
        }
        h2 { "Receipt" }
        (receipt_part(&d, &verified, &key, &session.csrf, state.pipeline.fingerprint()))
    };
    layout::respond(layout::page("Run", "/activity", &session.csrf, body))
}

fn summary(d: &RunDetail) -> Markup {
    let s = &d.summary;
    html! {
        table {
            tr { th { "agent" } td { (s.agent) } }
            tr { th { "status" } td class={ "status-" (s.status.as_str()) } { (s.status.as_str()) } }
            @if let Some(r) = &s.reason { tr { th { "why" } td { (r) } } }
            tr { th { "trigger" } td { (s.trigger) " · " (d.actor) } }
            tr { th { "cost" } td { (usd(s.cost_usd)) } }
            tr { th { "started" } td { (s.started_at) } }
            tr { th { "finished" } td { (s.finished_at.as_deref().unwrap_or("not yet")) } }
        }
    }
}

/// Each gate's decision from the journal: why a run was let through or refused.
fn gates(d: &RunDetail) -> Markup {
    let rows: Vec<(String, String, String)> = d
        .journal
        .iter()
        .filter(|e| e.kind.starts_with("gate."))
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap_or_default();
            (
                v["gate"].as_str().unwrap_or(&e.kind[5..]).to_string(),
                v["decision"].as_str().unwrap_or("").to_string(),
                v["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    html! {
        @if rows.is_empty() { p.muted { "No gate decisions journaled." } }
        @else {
            table {
                @for (gate, decision, reason) in &rows {
                    tr {
                        td { (gate) }
                        td class=(if decision == "allow" { "ok" } else { "bad" }) { (decision) }
                        td { (reason) }
                    }
                }
            }
        }
    }
}

fn receipt_part(d: &RunDetail, v: &Verified, key: &str, csrf: &str, fingerprint: &str) -> Markup {
    html! {
        @match &d.receipt {
            None => p.muted { "No receipt yet: the run has not finished." },
            Some(r) => {
                form method="post" action={ "/runs/" (d.summary.id) "/verify" } {
                    (csrf_field(csrf))
                    button.primary type="submit" { "Verify" }
                }
                @match v {
                    Verified::Valid => p #verdict .ok { "✓ valid: the signature, the journal and the audit entry agree." },
                    Verified::Invalid(why) => p #verdict .bad { "✗ invalid: " (why) },
                    Verified::NoReceipt => p #verdict .bad { "✗ no receipt to verify" },
                    Verified::NotAsked => {},
                }
                pre { (serde_json::to_string_pretty(r).unwrap_or_default()) }
            }
        }
        p {
            "Public key (" (receipt::ALGORITHM) ", base64): " code #public-key { (key) }
            br;
            span.muted { "fingerprint " (fingerprint) "; also at " a href="/.well-known/steward-receipts" { "/.well-known/steward-receipts" } }
        }
    }
}
