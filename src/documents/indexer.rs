//! A pass over the roots (`steward docs index`, and the daemon at start) and
//! the one-file update the watcher makes. Extraction happens outside any
//! transaction (OCR takes seconds); rows are written in batches.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::Connection;
use serde::Serialize;

use super::extract::{self, Extracted};
use super::scan::{self, Found, Resolved};
use super::{Documents, DocumentsError, Kind, Skip, store};

/// Rows written per transaction in a full pass.
const BATCH: usize = 256;

/// `steward docs index --json` (the contract: counts, skipped by kind).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexReport {
    /// Files of a known kind found under the roots.
    pub seen: u64,
    /// Read (again) in this pass: new or changed.
    pub indexed: u64,
    /// Already in the index with the same size and mtime.
    pub unchanged: u64,
    /// Indexed by name only: images (and scans) without the `ocr` feature.
    pub listed: u64,
    /// Rows dropped: the file is gone or no longer under a root.
    pub removed: u64,
    /// Skipped files by kind (`tooLarge`, `binary`, `symlinkEscape`…).
    pub skipped: BTreeMap<&'static str, u64>,
    pub roots: Vec<String>,
    pub missing_roots: Vec<String>,
    pub ocr: bool,
    pub documents: u64,
    pub seconds: f64,
}

/// Counts skips and logs the first of each kind (one line per kind, not per file).
#[derive(Default)]
struct Skips {
    counts: BTreeMap<&'static str, u64>,
    told: HashSet<Skip>,
}

impl Skips {
    fn add(&mut self, path: &Path, why: Skip) {
        *self.counts.entry(why.as_str()).or_default() += 1;
        if self.told.insert(why) {
            tracing::warn!(
                "skipped {} ({}): {}",
                path.display(),
                why.as_str(),
                why.hint()
            );
        }
    }
}

/// Progress for a bar: `(done, total)` after each file.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Index every root: new and changed files read, vanished ones removed.
pub fn index_all(
    conn: &mut Connection,
    docs: &Documents,
    progress: Progress,
) -> Result<IndexReport, DocumentsError> {
    docs.require_roots()?;
    let started = Instant::now();
    let found = scan::walk(docs);
    let total = found.len() as u64;
    let mut report = IndexReport {
        roots: docs.roots.iter().map(|p| p.display().to_string()).collect(),
        missing_roots: docs
            .missing_roots
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        ocr: docs.ocr.enabled(),
        ..Default::default()
    };
    let mut skips = Skips::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut pending: Vec<(PathBuf, Kind, std::fs::Metadata, Extracted)> = Vec::new();
    for (done, item) in found.into_iter().enumerate() {
        match item {
            Found::Skipped { path, why } => skips.add(&path, why),
            Found::File { path, kind, meta } => {
                report.seen += 1;
                seen.insert(path.to_string_lossy().into_owned());
                let (ns, _) = store::mtime(&meta);
                if store::version(conn, &path)? == Some((meta.len(), ns)) {
                    report.unchanged += 1;
                } else {
                    match extract::extract(docs, &path, kind, &meta) {
                        Ok(doc) => {
                            if doc.readable {
                                report.indexed += 1;
                            } else {
                                report.listed += 1;
                            }
                            pending.push((path, kind, meta, doc));
                        }
                        Err(why) => skips.add(&path, why),
                    }
                }
            }
        }
        if pending.len() >= BATCH {
            write_batch(conn, &mut pending)?;
        }
        progress(done as u64 + 1, total);
    }
    write_batch(conn, &mut pending)?;
    report.removed = remove_unseen(conn, docs, &seen)?;
    report.skipped = skips.counts;
    report.documents = store::count(conn)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn write_batch(
    conn: &mut Connection,
    pending: &mut Vec<(PathBuf, Kind, std::fs::Metadata, Extracted)>,
) -> rusqlite::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    // IMMEDIATE: a deferred transaction that reads first cannot take the write
    // lock once the daemon's writer has committed since (SQLITE_BUSY at once,
    // the busy timeout does not apply); taking it up front waits instead.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (path, kind, meta, doc) in pending.drain(..) {
        store::upsert(&tx, &path, kind, &meta, &doc)?;
    }
    tx.commit()
}

/// Drop rows not seen in this pass, except under a root that is missing now
/// (an unmounted disk is not a deleted folder).
fn remove_unseen(
    conn: &mut Connection,
    docs: &Documents,
    seen: &HashSet<String>,
) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut removed = 0;
    for path in store::all_paths(&tx)? {
        let keep = seen.contains(&path)
            || docs
                .missing_roots
                .iter()
                .any(|r| Path::new(&path).starts_with(r));
        if !keep {
            removed += store::remove(&tx, Path::new(&path))? as u64;
        }
    }
    tx.commit()?;
    Ok(removed)
}

/// What a single-file update did (the watcher's unit of work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    Indexed,
    Unchanged,
    Removed(usize),
    /// A new folder (or one moved in): walk it.
    Folder(PathBuf),
    Skipped(Skip),
    Ignored,
}

/// Bring the index up to date for `at` (created, modified, renamed or deleted).
pub fn index_one(
    conn: &mut Connection,
    docs: &Documents,
    at: &Path,
) -> Result<Update, DocumentsError> {
    // A path that no longer resolves is gone: forget it (and anything under it).
    let lexical = docs.roots.iter().any(|r| at.starts_with(r));
    match scan::resolve(docs, at) {
        Resolved::File(path, kind, meta) => {
            let (ns, _) = store::mtime(&meta);
            if store::version(conn, &path)? == Some((meta.len(), ns)) {
                return Ok(Update::Unchanged);
            }
            match extract::extract(docs, &path, kind, &meta) {
                Ok(doc) => {
                    store::upsert(conn, &path, kind, &meta, &doc)?;
                    Ok(Update::Indexed)
                }
                Err(why) => Ok(Update::Skipped(why)),
            }
        }
        Resolved::Dir(real) => Ok(Update::Folder(real)),
        Resolved::Skipped(Skip::Vanished) if lexical => {
            Ok(Update::Removed(store::remove(conn, at)?))
        }
        Resolved::Skipped(why) => Ok(Update::Skipped(why)),
        Resolved::Ignored => Ok(Update::Ignored),
    }
}
