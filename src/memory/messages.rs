//! Chats, messages and reactions. Re-importing never duplicates: a message is
//! unique per (channel, external id); a later sighting that carries an edit
//! replaces the text and marks it edited.

use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    Direct,
    Group,
    /// The owner's chat with themself: its lines are commands.
    SelfChat,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Direct => "direct",
            ChatKind::Group => "group",
            ChatKind::SelfChat => "self",
        }
    }
}

/// Insert or update a chat; returns its id and whether it was new.
pub fn upsert_chat(
    conn: &Connection,
    channel: &str,
    external_id: &str,
    kind: ChatKind,
    name: Option<&str>,
) -> rusqlite::Result<(i64, bool)> {
    let existing: Option<i64> = conn
        .prepare_cached("SELECT id FROM chats WHERE channel = ?1 AND external_id = ?2")?
        .query_row(params![channel, external_id], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        conn.prepare_cached("UPDATE chats SET kind = ?2, name = COALESCE(?3, name) WHERE id = ?1")?
            .execute(params![id, kind.as_str(), name])?;
        return Ok((id, false));
    }
    conn.prepare_cached(
        "INSERT INTO chats (channel, external_id, kind, name) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![channel, external_id, kind.as_str(), name])?;
    Ok((conn.last_insert_rowid(), true))
}

pub fn add_member(conn: &Connection, chat: i64, person: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO chat_members (chat_id, person_id) VALUES (?1, ?2)")?
        .execute(params![chat, person])?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub channel: &'a str,
    pub external_id: &'a str,
    pub chat_id: Option<i64>,
    pub sender_id: &'a str,
    pub person_id: &'a str,
    pub handle: Option<&'a str>,
    pub direction: Direction,
    pub text: &'a str,
    pub at_ms: i64,
    pub reply_to: Option<&'a str>,
    pub edited: bool,
    pub is_command: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    Edited,
    Known,
}

pub fn rfc3339_ms(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// FNV-1a 64 over `channel`, NUL, `external_id`. Stored, so it must never change.
pub fn ext_key(channel: &str, external_id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in channel
        .bytes()
        .chain(std::iter::once(0))
        .chain(external_id.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// The stored text of a message, if memory has it.
fn existing(
    conn: &Connection,
    channel: &str,
    external_id: &str,
) -> rusqlite::Result<Option<(i64, String)>> {
    conn.prepare_cached(
        "SELECT id, text FROM messages WHERE ext_key = ?1 AND channel = ?2 AND external_id = ?3",
    )?
    .query_row(
        params![ext_key(channel, external_id), channel, external_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Store a message unless memory has it; a later sighting with an edit replaces the text.
/// Callers hold the single writer, so check-then-insert cannot race.
pub fn insert_message(conn: &Connection, m: &NewMessage<'_>) -> rusqlite::Result<Stored> {
    insert_message_checked(conn, m, true)
}

/// `insert_message`, with the "seen it?" probe skipped when `check` is false:
/// only for a source that knows the row cannot be in memory yet (a first import
/// into a store with none of its messages, reading each row once).
pub fn insert_message_checked(
    conn: &Connection,
    m: &NewMessage<'_>,
    check: bool,
) -> rusqlite::Result<Stored> {
    insert_message_with(conn, &mut Inserter::new(conn)?, m, check)
}

/// `insert_message_checked` through an insert prepared once for many rows.
pub fn insert_message_with(
    conn: &Connection,
    insert: &mut Inserter<'_>,
    m: &NewMessage<'_>,
    check: bool,
) -> rusqlite::Result<Stored> {
    if check && let Some((id, text)) = existing(conn, m.channel, m.external_id)? {
        if m.edited && text != m.text {
            // The update trigger rewrites the FTS row, which must exist first.
            index_new(conn)?;
            conn.prepare_cached("UPDATE messages SET text = ?2, edited = 1 WHERE id = ?1")?
                .execute(params![id, m.text])?;
            return Ok(Stored::Edited);
        }
        return Ok(Stored::Known);
    }
    insert.insert(m)?;
    Ok(Stored::New)
}

/// The message insert, prepared once and kept for a batch of rows:
/// `prepare_cached` hashes its SQL text and re-files the statement on every
/// call, ~3% of a 1M-message import's time.
pub struct Inserter<'c> {
    stmt: rusqlite::CachedStatement<'c>,
}

impl<'c> Inserter<'c> {
    pub fn new(conn: &'c Connection) -> rusqlite::Result<Inserter<'c>> {
        Ok(Inserter {
            stmt: conn.prepare_cached(
                "INSERT INTO messages (channel, external_id, ext_key, chat_id, sender_id, person_id, handle, direction, text, at,
                                       at_ms, reply_to, edited, is_command)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?,
        })
    }

    fn insert(&mut self, m: &NewMessage<'_>) -> rusqlite::Result<()> {
        self.stmt.execute(params![
            m.channel,
            m.external_id,
            ext_key(m.channel, m.external_id),
            m.chat_id,
            m.sender_id,
            m.person_id,
            m.handle,
            m.direction.as_str(),
            m.text,
            rfc3339_ms(m.at_ms),
            m.at_ms,
            m.reply_to,
            m.edited,
            m.is_command
        ])?;
        Ok(())
    }
}

/// The highest message id in the full-text index.
const FTS_MARK: &str = "fts.messages";

/// Index every message stored since the last call. Call it in the same
/// transaction as the inserts, before commit, so no committed message is unindexed.
pub fn index_new(conn: &Connection) -> rusqlite::Result<u64> {
    let mark = get_cursor(conn, FTS_MARK)?.unwrap_or(0);
    let max: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
        r.get(0)
    })?;
    if max <= mark {
        return Ok(0);
    }
    let n = conn
        .prepare_cached(
            "INSERT INTO messages_fts (rowid, text, person_id) SELECT id, text, person_id FROM messages WHERE id > ?1 ORDER BY id",
        )?
        .execute([mark])?;
    keep_last_message(conn, mark, max)?;
    set_cursor(conn, FTS_MARK, max)?;
    Ok(n as u64)
}

/// `people.last_message_ms` for everyone with a message in this batch (ids
/// above `mark`, up to `max`). Here, at the end of each batch, rather than
/// per insert: one UPDATE per batch keeps the bulk imports' cost flat, and
/// every channel's batch ends in `index_new`, in the same transaction as its rows.
fn keep_last_message(conn: &Connection, mark: i64, max: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(last_message_sql(max - mark))?
        .execute([mark])?;
    Ok(())
}

/// Batches larger than this read the new rows through `messages_by_person`.
const WHOLE_INDEX_ROWS: i64 = 100_000;

/// The statement for a batch of `rows` new messages. For the GROUP BY,
/// SQLite on its own walks all of `messages_by_person` (it is sorted by
/// person) instead of reading the batch's rows by rowid: 50-150 ms per live
/// batch on a 1M-message store, for one new message. `NOT INDEXED` keeps a
/// live batch to its own rows; a first import's whole table is cheaper
/// through that index than sorted in a temporary b-tree.
fn last_message_sql(rows: i64) -> &'static str {
    if rows > WHOLE_INDEX_ROWS {
        "UPDATE people SET last_message_ms = MAX(COALESCE(last_message_ms, b.at), b.at)
         FROM (SELECT person_id, MAX(at_ms) AS at FROM messages WHERE id > ?1 GROUP BY person_id) AS b
         WHERE people.id = b.person_id"
    } else {
        "UPDATE people SET last_message_ms = MAX(COALESCE(last_message_ms, b.at), b.at)
         FROM (SELECT person_id, MAX(at_ms) AS at FROM messages NOT INDEXED WHERE id > ?1 GROUP BY person_id) AS b
         WHERE people.id = b.person_id"
    }
}

/// `people.last_message_ms` read again from the person's messages: after a
/// merge or split moved some of them (an index seek on `messages_by_person`).
pub fn refresh_last_message(conn: &Connection, person: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE people SET last_message_ms =
           (SELECT MAX(at_ms) FROM messages WHERE person_id = ?1) WHERE id = ?1",
    )?
    .execute([person])?;
    Ok(())
}

pub fn message_exists(
    conn: &Connection,
    channel: &str,
    external_id: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM messages WHERE channel = ?1 AND external_id = ?2)",
    )?
    .query_row(params![channel, external_id], |r| r.get(0))
}

#[derive(Debug, Clone)]
pub struct NewReaction<'a> {
    pub channel: &'a str,
    pub external_id: &'a str,
    pub target: &'a str,
    pub person_id: &'a str,
    pub kind: &'a str,
    pub emoji: Option<&'a str>,
    pub removed: bool,
    pub at_ms: i64,
}

/// Returns whether the reaction was new.
pub fn insert_reaction(conn: &Connection, r: &NewReaction<'_>) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO reactions (channel, external_id, target, person_id, kind, emoji, removed, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (channel, external_id) DO NOTHING",
        )?
        .execute(params![
            r.channel,
            r.external_id,
            r.target,
            r.person_id,
            r.kind,
            r.emoji,
            r.removed,
            rfc3339_ms(r.at_ms)
        ])?;
    Ok(n == 1)
}

pub fn get_cursor(conn: &Connection, source: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT value FROM source_cursors WHERE source = ?1",
        [source],
        |r| r.get(0),
    )
    .optional()
}

pub fn set_cursor(conn: &Connection, source: &str, value: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO source_cursors (source, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![source, value, jiff::Timestamp::now().to_string()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_key_is_fnv1a_and_stable() {
        // FNV-1a 64 test vector: "a" → 0xaf63dc4c8601ec8c. Ours hashes "" NUL "a".
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        h ^= u64::from(b'a');
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        assert_eq!(h, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(ext_key("imessage", "A"), ext_key("imessage", "A"));
        assert_ne!(ext_key("imessage", "A"), ext_key("sms", "A"));
        assert_ne!(
            ext_key("imessag", "eA"),
            ext_key("imessage", "A"),
            "the NUL separates the parts"
        );
    }

    #[test]
    fn a_live_batch_reads_only_its_own_rows_for_the_last_message_times() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        let plan = |rows: i64| -> String {
            let sql = format!("EXPLAIN QUERY PLAN {}", last_message_sql(rows));
            let mut stmt = conn.prepare(&sql).unwrap();
            let details: Vec<String> = stmt
                .query_map([0], |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            details.join("; ")
        };
        let live = plan(1);
        assert!(
            live.contains("SEARCH messages USING INTEGER PRIMARY KEY (rowid>?)"),
            "{live}"
        );
        assert!(!live.contains("messages_by_person"), "{live}");
        let whole = plan(WHOLE_INDEX_ROWS + 1);
        assert!(
            whole.contains("COVERING INDEX messages_by_person"),
            "{whole}"
        );
    }

    fn last(conn: &Connection, id: &str) -> Option<i64> {
        conn.query_row(
            "SELECT last_message_ms FROM people WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn each_batch_keeps_the_newest_message_time_per_person() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO people (id, created_at) VALUES ('pa', 'now'), ('pb', 'now'), ('pc', 'now')",
        )
        .unwrap();
        let msg = |id: &'static str, person: &'static str, at_ms| NewMessage {
            channel: "telegram",
            external_id: id,
            chat_id: None,
            sender_id: person,
            person_id: person,
            handle: None,
            direction: Direction::In,
            text: "hi",
            at_ms,
            reply_to: None,
            edited: false,
            is_command: false,
        };
        for m in [
            msg("1", "pa", 5_000),
            msg("2", "pa", 9_000),
            msg("3", "pb", 7_000),
        ] {
            insert_message(&conn, &m).unwrap();
        }
        assert_eq!(last(&conn, "pa"), None, "kept at the batch's end");
        index_new(&conn).unwrap();
        assert_eq!(last(&conn, "pa"), Some(9_000));
        assert_eq!(last(&conn, "pb"), Some(7_000));
        assert_eq!(last(&conn, "pc"), None);
        // A late-arriving older message never moves the time back.
        insert_message(&conn, &msg("4", "pa", 1_000)).unwrap();
        insert_message(&conn, &msg("5", "pb", 8_000)).unwrap();
        index_new(&conn).unwrap();
        assert_eq!(last(&conn, "pa"), Some(9_000));
        assert_eq!(last(&conn, "pb"), Some(8_000));
    }

    #[test]
    fn the_same_message_is_stored_once_and_edits_replace_text() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO people (id, created_at) VALUES ('pa', 'now')",
            [],
        )
        .unwrap();
        let m = NewMessage {
            channel: "imessage",
            external_id: "G1",
            chat_id: None,
            sender_id: "pa",
            person_id: "pa",
            handle: None,
            direction: Direction::In,
            text: "hello",
            at_ms: 0,
            reply_to: None,
            edited: false,
            is_command: false,
        };
        assert_eq!(insert_message(&conn, &m).unwrap(), Stored::New);
        assert_eq!(insert_message(&conn, &m).unwrap(), Stored::Known);
        let edit = NewMessage {
            text: "hello there",
            edited: true,
            ..m.clone()
        };
        assert_eq!(insert_message(&conn, &edit).unwrap(), Stored::Edited);
        let other_channel = NewMessage {
            channel: "sms",
            ..m
        };
        assert_eq!(insert_message(&conn, &other_channel).unwrap(), Stored::New);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}
