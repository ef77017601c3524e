//! Owner confirmations, and [`ConfirmedSend`]: the only value a bridge accepts
//! for a message to a contact. Its constructor is private to this module and
//! runs only on a row the owner approved or edited whose decision is signed and
//! in the audit chain (`approval::prove`), so no code path, however it is
//! written, and no edit of the row can hand a bridge an unconfirmed message.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A message to a contact that the owner said yes to. Fields are private.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedSend {
    confirmation_id: String,
    run_id: String,
    channel: String,
    to: String,
    text: String,
}

impl ConfirmedSend {
    pub fn confirmation_id(&self) -> &str {
        &self.confirmation_id
    }
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
    pub fn channel(&self) -> &str {
        &self.channel
    }
    pub fn to(&self) -> &str {
        &self.to
    }
    /// Exactly what the owner approved (the edit, if they edited).
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approved,
    Edited,
    Rejected,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Edited => "edited",
            Decision::Rejected => "rejected",
        }
    }
}

/// `confirm list --json` rows: pending only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub id: String,
    pub run_id: String,
    pub agent: String,
    pub channel: String,
    pub to: String,
    pub text: String,
    pub created_at: String,
    pub expires_at: String,
}

pub struct NewConfirmation<'a> {
    pub id: &'a str,
    pub run_id: &'a str,
    pub step: usize,
    pub agent: &'a str,
    pub channel: &'a str,
    pub to: &'a str,
    pub text: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
}

pub fn insert(conn: &Connection, c: &NewConfirmation<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO confirmations (id, run_id, step, agent, channel, recipient, text, status, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9)",
        params![c.id, c.run_id, c.step as i64, c.agent, c.channel, c.to, c.text, c.created_at, c.expires_at],
    )?;
    Ok(())
}

/// The state of step `step`'s confirmation.
pub enum StepConfirmation {
    Missing,
    Pending,
    Rejected,
    Expired,
    Confirmed(ConfirmedSend),
    /// The row says approved, but the decision is not evidence (see `approval`).
    Unproven(super::approval::Unproven),
}

pub fn for_step(
    conn: &Connection,
    key: &ed25519_dalek::VerifyingKey,
    run_id: &str,
    step: usize,
) -> rusqlite::Result<StepConfirmation> {
    let row: Option<(String, String, String, String, String, Option<String>)> = conn
        .query_row(
            "SELECT id, status, channel, recipient, text, final_text FROM confirmations WHERE run_id = ?1 AND step = ?2",
            params![run_id, step as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let Some((id, status, channel, to, text, final_text)) = row else {
        return Ok(StepConfirmation::Missing);
    };
    Ok(match status.as_str() {
        "pending" => StepConfirmation::Pending,
        "rejected" => StepConfirmation::Rejected,
        "expired" => StepConfirmation::Expired,
        "approved" | "edited" => match super::approval::prove(conn, key, &id)? {
            Ok(()) => StepConfirmation::Confirmed(ConfirmedSend {
                confirmation_id: id,
                run_id: run_id.to_string(),
                channel,
                to,
                text: final_text.unwrap_or(text),
            }),
            Err(why) => StepConfirmation::Unproven(why),
        },
        _ => StepConfirmation::Missing,
    })
}

pub fn list_pending(conn: &Connection) -> rusqlite::Result<Vec<Pending>> {
    let mut stmt = conn.prepare(
        "SELECT id, run_id, agent, channel, recipient, text, created_at, expires_at
         FROM confirmations WHERE status = 'pending' ORDER BY created_at",
    )?;
    stmt.query_map([], |r| {
        Ok(Pending {
            id: r.get(0)?,
            run_id: r.get(1)?,
            agent: r.get(2)?,
            channel: r.get(3)?,
            to: r.get(4)?,
            text: r.get(5)?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
        })
    })?
    .collect()
}

/// The last `limit` drafts that expired unanswered, newest first (the
/// dashboard shows them greyed under the pending ones).
pub fn recent_expired(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<Pending>> {
    let mut stmt = conn.prepare(
        "SELECT id, run_id, agent, channel, recipient, text, created_at, expires_at
         FROM confirmations WHERE status = 'expired' ORDER BY expires_at DESC LIMIT ?1",
    )?;
    stmt.query_map([limit], |r| {
        Ok(Pending {
            id: r.get(0)?,
            run_id: r.get(1)?,
            agent: r.get(2)?,
            channel: r.get(3)?,
            to: r.get(4)?,
            text: r.get(5)?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
        })
    })?
    .collect()
}

/// `(run_id, status, expires_at)` of a confirmation.
pub fn state(conn: &Connection, id: &str) -> rusqlite::Result<Option<(String, String, String)>> {
    conn.query_row(
        "SELECT run_id, status, expires_at FROM confirmations WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

/// Record the owner's decision on a pending confirmation.
pub fn decide(
    conn: &Connection,
    id: &str,
    decision: Decision,
    final_text: Option<&str>,
    by: &str,
    at: &str,
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE confirmations SET status = ?2, final_text = COALESCE(?3, text), decided_at = ?4, decided_by = ?5
         WHERE id = ?1 AND status = 'pending'",
        params![id, decision.as_str(), final_text, at, by],
    )?;
    Ok(n == 1)
}

pub fn mark_expired(conn: &Connection, id: &str, at: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE confirmations SET status = 'expired', decided_at = ?2, decided_by = 'expiry'
         WHERE id = ?1 AND status = 'pending'",
        params![id, at],
    )?;
    Ok(n == 1)
}

/// Pending confirmations past their expiry at `now`: `(id, run_id)`.
pub fn due(conn: &Connection, now: jiff::Timestamp) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare("SELECT id, run_id, expires_at FROM confirmations WHERE status = 'pending'")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, run, expires) = row?;
        // An unparsable expiry is treated as expired: never send on doubt.
        let expired = expires
            .parse::<jiff::Timestamp>()
            .map_or(true, |t| t <= now);
        if expired {
            out.push((id, run));
        }
    }
    Ok(out)
}

pub fn pending_for_run(conn: &Connection, run_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM confirmations WHERE run_id = ?1 AND status = 'pending' ORDER BY step",
    )?;
    stmt.query_map([run_id], |r| r.get(0))?.collect()
}

/// Put an approved (or edited) confirmation back to pending, to ask the owner
/// again (a held duplicate send). What they approved becomes the proposal, so a
/// plain second yes sends their edit, not the original draft.
pub fn reopen(conn: &Connection, id: &str, expires_at: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE confirmations SET status = 'pending', text = COALESCE(final_text, text), final_text = NULL,
                decided_at = NULL, decided_by = NULL, expires_at = ?2
         WHERE id = ?1 AND status IN ('approved', 'edited')",
        params![id, expires_at],
    )?;
    Ok(n == 1)
}
