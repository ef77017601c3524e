//! Walking the roots. Every path is resolved before it is used: a symlink is
//! followed only when its real target is inside a root (an escape is refused
//! and counted), and a folder already visited is a loop, never walked twice.

use std::collections::HashSet;
use std::fs::Metadata;
use std::path::{Path, PathBuf};

use super::{Documents, Kind, Skip};

/// One thing the walk found.
#[derive(Debug)]
pub enum Found {
    /// A file of a known kind, by its real path.
    File {
        path: PathBuf,
        kind: Kind,
        meta: Metadata,
    },
    /// Something refused before reading (`path` is where it was found).
    Skipped { path: PathBuf, why: Skip },
}

/// Everything under the roots, in walk order.
pub fn walk(docs: &Documents) -> Vec<Found> {
    walk_from(docs, &docs.roots)
}

/// Everything under `starts` (real folders inside the roots: the roots, or a
/// folder the watcher saw appear), with the same checks as a full walk.
pub fn walk_from(docs: &Documents, starts: &[PathBuf]) -> Vec<Found> {
    let mut found = Vec::new();
    let mut visited: HashSet<PathBuf> = HashSet::new();
    for root in starts {
        if !visited.insert(root.clone()) {
            continue;
        }
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(_) => {
                    found.push(Found::Skipped {
                        path: dir,
                        why: Skip::Unreadable,
                    });
                    continue;
                }
            };
            for entry in entries.flatten() {
                let at = entry.path();
                match resolve(docs, &at) {
                    Resolved::Dir(real) => {
                        if visited.insert(real.clone()) {
                            stack.push(real);
                        } else if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                            found.push(Found::Skipped {
                                path: at,
                                why: Skip::SymlinkLoop,
                            });
                        }
                    }
                    Resolved::File(path, kind, meta) => {
                        found.push(Found::File { path, kind, meta })
                    }
                    Resolved::Skipped(why) => found.push(Found::Skipped { path: at, why }),
                    Resolved::Ignored => {}
                }
            }
        }
    }
    found
}

/// What one path is, once resolved.
pub enum Resolved {
    Dir(PathBuf),
    File(PathBuf, Kind, Metadata),
    Skipped(Skip),
    /// Excluded, of no known kind, or not a regular file: not counted.
    Ignored,
}

/// Resolve `at` (found under a root, or named by the watcher) to what may be read.
pub fn resolve(docs: &Documents, at: &Path) -> Resolved {
    let real = match std::fs::canonicalize(at) {
        Ok(r) => r,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Resolved::Skipped(Skip::SymlinkLoop);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling link, or gone since the folder was listed.
            return Resolved::Skipped(Skip::Vanished);
        }
        Err(_) => return Resolved::Skipped(Skip::Unreadable),
    };
    let Some(root) = docs.root_of(&real) else {
        return Resolved::Skipped(Skip::SymlinkEscape);
    };
    if docs.excluded(root, &real) {
        return Resolved::Ignored;
    }
    let meta = match std::fs::metadata(&real) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Resolved::Skipped(Skip::Vanished);
        }
        Err(_) => return Resolved::Skipped(Skip::Unreadable),
    };
    if meta.is_dir() {
        return Resolved::Dir(real);
    }
    if !meta.is_file() {
        return Resolved::Ignored;
    }
    match Kind::from_path(&real) {
        Some(kind) => Resolved::File(real, kind, meta),
        None => Resolved::Ignored,
    }
}
