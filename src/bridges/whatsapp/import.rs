//! `steward import whatsapp FILE`: one chat's "Export chat" (`.txt`, or the
//! `.zip` with media that iOS and Android write) into memory as history.
//!
//! Who is who: the exporter's own lines carry their WhatsApp name, which is
//! `--me NAME`, else `owner.name` in steward.yaml; they belong to the owner. A
//! sender the export spells as a number (`+1 512-555-1234`) is that phone's
//! handle, so they are the same person as their iMessage. A sender spelt as a
//! name is `whatsapp:name:<name>` (the name the exporter's phone shows); the
//! first time it is seen it joins the one person of that name memory already
//! has (a Contacts card), else a new person named so.
//!
//! Idempotent: a message's id is the chat, its minute, a hash of sender and
//! text and its place among identical ones, so importing the same or a later
//! export of the chat again adds only what is new. Everything is parsed before
//! anything is written, so a bad file changes nothing.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::CHANNEL;
use super::export::{self, Body, DateOrder, Line, ParseError};
use crate::memory::Canonicalizer;
use crate::memory::bulk::Bulk;
use crate::memory::handle::{Handle, Kind};
use crate::memory::messages::{self, ChatKind, Direction, NewMessage, Stored};
use crate::memory::people;

/// Messages per write transaction.
const BATCH: usize = 20_000;
/// Exports are text; anything this large is not one.
const MAX_TEXT: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}; check the path and that Steward may read it")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a readable zip ({detail}); pass the .zip or the .txt WhatsApp exported")]
    Zip { path: PathBuf, detail: String },
    #[error(
        "{path} holds no chat text (no _chat.txt or \"WhatsApp Chat … .txt\"); pass the .zip WhatsApp exported, or its .txt"
    )]
    NoChatText { path: PathBuf },
    #[error("{path} is not UTF-8 text; pass the .txt or .zip WhatsApp's \"Export chat\" wrote")]
    NotText { path: PathBuf },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    #[error("--me {me:?} is none of the senders in this chat ({}); pass one of them", senders.join(", "))]
    MeNotFound { me: String, senders: Vec<String> },
    #[error(
        "none of the senders ({}) is you (owner.name in steward.yaml is {owner:?}); pass --me NAME with the name your own lines carry",
        senders.join(", ")
    )]
    OwnerUnknown { owner: String, senders: Vec<String> },
    #[error("memory database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl ImportError {
    /// Whether a flag (`--date-order`, `--me`) is the fix.
    pub fn wants_flag(&self) -> bool {
        matches!(
            self,
            ImportError::MeNotFound { .. }
                | ImportError::OwnerUnknown { .. }
                | ImportError::Parse {
                    source: ParseError::Ambiguous { .. } | ParseError::BadDate { .. },
                    ..
                }
        )
    }
}

/// What the import did. The first five are `import imessage --json`'s counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub messages: u64,
    pub already_known: u64,
    /// System lines, deleted messages and lines before the first dated one.
    pub skipped: u64,
    pub people: u64,
    pub chats: u64,
    /// Physical lines in the file.
    pub lines: u64,
    /// Of `skipped`: group events, encryption notices, missed calls.
    pub system: u64,
    /// Of `messages`: media placeholders.
    pub media: u64,
}

/// A read export, parsed, with the chat's name.
#[derive(Debug)]
pub struct Export {
    pub chat: String,
    pub parsed: export::Parsed,
}

/// Read and parse `path` (`.txt`, or a `.zip` holding one chat's text).
pub fn read(
    path: &Path,
    chat: Option<&str>,
    order: Option<DateOrder>,
) -> Result<Export, ImportError> {
    let io = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(io)?;
    let (bytes, inner) = if n == 4 && &magic == b"PK\x03\x04" {
        unzip(path)?
    } else {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_TEXT)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        (bytes, None)
    };
    let text = String::from_utf8(bytes).map_err(|_| ImportError::NotText {
        path: path.to_path_buf(),
    })?;
    let parsed = export::parse(&text, order).map_err(|source| ImportError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    let chat = chat
        .map(str::to_string)
        .or_else(|| inner.as_deref().and_then(chat_name))
        .or_else(|| {
            path.file_name()
                .and_then(|n| n.to_str())
                .and_then(chat_name)
        })
        .or_else(|| {
            path.file_stem()
                .and_then(|n| n.to_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "WhatsApp chat".to_string());
    Ok(Export { chat, parsed })
}

/// The chat text inside a zip and its name: iOS's `_chat.txt`, Android's
/// `WhatsApp Chat with Ann.txt`, else the only `.txt`.
fn unzip(path: &Path) -> Result<(Vec<u8>, Option<String>), ImportError> {
    let bad = |detail: String| ImportError::Zip {
        path: path.to_path_buf(),
        detail,
    };
    let file = std::fs::File::open(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let texts: Vec<&String> = names
        .iter()
        .filter(|n| n.to_ascii_lowercase().ends_with(".txt"))
        .collect();
    let pick = texts
        .iter()
        .find(|n| base(n) == "_chat.txt")
        .or_else(|| texts.iter().find(|n| base(n).starts_with("WhatsApp Chat")))
        .or_else(|| (texts.len() == 1).then(|| &texts[0]))
        .ok_or_else(|| ImportError::NoChatText {
            path: path.to_path_buf(),
        })?;
    let mut entry = zip.by_name(pick).map_err(|e| bad(e.to_string()))?;
    let mut bytes = Vec::new();
    (&mut entry)
        .take(MAX_TEXT)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    let inner = (base(pick) != "_chat.txt").then(|| base(pick).to_string());
    Ok((bytes, inner))
}

fn base(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// "WhatsApp Chat with Ann Lee.txt" or "WhatsApp Chat - Ann Lee.zip" → "Ann Lee".
pub fn chat_name(file: &str) -> Option<String> {
    let stem = file
        .strip_suffix(".txt")
        .or_else(|| file.strip_suffix(".zip"))
        .unwrap_or(file);
    let rest = stem.strip_prefix("WhatsApp Chat")?;
    let rest = rest
        .strip_prefix(" with ")
        .or_else(|| rest.strip_prefix(" - "))
        .unwrap_or(rest)
        .trim();
    (!rest.is_empty()).then(|| rest.to_string())
}

/// Which sender is the owner: `--me`, else `owner.name`. Case and spacing aside.
pub fn owner_sender(
    lines: &[Line],
    me: Option<&str>,
    owner_name: &str,
) -> Result<Option<String>, ImportError> {
    let mut senders: Vec<String> = Vec::new();
    for l in lines {
        if let Some(s) = &l.sender
            && !matches!(l.body, Body::System(_))
            && !senders.contains(s)
        {
            senders.push(s.clone());
        }
    }
    let same = |a: &str, b: &str| {
        a.trim().eq_ignore_ascii_case(b.trim())
            || a.trim().to_lowercase() == b.trim().to_lowercase()
    };
    if let Some(me) = me {
        return match senders.iter().find(|s| same(s, me)) {
            Some(s) => Ok(Some(s.clone())),
            None => Err(ImportError::MeNotFound {
                me: me.to_string(),
                senders,
            }),
        };
    }
    if let Some(s) = senders
        .iter()
        .find(|s| !owner_name.is_empty() && same(s, owner_name))
    {
        return Ok(Some(s.clone()));
    }
    // One sender and it is not the owner: the owner never wrote here. More than
    // one and none is the owner: guessing would file the owner's words as a contact's.
    if senders.len() <= 1 {
        return Ok(None);
    }
    Err(ImportError::OwnerUnknown {
        owner: owner_name.to_string(),
        senders,
    })
}

pub struct WhatsappImport {
    canon: Canonicalizer,
    owner: String,
    owner_sender: Option<String>,
    people: HashMap<String, (String, Handle)>,
    pub counts: Counts,
}

impl WhatsappImport {
    /// Set up the owner. Call inside the first write transaction.
    pub fn new(
        conn: &Connection,
        canon: Canonicalizer,
        owner_name: Option<&str>,
        owner_handles: &[String],
        owner_sender: Option<String>,
    ) -> rusqlite::Result<WhatsappImport> {
        let handles: Vec<Handle> = owner_handles
            .iter()
            .map(|h| canon.canonicalize(h))
            .collect();
        let owner = people::ensure_owner(conn, owner_name, &handles, CHANNEL)?;
        Ok(WhatsappImport {
            canon,
            owner,
            owner_sender,
            people: HashMap::new(),
            counts: Counts::default(),
        })
    }

    /// The handle a sender's spelling stands for.
    fn handle(&self, sender: &str) -> Handle {
        let phoneish = sender.starts_with('+')
            && sender.chars().all(|c| {
                c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.' | '\u{a0}')
            });
        if phoneish {
            let h = self.canon.canonicalize(sender);
            if h.kind() == Kind::Phone {
                return h;
            }
        }
        self.canon
            .canonicalize(&format!("whatsapp:name:{}", sender.trim()))
    }

    /// The person behind a sender (not the owner), created or joined on first sight.
    /// `None`: the owner told Steward to forget this sender.
    fn person(
        &mut self,
        conn: &Connection,
        sender: &str,
    ) -> rusqlite::Result<Option<(String, Handle)>> {
        if let Some(p) = self.people.get(sender) {
            return Ok(Some(p.clone()));
        }
        let h = self.handle(sender);
        let id = match people::person_for_handle(conn, &h)? {
            Some(id) => id,
            None if people::is_forgotten(conn, &h)? => return Ok(None),
            None => {
                let named = match h.kind() {
                    Kind::Phone => None,
                    _ => people::only_named(conn, sender)?,
                };
                match named {
                    Some(id) => {
                        people::add_handle(conn, &h, &id, CHANNEL)?;
                        id
                    }
                    None => {
                        let Some(id) = people::resolve(conn, &h, CHANNEL)?.person() else {
                            return Ok(None);
                        };
                        self.counts.people += 1;
                        if h.kind() != Kind::Phone {
                            conn.execute(
                                "UPDATE people SET name = ?2, name_source = 'whatsapp' WHERE id = ?1 AND name IS NULL",
                                params![id, sender],
                            )?;
                        }
                        id
                    }
                }
            }
        };
        self.people
            .insert(sender.to_string(), (id.clone(), h.clone()));
        Ok(Some((id, h)))
    }

    fn is_owner(&self, sender: &str) -> bool {
        self.owner_sender.as_deref() == Some(sender)
    }

    /// The chat, direct with one other sender, else a group, with its members.
    pub fn chat(
        &mut self,
        conn: &Connection,
        export: &Export,
    ) -> rusqlite::Result<Option<(i64, ChatKind)>> {
        let mut others: Vec<&str> = Vec::new();
        for l in &export.parsed.lines {
            if let (Some(s), false) = (&l.sender, matches!(l.body, Body::System(_)))
                && !self.is_owner(s)
                && !others.contains(&s.as_str())
            {
                others.push(s);
            }
        }
        let kind = if others.len() <= 1 {
            ChatKind::Direct
        } else {
            ChatKind::Group
        };
        // A chat with someone the owner told Steward to forget is not kept.
        if let [other] = others.as_slice()
            && people::is_forgotten(conn, &self.handle(other))?
        {
            return Ok(None);
        }
        let (id, created) = messages::upsert_chat(
            conn,
            CHANNEL,
            &chat_key(&export.chat),
            kind,
            Some(&export.chat),
        )?;
        if created {
            self.counts.chats += 1;
        }
        for s in others {
            if let Some((p, _)) = self.person(conn, s)? {
                messages::add_member(conn, id, &p)?;
            }
        }
        Ok(Some((id, kind)))
    }

    /// Store one line (a message, or a counted skip). `check` is false only
    /// when the chat had no message before this import (nothing to find).
    fn line(
        &mut self,
        conn: &Connection,
        chat: (i64, bool),
        ids: &mut Ids,
        l: &Line,
        at_ms: i64,
    ) -> rusqlite::Result<()> {
        let (text, media) = match &l.body {
            Body::Text(t) => (t.clone(), false),
            Body::Media { kind, caption } if caption.is_empty() => (format!("[{kind}]"), true),
            Body::Media { kind, caption } => (format!("[{kind}] {caption}"), true),
            Body::Deleted | Body::System(_) => {
                self.counts.system += u64::from(matches!(l.body, Body::System(_)));
                self.counts.skipped += 1;
                return Ok(());
            }
        };
        let Some(sender) = l.sender.as_deref() else {
            self.counts.skipped += 1;
            return Ok(());
        };
        let from_me = self.is_owner(sender);
        let (sender_id, person_id, handle) = if from_me {
            // The owner's line in a 1:1 chat counts for the other person.
            match (chat.1, ids.other.clone()) {
                (true, Some((p, h))) => (self.owner.clone(), p, Some(h)),
                _ => (self.owner.clone(), self.owner.clone(), None),
            }
        } else {
            let Some((p, h)) = self.person(conn, sender)? else {
                self.counts.skipped += 1;
                return Ok(());
            };
            (p.clone(), p, Some(h))
        };
        let external_id = ids.next(at_ms, sender, &text);
        let stored = messages::insert_message_checked(
            conn,
            &NewMessage {
                channel: CHANNEL,
                external_id: &external_id,
                chat_id: Some(chat.0),
                sender_id: &sender_id,
                person_id: &person_id,
                handle: handle.as_ref().map(Handle::as_str),
                direction: if from_me {
                    Direction::Out
                } else {
                    Direction::In
                },
                text: &text,
                at_ms,
                reply_to: None,
                edited: l.edited,
                is_command: false,
            },
            ids.check,
        )?;
        match stored {
            Stored::New => {
                self.counts.messages += 1;
                self.counts.media += u64::from(media);
            }
            Stored::Edited | Stored::Known => self.counts.already_known += 1,
        }
        Ok(())
    }
}

/// The chat's stored id: the export's chat name, so a later export of the same chat lands in it.
fn chat_key(chat: &str) -> String {
    format!("export:{}", chat.trim().to_lowercase())
}

/// Message ids for one chat: identical lines in the same second are told apart by their place.
struct Ids {
    chat: String,
    seen: HashMap<(i64, [u8; 8]), u32>,
    /// In a direct chat, the other person (whom the owner's lines count for).
    other: Option<(String, Handle)>,
    /// Whether a message may already be in memory (the chat had some before).
    /// Ids are unique within one file, so a first import needs no probe.
    check: bool,
}

impl Ids {
    fn next(&mut self, at_ms: i64, sender: &str, text: &str) -> String {
        let mut h = Sha256::new();
        h.update(sender.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        let digest = h.finalize();
        let mut key = [0u8; 8];
        key.copy_from_slice(&digest[..8]);
        let n = self.seen.entry((at_ms, key)).or_insert(0);
        *n += 1;
        format!("{}:{at_ms}:{}:{n}", self.chat, hex::encode(key))
    }
}

/// Store every line of `export`, `BATCH` per transaction; `progress(done, total)` after each.
pub fn import(
    conn: &mut Connection,
    ingest: &mut WhatsappImport,
    export: &Export,
    zone: &jiff::tz::TimeZone,
    mut progress: impl FnMut(u64, u64),
) -> Result<Counts, ImportError> {
    let lines = &export.parsed.lines;
    let total = lines.len() as u64;
    ingest.counts.lines = export.parsed.physical as u64;
    ingest.counts.skipped += export.parsed.orphans as u64;
    crate::store::bulk(conn, |conn| {
        let tx = conn.transaction()?;
        let Some((chat, kind)) = ingest.chat(&tx, export)? else {
            ingest.counts.skipped += total;
            return Ok(());
        };
        let kind_direct = kind == ChatKind::Direct;
        let other = match lines
            .iter()
            .filter_map(|l| {
                l.sender
                    .as_deref()
                    .filter(|_| !matches!(l.body, Body::System(_)))
            })
            .find(|s| !ingest.is_owner(s))
        {
            Some(s) if kind_direct => ingest.person(&tx, s)?,
            _ => None,
        };
        let check = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE chat_id = ?1)",
            [chat],
            |r| r.get::<_, bool>(0),
        )?;
        tx.commit()?;
        let mut ids = Ids {
            chat: chat_key(&export.chat),
            seen: HashMap::new(),
            other,
            check,
        };
        // No probes are made unless the chat had messages, and a store without
        // any cannot have them: the first-import path applies then.
        let bulk = Bulk::begin(conn, true)?;
        let copied = lines.chunks(BATCH).enumerate().try_for_each(|(i, chunk)| {
            let tx = conn.transaction()?;
            for l in chunk {
                let at_ms = local_ms(zone, l.at);
                ingest.line(&tx, (chat, kind_direct), &mut ids, l, at_ms)?;
            }
            bulk.batch(&tx)?;
            tx.commit()?;
            progress(((i * BATCH + chunk.len()) as u64).min(total), total);
            Ok::<_, ImportError>(())
        });
        bulk.finish(conn)?;
        copied
    })?;
    Ok(ingest.counts.clone())
}

/// Milliseconds of a local wall-clock time in `zone` (a time in a DST gap moves
/// on, a repeated hour is its first pass, as the phone showed it).
fn local_ms(zone: &jiff::tz::TimeZone, at: jiff::civil::DateTime) -> i64 {
    zone.to_zoned(at)
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(0)
}
