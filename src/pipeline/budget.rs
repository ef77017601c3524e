//! Budgets: reserve the forecast before any model call, settle the actual after.
//!
//! Reservation happens inside the run's admission transaction and SQLite runs
//! one writer at a time, so "check the limits, then add the reservation" is
//! atomic: however many runs race, a hard cap is never passed. Amounts are
//! integer micro-dollars. Days are the owner's local days.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::spec::{AgentSpec, Usd};

pub const GLOBAL: &str = "global";

pub fn agent_scope(agent: &str) -> String {
    format!("agent:{agent}")
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub spent: i64,
    pub reserved: i64,
    pub runs: i64,
    pub notified: bool,
}

pub fn usage(conn: &Connection, scope: &str, day: &str) -> rusqlite::Result<Usage> {
    Ok(conn
        .prepare_cached(
            "SELECT spent_micros, reserved_micros, runs, notified FROM budget_usage WHERE scope = ?1 AND day = ?2",
        )?
        .query_row(params![scope, day], |r| {
            Ok(Usage {
                spent: r.get(0)?,
                reserved: r.get(1)?,
                runs: r.get(2)?,
                notified: r.get(3)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// The outcome of the budget gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Reserved. `notices` are soft-limit messages for the owner (each sent once a day).
    Reserved {
        notices: Vec<String>,
    },
    Refused {
        reason: String,
    },
}

/// Check every limit and reserve `forecast` against the agent and the global day.
pub fn reserve(
    conn: &Connection,
    spec: &AgentSpec,
    global_cap: Usd,
    day: &str,
    forecast: Usd,
) -> rusqlite::Result<Admission> {
    let b = &spec.budget;
    let scope = agent_scope(&spec.name);
    let agent = usage(conn, &scope, day)?;
    let global = usage(conn, GLOBAL, day)?;
    let f = forecast.micros();
    let usd = |m: i64| format!("${:.4}", Usd::from_micros(m).dollars());
    // Where each cap is raised: the key in the agent's own file (a shipped
    // agent is changed by copying it into <home>/agents/).
    let raise = |key: &str| {
        let file = spec.file.display();
        if spec.file.is_absolute() {
            format!("; raise budget.{key} in {file}")
        } else {
            format!(
                "; raise budget.{key} in {file} (copy it into your Steward home's agents/ folder and edit it there)"
            )
        }
    };

    let mut soft = Vec::new();
    // In the reference's order: per run, per day, runs per day; then the global cap.
    if f > b.max_cost_usd_per_run.micros() {
        soft.push(format!(
            "{}: forecast {} is over the per-run cap {}{}",
            spec.name,
            usd(f),
            usd(b.max_cost_usd_per_run.micros()),
            raise("maxCostUsdPerRun")
        ));
    }
    if agent.spent + agent.reserved + f > b.max_cost_usd_per_day.micros() {
        soft.push(format!(
            "{}: {} spent or reserved today plus {} would pass the daily cap {}{}",
            spec.name,
            usd(agent.spent + agent.reserved),
            usd(f),
            usd(b.max_cost_usd_per_day.micros()),
            raise("maxCostUsdPerDay")
        ));
    }
    if agent.runs >= i64::from(b.max_runs_per_day) {
        soft.push(format!(
            "{}: {} runs today reached the cap of {}{}",
            spec.name,
            agent.runs,
            b.max_runs_per_day,
            raise("maxRunsPerDay")
        ));
    }
    if b.hard_fail && !soft.is_empty() {
        return Ok(Admission::Refused {
            reason: format!("agent budget limit reached: {}", soft.remove(0)),
        });
    }
    // The global cap is always hard: it is the owner's ceiling over everything.
    if global.spent + global.reserved + f > global_cap.micros() {
        return Ok(Admission::Refused {
            reason: format!(
                "global budget limit reached: {} spent or reserved today plus {} would pass budget.maxCostUsdPerDay {} in steward.yaml",
                usd(global.spent + global.reserved),
                usd(f),
                usd(global_cap.micros())
            ),
        });
    }

    for s in [scope.as_str(), GLOBAL] {
        conn.prepare_cached(
            "INSERT INTO budget_usage (scope, day, reserved_micros, runs) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (scope, day) DO UPDATE SET reserved_micros = reserved_micros + ?3, runs = runs + 1",
        )?
        .execute(params![s, day, f])?;
    }

    let mut notices = soft;
    let cap = b.max_cost_usd_per_day.micros();
    let used = agent.spent + agent.reserved + f;
    if cap > 0 && !agent.notified && used * 100 >= cap * i64::from(b.notify_at_pct.0) {
        conn.execute(
            "UPDATE budget_usage SET notified = 1 WHERE scope = ?1 AND day = ?2",
            params![scope, day],
        )?;
        notices.push(format!(
            "{} has used {} of its {} daily budget ({}%)",
            spec.name,
            usd(used),
            usd(cap),
            used * 100 / cap
        ));
    }
    Ok(Admission::Reserved { notices })
}

/// Replace a run's reservation with what it actually cost (0 to release).
pub fn settle(
    conn: &Connection,
    agent: &str,
    day: &str,
    reserved: i64,
    actual: i64,
) -> rusqlite::Result<()> {
    for s in [agent_scope(agent), GLOBAL.to_string()] {
        conn.prepare_cached(
            "UPDATE budget_usage SET reserved_micros = MAX(0, reserved_micros - ?3), spent_micros = spent_micros + ?4
             WHERE scope = ?1 AND day = ?2",
        )?
        .execute(params![s, day, reserved, actual])?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeReport {
    pub scope: String,
    pub day: String,
    pub spent_usd: f64,
    pub reserved_usd: f64,
    pub runs: i64,
    pub max_cost_usd_per_day: f64,
    pub max_cost_usd_per_run: Option<f64>,
    pub max_runs_per_day: Option<u32>,
    pub hard_fail: bool,
}

pub fn report(
    conn: &Connection,
    specs: &[&AgentSpec],
    global_cap: Usd,
    day: &str,
) -> rusqlite::Result<Vec<ScopeReport>> {
    let g = usage(conn, GLOBAL, day)?;
    let mut out = vec![ScopeReport {
        scope: GLOBAL.to_string(),
        day: day.to_string(),
        spent_usd: Usd::from_micros(g.spent).dollars(),
        reserved_usd: Usd::from_micros(g.reserved).dollars(),
        runs: g.runs,
        max_cost_usd_per_day: global_cap.dollars(),
        max_cost_usd_per_run: None,
        max_runs_per_day: None,
        hard_fail: true,
    }];
    for spec in specs {
        let u = usage(conn, &agent_scope(&spec.name), day)?;
        out.push(ScopeReport {
            scope: agent_scope(&spec.name),
            day: day.to_string(),
            spent_usd: Usd::from_micros(u.spent).dollars(),
            reserved_usd: Usd::from_micros(u.reserved).dollars(),
            runs: u.runs,
            max_cost_usd_per_day: spec.budget.max_cost_usd_per_day.dollars(),
            max_cost_usd_per_run: Some(spec.budget.max_cost_usd_per_run.dollars()),
            max_runs_per_day: Some(spec.budget.max_runs_per_day),
            hard_fail: spec.budget.hard_fail,
        });
    }
    Ok(out)
}

/// What each scope spent per day from `first` to `last` (owner-local
/// `YYYY-MM-DD`, inclusive): `(scope, day, spent US$)`, days without spending
/// left out (the dashboard's seven-day charts, global and per agent).
pub fn spent_between(
    conn: &Connection,
    first: &str,
    last: &str,
) -> rusqlite::Result<Vec<(String, String, f64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT scope, day, spent_micros FROM budget_usage
         WHERE day BETWEEN ?1 AND ?2 AND spent_micros > 0 ORDER BY scope, day",
    )?;
    stmt.query_map(params![first, last], |r| {
        Ok((r.get(0)?, r.get(1)?, Usd::from_micros(r.get(2)?).dollars()))
    })?
    .collect()
}
