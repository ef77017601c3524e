//! Each run's journal: `(run_id, seq, kind, payload)` rows in order, and the
//! `journalHash` every receipt carries: hex SHA-256 over the rows in seq order,
//! each fed as `"<seq>|<kind>|<payload>\n"` (the Lantern runtime's definition).

use rusqlite::{Connection, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub seq: i64,
    pub kind: String,
    pub payload: String,
}

/// Append one event; returns its seq.
pub fn append(
    conn: &Connection,
    run_id: &str,
    kind: &str,
    payload: &serde_json::Value,
) -> rusqlite::Result<i64> {
    let seq: i64 = conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE run_id = ?1",
        [run_id],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO journal (run_id, seq, kind, payload) VALUES (?1, ?2, ?3, ?4)",
        params![run_id, seq, kind, crate::canonical::to_string(payload)],
    )?;
    Ok(seq)
}

pub fn events(conn: &Connection, run_id: &str) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn
        .prepare_cached("SELECT seq, kind, payload FROM journal WHERE run_id = ?1 ORDER BY seq")?;
    stmt.query_map([run_id], |r| {
        Ok(Event {
            seq: r.get(0)?,
            kind: r.get(1)?,
            payload: r.get(2)?,
        })
    })?
    .collect()
}

pub fn hash(events: &[Event]) -> String {
    let mut h = Sha256::new();
    for e in events {
        h.update(format!("{}|{}|{}\n", e.seq, e.kind, e.payload).as_bytes());
    }
    hex::encode(h.finalize())
}

/// Whether the run's journal already holds an event of `kind`.
pub fn has(conn: &Connection, run_id: &str, kind: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM journal WHERE run_id = ?1 AND kind = ?2)",
        params![run_id, kind],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_the_documented_definition() {
        let events = vec![
            Event {
                seq: 1,
                kind: "a".into(),
                payload: "{}".into(),
            },
            Event {
                seq: 2,
                kind: "b".into(),
                payload: "{\"x\":1}".into(),
            },
        ];
        let expected = hex::encode(Sha256::digest(b"1|a|{}\n2|b|{\"x\":1}\n"));
        assert_eq!(hash(&events), expected);
    }
}
