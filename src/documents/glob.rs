//! The `documents.exclude` globs, matched against a path relative to its root.
//!
//! Small on purpose: `**` is any number of folders (none included), `*` any
//! part of one name, `?` one character. That covers `**/node_modules` and
//! `**/*.tmp` without another dependency.

use std::path::Path;

#[derive(Debug, Clone)]
pub struct Glob {
    parts: Vec<String>,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            parts: pattern
                .split('/')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// Does `rel` (relative to a root) match the whole pattern?
    pub fn matches(&self, rel: &Path) -> bool {
        let names: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        parts_match(&self.parts, &names)
    }
}

fn parts_match(parts: &[String], names: &[String]) -> bool {
    match parts.split_first() {
        None => names.is_empty(),
        Some((p, rest)) if p == "**" => {
            (0..=names.len()).any(|skip| parts_match(rest, &names[skip..]))
        }
        Some((p, rest)) => match names.split_first() {
            Some((n, more)) => name_match(p.as_bytes(), n.as_bytes()) && parts_match(rest, more),
            None => false,
        },
    }
}

/// `*` and `?` within one name.
fn name_match(p: &[u8], n: &[u8]) -> bool {
    match (p.first(), n.first()) {
        (None, None) => true,
        (Some(b'*'), _) => name_match(&p[1..], n) || (!n.is_empty() && name_match(p, &n[1..])),
        (Some(b'?'), Some(_)) => name_match(&p[1..], &n[1..]),
        (Some(a), Some(b)) if a == b => name_match(&p[1..], &n[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;
    use std::path::Path;

    #[test]
    fn globs_match_whole_relative_paths() {
        let g = Glob::new("**/node_modules");
        assert!(g.matches(Path::new("node_modules")));
        assert!(g.matches(Path::new("a/b/node_modules")));
        assert!(!g.matches(Path::new("a/node_modules_x")));
        let t = Glob::new("**/*.tmp");
        assert!(t.matches(Path::new("x/y.tmp")));
        assert!(!t.matches(Path::new("x/y.tmp.txt")));
        assert!(Glob::new("drafts/?.md").matches(Path::new("drafts/a.md")));
        assert!(!Glob::new("drafts/?.md").matches(Path::new("other/drafts/a.md")));
    }
}
