//! The audit chain: one row per decision (gate outcome, confirmation, send,
//! refusal, run end), each hashing the one before it, so editing, deleting or
//! reordering any row breaks every hash after it. `verify` recomputes it.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit row. Fields are declared in sorted order, so serde's compact
/// output of this struct (minus `hash`) is the canonical form that is hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub actor: String,
    pub decision: String,
    pub kind: String,
    pub payload_digest: String,
    pub prev_hash: String,
    pub run_id: Option<String>,
    pub seq: i64,
    pub subject: String,
    pub ts: String,
    #[serde(skip)]
    pub hash: String,
}

impl Entry {
    pub fn compute_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("entry serialises");
        hex::encode(Sha256::digest(&canonical))
    }
}

/// What is being recorded; `append` fills in seq, ts and the hashes.
pub struct Record<'a> {
    pub run_id: Option<&'a str>,
    pub kind: &'a str,
    pub actor: &'a str,
    pub subject: &'a str,
    pub decision: &'a str,
    pub payload: &'a serde_json::Value,
}

/// Append a row; returns `(seq, hash)`. Call inside the transaction that makes
/// the decision, so the decision and its record commit together.
pub fn append(conn: &Connection, rec: &Record<'_>) -> rusqlite::Result<(i64, String)> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS.to_string()));
    let mut entry = Entry {
        actor: rec.actor.to_string(),
        decision: rec.decision.to_string(),
        kind: rec.kind.to_string(),
        payload_digest: crate::canonical::sha256_hex(
            crate::canonical::to_string(rec.payload).as_bytes(),
        ),
        prev_hash,
        run_id: rec.run_id.map(str::to_string),
        seq: prev_seq + 1,
        subject: rec.subject.to_string(),
        ts: jiff::Timestamp::now().to_string(),
        hash: String::new(),
    };
    entry.hash = entry.compute_hash();
    conn.prepare_cached(
        "INSERT INTO audit (seq, ts, run_id, kind, actor, subject, decision, payload_digest, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        entry.seq,
        entry.ts,
        entry.run_id,
        entry.kind,
        entry.actor,
        entry.subject,
        entry.decision,
        entry.payload_digest,
        entry.prev_hash,
        entry.hash
    ])?;
    Ok((entry.seq, entry.hash))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    pub ok: bool,
    pub entries: u64,
    pub first_bad_seq: Option<i64>,
    pub reason: Option<String>,
}

/// Recompute the whole chain in seq order; stop at the first bad row.
pub fn verify(conn: &Connection) -> rusqlite::Result<ChainReport> {
    verify_from(conn, 1, GENESIS)
}

/// Recompute the chain from row `seq` on, which must link to `prev_hash`
/// (the boot check starts at the anchored head instead of the genesis).
pub fn verify_from(conn: &Connection, seq: i64, prev_hash: &str) -> rusqlite::Result<ChainReport> {
    let mut stmt = conn.prepare(
        "SELECT seq, ts, run_id, kind, actor, subject, decision, payload_digest, prev_hash, hash
         FROM audit WHERE seq >= ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([seq])?;
    let mut expected_prev = prev_hash.to_string();
    let mut expected_seq = seq;
    let mut entries = 0u64;
    while let Some(r) = rows.next()? {
        let entry = Entry {
            seq: r.get(0)?,
            ts: r.get(1)?,
            run_id: r.get(2)?,
            kind: r.get(3)?,
            actor: r.get(4)?,
            subject: r.get(5)?,
            decision: r.get(6)?,
            payload_digest: r.get(7)?,
            prev_hash: r.get(8)?,
            hash: r.get(9)?,
        };
        let problem = if entry.seq != expected_seq {
            Some(format!(
                "expected seq {expected_seq}, found {} (a row was removed or inserted)",
                entry.seq
            ))
        } else if entry.prev_hash != expected_prev {
            Some("prev_hash does not match the previous row's hash".to_string())
        } else if entry.compute_hash() != entry.hash {
            Some("the row's contents do not match its hash (edited)".to_string())
        } else {
            None
        };
        if let Some(reason) = problem {
            return Ok(ChainReport {
                ok: false,
                entries,
                first_bad_seq: Some(entry.seq.min(expected_seq)),
                reason: Some(reason),
            });
        }
        expected_prev = entry.hash;
        expected_seq += 1;
        entries += 1;
    }
    Ok(ChainReport {
        ok: true,
        entries,
        first_bad_seq: None,
        reason: None,
    })
}

/// The row at `seq`'s stored hash, if there is one.
pub fn hash_at(conn: &Connection, seq: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT hash FROM audit WHERE seq = ?1", [seq], |r| r.get(0))
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        conn
    }

    fn add(conn: &Connection, n: usize) {
        for i in 0..n {
            append(
                conn,
                &Record {
                    run_id: Some("r1"),
                    kind: "gate",
                    actor: "console",
                    subject: "budget",
                    decision: "allow",
                    payload: &json!({ "i": i }),
                },
            )
            .unwrap();
        }
    }

    #[test]
    fn an_intact_chain_verifies() {
        let conn = db();
        add(&conn, 5);
        let report = verify(&conn).unwrap();
        assert!(report.ok);
        assert_eq!(report.entries, 5);
    }

    #[test]
    fn any_edit_delete_or_flip_is_found_at_its_seq() {
        for (sql, bad) in [
            ("UPDATE audit SET decision = 'refuse' WHERE seq = 3", 3),
            (
                "UPDATE audit SET ts = '2020-01-01T00:00:00Z' WHERE seq = 2",
                2,
            ),
            (
                "UPDATE audit SET hash = substr(hash, 2) || '0' WHERE seq = 4",
                4,
            ),
            ("DELETE FROM audit WHERE seq = 3", 3),
            ("UPDATE audit SET prev_hash = '00' WHERE seq = 1", 1),
        ] {
            let conn = db();
            add(&conn, 5);
            conn.execute(sql, []).unwrap();
            let report = verify(&conn).unwrap();
            assert!(!report.ok, "{sql}");
            assert_eq!(report.first_bad_seq, Some(bad), "{sql}: {report:?}");
        }
    }
}
