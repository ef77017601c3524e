//! One mail, parsed by a real MIME parser (mail-parser 0.11: charsets, encoded
//! words, multipart, HTML to text) into what memory keeps: who wrote to whom,
//! the thread it belongs to, whether it is bulk, the text (plain preferred,
//! HTML converted), a trimmed copy without quoted history and signature, and
//! the attachments by name, type and size (never opened here).

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};
use serde::Serialize;

/// The largest mail read; a bigger one is skipped with a count, not parsed.
pub const MAX_MAIL_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("not a mail message (no headers could be parsed)")]
    NotMail,
    #[error("mail of {0} bytes is over the {MAX_MAIL_BYTES}-byte limit; skipped")]
    TooLarge(usize),
}

/// An address with its display name, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub address: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Without angle brackets; synthesised from the content when missing.
    pub message_id: String,
    pub subject: String,
    pub from: Option<Person>,
    pub to: Vec<Person>,
    pub cc: Vec<Person>,
    pub reply_to: Option<Person>,
    /// Unix milliseconds (0 when the Date header is missing or invalid).
    pub at_ms: i64,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub list_id: Option<String>,
    /// A mailing list, bulk or automatic mail, or a no-reply sender: never drafted to.
    pub bulk: bool,
    /// The whole text body (plain preferred, else HTML as text).
    pub body: String,
    /// The body without quoted history and signature: what memory shows.
    pub text: String,
    pub attachments: Vec<Attachment>,
}

impl Mail {
    /// The thread's root: the first reference, else what this replies to, else itself.
    pub fn thread_id(&self) -> &str {
        self.references
            .first()
            .or(self.in_reply_to.as_ref())
            .unwrap_or(&self.message_id)
    }
}

pub fn parse(raw: &[u8]) -> Result<Mail, MailError> {
    if raw.len() > MAX_MAIL_BYTES {
        return Err(MailError::TooLarge(raw.len()));
    }
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(MailError::NotMail)?;
    let from = first(msg.from());
    let body = msg
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default()
        .replace("\r\n", "\n");
    // mail-parser reads List-Id as an address; the raw value is what we keep.
    let list_id = msg
        .header_raw("List-Id")
        .map(|s| clean_id(s.rsplit('<').next().unwrap_or(s)).to_string())
        .filter(|s| !s.is_empty());
    let bulk = is_bulk(&msg, from.as_ref(), list_id.is_some());
    Ok(Mail {
        message_id: msg
            .message_id()
            .map(|s| clean_id(s).to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| synthetic_id(raw)),
        subject: msg.subject().unwrap_or_default().trim().to_string(),
        to: all(msg.to()),
        cc: all(msg.cc()),
        reply_to: first(msg.reply_to()),
        at_ms: msg
            .date()
            .map_or(0, |d| d.to_timestamp().saturating_mul(1000)),
        in_reply_to: ids(msg.in_reply_to()).into_iter().next(),
        references: ids(msg.references()),
        text: clip(trim_quoted(&body)),
        body,
        attachments: msg
            .attachments()
            .map(|p| Attachment {
                name: p.attachment_name().unwrap_or("unnamed").to_string(),
                content_type: p.content_type().map_or_else(
                    || "application/octet-stream".to_string(),
                    |c| match c.subtype() {
                        Some(sub) => format!("{}/{sub}", c.ctype()),
                        None => c.ctype().to_string(),
                    },
                ),
                size: p.len(),
            })
            .collect(),
        from,
        list_id,
        bulk,
    })
}

fn clean_id(s: &str) -> &str {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

fn synthetic_id(raw: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{}@steward.local", hex::encode(&Sha256::digest(raw)[..16]))
}

fn person(a: &mail_parser::Addr<'_>) -> Option<Person> {
    let address = a.address()?.trim().to_lowercase();
    address.contains('@').then(|| Person {
        address,
        name: a
            .name()
            .map(|n| n.trim().trim_matches('"').to_string())
            .filter(|n| !n.is_empty()),
    })
}

fn first(a: Option<&Address<'_>>) -> Option<Person> {
    a.and_then(|a| a.iter().find_map(person))
}

fn all(a: Option<&Address<'_>>) -> Vec<Person> {
    a.map(|a| a.iter().filter_map(person).collect())
        .unwrap_or_default()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match v {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|s| clean_id(s).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Lists, bulk and automatic mail, and no-reply senders.
fn is_bulk(msg: &mail_parser::Message<'_>, from: Option<&Person>, listed: bool) -> bool {
    let header = |name: &str| {
        msg.header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let precedence = header("Precedence");
    let auto = header("Auto-Submitted");
    let noreply = from.is_some_and(|p| {
        let local = p.address.split('@').next().unwrap_or_default();
        let local = local.replace(['-', '_', '.'], "");
        matches!(
            local.as_str(),
            "noreply" | "donotreply" | "mailerdaemon" | "postmaster"
        ) || local.starts_with("noreply")
    });
    listed
        || matches!(precedence.as_str(), "bulk" | "list" | "junk")
        || (!auto.is_empty() && auto != "no")
        || !header("List-Unsubscribe").is_empty()
        || noreply
}

/// Drop quoted history ("> …" lines and everything from an "On … wrote:" or a
/// forwarded-original marker) and the signature (from a "-- " line).
/// How much of a mail's text memory keeps and indexes; the whole body stays
/// in `email_messages.body` (`ingest::body`). Past this a mail is a document
/// (a newsletter, a contract), and indexing all of it made an import 5x slower.
pub const MEMORY_CHARS: usize = 4_000;

/// `text` cut to `MEMORY_CHARS` at a word boundary, marked with "…".
fn clip(text: String) -> String {
    match text.char_indices().nth(MEMORY_CHARS) {
        None => text,
        Some((end, _)) => {
            let cut = text[..end].rfind(char::is_whitespace).unwrap_or(end);
            format!("{} …", text[..cut].trim_end())
        }
    }
}

pub fn trim_quoted(body: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in body.lines() {
        let t = line.trim_end();
        if t == "--" || t == "-- " || line == "-- " {
            break;
        }
        let lower = t.trim().to_ascii_lowercase();
        if (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || lower.starts_with("-----original message-----")
            || lower.starts_with("---------- forwarded message")
        {
            break;
        }
        if t.trim_start().starts_with('>') {
            continue;
        }
        out.push(t);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    while out.first().is_some_and(|l| l.trim().is_empty()) {
        out.remove(0);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn headers_threading_and_a_trimmed_copy() {
        let raw = mail(
            "From: \"Ann Lee\" <Ann@Example.com>\r\nTo: me@example.com, Bob <bob@example.com>\r\nSubject: Re: Friday\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <b2@example.com>\r\nIn-Reply-To: <a1@example.com>\r\nReferences: <root@example.com> <a1@example.com>",
            "Works for me!\r\n\r\nOn Mon, Nov 30, 2026 at 9:00 AM Me <me@example.com> wrote:\r\n> dinner friday?\r\n",
        );
        let m = parse(&raw).unwrap();
        assert_eq!(m.message_id, "b2@example.com");
        assert_eq!(m.from.as_ref().unwrap().address, "ann@example.com");
        assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("Ann Lee"));
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.subject, "Re: Friday");
        assert_eq!(m.in_reply_to.as_deref(), Some("a1@example.com"));
        assert_eq!(m.thread_id(), "root@example.com");
        assert_eq!(m.text, "Works for me!");
        assert!(m.body.contains("dinner friday?"));
        assert!(!m.bulk);
        assert_eq!(
            m.at_ms,
            "2026-12-01T10:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond()
        );
    }

    #[test]
    fn html_only_charsets_and_encoded_words_decode() {
        let raw = mail(
            "From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.de>\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\nMessage-ID: <h@x>\r\nContent-Type: text/html; charset=utf-8",
            "<html><body><p>Hallo <b>Welt</b></p><img src=\"https://tracker.example/p.gif\"></body></html>",
        );
        let m = parse(&raw).unwrap();
        assert_eq!(m.subject, "Grüße");
        assert_eq!(m.from.unwrap().name.as_deref(), Some("Jürgen"));
        assert!(
            m.text.contains("Hallo") && m.text.contains("Welt"),
            "{}",
            m.text
        );
        assert!(
            !m.text.contains("<b>") && !m.text.contains("tracker"),
            "{}",
            m.text
        );
    }

    #[test]
    fn lists_bulk_and_no_reply_senders_are_marked() {
        for h in [
            "List-Id: <news.example.com>",
            "Precedence: bulk",
            "Auto-Submitted: auto-replied",
            "List-Unsubscribe: <mailto:u@x>",
        ] {
            let raw = mail(&format!("From: a@x.com\r\nMessage-ID: <1@x>\r\n{h}"), "hi");
            assert!(parse(&raw).unwrap().bulk, "{h}");
        }
        for from in [
            "noreply@shop.com",
            "no-reply@bank.com",
            "do_not_reply@x.com",
        ] {
            let raw = mail(&format!("From: {from}\r\nMessage-ID: <1@x>"), "hi");
            assert!(parse(&raw).unwrap().bulk, "{from}");
        }
        let raw = mail("From: ann@x.com\r\nMessage-ID: <1@x>", "hi");
        assert!(!parse(&raw).unwrap().bulk);
    }

    #[test]
    fn attachments_are_listed_not_opened_and_odd_mail_is_handled() {
        let raw = mail(
            "From: a@x.com\r\nMessage-ID: <m@x>\r\nContent-Type: multipart/mixed; boundary=\"b\"",
            "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"lease.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
        );
        let m = parse(&raw).unwrap();
        assert_eq!(m.text, "see attached");
        let long = format!("{}end", "word ".repeat(2_000));
        let clipped = clip(long.clone());
        assert!(clipped.ends_with("word …") && clipped.chars().count() <= MEMORY_CHARS + 2);
        assert_eq!(clip("short".into()), "short");
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].name, "lease.pdf");
        assert_eq!(m.attachments[0].content_type, "application/pdf");

        // No text part at all: an empty body, not an error.
        let raw = mail(
            "From: a@x.com\r\nMessage-ID: <n@x>\r\nContent-Type: image/png",
            "iVBORw0KGgo=",
        );
        assert_eq!(parse(&raw).unwrap().text, "");
        // No Message-ID: a stable one from the content.
        let raw = mail("From: a@x.com\r\nSubject: x", "hi");
        assert_eq!(
            parse(&raw).unwrap().message_id,
            parse(&raw).unwrap().message_id
        );
        assert!(parse(&raw).unwrap().message_id.ends_with("@steward.local"));
        // 8-bit bytes in headers and garbage.
        let mut raw =
            b"From: \xc3\xa9lodie <e@x.fr>\r\nSubject: caf\xe9\r\nMessage-ID: <8@x>\r\n\r\nbody"
                .to_vec();
        assert_eq!(parse(&raw).unwrap().from.unwrap().address, "e@x.fr");
        raw.truncate(0);
        assert_eq!(parse(&raw), Err(MailError::NotMail));
        assert_eq!(
            parse(&vec![b'a'; MAX_MAIL_BYTES + 1]),
            Err(MailError::TooLarge(MAX_MAIL_BYTES + 1))
        );
    }

    #[test]
    fn signatures_and_forwarded_history_are_trimmed() {
        assert_eq!(trim_quoted("Sure.\n\n-- \nAnn Lee\nCEO"), "Sure.");
        assert_eq!(
            trim_quoted("FYI\n\n---------- Forwarded message ---------\nFrom: x"),
            "FYI"
        );
        assert_eq!(trim_quoted("> quoted\nreply\n> more"), "reply");
    }
}
