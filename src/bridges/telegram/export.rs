//! `steward import telegram result.json`: the owner's history from Telegram
//! Desktop's "Export chat history" (JSON; one chat, or the whole account with
//! `personal_information` and `chats.list`). Text entities are flattened to
//! their text, service lines (joins, calls, pins) are skipped and counted,
//! `from_id: "user…"` becomes a `telegram:` handle, the owner is the export's
//! own user (else `ownerUserId`). The owner's account chats are kept apart
//! from the bot's: chats are `account:<chat id>` and messages
//! `account:<chat id>:<message id>`, so re-importing changes nothing and an
//! edited message replaces its text. History fills memory, never acted on.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::Deserialize;

use super::CHANNEL;
use super::ingest::Counts;
use crate::memory::bulk::Bulk;
use crate::memory::handle::{Canonicalizer, Handle};
use crate::memory::messages::{self, ChatKind, Direction, NewMessage, Stored};
use crate::memory::people;

/// Messages per write transaction.
const BATCH: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "cannot read {path}: {source}; check the path (Telegram Desktop writes result.json in the export folder)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a Telegram Desktop JSON export ({detail}); export with Settings → Advanced → Export Telegram data, format \"Machine-readable JSON\""
    )]
    Format { path: PathBuf, detail: String },
    #[error(
        "{path}: the export does not say whose it is; set bridges.telegram.ownerUserId in steward.yaml (your numeric Telegram user id)"
    )]
    NoOwner { path: PathBuf },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// The whole account (`personal_information`, `chats.list`) or one chat
/// (the chat's own fields at the top). No `flatten`: it would buffer the file.
/// Strings borrow from the file where they can (`Cow`): most carry no escapes,
/// and a 200,000-message export otherwise makes a million small allocations.
#[derive(Deserialize)]
struct Export<'a> {
    personal_information: Option<Personal>,
    #[serde(borrow)]
    chats: Option<ChatList<'a>>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<i64>,
    #[serde(borrow)]
    messages: Option<Vec<ExMessage<'a>>>,
}

#[derive(Deserialize)]
struct Personal {
    user_id: i64,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

#[derive(Deserialize)]
struct ChatList<'a> {
    #[serde(borrow)]
    list: Vec<Chat<'a>>,
}

#[derive(Deserialize)]
struct Chat<'a> {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    id: i64,
    #[serde(borrow)]
    messages: Vec<ExMessage<'a>>,
}

#[derive(Deserialize)]
struct ExMessage<'a> {
    id: i64,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    date_unixtime: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    from: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    from_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Text<'a>,
    #[serde(default, borrow)]
    edited_unixtime: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    media_type: Option<Cow<'a, str>>,
    #[serde(default)]
    photo: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    file: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    sticker_emoji: Option<String>,
}

/// A message's text: a string, or a list of strings and entities
/// (`{"type": "bold", "text": "…"}`), flattened to the text shown.
#[derive(Default)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a list of text parts")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Text<'de>, A::Error> {
                let mut out = String::new();
                while let Some(part) = seq.next_element::<Part>()? {
                    out.push_str(&part.0);
                }
                Ok(Text(Cow::Owned(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// One part of a text list: a plain string or an entity's `text`.
struct Part(String);

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Entity {
            #[serde(default)]
            text: String,
        }
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Part;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a text entity")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Part, E> {
                Ok(Part(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Part, A::Error> {
                let e = Entity::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Part(e.text))
            }
        }
        d.deserialize_any(V)
    }
}

/// Import `path`; `progress(messages_done, messages_total)` after each batch.
/// `owner_user` is `ownerUserId`, for an export without personal information.
pub fn import(
    conn: &mut Connection,
    canon: &Canonicalizer,
    owner_name: Option<&str>,
    owner_user: Option<i64>,
    path: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<Counts, ExportError> {
    let bytes = std::fs::read(path).map_err(|source| ExportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let export: Export = serde_json::from_slice(&bytes).map_err(|e| ExportError::Format {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let single = match (export.kind, export.id, export.messages) {
        (Some(kind), Some(id), Some(messages)) => Some(Chat {
            name: export.name,
            kind,
            id,
            messages,
        }),
        _ => None,
    };
    let chats = match (export.chats, single) {
        (Some(list), _) => list.list,
        (None, Some(one)) => vec![one],
        (None, None) => {
            return Err(ExportError::Format {
                path: path.to_path_buf(),
                detail: "no chats.list and no messages".into(),
            });
        }
    };
    let me = export
        .personal_information
        .as_ref()
        .map(|p| p.user_id)
        .or(owner_user);
    let Some(me) = me else {
        return Err(ExportError::NoOwner {
            path: path.to_path_buf(),
        });
    };
    let name = export
        .personal_information
        .as_ref()
        .map(|p| {
            format!("{} {}", p.first_name, p.last_name)
                .trim()
                .to_string()
        })
        .filter(|n| !n.is_empty());
    let total: u64 = chats.iter().map(|c| c.messages.len() as u64).sum();
    crate::store::bulk(conn, |conn| {
        let tx = conn.transaction()?;
        let owner_handle = super::ingest::handle(canon, me);
        let owner = people::ensure_owner(
            &tx,
            owner_name.or(name.as_deref()),
            &[owner_handle],
            CHANNEL,
        )?;
        tx.commit()?;
        // Export ids (`account:…`) never meet the bot's, so a store without
        // messages can take the first-import path.
        let bulk = Bulk::begin(conn, true)?;
        let mut run = Run {
            canon,
            me,
            owner,
            people: HashMap::new(),
            counts: Counts::default(),
            done: 0,
            bulk: &bulk,
        };
        let copied = chats
            .iter()
            .try_for_each(|chat| run.chat(conn, chat, total, &mut progress));
        let counts = run.counts;
        // Also after a failure: what was committed gets its indexes now.
        bulk.finish(conn)?;
        copied.map(|()| counts)
    })
}

struct Run<'a> {
    canon: &'a Canonicalizer,
    me: i64,
    owner: String,
    people: HashMap<i64, String>,
    counts: Counts,
    done: u64,
    bulk: &'a Bulk,
}

impl Run<'_> {
    fn chat(
        &mut self,
        conn: &mut Connection,
        chat: &Chat,
        total: u64,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<(), ExportError> {
        let (kind, chat_no) = match chat.kind.as_str() {
            "personal_chat" | "bot_chat" => (ChatKind::Direct, chat.id),
            "saved_messages" => (ChatKind::SelfChat, self.me),
            "private_group" => (ChatKind::Group, -chat.id),
            _ => (ChatKind::Group, -1_000_000_000_000 - chat.id),
        };
        let external = format!("account:{chat_no}");
        // The other person of a 1:1 chat: whom the owner's lines count for.
        let other = (kind == ChatKind::Direct).then_some(chat.id);
        // Whether a message may already be in memory (the chat had some before).
        // Ids are unique within one chat of an export, so a first import skips the probe.
        let mut check = None;
        for batch in chat.messages.chunks(BATCH) {
            let tx = conn.transaction()?;
            let counterpart = match other {
                Some(id) => match self.person(&tx, id, chat.name.as_deref())? {
                    Some(p) => Some(p),
                    // A chat with someone the owner told Steward to forget.
                    None => {
                        self.counts.skipped += chat.messages.len() as u64;
                        self.done += chat.messages.len() as u64;
                        progress(self.done, total);
                        return Ok(());
                    }
                },
                None => None,
            };
            let name = (kind == ChatKind::Group)
                .then_some(chat.name.as_deref())
                .flatten();
            let (chat_row, created) = messages::upsert_chat(&tx, CHANNEL, &external, kind, name)?;
            self.counts.chats += u64::from(created);
            let check = match check {
                Some(c) => c,
                None => *check.insert(!created && chat_has_messages(&tx, chat_row)?),
            };
            messages::add_member(&tx, chat_row, &self.owner)?;
            if let Some(p) = &counterpart {
                messages::add_member(&tx, chat_row, p)?;
            }
            let with = counterpart.as_deref().zip(other);
            for m in batch {
                self.message(&tx, m, (chat_row, check), &external, with)?;
            }
            self.bulk.batch(&tx)?;
            tx.commit()?;
            self.done += batch.len() as u64;
            progress(self.done, total);
        }
        Ok(())
    }

    fn message(
        &mut self,
        tx: &Connection,
        m: &ExMessage,
        (chat_row, check): (i64, bool),
        chat_external: &str,
        counterpart: Option<(&str, i64)>,
    ) -> Result<(), ExportError> {
        let user = m.from_id.as_deref().and_then(sender_id);
        let at_ms = m
            .date_unixtime
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok())
            .map(|s| s * 1000);
        let (Some(user), Some(at_ms), "message") = (user, at_ms, m.kind.as_ref()) else {
            // Service lines (joins, calls, pins) and anything without a sender or date.
            self.counts.skipped += 1;
            return Ok(());
        };
        let from_me = user == self.me;
        let sender = if from_me {
            self.owner.clone()
        } else {
            match self.person(tx, user, m.from.as_deref())? {
                Some(p) => p,
                None => {
                    self.counts.skipped += 1;
                    return Ok(());
                }
            }
        };
        if !from_me {
            messages::add_member(tx, chat_row, &sender)?;
        }
        // The owner's line in a 1:1 chat counts for the other person, through their handle.
        let (person, contact) = match (from_me, counterpart) {
            (true, Some((p, id))) => (p.to_string(), Some(id)),
            (true, None) => (sender.clone(), None),
            (false, _) => (sender.clone(), Some(user)),
        };
        let handle = contact.map(|id| super::ingest::handle(self.canon, id));
        let text = shown(m);
        let external = format!("{chat_external}:{}", m.id);
        let stored = messages::insert_message_checked(
            tx,
            &NewMessage {
                channel: CHANNEL,
                external_id: &external,
                chat_id: Some(chat_row),
                sender_id: &sender,
                person_id: &person,
                handle: handle.as_ref().map(Handle::as_str),
                direction: if from_me {
                    Direction::Out
                } else {
                    Direction::In
                },
                text: &text,
                at_ms,
                reply_to: None,
                edited: m.edited_unixtime.is_some(),
                is_command: false,
            },
            check,
        )?;
        match stored {
            Stored::New => self.counts.messages += 1,
            Stored::Edited | Stored::Known => self.counts.already_known += 1,
        }
        Ok(())
    }

    /// The person for a Telegram user id; a new one is named as the export names them.
    fn person(
        &mut self,
        tx: &Connection,
        user: i64,
        name: Option<&str>,
    ) -> rusqlite::Result<Option<String>> {
        if user == self.me {
            return Ok(Some(self.owner.clone()));
        }
        if let Some(id) = self.people.get(&user) {
            return Ok(Some(id.clone()));
        }
        let resolved = people::resolve(tx, &super::ingest::handle(self.canon, user), CHANNEL)?;
        let created = resolved.created();
        let Some(id) = resolved.person() else {
            return Ok(None);
        };
        if created {
            self.counts.people += 1;
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                tx.execute(
                    "UPDATE people SET name = ?2, name_source = 'telegram' WHERE id = ?1 AND name IS NULL",
                    params![id, n],
                )?;
            }
        }
        self.people.insert(user, id.clone());
        Ok(Some(id))
    }
}

fn chat_has_messages(tx: &Connection, chat_row: i64) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE chat_id = ?1)",
        [chat_row],
        |r| r.get(0),
    )
}

/// `user123` → 123; `channel456` (a channel or an anonymous admin) → the Bot
/// API's chat id -100456.
fn sender_id(from_id: &str) -> Option<i64> {
    if let Some(n) = from_id.strip_prefix("user") {
        return n.parse().ok();
    }
    from_id
        .strip_prefix("channel")
        .and_then(|n| n.parse::<i64>().ok())
        .map(|n| -1_000_000_000_000 - n)
}

/// The text memory keeps: the flattened text, else what the message carries.
fn shown<'m>(m: &'m ExMessage) -> Cow<'m, str> {
    if !m.text.0.is_empty() {
        return Cow::Borrowed(&m.text.0);
    }
    if let Some(e) = &m.sticker_emoji {
        return Cow::Owned(format!("[sticker {e}]"));
    }
    let what = match m.media_type.as_deref() {
        Some("voice_message") => "voice message",
        Some("video_file") | Some("video_message") => "video",
        Some("sticker") => "sticker",
        Some(other) => other,
        None if m.photo.is_some() => "photo",
        None if m.file.is_some() => "file",
        None => "message",
    };
    Cow::Owned(format!("[{what}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_entities_flatten() {
        let m: ExMessage = serde_json::from_str(
            r#"{"id": 1, "type": "message", "text": ["see ", {"type": "bold", "text": "this"}, " at ", {"type": "text_link", "text": "the site", "href": "https://x"}]}"#,
        )
        .unwrap();
        assert_eq!(m.text.0, "see this at the site");
        let m: ExMessage =
            serde_json::from_str(r#"{"id": 2, "type": "message", "text": "plain"}"#).unwrap();
        assert_eq!(m.text.0, "plain");
    }

    #[test]
    fn senders() {
        assert_eq!(sender_id("user123"), Some(123));
        assert_eq!(sender_id("channel456"), Some(-1_000_000_000_456));
        assert_eq!(sender_id("chat1"), None);
    }
}
