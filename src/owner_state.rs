//! The owner's durable switches: kill switch, global pause, per-contact pauses,
//! disclosure rules, the echo ledger, the last numbered list and the question
//! awaiting a yes/no. All of it lives in the store so it holds across restarts.
//!
//! It sits below the pipeline (which reads the kill switch at admission and
//! records echoes as it sends) and below the commands, the assistant and the
//! agents that set and read it, so none of them has to import another for it.
//! The tables are migration 0005's (`owner_state`, `contact_pauses`,
//! `disclosure_rules`, `owner_echoes`), unchanged.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A row of `owner_state`. A key is a variant, so a misspelt key does not
/// compile; its text is what the table stores, so existing rows keep working:
/// a variant may be renamed, its text never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// `true` while the kill switch is on (the row is deleted when off).
    KillSwitch,
    /// The global pause: `{untilMs}`, null until resumed.
    Pause,
    /// The owner's manual status: `{state, text, place, setAtMs, untilMs}`.
    Presence,
    /// The last numbered list, a JSON array of [`ListItem`].
    List,
    /// The question awaiting a yes/no.
    Question,
    /// The profile problem the owner was last told about.
    ProfileProblem,
    /// The owner was told once that drafts need a model.
    NoDraftModelTold,
    /// The rest of the last model answer relayed to the owner: `{text}`.
    More,
}

impl Key {
    /// The stored text of the key.
    pub fn as_str(self) -> &'static str {
        match self {
            Key::KillSwitch => "killSwitch",
            Key::Pause => "pause",
            Key::Presence => "presence",
            Key::List => "list",
            Key::Question => "question",
            Key::ProfileProblem => "profileProblem",
            Key::NoDraftModelTold => "noDraftModelTold",
            Key::More => "more",
        }
    }
}

/// A numbered list answers replies for this long.
pub const LIST_TTL_MS: i64 = 15 * 60 * 1000;
/// A yes/no question waits this long.
pub const QUESTION_TTL_MS: i64 = 10 * 60 * 1000;
/// An echo older than this is no longer expected back.
const ECHO_TTL_MS: i64 = 24 * 3600 * 1000;

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub fn get(conn: &Connection, key: Key) -> rusqlite::Result<Option<(Value, i64)>> {
    conn.query_row(
        "SELECT value, at_ms FROM owner_state WHERE key = ?1",
        [key.as_str()],
        |r| Ok((r.get::<_, String>(0)?, r.get(1)?)),
    )
    .optional()
    .map(|o| o.map(|(v, at)| (serde_json::from_str(&v).unwrap_or(Value::Null), at)))
}

pub fn set(conn: &Connection, key: Key, value: &Value) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO owner_state (key, value, at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, at_ms = excluded.at_ms",
        params![key.as_str(), value.to_string(), now_ms()],
    )?;
    Ok(())
}

pub fn clear(conn: &Connection, key: Key) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM owner_state WHERE key = ?1", [key.as_str()])? > 0)
}

/// Keep the rest of a long answer for the owner's `more`; `None` clears it, so
/// `more` always continues the latest answer.
pub fn set_more(conn: &Connection, rest: Option<&str>) -> rusqlite::Result<()> {
    match rest {
        Some(text) => set(conn, Key::More, &serde_json::json!({ "text": text })),
        None => clear(conn, Key::More).map(|_| ()),
    }
}

/// The rest of the last long answer, if any is left.
pub fn more(conn: &Connection) -> rusqlite::Result<Option<String>> {
    Ok(get(conn, Key::More)?.and_then(|(v, _)| v["text"].as_str().map(str::to_string)))
}

pub fn kill_switch(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(get(conn, Key::KillSwitch)?.is_some_and(|(v, _)| v == Value::Bool(true)))
}

pub fn set_kill_switch(conn: &Connection, on: bool) -> rusqlite::Result<()> {
    if on {
        set(conn, Key::KillSwitch, &Value::Bool(true))
    } else {
        clear(conn, Key::KillSwitch).map(|_| ())
    }
}

/// The global pause: `Some(None)` until resumed, `Some(Some(ms))` until then.
pub fn global_pause(conn: &Connection, now: i64) -> rusqlite::Result<Option<Option<i64>>> {
    Ok(match get(conn, Key::Pause)? {
        None => None,
        Some((v, _)) => match v["untilMs"].as_i64() {
            Some(until) if until <= now => None,
            until => Some(until),
        },
    })
}

pub fn set_global_pause(conn: &Connection, until_ms: Option<i64>) -> rusqlite::Result<()> {
    set(
        conn,
        Key::Pause,
        &serde_json::json!({ "untilMs": until_ms }),
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactPause {
    pub person_id: String,
    pub name: Option<String>,
    pub until_ms: i64,
    pub reason: String,
}

pub fn pause_contact(
    conn: &Connection,
    person_id: &str,
    until_ms: i64,
    reason: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO contact_pauses (person_id, until_ms, reason, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (person_id) DO UPDATE SET until_ms = excluded.until_ms, reason = excluded.reason,
         created_at = excluded.created_at",
        params![person_id, until_ms, reason, jiff::Timestamp::now().to_string()],
    )?;
    Ok(())
}

pub fn resume_contact(conn: &Connection, person_id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM contact_pauses WHERE person_id = ?1",
        [person_id],
    )? > 0)
}

pub fn resume_all(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM contact_pauses", [])
}

pub fn paused_contacts(conn: &Connection, now: i64) -> rusqlite::Result<Vec<ContactPause>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.person_id, pe.name, p.until_ms, p.reason FROM contact_pauses p
         LEFT JOIN people pe ON pe.id = p.person_id WHERE p.until_ms > ?1 ORDER BY p.until_ms",
    )?;
    stmt.query_map([now], |r| {
        Ok(ContactPause {
            person_id: r.get(0)?,
            name: r.get(1)?,
            until_ms: r.get(2)?,
            reason: r.get(3)?,
        })
    })?
    .collect()
}

pub fn contact_paused(conn: &Connection, person_id: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM contact_pauses WHERE person_id = ?1 AND until_ms > ?2",
            params![person_id, now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn echo_hash(text: &str) -> String {
    crate::canonical::sha256_hex(text.trim().as_bytes())
}

/// Remember that Steward is about to send `text` to the owner's chat on `channel`.
pub fn record_echo(conn: &Connection, channel: &str, text: &str) -> rusqlite::Result<()> {
    let now = now_ms();
    conn.execute(
        "DELETE FROM owner_echoes WHERE at_ms < ?1",
        [now - ECHO_TTL_MS],
    )?;
    conn.execute(
        "INSERT INTO owner_echoes (channel, text_hash, at_ms) VALUES (?1, ?2, ?3)",
        params![channel, echo_hash(text), now],
    )?;
    Ok(())
}

/// Is this owner-chat line Steward's own send coming back? Consumes the match.
pub fn take_echo(conn: &Connection, channel: &str, text: &str) -> rusqlite::Result<bool> {
    let id: Option<i64> = conn
        .query_row(
            "SELECT id FROM owner_echoes WHERE channel = ?1 AND text_hash = ?2 AND at_ms >= ?3
             ORDER BY at_ms LIMIT 1",
            params![channel, echo_hash(text), now_ms() - ECHO_TTL_MS],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        Some(id) => {
            conn.execute("DELETE FROM owner_echoes WHERE id = ?1", [id])?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The owner's manual status, if it has not run out.
pub fn presence_now(conn: &Connection, now_ms: i64) -> rusqlite::Result<Option<Value>> {
    Ok(get(conn, Key::Presence)?
        .map(|(v, _)| v)
        .filter(|v| v["untilMs"].as_i64().is_some_and(|u| u > now_ms)))
}

/// One entry of a numbered list the owner can answer by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "id")]
pub enum ListItem {
    Confirmation(String),
    Commitment(i64),
    Run(String),
    News(i64),
}

pub fn set_list(conn: &Connection, items: &[ListItem]) -> rusqlite::Result<()> {
    set(
        conn,
        Key::List,
        &serde_json::to_value(items).unwrap_or_default(),
    )
}

/// The last list, if it is still fresh.
pub fn list(conn: &Connection, now: i64) -> rusqlite::Result<Option<Vec<ListItem>>> {
    Ok(match get(conn, Key::List)? {
        Some((v, at)) if now - at <= LIST_TTL_MS => serde_json::from_value(v).ok(),
        _ => None,
    })
}

pub fn set_disclosure(conn: &Connection, person_id: &str, allow: bool) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO disclosure_rules (person_id, allow, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (person_id) DO UPDATE SET allow = excluded.allow, updated_at = excluded.updated_at",
        params![person_id, allow, jiff::Timestamp::now().to_string()],
    )?;
    Ok(())
}

/// The owner said not to tell this person where they are.
pub fn location_denied(conn: &Connection, person_id: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT allow FROM disclosure_rules WHERE person_id = ?1",
            [person_id],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        == Some(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut c = Connection::open(&path).unwrap();
        crate::store::migrate::migrate(&mut c).unwrap();
        std::mem::forget(dir);
        c
    }

    /// The stored texts are the schema: rows written before the keys were typed
    /// must still be read.
    #[test]
    fn keys_keep_their_stored_text() {
        let all = [
            (Key::KillSwitch, "killSwitch"),
            (Key::Pause, "pause"),
            (Key::Presence, "presence"),
            (Key::List, "list"),
            (Key::Question, "question"),
            (Key::ProfileProblem, "profileProblem"),
            (Key::NoDraftModelTold, "noDraftModelTold"),
            (Key::More, "more"),
        ];
        for (key, text) in all {
            assert_eq!(key.as_str(), text);
        }
        let c = conn();
        c.execute(
            "INSERT INTO owner_state (key, value, at_ms) VALUES ('killSwitch', 'true', 1)",
            [],
        )
        .unwrap();
        assert!(
            kill_switch(&c).unwrap(),
            "a row written with the old string key"
        );
    }

    #[test]
    fn echoes_are_consumed_once_and_per_channel() {
        let c = conn();
        record_echo(&c, "imessage", "🏓 pong").unwrap();
        assert!(!take_echo(&c, "console", "🏓 pong").unwrap());
        assert!(take_echo(&c, "imessage", " 🏓 pong ").unwrap());
        assert!(!take_echo(&c, "imessage", "🏓 pong").unwrap(), "only once");
    }

    #[test]
    fn kill_switch_and_pause_persist() {
        let c = conn();
        assert!(!kill_switch(&c).unwrap());
        set_kill_switch(&c, true).unwrap();
        assert!(kill_switch(&c).unwrap());
        set_kill_switch(&c, false).unwrap();
        assert!(!kill_switch(&c).unwrap());
        set_global_pause(&c, Some(1_000)).unwrap();
        assert_eq!(global_pause(&c, 500).unwrap(), Some(Some(1_000)));
        assert_eq!(global_pause(&c, 1_000).unwrap(), None, "expired");
        set_global_pause(&c, None).unwrap();
        assert_eq!(global_pause(&c, 5_000).unwrap(), Some(None));
    }
}
