//! Agents: tier, schedule, next and last run, what each still needs; enable,
//! disable (the switch `steward agents enable|disable` sets) and run now (the
//! scheduler's `run_now`, as `POST /v1/agents/{name}/run`).

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{self, csrf_field};
use super::session::Session;
use crate::agents::scheduler::{self, ScheduleError};
use crate::agents::{cron, roster};
use crate::http::AppState;
use crate::pipeline::runs;

struct Row {
    name: String,
    tier: String,
    cron: Option<String>,
    next: Option<String>,
    last: Option<runs::RunSummary>,
    enabled: bool,
    needs: Option<String>,
}

/// `GET /agents`.
pub async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Response {
    let specs: Vec<_> = state.pipeline.roster().specs.values().cloned().collect();
    let tz = state.owner.tz();
    let now = state.pipeline.now();
    let loaded = state
        .pipeline
        .store()
        .read(move |c| {
            let mut rows = Vec::new();
            for spec in &specs {
                let (cron, _) = cron::effective(spec.tier, spec.cron.as_deref());
                let enabled = scheduler::enabled(c, spec)?;
                let needs = roster::needs(spec);
                let next = match (&cron, enabled && needs.is_none()) {
                    (Some(cr), true) => cr.next_after(now, &tz).map(|t| t.to_string()),
                    _ => None,
                };
                rows.push(Row {
                    name: spec.name.clone(),
                    tier: format!("{:?}", spec.tier).to_lowercase(),
                    cron: cron.map(|c| c.text),
                    next,
                    last: runs::last_of(c, &spec.name)?,
                    enabled,
                    needs,
                });
            }
            Ok(rows)
        })
        .await;
    let rows = match loaded {
        Ok(r) => r,
        Err(e) => return super::store_error(e),
    };
    let csrf = &session.csrf;
    let body = html! {
        h1 { "Agents" }
        table {
            thead { tr { th { "agent" } th { "tier" } th { "schedule" } th { "next" } th { "last" } th { "" } } }
            tbody {
                @for r in &rows {
                    tr id={ "agent-" (r.name) } {
                        td { strong { (r.name) } @if let Some(n) = &r.needs { br; span.bad { "needs: " } span.muted { (n) } } }
                        td { (r.tier) }
                        td { (r.cron.as_deref().unwrap_or("on signals and messages")) }
                        td { (r.next.as_deref().unwrap_or(if r.enabled { "—" } else { "off" })) }
                        td {
                            @if let Some(l) = &r.last {
                                a href={ "/runs/" (l.id) } class={ "status-" (l.status.as_str()) } { (l.status.as_str()) } br;
                                span.muted { (l.started_at) }
                            } @else { span.muted { "never" } }
                        }
                        td.actions {
                            form method="post" action={ "/agents/" (r.name) (if r.enabled { "/disable" } else { "/enable" }) } {
                                (csrf_field(csrf))
                                button type="submit" { (if r.enabled { "Disable" } else { "Enable" }) }
                            }
                            form method="post" action={ "/agents/" (r.name) "/run" } {
                                (csrf_field(csrf))
                                button type="submit" { "Run now" }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::respond(layout::page("Agents", "/agents", csrf, body))
}

/// `POST /agents/{name}/enable|disable|run`.
pub async fn act(
    State(state): State<AppState>,
    Path((name, what)): Path<(String, String)>,
) -> Response {
    let Ok(spec) = state.pipeline.roster().get(&name).cloned() else {
        return layout::error(
            StatusCode::NOT_FOUND,
            &format!("No agent named {name}"),
            "pick one from Agents",
        );
    };
    match what.as_str() {
        "enable" | "disable" => {
            let on = what == "enable";
            let agent = spec.name.clone();
            let written = state
                .pipeline
                .store()
                .write(move |c| Ok(scheduler::set_enabled(c, &agent, on)?))
                .await;
            match written {
                Ok(()) => Redirect::to("/agents").into_response(),
                Err(e) => super::store_error(e),
            }
        }
        "run" => match state.scheduler.run_now(&spec.name, "").await {
            Ok(out) => Redirect::to(&format!("/runs/{}", out.run_id)).into_response(),
            Err(e @ ScheduleError::Needs { .. }) => layout::error(
                StatusCode::CONFLICT,
                &e.to_string(),
                "give the agent what it needs, then run it again",
            ),
            Err(e) => layout::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
                "see the daemon log and run `steward doctor`",
            ),
        },
        _ => layout::error(
            StatusCode::NOT_FOUND,
            "No such action",
            "an agent takes enable, disable or run",
        ),
    }
}
