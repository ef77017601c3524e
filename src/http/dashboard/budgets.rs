//! Budgets: today per agent and global (spent, reserved, limit), and the
//! last seven days as inline SVG charts: all agents together, then one per
//! agent that spent anything in those days.

use axum::extract::{Extension, State};
use axum::response::Response;
use maud::{Markup, PreEscaped, html};

use super::layout::{self, usd};
use super::session::Session;
use crate::http::AppState;
use crate::pipeline::budget;

/// The seven owner-local days ending `today`, oldest first.
fn seven_days(today: &str) -> Vec<String> {
    let Ok(day) = today.parse::<jiff::civil::Date>() else {
        return vec![today.to_string()];
    };
    (0..7i64)
        .rev()
        .filter_map(|back| day.checked_sub(jiff::Span::new().days(back)).ok())
        .map(|d| d.to_string())
        .collect()
}

/// `scope`'s spending on each of `days` (0 for a day without a row).
fn per_day(rows: &[(String, String, f64)], scope: &str, days: &[String]) -> Vec<(String, f64)> {
    days.iter()
        .map(|day| {
            let spent = rows
                .iter()
                .find(|(s, d, _)| s == scope && d == day)
                .map_or(0.0, |r| r.2);
            (day.clone(), spent)
        })
        .collect()
}

/// A chart with its caption, marked with its scope.
fn figure(scope: &str, caption: &str, days: &[(String, f64)], cap: f64) -> Markup {
    html! {
        figure.chart data-scope=(scope) {
            figcaption { (caption) }
            (chart(scope, days, cap))
        }
    }
}

/// Seven bars, spent per day, scaled to the largest day or the cap.
fn chart(scope: &str, days: &[(String, f64)], cap: f64) -> Markup {
    const W: f64 = 420.0;
    const H: f64 = 120.0;
    let top = days.iter().map(|d| d.1).fold(cap, f64::max).max(0.0001);
    let bar = W / 7.0;
    let mut svg = format!(
        r#"<svg role="img" aria-label="{}: spent per day, last seven days" width="{W}" height="{}" viewBox="0 0 {W} {}">"#,
        maud::html! { (scope) }.into_string(),
        H + 20.0,
        H + 20.0
    );
    if cap > 0.0 {
        let y = H - cap / top * H;
        svg.push_str(&format!(
            r##"<line x1="0" x2="{W}" y1="{y:.1}" y2="{y:.1}" stroke="#b91c1c" stroke-dasharray="4"/>"##
        ));
    }
    for (i, (day, spent)) in days.iter().enumerate() {
        let h = spent / top * H;
        let x = i as f64 * bar + 6.0;
        svg.push_str(&format!(
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#1e40af"><title>{} {}</title></rect><text x="{x:.1}" y="{}" font-size="10" fill="#6b7280">{}</text>"##,
            H - h,
            bar - 12.0,
            maud::html! { (day) }.into_string(),
            usd(*spent),
            H + 14.0,
            maud::html! { (day.get(5..).unwrap_or(day)) }.into_string(),
        ));
    }
    svg.push_str("</svg>");
    PreEscaped(svg)
}

/// `GET /budgets`.
pub async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Response {
    let specs: Vec<_> = state.pipeline.roster().specs.values().cloned().collect();
    let cap = state.pipeline.settings().global_cap;
    let day = state.pipeline.today();
    let days = seven_days(&day);
    let (first, last) = (days[0].clone(), day.clone());
    let loaded = state
        .pipeline
        .store()
        .read(move |c| {
            let report = budget::report(c, &specs.iter().collect::<Vec<_>>(), cap, &day)?;
            Ok((report, budget::spent_between(c, &first, &last)?))
        })
        .await;
    let (report, spent) = match loaded {
        Ok(v) => v,
        Err(e) => return super::store_error(e),
    };
    // Agents that spent in these days, each with its own chart and daily limit.
    let agents: Vec<_> = report
        .iter()
        .filter(|s| s.scope != budget::GLOBAL && spent.iter().any(|r| r.0 == s.scope))
        .collect();
    let body = html! {
        h1 { "Budgets" }
        p.muted { "Today (" (state.pipeline.today()) "): spent, reserved by runs still going, and the day's limit." }
        table {
            thead { tr { th { "scope" } th { "spent" } th { "reserved" } th { "limit" } th { "runs" } } }
            tbody {
                @for s in &report {
                    tr {
                        td { (s.scope) }
                        td { (usd(s.spent_usd)) }
                        td { (usd(s.reserved_usd)) }
                        td { (usd(s.max_cost_usd_per_day)) }
                        td { (s.runs) @if let Some(m) = s.max_runs_per_day { " / " (m) } }
                    }
                }
            }
        }
        h2 { "Seven days, all agents" }
        (figure(budget::GLOBAL, "all agents, against budget.maxCostUsdPerDay", &per_day(&spent, budget::GLOBAL, &days), cap.dollars()))
        h2 { "Seven days, per agent" }
        @if agents.is_empty() { p.muted { "No agent spent anything in these seven days." } }
        @for s in &agents {
            (figure(&s.scope, s.scope.trim_start_matches("agent:"), &per_day(&spent, &s.scope, &days), s.max_cost_usd_per_day))
        }
    };
    layout::respond(layout::page("Budgets", "/budgets", &session.csrf, body))
}
