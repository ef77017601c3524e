//! Verifying stored receipts against the key, the journal and the audit chain.

use ed25519_dalek::VerifyingKey;
use rusqlite::Connection;
use serde::Serialize;

use super::{audit, journal, runs};
use crate::receipt::{self, Receipt, ReceiptError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptCheck {
    pub run_id: String,
    pub valid: bool,
    pub reason: Option<String>,
}

/// Check one stored receipt: signature, then journalHash, then the audit entry.
pub fn check(
    conn: &Connection,
    key: &VerifyingKey,
    run_id: &str,
    r: &Receipt,
) -> rusqlite::Result<Result<(), ReceiptError>> {
    if let Err(e) = receipt::verify(r, key) {
        return Ok(Err(e));
    }
    let events = journal::events(conn, run_id)?;
    if r.payload["journalHash"].as_str() != Some(journal::hash(&events).as_str()) {
        return Ok(Err(ReceiptError::Journal));
    }
    if let Err(why) = super::approval::check_journal(conn, key, &events)? {
        return Ok(Err(ReceiptError::Approval(why)));
    }
    let seq = r.payload["auditSeq"].as_i64().unwrap_or(-1);
    let stored = audit::hash_at(conn, seq)?;
    if stored.is_none() || stored.as_deref() != r.payload["auditHash"].as_str() {
        return Ok(Err(ReceiptError::Audit));
    }
    Ok(Ok(()))
}

/// Every stored receipt, in run order, and every run the store or the audit
/// chain says ended without one: a deleted receipt or run shows as invalid.
pub fn all(conn: &Connection, key: &VerifyingKey) -> rusqlite::Result<Vec<ReceiptCheck>> {
    let mut out = Vec::new();
    for (id, status) in ended_runs(conn)? {
        let Some(r) = runs::receipt(conn, &id)? else {
            let why = match &status {
                Some(s) => format!("run {id} is {s} but has no receipt (deleted?)"),
                None => format!(
                    "run {id} ended in the audit chain but is gone from the store with its receipt"
                ),
            };
            out.push(invalid(id, why));
            continue;
        };
        let mut result = check(conn, key, &id, &r)?.map_err(|e| e.to_string());
        if result.is_ok() {
            result = match &status {
                None => Err(format!("receipt of run {id}, which is not in the store")),
                Some(s) if r.payload["status"].as_str() != Some(s.as_str()) => Err(format!(
                    "run {id} says {s} but its receipt says {}",
                    r.payload["status"].as_str().unwrap_or("?")
                )),
                Some(_) => Ok(()),
            };
        }
        out.push(ReceiptCheck {
            run_id: id,
            valid: result.is_ok(),
            reason: result.err(),
        });
    }
    Ok(out)
}

fn invalid(run_id: String, reason: String) -> ReceiptCheck {
    ReceiptCheck {
        run_id,
        valid: false,
        reason: Some(reason),
    }
}

/// `(run id, its status in the runs table)` for every run that should have a
/// receipt: final runs, runs with a receipt, runs the chain saw end.
fn ended_runs(conn: &Connection) -> rusqlite::Result<Vec<(String, Option<String>)>> {
    let mut stmt = conn.prepare(
        "WITH ids AS (
             SELECT id FROM runs WHERE status IN ('succeeded', 'refused', 'failed', 'expired')
             UNION SELECT run_id FROM receipts
             UNION SELECT run_id FROM audit WHERE kind = 'run.end' AND run_id IS NOT NULL)
         SELECT ids.id, runs.status FROM ids LEFT JOIN runs ON runs.id = ids.id ORDER BY ids.id",
    )?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}
