//! A stand-in for `osascript` that records each call's argv (NUL-separated) in
//! its own file, named by nanoseconds so two sends at once never share one.
//! The file is written under a temporary name and renamed into place: a shell
//! `>` creates it empty before `printf` fills it, and a test polling `calls`
//! in that window would read a call with no text and no target.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Write the stand-in into `dir`; returns its path for `bridges.imessage.osascript`.
pub fn fake(dir: &Path) -> PathBuf {
    let path = dir.join("osascript");
    let script = format!(
        "#!/bin/sh\nf={d}/call.$(date +%s%N).$$\nprintf '%s\\0' \"$@\" > \"$f.part\"\nmv \"$f.part\" \"$f.argv\"\ncat > /dev/null\nexit 0\n",
        d = dir.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Each call as (text, target), oldest first.
pub fn calls(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "argv"));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let argv = std::fs::read_to_string(p).unwrap_or_default();
            let parts: Vec<&str> = argv.split('\0').collect();
            (
                parts.get(1).unwrap_or(&"").to_string(),
                parts.get(2).unwrap_or(&"").to_string(),
            )
        })
        .collect()
}
