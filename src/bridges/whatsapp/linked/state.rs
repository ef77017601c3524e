//! What Steward knows about the link, in `<home>/whatsapp/linked.json` (0600):
//! the linked number, whether WhatsApp ended the session (and whether the
//! owner was told), and when the last event arrived. Written by `steward
//! whatsapp link`/`unlink` and the daemon's reader; read by `status` and
//! `doctor` without touching the session store. The session itself (Signal
//! keys, app state, the device) is whatsapp-rust's SQLite store beside it,
//! `session.db`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the session and its state live under the home.
pub fn dir(home: &Path) -> PathBuf {
    home.join("whatsapp")
}

/// whatsapp-rust's session store.
pub fn session_db(home: &Path) -> PathBuf {
    dir(home).join("session.db")
}

fn state_file(home: &Path) -> PathBuf {
    dir(home).join("linked.json")
}

/// Where the session stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Never linked, or unlinked.
    #[default]
    Unlinked,
    Linked,
    /// The phone removed this device (or WhatsApp logged it out).
    LoggedOut,
    /// Another client took over the session (`StreamReplaced`).
    Replaced,
    /// WhatsApp refuses this client version (`ClientOutdated`): update Steward.
    Outdated,
}

impl Status {
    /// Whether the session can run (a retry cannot fix the others).
    pub fn usable(self) -> bool {
        self == Status::Linked
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unlinked => "unlinked",
            Status::Linked => "linked",
            Status::LoggedOut => "loggedOut",
            Status::Replaced => "replaced",
            Status::Outdated => "outdated",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkState {
    pub status: Status,
    /// The owner's number, `+E164`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The device's JID (`15125551234:12@s.whatsapp.net`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jid: Option<String>,
    /// The owner's LID, which WhatsApp uses for them in some chats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<String>,
    /// Why the session ended, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// The owner has been told the session ended (told once).
    #[serde(default)]
    pub told: bool,
    /// The first history sync has been stored.
    #[serde(default)]
    pub history_done: bool,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: {source}; check that {dir} is yours (chmod 700) or run `steward whatsapp unlink` and link again"
)]
pub struct StateError {
    path: String,
    dir: String,
    source: std::io::Error,
}

fn err(path: &Path, source: std::io::Error) -> StateError {
    StateError {
        path: path.display().to_string(),
        dir: path
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        source,
    }
}

/// `+15125551234` as people write it: `+1 512-555-1234`.
pub fn display_number(e164: &str) -> String {
    crate::memory::handle::international(e164).unwrap_or_else(|| e164.to_string())
}

/// The stored state; a missing or unreadable file is "unlinked".
pub fn load(home: &Path) -> LinkState {
    std::fs::read(state_file(home))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Make `<home>/whatsapp` (0700).
pub fn ensure_dir(home: &Path) -> Result<PathBuf, StateError> {
    let d = dir(home);
    std::fs::create_dir_all(&d).map_err(|e| err(&d, e))?;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).map_err(|e| err(&d, e))?;
    Ok(d)
}

/// Replace the state file whole (written beside it, then renamed; 0600).
pub fn save(home: &Path, state: &LinkState) -> Result<(), StateError> {
    ensure_dir(home)?;
    let path = state_file(home);
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec_pretty(state).map_err(|e| err(&tmp, e.into()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| err(&tmp, e))?;
    f.write_all(&body)
        .and_then(|()| f.sync_all())
        .map_err(|e| err(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| err(&path, e))
}

/// Change the stored state with `f` (read, change, write whole).
pub fn update(home: &Path, f: impl FnOnce(&mut LinkState)) -> Result<LinkState, StateError> {
    let mut s = load(home);
    f(&mut s);
    save(home, &s)?;
    Ok(s)
}

/// Make the session store's files owner-only (the library creates them).
pub fn restrict(home: &Path) {
    let Ok(entries) = std::fs::read_dir(dir(home)) else {
        return;
    };
    for e in entries.flatten() {
        let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o600));
    }
}

/// Delete the session store and the state (the ledgers stay: they are
/// the record of what was sent). What was removed.
pub fn remove_session(home: &Path) -> Result<Vec<PathBuf>, StateError> {
    let db = session_db(home);
    let mut names = vec![state_file(home)];
    for suffix in ["", "-wal", "-shm", "-journal"] {
        names.push(PathBuf::from(format!("{}{suffix}", db.display())));
    }
    let mut removed = Vec::new();
    for p in names {
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(&p, e)),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_owner_only_and_unlinks() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(load(home.path()).status, Status::Unlinked);
        let s = update(home.path(), |s| {
            s.status = Status::Linked;
            s.number = Some("+15125551234".into());
        })
        .unwrap();
        assert_eq!(load(home.path()), s);
        let mode = std::fs::metadata(state_file(home.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(session_db(home.path()), b"x").unwrap();
        let removed = remove_session(home.path()).unwrap();
        assert_eq!(removed.len(), 2);
        assert_eq!(load(home.path()).status, Status::Unlinked);
    }
}
