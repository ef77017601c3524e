//! The linked device's messages into memory. A JID is a person by their
//! phone: `15125551234@s.whatsapp.net` is `phone:+15125551234`, the same
//! person as their iMessage; a LID (`…@lid`, WhatsApp's private id) is their
//! phone when WhatsApp says which (`sender_alt`), else `whatsapp:<lid>`. The
//! owner's own "Message yourself" chat is their self chat (their lines there
//! are commands). Reactions land on their targets, edits replace the text,
//! a delete for everyone replaces it with `[deleted]`; media is a placeholder
//! with its type and caption, never downloaded. History (the sync after a
//! first link) is stored and never published, so nothing acts on it.

use rusqlite::Connection;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Jid, Server};

use super::super::CHANNEL;
use crate::memory::handle::{Canonicalizer, Handle};
use crate::memory::messages::{self, ChatKind, Direction, NewMessage, NewReaction, Stored};
use crate::memory::people::{self, Resolved};
use crate::types::Inbound;

/// What a delete for everyone leaves of a message.
pub const DELETED: &str = "[deleted]";

/// Per-run counts, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub messages: u64,
    pub already_known: u64,
    pub reactions: u64,
    pub edits: u64,
    pub deletes: u64,
    pub history: u64,
    pub skipped: u64,
}

/// One message as WhatsApp delivered it, live or from the history sync.
pub struct Incoming<'a> {
    pub id: &'a str,
    pub chat: &'a Jid,
    /// The author; `None` with `from_me`.
    pub sender: Option<&'a Jid>,
    /// The author's other id (the phone JID of a LID sender).
    pub sender_alt: Option<&'a Jid>,
    /// A 1:1 chat's other id (the phone JID when the chat is a LID).
    pub chat_alt: Option<&'a Jid>,
    pub from_me: bool,
    pub at_ms: i64,
    /// The name the sender gave WhatsApp: names them if they are new to memory.
    pub push_name: Option<&'a str>,
    pub message: &'a wa::Message,
}

/// What a message is, as memory keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    Reaction {
        target: String,
        emoji: String,
    },
    Edit {
        target: String,
        text: String,
    },
    Delete {
        target: String,
    },
    /// Protocol chatter (keys, receipts of app state): not a message.
    None,
}

/// The message's content: text, a media placeholder with its caption, or
/// an action on another message.
pub fn content(m: &wa::Message) -> Content {
    use whatsapp_rust::prelude::MessageExt;
    let base = m.get_base_message();
    if let Some(r) = base.reaction_message.as_option() {
        let target = r.key.as_option().and_then(|k| k.id.clone());
        return target.map_or(Content::None, |target| Content::Reaction {
            target,
            emoji: r.text.clone().unwrap_or_default(),
        });
    }
    if let Some(p) = base.protocol_message.as_option() {
        use wa::message::protocol_message::Type;
        let target = p.key.as_option().and_then(|k| k.id.clone());
        return match (p.r#type, target) {
            (Some(Type::REVOKE), Some(target)) => Content::Delete { target },
            (Some(Type::MESSAGE_EDIT), Some(target)) => {
                let text = p
                    .edited_message
                    .as_option()
                    .map(|e| placeholder(e).unwrap_or_default())
                    .unwrap_or_default();
                Content::Edit { target, text }
            }
            _ => Content::None,
        };
    }
    placeholder(m).map_or(Content::None, Content::Text)
}

/// Text, or `[photo] caption`-style placeholders for media.
fn placeholder(m: &wa::Message) -> Option<String> {
    use whatsapp_rust::prelude::MessageExt;
    if let Some(t) = m.text_content().filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    let b = m.get_base_message();
    let (what, caption) = if let Some(i) = b.image_message.as_option() {
        ("photo", i.caption.clone())
    } else if let Some(v) = b.video_message.as_option() {
        ("video", v.caption.clone())
    } else if let Some(a) = b.audio_message.as_option() {
        let voice = a.ptt.unwrap_or(false);
        (if voice { "voice message" } else { "audio" }, None)
    } else if let Some(d) = b.document_message.as_option() {
        let name = d.file_name.clone().or_else(|| d.title.clone());
        ("file", d.caption.clone().or(name))
    } else if b.sticker_message.is_set() {
        ("sticker", None)
    } else if let Some(c) = b.contact_message.as_option() {
        ("contact", c.display_name.clone())
    } else if let Some(l) = b.location_message.as_option() {
        ("location", l.name.clone().or_else(|| l.address.clone()))
    } else {
        return None;
    };
    Some(match caption.filter(|c| !c.is_empty()) {
        Some(c) => format!("[{what}] {c}"),
        None => format!("[{what}]"),
    })
}

/// A JID's handle: by phone where WhatsApp tells it, else the JID itself
/// (device and agent dropped).
pub fn jid_handle(canon: &Canonicalizer, jid: &Jid, alt: Option<&Jid>) -> Handle {
    let pn = if jid.is_pn() {
        Some(jid)
    } else {
        alt.filter(|a| a.is_pn())
    };
    canon.canonicalize(&pn.unwrap_or(jid).to_non_ad_string())
}

/// The chat key memory uses for a 1:1 chat: `+E164` for a phone (as the
/// Cloud API's chats are keyed, so both modes share a person's chat), else the JID.
pub fn direct_key(h: &Handle) -> String {
    h.value().to_string()
}

/// A chat key back to the JID a send goes to: `+15125551234` →
/// `15125551234@s.whatsapp.net`; a JID stays itself.
pub fn send_jid(chat: &str) -> Option<Jid> {
    if let Some(digits) = chat.strip_prefix('+') {
        return digits
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| Jid::new(digits, Server::Pn));
    }
    chat.parse::<Jid>().ok()
}

/// What one batch published.
#[derive(Debug, Default)]
pub struct Batch {
    pub inbound: Vec<Inbound>,
}

pub struct LinkedIngest {
    canon: Canonicalizer,
    owner: String,
    /// The owner's own handles (their number, their LID).
    own: Vec<Handle>,
    pub counts: Counts,
}

impl LinkedIngest {
    /// The owner person holds `own` (their numbers from `owner.handles`, the
    /// linked number, their LID). Call inside a write transaction.
    pub fn new(
        conn: &Connection,
        canon: Canonicalizer,
        owner_name: Option<&str>,
        own: &[String],
    ) -> rusqlite::Result<LinkedIngest> {
        let own: Vec<Handle> = own.iter().map(|h| canon.canonicalize(h)).collect();
        let owner = people::ensure_owner(conn, owner_name, &own, CHANNEL)?;
        Ok(LinkedIngest {
            canon,
            owner,
            own,
            counts: Counts::default(),
        })
    }

    /// A new link's number and LID are the owner's too (a link made while
    /// the daemon runs). Call inside a write transaction.
    pub fn add_own(&mut self, conn: &Connection, own: &[String]) -> rusqlite::Result<()> {
        let new: Vec<Handle> = own
            .iter()
            .map(|h| self.canon.canonicalize(h))
            .filter(|h| !self.own.contains(h))
            .collect();
        people::ensure_owner(conn, None, &new, CHANNEL)?;
        self.own.extend(new);
        Ok(())
    }

    /// Store one message in the caller's transaction; a new live one is
    /// added to `batch` for the bus, history never is.
    pub fn message(
        &mut self,
        conn: &Connection,
        m: &Incoming<'_>,
        history: bool,
        batch: &mut Batch,
    ) -> rusqlite::Result<()> {
        // Status updates, broadcast lists and channels are not conversations.
        if !matches!(
            m.chat.server,
            Server::Pn | Server::Lid | Server::Group | Server::Hosted | Server::HostedLid
        ) {
            self.counts.skipped += 1;
            return Ok(());
        }
        let content = content(m.message);
        if content == Content::None {
            self.counts.skipped += 1;
            return Ok(());
        }
        let Some(who) = self.who(conn, m)? else {
            // A forgotten handle: nothing from them is kept.
            self.counts.skipped += 1;
            return Ok(());
        };
        match content {
            Content::Text(text) => self.text(conn, m, &who, &text, history, batch),
            Content::Reaction { target, emoji } => {
                let new = messages::insert_reaction(
                    conn,
                    &NewReaction {
                        channel: CHANNEL,
                        external_id: m.id,
                        target: &target,
                        person_id: &who.sender,
                        kind: "reaction",
                        emoji: Some(emoji.as_str()).filter(|e| !e.is_empty()),
                        removed: emoji.is_empty(),
                        at_ms: m.at_ms,
                    },
                )?;
                self.counts.reactions += u64::from(new);
                Ok(())
            }
            Content::Edit { target, text } => self.rewrite(conn, &who, &target, &text),
            Content::Delete { target } => self.rewrite(conn, &who, &target, DELETED),
            Content::None => Ok(()),
        }
    }

    /// An edit or a delete: the target's text replaced, if memory has it
    /// (and it is the author's own message: only they can edit or delete it).
    fn rewrite(
        &mut self,
        conn: &Connection,
        who: &Who,
        target: &str,
        text: &str,
    ) -> rusqlite::Result<()> {
        let n = conn.execute(
            "UPDATE messages SET text = ?3, edited = 1
             WHERE channel = ?1 AND external_id = ?2 AND sender_id = ?4 AND text <> ?3",
            rusqlite::params![CHANNEL, target, text, who.sender],
        )?;
        if text == DELETED {
            self.counts.deletes += n as u64;
        } else {
            self.counts.edits += n as u64;
        }
        Ok(())
    }

    fn text(
        &mut self,
        conn: &Connection,
        m: &Incoming<'_>,
        who: &Who,
        text: &str,
        history: bool,
        batch: &mut Batch,
    ) -> rusqlite::Result<()> {
        let (chat, _) = messages::upsert_chat(conn, CHANNEL, &who.chat_key, who.kind, None)?;
        messages::add_member(conn, chat, &who.sender)?;
        messages::add_member(conn, chat, &who.person)?;
        let command = who.kind == ChatKind::SelfChat && m.from_me;
        let stored = messages::insert_message(
            conn,
            &NewMessage {
                channel: CHANNEL,
                external_id: m.id,
                chat_id: Some(chat),
                sender_id: &who.sender,
                person_id: &who.person,
                handle: who.handle.as_ref().map(Handle::as_str),
                direction: if m.from_me {
                    Direction::Out
                } else {
                    Direction::In
                },
                text,
                at_ms: m.at_ms,
                reply_to: None,
                edited: false,
                is_command: command,
            },
        )?;
        if stored != Stored::New {
            self.counts.already_known += 1;
            return Ok(());
        }
        if history {
            self.counts.history += 1;
            return Ok(());
        }
        self.counts.messages += 1;
        batch.inbound.push(Inbound {
            channel: CHANNEL.to_string(),
            external_id: m.id.to_string(),
            chat_external_id: Some(who.chat_key.clone()),
            chat_kind: Some(who.kind.as_str().to_string()),
            person_id: who.person.clone(),
            sender_id: who.sender.clone(),
            handle: who.handle.as_ref().map(|h| h.to_string()),
            from_me: m.from_me,
            is_command: command,
            text: text.to_string(),
            at_ms: m.at_ms,
        });
        Ok(())
    }

    /// Who wrote and where: the sender, the person it counts for, the chat.
    /// `None`: the other side is a forgotten handle.
    fn who(&self, conn: &Connection, m: &Incoming<'_>) -> rusqlite::Result<Option<Who>> {
        let group = m.chat.server == Server::Group;
        let sender_handle = match (m.from_me, m.sender) {
            (true, _) | (false, None) => None,
            (false, Some(s)) => Some(jid_handle(&self.canon, s, m.sender_alt)),
        };
        let sender = match &sender_handle {
            None => self.owner.clone(),
            Some(h) => match self.person(conn, h, m.push_name)? {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        if group {
            return Ok(Some(Who {
                person: sender.clone(),
                sender,
                handle: sender_handle,
                chat_key: m.chat.to_non_ad_string(),
                kind: ChatKind::Group,
            }));
        }
        // A 1:1 chat: its JID is the other person (or the owner's own number).
        let peer = jid_handle(&self.canon, m.chat, m.chat_alt);
        if self.own.contains(&peer) {
            let own = self.own.first().cloned();
            return Ok(Some(Who {
                person: self.owner.clone(),
                sender: self.owner.clone(),
                chat_key: direct_key(&peer),
                handle: own,
                kind: ChatKind::SelfChat,
            }));
        }
        let person = if m.from_me {
            match self.person(conn, &peer, None)? {
                Some(p) => p,
                None => return Ok(None),
            }
        } else {
            sender.clone()
        };
        Ok(Some(Who {
            person,
            sender,
            chat_key: direct_key(&peer),
            handle: Some(peer),
            kind: ChatKind::Direct,
        }))
    }

    /// The person behind `h`; one seen first is named from `name` (their
    /// WhatsApp profile name, kept as their name until the owner's Contacts say otherwise).
    fn person(
        &self,
        conn: &Connection,
        h: &Handle,
        name: Option<&str>,
    ) -> rusqlite::Result<Option<String>> {
        if self.own.contains(h) {
            return Ok(Some(self.owner.clone()));
        }
        Ok(match people::resolve(conn, h, CHANNEL)? {
            Resolved::Forgotten => None,
            Resolved::Created(id) => {
                if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
                    conn.execute(
                        "UPDATE people SET name = ?2, name_source = 'whatsapp' WHERE id = ?1 AND name IS NULL",
                        rusqlite::params![id, n],
                    )?;
                }
                Some(id)
            }
            Resolved::Known(id) => Some(id),
        })
    }

    /// The history sync's conversations, stored as history. How many new.
    pub fn history(&mut self, conn: &Connection, hs: &wa::HistorySync) -> rusqlite::Result<u64> {
        let before = self.counts.history;
        let mut sink = Batch::default();
        for conv in &hs.conversations {
            let Ok(chat) = conv.id.parse::<Jid>() else {
                self.counts.skipped += conv.messages.len() as u64;
                continue;
            };
            for hm in &conv.messages {
                let Some(info) = hm.message.as_option() else {
                    continue;
                };
                let (Some(key), Some(message)) = (info.key.as_option(), info.message.as_option())
                else {
                    continue;
                };
                let Some(id) = key.id.as_deref() else {
                    continue;
                };
                let from_me = key.from_me.unwrap_or(false);
                let participant = key
                    .participant
                    .as_deref()
                    .or(info.participant.as_deref())
                    .and_then(|p| p.parse::<Jid>().ok());
                let sender = participant.or_else(|| (!from_me).then(|| chat.clone()));
                let m = Incoming {
                    id,
                    chat: &chat,
                    sender: sender.as_ref(),
                    sender_alt: None,
                    chat_alt: None,
                    from_me,
                    at_ms: info.message_timestamp.unwrap_or(0) as i64 * 1000,
                    push_name: info.push_name.as_deref(),
                    message,
                };
                self.message(conn, &m, true, &mut sink)?;
            }
        }
        Ok(self.counts.history - before)
    }
}

/// The people and chat one message belongs to.
struct Who {
    sender: String,
    person: String,
    handle: Option<Handle>,
    chat_key: String,
    kind: ChatKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jids_and_lids_are_the_persons_phone() {
        let canon = Canonicalizer::new("US");
        let pn: Jid = "15125551234:3@s.whatsapp.net".parse().unwrap();
        assert_eq!(jid_handle(&canon, &pn, None).as_str(), "phone:+15125551234");
        let lid: Jid = "987654321:2@lid".parse().unwrap();
        assert_eq!(
            jid_handle(&canon, &lid, Some(&pn)).as_str(),
            "phone:+15125551234"
        );
        assert_eq!(
            jid_handle(&canon, &lid, None).as_str(),
            "whatsapp:987654321@lid"
        );
        assert_eq!(
            send_jid("+15125551234").unwrap().to_string(),
            "15125551234@s.whatsapp.net"
        );
        assert_eq!(send_jid("120363@g.us").unwrap().to_string(), "120363@g.us");
        assert!(send_jid("+1 512").is_none());
    }

    #[test]
    fn media_is_a_placeholder_with_its_caption() {
        let photo = wa::Message {
            image_message: whatsapp_rust::prelude::MessageField::some(wa::message::ImageMessage {
                caption: Some("the view".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(content(&photo), Content::Text("[photo] the view".into()));
        let voice = wa::Message {
            audio_message: whatsapp_rust::prelude::MessageField::some(wa::message::AudioMessage {
                ptt: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(content(&voice), Content::Text("[voice message]".into()));
        assert_eq!(content(&wa::Message::default()), Content::None);
    }
}
