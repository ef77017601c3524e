//! The data folders (`agents/ bridges/ profiles/ prompts/ shortcuts/`) shipped
//! inside the binary, each file overridable by a file of the same name under
//! the home. The binary stays one file; the owner customises without rebuilding.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::Serialize;

static AGENTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/agents");
static BRIDGES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/bridges");
static PROFILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/profiles");
static PROMPTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/prompts");
static SHORTCUTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/shortcuts");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Folder {
    Agents,
    Bridges,
    Profiles,
    Prompts,
    Shortcuts,
}

impl Folder {
    pub const ALL: [Folder; 5] = [
        Folder::Agents,
        Folder::Bridges,
        Folder::Profiles,
        Folder::Prompts,
        Folder::Shortcuts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Folder::Agents => "agents",
            Folder::Bridges => "bridges",
            Folder::Profiles => "profiles",
            Folder::Prompts => "prompts",
            Folder::Shortcuts => "shortcuts",
        }
    }

    fn shipped(self) -> &'static Dir<'static> {
        match self {
            Folder::Agents => &AGENTS,
            Folder::Bridges => &BRIDGES,
            Folder::Profiles => &PROFILES,
            Folder::Prompts => &PROMPTS,
            Folder::Shortcuts => &SHORTCUTS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("{0:?} is not a plain relative file name inside the folder")]
    BadName(String),
    #[error(
        "cannot read the override {path}: {source}; fix its permissions or delete it to use the shipped file"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where an asset came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "path")]
pub enum Origin {
    Shipped,
    Home(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Asset {
    pub name: String,
    pub origin: Origin,
    pub text: Cow<'static, str>,
}

/// The shipped text of `folder/name`, ignoring any override.
pub fn shipped(folder: Folder, name: &str) -> Option<&'static str> {
    folder.shipped().get_file(name)?.contents_utf8()
}

/// `folder/name`: the home's file if there is one, else the shipped one.
pub fn load(home: &Path, folder: Folder, name: &str) -> Result<Option<Asset>, AssetError> {
    check_name(name)?;
    let path = home.join(folder.name()).join(name);
    if path.is_file() {
        let text = std::fs::read_to_string(&path).map_err(|source| AssetError::Read {
            path: path.clone(),
            source,
        })?;
        return Ok(Some(Asset {
            name: name.to_string(),
            origin: Origin::Home(path),
            text: Cow::Owned(text),
        }));
    }
    Ok(shipped(folder, name).map(|text| Asset {
        name: name.to_string(),
        origin: Origin::Shipped,
        text: Cow::Borrowed(text),
    }))
}

/// Names of the files in `folder` (top level), shipped and home, sorted, each once.
pub fn list(home: &Path, folder: Folder) -> Vec<String> {
    let mut names: Vec<String> = folder
        .shipped()
        .files()
        .filter_map(|f| f.path().file_name()?.to_str().map(str::to_string))
        .collect();
    if let Ok(entries) = std::fs::read_dir(home.join(folder.name())) {
        names.extend(
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().to_str().map(str::to_string)),
        );
    }
    names.sort();
    names.dedup();
    names
}

/// A relative path of plain names (`owner.md`, `imessage/send.applescript`): no
/// `..`, no root, so an override can never point outside its folder.
fn check_name(name: &str) -> Result<(), AssetError> {
    let mut parts = Path::new(name).components().peekable();
    if parts.peek().is_none() || !parts.all(|c| matches!(c, Component::Normal(_))) {
        return Err(AssetError::BadName(name.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_folder_ships_something() {
        for folder in Folder::ALL {
            assert!(
                folder.shipped().files().next().is_some(),
                "{} is empty",
                folder.name()
            );
        }
    }

    #[test]
    fn home_file_overrides_the_shipped_one() {
        let home = tempfile::tempdir().unwrap();
        let shipped_text = shipped(Folder::Profiles, "owner.example.md").unwrap();
        let asset = load(home.path(), Folder::Profiles, "owner.example.md")
            .unwrap()
            .unwrap();
        assert_eq!(asset.origin, Origin::Shipped);
        assert_eq!(asset.text, shipped_text);

        std::fs::create_dir(home.path().join("profiles")).unwrap();
        let mine = home.path().join("profiles/owner.example.md");
        std::fs::write(&mine, "# Me\n").unwrap();
        std::fs::write(home.path().join("profiles/extra.md"), "x").unwrap();
        let asset = load(home.path(), Folder::Profiles, "owner.example.md")
            .unwrap()
            .unwrap();
        assert_eq!(asset.origin, Origin::Home(mine));
        assert_eq!(asset.text, "# Me\n");
        let names = list(home.path(), Folder::Profiles);
        assert!(names.contains(&"owner.example.md".to_string()));
        assert!(names.contains(&"extra.md".to_string()));
        assert_eq!(names.iter().filter(|n| *n == "owner.example.md").count(), 1);
    }

    #[test]
    fn names_cannot_escape_the_folder() {
        let home = tempfile::tempdir().unwrap();
        for bad in ["../steward.yaml", "/etc/passwd", "a/../../b", ""] {
            assert!(
                matches!(
                    load(home.path(), Folder::Prompts, bad),
                    Err(AssetError::BadName(_))
                ),
                "{bad}"
            );
        }
        assert!(
            load(home.path(), Folder::Prompts, "nope.j2")
                .unwrap()
                .is_none()
        );
    }
}
