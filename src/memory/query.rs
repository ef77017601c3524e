//! Reading memory: the `people` and `person show` shapes, facts, and
//! `context(person, chat, query)`, the bundle later agents draft from.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::people::handles_of;

/// A row of `steward people --json` (the contract).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonSummary {
    pub id: String,
    pub name: Option<String>,
    pub handles: Vec<String>,
    pub channels: Vec<String>,
    pub message_count: i64,
    pub last_message_at: Option<String>,
    pub is_owner: bool,
}

fn summary(conn: &Connection, id: &str) -> rusqlite::Result<PersonSummary> {
    let (name, is_owner, last): (Option<String>, bool, Option<i64>) = conn
        .prepare_cached("SELECT name, is_owner, last_message_ms FROM people WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM messages WHERE person_id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT channel FROM messages WHERE person_id = ?1 ORDER BY channel",
    )?;
    let channels = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(PersonSummary {
        id: id.to_string(),
        name,
        handles: handles_of(conn, id)?,
        channels,
        message_count: count,
        last_message_at: last.map(super::messages::rfc3339_ms),
        is_owner,
    })
}

/// Everyone, most recently active first; `search` matches names and handles.
pub fn people(
    conn: &Connection,
    search: Option<&str>,
    canonical: Option<&str>,
) -> rusqlite::Result<Vec<PersonSummary>> {
    people_limited(conn, search, canonical, u32::MAX)
}

/// `people`, the most recently active `limit` only (the dashboard's list).
pub fn people_limited(
    conn: &Connection,
    search: Option<&str>,
    canonical: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<PersonSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id FROM people p
         WHERE ?1 IS NULL
            OR p.name LIKE '%' || ?1 || '%'
            OR EXISTS (SELECT 1 FROM handles h WHERE h.person_id = p.id
                       AND (h.handle LIKE '%' || ?1 || '%' OR h.handle = ?2))
         ORDER BY p.last_message_ms DESC NULLS LAST, p.name, p.id
         LIMIT ?3",
    )?;
    let ids: Vec<String> = stmt
        .query_map(params![search, canonical, limit], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.iter().map(|id| summary(conn, id)).collect()
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fact {
    pub key: String,
    pub value: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub channel: String,
    pub chat: Option<String>,
    pub direction: String,
    pub text: String,
    pub at: String,
    pub edited: bool,
}

/// `steward person show --json` (the contract).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonDetail {
    pub id: String,
    pub name: Option<String>,
    pub handles: Vec<String>,
    pub facts: Vec<Fact>,
    pub message_count: i64,
    pub recent: Vec<Line>,
}

pub fn facts(conn: &Connection, id: &str, limit: u32) -> rusqlite::Result<Vec<Fact>> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, value, source FROM facts WHERE person_id = ?1 ORDER BY confidence DESC, learned_at DESC LIMIT ?2",
    )?;
    stmt.query_map(params![id, limit], |r| {
        Ok(Fact {
            key: r.get(0)?,
            value: r.get(1)?,
            source: r.get(2)?,
        })
    })?
    .collect()
}

pub fn add_fact(
    conn: &Connection,
    id: &str,
    key: &str,
    value: &str,
    source: &str,
    confidence: f64,
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO facts (person_id, key, value, source, confidence, learned_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, key, value, source, confidence, jiff::Timestamp::now().to_string()],
    )?;
    Ok(n == 1)
}

const LINE_COLUMNS: &str =
    "m.channel, COALESCE(c.name, c.external_id), m.direction, m.text, m.at, m.edited";

fn line(r: &rusqlite::Row<'_>) -> rusqlite::Result<Line> {
    Ok(Line {
        channel: r.get(0)?,
        chat: r.get(1)?,
        direction: r.get(2)?,
        text: r.get(3)?,
        at: r.get(4)?,
        edited: r.get(5)?,
    })
}

pub fn show(conn: &Connection, id: &str, limit: u32) -> rusqlite::Result<PersonDetail> {
    let s = summary(conn, id)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {LINE_COLUMNS} FROM messages m LEFT JOIN chats c ON c.id = m.chat_id
         WHERE m.person_id = ?1 ORDER BY m.at_ms DESC, m.id DESC LIMIT ?2"
    ))?;
    let recent = stmt
        .query_map(params![id, limit], line)?
        .collect::<Result<_, _>>()?;
    Ok(PersonDetail {
        id: s.id,
        name: s.name,
        handles: s.handles,
        facts: facts(conn, id, 100)?,
        message_count: s.message_count,
        recent,
    })
}

/// Section caps for [`context`].
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub facts: u32,
    pub thread: u32,
    pub other_channels: u32,
    pub matches: u32,
    /// Longest text of any one line, in characters.
    pub line_chars: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            facts: 10,
            thread: 20,
            other_channels: 6,
            matches: 6,
            line_chars: 500,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    pub person: PersonSummary,
    pub facts: Vec<Fact>,
    /// The last messages of this chat, oldest first.
    pub thread: Vec<Line>,
    /// Recent messages with this person on other channels, newest first.
    pub other_channels: Vec<Line>,
    /// Full-text matches for the query among this person's messages, newest first.
    /// (Not bm25: its IDF walks every doclist of a common word on each call.)
    pub matches: Vec<Line>,
}

/// Turn free text into a safe FTS5 query: each word quoted, all required.
fn fts_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .take(8)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// Restrict a text query to one person's messages (their id is an FTS column).
fn person_query(person: &str, words: &str) -> String {
    format!(
        "person_id : \"{}\" AND text : ({words})",
        person.replace('"', "")
    )
}

/// What later agents read: the person, their facts, this chat's thread, their
/// other channels, and matches for `query`, each capped.
pub fn context(
    conn: &Connection,
    person: &str,
    chat: Option<i64>,
    query: Option<&str>,
    caps: Caps,
) -> rusqlite::Result<Context> {
    let clip = |mut l: Line| {
        if l.text.chars().count() > caps.line_chars {
            l.text = l.text.chars().take(caps.line_chars).collect::<String>() + "…";
        }
        l
    };
    let mut thread: Vec<Line> = match chat {
        Some(chat) => conn
            .prepare_cached(&format!(
                "SELECT {LINE_COLUMNS} FROM messages m LEFT JOIN chats c ON c.id = m.chat_id
                 WHERE m.chat_id = ?1 ORDER BY m.at_ms DESC, m.id DESC LIMIT ?2"
            ))?
            .query_map(params![chat, caps.thread], line)?
            .map(|l| l.map(clip))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    thread.reverse();
    let other_channels = conn
        .prepare_cached(&format!(
            "SELECT {LINE_COLUMNS} FROM messages m LEFT JOIN chats c ON c.id = m.chat_id
             WHERE m.person_id = ?1 AND (?2 IS NULL OR m.chat_id IS NOT ?2)
             ORDER BY m.at_ms DESC LIMIT ?3"
        ))?
        .query_map(params![person, chat, caps.other_channels], line)?
        .map(|l| l.map(clip))
        .collect::<Result<_, _>>()?;
    let matches = match query.and_then(fts_query) {
        Some(q) => conn
            .prepare_cached(&format!(
                "SELECT {LINE_COLUMNS} FROM messages_fts f JOIN messages m ON m.id = f.rowid
                 LEFT JOIN chats c ON c.id = m.chat_id
                 WHERE messages_fts MATCH ?1 ORDER BY f.rowid DESC LIMIT ?2"
            ))?
            .query_map(params![person_query(person, &q), caps.matches], line)?
            .map(|l| l.map(clip))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(Context {
        person: summary(conn, person)?,
        facts: facts(conn, person, caps.facts)?,
        thread,
        other_channels,
        matches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_are_quoted_words() {
        assert_eq!(
            fts_query("the deck, tonight?").as_deref(),
            Some("\"the\" \"deck\" \"tonight\"")
        );
        // Operators become quoted words; punctuation alone is no query.
        assert_eq!(fts_query("a OR b*").as_deref(), Some("\"OR\""));
        assert_eq!(fts_query("\" * - ("), None);
    }
}
