//! People and their handles: resolution, Contacts cards, the owner, merge,
//! split and forget. Plain functions over a connection; callers own the
//! transaction (an import batch, a CLI command).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::handle::{Canonicalizer, Handle};

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("no person matches {0:?}; `steward people --search …` lists them")]
    NotFound(String),
    #[error("{query:?} matches several people ({}); use an id or a handle", ids.join(", "))]
    Ambiguous { query: String, ids: Vec<String> },
    #[error("cannot merge a person with themself")]
    SamePerson,
    #[error("{0} is the only handle of its person; there is nothing to split off")]
    OnlyHandle(String),
    #[error("{0} is one of your own handles; it cannot be someone else's")]
    OwnHandle(String),
    #[error("memory database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// `p` + 12 hex digits: one token to the full-text tokenizer (no `_`), so
/// "this person's messages" is a short doclist, not every row's "p".
pub fn new_person_id() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    format!("p{}", hex::encode(b))
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

pub fn person_for_handle(conn: &Connection, handle: &Handle) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT person_id FROM handles WHERE handle = ?1")?
        .query_row([handle.as_str()], |r| r.get(0))
        .optional()
}

fn create_person(
    conn: &Connection,
    name: Option<&str>,
    name_source: Option<&str>,
    owner: bool,
) -> rusqlite::Result<String> {
    let id = new_person_id();
    conn.prepare_cached("INSERT INTO people (id, name, name_source, is_owner, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![id, name, name_source, owner, now()])?;
    Ok(id)
}

fn insert_handle(
    conn: &Connection,
    handle: &Handle,
    person: &str,
    source: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO handles (handle, person_id, source, first_seen) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (handle) DO UPDATE SET person_id = excluded.person_id",
    )?
    .execute(params![handle.as_str(), person, source, now()])?;
    Ok(())
}

/// The person a handle belongs to; a handle seen first creates a person.
/// Returns `(person_id, created)`.
pub fn resolve(conn: &Connection, handle: &Handle, source: &str) -> rusqlite::Result<Resolved> {
    if let Some(id) = person_for_handle(conn, handle)? {
        return Ok(Resolved::Known(id));
    }
    // Only a handle nobody holds can be a forgotten one: the check costs a
    // query per new handle, never one per message.
    if is_forgotten(conn, handle)? {
        return Ok(Resolved::Forgotten);
    }
    let id = create_person(conn, None, None, false)?;
    insert_handle(conn, handle, &id, source)?;
    Ok(Resolved::Created(id))
}

/// Bumped by every change that moves a handle to another person or deletes
/// one (merge, split, forget, an identity correction), so a long-lived reader's
/// handle → person cache starts over instead of filing a message under the
/// wrong (or a deleted) person.
const GENERATION: &str = "people.generation";

pub fn generation(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(super::messages::get_cursor(conn, GENERATION)?.unwrap_or(0))
}

/// A long-lived reader's handle → person cache that empties itself when
/// people change (merge, split, forget, an identity correction): call
/// `refresh` at the start of each batch.
#[derive(Debug, Default)]
pub struct Known {
    people: std::collections::HashMap<Handle, String>,
    generation: i64,
}

impl Known {
    pub fn new(conn: &Connection) -> rusqlite::Result<Known> {
        Ok(Known {
            people: Default::default(),
            generation: generation(conn)?,
        })
    }

    /// Forget every cached answer if people changed since the last batch.
    pub fn refresh(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let now = generation(conn)?;
        if now != self.generation {
            self.people.clear();
            self.generation = now;
        }
        Ok(())
    }

    pub fn get(&self, handle: &Handle) -> Option<&String> {
        self.people.get(handle)
    }

    pub fn insert(&mut self, handle: Handle, person: String) {
        self.people.insert(handle, person);
    }
}

fn bump_generation(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO source_cursors (source, value, updated_at) VALUES (?1, 1, ?2)
         ON CONFLICT (source) DO UPDATE SET value = value + 1, updated_at = excluded.updated_at",
    )?
    .execute(params![GENERATION, now()])?;
    Ok(())
}

/// Whom a handle belongs to, as ingest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Known(String),
    /// A new person, made for this handle.
    Created(String),
    /// The owner told Steward to forget this handle: store nothing from it.
    Forgotten,
}

impl Resolved {
    /// The person, unless the handle is forgotten.
    pub fn person(self) -> Option<String> {
        match self {
            Resolved::Known(id) | Resolved::Created(id) => Some(id),
            Resolved::Forgotten => None,
        }
    }

    pub fn created(&self) -> bool {
        matches!(self, Resolved::Created(_))
    }
}

/// The salted hash a forgotten handle is kept as.
fn forget_hash(conn: &Connection, handle: &str) -> rusqlite::Result<String> {
    use sha2::{Digest, Sha256};
    let salt: Vec<u8> = conn
        .prepare_cached("SELECT salt FROM forget_salt LIMIT 1")?
        .query_row([], |r| r.get(0))?;
    let mut h = Sha256::new();
    h.update(&salt);
    h.update(handle.as_bytes());
    Ok(hex::encode(h.finalize()))
}

/// Whether the owner told Steward to forget `handle`.
pub fn is_forgotten(conn: &Connection, handle: &Handle) -> rusqlite::Result<bool> {
    let hash = forget_hash(conn, handle.as_str())?;
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM forgotten_handles WHERE hash = ?1)")?
        .query_row([hash], |r| r.get(0))
}

/// `person unforget HANDLE`: the handle may come back with its next message.
/// Whether it had been forgotten.
pub fn unforget(conn: &Connection, handle: &Handle) -> rusqlite::Result<bool> {
    let hash = forget_hash(conn, handle.as_str())?;
    Ok(conn.execute("DELETE FROM forgotten_handles WHERE hash = ?1", [hash])? > 0)
}

pub fn owner_id(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT id FROM people WHERE is_owner = 1")?
        .query_row([], |r| r.get(0))
        .optional()
}

/// The owner person, created on first use, holding every handle in `handles`.
/// A handle that had been taken for a contact moves to the owner.
pub fn ensure_owner(
    conn: &Connection,
    name: Option<&str>,
    handles: &[Handle],
    source: &str,
) -> rusqlite::Result<String> {
    let id = match owner_id(conn)? {
        Some(id) => id,
        None => create_person(conn, name.filter(|n| !n.is_empty()), Some("config"), true)?,
    };
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        conn.execute(
            "UPDATE people SET name = ?2, name_source = 'config' WHERE id = ?1 AND name IS NULL",
            params![id, n],
        )?;
    }
    for h in handles {
        match person_for_handle(conn, h)? {
            Some(p) if p == id => {}
            Some(other) => {
                // Someone created from this handle before we knew it was ours.
                merge_into(conn, &id, &other)?;
            }
            None => insert_handle(conn, h, &id, source)?,
        }
    }
    Ok(id)
}

/// A Contacts card: every handle on it belongs to one person, named from the card.
pub fn attach_card(conn: &Connection, name: &str, handles: &[Handle]) -> rusqlite::Result<String> {
    let owner = owner_id(conn)?;
    let mut people: Vec<String> = Vec::new();
    for h in handles {
        if let Some(p) = person_for_handle(conn, h)?
            && !people.contains(&p)
        {
            people.push(p);
        }
    }
    // The owner's own card names the owner, and never absorbs a contact.
    if let Some(o) = &owner
        && people.contains(o)
    {
        conn.execute(
            "UPDATE people SET name = COALESCE(name, ?2) WHERE id = ?1",
            params![o, name],
        )?;
        return Ok(o.clone());
    }
    let primary = match people.first() {
        Some(p) => p.clone(),
        None => create_person(conn, Some(name), Some("contacts"), false)?,
    };
    for other in people.iter().skip(1) {
        merge_into(conn, &primary, other)?;
    }
    for h in handles {
        if person_for_handle(conn, h)?.is_none() {
            insert_handle(conn, h, &primary, "contacts")?;
        }
    }
    conn.execute(
        "UPDATE people SET name = ?2, name_source = 'contacts' WHERE id = ?1 AND COALESCE(name_source, '') != 'manual'",
        params![primary, name],
    )?;
    Ok(primary)
}

/// Move everything of `from` into `into` and delete `from` (no checks; see `merge`).
fn merge_into(conn: &Connection, into: &str, from: &str) -> rusqlite::Result<()> {
    bump_generation(conn)?;
    // Rows are about to move in the full-text index; unindexed ones must be indexed first.
    super::messages::index_new(conn)?;
    conn.execute(
        "UPDATE handles SET person_id = ?1 WHERE person_id = ?2",
        params![into, from],
    )?;
    conn.execute(
        "UPDATE messages SET person_id = ?1 WHERE person_id = ?2",
        params![into, from],
    )?;
    conn.execute(
        "UPDATE messages SET sender_id = ?1 WHERE sender_id = ?2",
        params![into, from],
    )?;
    conn.execute(
        "UPDATE reactions SET person_id = ?1 WHERE person_id = ?2",
        params![into, from],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO facts (person_id, key, value, source, confidence, learned_at)
         SELECT ?1, key, value, source, confidence, learned_at FROM facts WHERE person_id = ?2",
        params![into, from],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO chat_members (chat_id, person_id) SELECT chat_id, ?1 FROM chat_members WHERE person_id = ?2",
        params![into, from],
    )?;
    conn.execute(
        "UPDATE people SET name = COALESCE(name, (SELECT name FROM people WHERE id = ?2)) WHERE id = ?1",
        params![into, from],
    )?;
    conn.execute("DELETE FROM people WHERE id = ?1", [from])?;
    super::messages::refresh_last_message(conn, into)?;
    conn.execute(
        "INSERT INTO merges (from_id, into_id, merged_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (from_id) DO UPDATE SET into_id = excluded.into_id",
        params![from, into, now()],
    )?;
    conn.execute(
        "UPDATE merges SET into_id = ?1 WHERE into_id = ?2",
        params![into, from],
    )?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeOutcome {
    pub into: String,
    pub merged: bool,
    pub note: Option<String>,
}

/// `merge A B`: B's handles, messages, reactions and facts move to A, in the caller's transaction.
pub fn merge(conn: &Connection, a: &str, b: &str) -> Result<MergeOutcome, MemoryError> {
    if a == b {
        return Err(MemoryError::SamePerson);
    }
    if !exists(conn, a)? {
        return Err(MemoryError::NotFound(a.to_string()));
    }
    if !exists(conn, b)? {
        let into: Option<String> = conn
            .query_row("SELECT into_id FROM merges WHERE from_id = ?1", [b], |r| {
                r.get(0)
            })
            .optional()?;
        return match into {
            Some(i) if i == a => Ok(MergeOutcome {
                into: a.to_string(),
                merged: false,
                note: Some(format!("{b} was already merged into {a}; nothing changed")),
            }),
            _ => Err(MemoryError::NotFound(b.to_string())),
        };
    }
    // Keep the owner flag unique while both rows exist.
    let b_owner: bool = conn.query_row("SELECT is_owner FROM people WHERE id = ?1", [b], |r| {
        r.get(0)
    })?;
    if b_owner {
        conn.execute("UPDATE people SET is_owner = 0 WHERE id = ?1", [b])?;
    }
    merge_into(conn, a, b)?;
    if b_owner {
        conn.execute("UPDATE people SET is_owner = 1 WHERE id = ?1", [a])?;
    }
    Ok(MergeOutcome {
        into: a.to_string(),
        merged: true,
        note: None,
    })
}

fn exists(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM people WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )
}

/// `person split HANDLE`: the handle (and the messages through it) move to a new person.
pub fn split(conn: &Connection, handle: &Handle) -> Result<String, MemoryError> {
    let person = person_for_handle(conn, handle)?
        .ok_or_else(|| MemoryError::NotFound(handle.to_string()))?;
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM handles WHERE person_id = ?1",
        [&person],
        |r| r.get(0),
    )?;
    if count <= 1 {
        return Err(MemoryError::OnlyHandle(handle.to_string()));
    }
    let new = create_person(conn, None, None, false)?;
    conn.execute(
        "UPDATE handles SET person_id = ?1 WHERE handle = ?2",
        params![new, handle.as_str()],
    )?;
    conn.execute(
        "UPDATE messages SET person_id = ?1 WHERE person_id = ?2 AND handle = ?3",
        params![new, person, handle.as_str()],
    )?;
    conn.execute(
        "UPDATE messages SET sender_id = ?1 WHERE sender_id = ?2 AND handle = ?3",
        params![new, person, handle.as_str()],
    )?;
    super::messages::refresh_last_message(conn, &person)?;
    super::messages::refresh_last_message(conn, &new)?;
    bump_generation(conn)?;
    Ok(new)
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Forgotten {
    pub id: String,
    pub handles: i64,
    pub messages: i64,
    pub facts: i64,
}

/// `person forget X`: the person and everything about them is deleted.
pub fn forget(conn: &Connection, id: &str) -> Result<Forgotten, MemoryError> {
    if !exists(conn, id)? {
        return Err(MemoryError::NotFound(id.to_string()));
    }
    let count = |sql: &str| -> rusqlite::Result<i64> { conn.query_row(sql, [id], |r| r.get(0)) };
    let out = Forgotten {
        id: id.to_string(),
        handles: count("SELECT COUNT(*) FROM handles WHERE person_id = ?1")?,
        messages: count("SELECT COUNT(*) FROM messages WHERE person_id = ?1 OR sender_id = ?1")?,
        facts: count("SELECT COUNT(*) FROM facts WHERE person_id = ?1")?,
    };
    // Each handle is remembered as forgotten (as a hash), so it stays gone.
    let handles: Vec<String> = conn
        .prepare("SELECT handle FROM handles WHERE person_id = ?1")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for h in handles {
        let hash = forget_hash(conn, &h)?;
        conn.execute(
            "INSERT OR IGNORE INTO forgotten_handles (hash, at) VALUES (?1, ?2)",
            params![hash, now()],
        )?;
    }
    // Cascades remove handles, messages (and their FTS rows), reactions, facts, memberships.
    super::messages::index_new(conn)?;
    conn.execute("DELETE FROM people WHERE id = ?1", [id])?;
    conn.execute(
        "DELETE FROM merges WHERE into_id = ?1 OR from_id = ?1",
        [id],
    )?;
    bump_generation(conn)?;
    Ok(out)
}

/// Find one person by id, any form of a handle, or name.
pub fn find(conn: &Connection, query: &str, canon: &Canonicalizer) -> Result<String, MemoryError> {
    let q = query.trim();
    if exists(conn, q)? {
        return Ok(q.to_string());
    }
    if let Some(p) = person_for_handle(conn, &canon.canonicalize(q))? {
        return Ok(p);
    }
    let exact = ids(
        conn,
        "SELECT id FROM people WHERE lower(name) = lower(?1)",
        q,
    )?;
    let found = if exact.is_empty() {
        ids(
            conn,
            "SELECT id FROM people WHERE name LIKE '%' || ?1 || '%'",
            q,
        )?
    } else {
        exact
    };
    match found.len() {
        0 => Err(MemoryError::NotFound(q.to_string())),
        1 => Ok(found.into_iter().next().expect("one")),
        _ => Err(MemoryError::Ambiguous {
            query: q.to_string(),
            ids: found,
        }),
    }
}

fn ids(conn: &Connection, sql: &str, arg: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    stmt.query_map([arg], |r| r.get(0))?.collect()
}

/// The one person (not the owner) whose name is `name`, ignoring case; `None`
/// when nobody or several people are called that.
pub fn only_named(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM people WHERE is_owner = 0 AND name = ?1 COLLATE NOCASE LIMIT 2",
    )?;
    let ids: Vec<String> = stmt
        .query_map([name.trim()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match ids.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}

/// Give an unowned handle to a known person (a name-only channel handle that
/// matched them). A handle that already has a person keeps it.
pub fn add_handle(
    conn: &Connection,
    handle: &Handle,
    person: &str,
    source: &str,
) -> rusqlite::Result<()> {
    if person_for_handle(conn, handle)?.is_none() && !is_forgotten(conn, handle)? {
        insert_handle(conn, handle, person, source)?;
    }
    Ok(())
}

pub fn handles_of(conn: &Connection, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT handle FROM handles WHERE person_id = ?1 ORDER BY handle")?;
    stmt.query_map([id], |r| r.get(0))?.collect()
}

/// The owner's correction "HANDLE is NAME": the handle, and the messages through
/// it, belong to the one person named NAME (created if there is none), and that
/// name is fixed: a later Contacts import does not rename them.
pub fn correct_identity(
    conn: &Connection,
    handle: &Handle,
    name: &str,
) -> Result<String, MemoryError> {
    let name = name.trim();
    let current = person_for_handle(conn, handle)?;
    if current.is_some() && current == owner_id(conn)? {
        return Err(MemoryError::OwnHandle(handle.to_string()));
    }
    let named = ids(
        conn,
        "SELECT id FROM people WHERE lower(name) = lower(?1) AND is_owner = 0",
        name,
    )?;
    if named.len() > 1 {
        return Err(MemoryError::Ambiguous {
            query: name.to_string(),
            ids: named,
        });
    }
    let target = named.into_iter().next();
    // The handle alone, off whoever else it was filed under.
    let alone = |c: &str| -> Result<String, MemoryError> {
        if handles_of(conn, c)?.len() > 1 {
            split(conn, handle)
        } else {
            Ok(c.to_string())
        }
    };
    let id = match (current, target) {
        (Some(c), Some(t)) if c == t => t,
        (Some(c), Some(t)) => {
            let moved = alone(&c)?;
            merge_into(conn, &t, &moved)?;
            t
        }
        (Some(c), None) => alone(&c)?,
        (None, Some(t)) => {
            insert_handle(conn, handle, &t, "manual")?;
            t
        }
        (None, None) => {
            let id = create_person(conn, Some(name), Some("manual"), false)?;
            insert_handle(conn, handle, &id, "manual")?;
            id
        }
    };
    conn.execute(
        "UPDATE people SET name = ?2, name_source = 'manual' WHERE id = ?1",
        params![id, name],
    )?;
    bump_generation(conn)?;
    Ok(id)
}
