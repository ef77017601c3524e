//! The Steward home directory (`STEWARD_HOME`, `--home`, default `~/.steward`).
//!
//! Everything Steward owns lives here. The home is 0700 and every secret-bearing
//! file inside it is 0600 (invariant 9); `init` creates what is missing and never
//! replaces what exists, so running it twice changes nothing.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{assets, config, keys, store};

/// Mode of the home and of every directory inside it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every secret-bearing file.
pub const SECRET_MODE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot find your home directory: set HOME, or pass --home DIR / STEWARD_HOME")]
    NoUserHome,
    #[error("{path} exists and is not a directory; move it aside or pick another --home")]
    NotADirectory { path: PathBuf },
    #[error(
        "{path} is a symlink to {target}, which does not exist; create it (`mkdir -p -m 700 {target}`) or remove the link (`rm {path}`)"
    )]
    DanglingLink { path: PathBuf, target: PathBuf },
    #[error("cannot create {path}: {source}; check that the parent directory is writable by you")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot set the mode of {path}: {source}; run `chmod {mode:o} {path}`")]
    Chmod {
        path: PathBuf,
        mode: u32,
        source: io::Error,
    },
    /// Refused as ssh refuses a readable key: the fix is the owner's to run.
    #[error(
        "other users can reach {}; Steward will not start with its keys and messages exposed. Run: {}",
        describe_loose(.0), chmod_fix(.0)
    )]
    Loose(Vec<LoosePath>),
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// The paths of one Steward home. Cheap to clone; touches nothing on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// A home at `root`, made absolute against the current directory so that
    /// the pid file, the service files and status all name the same place.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()
                .map(|cwd| cwd.join(&root))
                .unwrap_or(root)
        };
        Home { root }
    }

    /// `--home`/`STEWARD_HOME` if given, else `~/.steward`.
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self, HomeError> {
        match explicit {
            Some(path) => Ok(Home::new(path)),
            None => Ok(Home::new(user_home()?.join(".steward"))),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("steward.yaml")
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join("steward.db")
    }
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }
    pub fn receipt_key_path(&self) -> PathBuf {
        self.keys_dir().join("receipt.ed25519")
    }
    pub fn api_token_path(&self) -> PathBuf {
        self.root.join("api-token")
    }
    pub fn pid_path(&self) -> PathBuf {
        self.root.join("steward.pid")
    }
    /// OCR'd text of the owner's images, one 0600 file per file version (issue 17).
    pub fn ocr_cache_dir(&self) -> PathBuf {
        self.root.join("ocr-cache")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn owner_profile_path(&self) -> PathBuf {
        self.root.join("profiles").join("owner.md")
    }

    /// Whether `init` has run here (the config and the database exist).
    pub fn is_initialised(&self) -> bool {
        self.config_path().is_file() && self.db_path().is_file()
    }

    /// The files that must be 0600, with the directories that must be 0700.
    /// `doctor` checks exactly these; later issues add theirs here.
    pub fn secret_paths(&self) -> Vec<PathBuf> {
        let db = self.db_path();
        vec![
            self.config_path(),
            db.clone(),
            with_suffix(&db, "-wal"),
            with_suffix(&db, "-shm"),
            self.receipt_key_path(),
            self.api_token_path(),
            self.pid_path(),
        ]
    }
    pub fn private_dirs(&self) -> Vec<PathBuf> {
        vec![self.root.clone(), self.keys_dir(), self.logs_dir()]
    }

    /// The home's directories and secrets whose mode lets group or others in
    /// (a tighter mode than ours is left alone). Missing paths are skipped.
    pub fn loose_paths(&self) -> Vec<LoosePath> {
        let dirs = self.private_dirs().into_iter().map(|p| (p, DIR_MODE));
        let files = self.secret_paths().into_iter().map(|p| (p, SECRET_MODE));
        dirs.chain(files)
            .filter_map(|(path, want)| {
                let mode = mode_of(&path)?;
                (mode & 0o077 != 0).then_some(LoosePath { path, mode, want })
            })
            .collect()
    }

    /// Refuse to run on a home others can reach, naming the chmod that fixes it.
    pub fn ensure_private(&self) -> Result<(), HomeError> {
        let loose = self.loose_paths();
        if loose.is_empty() {
            Ok(())
        } else {
            Err(HomeError::Loose(loose))
        }
    }

    /// Create whatever is missing; never replace what exists.
    pub fn init(&self) -> Result<InitReport, HomeError> {
        let mut report = InitReport {
            home: self.root.clone(),
            created: Vec::new(),
            kept: Vec::new(),
        };
        for dir in [
            self.root.clone(),
            self.keys_dir(),
            self.logs_dir(),
            self.root.join("profiles"),
        ] {
            let made = ensure_private_dir(&dir)?;
            report.note(dir, made);
        }

        let config = self.config_path();
        let made = write_new(&config, config::DEFAULT_YAML.as_bytes())?;
        report.note(config, made);

        let profile = self.owner_profile_path();
        let template = assets::shipped(assets::Folder::Profiles, "owner.example.md")
            .expect("profiles/owner.example.md ships in the binary");
        let made = write_new(&profile, template.as_bytes())?;
        report.note(profile, made);

        // A secret is generated only when its file is missing, and written
        // create-only: an existing key is never replaced.
        let path = self.receipt_key_path();
        let made = !path.exists() && write_new(&path, keys::new_receipt_key_text()?.as_bytes())?;
        report.note(path, made);
        let path = self.api_token_path();
        let made = !path.exists() && write_new(&path, keys::new_api_token_text()?.as_bytes())?;
        report.note(path, made);

        let db = self.db_path();
        let existed = db.exists();
        // Opening applies the migrations; on an existing database that is a no-op.
        let conn = store::open_writer(&db)?;
        let now = jiff::Timestamp::now().to_string();
        store::meta::set_once(&conn, store::meta::CREATED_AT, &now)
            .map_err(store::StoreError::from)?;
        drop(conn);
        report.note(db, !existed);
        Ok(report)
    }
}

/// A path in the home with group or other permission bits set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoosePath {
    pub path: PathBuf,
    pub mode: u32,
    pub want: u32,
}

fn describe_loose(paths: &[LoosePath]) -> String {
    paths
        .iter()
        .map(|l| format!("{} (mode {:o})", l.path.display(), l.mode))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one command line that fixes every loose path.
pub fn chmod_fix(paths: &[LoosePath]) -> String {
    paths
        .iter()
        .map(|l| format!("chmod {:o} {}", l.want, l.path.display()))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// What `init` did, for the CLI to print.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReport {
    pub home: PathBuf,
    pub created: Vec<PathBuf>,
    pub kept: Vec<PathBuf>,
}

impl InitReport {
    fn note(&mut self, path: PathBuf, created: bool) {
        if created {
            self.created.push(path);
        } else {
            self.kept.push(path);
        }
    }
}

/// The invoking user's home (`$HOME`).
pub fn user_home() -> Result<PathBuf, HomeError> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or(HomeError::NoUserHome)
}

/// Create `dir` (0700) if missing. An existing directory keeps its mode:
/// tightening it silently would hide a problem `doctor` should report.
pub fn ensure_private_dir(dir: &Path) -> Result<bool, HomeError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(false),
        Ok(_) => {
            return Err(HomeError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        Err(_) => {}
    }
    // metadata() follows links: a link to nowhere would otherwise reach
    // create() and fail with a bare "File exists".
    if let Ok(target) = fs::read_link(dir) {
        let target = dir.parent().map_or(target.clone(), |p| p.join(&target));
        return Err(HomeError::DanglingLink {
            path: dir.to_path_buf(),
            target,
        });
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true).mode(DIR_MODE);
    builder.create(dir).map_err(|source| HomeError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    // DirBuilder's mode is filtered by the umask; set it exactly.
    set_mode(dir, DIR_MODE)?;
    Ok(true)
}

/// Write `contents` to a new 0600 file at `path` unless one exists.
/// The file appears whole or not at all: it is written beside the target and
/// hard-linked into place, which fails rather than replaces if the target exists.
pub fn write_new(path: &Path, contents: &[u8]) -> Result<bool, HomeError> {
    if path.exists() {
        return Ok(false);
    }
    let create_err = |source| HomeError::Create {
        path: path.to_path_buf(),
        source,
    };
    let tmp = with_suffix(path, &format!(".tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(SECRET_MODE)
        .open(&tmp)
        .map_err(create_err)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(create_err)?;
    set_mode(&tmp, SECRET_MODE)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        // Someone (a concurrent init) won the race: theirs stays.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(create_err(e)),
    }
}

pub fn set_mode(path: &Path, mode: u32) -> Result<(), HomeError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| HomeError::Chmod {
        path: path.to_path_buf(),
        mode,
        source,
    })
}

/// The permission bits of `path`, or `None` if it does not exist.
pub fn mode_of(path: &Path) -> Option<u32> {
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_home_is_made_absolute() {
        let home = Home::new("some/where");
        assert!(home.root().is_absolute());
        assert!(home.root().ends_with("some/where"));
    }

    #[test]
    fn write_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(write_new(&path, b"one").unwrap());
        assert!(!write_new(&path, b"two").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(mode_of(&path), Some(SECRET_MODE));
        // No temporary file is left beside it.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn issue20_only_group_or_other_bits_make_a_path_loose() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        home.init().unwrap();
        // The binary runs under umask 077; this test process may not (the database).
        for l in home.loose_paths() {
            set_mode(&l.path, l.want).unwrap();
        }
        assert!(home.ensure_private().is_ok());
        // Tighter than ours is the owner's choice, not exposure.
        set_mode(&home.api_token_path(), 0o400).unwrap();
        assert!(home.loose_paths().is_empty());
        set_mode(&home.api_token_path(), 0o640).unwrap();
        set_mode(&home.keys_dir(), 0o710).unwrap();
        let loose = home.loose_paths();
        assert_eq!(
            loose
                .iter()
                .map(|l| (l.path.clone(), l.mode))
                .collect::<Vec<_>>(),
            vec![(home.keys_dir(), 0o710), (home.api_token_path(), 0o640)]
        );
        let err = home.ensure_private().unwrap_err().to_string();
        assert!(
            err.ends_with(&format!(
                "chmod 700 {} && chmod 600 {}",
                home.keys_dir().display(),
                home.api_token_path().display()
            )),
            "{err}"
        );
    }

    #[test]
    fn a_file_where_the_home_should_be_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home");
        fs::write(&path, "x").unwrap();
        let err = ensure_private_dir(&path).unwrap_err();
        assert!(matches!(err, HomeError::NotADirectory { .. }), "{err}");
    }
}
