//! The gate every proactive nudge passes: dedup keys live 3 days; at most 3
//! nudges per tick and 8 a day across agents (urgent ones excepted); quiet
//! hours, focus and the global pause hold nudges, and they are released later
//! as one "📥 while you were heads-down…" message.

use rusqlite::{Connection, OptionalExtension, params};

pub const PER_TICK: usize = 3;
pub const PER_DAY: i64 = 8;
pub const DEDUP_MS: i64 = 3 * 24 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nudge {
    pub key: String,
    pub text: String,
    pub urgent: bool,
    /// What a numbered reply to it acts on.
    pub item: Option<crate::owner_state::ListItem>,
}

impl Nudge {
    pub fn new(key: impl Into<String>, text: impl Into<String>) -> Self {
        Nudge {
            key: key.into(),
            text: text.into(),
            urgent: false,
            item: None,
        }
    }
}

/// Why nudges wait instead of going out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    QuietHours,
    Focus,
    Paused,
}

/// What the gate decided for one tick's nudges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gated {
    pub send: Vec<Nudge>,
    pub held: usize,
    pub duplicate: usize,
    pub capped: usize,
}

/// Record this tick's candidate nudges and return those to send now.
/// `day_start_ms` is the owner's local midnight.
pub fn gate(
    conn: &Connection,
    agent: &str,
    candidates: Vec<Nudge>,
    hold: Option<Hold>,
    now_ms: i64,
    day_start_ms: i64,
) -> rusqlite::Result<Gated> {
    conn.execute(
        "DELETE FROM nudges WHERE created_ms < ?1 AND status != 'held'",
        [now_ms - DEDUP_MS],
    )?;
    let mut sent_today: i64 = conn.query_row(
        "SELECT COUNT(*) FROM nudges WHERE status = 'sent' AND urgent = 0 AND sent_ms >= ?1",
        [day_start_ms],
        |r| r.get(0),
    )?;
    let mut out = Gated::default();
    let mut this_tick = 0;
    for n in candidates {
        let seen: Option<i64> = conn
            .query_row(
                "SELECT id FROM nudges WHERE dedup_key = ?1",
                [&n.key],
                |r| r.get(0),
            )
            .optional()?;
        if seen.is_some() {
            out.duplicate += 1;
            continue;
        }
        let status = if hold.is_some() && !n.urgent {
            out.held += 1;
            "held"
        } else if !n.urgent && (this_tick >= PER_TICK || sent_today >= PER_DAY) {
            out.capped += 1;
            "capped"
        } else {
            if !n.urgent {
                this_tick += 1;
                sent_today += 1;
            }
            "sent"
        };
        conn.execute(
            "INSERT INTO nudges (agent, dedup_key, text, urgent, status, created_ms, sent_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?5 = 'sent' THEN ?6 END)",
            params![agent, n.key, n.text, n.urgent, status, now_ms],
        )?;
        if status == "sent" {
            out.send.push(n);
        }
    }
    Ok(out)
}

/// Held nudges, oldest first, marked sent: what to release now.
pub fn release(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<String>> {
    let texts: Vec<String> = conn
        .prepare("SELECT text FROM nudges WHERE status = 'held' ORDER BY created_ms, id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    conn.execute(
        "UPDATE nudges SET status = 'sent', sent_ms = ?1 WHERE status = 'held'",
        [now_ms],
    )?;
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut c).unwrap();
        c
    }

    fn many(prefix: &str, n: usize) -> Vec<Nudge> {
        (0..n)
            .map(|i| Nudge::new(format!("{prefix}{i}"), format!("nudge {i}")))
            .collect()
    }

    #[test]
    fn caps_per_tick_and_per_day_but_not_for_urgent_ones() {
        let c = conn();
        let g = gate(&c, "a", many("x", 5), None, 1_000, 0).unwrap();
        assert_eq!((g.send.len(), g.capped), (3, 2));
        let g = gate(&c, "b", many("y", 3), None, 2_000, 0).unwrap();
        assert_eq!(g.send.len(), 3);
        let g = gate(&c, "c", many("z", 3), None, 3_000, 0).unwrap();
        assert_eq!((g.send.len(), g.capped), (2, 1), "8 a day");
        let mut urgent = Nudge::new("u", "meeting in 10 min");
        urgent.urgent = true;
        let g = gate(&c, "c", vec![urgent], None, 4_000, 0).unwrap();
        assert_eq!(g.send.len(), 1, "urgent passes the cap");
        // A new day.
        let g = gate(&c, "c", many("w", 1), None, 90_000_000, 86_400_000).unwrap();
        assert_eq!(g.send.len(), 1);
    }

    #[test]
    fn dedup_keys_last_three_days_and_holds_release_once() {
        let c = conn();
        assert_eq!(
            gate(&c, "a", many("k", 1), None, 0, 0).unwrap().send.len(),
            1
        );
        assert_eq!(
            gate(&c, "a", many("k", 1), None, DEDUP_MS - 1, 0)
                .unwrap()
                .duplicate,
            1
        );
        assert_eq!(
            gate(&c, "a", many("k", 1), None, DEDUP_MS + 1, DEDUP_MS)
                .unwrap()
                .send
                .len(),
            1
        );
        let g = gate(
            &c,
            "a",
            many("h", 2),
            Some(Hold::QuietHours),
            DEDUP_MS + 2,
            DEDUP_MS,
        )
        .unwrap();
        assert_eq!((g.send.len(), g.held), (0, 2));
        assert_eq!(
            release(&c, DEDUP_MS + 3).unwrap(),
            vec!["nudge 0", "nudge 1"]
        );
        assert!(release(&c, DEDUP_MS + 4).unwrap().is_empty());
    }
}
