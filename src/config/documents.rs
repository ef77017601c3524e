//! The `documents:` section: which of the owner's folders Steward may read.
//!
//! Nothing outside `roots` is ever read: every path found is resolved
//! (symlinks followed) and must still lie inside a root.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, de::Error};

/// Largest `maxFileMb`: a bigger file is a disk image or a video, not a document.
pub const MAX_FILE_MB: u64 = 2048;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentsConfig {
    /// Folders read recursively; `~` is the user's home. Missing ones are skipped.
    pub roots: Vec<String>,
    /// Globs over paths inside a root (`**` any folders, `*` any name part).
    pub exclude: Vec<String>,
    /// Files larger than this are skipped (counted as `tooLarge`).
    #[serde(deserialize_with = "max_file_mb")]
    pub max_file_mb: u64,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        DocumentsConfig {
            roots: vec![
                "~/Documents".into(),
                "~/Desktop".into(),
                "~/Library/Mobile Documents/com~apple~CloudDocs".into(),
            ],
            exclude: vec!["**/node_modules".into(), "**/.git".into()],
            max_file_mb: 50,
        }
    }
}

impl DocumentsConfig {
    /// The roots with `~` expanded against `user_home` (the `HOME` variable).
    pub fn root_paths(&self, user_home: &Path) -> Vec<PathBuf> {
        self.roots
            .iter()
            .map(|r| match r.strip_prefix("~/") {
                Some(rest) => user_home.join(rest),
                None if r == "~" => user_home.to_path_buf(),
                None => PathBuf::from(r),
            })
            .collect()
    }

    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_mb * 1024 * 1024
    }
}

fn max_file_mb<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if !(1..=MAX_FILE_MB).contains(&v) {
        return Err(D::Error::custom(format!(
            "documents.maxFileMb must be 1 to {MAX_FILE_MB} megabytes, not {v}"
        )));
    }
    Ok(v)
}
