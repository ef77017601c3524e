//! Forecasts for the budget gate: input tokens as chars/4, output tokens as the
//! agent's average over its runs of the last 30 days, priced at the capability's
//! first model. Confidence follows the Lantern runtime: 0 without history, else
//! min(0.95, 0.3 + 0.03·√n).

use rusqlite::Connection;
use serde::Serialize;

use crate::llm::{Router, Usage, estimate_tokens};

const WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;
/// Output assumed when an agent has no history.
const DEFAULT_OUTPUT: u64 = 256;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    pub agent: String,
    pub capability: Option<String>,
    pub model: Option<String>,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
    pub cost_micros: i64,
    pub confidence: f64,
    pub runs_considered: u64,
}

pub fn forecast(
    conn: &Connection,
    agent: &str,
    capability: Option<&str>,
    router: &Router,
    input: &str,
) -> rusqlite::Result<Forecast> {
    let since = jiff::Timestamp::now().as_millisecond() - WINDOW_MS;
    let since = jiff::Timestamp::from_millisecond(since)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let (n, avg_out): (i64, Option<f64>) = conn.query_row(
        "SELECT COUNT(*), AVG(tokens_out) FROM runs
         WHERE agent = ?1 AND status = 'succeeded' AND tokens_out > 0 AND started_at >= ?2",
        rusqlite::params![agent, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let tokens_in = estimate_tokens(input.chars().count());
    let tokens_out = avg_out.map_or(DEFAULT_OUTPUT, |a| a.round() as u64);
    let model = capability.and_then(|c| router.first_target(c));
    let usage = Usage {
        input: tokens_in,
        output: tokens_out,
        cached: 0,
        estimated: true,
    };
    let cost_micros = model.as_deref().map_or(0, |m| router.cost_of(m, &usage));
    let confidence = if n == 0 {
        0.0
    } else {
        (0.3 + 0.03 * (n as f64).sqrt()).min(0.95)
    };
    Ok(Forecast {
        agent: agent.to_string(),
        capability: capability.map(str::to_string),
        model,
        tokens_in,
        tokens_out,
        cost_usd: cost_micros as f64 / 1_000_000.0,
        cost_micros,
        confidence,
        runs_considered: n as u64,
    })
}
