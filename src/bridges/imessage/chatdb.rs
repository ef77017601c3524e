//! Reading `~/Library/Messages/chat.db`: strictly read-only (opened read-only by path, never
//! `immutable`), short read transactions, a busy timeout, and a schema probe
//! (`Capabilities`) so older and newer macOS databases both work: a missing
//! column reads as NULL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{FromSqlResult, ValueRef};
use rusqlite::{Connection, Row};

use super::typedstream;

#[derive(Debug, thiserror::Error)]
pub enum ChatDbError {
    #[error(
        "no Messages database at {0}; is this a Mac with Messages set up? (set bridges.imessage.chatDb to point elsewhere)"
    )]
    Missing(PathBuf),
    #[error(
        "macOS denied access to {0}. Grant Full Disk Access to the steward binary: System Settings → Privacy & Security → Full Disk Access → + → add {exe}, then restart it",
        exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "steward".into())
    )]
    NoFullDiskAccess(PathBuf),
    #[error("{path} is not a readable Messages database ({source})")]
    Corrupt {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{path} is not a Messages database: it has no {missing}; point bridges.imessage.chatDb (or --db) at ~/Library/Messages/chat.db or a copy of it"
    )]
    NotMessages { path: PathBuf, missing: String },
    #[error("{path} is locked; Messages may be migrating it, try again in a minute ({source})")]
    Locked {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("reading {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// Apple's epoch, 2001-01-01T00:00:00Z, in Unix seconds.
pub const APPLE_EPOCH: i64 = 978_307_200;

/// Apple timestamp (nanoseconds since 2001; seconds on pre-10.13 databases) to Unix milliseconds.
pub fn apple_to_unix_ms(raw: i64) -> i64 {
    if raw.abs() > 100_000_000_000 {
        raw / 1_000_000 + APPLE_EPOCH * 1000
    } else {
        (raw + APPLE_EPOCH) * 1000
    }
}

/// Which optional columns this database has.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    pub message: Vec<String>,
    pub chat: Vec<String>,
}

impl Capabilities {
    fn probe(conn: &Connection) -> rusqlite::Result<Capabilities> {
        let cols = |table: &str| -> rusqlite::Result<Vec<String>> {
            let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
            stmt.query_map([table], |r| r.get(0))?.collect()
        };
        Ok(Capabilities {
            message: cols("message")?,
            chat: cols("chat")?,
        })
    }

    fn col(&self, name: &str) -> String {
        if self.message.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            format!("m.{name}")
        } else {
            "NULL".to_string()
        }
    }
}

/// Tables every query here reads, on every macOS version we know.
const REQUIRED_TABLES: [&str; 5] = [
    "message",
    "handle",
    "chat",
    "chat_message_join",
    "chat_handle_join",
];
/// `message` columns read without a capability check.
const REQUIRED_MESSAGE_COLUMNS: [&str; 4] = ["guid", "handle_id", "is_from_me", "date"];

/// The first required table or column this database lacks, named for the
/// error; `None` when the schema is one the queries can run on. An empty file
/// is an empty database to SQLite, so it lands here too.
fn missing_schema(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let has = |name: &str| tables.iter().any(|t| t.eq_ignore_ascii_case(name));
    if let Some(t) = REQUIRED_TABLES.iter().find(|t| !has(t)) {
        return Ok(Some(format!("`{t}` table")));
    }
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('message')")?;
    let cols: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(REQUIRED_MESSAGE_COLUMNS
        .iter()
        .find(|c| !cols.iter().any(|have| have.eq_ignore_ascii_case(c)))
        .map(|c| format!("`message.{c}` column")))
}

/// One `message` row, as read.
#[derive(Debug, Clone, Default)]
pub struct RawMessage {
    pub rowid: i64,
    pub guid: String,
    pub text: Option<String>,
    /// The sender's (or for the owner's lines, the recipient's) handle id.
    pub handle: Option<Arc<str>>,
    pub is_from_me: bool,
    pub date: i64,
    pub date_edited: i64,
    pub service: Option<Arc<str>>,
    pub assoc_type: i64,
    pub assoc_guid: Option<String>,
    pub assoc_emoji: Option<String>,
    pub item_type: i64,
    pub reply_to: Option<String>,
    pub chat_rowid: Option<i64>,
    /// The body: `text`, or decoded from `attributedBody` as the row is read
    /// (so the blob is never copied out of SQLite, and a backfill decodes on
    /// its reader thread while the writer inserts). `None`: not read from
    /// chat.db (`body_text()` then takes `text`).
    pub decoded: Option<Result<Option<String>, typedstream::DecodeError>>,
}

#[derive(Debug, Clone)]
pub struct RawChat {
    pub rowid: i64,
    pub guid: String,
    pub style: i64,
    pub identifier: Option<String>,
    pub display_name: Option<String>,
    pub members: Vec<String>,
}

pub struct ChatDb {
    conn: Connection,
    path: PathBuf,
    caps: Capabilities,
    select: String,
    shared: Shared,
}

/// Text that repeats across rows, shared instead of allocated per row (a
/// backfill's reader spent about a third of its time allocating and freeing
/// row strings): handles by ROWID, read from `handle` as they are first met
/// (so rows need no join), and the few service names.
#[derive(Default)]
struct Shared {
    /// `None`: no such handle (a dangling or 0 `handle_id` reads as no handle).
    handles: HashMap<i64, Option<Arc<str>>>,
    services: Vec<Arc<str>>,
}

impl Shared {
    fn handle(
        &mut self,
        conn: &Connection,
        rowid: Option<i64>,
    ) -> rusqlite::Result<Option<Arc<str>>> {
        let Some(rowid) = rowid.filter(|&r| r > 0) else {
            return Ok(None);
        };
        if let Some(known) = self.handles.get(&rowid) {
            return Ok(known.clone());
        }
        // A handle new since the last read: read the table again (a few
        // hundred rows), once per unknown ROWID.
        let mut stmt = conn.prepare_cached("SELECT ROWID, id FROM handle")?;
        self.handles = stmt
            .query_map([], |r| {
                // An id that is not text reads as no handle, as the row would.
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get_ref(1)?.as_str().ok().map(Arc::from),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(self.handles.entry(rowid).or_insert(None).clone())
    }

    fn service(&mut self, name: Option<&str>) -> Option<Arc<str>> {
        let name = name?;
        if let Some(known) = self.services.iter().find(|s| &***s == name) {
            return Some(known.clone());
        }
        let new: Arc<str> = Arc::from(name);
        if self.services.len() < 16 {
            self.services.push(new.clone());
        }
        Some(new)
    }
}

impl ChatDb {
    pub fn open(path: &Path) -> Result<ChatDb, ChatDbError> {
        // metadata() fails with EPERM under TCC when Full Disk Access is missing.
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ChatDbError::Missing(path.into()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(ChatDbError::NoFullDiskAccess(path.into()));
            }
            _ => {}
        }
        let conn = super::open_read_only(path).map_err(|e| classify(path, e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| classify(path, e))?;
        if let Some(missing) = missing_schema(&conn).map_err(|e| classify(path, e))? {
            return Err(ChatDbError::NotMessages {
                path: path.into(),
                missing,
            });
        }
        let caps = Capabilities::probe(&conn).map_err(|e| classify(path, e))?;
        let c = |n: &str| caps.col(n);
        let reply = if caps.message.iter().any(|n| n == "thread_originator_guid") {
            "m.thread_originator_guid".to_string()
        } else {
            c("reply_to_guid")
        };
        let select = format!(
            "SELECT m.ROWID, m.guid, {text}, {body}, m.handle_id, m.is_from_me, m.date, {edited}, {service},
                    {atype}, {aguid}, {aemoji}, {item}, {reply}
             FROM message m
             WHERE m.ROWID > ?1 ORDER BY m.ROWID LIMIT ?2",
            text = c("text"),
            body = c("attributedBody"),
            edited = c("date_edited"),
            service = c("service"),
            atype = c("associated_message_type"),
            aguid = c("associated_message_guid"),
            aemoji = c("associated_message_emoji"),
            item = c("item_type"),
        );
        Ok(ChatDb {
            conn,
            path: path.into(),
            caps,
            select,
            shared: Shared::default(),
        })
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn err(&self, e: rusqlite::Error) -> ChatDbError {
        classify(&self.path, e)
    }

    /// The newest message ROWID (the live reader starts here on first run).
    pub fn max_rowid(&self) -> Result<i64, ChatDbError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(ROWID), 0) FROM message", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// The owner's own addresses, from `account` on rows they sent (`E:`/`p:` stripped).
    pub fn owner_accounts(&self) -> Result<Vec<String>, ChatDbError> {
        if !self.caps.message.iter().any(|c| c == "account") {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT account FROM message WHERE is_from_me = 1 AND account IS NOT NULL AND account != ''")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        Ok(rows
            .filter_map(Result::ok)
            .map(|a| match a.split_once(':') {
                Some((p, rest)) if p.eq_ignore_ascii_case("e") || p.eq_ignore_ascii_case("p") => {
                    rest.to_string()
                }
                _ => a,
            })
            .collect())
    }

    pub fn chats(&self) -> Result<HashMap<i64, RawChat>, ChatDbError> {
        let has = |n: &str| self.caps.chat.iter().any(|c| c == n);
        let sql = format!(
            "SELECT ROWID, guid, {style}, {ident}, {display} FROM chat",
            style = if has("style") { "style" } else { "45" },
            ident = if has("chat_identifier") {
                "chat_identifier"
            } else {
                "NULL"
            },
            display = if has("display_name") {
                "display_name"
            } else {
                "NULL"
            },
        );
        let mut chats = HashMap::new();
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RawChat {
                    rowid: r.get(0)?,
                    guid: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    style: r.get::<_, Option<i64>>(2)?.unwrap_or(45),
                    identifier: r.get(3)?,
                    display_name: r.get::<_, Option<String>>(4)?.filter(|s| !s.is_empty()),
                    members: Vec::new(),
                })
            })
            .map_err(|e| self.err(e))?;
        for chat in rows.flatten() {
            chats.insert(chat.rowid, chat);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT chj.chat_id, h.id FROM chat_handle_join chj JOIN handle h ON h.ROWID = chj.handle_id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(|e| self.err(e))?;
        for (chat, handle) in rows.flatten() {
            if let (Some(c), Some(h)) = (chats.get_mut(&chat), handle) {
                c.members.push(h);
            }
        }
        Ok(chats)
    }

    /// Up to `limit` rows after `cursor`, in ROWID order, in one short read.
    /// Rows whose columns have the wrong types are skipped and counted.
    pub fn messages_after(
        &mut self,
        cursor: i64,
        limit: u32,
    ) -> Result<(Vec<RawMessage>, u64, i64), ChatDbError> {
        let path = &self.path;
        let err = |e| classify(path, e);
        // One snapshot for both reads: Messages writes a message and its
        // chat_message_join row in one transaction.
        let snapshot = self.conn.unchecked_transaction().map_err(err)?;
        let mut stmt = snapshot.prepare_cached(&self.select).map_err(err)?;
        let mut rows = stmt.query(rusqlite::params![cursor, limit]).map_err(err)?;
        let mut out = Vec::new();
        let mut bad = 0u64;
        let mut last = cursor;
        loop {
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => return Err(err(e)),
            };
            if let Ok(id) = row.get::<_, i64>(0) {
                last = last.max(id);
            }
            match read_row(row, &snapshot, &mut self.shared) {
                Ok(m) => out.push(m),
                Err(e) => {
                    bad += 1;
                    tracing::debug!(error = %e, "skipping a malformed chat.db row");
                }
            }
        }
        drop(rows);
        drop(stmt);
        set_chats(&snapshot, &mut out, cursor, last).map_err(err)?;
        Ok((out, bad, last))
    }
}

/// Each message's chat (the lowest `chat_id` when it is in several; `None`
/// when orphaned), from one range read of `chat_message_join` merged with the
/// rows by ROWID. A lookup per row, as a correlated subquery, was ~0.5 s of
/// CPU on a backfill's reader thread for 1M rows; the range reads ~0.2 s.
fn set_chats(
    conn: &Connection,
    rows: &mut [RawMessage],
    after: i64,
    upto: i64,
) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT message_id, MIN(chat_id) FROM chat_message_join
         WHERE message_id > ?1 AND message_id <= ?2 GROUP BY message_id ORDER BY message_id",
    )?;
    let mut chats = stmt.query(rusqlite::params![after, upto])?;
    let mut next = chats.next()?;
    for m in rows.iter_mut() {
        while let Some(row) = next {
            let id: i64 = row.get(0)?;
            if id > m.rowid {
                break;
            }
            if id == m.rowid {
                // A chat_id that is not an integer reads as no chat.
                m.chat_rowid = row.get::<_, Option<i64>>(1).ok().flatten();
            }
            next = chats.next()?;
        }
    }
    Ok(())
}

fn read_row(r: &Row<'_>, conn: &Connection, shared: &mut Shared) -> rusqlite::Result<RawMessage> {
    let text: Option<String> = r.get(2)?;
    let decoded = Some(body_of(
        text.as_deref(),
        borrowed(r, 3, ValueRef::as_blob_or_null)?,
    ));
    Ok(RawMessage {
        rowid: r.get(0)?,
        guid: r.get(1)?,
        text,
        handle: shared.handle(conn, r.get(4)?)?,
        is_from_me: r.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
        date: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
        date_edited: r.get::<_, Option<i64>>(7)?.unwrap_or(0),
        service: shared.service(borrowed(r, 8, ValueRef::as_str_or_null)?),
        assoc_type: r.get::<_, Option<i64>>(9)?.unwrap_or(0),
        assoc_guid: r.get(10)?,
        assoc_emoji: r.get(11)?,
        item_type: r.get::<_, Option<i64>>(12)?.unwrap_or(0),
        reply_to: r.get(13)?,
        chat_rowid: None,
        decoded,
    })
}

/// A column borrowed from the row (no copy), as `read` takes it (blob or
/// text, or NULL); any other type is a malformed row.
fn borrowed<'r, T>(
    r: &'r Row<'_>,
    i: usize,
    read: impl FnOnce(&ValueRef<'r>) -> FromSqlResult<Option<T>>,
) -> rusqlite::Result<Option<T>> {
    let v = r.get_ref(i)?;
    read(&v)
        .map_err(|_| rusqlite::Error::InvalidColumnType(i, format!("column {i}"), v.data_type()))
}

/// A message's body: `text` if present, else decoded from `attributedBody`.
fn body_of(
    text: Option<&str>,
    blob: Option<&[u8]>,
) -> Result<Option<String>, typedstream::DecodeError> {
    match (text, blob) {
        (Some(t), _) if !t.is_empty() => Ok(Some(clean(t))),
        (_, Some(blob)) if !blob.is_empty() => {
            typedstream::decode(blob).map(|t| Some(clean_owned(t)))
        }
        _ => Ok(text.map(clean)),
    }
}

impl RawMessage {
    /// The body: `text` if present, else decoded from `attributedBody`.
    pub fn body_text(&self) -> Result<Option<String>, typedstream::DecodeError> {
        match &self.decoded {
            Some(done) => done.clone(),
            None => body_of(self.text.as_deref(), None),
        }
    }

    /// `body_text()`, moved out (no copy); the row's ingest is its last reader.
    pub fn take_body_text(&mut self) -> Result<Option<String>, typedstream::DecodeError> {
        match self.decoded.take() {
            Some(done) => done,
            None => self.body_text(),
        }
    }
}

const PLACEHOLDERS: [char; 2] = ['\u{fffc}', '\u{fffd}'];

/// Drop the attachment and balloon placeholders, and surrounding blanks.
fn clean(text: &str) -> String {
    if text.contains(PLACEHOLDERS) {
        text.replace(PLACEHOLDERS, "").trim().to_string()
    } else {
        text.trim().to_string()
    }
}

/// `clean`, keeping the string when there is nothing to drop (most bodies).
fn clean_owned(text: String) -> String {
    if text.contains(PLACEHOLDERS) || text.trim().len() != text.len() {
        clean(&text)
    } else {
        text
    }
}

/// The 36-character target GUID of a tapback (`p:N/GUID`, `bp:GUID` or bare).
pub fn tapback_target(assoc: &str) -> &str {
    let rest = assoc.rsplit('/').next().unwrap_or(assoc);
    rest.strip_prefix("bp:").unwrap_or(rest)
}

pub fn tapback_kind(code: i64) -> Option<(&'static str, bool)> {
    let removed = (3000..=3007).contains(&code);
    if !removed && !(2000..=2007).contains(&code) && code != 1000 {
        return None;
    }
    let kind = match code % 1000 {
        0 if code == 1000 => "sticker",
        0 => "love",
        1 => "like",
        2 => "dislike",
        3 => "laugh",
        4 => "emphasize",
        5 => "question",
        6 => "emoji",
        _ => "sticker",
    };
    Some((kind, removed))
}

fn classify(path: &Path, e: rusqlite::Error) -> ChatDbError {
    use rusqlite::ErrorCode::*;
    match e.sqlite_error_code() {
        Some(NotADatabase | DatabaseCorrupt) => ChatDbError::Corrupt {
            path: path.into(),
            source: e,
        },
        Some(DatabaseBusy | DatabaseLocked) => ChatDbError::Locked {
            path: path.into(),
            source: e,
        },
        Some(CannotOpen | PermissionDenied | AuthorizationForStatementDenied) if path.exists() => {
            ChatDbError::NoFullDiskAccess(path.into())
        }
        _ => ChatDbError::Sqlite {
            path: path.into(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_nanoseconds_and_seconds() {
        // 2025-10-09T08:01:00Z
        let unix = 1_759_996_860i64;
        assert_eq!(
            apple_to_unix_ms((unix - APPLE_EPOCH) * 1_000_000_000),
            unix * 1000
        );
        assert_eq!(apple_to_unix_ms(unix - APPLE_EPOCH), unix * 1000);
    }

    #[test]
    fn a_body_is_its_text_else_its_decoded_blob_without_placeholders() {
        let blob = typedstream::encode("  from the blob \u{fffc}", false);
        assert_eq!(
            body_of(Some(" hi \u{fffd}"), Some(&blob)).unwrap(),
            Some("hi".into())
        );
        assert_eq!(
            body_of(Some(""), Some(&blob)).unwrap(),
            Some("from the blob".into())
        );
        assert_eq!(
            body_of(None, Some(&blob)).unwrap(),
            Some("from the blob".into())
        );
        assert_eq!(body_of(Some(""), None).unwrap(), Some(String::new()));
        assert_eq!(body_of(None, None).unwrap(), None);
        assert!(body_of(None, Some(b"not a typedstream")).is_err());
    }

    #[test]
    fn a_clean_body_is_kept_as_it_is_not_copied() {
        let clean_already = String::from("nothing to drop");
        let at = clean_already.as_ptr();
        let kept = clean_owned(clean_already);
        assert_eq!((kept.as_str(), kept.as_ptr()), ("nothing to drop", at));
        assert_eq!(clean_owned(" padded ".into()), "padded");
        assert_eq!(clean_owned("a\u{fffc}b".into()), "ab");
    }

    #[test]
    fn tapbacks() {
        let g = "A1B2C3D4-0000-1111-2222-333344445555";
        assert_eq!(tapback_target(&format!("p:0/{g}")), g);
        assert_eq!(tapback_target(&format!("bp:{g}")), g);
        assert_eq!(tapback_target(g), g);
        assert_eq!(tapback_kind(2001), Some(("like", false)));
        assert_eq!(tapback_kind(3003), Some(("laugh", true)));
        assert_eq!(tapback_kind(2006), Some(("emoji", false)));
        assert_eq!(tapback_kind(1000), Some(("sticker", false)));
        assert_eq!(tapback_kind(0), None);
        assert_eq!(tapback_kind(2), None);
    }
}
