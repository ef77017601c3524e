//! `GET /metrics`: Prometheus text format (version 0.0.4), behind the
//! api-token. Every figure is read from the store at scrape time, so the
//! numbers survive a restart and agree with `steward runs`.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;

use crate::http::{ApiError, AppState};

/// One metric family: name, help, type and its labelled samples.
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: &'static str,
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// `"` `\` and newlines escaped, as the text format wants label values.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text exposition of `families`.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(out, "{}{{{}}} {}", f.name, labels.join(","), value);
        }
    }
    out
}

fn pairs(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<(String, f64)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))?;
    rows.collect()
}

fn one_label(
    name: &'static str,
    rows: Vec<(String, f64)>,
) -> Vec<(Vec<(&'static str, String)>, f64)> {
    rows.into_iter()
        .map(|(v, n)| (vec![(name, v)], n))
        .collect()
}

/// The families read from the store (bridge health is added by the handler).
pub fn from_store(conn: &Connection, day: &str, now_ms: i64) -> rusqlite::Result<Vec<Family>> {
    let mut stmt = conn.prepare_cached(
        "SELECT agent, status, COUNT(*) FROM runs GROUP BY agent, status ORDER BY agent, status",
    )?;
    let runs = stmt
        .query_map([], |r| {
            Ok((
                vec![("agent", r.get::<_, String>(0)?), ("status", r.get(1)?)],
                r.get::<_, f64>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // A send is a contact or owner delivery whose step finished `done`; its
    // channel is the first part of the journaled target (`console:ann`).
    let sends = pairs(
        conn,
        "SELECT substr(t, 1, instr(t, ':') - 1) AS channel, COUNT(*) FROM (
           SELECT json_extract(j.payload, '$.target') AS t FROM journal j
           JOIN steps s ON s.run_id = j.run_id AND s.step = json_extract(j.payload, '$.step')
                       AND s.attempt = json_extract(j.payload, '$.attempt')
           WHERE j.kind = 'step.intended' AND s.state = 'done')
         WHERE instr(t, ':') > 0 GROUP BY channel ORDER BY channel",
    )?;
    let refusals = pairs(
        conn,
        "SELECT subject, COUNT(*) FROM audit WHERE kind = 'gate' AND decision = 'refuse'
         GROUP BY subject ORDER BY subject",
    )?;
    // Lag: how long ago the newest message of each channel's chats was
    // written. Through the chats and `messages_by_chat`: a GROUP BY over every
    // message took 0.5 s at 1M messages.
    let lag = pairs(
        conn,
        &format!(
            "SELECT c.channel, MAX(0, ({now_ms} - (SELECT MAX(m.at_ms) FROM messages m
                 WHERE m.chat_id IN (SELECT id FROM chats WHERE channel = c.channel))) / 1000.0)
             FROM (SELECT DISTINCT channel FROM chats) c
             WHERE EXISTS (SELECT 1 FROM chats h JOIN messages m ON m.chat_id = h.id WHERE h.channel = c.channel)
             ORDER BY c.channel"
        ),
    )?;
    let mut spent = conn.prepare_cached(
        "SELECT substr(scope, 7), spent_micros / 1e6 FROM budget_usage
         WHERE day = ?1 AND scope LIKE 'agent:%' ORDER BY scope",
    )?;
    let spent = spent
        .query_map([day], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(vec![
        Family {
            name: "steward_runs_total",
            help: "Runs by agent and final or current status.",
            kind: "counter",
            samples: runs,
        },
        Family {
            name: "steward_sends_total",
            help: "Messages delivered, by channel.",
            kind: "counter",
            samples: one_label("channel", sends),
        },
        Family {
            name: "steward_gate_refusals_total",
            help: "Runs refused, by the gate that refused them.",
            kind: "counter",
            samples: one_label("gate", refusals),
        },
        Family {
            name: "steward_ingest_lag_seconds",
            help: "Seconds since the newest message stored from each channel.",
            kind: "gauge",
            samples: one_label("channel", lag),
        },
        Family {
            name: "steward_budget_spent_usd",
            help: "US dollars spent today (the owner's day) per agent.",
            kind: "gauge",
            samples: one_label("agent", spent),
        },
    ])
}

/// `GET /metrics` (api-token as `Authorization: Bearer`).
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let day = state.pipeline.today();
    let now_ms = state.pipeline.now().as_millisecond();
    let mut families = state
        .pipeline
        .store()
        .read(move |c| Ok(from_store(c, &day, now_ms)?))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let up = state
        .pipeline
        .bridge_health()
        .into_iter()
        .map(|h| {
            (
                vec![("channel", h.channel.to_string())],
                if h.up { 1.0 } else { 0.0 },
            )
        })
        .collect();
    families.insert(
        3,
        Family {
            name: "steward_bridge_up",
            help: "1 when the channel's bridge is healthy, else 0.",
            kind: "gauge",
            samples: up,
        },
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        render(&families),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_help_type_and_escaped_labels() {
        let text = render(&[Family {
            name: "steward_sends_total",
            help: "Messages delivered.",
            kind: "counter",
            samples: vec![(vec![("channel", "a\"b".into())], 2.0)],
        }]);
        assert_eq!(
            text,
            "# HELP steward_sends_total Messages delivered.\n# TYPE steward_sends_total counter\nsteward_sends_total{channel=\"a\\\"b\"} 2\n"
        );
    }
}
