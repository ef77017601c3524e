//! The owner's devices: `steward devices add|revoke`, shown once, stored 0600.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Signed,
    Token,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Signed => "signed",
            Mode::Token => "token",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("a device named {0:?} exists already; revoke it first or pick another name")]
    Exists(String),
    #[error("no device named {0:?}; `steward devices` lists them")]
    NotFound(String),
    #[error("a device name is 1-40 letters, digits, spaces, '-' or '_'")]
    BadName,
    #[error("the system random source failed: {0}")]
    Random(String),
    #[error("device database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A device as listed (never with its secret).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    pub name: String,
    pub mode: Mode,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// What `devices add` shows once.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewDevice {
    pub id: String,
    pub name: String,
    pub secret: String,
    pub mode: Mode,
}

pub fn add(conn: &Connection, name: &str, mode: Mode) -> Result<NewDevice, DeviceError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 40
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
    {
        return Err(DeviceError::BadName);
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| DeviceError::Random(e.to_string()))?;
    let mut id = [0u8; 4];
    getrandom::fill(&mut id).map_err(|e| DeviceError::Random(e.to_string()))?;
    let device = NewDevice {
        id: format!("d{}", hex::encode(id)),
        name: name.to_string(),
        secret: hex::encode(secret),
        mode,
    };
    let inserted = conn.execute(
        "INSERT INTO devices (id, name, secret, mode, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO NOTHING",
        params![
            device.id,
            device.name,
            device.secret,
            mode.as_str(),
            jiff::Timestamp::now().to_string()
        ],
    )?;
    if inserted == 0 {
        return Err(DeviceError::Exists(name.to_string()));
    }
    Ok(device)
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Device>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, mode, created_at, revoked_at FROM devices ORDER BY created_at",
    )?;
    stmt.query_map([], |r| {
        Ok(Device {
            id: r.get(0)?,
            name: r.get(1)?,
            mode: if r.get::<_, String>(2)? == "token" {
                Mode::Token
            } else {
                Mode::Signed
            },
            created_at: r.get(3)?,
            revoked_at: r.get(4)?,
        })
    })?
    .collect()
}

/// Revoke by name or id. Revoked devices stay listed, and can never sign again.
pub fn revoke(conn: &Connection, who: &str) -> Result<(), DeviceError> {
    let n = conn.execute(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE name = ?1 OR id = ?1",
        params![who, jiff::Timestamp::now().to_string()],
    )?;
    if n == 0 {
        return Err(DeviceError::NotFound(who.to_string()));
    }
    Ok(())
}

/// `(secret, mode, revoked)` of a device id.
pub fn credentials(conn: &Connection, id: &str) -> rusqlite::Result<Option<(String, Mode, bool)>> {
    conn.query_row(
        "SELECT secret, mode, revoked_at IS NOT NULL FROM devices WHERE id = ?1",
        [id],
        |r| {
            Ok((
                r.get(0)?,
                if r.get::<_, String>(1)? == "token" {
                    Mode::Token
                } else {
                    Mode::Signed
                },
                r.get(2)?,
            ))
        },
    )
    .optional()
}

/// Every live token-mode device: `(id, secret)`.
pub fn token_devices(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare("SELECT id, secret FROM devices WHERE mode = 'token' AND revoked_at IS NULL")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}
