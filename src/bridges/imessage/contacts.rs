//! Reading the macOS Contacts databases (AddressBook Core Data SQLite),
//! read-only: every `Sources/*/AddressBook-v22.abcddb` and the root one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One card: a display name and every phone and email on it, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub name: String,
    pub addresses: Vec<String>,
}

/// The default AddressBook folder under a user's home.
pub fn default_root(user_home: &Path) -> PathBuf {
    user_home.join("Library/Application Support/AddressBook")
}

/// The database files under `path`: the file itself, or a folder's root
/// database plus every `Sources/*/AddressBook-v22.abcddb`.
pub fn databases(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    let root = path.join("AddressBook-v22.abcddb");
    if root.is_file() {
        out.push(root);
    }
    if let Ok(entries) = std::fs::read_dir(path.join("Sources")) {
        let mut sources: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("AddressBook-v22.abcddb"))
            .filter(|p| p.is_file())
            .collect();
        sources.sort();
        out.extend(sources);
    }
    out
}

/// Cards from one database. An unreadable file is an error for the caller to count.
pub fn read(path: &Path) -> rusqlite::Result<Vec<Card>> {
    let conn = super::open_read_only(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut cards: BTreeMap<i64, Card> = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT Z_PK, ZFIRSTNAME, ZLASTNAME, ZNICKNAME, ZORGANIZATION FROM ZABCDRECORD")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    for (pk, first, last, nick, org) in rows.flatten() {
        let full = [first, last]
            .into_iter()
            .flatten()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let name = [Some(full), nick, org]
            .into_iter()
            .flatten()
            .map(|s| s.trim().to_string())
            .find(|s| !s.is_empty());
        if let Some(name) = name {
            cards.insert(
                pk,
                Card {
                    name,
                    addresses: Vec::new(),
                },
            );
        }
    }
    for sql in [
        "SELECT ZOWNER, ZFULLNUMBER FROM ZABCDPHONENUMBER",
        "SELECT ZOWNER, COALESCE(ZADDRESSNORMALIZED, ZADDRESS) FROM ZABCDEMAILADDRESS",
    ] {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        for (owner, address) in rows.flatten() {
            if let (Some(card), Some(a)) = (owner.and_then(|o| cards.get_mut(&o)), address) {
                let a = a.trim().to_string();
                if !a.is_empty() && !card.addresses.contains(&a) {
                    card.addresses.push(a);
                }
            }
        }
    }
    Ok(cards
        .into_values()
        .filter(|c| !c.addresses.is_empty())
        .collect())
}
