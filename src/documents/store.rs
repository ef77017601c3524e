//! The `documents` table and its FTS5 index (migration 0014): upsert, remove,
//! search, show. Search takes words, never FTS syntax: each word is quoted, so
//! a question typed in the self-chat cannot be a malformed query.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::extract::Extracted;
use super::{DocumentsError, Kind};

/// Most characters `docs show` prints and a read hands on (the reference's cap).
pub const SHOW_CHARS: usize = 12_000;
/// Most hits a search returns.
pub const MAX_LIMIT: u32 = 100;

/// One search hit: the `docs search --json` contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    pub path: String,
    pub kind: Kind,
    pub snippet: String,
    /// Higher is better (negated BM25).
    pub score: f64,
    pub modified_at: String,
    /// A longer passage around the match: what a model extracting a value sees.
    #[serde(skip)]
    pub excerpt: String,
}

/// What the index holds for a path: size and mtime decide "unchanged".
pub fn version(conn: &Connection, path: &Path) -> rusqlite::Result<Option<(u64, i64)>> {
    conn.prepare_cached("SELECT size, mtime_ns FROM documents WHERE path = ?1")?
        .query_row([path.to_string_lossy()], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
        })
        .optional()
}

/// The file's modification time as nanoseconds and as RFC 3339 UTC.
pub fn mtime(meta: &std::fs::Metadata) -> (i64, String) {
    use std::os::unix::fs::MetadataExt;
    let ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
    let at = jiff::Timestamp::from_nanosecond(ns as i128)
        .map(|t| t.to_string())
        .unwrap_or_default();
    (ns, at)
}

pub fn upsert(
    conn: &Connection,
    path: &Path,
    kind: Kind,
    meta: &std::fs::Metadata,
    doc: &Extracted,
) -> rusqlite::Result<()> {
    let (ns, at) = mtime(meta);
    conn.prepare_cached(
        "INSERT INTO documents (path, kind, size, mtime_ns, pages, readable, body, modified_at, indexed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, size = excluded.size,
           mtime_ns = excluded.mtime_ns, pages = excluded.pages, readable = excluded.readable,
           body = excluded.body, modified_at = excluded.modified_at, indexed_at = excluded.indexed_at",
    )?
    .execute(params![
        path.to_string_lossy(),
        kind.as_str(),
        meta.len() as i64,
        ns,
        doc.pages,
        doc.readable,
        doc.body,
        at,
        jiff::Timestamp::now().to_string()
    ])?;
    Ok(())
}

/// Forget `path`, or everything under it when it was a folder. Returns rows removed.
pub fn remove(conn: &Connection, path: &Path) -> rusqlite::Result<usize> {
    let p = path.to_string_lossy();
    conn.prepare_cached(
        "DELETE FROM documents WHERE path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'",
    )?
    .execute([p])
}

pub fn all_paths(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT path FROM documents")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

pub fn count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// Words people ask with that say nothing about which document.
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "are",
    "at",
    "can",
    "do",
    "docs",
    "document",
    "documents",
    "does",
    "file",
    "find",
    "for",
    "from",
    "get",
    "has",
    "have",
    "his",
    "her",
    "how",
    "i",
    "in",
    "is",
    "it",
    "its",
    "me",
    "my",
    "of",
    "on",
    "or",
    "our",
    "please",
    "s",
    "search",
    "show",
    "that",
    "the",
    "their",
    "this",
    "to",
    "was",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "who",
    "with",
];

/// The words of `query` worth searching for, lowercased.
pub fn terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in query
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
    {
        if word.is_empty() || STOPWORDS.contains(&word.as_str()) || out.contains(&word) {
            continue;
        }
        out.push(word);
    }
    out
}

/// `"w1"* OR "w2"*`: each word quoted (never FTS syntax), as a prefix.
fn match_any(words: &[String]) -> String {
    prefixes(words, " OR ")
}

/// `"w1"* AND "w2"*`: every word, each as a prefix.
fn match_every(words: &[String]) -> String {
    prefixes(words, " AND ")
}

fn prefixes(words: &[String], op: &str) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\"*"))
        .collect::<Vec<_>>()
        .join(op)
}

/// The best `limit` rows for `words`: those holding every word first, ranked
/// among themselves, as a reader expects of "passport number". Ranking every
/// match of any word was the slow search: a word in nearly half the files makes
/// thousands of rows to rank; their intersection with the other words is small.
/// The rest of the limit comes from the ranking by any word.
fn top_rows(conn: &Connection, words: &[String], limit: u32) -> rusqlite::Result<Vec<(i64, f64)>> {
    let mut top = Vec::new();
    if words.len() > 1 {
        top = ranked(conn, &match_every(words), limit)?;
    }
    if top.len() < limit as usize {
        for hit in any_word(conn, words, limit)? {
            if top.len() < limit as usize && !top.iter().any(|t| t.0 == hit.0) {
                top.push(hit);
            }
        }
    }
    Ok(top)
}

/// The best `limit` rows holding any of `words`, by BM25 over all of them:
/// ranked by the rarer words alone while they fill the limit (same order).
fn any_word(conn: &Connection, words: &[String], limit: u32) -> rusqlite::Result<Vec<(i64, f64)>> {
    let rare = rare_words(conn, words)?;
    if !rare.is_empty() && rare.len() < words.len() {
        let top = ranked(conn, &match_any(&rare), limit)?;
        if top.len() == limit as usize {
            return Ok(top);
        }
    }
    ranked(conn, &match_any(words), limit)
}

/// `(rowid, score)` of the best `limit` matches of `fts`, best first.
fn ranked(conn: &Connection, fts: &str, limit: u32) -> rusqlite::Result<Vec<(i64, f64)>> {
    conn.prepare_cached(
        "SELECT rowid, -rank FROM documents_fts WHERE documents_fts MATCH ?1
         ORDER BY rank LIMIT ?2",
    )?
    .query_map(params![fts, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// The words in fewer than half the documents. A word in half or more has a
/// BM25 idf of ln((N − n + ½)/(n + ½)) ≤ 0, which FTS5 raises to 1e-6: it
/// cannot reorder the documents holding a rarer word, it only makes every
/// document it is in a row to rank (the slow searches: "number" is in most
/// files). Ranking by the rarer words alone gives the same order while they
/// fill the limit. Each count stops at half, so a common word costs at most
/// N/2 doclist steps and no ranking.
fn rare_words(conn: &Connection, words: &[String]) -> rusqlite::Result<Vec<String>> {
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM documents")?
        .query_row([], |r| r.get(0))?;
    let half = (total + 1) / 2;
    let mut count = conn.prepare_cached(
        "SELECT COUNT(*) FROM (SELECT 1 FROM documents_fts WHERE documents_fts MATCH ?1 LIMIT ?2)",
    )?;
    let mut rare = Vec::new();
    for w in words {
        let n: i64 = count.query_row(params![match_any(std::slice::from_ref(w)), half], |r| {
            r.get(0)
        })?;
        if n * 2 < total {
            rare.push(w.clone());
        }
    }
    Ok(rare)
}

/// The best `limit` documents for `query`, best first.
pub fn search(conn: &Connection, query: &str, limit: u32) -> Result<Vec<Hit>, DocumentsError> {
    let words = terms(query);
    if words.is_empty() {
        return Err(DocumentsError::EmptyQuery {
            query: query.to_string(),
        });
    }
    // Any word may match (a question rarely repeats the document's wording),
    // but files holding every word come first; BM25 ranks within each, and the
    // file name counts double.
    let limit = limit.clamp(1, MAX_LIMIT);
    let all = match_any(&words);
    // Two steps: the best rows by rank alone (no text read), then snippets for
    // those few only, each by rowid. One statement doing both (snippets for
    // `rowid IN (best by rank)`) evaluated the whole match again: 2–3× slower.
    let top = top_rows(conn, &words, limit)?;
    let mut one = conn.prepare_cached(
        "SELECT d.path, d.kind, snippet(documents_fts, 1, '', '', '…', 24), d.modified_at,
                snippet(documents_fts, 1, '', '', '…', 64)
         FROM documents_fts JOIN documents d ON d.id = documents_fts.rowid
         WHERE documents_fts MATCH ?1 AND documents_fts.rowid = ?2",
    )?;
    let mut hits = Vec::with_capacity(top.len());
    for (rowid, score) in top {
        hits.push(one.query_row(params![all, rowid], |r| {
            Ok(Hit {
                path: r.get(0)?,
                kind: Kind::parse(&r.get::<_, String>(1)?),
                snippet: r
                    .get::<_, String>(2)?
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                score,
                modified_at: r.get(3)?,
                excerpt: r.get(4)?,
            })
        })?);
    }
    Ok(hits)
}

/// The extracted text of an indexed file, at most [`SHOW_CHARS`] characters.
pub fn show(conn: &Connection, path: &Path) -> Result<(Kind, String), DocumentsError> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT kind, body FROM documents WHERE path = ?1",
            [path.to_string_lossy()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (kind, body) = row.ok_or_else(|| DocumentsError::NotIndexed {
        path: path.to_path_buf(),
    })?;
    Ok((Kind::parse(&kind), body.chars().take(SHOW_CHARS).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twenty files that all say "alpha"; five also say "beta", some often.
    fn corpus() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        for i in 0..20 {
            let beta = if i < 5 {
                " beta".repeat(i + 1)
            } else {
                String::new()
            };
            let body = format!(
                "alpha {} words here{beta} and alpha again",
                "filler ".repeat(i)
            );
            conn.execute(
                "INSERT INTO documents (path, kind, size, mtime_ns, body, modified_at, indexed_at)
                 VALUES (?1, 'text', 1, 0, ?2, 'now', 'now')",
                params![format!("/d/f{i}.txt"), body],
            )
            .unwrap();
        }
        conn
    }

    #[test]
    fn ranking_by_the_rarer_words_keeps_the_order_of_ranking_by_all() {
        let conn = corpus();
        let words = terms("alpha beta");
        assert_eq!(rare_words(&conn, &words).unwrap(), ["beta"]);
        for limit in [1, 3, 5, 8] {
            let all: Vec<i64> = ranked(&conn, &match_any(&words), limit)
                .unwrap()
                .into_iter()
                .map(|r| r.0)
                .collect();
            let hits: Vec<String> = search(&conn, "alpha beta", limit)
                .unwrap()
                .into_iter()
                .map(|h| h.path)
                .collect();
            let by_rare: Vec<i64> = any_word(&conn, &words, limit)
                .unwrap()
                .into_iter()
                .map(|r| r.0)
                .collect();
            assert_eq!(by_rare, all, "limit {limit}");
            let want: Vec<String> = all.iter().map(|id| format!("/d/f{}.txt", id - 1)).collect();
            assert_eq!(hits, want, "limit {limit}");
        }
        // Only common words: ranked by all of them.
        assert_eq!(search(&conn, "alpha", 20).unwrap().len(), 20);
    }

    #[test]
    fn the_documents_holding_every_word_come_first() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        // "alpha" and "beta" are each in three of four files. Short f1 says
        // "alpha" often: by BM25 alone it beats the long files holding both.
        let bodies = [
            format!("alpha beta {}", "filler ".repeat(40)),
            "alpha alpha alpha alpha alpha".to_string(),
            format!("beta alpha {}", "filler ".repeat(30)),
            "beta beta beta beta".to_string(),
        ];
        for (i, body) in bodies.iter().enumerate() {
            conn.execute(
                "INSERT INTO documents (path, kind, size, mtime_ns, body, modified_at, indexed_at)
                 VALUES (?1, 'text', 1, 0, ?2, 'now', 'now')",
                params![format!("/d/f{i}.txt"), body],
            )
            .unwrap();
        }
        let words = terms("alpha beta");
        assert!(rare_words(&conn, &words).unwrap().is_empty());
        let by_bm25 = ranked(&conn, &match_any(&words), 4).unwrap();
        assert_eq!(
            by_bm25[0].0, 2,
            "the fixture: by BM25 alone short f1 comes first"
        );
        let hits: Vec<String> = search(&conn, "alpha beta", 4)
            .unwrap()
            .into_iter()
            .map(|h| h.path)
            .collect();
        let mut both = hits[..2].to_vec();
        both.sort();
        assert_eq!(both, ["/d/f0.txt", "/d/f2.txt"], "{hits:?}");
        let mut rest = hits[2..].to_vec();
        rest.sort();
        assert_eq!(rest, ["/d/f1.txt", "/d/f3.txt"], "filled from any word");
    }

    #[test]
    fn questions_become_the_words_worth_searching() {
        assert_eq!(terms("What's my passport number?"), ["passport", "number"]);
        assert_eq!(terms("find the lease"), ["lease"]);
        assert_eq!(
            terms("when does the car insurance renew"),
            ["car", "insurance", "renew"]
        );
        // Quotes and FTS operators are only word breaks, never syntax.
        assert_eq!(terms("\"tax\" OR NEAR(x* -y)"), ["tax", "near", "x", "y"]);
        assert!(terms("the of my").is_empty());
    }
}
