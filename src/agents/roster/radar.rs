//! ai-radar: the RSS/Atom feeds listed in its spec, fetched with conditional
//! GET (ETag / Last-Modified), deduplicated by URL and by title, newest kept.
//! A failing feed backs off (5 min doubling, at most a day) and is reported in
//! `status`; it never stops the others.

use quick_xml::Reader;
use quick_xml::events::Event;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::store::Store;

/// Items kept, newest first.
pub const KEEP: i64 = 500;
const BACKOFF_MS: i64 = 5 * 60_000;
const MAX_BACKOFF_MS: i64 = 24 * 3600 * 1000;
const MAX_BODY: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub url: String,
    pub title: String,
    pub published_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub fetched: usize,
    pub not_modified: usize,
    pub failed: usize,
    pub waiting: usize,
    pub new_items: usize,
}

fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    jiff::fmt::rfc2822::parse(s)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// Items of an RSS 2.0 or Atom document: (feed title, items).
pub fn parse(xml: &str) -> Result<(String, Vec<Item>), String> {
    let mut reader = Reader::from_str(xml);
    let (mut feed_title, mut items) = (String::new(), Vec::new());
    let mut stack: Vec<String> = Vec::new();
    let (mut title, mut link, mut date) = (String::new(), String::new(), String::new());
    let mut in_item = false;
    let mut saw_root = false;
    loop {
        let ev = reader.read_event().map_err(|e| format!("not XML: {e}"))?;
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_lowercase();
                saw_root |= matches!(name.as_str(), "rss" | "feed" | "rdf");
                if matches!(name.as_str(), "item" | "entry") {
                    in_item = true;
                    (title, link, date) = (String::new(), String::new(), String::new());
                }
                if name == "link"
                    && in_item
                    && let Some(href) = e.try_get_attribute("href").ok().flatten()
                {
                    link = href
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                }
                stack.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_lowercase();
                if name == "link" && in_item && link.is_empty() {
                    let rel = e.try_get_attribute("rel").ok().flatten().and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    });
                    if rel.as_deref().is_none_or(|r| r == "alternate")
                        && let Some(href) = e.try_get_attribute("href").ok().flatten()
                    {
                        link = href
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(|v| v.into_owned())
                            .unwrap_or_default();
                    }
                }
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                let piece = match &ev {
                    Event::Text(t) => t.xml10_content().into_owned(),
                    Event::CData(c) => c.as_ref().to_string(),
                    Event::GeneralRef(r) => {
                        let raw = format!("&{};", r.clone().into_inner());
                        quick_xml::escape::unescape(&raw)
                            .map(|c| c.into_owned())
                            .unwrap_or(raw)
                    }
                    _ => String::new(),
                };
                match (stack.last().map(String::as_str), in_item) {
                    (Some("title"), true) => title.push_str(&piece),
                    (Some("title"), false) if stack.len() <= 3 => feed_title.push_str(&piece),
                    (Some("link"), true) => link.push_str(piece.trim()),
                    (Some("pubdate" | "published" | "updated" | "date"), true)
                        if date.is_empty() || stack.last().is_some_and(|s| s == "published") =>
                    {
                        date = piece.trim().to_string()
                    }
                    _ => {}
                }
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_lowercase();
                stack.pop();
                if matches!(name.as_str(), "item" | "entry") {
                    in_item = false;
                    let t = title.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !t.is_empty() && link.starts_with("http") {
                        items.push(Item {
                            url: link.trim().to_string(),
                            title: t,
                            published_ms: parse_date(&date).unwrap_or(0),
                        });
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err("neither RSS nor Atom".into());
    }
    Ok((feed_title.trim().to_string(), items))
}

/// A title as a dedup key: lower case letters and digits only.
fn title_key(t: &str) -> String {
    t.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

pub fn store_items(
    conn: &Connection,
    source: &str,
    items: &[Item],
    now_ms: i64,
) -> rusqlite::Result<usize> {
    let mut new = 0;
    for i in items {
        let published = if i.published_ms > 0 {
            i.published_ms
        } else {
            now_ms
        };
        new += conn.execute(
            "INSERT OR IGNORE INTO news_items (url, title, title_key, source, published_ms, seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![i.url, i.title, title_key(&i.title), source, published, now_ms],
        )?;
    }
    conn.execute(
        "DELETE FROM news_items WHERE id NOT IN (SELECT id FROM news_items ORDER BY published_ms DESC LIMIT ?1)",
        [KEEP],
    )?;
    Ok(new)
}

/// A 200 answer: (ETag, Last-Modified, body).
type Fetched = (Option<String>, Option<String>, String);

struct FeedState {
    etag: Option<String>,
    last_modified: Option<String>,
    failures: i64,
    next_try_ms: i64,
}

/// Fetch every due feed once; never fails as a whole.
pub async fn fetch_all(
    store: &Store,
    http: &reqwest::Client,
    feeds: &[String],
    now_ms: i64,
) -> Report {
    let mut report = Report::default();
    for url in feeds {
        let u = url.clone();
        let state = store
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT etag, last_modified, failures, next_try_ms FROM feeds WHERE url = ?1",
                    [&u],
                    |r| {
                        Ok(FeedState {
                            etag: r.get(0)?,
                            last_modified: r.get(1)?,
                            failures: r.get(2)?,
                            next_try_ms: r.get(3)?,
                        })
                    },
                )
                .optional()?)
            })
            .await
            .ok()
            .flatten();
        if state.as_ref().is_some_and(|s| s.next_try_ms > now_ms) {
            report.waiting += 1;
            continue;
        }
        let mut req = http.get(url);
        if let Some(s) = &state {
            if let Some(e) = &s.etag {
                req = req.header("If-None-Match", e);
            }
            if let Some(m) = &s.last_modified {
                req = req.header("If-Modified-Since", m);
            }
        }
        let result: Result<Option<Fetched>, String> = async {
            let resp = req.send().await.map_err(|e| e.to_string())?;
            if resp.status().as_u16() == 304 {
                return Ok(None);
            }
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status().as_u16()));
            }
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let (etag, modified) = (header("etag"), header("last-modified"));
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            if body.len() > MAX_BODY {
                return Err(format!("the feed is over {} MB", MAX_BODY / 1024 / 1024));
            }
            Ok(Some((
                etag,
                modified,
                String::from_utf8_lossy(&body).into_owned(),
            )))
        }
        .await;
        let failures = state.as_ref().map_or(0, |s| s.failures);
        let u = url.clone();
        let outcome = match result {
            Ok(None) => {
                report.not_modified += 1;
                Ok((None, None, Vec::new(), String::new()))
            }
            Ok(Some((etag, modified, body))) => match parse(&body) {
                Ok((title, items)) => {
                    report.fetched += 1;
                    Ok((etag, modified, items, title))
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let written = store
            .write(move |c| {
                match outcome {
                    Ok((etag, modified, items, title)) => {
                        let source = if title.is_empty() { u.clone() } else { title };
                        let new = store_items(c, &source, &items, now_ms)?;
                        c.execute(
                            "INSERT INTO feeds (url, etag, last_modified, failures, next_try_ms, last_error, fetched_ms)
                             VALUES (?1, ?2, ?3, 0, 0, NULL, ?4)
                             ON CONFLICT (url) DO UPDATE SET etag = COALESCE(excluded.etag, etag),
                               last_modified = COALESCE(excluded.last_modified, last_modified),
                               failures = 0, next_try_ms = 0, last_error = NULL, fetched_ms = excluded.fetched_ms",
                            params![u, etag, modified, now_ms],
                        )?;
                        Ok(Ok(new))
                    }
                    Err(e) => {
                        let wait = (BACKOFF_MS << failures.min(10)).min(MAX_BACKOFF_MS);
                        c.execute(
                            "INSERT INTO feeds (url, failures, next_try_ms, last_error) VALUES (?1, 1, ?2, ?3)
                             ON CONFLICT (url) DO UPDATE SET failures = failures + 1, next_try_ms = excluded.next_try_ms,
                               last_error = excluded.last_error",
                            params![u, now_ms + wait, e],
                        )?;
                        Ok(Err(e))
                    }
                }
            })
            .await;
        match written {
            Ok(Ok(new)) => report.new_items += new,
            Ok(Err(e)) => {
                tracing::warn!(feed = %url, error = %e, "feed failed; backing off");
                report.failed += 1;
            }
            Err(e) => {
                tracing::warn!(feed = %url, error = %e, "feed state not saved");
                report.failed += 1;
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rss_and_atom() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>AI Weekly</title>
            <item><title>Models &amp; more</title><link>https://a.example/1</link><pubDate>Sat, 21 Nov 2026 10:00:00 +0000</pubDate></item>
            <item><title><![CDATA[Second]]></title><link>https://a.example/2</link></item></channel></rss>"#;
        let (title, items) = parse(rss).unwrap();
        assert_eq!(title, "AI Weekly");
        assert_eq!(items[0].title, "Models & more");
        assert_eq!(
            items[0].published_ms,
            "2026-11-21T10:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond()
        );
        assert_eq!(items[1].title, "Second");
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab</title>
            <entry><title>New paper</title><link rel="alternate" href="https://b.example/p"/><updated>2026-11-20T08:00:00Z</updated></entry></feed>"#;
        let (title, items) = parse(atom).unwrap();
        assert_eq!(
            (title.as_str(), items[0].url.as_str()),
            ("Lab", "https://b.example/p")
        );
        assert!(parse("<html><body>hi</body></html>").is_err());
        assert!(parse("not xml <<<").is_err());
    }
}
