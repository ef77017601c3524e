//! The owner's domain views (`vehicle`, `home`, `health`, `travel`, `career`,
//! `money`): what the domain trackers kept from mail, and bills for money.
//! Read-only, from the store; the trackers (`agents::roster::tracker`) fill it.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rusqlite::{Connection, params};

/// The views and the words that ask for them.
pub const DOMAINS: &[(&str, &[&str])] = &[
    ("vehicle", &["vehicle", "car", "garage"]),
    ("home", &["home", "house", "household"]),
    ("health", &["health", "care"]),
    ("travel", &["travel", "trips"]),
    ("career", &["career", "learning", "upskill"]),
    ("money", &["money", "bills"]),
];

/// The view a word asks for.
pub fn named(word: &str) -> Option<&'static str> {
    DOMAINS
        .iter()
        .find(|(_, words)| words.contains(&word))
        .map(|(d, _)| *d)
}

fn day(ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz.clone()).strftime("%b %-d").to_string())
        .unwrap_or_default()
}

/// The text of one domain view.
pub fn view(
    conn: &Connection,
    domain: &str,
    tz: &TimeZone,
    now_ms: i64,
) -> rusqlite::Result<String> {
    if domain == "money" {
        return money(conn, tz, now_ms);
    }
    let mut stmt = conn.prepare(
        "SELECT d.kind, d.title, d.detail, d.due_date, d.at_ms, COALESCE(p.name, m.handle, '')
         FROM domain_records d JOIN messages m ON m.id = d.message_row
         LEFT JOIN people p ON p.id = m.person_id
         WHERE d.domain = ?1 AND (d.kind = 'record' OR COALESCE(d.due_date, '9999') >= ?2)
         ORDER BY d.kind = 'record', COALESCE(d.due_date, '9999'), d.at_ms DESC LIMIT 20",
    )?;
    let today = Timestamp::from_millisecond(now_ms)
        .map(|t| t.to_zoned(tz.clone()).date().to_string())
        .unwrap_or_default();
    type Row = (String, String, String, Option<String>, i64, String);
    let rows: Vec<Row> = stmt
        .query_map(params![domain, today], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok(format!(
            "{domain}: nothing from your mail yet (its tracker reads new mail every 6 hours; `steward agents run` runs it now)"
        ));
    }
    let mut out = format!("{domain}\n");
    for (kind, title, detail, due, at, from) in rows {
        let what = if detail.is_empty() {
            title
        } else {
            format!("{title} — {detail}")
        };
        match (kind.as_str(), due) {
            ("obligation", Some(due)) => out.push_str(&format!("⏳ {what} (due {due})\n")),
            ("obligation", None) => out.push_str(&format!("⏳ {what}\n")),
            _ => out.push_str(&format!("· {what} ({}, {from})\n", day(at, tz))),
        }
    }
    Ok(out.trim_end().to_string())
}

/// Bills of the last 90 days by payee, newest first (from life events).
fn money(conn: &Connection, tz: &TimeZone, now_ms: i64) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(
        "SELECT COALESCE(payee, '?'), amount_cents, at_ms FROM life_events
         WHERE kind = 'bill' AND at_ms >= ?1 ORDER BY at_ms DESC LIMIT 20",
    )?;
    let rows: Vec<(String, Option<i64>, i64)> = stmt
        .query_map([now_ms - 90 * 24 * 3600 * 1000], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok("money: no bills seen in the last 90 days".into());
    }
    let mut out = String::from("money: bills, last 90 days\n");
    for (payee, cents, at) in rows {
        let amount = cents.map_or("?".into(), |c| format!("${}.{:02}", c / 100, c % 100));
        out.push_str(&format!("· {payee} {amount} ({})\n", day(at, tz)));
    }
    Ok(out.trim_end().to_string())
}
