//! The audit chain's head, anchored outside the database. The chain makes an
//! edit or deletion in the middle visible, but deleting the newest rows (with
//! their runs and receipts) leaves a shorter chain that still verifies. So the
//! pipeline writes the head it last committed — seq, hash, and the receipts it
//! has verified through — signed with the receipt key, to `<home>/audit.head`
//! (atomically: a temp file, then rename). A database whose chain does not
//! reach that head, or holds another hash at its seq, was rolled back or cut.
//!
//! What it does not prove: someone holding the receipt key can sign a new head
//! for a rewritten history, and someone who deletes `audit.head` as well as the
//! rows leaves only the "not anchored" warning. The published receipts and
//! any copy the owner keeps are the outside witnesses for those.

use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rusqlite::{Connection, OptionalExtension};
use serde_json::json;

use crate::receipt::{self, Receipt};

pub const FILE: &str = "audit.head";

/// The anchored head: what the database must still hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
    /// Receipts (by rowid) verified against their journals up to here.
    pub receipts_through: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error(
        "{path} is not a signed audit head ({why}); restore it from backup, or move it aside if you restored the database on purpose"
    )]
    Unreadable { path: PathBuf, why: String },
    #[error(
        "{path} was not signed by this receipt key; restore keys/receipt.ed25519 or the matching audit.head"
    )]
    Signature { path: PathBuf },
    #[error(
        "the audit chain ends at seq {found} but {path} says it reached seq {anchored}: the newest entries were deleted or the database rolled back; restore steward.db from backup"
    )]
    Behind {
        path: PathBuf,
        found: i64,
        anchored: i64,
    },
    #[error(
        "audit entry {seq} is not the one {path} anchored: the chain was rewritten; restore steward.db from backup"
    )]
    Rewritten { path: PathBuf, seq: i64 },
    #[error(
        "the newest receipt is #{found} but {path} anchored receipts through #{anchored}: receipts were deleted; restore steward.db from backup"
    )]
    ReceiptsGone {
        path: PathBuf,
        found: i64,
        anchored: i64,
    },
    #[error("cannot write {path}: {source}; check the home's owner and free disk space")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `<home>/audit.head` for the database at `db`.
pub fn path_for(db: &Path) -> PathBuf {
    db.parent().unwrap_or(Path::new(".")).join(FILE)
}

/// The database's newest audit row: `(seq, hash)`.
pub fn db_head(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row(
        "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Sign and write `head` atomically (0600).
pub fn write(path: &Path, key: &SigningKey, head: &Head) -> Result<(), AnchorError> {
    let signed = receipt::sign(
        key,
        json!({ "seq": head.seq, "hash": head.hash, "receiptsThrough": head.receipts_through,
                "at": jiff::Timestamp::now().to_string() }),
    );
    let text = serde_json::to_string_pretty(&signed).expect("a receipt serialises");
    let tmp = path.with_extension("head.tmp");
    let werr = |source| AnchorError::Write {
        path: path.to_path_buf(),
        source,
    };
    write_private(&tmp, text.as_bytes()).map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(werr)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The anchored head in `path`, if the file exists and was signed by `key`.
pub fn read(path: &Path, key: &VerifyingKey) -> Result<Option<Head>, AnchorError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AnchorError::Unreadable {
                path: path.to_path_buf(),
                why: e.to_string(),
            });
        }
    };
    let unreadable = |why: String| AnchorError::Unreadable {
        path: path.to_path_buf(),
        why,
    };
    let signed: Receipt = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    receipt::verify(&signed, key).map_err(|_| AnchorError::Signature {
        path: path.to_path_buf(),
    })?;
    let p = &signed.payload;
    match (p["seq"].as_i64(), p["hash"].as_str()) {
        (Some(seq), Some(hash)) => Ok(Some(Head {
            seq,
            hash: hash.to_string(),
            receipts_through: p["receiptsThrough"].as_i64().unwrap_or(0),
        })),
        _ => Err(unreadable("no seq or hash".into())),
    }
}

/// Check the database against the anchored head: `Ok(Some(head))` when it
/// reaches it, `Ok(None)` when nothing is anchored yet.
pub fn check(conn: &Connection, path: &Path, key: &VerifyingKey) -> rusqlite::Result<Checked> {
    let head = match read(path, key) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(Checked::NotAnchored),
        Err(e) => return Ok(Checked::Problem(e)),
    };
    let found = db_head(conn)?.map_or(0, |(seq, _)| seq);
    if found < head.seq {
        return Ok(Checked::Problem(AnchorError::Behind {
            path: path.to_path_buf(),
            found,
            anchored: head.seq,
        }));
    }
    let at: Option<String> = conn
        .query_row("SELECT hash FROM audit WHERE seq = ?1", [head.seq], |r| {
            r.get(0)
        })
        .optional()?;
    if head.seq > 0 && at.as_deref() != Some(head.hash.as_str()) {
        return Ok(Checked::Problem(AnchorError::Rewritten {
            path: path.to_path_buf(),
            seq: head.seq,
        }));
    }
    let receipts = receipts_head(conn)?;
    if receipts < head.receipts_through {
        return Ok(Checked::Problem(AnchorError::ReceiptsGone {
            path: path.to_path_buf(),
            found: receipts,
            anchored: head.receipts_through,
        }));
    }
    Ok(Checked::Reaches(head))
}

#[derive(Debug)]
pub enum Checked {
    NotAnchored,
    Reaches(Head),
    Problem(AnchorError),
}

/// The newest receipt's rowid (receipts this process signed are verified by construction).
pub fn receipts_head(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(rowid), 0) FROM receipts", [], |r| {
        r.get(0)
    })
}
