//! The deterministic owner-facing loops: concierge (commitments and promise
//! capture), relationship-keeper (people gone quiet), financial-sentinel
//! (bills that went up). Each returns candidate nudges; the gate decides.

use rusqlite::{Connection, params};

use super::Tick;
use crate::agents::nudge::Nudge;
use crate::owner_state::ListItem;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// "I'll send you the deck tonight" is a promise; "I'll try", "I'll see",
/// "I'll be there", negations and questions are not.
pub fn promise(text: &str) -> Option<String> {
    let t = text.trim().to_lowercase().replace('\u{2019}', "'");
    if t.contains('?') || t.contains("won't") || t.contains("will not") || t.contains("i'll never")
    {
        return None;
    }
    let start = ["i'll ", "i will ", "i'm going to ", "will do, i'll "]
        .iter()
        .filter_map(|p| t.find(p).map(|i| (i, p.len())))
        .min()?;
    let rest = &t[start.0 + start.1..];
    let first = rest.split_whitespace().next().unwrap_or_default();
    if matches!(
        first,
        "try" | "see" | "be" | "think" | "maybe" | "probably" | "let" | "catch" | "talk" | "miss"
    ) {
        return None;
    }
    let sentence = rest
        .split(['.', '!', '\n'])
        .next()
        .unwrap_or_default()
        .trim();
    if sentence.split_whitespace().count() < 2 {
        return None;
    }
    Some(sentence.chars().take(80).collect())
}

/// The concierge's spacing after a nudge, by the commitment's age.
pub fn next_nudge(created_ms: i64, now_ms: i64) -> i64 {
    let age = now_ms - created_ms;
    now_ms
        + if age < 2 * HOUR {
            2 * HOUR
        } else if age < 8 * HOUR {
            6 * HOUR
        } else {
            DAY
        }
}

pub fn concierge(
    conn: &Connection,
    tick: &Tick,
    cursor: i64,
) -> rusqlite::Result<(Vec<Nudge>, i64)> {
    // Capture the owner's own promises to contacts since the last run.
    let mut stmt = conn.prepare(
        "SELECT m.id, m.text, m.person_id, m.at_ms, p.name FROM messages m
         JOIN chats c ON c.id = m.chat_id LEFT JOIN people p ON p.id = m.person_id
         WHERE m.id > ?1 AND m.direction = 'out' AND c.kind = 'direct' AND m.is_command = 0
           AND m.at_ms >= ?2
         ORDER BY m.id",
    )?;
    // Before its first capture the concierge looks back a day, never through
    // years of imported history (those promises are long kept or broken).
    let since = if cursor == 0 { tick.now_ms - DAY } else { 0 };
    let rows: Vec<(i64, String, String, i64, Option<String>)> = stmt
        .query_map([cursor, since], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut last = cursor;
    for (id, text, person, at, name) in rows {
        last = id;
        if let Some(what) = promise(&text) {
            let title = match name {
                Some(n) => format!("{what} (to {n})"),
                None => what,
            };
            conn.execute(
                "INSERT OR IGNORE INTO commitments (title, person_id, source, dedup_key, next_nudge_ms, created_ms)
                 VALUES (?1, ?2, 'promise', ?3, ?4, ?5)",
                params![title, person, format!("promise:{id}"), at + 45 * MINUTE, at],
            )?;
        }
    }
    // Due commitments, most urgent first.
    let mut stmt = conn.prepare(
        "SELECT id, title, nudges FROM commitments
         WHERE status IN ('open', 'snoozed') AND next_nudge_ms IS NOT NULL AND next_nudge_ms <= ?1
         ORDER BY CASE urgency WHEN 'now' THEN 0 WHEN 'soon' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
                  next_nudge_ms LIMIT 20",
    )?;
    let nudges = stmt
        .query_map([tick.now_ms], |r| {
            let (id, title, n): (i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(Nudge {
                key: format!("concierge:{id}:{n}"),
                text: format!("📌 {title} — reply: done / snooze / research"),
                urgent: false,
                item: Some(ListItem::Commitment(id)),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok((nudges, last))
}

/// Space the next nudge of each commitment that was just nudged.
pub fn concierge_sent(conn: &Connection, sent: &[Nudge], now_ms: i64) -> rusqlite::Result<()> {
    for n in sent {
        let Some(ListItem::Commitment(id)) = n.item else {
            continue;
        };
        let created: i64 = conn.query_row(
            "SELECT created_ms FROM commitments WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        conn.execute(
            "UPDATE commitments SET nudges = nudges + 1, next_nudge_ms = ?2, status = 'open' WHERE id = ?1",
            params![id, next_nudge(created, now_ms)],
        )?;
    }
    Ok(())
}

/// ISO week label of the owner's local date: `2026-W47`.
fn iso_week(tick: &Tick) -> String {
    let date = jiff::Timestamp::from_millisecond(tick.now_ms)
        .unwrap_or_default()
        .to_zoned(tick.tz.clone())
        .date();
    let w = date.iso_week_date();
    format!("{}-W{:02}", w.year(), w.week())
}

pub const IDLE_DAYS: i64 = 21;
pub const PER_WEEK: i64 = 5;

/// People the owner talks with (both ways) who have been quiet 21+ days.
pub fn relationship_keeper(conn: &Connection, tick: &Tick) -> rusqlite::Result<Vec<Nudge>> {
    let week = iso_week(tick);
    let already: i64 = conn.query_row(
        "SELECT COUNT(*) FROM commitments WHERE dedup_key LIKE 'relkeeper:%:' || ?1",
        [&week],
        |r| r.get(0),
    )?;
    let room = (PER_WEEK - already).max(0);
    let mut stmt = conn.prepare(
        "SELECT p.id, COALESCE(p.name, MIN(m.handle), p.id), MAX(m.at_ms) AS last FROM people p
         JOIN messages m ON m.person_id = p.id
         WHERE p.is_owner = 0 AND m.is_command = 0
         GROUP BY p.id
         HAVING SUM(m.direction = 'out') > 0 AND SUM(m.direction = 'in') > 0 AND last < ?1
         ORDER BY last ASC LIMIT 50",
    )?;
    let idle: Vec<(String, String, i64)> = stmt
        .query_map([tick.now_ms - IDLE_DAYS * DAY], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (id, name, last) in idle {
        if out.len() as i64 >= room {
            break;
        }
        let key = format!("relkeeper:{id}:{week}");
        let days = (tick.now_ms - last) / DAY;
        let title = format!("Reach out to {name}");
        let made = conn.execute(
            "INSERT OR IGNORE INTO commitments (title, person_id, source, urgency, dedup_key, created_ms)
             VALUES (?1, ?2, 'agent', 'fyi', ?3, ?4)",
            params![title, id, key, tick.now_ms],
        )?;
        if made == 0 {
            continue; // one per person per ISO week
        }
        // Offer a draft only where a bridge here can send it.
        let offer = match last_direct_channel(conn, &id)? {
            Some(ch) if crate::bridges::sending_channel(&tick.channels, &ch).is_some() => {
                "reply \"N draft\" for a check-in".to_string()
            }
            Some(ch) => format!(
                "no channel here can reach {name} on {ch}: write to them yourself, then reply \"N done\""
            ),
            None => format!(
                "there is no 1:1 chat with {name} to write in; reply \"N done\" when you have"
            ),
        };
        out.push(Nudge {
            key,
            text: format!("💬 {title} — {days} days since you last talked ({offer})"),
            urgent: false,
            item: Some(ListItem::Commitment(conn.last_insert_rowid())),
        });
    }
    Ok(out)
}

/// The channel of the person's most recent 1:1 chat (what "N draft" writes in).
fn last_direct_channel(conn: &Connection, person: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT c.channel FROM chats c JOIN chat_members m ON m.chat_id = c.id
         LEFT JOIN messages msg ON msg.chat_id = c.id
         WHERE m.person_id = ?1 AND c.kind = 'direct'
         GROUP BY c.id ORDER BY MAX(msg.at_ms) DESC LIMIT 1",
        [person],
        |r| r.get(0),
    )
    .optional()
}

fn dollars(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// Bills from the last 90 days by payee: flag the newest when it is more than
/// 10% and more than $5 above the previous one. Once per payee per month.
pub fn financial_sentinel(conn: &Connection, tick: &Tick) -> rusqlite::Result<Vec<Nudge>> {
    let month = jiff::Timestamp::from_millisecond(tick.now_ms)
        .unwrap_or_default()
        .to_zoned(tick.tz.clone())
        .strftime("%Y-%m")
        .to_string();
    let mut stmt = conn.prepare(
        "SELECT payee, amount_cents FROM life_events
         WHERE kind = 'bill' AND payee IS NOT NULL AND amount_cents IS NOT NULL AND at_ms >= ?1
         ORDER BY payee, at_ms DESC, id DESC",
    )?;
    let rows: Vec<(String, i64)> = stmt
        .query_map([tick.now_ms - 90 * DAY], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let payee = &rows[i].0;
        let newest = rows[i].1;
        let previous = rows.get(i + 1).filter(|r| &r.0 == payee).map(|r| r.1);
        if let Some(prev) = previous
            && newest * 10 > prev * 11
            && newest - prev > 500
        {
            let key = format!("finsentinel:{}:{month}", payee.to_lowercase());
            let title = format!(
                "Review {payee}: {}, up from {}",
                dollars(newest),
                dollars(prev)
            );
            let made = conn.execute(
                "INSERT OR IGNORE INTO commitments (title, source, urgency, dedup_key, created_ms)
                 VALUES (?1, 'agent', 'soon', ?2, ?3)",
                params![title, key, tick.now_ms],
            )?;
            if made == 1 {
                out.push(Nudge::new(key, format!("💸 {title}")));
            }
        }
        while i < rows.len() && &rows[i].0 == payee {
            i += 1;
        }
    }
    Ok(out)
}
