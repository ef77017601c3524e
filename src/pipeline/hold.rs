//! The duplicate-send hold. Two drafts the model answered alike, approved a
//! moment apart, would reach a contact as the same text twice; that looks like
//! a bot. So a contact step whose text already went (or is going) to the same
//! recipient from another run within [`WINDOW`] is held: its confirmation is
//! put back to pending and the owner is asked again. Checked in the same
//! writer transaction that marks a send intended, so two approvals racing each
//! other are serialised and the second always sees the first.

use rusqlite::{Connection, params};
use serde_json::json;

use super::audit::{self, Record};
use super::confirm::{self, ConfirmedSend};
use super::execute::record_step;
use super::{StepKey, journal};

/// How long the same text to the same recipient counts as a repeat.
pub const WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// The step state a held attempt is recorded with. A later attempt after a
/// hold is the owner's second yes and is not held again.
pub(super) const HELD: &str = "held";

/// Texts compare after trimming, case folding and collapsing whitespace:
/// "Yes! 7 works" and "yes!  7 works " read the same on a phone.
fn same_text(a: &str, b: &str) -> bool {
    let fold = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    fold(a) == fold(b)
}

/// When the same text last went to `send`'s recipient from another run, if
/// that was within [`WINDOW`] of `now`.
fn recent_duplicate(
    conn: &Connection,
    send: &ConfirmedSend,
    now: jiff::Timestamp,
) -> rusqlite::Result<Option<jiff::Timestamp>> {
    let since = now - WINDOW;
    // Timestamps are stored as RFC 3339 with a varying fraction; comparing
    // strings is exact only to the second, so the SQL bound is one second
    // wide and the exact check is done on the parsed value below.
    let bound = jiff::Timestamp::from_second(since.as_second() - 1)
        .unwrap_or(since)
        .to_string();
    let mut stmt = conn.prepare_cached(
        "SELECT s.updated_at, COALESCE(c.final_text, c.text) FROM steps s
         JOIN confirmations c ON c.run_id = s.run_id AND c.step = s.step
         WHERE c.channel = ?1 AND c.recipient = ?2 AND s.run_id != ?3
           AND s.kind = 'reply' AND s.state IN ('intended', 'done') AND s.updated_at >= ?4",
    )?;
    let rows = stmt.query_map(
        params![send.channel(), send.to(), send.run_id(), bound],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )?;
    let mut latest: Option<jiff::Timestamp> = None;
    for row in rows {
        let (at, text) = row?;
        let Ok(at) = at.parse::<jiff::Timestamp>() else {
            continue;
        };
        if at >= since && same_text(&text, send.text()) && latest.is_none_or(|l| at > l) {
            latest = Some(at);
        }
    }
    Ok(latest)
}

/// Hold `send` (step `step` of `run_id`, about to become attempt `attempt`) if
/// it repeats a recent send: the attempt is recorded as held, the confirmation
/// reopened until `now + ttl`, and the hold journaled and audited, all in the
/// caller's transaction. Returns what the owner is told, or `None`: send it.
pub(super) fn check(
    tx: &Connection,
    send: &ConfirmedSend,
    step: usize,
    attempt: u32,
    ttl: jiff::SignedDuration,
) -> rusqlite::Result<Option<String>> {
    let now = jiff::Timestamp::now();
    let Some(at) = recent_duplicate(tx, send, now)? else {
        return Ok(None);
    };
    let why = reason(send.text(), at, now);
    let key = StepKey {
        run_id: send.run_id().to_string(),
        step,
        attempt,
    };
    record_step(tx, &key, "reply", HELD, Some(&why))?;
    confirm::reopen(tx, send.confirmation_id(), &(now + ttl).to_string())?;
    let payload = json!({ "step": step, "attempt": attempt, "confirmation": send.confirmation_id(), "reason": why });
    journal::append(tx, send.run_id(), "step.held", &payload)?;
    audit::append(
        tx,
        &Record {
            run_id: Some(send.run_id()),
            kind: "confirmation",
            actor: "pipeline",
            subject: send.confirmation_id(),
            decision: "held",
            payload: &payload,
        },
    )?;
    Ok(Some(why))
}

/// What the owner is told when a send is held.
fn reason(text: &str, at: jiff::Timestamp, now: jiff::Timestamp) -> String {
    let ago = now.duration_since(at).as_secs().max(0);
    let when = if ago < 60 {
        "seconds ago".to_string()
    } else {
        format!("{} min ago", ago / 60)
    };
    format!("the same text (\"{text}\") went to them {when}; held so it is not sent twice")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_compare_as_they_read() {
        assert!(same_text("Yes! 7 works", " yes!  7 works "));
        assert!(!same_text("yes! 7 works", "yes! 8 works"));
    }
}
