//! Commands that change what Steward knows or may do: presence, per-contact
//! pauses, facts (after a yes), reminders, identity corrections, disclosure.

use rusqlite::Connection;
use serde_json::json;

use super::grammar::Presence;
use super::views::{human_duration, local_time};
use crate::memory::handle::Canonicalizer;
use crate::memory::people::{self, MemoryError};
use crate::owner_state::{self, Key};

/// One person by name or handle, or the sentence that says why not.
pub fn person(
    conn: &Connection,
    who: &str,
    canon: &Canonicalizer,
) -> Result<(String, String), String> {
    match people::find(conn, who, canon) {
        Ok(id) => {
            let name = conn
                .query_row("SELECT name FROM people WHERE id = ?1", [&id], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .ok()
                .flatten()
                .unwrap_or_else(|| who.to_string());
            Ok((id, name))
        }
        Err(MemoryError::NotFound(_)) => Err(format!("🤷 I don't know anyone called {who}.")),
        Err(MemoryError::Ambiguous { ids, .. }) => Err(format!(
            "🤷 {who} could be {} people; use their full name or number.",
            ids.len()
        )),
        Err(e) => Err(format!("⚠️ {e}")),
    }
}

pub fn set_presence(
    conn: &Connection,
    p: &Presence,
    until_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> rusqlite::Result<String> {
    owner_state::set(
        conn,
        Key::Presence,
        &json!({
            "state": p.state, "text": p.text, "place": p.place,
            "setAtMs": owner_state::now_ms(), "untilMs": until_ms,
        }),
    )?;
    Ok(format!(
        "👍 status: {} until {} (contacts hear only that you're {}).",
        p.text,
        local_time(until_ms, tz),
        match p.state {
            "sleep" => "asleep",
            "driving" => "driving",
            "focus" | "busy" => "busy",
            "free" => "around",
            _ => "away",
        }
    ))
}

pub fn pause_contact(
    conn: &Connection,
    who: &str,
    until_ms: Option<i64>,
    canon: &Canonicalizer,
    tz: &jiff::tz::TimeZone,
) -> rusqlite::Result<String> {
    let (id, name) = match person(conn, who, canon) {
        Ok(p) => p,
        Err(msg) => return Ok(msg),
    };
    // "Until resumed" is a pause that outlives any realistic uptime.
    let forever = owner_state::now_ms() + 100 * 365 * 86_400_000;
    owner_state::pause_contact(conn, &id, until_ms.unwrap_or(forever), "owner")?;
    Ok(match until_ms {
        Some(u) => format!(
            "⏸ paused {name} until {}; I won't draft replies to them.",
            local_time(u, tz)
        ),
        None => format!("⏸ paused {name}; say \"resume {name}\" when ready."),
    })
}

pub fn resume_contact(
    conn: &Connection,
    who: &str,
    canon: &Canonicalizer,
) -> rusqlite::Result<String> {
    let (id, name) = match person(conn, who, canon) {
        Ok(p) => p,
        Err(msg) => return Ok(msg),
    };
    Ok(if owner_state::resume_contact(conn, &id)? {
        format!("▶️ {name} resumed.")
    } else {
        format!("{name} was not paused.")
    })
}

pub fn whats_paused(
    conn: &Connection,
    now_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> rusqlite::Result<String> {
    let mut out = String::new();
    match owner_state::global_pause(conn, now_ms)? {
        Some(Some(u)) => out.push_str(&format!("⏸ everything until {}\n", local_time(u, tz))),
        Some(None) => out.push_str("⏸ everything, until you say resume\n"),
        None => {}
    }
    for p in owner_state::paused_contacts(conn, now_ms)? {
        let left = p.until_ms - now_ms;
        let when = if left > 365 * 86_400_000 {
            "until resumed".to_string()
        } else {
            format!("for {}", human_duration(left))
        };
        out.push_str(&format!(
            "⏸ {} {when} ({})\n",
            p.name.as_deref().unwrap_or(&p.person_id),
            p.reason
        ));
    }
    if out.is_empty() {
        out.push_str("nothing is paused.");
    }
    Ok(out.trim_end().to_string())
}

/// Ask before saving a typed fact.
pub fn remember(
    conn: &Connection,
    who: &str,
    key: &str,
    value: &str,
    canon: &Canonicalizer,
) -> rusqlite::Result<String> {
    let (id, name) = match person(conn, who, canon) {
        Ok(p) => p,
        Err(msg) => return Ok(msg),
    };
    owner_state::set(
        conn,
        Key::Question,
        &json!({ "kind": "fact", "personId": id, "name": name, "key": key, "value": value }),
    )?;
    Ok(format!("📝 save {name}'s {key}: {value}? yes/no"))
}

/// The owner's yes or no to the last question.
pub fn answer(conn: &Connection, yes: bool, now_ms: i64) -> rusqlite::Result<String> {
    let question = owner_state::get(conn, Key::Question)?
        .filter(|(_, at)| now_ms - at <= owner_state::QUESTION_TTL_MS);
    owner_state::clear(conn, Key::Question)?;
    let Some((q, _)) = question else {
        return Ok("🤷 there's no question waiting for a yes or no.".into());
    };
    let name = q["name"].as_str().unwrap_or("them");
    if q["kind"] == "merge" {
        return merge_answer(conn, &q, name, yes);
    }
    let (key, value) = (
        q["key"].as_str().unwrap_or_default(),
        q["value"].as_str().unwrap_or_default(),
    );
    if !yes {
        return Ok(format!("👍 not saved: {name}'s {key}."));
    }
    let person = q["personId"].as_str().unwrap_or_default();
    let added = crate::memory::query::add_fact(conn, person, key, value, "owner", 1.0)?;
    Ok(if added {
        format!("📝 noted — {name}'s {key}: {value}")
    } else {
        format!("already known — {name}'s {key}: {value}")
    })
}

/// The owner's yes to "merge Ann Lee?" (a new Telegram contact that looks
/// like someone in memory): the new person joins the known one.
fn merge_answer(
    conn: &Connection,
    q: &serde_json::Value,
    name: &str,
    yes: bool,
) -> rusqlite::Result<String> {
    if !yes {
        return Ok(format!("👍 kept apart from {name}."));
    }
    let (into, from) = (
        q["personId"].as_str().unwrap_or_default(),
        q["fromId"].as_str().unwrap_or_default(),
    );
    Ok(match crate::memory::people::merge(conn, into, from) {
        Ok(_) => format!("🔗 merged into {name}."),
        Err(crate::memory::people::MemoryError::Sqlite(e)) => return Err(e),
        Err(e) => format!("⚠️ not merged: {e}"),
    })
}

pub fn remind(
    conn: &Connection,
    title: &str,
    now_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> rusqlite::Result<String> {
    // At the time asked ("at 6pm", "tomorrow", "on friday"); with none, the
    // concierge's first nudge comes 45 minutes after capture.
    let (task, when) = super::when::split(title);
    let title = task.as_str();
    let next = match when {
        Some(w) => jiff::Timestamp::from_millisecond(now_ms)
            .map(|now| w.resolve(now, tz).as_millisecond())
            .unwrap_or(now_ms + 45 * 60_000),
        None => now_ms + 45 * 60_000,
    };
    conn.execute(
        "INSERT INTO commitments (title, source, next_nudge_ms, created_ms) VALUES (?1, 'owner', ?2, ?3)",
        rusqlite::params![title, next, now_ms],
    )?;
    Ok(format!(
        "📌 noted: {title} — I'll nudge you at {}.",
        local_time(next, tz)
    ))
}

pub fn identity(
    conn: &Connection,
    handle: &str,
    name: &str,
    canon: &Canonicalizer,
) -> rusqlite::Result<String> {
    let h = canon.canonicalize(handle);
    Ok(match people::correct_identity(conn, &h, name) {
        Ok(_) => format!("👍 {handle} is {name}."),
        Err(MemoryError::Sqlite(e)) => return Err(e),
        Err(e) => format!("🤷 {e}"),
    })
}

/// Watch a group (by its name) for mentions of the owner, or stop.
pub fn monitor(conn: &Connection, group: &str, on: bool) -> rusqlite::Result<String> {
    let found: Vec<(i64, String)> = conn
        .prepare(
            "SELECT id, COALESCE(name, external_id) FROM chats
             WHERE kind = 'group' AND lower(COALESCE(name, '')) LIKE '%' || lower(?1) || '%' LIMIT 3",
        )?
        .query_map([group], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let (id, name) = match found.as_slice() {
        [one] => one.clone(),
        [] => return Ok(format!("🤷 no group called {group}.")),
        _ => {
            return Ok(format!(
                "🤷 {group} matches several groups; use more of the name."
            ));
        }
    };
    if on {
        conn.execute(
            "INSERT OR IGNORE INTO monitored_chats (chat_id, created_at) VALUES (?1, ?2)",
            rusqlite::params![id, jiff::Timestamp::now().to_string()],
        )?;
        Ok(format!(
            "👀 watching {name}: I'll draft when someone mentions you there."
        ))
    } else {
        conn.execute("DELETE FROM monitored_chats WHERE chat_id = ?1", [id])?;
        Ok(format!("🙈 no longer watching {name}."))
    }
}

/// The last messages with one person, from memory.
pub fn peek(conn: &Connection, who: &str, canon: &Canonicalizer) -> rusqlite::Result<String> {
    let (id, name) = match person(conn, who, canon) {
        Ok(p) => p,
        Err(msg) => return Ok(msg),
    };
    let mut stmt = conn.prepare_cached(
        "SELECT direction, text, at_ms, channel FROM messages WHERE person_id = ?1 AND is_command = 0
         ORDER BY at_ms DESC, id DESC LIMIT 6",
    )?;
    let mut rows: Vec<(String, String, i64, String)> = stmt
        .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok(format!("💬 nothing from {name} yet."));
    }
    rows.reverse();
    let now = owner_state::now_ms();
    let mut out = format!("💬 {name}, latest last:\n");
    for (dir, text, at, channel) in rows {
        let who = if dir == "out" { "you" } else { name.as_str() };
        let text: String = text.chars().take(200).collect();
        out.push_str(&format!(
            "{who} ({} ago, {channel}): {text}\n",
            human_duration(now - at)
        ));
    }
    Ok(out.trim_end().to_string())
}

pub fn disclose(
    conn: &Connection,
    who: &str,
    allow: bool,
    canon: &Canonicalizer,
) -> rusqlite::Result<String> {
    let (id, name) = match person(conn, who, canon) {
        Ok(p) => p,
        Err(msg) => return Ok(msg),
    };
    owner_state::set_disclosure(conn, &id, allow)?;
    Ok(if allow {
        format!("🔓 I may tell {name} where you are (inner circle rules still apply).")
    } else {
        format!("🔒 I won't tell {name} where you are.")
    })
}
