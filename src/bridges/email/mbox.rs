//! `steward import mbox FILE`: every mail in an mbox file into memory, in
//! batches of one transaction each, idempotent by Message-ID. History only
//! fills memory; nothing is acted on.

use std::io::BufReader;
use std::path::Path;

use rusqlite::Connection;

use super::ingest::{Counts, EmailIngest, Source};
use super::mime;

/// Mails per write transaction.
const BATCH: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum MboxError {
    #[error("cannot read {path}: {source}; check the path and that Steward may read it")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an mbox file (it does not start with a \"From \" line)")]
    NotMbox { path: std::path::PathBuf },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

impl MboxError {
    /// Name the file in a read error raised where the path was not at hand.
    fn with_path(self, path: &Path) -> MboxError {
        match self {
            MboxError::Read { source, .. } => MboxError::Read {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }
}

/// Import `path`; `progress(bytes_read, bytes_total)` after each batch.
pub fn import(
    conn: &mut Connection,
    ingest: &mut EmailIngest,
    path: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<Counts, MboxError> {
    let read = |source| MboxError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let total = file.metadata().map_err(read)?.len();
    let mut head = [0u8; 5];
    let n = std::io::Read::read(&mut &file, &mut head).map_err(read)?;
    if total > 0 && (n < 5 || &head != b"From ") {
        return Err(MboxError::NotMbox {
            path: path.to_path_buf(),
        });
    }
    let file = std::fs::File::open(path).map_err(read)?;
    let mut mails =
        mail_parser::mailbox::mbox::MessageIterator::new(BufReader::with_capacity(1 << 20, file));
    let src = Source {
        account: "mbox",
        folder: path.file_name().and_then(|n| n.to_str()).unwrap_or("mbox"),
    };
    crate::store::bulk(conn, |conn| {
        read_all(conn, ingest, &mut mails, src, total, &mut progress).map_err(|e| e.with_path(path))
    })
}

type Mails = mail_parser::mailbox::mbox::MessageIterator<BufReader<std::fs::File>>;

fn read_all(
    conn: &mut Connection,
    ingest: &mut EmailIngest,
    mails: &mut Mails,
    src: Source<'_>,
    total: u64,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Counts, MboxError> {
    let mut done_bytes = 0u64;
    loop {
        let tx = conn.transaction()?;
        let mut n = 0;
        for item in mails.by_ref() {
            let raw = item.map_err(|source| MboxError::Read {
                path: std::path::PathBuf::new(),
                source,
            })?;
            done_bytes += raw.contents().len() as u64;
            match mime::parse(raw.contents()) {
                Ok(mail) => {
                    ingest.mail(&tx, src, &mail)?;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "mbox: a mail was skipped");
                    ingest.skip();
                }
            }
            n += 1;
            if n == BATCH {
                break;
            }
        }
        crate::memory::messages::index_new(&tx)?;
        tx.commit()?;
        progress(done_bytes.min(total), total);
        if n < BATCH {
            return Ok(ingest.counts.clone());
        }
    }
}
