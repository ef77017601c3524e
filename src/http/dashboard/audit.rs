//! Audit: the chain's status and the first bad entry if any.
//!
//! Walking the whole chain grows with every run (a year of runs is hundreds of
//! thousands of rows), so a page view checks only the entries added since the
//! last good check, starting from the head it remembered (whose hash is
//! re-read, so an edit of that row shows). "Check the whole chain" walks every
//! row again, as `steward audit verify` and `doctor` do.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Extension, State};
use axum::response::Response;
use maud::html;

use super::layout::{self, csrf_field};
use super::session::Session;
use crate::http::AppState;
use crate::pipeline::{anchor, audit};

/// The head of the chain as last found intact.
#[derive(Debug, Clone)]
struct Good {
    seq: i64,
    hash: String,
    entries: u64,
    full_at: SystemTime,
}

/// Shared by every page view.
#[derive(Debug, Clone, Default)]
pub struct AuditCache {
    good: Arc<Mutex<Option<Good>>>,
}

impl AuditCache {
    fn get(&self) -> Option<Good> {
        self.good.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set(&self, g: Option<Good>) {
        *self.good.lock().unwrap_or_else(|p| p.into_inner()) = g;
    }
}

/// Check the chain (from the remembered head unless `full`), remember the new head.
async fn check(
    state: &AppState,
    full: bool,
) -> Result<(audit::ChainReport, Option<Good>), crate::store::StoreError> {
    let cache = state.dashboard.audit.clone();
    let known = if full { None } else { cache.get() };
    let out = state
        .pipeline
        .store()
        .read(move |c| {
            let (report, before, full_at) = match &known {
                Some(g) if audit::hash_at(c, g.seq)?.as_deref() == Some(g.hash.as_str()) => (
                    audit::verify_from(c, g.seq + 1, &g.hash)?,
                    g.entries,
                    g.full_at,
                ),
                _ => (audit::verify(c)?, 0, SystemTime::now()),
            };
            let report = audit::ChainReport {
                entries: before + report.entries,
                ..report
            };
            let good = match (report.ok, anchor::db_head(c)?) {
                (true, Some((seq, hash))) => Some(Good {
                    seq,
                    hash,
                    entries: report.entries,
                    full_at,
                }),
                _ => None,
            };
            Ok((report, good))
        })
        .await?;
    cache.set(out.1.clone());
    Ok(out)
}

async fn render(state: &AppState, session: &Session, full: bool) -> Response {
    let (report, good) = match check(state, full).await {
        Ok(v) => v,
        Err(e) => return super::store_error(e),
    };
    let since = good
        .as_ref()
        .and_then(|g| g.full_at.elapsed().ok())
        .map(|d| format!("{} s ago", d.as_secs()));
    let body = html! {
        h1 { "Audit" }
        @if report.ok {
            p.ok #chain { "✓ the chain is intact: " (report.entries) " entries, each linked to the one before." }
        } @else {
            p.bad #chain {
                "✗ the chain breaks at entry " (report.first_bad_seq.map(|s| s.to_string()).unwrap_or_default())
                ": " (report.reason.as_deref().unwrap_or("unknown"))
            }
            p { "Run " code { "steward doctor" } " and follow its auditChain fix; do not delete rows to make it pass." }
        }
        @if let Some(s) = since {
            p.muted { "Every entry was checked " (s) "; newer ones on each view." }
        }
        form method="post" action="/audit" {
            (csrf_field(&session.csrf))
            button type="submit" { "Check the whole chain" }
        }
    };
    layout::respond(layout::page("Audit", "/audit", &session.csrf, body))
}

/// `GET /audit`.
pub async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Response {
    render(&state, &session, false).await
}

/// `POST /audit`: every entry, from the first.
pub async fn full(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Response {
    render(&state, &session, true).await
}
