//! Forecasts for the budget gate: input tokens as chars/4, output tokens as the
//! agent's average over its runs of the last 30 days, priced at the capability's
//! first model. Confidence follows the Lantern runtime: 0 without history, else
//! min(0.95, 0.3 + 0.03·√n).
//!
//! The worst case is the output cap of every model call in the plan (the
//! agent's `maxOutputTokens`, else its capability's), priced the same way. The
//! budget reserves the worst case, so a run admitted under a hard cap cannot
//! overshoot it by writing more than expected.

use rusqlite::Connection;
use serde::Serialize;

use crate::llm::{Router, Usage, estimate_tokens};
use crate::spec::AgentSpec;

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
    /// Model calls in the plan.
    pub calls: u32,
    /// The output cap of one call (`max_tokens` on the wire).
    pub max_tokens_per_call: u32,
    /// Every call writing up to its cap.
    pub max_tokens_out: u64,
    /// What the budget reserves: input plus `maxTokensOut`, priced.
    pub worst_case_usd: f64,
    pub worst_case_micros: i64,
    /// How long one call may take before it is cancelled.
    pub deadline_seconds: Option<u64>,
}

/// The output cap of one call of `agent`: its spec's `maxOutputTokens`, else
/// its capability's (`models.limits`, else the shipped default).
pub fn output_cap(router: &Router, capability: &str, spec: Option<&AgentSpec>) -> u32 {
    spec.and_then(|s| s.max_output_tokens)
        .unwrap_or_else(|| router.limits(capability).max_output_tokens)
}

/// The forecast of a run of `agent` whose plan makes `calls` model calls on `input`.
pub fn forecast(
    conn: &Connection,
    agent: &str,
    spec: Option<&AgentSpec>,
    router: &Router,
    input: &str,
    calls: u32,
) -> rusqlite::Result<Forecast> {
    let capability = spec.and_then(|s| s.capability.as_deref());
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
    let model = capability.and_then(|c| router.first_target(c));
    let per_call = capability.map_or(0, |c| output_cap(router, c, spec));
    let max_tokens_out = u64::from(per_call) * u64::from(calls);
    // History cannot promise more than the caps allow.
    let expected = avg_out.map_or(DEFAULT_OUTPUT, |a| a.round() as u64);
    let tokens_out = if max_tokens_out == 0 {
        expected
    } else {
        expected.min(max_tokens_out)
    };
    let price = |output: u64| {
        let usage = Usage {
            input: tokens_in,
            output,
            cached: 0,
            estimated: true,
        };
        model.as_deref().map_or(0, |m| router.cost_of(m, &usage))
    };
    let cost_micros = price(tokens_out);
    let worst_case_micros = price(max_tokens_out);
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
        calls,
        max_tokens_per_call: per_call,
        max_tokens_out,
        worst_case_usd: worst_case_micros as f64 / 1_000_000.0,
        worst_case_micros,
        deadline_seconds: capability.map(|c| router.limits(c).deadline.as_secs()),
    })
}
