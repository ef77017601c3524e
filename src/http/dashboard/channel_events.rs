//! What each channel did last, for the Channels page: the newest message
//! memory holds from it, its newest delivered send, and its newest failed send
//! with the bridge's error. Every read is one index seek (`messages_by_chat`,
//! and the audit's `audit_sends` from migration 0015), so the page stays fast
//! with a year of messages and runs.

use rusqlite::{Connection, OptionalExtension, params};

/// A failed send: when, the run, and what the bridge answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub at: String,
    pub run_id: String,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastEvents {
    /// The newest message stored from this channel (RFC 3339).
    pub message_at: Option<String>,
    /// The newest send the bridge delivered (RFC 3339).
    pub sent_at: Option<String>,
    /// The newest failed send, only when no send succeeded after it: a
    /// failure since fixed is history, not something to do.
    pub failure: Option<Failure>,
}

/// The newest audit `send` entry of `channel` with `decision`: (seq, ts, run).
fn newest_send(
    conn: &Connection,
    channel: &str,
    decision: &str,
) -> rusqlite::Result<Option<(i64, String, Option<String>)>> {
    // The expression is spelt as in the index `audit_sends`, so SQLite uses it.
    conn.prepare_cached(
        "SELECT seq, ts, run_id FROM audit
         WHERE kind = 'send' AND substr(subject, 1, instr(subject, ':') - 1) = ?1 AND decision = ?2
         ORDER BY seq DESC LIMIT 1",
    )?
    .query_row(params![channel, decision], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .optional()
}

/// The error the bridge gave for the run's last failed step.
fn step_error(conn: &Connection, run_id: &str) -> rusqlite::Result<String> {
    let error: Option<Option<String>> = conn
        .prepare_cached(
            "SELECT json_extract(payload, '$.result') FROM journal
             WHERE run_id = ?1 AND kind = 'step.failed' ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([run_id], |r| r.get(0))
        .optional()?;
    Ok(error.flatten().unwrap_or_default())
}

pub fn last_events(conn: &Connection, channel: &str) -> rusqlite::Result<LastEvents> {
    let message_ms: Option<i64> = conn
        .prepare_cached(
            "SELECT MAX(m.at_ms) FROM messages m
             WHERE m.chat_id IN (SELECT id FROM chats WHERE channel = ?1)",
        )?
        .query_row([channel], |r| r.get(0))?;
    let sent = newest_send(conn, channel, "delivered")?;
    let failed = newest_send(conn, channel, "failed")?;
    let failure = match (failed, &sent) {
        (Some((seq, at, Some(run_id))), sent) if sent.as_ref().is_none_or(|s| s.0 < seq) => {
            Some(Failure {
                error: step_error(conn, &run_id)?,
                at,
                run_id,
            })
        }
        _ => None,
    };
    Ok(LastEvents {
        message_at: message_ms.map(crate::memory::messages::rfc3339_ms),
        sent_at: sent.map(|s| s.1),
        failure,
    })
}
