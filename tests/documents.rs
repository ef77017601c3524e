//! Issue 17: the owner's documents. Index, search, show and the bad inputs,
//! through the real binary on generated fixtures.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{TestHome, docfix, json, stderr, stdout};
use serde_json::Value;

/// A home whose default roots (`~/Documents`…) point into the test's `$HOME`.
fn home_with_docs() -> (TestHome, PathBuf) {
    let t = TestHome::new();
    t.init_if_missing();
    let docs = t.user_home.join("Documents");
    std::fs::create_dir_all(&docs).unwrap();
    (t, docs)
}

fn index(t: &TestHome) -> Value {
    let out = t.run(&["docs", "index", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out)
}

fn search(t: &TestHome, q: &str) -> Vec<Value> {
    let out = t.run(&["docs", "search", q, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out).as_array().unwrap().clone()
}

fn real(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn text_markdown_and_pdf_are_found_with_path_kind_snippet_score_and_time() {
    let (t, docs) = home_with_docs();
    write(
        &docs.join("ids/passport.txt"),
        "Passport number: X1234567\nIssued 2020-04-01\n",
    );
    write(
        &docs.join("home/lease.md"),
        "# Lease\n\nThe apartment lease ends on 31 May 2027.\n",
    );
    docfix::text_pdf(
        &docs.join("car/insurance.pdf"),
        &["Car insurance policy 77-ABC", "Renews on 1 March 2027"],
    );
    let report = index(&t);
    assert_eq!(report["indexed"], 3, "{report}");
    assert_eq!(report["seen"], 3, "{report}");
    assert_eq!(report["skipped"], serde_json::json!({}), "{report}");

    let hits = search(&t, "what's my passport number");
    assert_eq!(hits[0]["path"], real(&docs.join("ids/passport.txt")));
    assert_eq!(hits[0]["kind"], "text");
    assert!(
        hits[0]["snippet"].as_str().unwrap().contains("X1234567"),
        "{hits:?}"
    );
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    assert!(
        hits[0]["modifiedAt"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );

    let hits = search(&t, "find the lease");
    assert_eq!(hits[0]["path"], real(&docs.join("home/lease.md")));
    assert_eq!(hits[0]["kind"], "markdown");

    let hits = search(&t, "car insurance");
    assert_eq!(hits[0]["path"], real(&docs.join("car/insurance.pdf")));
    assert_eq!(hits[0]["kind"], "pdf");
    assert!(
        hits[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("1 March 2027"),
        "{hits:?}"
    );

    // show prints the extracted text; a relative or linked name finds the same file.
    let out = t.run(&[
        "docs",
        "show",
        docs.join("car/insurance.pdf").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Renews on 1 March 2027"),
        "{}",
        stdout(&out)
    );

    // --limit caps the hits.
    let out = t.run(&["docs", "search", "2027", "--json", "--limit", "1"]);
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
}

#[test]
fn a_changed_file_is_read_again_once_and_a_deleted_one_leaves_the_index() {
    let (t, docs) = home_with_docs();
    let note = docs.join("note.txt");
    write(&note, "the boiler code is 4411");
    write(&docs.join("other.txt"), "nothing here");
    assert_eq!(index(&t)["indexed"], 2);
    let again = index(&t);
    assert_eq!(
        (again["indexed"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2))
    );

    // A new size (and mtime): re-extracted once, then unchanged again.
    write(&note, "the boiler code is now 9902, changed in December");
    let changed = index(&t);
    assert_eq!(
        (changed["indexed"].as_u64(), changed["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(index(&t)["indexed"], 0);
    assert!(
        search(&t, "boiler")[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("9902")
    );

    std::fs::remove_file(&note).unwrap();
    let gone = index(&t);
    assert_eq!(gone["removed"], 1, "{gone}");
    assert!(search(&t, "boiler").is_empty());
}

#[test]
fn bad_files_are_skipped_and_counted_by_kind_and_nothing_escapes_a_root() {
    let (t, docs) = home_with_docs();
    write(&docs.join("good.txt"), "a readable note about the dentist");
    // A symlink out of the root: refused, and its target never indexed.
    let outside = t.user_home.join("private/secret.txt");
    write(&outside, "the outside secret 5550123");
    std::os::unix::fs::symlink(&outside, docs.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink(t.user_home.join("private"), docs.join("escape-dir")).unwrap();
    // A symlink loop (two links naming each other) and a folder link back up.
    std::os::unix::fs::symlink("loop-b.txt", docs.join("loop-a.txt")).unwrap();
    std::os::unix::fs::symlink("loop-a.txt", docs.join("loop-b.txt")).unwrap();
    std::fs::create_dir(docs.join("sub")).unwrap();
    std::os::unix::fs::symlink(&docs, docs.join("sub/up")).unwrap();
    // A 2 GB sparse file, a binary named .txt, an encrypted and a corrupt PDF.
    std::fs::File::create(docs.join("huge.txt"))
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    std::fs::write(
        docs.join("program.txt"),
        b"\x7fELF\x02\x01\x01\0\0\0\0binary",
    )
    .unwrap();
    docfix::encrypted_pdf(&docs.join("locked.pdf"), &["Locked bank statement"]);
    std::fs::write(
        docs.join("broken.pdf"),
        b"%PDF-1.7\n1 0 obj << /Type /Catalog",
    )
    .unwrap();
    // Excluded folders are not even counted.
    write(
        &docs.join("proj/node_modules/dep/readme.txt"),
        "dependency docs",
    );
    write(&docs.join("proj/.git/notes.txt"), "git internals");

    let report = index(&t);
    let skipped = &report["skipped"];
    assert_eq!(skipped["symlinkEscape"], 2, "{report}");
    assert_eq!(skipped["symlinkLoop"], 3, "{report}");
    assert_eq!(skipped["tooLarge"], 1, "{report}");
    assert_eq!(skipped["binary"], 1, "{report}");
    assert_eq!(skipped["encrypted"], 1, "{report}");
    assert_eq!(skipped["corrupt"], 1, "{report}");
    assert_eq!(report["indexed"], 1, "{report}");
    assert!(
        search(&t, "5550123").is_empty(),
        "the escaped file's text was indexed"
    );
    assert!(
        search(&t, "dependency").is_empty(),
        "node_modules was indexed"
    );
    assert!(search(&t, "bank statement").is_empty());
    assert_eq!(search(&t, "dentist").len(), 1);
}

#[test]
fn an_unreadable_file_is_skipped_as_unreadable() {
    let (t, docs) = home_with_docs();
    let p = docs.join("private.txt");
    write(&p, "unreadable contents");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&p).is_ok() {
        // root reads a 0000 file regardless of its mode: nothing to test here.
        eprintln!(
            "SKIPPED: running as root, a mode-0000 file is still readable; the unreadable case did not run"
        );
        return;
    }
    let report = index(&t);
    assert_eq!(report["skipped"]["unreadable"], 1, "{report}");
}

#[test]
fn images_without_ocr_are_listed_by_name_and_doctor_says_how_to_enable_ocr() {
    if cfg!(feature = "ocr") {
        return; // with OCR an image is read: tests/documents_ocr.rs
    }
    let (t, docs) = home_with_docs();
    std::fs::write(
        docs.join("passport-scan.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .unwrap();
    let report = index(&t);
    assert_eq!(
        (report["listed"].as_u64(), report["ocr"].as_bool()),
        (Some(1), Some(false))
    );
    let hits = search(&t, "passport");
    assert_eq!(hits[0]["kind"], "image");
    let out = t.run(&["doctor"]);
    assert!(stdout(&out).contains("--features ocr"), "{}", stdout(&out));
}

#[test]
fn bad_input_is_an_error_that_names_the_fix() {
    let (t, docs) = home_with_docs();
    write(&docs.join("a.txt"), "alpha");
    index(&t);
    // Nothing to search for.
    let out = t.run(&["docs", "search", "the", "--json"]);
    assert!(!out.status.success());
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("steward docs search passport"),
        "{err}"
    );
    // A file that is not indexed.
    let out = t.run(&["docs", "show", "/etc/hostname"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("steward docs index"),
        "{}",
        stderr(&out)
    );
    // A limit out of range is a usage error.
    let out = t.run(&["docs", "search", "alpha", "--limit", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // maxFileMb out of range: located, and nothing indexed.
    let config = t.file("steward.yaml");
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str("documents: {maxFileMb: 0}\n");
    std::fs::write(&config, yaml).unwrap();
    let out = t.run(&["docs", "index"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("documents.maxFileMb must be 1 to 2048"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_existing_root_is_an_error_that_says_which_key_to_edit() {
    let t = TestHome::new();
    t.init_if_missing();
    let out = t.run(&["docs", "index"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("documents: {roots:"),
        "{}",
        stderr(&out)
    );
}

/// The "done when": a fresh home with a folder of fixtures, `docs
/// index`, then `say "what's my passport number"` answers with the number and
/// the path, and the run's receipt lists the document read.
#[test]
fn say_whats_my_passport_number_answers_with_the_number_and_the_path() {
    let (t, docs) = home_with_docs();
    write(
        &docs.join("travel/passport.md"),
        "# Passport\n\nPassport number: K4455021\nExpires: 2033-08-19\n",
    );
    write(
        &docs.join("travel/visa.txt"),
        "Visa application reference VX-11\n",
    );
    docfix::text_pdf(
        &docs.join("car/insurance.pdf"),
        &["Car insurance renews on 1 March 2027"],
    );
    index(&t);
    let out = t.run(&["say", "what's my passport number", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = json(&out);
    let text = reply["reply"].as_str().unwrap();
    assert!(text.contains("K4455021"), "{text}");
    let path = real(&docs.join("travel/passport.md"));
    assert!(text.contains(&path), "{text}");
    let run = reply["runId"].as_str().unwrap();
    let out = t.run(&["receipts", "show", run, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let receipt = json(&out);
    let payload = if receipt["payload"].is_null() {
        &receipt
    } else {
        &receipt["payload"]
    };
    assert_eq!(payload["documentsRead"][0], path, "{receipt}");
    // The chain with the read in it verifies.
    let out = t.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `(subject, decision, agent, run input)` of every documents read audited.
fn audited_reads(t: &TestHome) -> Vec<(String, String, String, String)> {
    let db = rusqlite::Connection::open(t.file("steward.db")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT a.subject, a.decision, r.agent, r.input FROM audit a JOIN runs r ON r.id = a.run_id
             WHERE a.kind = 'documents.read' ORDER BY a.seq",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// `docs search` and `docs show` read through the pipeline, as the self-chat
/// does: each file named is in the audit chain with its run, in-process and
/// through a running daemon, and the chain verifies.
#[test]
fn docs_search_and_show_are_audited_with_the_file_and_the_run() {
    let (t, docs) = home_with_docs();
    write(
        &docs.join("ids/passport.txt"),
        "Passport number: X1234567\n",
    );
    index(&t);
    let path = real(&docs.join("ids/passport.txt"));
    assert!(audited_reads(&t).is_empty(), "indexing reads for no one");

    assert_eq!(search(&t, "passport")[0]["path"], path);
    let out = t.run(&["docs", "show", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("X1234567"), "{}", stdout(&out));
    let read = |input: &str| {
        (
            path.clone(),
            "read".to_string(),
            "documents".to_string(),
            input.to_string(),
        )
    };
    assert_eq!(
        audited_reads(&t),
        [
            read("docs search passport"),
            read(&format!("docs show {path}"))
        ]
    );

    // With the daemon up, through its API: the same record.
    let d = t.up();
    let out = t.run(&["docs", "show", &path, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["text"], "Passport number: X1234567\n");
    let out = t.run(&["docs", "search", "passport", "--json"]);
    assert_eq!(json(&out)[0]["path"], path, "{}", stderr(&out));
    // A path the index does not hold is refused with the fix, and recorded as asked.
    let out = t.run(&["docs", "show", "/etc/hostname"]);
    assert!(
        stderr(&out).contains("steward docs index"),
        "{}",
        stderr(&out)
    );
    let mut d = d;
    d.signal(libc::SIGTERM);
    d.wait_for_exit(std::time::Duration::from_secs(5)).unwrap();
    let all = audited_reads(&t);
    assert_eq!(all.len(), 5, "{all:?}");
    assert_eq!(
        (all[4].0.as_str(), all[4].1.as_str()),
        ("/etc/hostname", "not indexed")
    );
    let out = t.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
