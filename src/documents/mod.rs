//! The owner's documents (issue 17): files under the configured roots, their
//! text extracted (plain text, Markdown, PDF text layers; images and scanned
//! pages through Tesseract with the `ocr` feature) and kept in SQLite FTS5.
//!
//! This module only indexes and looks things up. Reading documents *for an
//! answer* is the pipeline's `readDocuments` effect, so every read is gated to
//! the owner, journaled and audited; nothing above the pipeline calls
//! [`store::search`] directly except the owner's own CLI.
//!
//! `scan.rs` walks the roots (realpath-checked, symlink escapes and loops
//! refused), `extract.rs` turns one file into text, `ocr.rs` is Tesseract and
//! its cache, `store.rs` the SQL, `indexer.rs` a full or single-file pass,
//! `watch.rs` the daemon's file watcher.

pub mod extract;
pub mod glob;
pub mod indexer;
pub mod ocr;
pub mod scan;
pub mod store;
pub mod watch;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::DocumentsConfig;

/// What a file is, by its extension. Anything else under a root is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Text,
    Markdown,
    Pdf,
    Image,
}

impl Kind {
    pub fn from_path(path: &Path) -> Option<Kind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" | "text" | "csv" | "log" => Kind::Text,
            "md" | "markdown" => Kind::Markdown,
            "pdf" => Kind::Pdf,
            "png" | "jpg" | "jpeg" | "heic" | "tif" | "tiff" | "webp" => Kind::Image,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Markdown => "markdown",
            Kind::Pdf => "pdf",
            Kind::Image => "image",
        }
    }

    pub fn parse(s: &str) -> Kind {
        match s {
            "markdown" => Kind::Markdown,
            "pdf" => Kind::Pdf,
            "image" => Kind::Image,
            _ => Kind::Text,
        }
    }
}

/// Why a file was skipped; `docs index --json` counts these by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    TooLarge,
    Binary,
    Unreadable,
    Encrypted,
    Corrupt,
    /// Deleted (or replaced) between being found and being read.
    Vanished,
    /// A symlink whose target lies outside every root: never followed.
    SymlinkEscape,
    SymlinkLoop,
    /// Tesseract could not read an image or a scanned page.
    OcrFailed,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::TooLarge => "tooLarge",
            Skip::Binary => "binary",
            Skip::Unreadable => "unreadable",
            Skip::Encrypted => "encrypted",
            Skip::Corrupt => "corrupt",
            Skip::Vanished => "vanished",
            Skip::SymlinkEscape => "symlinkEscape",
            Skip::SymlinkLoop => "symlinkLoop",
            Skip::OcrFailed => "ocrFailed",
        }
    }

    /// What the owner can do about it, for the one log line per kind.
    pub fn hint(self) -> &'static str {
        match self {
            Skip::TooLarge => "raise documents.maxFileMb in steward.yaml to include such files",
            Skip::Binary => "the file is not text despite its name",
            Skip::Unreadable => "give your user read permission (chmod u+r) to include it",
            Skip::Encrypted => "save an unencrypted copy to include it",
            Skip::Corrupt => "the file is damaged; open and re-save it to include it",
            Skip::Vanished => "it was deleted or moved while being read; the next pass sees it",
            Skip::SymlinkEscape => {
                "it links outside documents.roots; add the target's folder to roots to include it"
            }
            Skip::SymlinkLoop => "a symlink leads back to itself; remove the loop",
            Skip::OcrFailed => "Tesseract could not read the image",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentsError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "nothing to search for in {query:?}: name what you are looking for, e.g. `steward docs search passport`"
    )]
    EmptyQuery { query: String },
    #[error(
        "{path} is not in the documents index: run `steward docs index` (and check that it lies under documents.roots in steward.yaml)"
    )]
    NotIndexed { path: PathBuf },
    #[error(
        "none of documents.roots exists ({roots}): add your documents folders to `documents: {{roots: [...]}}` in steward.yaml"
    )]
    NoRoots { roots: String },
    #[error("cannot watch {path}: {source}; the index is updated by `steward docs index` only")]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

/// The configured roots, resolved once, and what a pass may read.
#[derive(Debug, Clone)]
pub struct Documents {
    /// Canonical (symlink-free) roots that exist.
    pub roots: Vec<PathBuf>,
    /// Configured roots that do not exist (yet): skipped, and their rows kept.
    pub missing_roots: Vec<PathBuf>,
    pub exclude: Vec<glob::Glob>,
    pub max_bytes: u64,
    pub ocr: ocr::Ocr,
}

impl Documents {
    /// `user_home` expands `~`; `ocr_cache` is `<home>/ocr-cache`.
    pub fn new(cfg: &DocumentsConfig, user_home: &Path, ocr_cache: PathBuf) -> Documents {
        let (mut roots, mut missing_roots) = (Vec::new(), Vec::new());
        for root in cfg.root_paths(user_home) {
            match std::fs::canonicalize(&root) {
                Ok(real) if real.is_dir() => {
                    if !roots.contains(&real) {
                        roots.push(real);
                    }
                }
                _ => missing_roots.push(root),
            }
        }
        Documents {
            roots,
            missing_roots,
            exclude: cfg.exclude.iter().map(|g| glob::Glob::new(g)).collect(),
            max_bytes: cfg.max_file_bytes(),
            ocr: ocr::Ocr::new(ocr_cache),
        }
    }

    /// The root `real` (a canonical path) lies in, if any.
    pub fn root_of(&self, real: &Path) -> Option<&Path> {
        self.roots
            .iter()
            .find(|r| real.starts_with(r))
            .map(PathBuf::as_path)
    }

    /// Whether `real` (inside `root`) matches an exclude glob, itself or a parent.
    pub fn excluded(&self, root: &Path, real: &Path) -> bool {
        let Ok(rel) = real.strip_prefix(root) else {
            return false;
        };
        let mut prefix = PathBuf::new();
        rel.components().any(|c| {
            prefix.push(c);
            self.exclude.iter().any(|g| g.matches(&prefix))
        })
    }

    pub fn require_roots(&self) -> Result<(), DocumentsError> {
        if self.roots.is_empty() {
            let roots = self
                .missing_roots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(DocumentsError::NoRoots { roots });
        }
        Ok(())
    }
}
