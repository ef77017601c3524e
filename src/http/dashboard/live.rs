//! `GET /events`: the live parts over Server-Sent Events. Each second the
//! parts the page asked for (`?parts=approvals,runs,whatsapp-link`) are rendered again and
//! sent, under the element id they replace, only when their HTML changed.
//! The stream ends when the daemon stops, so a clean stop never waits on it.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Extension, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use super::session::Session;
use super::{approvals, runs};
use crate::http::AppState;

const EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    parts: String,
    #[serde(flatten)]
    filter: runs::FilterQuery,
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Approvals,
    Runs,
    /// The Channels page's WhatsApp link (its QR rotates every 20 s).
    WhatsappLink,
}

impl Part {
    fn id(self) -> &'static str {
        match self {
            Part::Approvals => "approvals",
            Part::Runs => "runs",
            Part::WhatsappLink => "whatsapp-link",
        }
    }
}

struct Live {
    state: AppState,
    csrf: String,
    filter: runs::FilterQuery,
    /// Each part with the HTML last sent.
    parts: Vec<(Part, Option<String>)>,
    first: bool,
}

async fn render(live: &Live, part: Part) -> Option<String> {
    match part {
        Part::Approvals => approvals::load(&live.state).await.ok().map(|(p, e)| {
            approvals::list(&p, &e, &live.csrf, &live.state.owner.tz()).into_string()
        }),
        Part::Runs => runs::load(&live.state, live.filter.filter())
            .await
            .ok()
            .map(|rows| runs::table(&rows, &live.state.owner.tz()).into_string()),
        Part::WhatsappLink => {
            super::whatsapp_live(&live.state, &live.csrf).map(|m| m.into_string())
        }
    }
}

/// The next changed part, waiting a tick at a time; `None` once the daemon stops.
async fn next(mut live: Live) -> Option<(Result<Event, Infallible>, Live)> {
    loop {
        if !live.first {
            let stopping = live.state.stopping.clone();
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                () = stopped(stopping) => return None,
            }
        }
        live.first = false;
        for i in 0..live.parts.len() {
            let (part, last) = &live.parts[i];
            let part = *part;
            let Some(html) = render(&live, part).await else {
                continue;
            };
            if last.as_deref() != Some(html.as_str()) {
                let event = Event::default().event(part.id()).data(&html);
                live.parts[i].1 = Some(html);
                // Come back at once: another part may have changed too.
                live.first = true;
                return Some((Ok(event), live));
            }
        }
    }
}

async fn stopped(rx: Option<tokio::sync::watch::Receiver<bool>>) {
    match rx {
        Some(mut rx) => {
            // A dropped sender means the server is gone: stop as well.
            let _ = rx.wait_for(|v| *v).await;
        }
        None => std::future::pending().await,
    }
}

pub async fn events(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<EventsQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let parts = q
        .parts
        .split(',')
        .filter_map(|p| match p {
            "approvals" => Some((Part::Approvals, None)),
            "runs" => Some((Part::Runs, None)),
            "whatsapp-link" => Some((Part::WhatsappLink, None)),
            _ => None,
        })
        .collect();
    let live = Live {
        state,
        csrf: session.csrf,
        filter: q.filter,
        parts,
        first: false,
    };
    Sse::new(stream::unfold(live, next)).keep_alive(KeepAlive::default())
}
