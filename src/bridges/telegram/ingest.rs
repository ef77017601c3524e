//! Bot updates into memory. A person who writes to the bot is the handle
//! `telegram:<user id>` (never their digits read as a phone number; their
//! username and name are kept as facts and the name, never as identity); the
//! owner is `ownerUserId` and nothing else: their private chat with the bot is
//! their console (lines marked as commands), a press on a draft's button or a
//! reply to an Edit question goes to the daemon as a [`ConsoleEvent`]. The
//! getUpdates offset is written in the transaction that stores the batch.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;
use teloxide_core::types::{Message, Update, UpdateKind, User};

use super::CHANNEL;
use crate::memory::handle::{Canonicalizer, Handle};
use crate::memory::messages::{self, ChatKind, Direction, NewMessage, Stored};
use crate::memory::people;
use crate::owner_state::{self, Key};
use crate::types::Inbound;

/// `source_cursors` row: the next getUpdates offset (last update id + 1).
pub const CURSOR: &str = "telegram.offset";

/// The same counts `import imessage --json` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub messages: u64,
    pub already_known: u64,
    pub skipped: u64,
    pub people: u64,
    pub chats: u64,
}

/// What the owner did on Telegram that is not a chat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// Someone pressed an inline button (`from` decides whether it counts).
    Press {
        callback: String,
        from: i64,
        chat: i64,
        message: i32,
        data: String,
    },
    /// The owner answered an Edit question: the draft's new text.
    EditText { confirmation: String, text: String },
    /// Something the owner should hear (a new contact, a merge to confirm).
    Tell(String),
}

/// One stored batch: what to publish, and the offset it moved to.
#[derive(Debug, Default)]
pub struct Batch {
    pub inbound: Vec<Inbound>,
    pub console: Vec<ConsoleEvent>,
    pub offset: i64,
}

/// One message as memory stores it.
struct Line<'a> {
    sender: &'a str,
    handle: Option<&'a str>,
    kind: ChatKind,
    /// Written by the owner.
    out: bool,
    text: &'a str,
    edited: bool,
}

pub struct TelegramIngest {
    canon: Canonicalizer,
    owner_user: i64,
    owner: String,
    pub counts: Counts,
}

impl TelegramIngest {
    /// The owner person holds `telegram:<ownerUserId>`. Call inside a write transaction.
    pub fn new(
        conn: &Connection,
        canon: Canonicalizer,
        owner_name: Option<&str>,
        owner_user: i64,
    ) -> rusqlite::Result<TelegramIngest> {
        let me = handle(&canon, owner_user);
        let owner = people::ensure_owner(conn, owner_name, &[me], CHANNEL)?;
        Ok(TelegramIngest {
            canon,
            owner_user,
            owner,
            counts: Counts::default(),
        })
    }

    /// Store `updates` in the caller's transaction and move the offset past
    /// them. `dedup` (webhook mode) skips ids below the stored offset, which a
    /// redelivered post can carry; a poll asks Telegram from the offset itself.
    pub fn updates(
        &mut self,
        conn: &Connection,
        updates: &[Update],
        dedup: bool,
    ) -> rusqlite::Result<Batch> {
        let stored = messages::get_cursor(conn, CURSOR)?.unwrap_or(0);
        let mut batch = Batch {
            offset: stored,
            ..Batch::default()
        };
        let mut last = None;
        for u in updates {
            let id = i64::from(u.id.0);
            if dedup && id < stored {
                self.counts.already_known += 1;
                continue;
            }
            match &u.kind {
                UpdateKind::Message(m) => self.message(conn, m, false, &mut batch)?,
                UpdateKind::EditedMessage(m) => self.message(conn, m, true, &mut batch)?,
                UpdateKind::CallbackQuery(q) => batch.console.push(ConsoleEvent::Press {
                    callback: q.id.0.clone(),
                    from: q.from.id.0 as i64,
                    chat: q.message.as_ref().map_or(0, |m| m.chat().id.0),
                    message: q.message.as_ref().map_or(0, |m| m.id().0),
                    data: q.data.clone().unwrap_or_default(),
                }),
                _ => self.counts.skipped += 1,
            }
            last = Some(last.map_or(id, |l: i64| l.max(id)));
        }
        if let Some(last) = last {
            batch.offset = if dedup {
                stored.max(last + 1)
            } else {
                last + 1
            };
        }
        messages::index_new(conn)?;
        messages::set_cursor(conn, CURSOR, batch.offset)?;
        Ok(batch)
    }

    fn message(
        &mut self,
        conn: &Connection,
        m: &Message,
        edited: bool,
        batch: &mut Batch,
    ) -> rusqlite::Result<()> {
        // Channel posts and anonymous admins have no user: nobody to answer.
        let Some(from) = m.from.as_ref().filter(|u| !u.is_bot) else {
            self.counts.skipped += 1;
            return Ok(());
        };
        let text = text_of(m);
        if from.id.0 as i64 == self.owner_user && m.chat.is_private() {
            return self.owner_line(conn, m, &text, edited, batch);
        }
        let from_me = from.id.0 as i64 == self.owner_user;
        let (sender, created) = if from_me {
            (self.owner.clone(), false)
        } else {
            match self.person(conn, from, batch)? {
                Some(p) => p,
                // The owner told Steward to forget them: nothing is kept.
                None => {
                    self.counts.skipped += 1;
                    return Ok(());
                }
            }
        };
        if m.chat.is_private() && text.starts_with('/') {
            // /start and other bot commands are the app talking, not the person.
            if created {
                batch.console.push(ConsoleEvent::Tell(format!(
                    "👋 {} started a chat with your Telegram bot. Their messages will reach you as drafts to confirm.",
                    describe(from)
                )));
            }
            self.counts.skipped += 1;
            return Ok(());
        }
        if let Some(card) = m.contact() {
            self.shared_card(conn, &sender, from, card, batch)?;
        }
        let group = !m.chat.is_private();
        let h = (!from_me).then(|| handle(&self.canon, from.id.0 as i64));
        let line = Line {
            sender: &sender,
            handle: h.as_ref().map(Handle::as_str),
            kind: if group {
                ChatKind::Group
            } else {
                ChatKind::Direct
            },
            out: from_me,
            text: &text,
            edited,
        };
        let (external, stored) = self.store(conn, m, &line)?;
        if stored != Stored::New {
            self.counts.already_known += u64::from(stored == Stored::Known);
            return Ok(());
        }
        self.counts.messages += 1;
        if created && !group {
            batch.console.push(ConsoleEvent::Tell(format!(
                "👋 {} wrote to your Telegram bot for the first time.",
                describe(from)
            )));
        }
        batch.inbound.push(Inbound {
            channel: CHANNEL.to_string(),
            external_id: external,
            chat_external_id: Some(m.chat.id.0.to_string()),
            chat_kind: Some(if group { "group" } else { "direct" }.to_string()),
            person_id: sender.clone(),
            sender_id: sender,
            handle: h.map(|h| h.to_string()),
            from_me,
            is_command: false,
            text,
            at_ms: m.date.timestamp_millis(),
        });
        Ok(())
    }

    /// The owner in their chat with the bot: a command line, or the answer to
    /// an Edit question (a reply to it).
    fn owner_line(
        &mut self,
        conn: &Connection,
        m: &Message,
        text: &str,
        edited: bool,
        batch: &mut Batch,
    ) -> rusqlite::Result<()> {
        let chat_id = m.chat.id.0;
        let owner = self.owner.clone();
        let line = Line {
            sender: &owner,
            handle: None,
            kind: ChatKind::SelfChat,
            out: true,
            text,
            edited,
        };
        let (external, stored) = self.store(conn, m, &line)?;
        // An edit of a command already acted on is not a second command.
        if stored != Stored::New {
            self.counts.already_known += 1;
            return Ok(());
        }
        self.counts.messages += 1;
        if let Some(asked) = m.reply_to_message() {
            let confirmation: Option<String> = conn
                .query_row(
                    "UPDATE telegram_prompts SET settled = 1
                     WHERE chat_id = ?1 AND message_id = ?2 AND kind = 'edit' AND settled = 0
                     RETURNING confirmation",
                    params![chat_id, asked.id.0],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(confirmation) = confirmation {
                batch.console.push(ConsoleEvent::EditText {
                    confirmation,
                    text: text.to_string(),
                });
                return Ok(());
            }
        }
        batch.inbound.push(Inbound {
            channel: CHANNEL.to_string(),
            external_id: external,
            chat_external_id: Some(chat_id.to_string()),
            chat_kind: Some("self".into()),
            person_id: self.owner.clone(),
            sender_id: self.owner.clone(),
            handle: Some(handle(&self.canon, self.owner_user).to_string()),
            from_me: true,
            is_command: true,
            text: command_text(text),
            at_ms: m.date.timestamp_millis(),
        });
        Ok(())
    }

    /// The message's chat (created once, the sender a member) and its row.
    fn store(
        &mut self,
        conn: &Connection,
        m: &Message,
        line: &Line<'_>,
    ) -> rusqlite::Result<(String, Stored)> {
        let name = (line.kind == ChatKind::Group)
            .then(|| m.chat.title())
            .flatten();
        let (chat, created) =
            messages::upsert_chat(conn, CHANNEL, &m.chat.id.0.to_string(), line.kind, name)?;
        self.counts.chats += u64::from(created);
        messages::add_member(conn, chat, line.sender)?;
        let external = format!("{}:{}", m.chat.id.0, m.id.0);
        let stored = messages::insert_message(
            conn,
            &NewMessage {
                channel: CHANNEL,
                external_id: &external,
                chat_id: Some(chat),
                sender_id: line.sender,
                person_id: line.sender,
                handle: line.handle,
                direction: if line.out {
                    Direction::Out
                } else {
                    Direction::In
                },
                text: line.text,
                at_ms: m.date.timestamp_millis(),
                reply_to: None,
                edited: line.edited,
                is_command: line.kind == ChatKind::SelfChat,
            },
        )?;
        Ok((external, stored))
    }

    /// The person behind a Telegram user; a new one is named from their
    /// profile, with the username kept as a fact, and checked against memory
    /// for someone of the same name (a merge the owner confirms).
    fn person(
        &mut self,
        conn: &Connection,
        from: &User,
        batch: &mut Batch,
    ) -> rusqlite::Result<Option<(String, bool)>> {
        let h = handle(&self.canon, from.id.0 as i64);
        let id = match people::resolve(conn, &h, CHANNEL)? {
            people::Resolved::Known(id) => return Ok(Some((id, false))),
            people::Resolved::Forgotten => return Ok(None),
            people::Resolved::Created(id) => id,
        };
        self.counts.people += 1;
        let name = full_name(from);
        conn.execute(
            "UPDATE people SET name = ?2, name_source = 'telegram' WHERE id = ?1 AND name IS NULL",
            params![id, name],
        )?;
        crate::memory::query::add_fact(conn, &id, "telegram name", &name, "telegram", 1.0)?;
        if let Some(u) = &from.username {
            crate::memory::query::add_fact(
                conn,
                &id,
                "telegram username",
                &format!("@{u}"),
                "telegram",
                1.0,
            )?;
        }
        let same: Vec<(String, String)> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name FROM people WHERE lower(name) = lower(?1) AND id != ?2 AND is_owner = 0 LIMIT 2",
            )?;
            stmt.query_map(params![name, id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        if let [(known, known_name)] = same.as_slice() {
            self.offer_merge(
                conn,
                known,
                known_name,
                &id,
                from,
                "has the same name as",
                batch,
            )?;
        }
        Ok(Some((id, true)))
    }

    /// A contact card the sender shared of themself: a phone someone in
    /// memory has is a merge to offer; the number alone is kept as a fact.
    fn shared_card(
        &mut self,
        conn: &Connection,
        person: &str,
        from: &User,
        card: &teloxide_core::types::Contact,
        batch: &mut Batch,
    ) -> rusqlite::Result<()> {
        if card.user_id.map(|u| u.0) != Some(from.id.0) {
            return Ok(());
        }
        let phone = self.canon.canonicalize(&card.phone_number);
        let known = people::person_for_handle(conn, &phone)?
            .filter(|p| p != person && Some(p) != Some(&self.owner));
        match known {
            Some(known) => {
                let name: String = conn.query_row(
                    "SELECT COALESCE(name, ?2) FROM people WHERE id = ?1",
                    params![known, phone.as_str()],
                    |r| r.get(0),
                )?;
                self.offer_merge(
                    conn,
                    &known,
                    &name,
                    person,
                    from,
                    "shared the phone number of",
                    batch,
                )
            }
            None => {
                crate::memory::query::add_fact(
                    conn,
                    person,
                    "telegram phone",
                    phone.value(),
                    "telegram",
                    1.0,
                )?;
                Ok(())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn offer_merge(
        &self,
        conn: &Connection,
        known: &str,
        known_name: &str,
        new: &str,
        from: &User,
        why: &str,
        batch: &mut Batch,
    ) -> rusqlite::Result<()> {
        owner_state::set(
            conn,
            Key::Question,
            &json!({ "kind": "merge", "personId": known, "name": known_name, "fromId": new }),
        )?;
        batch.console.push(ConsoleEvent::Tell(format!(
            "🔗 {} on Telegram {why} {known_name} in your memory. merge {known_name}? yes/no",
            describe(from)
        )));
        Ok(())
    }
}

/// `telegram:<id>`: a user id is never read as a phone number.
pub fn handle(canon: &Canonicalizer, user: i64) -> Handle {
    canon.canonicalize(&format!("telegram:{user}"))
}

fn full_name(u: &User) -> String {
    match &u.last_name {
        Some(l) if !l.is_empty() => format!("{} {l}", u.first_name),
        _ => u.first_name.clone(),
    }
}

/// "Ann Lee (@annlee)".
fn describe(u: &User) -> String {
    match &u.username {
        Some(name) => format!("{} (@{name})", full_name(u)),
        None => full_name(u),
    }
}

/// The text memory keeps: the message or caption, else what it is.
fn text_of(m: &Message) -> String {
    if let Some(t) = m.text().or(m.caption()) {
        return t.to_string();
    }
    if let Some(c) = m.contact() {
        return format!("[contact: {} {}]", c.first_name, c.phone_number);
    }
    let what = if m.photo().is_some() {
        "photo"
    } else if m.sticker().is_some() {
        "sticker"
    } else if m.voice().is_some() {
        "voice message"
    } else if m.document().is_some() {
        "file"
    } else {
        "message"
    };
    format!("[{what}]")
}

/// The owner's bot commands as the self-chat grammar spells them:
/// `/status` → `status`, `/pause@my_bot for 2h` → `pause for 2h`, `/start` → `help`.
pub fn command_text(text: &str) -> String {
    let Some(rest) = text.trim().strip_prefix('/') else {
        return text.to_string();
    };
    let (cmd, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let cmd = cmd.split('@').next().unwrap_or(cmd).replace('_', " ");
    let cmd = if cmd == "start" {
        "help".to_string()
    } else {
        cmd
    };
    format!("{cmd} {}", args.trim()).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_commands_become_owner_commands() {
        assert_eq!(command_text("/status"), "status");
        assert_eq!(command_text("/start"), "help");
        assert_eq!(command_text("/pause@my_bot for 2h"), "pause for 2h");
        assert_eq!(command_text("/kill_switch on"), "kill switch on");
        assert_eq!(command_text("1 send"), "1 send");
    }

    #[test]
    fn a_user_id_is_never_a_phone() {
        let c = Canonicalizer::new("US");
        assert_eq!(handle(&c, 15125551234).as_str(), "telegram:15125551234");
    }
}
