//! The `meta` table: small facts about this installation (creation time,
//! the version that last booted). Keys are snake_case strings.

use rusqlite::{Connection, OptionalExtension, params};

pub const CREATED_AT: &str = "created_at";
pub const LAST_BOOT_AT: &str = "last_boot_at";
pub const LAST_BOOT_VERSION: &str = "last_boot_version";

pub fn get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

pub fn set(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, value, jiff::Timestamp::now().to_string()],
    )?;
    Ok(())
}

/// Set `key` only if it has no value yet. Returns whether it was set.
pub fn set_once(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "INSERT INTO meta (key, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO NOTHING",
        params![key, value, jiff::Timestamp::now().to_string()],
    )?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_once_keeps_the_first_value() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        assert!(set_once(&conn, CREATED_AT, "a").unwrap());
        assert!(!set_once(&conn, CREATED_AT, "b").unwrap());
        assert_eq!(get(&conn, CREATED_AT).unwrap().as_deref(), Some("a"));
        set(&conn, LAST_BOOT_AT, "x").unwrap();
        set(&conn, LAST_BOOT_AT, "y").unwrap();
        assert_eq!(get(&conn, LAST_BOOT_AT).unwrap().as_deref(), Some("y"));
    }
}
