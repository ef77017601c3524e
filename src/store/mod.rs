//! The one store: SQLite (bundled, WAL) at `<home>/steward.db`.
//!
//! Database work never runs on the async runtime. [`Store`] owns one writer
//! connection on a dedicated thread, fed closures over a channel, so writes are
//! serialised without lock contention on tokio's blocking pool; reads go to a
//! small pool of `query_only` connections on `spawn_blocking`, which WAL lets run
//! beside the writer. Table-group modules expose plain functions over
//! `&Connection` so the same code serves the daemon and the one-shot CLI.

pub mod meta;
pub mod migrate;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

/// How long a statement waits for a lock held by another connection.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no database at {0}; run `steward init`")]
    Missing(PathBuf),
    #[error(
        "cannot open {path}: {source}; check the file's owner and mode (0600) and that the disk is not full"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{path} is not a readable Steward database ({source}); move it aside (mv {path} {path}.bad) and restore a backup, or run `steward init` for an empty one"
    )]
    Corrupt {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{path} is locked by another process; is another steward running for this home? (`steward status`)"
    )]
    Locked { path: PathBuf },
    #[error(
        "the database has schema version {current}, newer than this steward understands ({supported}); upgrade steward instead of downgrading, nothing was changed"
    )]
    NewerSchema { current: u32, supported: u32 },
    #[error("migration {version:04}_{name} failed: {source}; the database was left unchanged")]
    Migration {
        version: u32,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database writer has stopped (the daemon is shutting down or a job panicked)")]
    WriterGone,
    #[error("the database task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Turn an error from opening or first touching `path` into the specific case.
    fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt { path, source }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            _ => StoreError::Open { path, source },
        }
    }
}

/// Process-wide SQLite settings, applied once before the first connection
/// (`sqlite3_config` is refused after SQLite initialises; then nothing changes).
///
/// Memory statistics off: with them on, every SQLite allocation and free takes
/// one global mutex. An import's chat.db reader and store writer run on two
/// threads, and the reader spent 27% of its time on that lock (issue 19's
/// profile). Nothing here reads SQLite's memory counters. And no page-cache
/// block allocated up front per connection (below).
pub fn tune_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: MEMSTATUS takes one int; called before any connection is
        // opened by this module (a later call returns SQLITE_MISUSE, harmless).
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialised first; memory statistics stay on"
            );
        }
        // No up-front page-cache block per connection. Each connection has
        // its own cache (`.cargo/config.toml`), and SQLite then hands each a
        // bulk allocation of 20 pages on first use: 320 KiB at 16 KiB pages,
        // kept for the connection's life by every idle one in the daemon.
        // SAFETY: PAGECACHE takes (pointer, size, count); NULL and zeros
        // mean "no static block, no bulk allocation".
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_PAGECACHE,
                std::ptr::null_mut::<std::ffi::c_void>(),
                0 as std::ffi::c_int,
                0 as std::ffi::c_int,
            );
        }
    });
}

fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
        .map_err(|e| StoreError::classify(path, e))
}

/// Open (creating if needed) the writer connection and apply pending migrations.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    tune_library();
    let mut conn = Connection::open(path).map_err(|e| StoreError::classify(path, e))?;
    configure(&conn, path)?;
    // Takes effect only while the file is still empty: a new store. An
    // existing one keeps the page size it was made with (4 KiB before stop 32).
    conn.pragma_update(None, "page_size", PAGE_SIZE)
        .map_err(|e| StoreError::classify(path, e))?;
    // The first real read of the file: a non-database fails here.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| StoreError::classify(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "SQLite refused WAL mode; readers will wait on the writer");
    }
    migrate::migrate(&mut conn).map_err(|e| match e {
        StoreError::Sqlite(source) => StoreError::classify(path, source),
        other => other,
    })?;
    Ok(conn)
}

/// The page size of a new store (bytes). SQLite's default of 4 KiB made a
/// 1M-message first import issue ~200,000 page reads and as many writes
/// (each a syscall, and a b-tree cell split four times as often); with 16 KiB
/// the import took 4.2 s instead of 4.9 and 33 MiB less peak memory (the
/// side by side of `cargo bench --bench imessage`). Larger pages were faster still
/// (64 KiB: 3.8 s), but every commit writes its touched pages whole into the
/// WAL: a live message touches about ten, so 64 KiB pages would write
/// ~640 KB per message; 16 KiB keeps that near 160 KB.
pub const PAGE_SIZE: i64 = 16 * 1024;

/// Page cache for a bulk load (a backfill), in KiB.
pub const BULK_CACHE_KIB: i64 = 64 * 1024;
/// WAL bytes before an automatic checkpoint during a bulk load.
pub const BULK_CHECKPOINT_BYTES: i64 = 80 * 1024 * 1024;

/// Run a bulk load with a large page cache and rare checkpoints, then put the
/// connection's settings back: a backfill touches many b-tree pages, which a
/// small cache would spill to the WAL and re-read, and checkpointing every
/// 1,000 pages copies the same pages again and again.
pub fn bulk<T, E: From<rusqlite::Error>>(
    conn: &mut Connection,
    load: impl FnOnce(&mut Connection) -> Result<T, E>,
) -> Result<T, E> {
    let cache: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
    let checkpoint: i64 = conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?;
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    conn.pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        BULK_CHECKPOINT_BYTES / page.max(512),
    )?;
    let result = load(conn);
    conn.pragma_update(None, "cache_size", cache)?;
    conn.pragma_update(None, "wal_autocheckpoint", checkpoint)?;
    result
}

/// Open an existing database for reading only (status, doctor). Creates nothing.
pub fn open_readonly(path: &Path) -> Result<Connection, StoreError> {
    tune_library();
    if !path.is_file() {
        return Err(StoreError::Missing(path.to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::classify(path, e))?;
    configure(&conn, path)?;
    Ok(conn)
}

/// `PRAGMA quick_check`: `Ok(())` or the problems SQLite lists.
pub fn quick_check(conn: &Connection) -> Result<Result<(), Vec<String>>, StoreError> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(if lines == ["ok"] { Ok(()) } else { Err(lines) })
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// `close` waits up to 30 × 10 ms for other handles to go.
const CLOSE_WAIT_TRIES: u32 = 30;

/// The async handle to the store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    writer: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Open the database, migrate it, and start the writer thread. Blocking:
    /// call it before serving, or from `spawn_blocking`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = open_writer(path)?;
        // Every transaction takes the write lock up front. Another connection
        // writes beside this one (the documents watcher, `docs index`); a
        // deferred transaction that reads first fails with SQLITE_BUSY at once
        // when that one has committed since, without waiting out the busy
        // timeout (a `docs search` run during indexing did).
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let (jobs, rx) = mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("steward-db-writer".into())
            .spawn(move || {
                // Ends when every Store clone is gone; the connection closes with it.
                for job in rx {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                jobs,
                readers: Mutex::new(Vec::new()),
                writer,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Finish queued writes and close every connection (SQLite then checkpoints
    /// the WAL). Returns `false` without waiting if other clones are still alive.
    pub async fn close(self) -> bool {
        // A thread that is stopping (a file watcher's handler, a task being
        // cancelled) may hold a clone for a few milliseconds more: wait a little.
        let mut arc = self.inner;
        let mut waited = 0;
        let inner = loop {
            match Arc::try_unwrap(arc) {
                Ok(inner) => break inner,
                Err(_) if waited >= CLOSE_WAIT_TRIES => return false,
                Err(back) => {
                    arc = back;
                    waited += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        };
        let Inner {
            jobs,
            readers,
            writer,
            ..
        } = inner;
        drop(readers);
        drop(jobs);
        tokio::task::spawn_blocking(move || writer.join().is_ok())
            .await
            .unwrap_or(false)
    }

    /// Queue `f` for the writer thread; `reply` gets its result. A panic in `f`
    /// fails this job only; an open transaction rolls back on unwind.
    fn submit<T, F>(
        &self,
        f: F,
        reply: impl FnOnce(Result<T, StoreError>) + Send + 'static,
    ) -> Result<(), StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let job: Job = Box::new(move |conn| {
            reply(
                std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
                    .unwrap_or_else(|_| Err(StoreError::Task("a write job panicked".into()))),
            )
        });
        self.inner
            .jobs
            .send(job)
            .map_err(|_| StoreError::WriterGone)
    }

    /// Run `f` on the writer connection. Writes are serialised in call order.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(f, move |out| {
            let _ = tx.send(out);
        })?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// `write` for plain threads (a bridge's reader loop). Never call it from
    /// async code: it blocks until the writer has run `f`.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(f, move |out| {
            let _ = tx.send(out);
        })?;
        rx.recv().map_err(|_| StoreError::WriterGone)?
    }

    /// Run `f` on a pooled read-only connection, off the async runtime.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let out = f(&conn);
            let mut idle = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    tune_library();
    let conn = Connection::open(path).map_err(|e| StoreError::classify(path, e))?;
    configure(&conn, path)?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_are_visible_to_readers_and_readers_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        store.write(|c| Ok(meta::set(c, "k", "v")?)).await.unwrap();
        let v = store.read(|c| Ok(meta::get(c, "k")?)).await.unwrap();
        assert_eq!(v.as_deref(), Some("v"));
        let err = store
            .read(|c| Ok(meta::set(c, "k", "w")?))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_stop_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let err = store
            .write(|_| -> Result<(), StoreError> { panic!("boom") })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Task(_)));
        store
            .write(|c| Ok(meta::set(c, "after", "ok")?))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn close_waits_for_queued_writes_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path).unwrap();
        let clone = store.clone();
        clone.write(|c| Ok(meta::set(c, "k", "v")?)).await.unwrap();
        assert!(!clone.close().await, "another clone is alive");
        assert!(store.close().await);
        // The last connection closed: SQLite folded the WAL back and removed it.
        assert!(!dir.path().join("s.db-wal").exists());
        let conn = open_readonly(&path).unwrap();
        assert_eq!(meta::get(&conn, "k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn wal_and_foreign_keys_are_on() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("s.db")).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), fk), ("wal", 1));
    }

    #[test]
    fn a_new_store_has_16_kib_pages_and_an_old_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page =
            |c: &Connection| -> i64 { c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap() };
        let new = open_writer(&dir.path().join("new.db")).unwrap();
        assert_eq!(page(&new), PAGE_SIZE);

        // A store made before the change: 4 KiB pages, WAL, one row.
        let old_path = dir.path().join("old.db");
        let old = Connection::open(&old_path).unwrap();
        old.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;")
            .unwrap();
        drop(old);
        let old = open_writer(&old_path).unwrap();
        meta::set(&old, "k", "v").unwrap();
        assert_eq!(page(&old), 4096);
        drop(old);
        let old = open_writer(&old_path).unwrap();
        assert_eq!(page(&old), 4096);
        assert_eq!(meta::get(&old, "k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let junk = b"this is not sqlite, just text long enough to fill a header page....";
        std::fs::write(&path, junk).unwrap();
        let err = open_writer(&path).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("move it aside"));
        assert_eq!(std::fs::read(&path).unwrap(), junk);
    }

    #[test]
    fn readonly_open_of_a_missing_file_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.db");
        assert!(matches!(open_readonly(&path), Err(StoreError::Missing(_))));
        assert!(!path.exists());
    }
}
