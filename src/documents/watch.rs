//! The daemon's documents watcher: a first pass over the roots, then file
//! events (create, modify, rename, delete) keep the index current.
//!
//! One plain thread owns its own SQLite connection (WAL lets it write beside
//! the daemon's writer, as `steward docs index` does), so OCR of a large scan
//! never holds up the pipeline's writes. Events are gathered for a short
//! quiet period first: an editor's save is several events for one file. A bad
//! file is skipped and logged once per kind; nothing here stops the daemon.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};

use super::indexer::{self, Update};
use super::scan::{self, Found};
use super::{Documents, DocumentsError, Skip};

/// How long events for the same burst are gathered before the index is touched.
const SETTLE: Duration = Duration::from_millis(300);

/// The running watcher; dropping it stops it (the thread ends at its next wake).
pub struct Watcher {
    _notify: notify::RecommendedWatcher,
    stop: Arc<AtomicBool>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Watch `docs.roots`, after a first full pass, writing to the database at `db`.
pub fn start(docs: Documents, db: PathBuf) -> Result<Watcher, DocumentsError> {
    docs.require_roots()?;
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut notify = notify::recommended_watcher(tx).map_err(|source| DocumentsError::Watch {
        path: docs.roots[0].clone(),
        source,
    })?;
    for root in &docs.roots {
        notify
            .watch(root, RecursiveMode::Recursive)
            .map_err(|source| DocumentsError::Watch {
                path: root.clone(),
                source,
            })?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("documents-watch".into())
        .spawn(move || run(&docs, &db, &rx, &stopping))
        .map_err(|e| DocumentsError::Watch {
            path: PathBuf::from("documents-watch thread"),
            source: notify::Error::io(e),
        })?;
    Ok(Watcher {
        _notify: notify,
        stop,
    })
}

fn run(
    docs: &Documents,
    db: &Path,
    rx: &mpsc::Receiver<notify::Result<notify::Event>>,
    stop: &AtomicBool,
) {
    let mut conn = match crate::store::open_writer(db) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("documents watcher: cannot open the database: {e}");
            return;
        }
    };
    // A busy database (the daemon's own writer at start) is worth a retry:
    // without a first pass the index stays empty until a restart.
    let mut pass = indexer::index_all(&mut conn, docs, &mut |_, _| {});
    for _ in 0..3 {
        match &pass {
            Err(e) if e.to_string().contains("database is locked") => {
                std::thread::sleep(Duration::from_secs(2));
                pass = indexer::index_all(&mut conn, docs, &mut |_, _| {});
            }
            _ => break,
        }
    }
    match pass {
        Ok(r) => tracing::info!(
            "documents: {} indexed, {} read, {} unchanged, {} removed, {} skipped",
            r.documents,
            r.indexed,
            r.unchanged,
            r.removed,
            r.skipped.values().sum::<u64>()
        ),
        Err(e) => tracing::warn!("documents: the first pass failed: {e}"),
    }
    // What the first pass needed (page cache, path lists) an idle watcher does
    // not: one file at a time fits a 512 KiB cache.
    let _ = conn.execute_batch("PRAGMA shrink_memory; PRAGMA cache_size = -512;");
    release_freed_memory();
    let mut told: HashSet<Skip> = HashSet::new();
    // Paths the database refused (busy): tried again on the next round, a few times.
    let mut again: std::collections::HashMap<PathBuf, u32> = Default::default();
    while !stop.load(Ordering::SeqCst) {
        let mut paths: BTreeSet<PathBuf> = again.keys().cloned().collect();
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(first) => {
                collect(first, &mut paths);
                while let Ok(ev) = rx.recv_timeout(SETTLE) {
                    collect(ev, &mut paths);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        for path in paths {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            if update(&mut conn, docs, &path, &mut told) {
                let tries = again.entry(path.clone()).or_insert(0);
                *tries += 1;
                if *tries >= RETRIES {
                    tracing::warn!(
                        "documents: {}: the database stayed busy; it is indexed at the next change or start",
                        path.display()
                    );
                    again.remove(&path);
                }
            } else {
                again.remove(&path);
            }
        }
    }
}

/// How many rounds a path the database refused is tried again.
const RETRIES: u32 = 5;

fn collect(event: notify::Result<notify::Event>, paths: &mut BTreeSet<PathBuf>) {
    match event {
        // Access events change nothing; every other kind may (a rename carries both names).
        Ok(ev) if !ev.kind.is_access() => paths.extend(ev.paths),
        Ok(_) => {}
        Err(e) => tracing::warn!("documents watcher: {e}"),
    }
}

/// One path's change into the index; a new folder is walked. True when the
/// database refused it (busy) and it should be tried again.
fn update(
    conn: &mut rusqlite::Connection,
    docs: &Documents,
    path: &Path,
    told: &mut HashSet<Skip>,
) -> bool {
    let result = indexer::index_one(conn, docs, path);
    let skip = |why: Skip, at: &Path, told: &mut HashSet<Skip>| {
        if told.insert(why) {
            tracing::warn!(
                "skipped {} ({}): {}",
                at.display(),
                why.as_str(),
                why.hint()
            );
        }
    };
    match result {
        Ok(Update::Folder(dir)) => {
            for found in scan::walk_from(docs, &[dir]) {
                match found {
                    Found::File { path, .. } => match indexer::index_one(conn, docs, &path) {
                        Ok(Update::Skipped(why)) => skip(why, &path, told),
                        Ok(_) => {}
                        Err(e) => tracing::warn!("documents: {}: {e}", path.display()),
                    },
                    Found::Skipped { path, why } => skip(why, &path, told),
                }
            }
        }
        Ok(Update::Skipped(why)) => skip(why, path, told),
        Ok(_) => {}
        Err(e) if e.to_string().contains("database is locked") => return true,
        Err(e) => tracing::warn!("documents: {}: {e}", path.display()),
    }
    false
}

/// Hand the heap pages freed after the first pass back to the system, so an
/// idle watcher costs its thread and its connection, not the pass's peak.
///
/// `malloc_trim` returns free pages inside every arena, but the top of a
/// thread's own arena only to the main one: the pass's garbage, gathered at
/// the top of this thread's arena, stayed resident (4.2 MiB over 10,000
/// files, the bench's `STEWARD_BENCH_SMAPS=1`). glibc shrinks a thread arena's
/// top only when a large free finds it over the trim threshold, which the
/// pass's own large frees had raised (dynamic thresholds). So: lower the
/// threshold, free one block from the top, and set it high again (32 MiB,
/// the most the dynamic rule would reach) so the rest of the daemon trims no
/// more often than before.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_memory() {
    const LOW: libc::c_int = 128 * 1024;
    const HIGH: libc::c_int = 32 * 1024 * 1024;
    // SAFETY: malloc_trim only returns free pages to the system; mallopt sets
    // glibc's trim threshold, a number, from this one thread.
    unsafe {
        libc::malloc_trim(0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, LOW);
    }
    // Carved from the arena's top and freed back onto it: the free that trims.
    drop(std::hint::black_box(Vec::<u8>::with_capacity(96 * 1024)));
    // SAFETY: as above.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, HIGH);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}
