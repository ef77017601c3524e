//! Verifying stored receipts against the key, the journal and the audit chain.

use ed25519_dalek::VerifyingKey;
use rusqlite::Connection;
use serde::Serialize;

use super::receipt::{self, Receipt, ReceiptError};
use super::{audit, journal, runs};

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
    let seq = r.payload["auditSeq"].as_i64().unwrap_or(-1);
    let stored = audit::hash_at(conn, seq)?;
    if stored.is_none() || stored.as_deref() != r.payload["auditHash"].as_str() {
        return Ok(Err(ReceiptError::Audit));
    }
    Ok(Ok(()))
}

/// Every stored receipt, in run order.
pub fn all(conn: &Connection, key: &VerifyingKey) -> rusqlite::Result<Vec<ReceiptCheck>> {
    let mut stmt = conn.prepare("SELECT run_id FROM receipts ORDER BY run_id")?;
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(r) = runs::receipt(conn, &id)? else {
            continue;
        };
        let result = check(conn, key, &id, &r)?;
        out.push(ReceiptCheck {
            run_id: id,
            valid: result.is_ok(),
            reason: result.err().map(|e| e.to_string()),
        });
    }
    Ok(out)
}
