//! Turning chat.db rows into memory: people, chats, messages and reactions.
//! Used by the backfill (`steward import imessage`) and the live reader alike.

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

fn service_channel(service: Option<&str>) -> String {
    match service.map(str::to_ascii_lowercase).as_deref() {
        Some("sms") => "sms".into(),
        Some("rcs") => "rcs".into(),
        Some("imessage") | None | Some("") => "imessage".into(),
        Some(other) => other.to_string(),
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
    pub fn row(&mut self, conn: &Connection, m: &RawMessage) -> rusqlite::Result<Option<Inbound>> {
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
        let sender = match (&handle, m.is_from_me) {
            (_, true) => self.owner.clone(),
            (Some(h), false) => match self.person(conn, h)? {
                Some(p) => p,
                None => {
                    self.skip("forgotten", &m.guid);
                    return Ok(None);
                }
            },
            (None, false) => match chat {
                Some(ChatInfo {
                    kind: ChatKind::SelfChat,
                    ..
                }) => self.owner.clone(),
                _ => {
                    self.skip("no-sender", &m.guid);
                    return Ok(None);
                }
            },
        };

        if let Some((kind, removed)) = tapback_kind(m.assoc_type) {
            let Some(target) = m.assoc_guid.as_deref().map(tapback_target) else {
                self.skip("tapback-without-target", &m.guid);
                return Ok(None);
            };
            let new = messages::insert_reaction(
                conn,
                &NewReaction {
                    channel: &channel,
                    external_id: &m.guid,
                    target,
                    person_id: &sender,
                    kind,
                    emoji: m.assoc_emoji.as_deref(),
                    removed,
                    at_ms,
                },
            )?;
            if new {
                self.counts.reactions += 1;
            }
            return Ok(None);
        }

        let text = match m.body_text() {
            Ok(Some(t)) => t,
            Ok(None) if m.date_edited != 0 => {
                self.skip("unsent", &m.guid);
                return Ok(None);
            }
            Ok(None) => {
                self.skip("empty", &m.guid);
                return Ok(None);
            }
            Err(_) => {
                self.skip("undecodable-body", &m.guid);
                return Ok(None);
            }
        };
        let edited = m.date_edited != 0 && m.text.as_deref().is_none_or(str::is_empty);

        let is_self = matches!(
            chat,
            Some(ChatInfo {
                kind: ChatKind::SelfChat,
                ..
            })
        );
        if let (true, Some(c)) = (is_self, chat)
            && self.is_echo(c.id, &text, at_ms, m.is_from_me)
        {
            self.counts.echoes += 1;
            return Ok(None);
        }

        // Whom the message counts for, and the contact handle involved.
        let (person, contact_handle) = if sender != self.owner {
            (Some(sender.clone()), handle.clone())
        } else {
            match chat.map(|c| c.kind) {
                Some(ChatKind::Direct) => {
                    let other = m
                        .chat_rowid
                        .and_then(|c| self.chat_members.get(&c))
                        .and_then(|ms| ms.first().cloned())
                        .or_else(|| handle.clone().filter(|h| !self.owner_handles.contains(h)));
                    match other {
                        Some(h) => (self.person(conn, &h)?, Some(h)),
                        None => (Some(self.owner.clone()), None),
                    }
                }
                Some(ChatKind::Group | ChatKind::SelfChat) => (Some(self.owner.clone()), None),
                // An orphan the owner sent: it was to the row's handle, if any.
                None => match handle.clone().filter(|h| !self.owner_handles.contains(h)) {
                    Some(h) => (self.person(conn, &h)?, Some(h)),
                    None => (Some(self.owner.clone()), None),
                },
            }
        };
        // The owner's line to a forgotten person is not kept either.
        let Some(person) = person else {
            self.skip("forgotten", &m.guid);
            return Ok(None);
        };

        let stored = messages::insert_message_checked(
            conn,
            &NewMessage {
                channel: &channel,
                external_id: &m.guid,
                chat_id: chat.map(|c| c.id),
                sender_id: &sender,
                person_id: &person,
                handle: contact_handle.as_ref().map(Handle::as_str),
                direction: if m.is_from_me {
                    Direction::Out
                } else {
                    Direction::In
                },
                text: &text,
                at_ms,
                reply_to: m.reply_to.as_deref(),
                edited,
                is_command: is_self,
            },
            m.rowid > self.unchecked_upto,
        )?;
        match stored {
            Stored::New => self.counts.messages += 1,
            Stored::Edited => {
                self.counts.edited += 1;
                return Ok(None);
            }
            Stored::Known => {
                self.counts.already_known += 1;
                return Ok(None);
            }
        }
        Ok(Some(Inbound {
            channel,
            external_id: m.guid.clone(),
            chat_external_id: m.chat_rowid.and_then(|c| self.chat_guids.get(&c).cloned()),
            chat_kind: chat.map(|c| c.kind.as_str().to_string()),
            person_id: person,
            sender_id: sender,
            // A self-chat line carries the owner's own handle (the audit names it).
            handle: contact_handle
                .or(if is_self { handle.clone() } else { None })
                .map(|h| h.to_string()),
            from_me: m.is_from_me,
            is_command: is_self,
            text,
            at_ms,
        }))
    }
}
