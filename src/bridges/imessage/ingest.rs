//! Turning chat.db rows into memory: people, chats, messages and reactions.
//! Used by the backfill (`steward import imessage`) and the live reader alike.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

use rusqlite::Connection;
use serde::Serialize;

use super::chatdb::{RawChat, RawMessage, apple_to_unix_ms, tapback_kind, tapback_target};
use super::contacts::Card;
use crate::memory::Canonicalizer;
use crate::memory::handle::Handle;
use crate::memory::messages::{self, ChatKind, Direction, NewMessage, NewReaction, Stored};
use crate::memory::people;
use crate::types::Inbound;

/// The bridge's name for chats; messages carry their service (imessage, sms, rcs).
pub const CHANNEL: &str = "imessage";
/// Two self-chat rows with the same text this close together are one message.
const ECHO_WINDOW_MS: i64 = 15_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub messages: u64,
    pub reactions: u64,
    pub skipped: u64,
    pub people: u64,
    pub chats: u64,
    pub edited: u64,
    pub already_known: u64,
    pub group_events: u64,
    pub echoes: u64,
}

#[derive(Debug, Clone, Copy)]
struct ChatInfo {
    id: i64,
    kind: ChatKind,
}

pub struct Ingest {
    canon: Canonicalizer,
    owner: String,
    owner_handles: HashSet<Handle>,
    chats: HashMap<i64, ChatInfo>,
    chat_guids: HashMap<i64, String>,
    chat_members: HashMap<i64, Vec<Handle>>,
    people: people::Known,
    // libphonenumber parsing costs microseconds; chat.db repeats the same few hundred handles.
    canonical: HashMap<String, Handle>,
    self_recent: HashMap<i64, VecDeque<(String, i64, bool)>>,
    warned: HashSet<&'static str>,
    /// Memory held no messages from this bridge when the session began.
    fresh: bool,
    /// In a fresh session, rows up to this ROWID skip the "seen it?" probe: the
    /// live reader never reads at or below its cursor, so nobody else can have
    /// stored them. 0 (the default, and always for the live reader): check all.
    unchecked_upto: i64,
    pub counts: Counts,
}

/// What a new message was stored as: the live reader makes its `Inbound` of it.
pub struct Kept {
    channel: Cow<'static, str>,
    chat: Option<ChatInfo>,
    sender: String,
    person: String,
    contact_handle: Option<Handle>,
    /// The row's own handle (the owner's, on a self-chat line).
    handle: Option<Handle>,
    is_self: bool,
    text: String,
    at_ms: i64,
}

/// The row's service as its channel; the known three without an allocation
/// (this runs for every row of a backfill).
fn service_channel(service: Option<&str>) -> Cow<'static, str> {
    match service.unwrap_or("") {
        s if s.eq_ignore_ascii_case("sms") => Cow::Borrowed("sms"),
        s if s.eq_ignore_ascii_case("rcs") => Cow::Borrowed("rcs"),
        s if s.is_empty() || s.eq_ignore_ascii_case("imessage") => Cow::Borrowed("imessage"),
        other => Cow::Owned(other.to_ascii_lowercase()),
    }
}

impl Ingest {
    /// Set up the owner (config handles plus those learned from chat.db) and
    /// apply Contacts cards. Call inside the first write transaction.
    pub fn new(
        conn: &Connection,
        canon: Canonicalizer,
        owner_name: Option<&str>,
        owner_addresses: &[String],
        cards: &[Card],
    ) -> rusqlite::Result<Ingest> {
        let owner_handles: Vec<Handle> = owner_addresses
            .iter()
            .map(|a| canon.canonicalize(a))
            .collect();
        let owner = people::ensure_owner(conn, owner_name, &owner_handles, CHANNEL)?;
        let mut ingest = Ingest {
            canon,
            owner,
            owner_handles: owner_handles.into_iter().collect(),
            chats: HashMap::new(),
            chat_guids: HashMap::new(),
            chat_members: HashMap::new(),
            people: people::Known::new(conn)?,
            canonical: HashMap::new(),
            self_recent: HashMap::new(),
            warned: HashSet::new(),
            fresh: conn.query_row(
                "SELECT NOT EXISTS(SELECT 1 FROM messages WHERE channel IN ('imessage', 'sms', 'rcs'))",
                [],
                |r| r.get(0),
            )?,
            unchecked_upto: 0,
            counts: Counts::default(),
        };
        for card in cards {
            let mut handles: Vec<Handle> = Vec::with_capacity(card.addresses.len());
            for a in &card.addresses {
                let h = ingest.canon.canonicalize(a);
                // A forgotten handle stays forgotten, even on a Contacts card.
                if !people::is_forgotten(conn, &h)? {
                    handles.push(h);
                }
            }
            if handles.is_empty() && !card.addresses.is_empty() {
                continue;
            }
            let before: i64 = conn.query_row("SELECT COUNT(*) FROM people", [], |r| r.get(0))?;
            people::attach_card(conn, &card.name, &handles)?;
            let after: i64 = conn.query_row("SELECT COUNT(*) FROM people", [], |r| r.get(0))?;
            ingest.counts.people += after.saturating_sub(before) as u64;
        }
        Ok(ingest)
    }

    /// Let a fresh backfill skip the duplicate probe for rows up to `rowid`
    /// (the live cursor). No effect unless memory had none of these messages.
    pub fn skip_checks_upto(&mut self, rowid: i64) {
        if self.fresh {
            self.unchecked_upto = rowid;
        }
    }

    pub fn owner_id(&self) -> &str {
        &self.owner
    }

    fn canonical(&mut self, raw: &str) -> Handle {
        if let Some(h) = self.canonical.get(raw) {
            return h.clone();
        }
        let h = self.canon.canonicalize(raw);
        self.canonical.insert(raw.to_string(), h.clone());
        h
    }

    /// Call at the start of each live batch: a merge, split, forget or identity
    /// correction since the last one (from the self-chat or the CLI) empties
    /// the handle → person cache, so the next message goes to the right person.
    pub fn people_changed(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.people.refresh(conn)
    }

    /// `None`: the owner told Steward to forget this handle.
    fn person(&mut self, conn: &Connection, handle: &Handle) -> rusqlite::Result<Option<String>> {
        if self.owner_handles.contains(handle) {
            return Ok(Some(self.owner.clone()));
        }
        if let Some(p) = self.people.get(handle) {
            return Ok(Some(p.clone()));
        }
        let resolved = people::resolve(conn, handle, CHANNEL)?;
        self.counts.people += u64::from(resolved.created());
        let Some(id) = resolved.person() else {
            return Ok(None);
        };
        self.people.insert(handle.clone(), id.clone());
        Ok(Some(id))
    }

    /// Record the chats (kind, name, members). Safe to call again when new chats appear.
    pub fn sync_chats(
        &mut self,
        conn: &Connection,
        chats: &HashMap<i64, RawChat>,
    ) -> rusqlite::Result<()> {
        self.people_changed(conn)?;
        for chat in chats.values() {
            if self.chats.contains_key(&chat.rowid) {
                continue;
            }
            let members: Vec<Handle> = chat
                .members
                .iter()
                .map(|m| self.canon.canonicalize(m))
                .collect();
            let kind = if chat.style == 43 || members.len() > 1 {
                ChatKind::Group
            } else if members.len() == 1 && self.owner_handles.contains(&members[0]) {
                ChatKind::SelfChat
            } else {
                ChatKind::Direct
            };
            let (id, created) = messages::upsert_chat(
                conn,
                CHANNEL,
                &chat.guid,
                kind,
                chat.display_name.as_deref(),
            )?;
            if created {
                self.counts.chats += 1;
            }
            for m in &members {
                if let Some(person) = self.person(conn, m)? {
                    messages::add_member(conn, id, &person)?;
                }
            }
            self.chats.insert(chat.rowid, ChatInfo { id, kind });
            self.chat_guids.insert(chat.rowid, chat.guid.clone());
            self.chat_members.insert(chat.rowid, members);
        }
        Ok(())
    }

    pub fn knows_chat(&self, rowid: i64) -> bool {
        self.chats.contains_key(&rowid)
    }

    fn skip(&mut self, kind: &'static str, guid: &str) {
        self.counts.skipped += 1;
        if self.warned.insert(kind) {
            tracing::warn!(
                kind,
                guid,
                "skipping chat.db rows of this kind (logged once)"
            );
        }
    }

    /// Whether a self-chat row is the echo copy of one already taken.
    fn is_echo(&mut self, chat: i64, text: &str, at_ms: i64, from_me: bool) -> bool {
        let norm = text.trim().to_lowercase();
        let recent = self.self_recent.entry(chat).or_default();
        if recent
            .iter()
            .any(|(t, at, me)| *t == norm && *me != from_me && (at - at_ms).abs() <= ECHO_WINDOW_MS)
        {
            return true;
        }
        recent.push_back((norm, at_ms, from_me));
        if recent.len() > 64 {
            recent.pop_front();
        }
        false
    }

    /// Store one row. Returns the message if it was new to memory.
    pub fn row(
        &mut self,
        conn: &Connection,
        m: &mut RawMessage,
    ) -> rusqlite::Result<Option<Inbound>> {
        let Some(kept) = self.store(conn, &mut messages::Inserter::new(conn)?, m)? else {
            return Ok(None);
        };
        Ok(Some(Inbound {
            channel: kept.channel.to_string(),
            external_id: m.guid.clone(),
            chat_external_id: m.chat_rowid.and_then(|c| self.chat_guids.get(&c).cloned()),
            chat_kind: kept.chat.map(|c| c.kind.as_str().to_string()),
            person_id: kept.person,
            sender_id: kept.sender,
            // A self-chat line carries the owner's own handle (the audit names it).
            handle: kept
                .contact_handle
                .or(if kept.is_self { kept.handle } else { None })
                .map(|h| h.to_string()),
            from_me: m.is_from_me,
            is_command: kept.is_self,
            text: kept.text,
            at_ms: kept.at_ms,
        }))
    }

    /// `row` without the `Inbound`: for a backfill, which announces nothing,
    /// and inserts through one prepared statement. Takes the body out of `m`.
    pub fn store(
        &mut self,
        conn: &Connection,
        insert: &mut messages::Inserter<'_>,
        m: &mut RawMessage,
    ) -> rusqlite::Result<Option<Kept>> {
        if m.item_type != 0 {
            self.counts.group_events += 1;
            return Ok(None);
        }
        let channel = service_channel(m.service.as_deref());
        let at_ms = apple_to_unix_ms(m.date);
        let handle = m
            .handle
            .as_deref()
            .filter(|h| !h.is_empty())
            .map(|h| self.canonical(h));
        let chat = m.chat_rowid.and_then(|c| self.chats.get(&c).copied());
        let Some(sender) = self.sender(conn, m, handle.as_ref(), chat)? else {
            return Ok(None);
        };
        if let Some((kind, removed)) = tapback_kind(m.assoc_type) {
            self.reaction(conn, m, (&channel, &sender, at_ms), (kind, removed))?;
            return Ok(None);
        }
        let Some(text) = self.text(m) else {
            return Ok(None);
        };
        let is_self = chat.is_some_and(|c| c.kind == ChatKind::SelfChat);
        if let (true, Some(c)) = (is_self, chat)
            && self.is_echo(c.id, &text, at_ms, m.is_from_me)
        {
            self.counts.echoes += 1;
            return Ok(None);
        }
        let (person, contact_handle) = self.counts_for(conn, m, &sender, handle.as_ref(), chat)?;
        // The owner's line to a forgotten person is not kept either.
        let Some(person) = person else {
            self.skip("forgotten", &m.guid);
            return Ok(None);
        };
        let kept = Kept {
            channel,
            chat,
            sender,
            person,
            contact_handle,
            handle,
            is_self,
            text,
            at_ms,
        };
        Ok(self.insert(conn, insert, m, &kept)?.then_some(kept))
    }

    /// Who sent the row; `None` (counted as skipped): nobody Steward may keep.
    fn sender(
        &mut self,
        conn: &Connection,
        m: &RawMessage,
        handle: Option<&Handle>,
        chat: Option<ChatInfo>,
    ) -> rusqlite::Result<Option<String>> {
        Ok(match (handle, m.is_from_me) {
            (_, true) => Some(self.owner.clone()),
            (Some(h), false) => {
                let person = self.person(conn, h)?;
                if person.is_none() {
                    self.skip("forgotten", &m.guid);
                }
                person
            }
            (None, false) if chat.is_some_and(|c| c.kind == ChatKind::SelfChat) => {
                Some(self.owner.clone())
            }
            (None, false) => {
                self.skip("no-sender", &m.guid);
                None
            }
        })
    }

    /// Store a tapback row as a reaction to its target.
    fn reaction(
        &mut self,
        conn: &Connection,
        m: &RawMessage,
        (channel, sender, at_ms): (&str, &str, i64),
        (kind, removed): (&'static str, bool),
    ) -> rusqlite::Result<()> {
        let Some(target) = m.assoc_guid.as_deref().map(tapback_target) else {
            self.skip("tapback-without-target", &m.guid);
            return Ok(());
        };
        let new = messages::insert_reaction(
            conn,
            &NewReaction {
                channel,
                external_id: &m.guid,
                target,
                person_id: sender,
                kind,
                emoji: m.assoc_emoji.as_deref(),
                removed,
                at_ms,
            },
        )?;
        self.counts.reactions += u64::from(new);
        Ok(())
    }

    /// The row's text; `None` (counted as skipped) for an unsent, empty or
    /// undecodable body.
    fn text(&mut self, m: &mut RawMessage) -> Option<String> {
        match m.take_body_text() {
            Ok(Some(t)) => Some(t),
            Ok(None) if m.date_edited != 0 => {
                self.skip("unsent", &m.guid);
                None
            }
            Ok(None) => {
                self.skip("empty", &m.guid);
                None
            }
            Err(_) => {
                self.skip("undecodable-body", &m.guid);
                None
            }
        }
    }

    /// Whom the message counts for, and the contact handle involved: the
    /// sender; for the owner's line in a 1:1 chat, the other person; the owner
    /// for their own group and self-chat lines. `None`: a forgotten person.
    fn counts_for(
        &mut self,
        conn: &Connection,
        m: &RawMessage,
        sender: &str,
        handle: Option<&Handle>,
        chat: Option<ChatInfo>,
    ) -> rusqlite::Result<(Option<String>, Option<Handle>)> {
        if sender != self.owner {
            return Ok((Some(sender.to_string()), handle.cloned()));
        }
        let not_owner = |h: &&Handle| !self.owner_handles.contains(*h);
        let other = match chat.map(|c| c.kind) {
            Some(ChatKind::Direct) => m
                .chat_rowid
                .and_then(|c| self.chat_members.get(&c))
                .and_then(|ms| ms.first())
                .or_else(|| handle.filter(not_owner))
                .cloned(),
            Some(ChatKind::Group | ChatKind::SelfChat) => None,
            // An orphan the owner sent: it was to the row's handle, if any.
            None => handle.filter(not_owner).cloned(),
        };
        match other {
            Some(h) => Ok((self.person(conn, &h)?, Some(h))),
            None => Ok((Some(self.owner.clone()), None)),
        }
    }

    /// Insert the message; true if it was new to memory (counted either way).
    fn insert(
        &mut self,
        conn: &Connection,
        insert: &mut messages::Inserter<'_>,
        m: &RawMessage,
        kept: &Kept,
    ) -> rusqlite::Result<bool> {
        let stored = messages::insert_message_with(
            conn,
            insert,
            &NewMessage {
                channel: &kept.channel,
                external_id: &m.guid,
                chat_id: kept.chat.map(|c| c.id),
                sender_id: &kept.sender,
                person_id: &kept.person,
                handle: kept.contact_handle.as_ref().map(Handle::as_str),
                direction: if m.is_from_me {
                    Direction::Out
                } else {
                    Direction::In
                },
                text: &kept.text,
                at_ms: kept.at_ms,
                reply_to: m.reply_to.as_deref(),
                edited: m.date_edited != 0 && m.text.as_deref().is_none_or(str::is_empty),
                is_command: kept.is_self,
            },
            m.rowid > self.unchecked_upto,
        )?;
        let count = match stored {
            Stored::New => &mut self.counts.messages,
            Stored::Edited => &mut self.counts.edited,
            Stored::Known => &mut self.counts.already_known,
        };
        *count += 1;
        Ok(stored == Stored::New)
    }
}
