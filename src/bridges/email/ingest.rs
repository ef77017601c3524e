//! Mail into memory: `email:` handles from From/To/Cc/Reply-To (the same person
//! as their phone when a Contacts card says so), one chat per thread (its root
//! Message-ID), the trimmed text as the message and the rest beside it in
//! `email_messages`. Used by `import mbox`, the IMAP backfill and the live reader.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::CHANNEL;
use super::mime::{Mail, Person};
use crate::memory::Canonicalizer;
use crate::memory::handle::Handle;
use crate::memory::messages::{self, ChatKind, Direction, NewMessage, Stored};
use crate::memory::people;
use crate::types::Inbound;

/// The same counts `import imessage --json` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub messages: u64,
    pub already_known: u64,
    pub skipped: u64,
    pub people: u64,
    pub chats: u64,
}

/// Where a mail was read.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub account: &'a str,
    pub folder: &'a str,
}

pub struct EmailIngest {
    canon: Canonicalizer,
    owner: String,
    owner_handles: HashSet<Handle>,
    people: people::Known,
    chats: HashMap<String, i64>,
    pub counts: Counts,
}

impl EmailIngest {
    /// Set up the owner with their addresses. Call inside the first write transaction.
    pub fn new(
        conn: &Connection,
        canon: Canonicalizer,
        owner_name: Option<&str>,
        owner_addresses: &[String],
    ) -> rusqlite::Result<EmailIngest> {
        let owner_handles: Vec<Handle> = owner_addresses
            .iter()
            .map(|a| canon.canonicalize(a))
            .collect();
        let owner = people::ensure_owner(conn, owner_name, &owner_handles, CHANNEL)?;
        Ok(EmailIngest {
            canon,
            owner,
            owner_handles: owner_handles.into_iter().collect(),
            people: people::Known::new(conn)?,
            chats: HashMap::new(),
            counts: Counts::default(),
        })
    }

    fn handle(&self, p: &Person) -> Handle {
        self.canon.canonicalize(&format!("email:{}", p.address))
    }

    /// Call at the start of each live batch: a merge, split, forget or identity
    /// correction since the last one (from the self-chat or the CLI) empties
    /// the handle → person cache, so the next message goes to the right person.
    pub fn people_changed(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.people.refresh(conn)
    }

    /// The person for an address; a new one is named from the mail's display
    /// name. `None`: the owner told Steward to forget this address.
    fn person(&mut self, conn: &Connection, p: &Person) -> rusqlite::Result<Option<String>> {
        let h = self.handle(p);
        if self.owner_handles.contains(&h) {
            return Ok(Some(self.owner.clone()));
        }
        if let Some(id) = self.people.get(&h) {
            return Ok(Some(id.clone()));
        }
        let resolved = people::resolve(conn, &h, CHANNEL)?;
        let created = resolved.created();
        let Some(id) = resolved.person() else {
            return Ok(None);
        };
        if created {
            self.counts.people += 1;
            if let Some(name) = &p.name {
                conn.execute(
                    "UPDATE people SET name = ?2, name_source = 'email' WHERE id = ?1 AND name IS NULL",
                    params![id, name],
                )?;
            }
        }
        self.people.insert(h, id.clone());
        Ok(Some(id))
    }

    fn is_owner(&self, p: &Person) -> bool {
        self.owner_handles.contains(&self.handle(p))
    }

    /// The thread's chat: direct when one other person takes part, else a group.
    fn chat(&mut self, conn: &Connection, mail: &Mail, others: &[String]) -> rusqlite::Result<i64> {
        let thread = mail.thread_id().to_string();
        if let Some(id) = self.chats.get(&thread) {
            for p in others {
                messages::add_member(conn, *id, p)?;
            }
            return Ok(*id);
        }
        let kind = if others.len() <= 1 {
            ChatKind::Direct
        } else {
            ChatKind::Group
        };
        let name = subject_root(&mail.subject);
        let (id, created) = messages::upsert_chat(
            conn,
            CHANNEL,
            &thread,
            kind,
            Some(name).filter(|n| !n.is_empty()),
        )?;
        if created {
            self.counts.chats += 1;
        }
        for p in others {
            messages::add_member(conn, id, p)?;
        }
        self.chats.insert(thread, id);
        Ok(id)
    }

    /// Everyone on the mail but the owner, as person ids, once each.
    fn others(
        &mut self,
        conn: &Connection,
        mail: &Mail,
        from: &Person,
    ) -> rusqlite::Result<Vec<String>> {
        let mut others = Vec::new();
        for p in mail.to.iter().chain(&mail.cc).chain(std::iter::once(from)) {
            if !self.is_owner(p) {
                let Some(id) = self.person(conn, p)? else {
                    continue;
                };
                if !others.contains(&id) {
                    others.push(id);
                }
            }
        }
        Ok(others)
    }

    /// Store one mail. Returns the message if it was new to memory.
    pub fn mail(
        &mut self,
        conn: &Connection,
        src: Source<'_>,
        mail: &Mail,
    ) -> rusqlite::Result<Option<Inbound>> {
        let Some(from) = mail.from.as_ref() else {
            self.counts.skipped += 1;
            return Ok(None);
        };
        let from_me = self.is_owner(from);
        let note = if from_me {
            owner_note(conn, mail)?
        } else {
            Note::None
        };
        let is_command = note == Note::Answer;
        // Whom it counts for: the sender, or for the owner's own mail the first
        // recipient. Mail from or to a forgotten address is not stored.
        let Some(sender) = self.person(conn, from)? else {
            self.counts.skipped += 1;
            return Ok(None);
        };
        let (person, contact) = if from_me {
            match mail.to.iter().chain(&mail.cc).find(|p| !self.is_owner(p)) {
                Some(p) => match self.person(conn, p)? {
                    Some(id) => (id, Some(self.handle(p))),
                    None => {
                        self.counts.skipped += 1;
                        return Ok(None);
                    }
                },
                None => (self.owner.clone(), None),
            }
        } else {
            (sender.clone(), Some(self.handle(from)))
        };
        let others = self.others(conn, mail, from)?;
        let chat = self.chat(conn, mail, &others)?;
        let handle = contact.as_ref().map(Handle::as_str);
        let stored = messages::insert_message(
            conn,
            &NewMessage {
                channel: CHANNEL,
                external_id: &mail.message_id,
                chat_id: Some(chat),
                sender_id: &sender,
                person_id: &person,
                handle,
                direction: if from_me {
                    Direction::Out
                } else {
                    Direction::In
                },
                text: &mail.text,
                at_ms: mail.at_ms,
                reply_to: mail.in_reply_to.as_deref(),
                edited: false,
                is_command,
            },
        )?;
        if stored != Stored::New {
            self.counts.already_known += 1;
            return Ok(None);
        }
        self.meta(conn, src, mail)?;
        self.counts.messages += 1;
        if note == Note::Ours {
            // Steward's own note arriving in the owner's inbox: memory, not news.
            return Ok(None);
        }
        let kind = if others.len() <= 1 { "direct" } else { "group" };
        Ok(Some(Inbound {
            channel: CHANNEL.to_string(),
            external_id: mail.message_id.clone(),
            chat_external_id: Some(mail.thread_id().to_string()),
            chat_kind: Some(kind.to_string()),
            person_id: person,
            sender_id: sender,
            handle: handle.map(str::to_string),
            from_me,
            is_command,
            text: if is_command {
                command_line(&mail.text)
            } else {
                mail.text.clone()
            },
            at_ms: mail.at_ms,
        }))
    }

    /// The mail's email-only fields beside its row. Called right after the
    /// row's INSERT, so the connection's last rowid is that row.
    fn meta(&self, conn: &Connection, src: Source<'_>, mail: &Mail) -> rusqlite::Result<()> {
        let row = conn.last_insert_rowid();
        // Most mail has no quoted history or signature: then the memory copy is
        // the whole body, and an empty `body` says so instead of a second copy.
        let body = if mail.body.trim() == mail.text.trim() {
            ""
        } else {
            mail.body.as_str()
        };
        conn.prepare_cached(
            "INSERT OR IGNORE INTO email_messages (message_id, message_row, account, folder, subject,
                 in_reply_to, refs, list_id, bulk, attachments, body, reply_address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            mail.message_id,
            row,
            src.account,
            src.folder,
            mail.subject,
            mail.in_reply_to,
            serde_json::to_string(&mail.references).unwrap_or_else(|_| "[]".into()),
            mail.list_id,
            mail.bulk,
            serde_json::to_string(&mail.attachments).unwrap_or_else(|_| "[]".into()),
            body,
            mail.reply_to.as_ref().or(mail.from.as_ref()).map(|p| &p.address),
        ])?;
        Ok(())
    }

    /// A mail that could not be parsed.
    pub fn skip(&mut self) {
        self.counts.skipped += 1;
    }
}

/// "Re: Fwd: Friday" → "Friday": the thread's name.
pub fn subject_root(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let Some(n) = ["re:", "fwd:", "fw:", "aw:", "sv:", "tr:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len())
        else {
            return s;
        };
        s = s[n..].trim_start();
    }
}

/// A mail's whole text body (memory's copy is trimmed of quotes and signature).
pub fn body(conn: &Connection, message_id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT CASE WHEN e.body = '' THEN COALESCE(m.text, '') ELSE e.body END
         FROM email_messages e LEFT JOIN messages m ON m.id = e.message_row
         WHERE e.message_id = ?1",
        [message_id],
        |r| r.get(0),
    )
    .optional()
}

/// Whether memory marks this mail as bulk (a list, automatic or no-reply): the
/// assistant never drafts a reply to it.
pub fn is_bulk(conn: &Connection, message_id: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT bulk FROM email_messages WHERE message_id = ?1",
            [message_id],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_roots() {
        assert_eq!(subject_root("Re: RE: Fwd: Friday"), "Friday");
        assert_eq!(subject_root("Friday"), "Friday");
        assert_eq!(subject_root("Re:"), "");
    }
}

/// What an owner's mail is to the owner channel by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Note {
    None,
    /// A note Steward wrote to the owner (its own copy, arriving).
    Ours,
    /// The owner's answer to one: a command.
    Answer,
}

/// Whether the owner's `mail` is one of Steward's notes, or answers one (its
/// In-Reply-To or References name one): only an answer is a command. The
/// notes' Message-IDs are random, so a forged From alone is never enough.
fn owner_note(conn: &Connection, mail: &Mail) -> rusqlite::Result<Note> {
    let ours = |id: &str| -> rusqlite::Result<bool> {
        conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM owner_mail WHERE message_id = ?1)")?
            .query_row([id], |r| r.get(0))
    };
    if ours(&mail.message_id)? {
        return Ok(Note::Ours);
    }
    for id in mail.in_reply_to.iter().chain(&mail.references) {
        if ours(id)? {
            return Ok(Note::Answer);
        }
    }
    Ok(Note::None)
}

/// The command in the owner's reply: its first non-empty line (what follows
/// is often "Sent from my phone" or the quoted note).
fn command_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}
