//! The quiet-hours queue (durable, one row per message, handled in arrival
//! order) and the owner's monitored groups.

use rusqlite::{Connection, OptionalExtension, params};

use crate::types::Inbound;

pub fn push(conn: &Connection, msg: &Inbound, reason: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO contact_queue (channel, external_id, inbound, reason, queued_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            msg.channel,
            msg.external_id,
            serde_json::to_string(msg).unwrap_or_default(),
            reason,
            crate::owner_state::now_ms()
        ],
    )?;
    Ok(())
}

/// Everything queued, oldest first, removed from the queue in the same transaction.
pub fn take_all(conn: &mut Connection) -> rusqlite::Result<Vec<Inbound>> {
    let tx = conn.transaction()?;
    let rows: Vec<String> = tx
        .prepare("SELECT inbound FROM contact_queue ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    tx.execute("DELETE FROM contact_queue", [])?;
    tx.commit()?;
    Ok(rows
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect())
}

pub fn monitored(conn: &Connection, channel: &str, chat: Option<&str>) -> rusqlite::Result<bool> {
    let Some(chat) = chat else { return Ok(false) };
    Ok(conn
        .query_row(
            "SELECT 1 FROM monitored_chats m JOIN chats c ON c.id = m.chat_id
             WHERE c.channel = ?1 AND c.external_id = ?2",
            params![channel, chat],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
