//! What a draft is written from: the contact, the owner's rules for them, the
//! thread, the owner's own past messages to them (style), and availability —
//! never the owner's place unless the profile puts them in the inner circle and
//! no disclosure rule forbids it, never the owner's facts or private lines.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::memory::query::{self, Caps};
use crate::owner_state;
use crate::profile::{OwnerProfile, Relationship};
use crate::prompts::{KeyValue, PromptError, Prompts};
use crate::signals::{presence, signal};
use crate::types::Inbound;

/// Everything known about the contact and the owner for one draft.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub name: String,
    pub relationship: Option<Relationship>,
    pub location_denied: bool,
    /// Their messages in the 10 minutes up to this one, never after it (multi-turn probes).
    pub recent: Vec<String>,
    pub facts: Vec<(String, String)>,
    /// (from_owner, text), oldest first.
    pub thread: Vec<(bool, String)>,
    /// The owner's own past messages to them.
    pub style: Vec<String>,
    pub message_count: i64,
    /// What they may be told: "heads-down right now".
    pub availability: Option<String>,
    /// Where the owner is, only when they may know.
    pub place: Option<String>,
}

const RECENT_MS: i64 = 10 * 60_000;

pub fn gather(
    conn: &Connection,
    msg: &Inbound,
    profile: &OwnerProfile,
    now_ms: i64,
) -> rusqlite::Result<Context> {
    let ctx = query::context(
        conn,
        &msg.person_id,
        None,
        None,
        Caps {
            thread: 0,
            other_channels: 0,
            matches: 0,
            ..Caps::default()
        },
    )?;
    let name = ctx
        .person
        .name
        .clone()
        .or_else(|| msg.handle.clone())
        .unwrap_or_else(|| "them".into());
    let relationship = profile
        .relationship(&name)
        .or_else(|| msg.handle.as_deref().and_then(|h| profile.relationship(h)))
        .cloned();
    let location_denied = owner_state::location_denied(conn, &msg.person_id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT direction, text, external_id FROM messages WHERE person_id = ?1
         ORDER BY at_ms DESC, id DESC LIMIT 16",
    )?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([&msg.person_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut thread: Vec<(bool, String)> = Vec::new();
    for (dir, text, ext) in &rows {
        if *ext == msg.external_id {
            continue;
        }
        thread.push((dir == "out", text.clone()));
    }
    thread.reverse();
    let recent = recent_before(conn, msg)?;
    let style: Vec<String> = conn
        .prepare_cached(
            "SELECT text FROM messages WHERE person_id = ?1 AND direction = 'out'
             ORDER BY at_ms DESC LIMIT 8",
        )?
        .query_map([&msg.person_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let facts = ctx
        .facts
        .iter()
        .map(|f| (f.key.clone(), f.value.clone()))
        .collect();
    let since = now_ms - presence::PLACE_FRESH_MS.max(presence::FOCUS_FRESH_MS);
    let signals: Vec<signal::Signal> = signal::since(conn, since)?
        .into_iter()
        .map(|(_, _, s)| s)
        .collect();
    let manual = owner_state::presence_now(conn, now_ms)?;
    let availability = match manual.as_ref().and_then(|p| p["state"].as_str()) {
        Some("sleep") => Some("asleep right now"),
        Some("driving") => Some("driving right now"),
        Some("focus" | "busy") => Some("heads-down right now"),
        Some("away") => Some("away right now"),
        Some(_) => None,
        None => presence::availability(&signals, now_ms),
    }
    .map(str::to_string);
    let inner = relationship.as_ref().is_some_and(|r| r.inner_circle);
    let place = if inner && !location_denied {
        manual
            .as_ref()
            .and_then(|p| p["place"].as_str().map(str::to_string))
            .or_else(|| presence::place(&signals, now_ms))
    } else {
        None
    };
    let message_count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM messages WHERE person_id = ?1",
        params![msg.person_id],
        |r| r.get(0),
    )?;
    Ok(Context {
        name,
        relationship,
        location_denied,
        recent,
        facts,
        thread,
        style,
        message_count,
        availability,
        place,
    })
}

/// Their last few messages in the window that ends at the judged one, oldest
/// first. Only messages at or before it count: a message handled late (queued,
/// or after a restart) must not be judged by what the contact wrote afterwards.
fn recent_before(conn: &Connection, msg: &Inbound) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT text FROM messages WHERE person_id = ?1 AND direction = 'in'
           AND at_ms <= ?2 AND at_ms >= ?2 - ?3 AND external_id != ?4
         ORDER BY at_ms DESC, id DESC LIMIT 3",
    )?;
    let mut recent: Vec<String> = stmt
        .query_map(
            params![msg.person_id, msg.at_ms, RECENT_MS, msg.external_id],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    recent.reverse();
    Ok(recent)
}

/// What the contact-assistant template sees: the contact, the owner's rules
/// for them and the thread — and nothing else of the owner's (no facts, no
/// private lines), so no override of the template can leak them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DraftVars<'a> {
    owner: &'a str,
    name: &'a str,
    #[serde(rename = "how_i_text")]
    how_i_text: &'a str,
    lessons: &'a [String],
    relationship: Option<RelationshipVars<'a>>,
    facts: Vec<KeyValue<'a>>,
    place: Option<&'a str>,
    availability: Option<&'a str>,
    style: Vec<String>,
    thread: Vec<ThreadLine<'a>>,
    message: &'a str,
    retry: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RelationshipVars<'a> {
    relation: &'a str,
    address_as: Option<&'a str>,
    never: &'a [String],
}

#[derive(Debug, Serialize)]
struct ThreadLine<'a> {
    who: &'a str,
    text: String,
}

/// The draft prompt, from the `contact-assistant` template. Everything the
/// contact wrote is passed as data.
pub fn prompt(
    prompts: &Prompts,
    ctx: &Context,
    msg: &Inbound,
    profile: &OwnerProfile,
    owner_name: &str,
    retry: Option<&str>,
) -> Result<String, PromptError> {
    let owner = if owner_name.is_empty() {
        "the owner"
    } else {
        owner_name
    };
    let thread = ctx.thread.iter().rev().take(12).rev();
    let vars = DraftVars {
        owner,
        name: &ctx.name,
        how_i_text: &profile.how_i_text,
        lessons: &profile.style_lessons,
        relationship: ctx.relationship.as_ref().map(|r| RelationshipVars {
            relation: &r.relation,
            address_as: r.address_as.as_deref(),
            never: &r.never,
        }),
        facts: ctx
            .facts
            .iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect(),
        place: ctx.place.as_deref(),
        availability: ctx.availability.as_deref(),
        style: ctx.style.iter().take(8).map(|s| one_line(s)).collect(),
        thread: thread
            .map(|(mine, text)| ThreadLine {
                who: if *mine { owner } else { "them" },
                text: one_line(text),
            })
            .collect(),
        message: &msg.text,
        retry,
    };
    prompts.render(crate::prompts::CONTACT_ASSISTANT, &vars)
}

fn one_line(s: &str) -> String {
    let t: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    t.chars().take(300).collect()
}
