//! Layers point down (issue 13): a top-level module of `src/` may name only
//! modules below it in [`LAYERS`]. The test reads every `crate::…` path in the
//! code (comments and string literals skipped) and fails on an upward one,
//! naming the file and line, so a new circle cannot creep back in.
//!
//! The same order is written in ARCHITECTURE.md ("Layers"); the test checks
//! the two agree.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Lowest first. A module may import any module before it, never one after it.
const LAYERS: &[&str] = &[
    // Leaves: no crate imports.
    "clock",
    "fault",
    "assets",
    "prompts",
    "config",
    "canonical",
    "types",
    "store",
    "keys",
    "tls",
    "home",
    "receipt",
    "memory",
    // The owner's documents index: read by the pipeline's readDocuments effect.
    "documents",
    // What the pipeline reads: the owner's switches and the agents' specs.
    "owner_state",
    "spec",
    "llm",
    "runtime",
    "guards",
    "profile",
    "signals",
    "bridges",
    "pipeline",
    // Everything that acts does so through the pipeline. The owner's handle
    // first: the assistant asks the owner through it, and the commands start
    // assistant drafts ("1 draft").
    "owner",
    "assistant",
    "commands",
    "agents",
    "http",
    "service",
    "logging",
    "daemon",
    "cli",
];

/// An upward import the order allows, limited to the items named.
struct Exception {
    from: &'static str,
    to: &'static str,
    items: &'static [&'static str],
    why: &'static str,
}

const EXCEPTIONS: &[Exception] = &[Exception {
    from: "bridges",
    to: "pipeline",
    items: &["ConfirmedSend", "OwnerSend"],
    why: "a bridge's sends take these sealed values, and only the pipeline may make one \
              (invariant 2). Rust lets a constructor be private only to its module's \
              ancestors, so a type defined below the pipeline could be built anywhere in \
              the crate; the values stay in the pipeline and the bridges name them.",
}];

/// One `crate::module[::item]` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ref {
    line: usize,
    module: String,
    /// The first path segment after the module; `None` for the module itself
    /// (`use crate::{pipeline}` or `crate::pipeline;`).
    items: Vec<String>,
}

#[test]
fn layers_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = top_level_modules(&src);
    let missing: Vec<_> = modules
        .iter()
        .filter(|m| !LAYERS.contains(&m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "src/ modules with no place in LAYERS (tests/layers.rs and ARCHITECTURE.md): {missing:?}"
    );
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);

    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for module in &modules {
        let from = rank(module).expect("checked above");
        for file in rust_files(&src, module) {
            let text = fs::read_to_string(&file).unwrap();
            for r in crate_refs(&text) {
                let Some(to) = rank(&r.module) else {
                    continue; // an item of the crate root, e.g. `crate::VERSION`
                };
                if to <= from {
                    continue;
                }
                let allowed = EXCEPTIONS.iter().enumerate().find(|(_, e)| {
                    e.from == module
                        && e.to == r.module
                        && !r.items.is_empty()
                        && r.items.iter().all(|i| e.items.contains(&i.as_str()))
                });
                match allowed {
                    Some((i, _)) => {
                        used.insert(i);
                    }
                    None => problems.push(format!(
                        "{}:{}: `{module}` imports `{}` ({}), which is above it in the layer order",
                        file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                            .unwrap_or(&file)
                            .display(),
                        r.line,
                        r.module,
                        if r.items.is_empty() {
                            format!("crate::{}", r.module)
                        } else {
                            format!("crate::{}::{}", r.module, r.items.join(", "))
                        },
                    )),
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "upward imports (move what is shared below both modules; see ARCHITECTURE.md, Layers):\n{}",
        problems.join("\n")
    );
    let stale: Vec<_> = EXCEPTIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, e)| format!("{} -> {}", e.from, e.to))
        .collect();
    assert!(
        stale.is_empty(),
        "exceptions no longer needed; delete them from tests/layers.rs and ARCHITECTURE.md: {stale:?}"
    );
    for e in EXCEPTIONS {
        assert!(!e.why.is_empty());
    }
}

#[test]
fn architecture_md_lists_the_same_order() {
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let marker = "<!-- layer order, lowest first; tests/layers.rs checks this line -->";
    let line = doc
        .lines()
        .skip_while(|l| l.trim() != marker)
        .nth(1)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md lost the line after {marker:?}"));
    let named: Vec<&str> = line.split('`').skip(1).step_by(2).collect();
    assert_eq!(
        named, LAYERS,
        "ARCHITECTURE.md's layer order differs from tests/layers.rs"
    );
}

/// The scanner itself: groups, nested paths, comments and strings.
#[test]
fn crate_refs_reads_paths_and_skips_comments_and_strings() {
    let text = r##"
use crate::{daemon, logging};
use crate::pipeline::{ConfirmedSend, OwnerSend};
// use crate::agents::spec;
/* crate::commands::state, /* nested */ still a comment */
let s = "crate::http::x // not code"; let t = r#"crate::cli"#;
let c = '"'; let q = '\''; let l: &'static str = crate::spec::SELF_CHAT_AGENT; crate::commands::views::brief(c);
pub(crate) fn f() {}
"##;
    let got: Vec<(usize, String, Vec<String>)> = crate_refs(text)
        .into_iter()
        .map(|r| (r.line, r.module, r.items))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            (2, "daemon".into(), vec![]),
            (2, "logging".into(), vec![]),
            (3, "pipeline".into(), s(&["ConfirmedSend", "OwnerSend"])),
            (7, "spec".into(), s(&["SELF_CHAT_AGENT"])),
            (7, "commands".into(), s(&["views"])),
        ]
    );
}

fn top_level_modules(src: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            if p.is_dir() {
                p.join("mod.rs")
                    .exists()
                    .then(|| p.file_name().unwrap().to_string_lossy().into_owned())
            } else if p.extension().is_some_and(|x| x == "rs") {
                Some(p.file_stem().unwrap().to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .filter(|m| m != "lib" && m != "main")
        .collect();
    out.sort();
    out.dedup();
    out
}

fn rust_files(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.exists() {
        out.push(file);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for p in entries.map(|e| e.unwrap().path()) {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every `crate::…` path in `text`, with comments and literals blanked first.
fn crate_refs(text: &str) -> Vec<Ref> {
    let code = blank_comments_and_literals(text);
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = code[at..].find("crate::") {
        let start = at + found;
        at = start + "crate::".len();
        // `$crate::` or `foo_crate::` is not this crate's root.
        if start > 0 && (is_ident(bytes[start - 1]) || bytes[start - 1] == b'$') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        if bytes.get(at) == Some(&b'{') {
            for module in group_heads(&code[at..]) {
                out.push(Ref {
                    line,
                    module,
                    items: Vec::new(),
                });
            }
            continue;
        }
        let module = ident_at(&code[at..]);
        let rest = &code[at + module.len()..];
        let items = match rest.strip_prefix("::") {
            Some(r) if r.starts_with('{') => group_heads(r),
            Some(r) => vec![ident_at(r)]
                .into_iter()
                .filter(|i| !i.is_empty())
                .collect(),
            None => Vec::new(),
        };
        out.push(Ref {
            line,
            module,
            items,
        });
    }
    out
}

/// The first segment of each top-level entry of `{a, b::c, d::{e}}`.
fn group_heads(text: &str) -> Vec<String> {
    let mut depth = 0;
    let mut heads = Vec::new();
    let mut expecting = true;
    for (i, ch) in text.char_indices() {
        match ch {
            '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expecting = true,
            c if depth == 1 && expecting && (c.is_ascii_alphanumeric() || c == '_') => {
                let head = ident_at(&text[i..]);
                if head != "self" {
                    heads.push(head);
                }
                expecting = false;
            }
            _ => {}
        }
    }
    heads
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn ident_at(text: &str) -> String {
    text.bytes()
        .take_while(|b| is_ident(*b))
        .map(char::from)
        .collect()
}

/// `text` with comments, strings and char literals replaced by spaces (newlines
/// kept, so line numbers hold).
fn blank_comments_and_literals(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            blank(&mut out, start, i);
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            blank(&mut out, start, i);
        } else if (b[i] == b'r' || b[i..].starts_with(b"br"))
            && (i == 0 || !is_ident(b[i - 1]))
            && raw_string_hashes(&b[i..]).is_some()
        {
            let prefix = if b[i] == b'b' { 2 } else { 1 };
            let hashes = raw_string_hashes(&b[i..]).unwrap();
            i += prefix + hashes + 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while i < b.len() && !b[i..].starts_with(&close) {
                i += 1;
            }
            i = (i + close.len()).min(b.len());
            blank(&mut out, start, i);
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            blank(&mut out, start, i);
        } else if b[i] == b'\'' {
            // A char literal ('a', '\n', '"'); otherwise a lifetime, left as is.
            let len = if b.get(i + 1) == Some(&b'\\') {
                // Past the escaped character, which may itself be a quote.
                b.get(i + 3..)
                    .and_then(|r| r.iter().position(|c| *c == b'\''))
                    .map(|p| p + 4)
            } else {
                let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            i += len.unwrap_or(1);
            if len.is_some() {
                blank(&mut out, start, i);
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out)
        .expect("spans start and end on ASCII delimiters, so whole characters were blanked")
}

/// `r"`, `r#"`, `br##"`…: the number of hashes, if a raw string starts here.
fn raw_string_hashes(b: &[u8]) -> Option<usize> {
    let rest = if b.starts_with(b"br") {
        &b[2..]
    } else {
        &b[1..]
    };
    let hashes = rest.iter().take_while(|c| **c == b'#').count();
    (rest.get(hashes) == Some(&b'"')).then_some(hashes)
}
