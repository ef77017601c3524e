//! `steward init`: what it creates, with which modes, and that a second run changes nothing.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use common::{TestHome, json, mode};

/// Every file under the home with its contents and modification time.
fn snapshot(root: &std::path::Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.clone(), (bytes, meta.modified().unwrap(), mode(&path)));
            }
        }
    }
    out
}

#[test]
fn init_creates_the_home_with_private_modes() {
    let home = TestHome::new();
    let out = home.run(&["init", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let report = json(&out);
    assert!(report["kept"].as_array().unwrap().is_empty());

    assert_eq!(mode(&home.path), 0o700);
    assert_eq!(mode(&home.file("keys")), 0o700);
    for secret in [
        "steward.yaml",
        "steward.db",
        "keys/receipt.ed25519",
        "api-token",
    ] {
        assert_eq!(mode(&home.file(secret)), 0o600, "{secret}");
    }
    let seed = std::fs::read_to_string(home.file("keys/receipt.ed25519")).unwrap();
    assert_eq!(hex::decode(seed.trim()).unwrap().len(), 32);
    let token = std::fs::read_to_string(home.file("api-token")).unwrap();
    assert!(token.trim().len() >= 32);
    // The config written is the commented default, and it parses.
    let yaml = std::fs::read_to_string(home.file("steward.yaml")).unwrap();
    assert!(yaml.contains("listen: 127.0.0.1:7788"));
}

#[test]
fn second_init_changes_nothing_and_keeps_keys() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let before = snapshot(&home.path);
    let out = home.run(&["init", "--json"]);
    assert!(out.status.success());
    let report = json(&out);
    assert!(report["created"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(snapshot(&home.path), before);
}

#[test]
fn init_never_replaces_an_existing_key() {
    let home = TestHome::new();
    std::fs::create_dir_all(home.file("keys")).unwrap();
    let mine = format!("{}\n", "ab".repeat(32));
    std::fs::write(home.file("keys/receipt.ed25519"), &mine).unwrap();
    assert!(home.run(&["init"]).status.success());
    assert_eq!(
        std::fs::read_to_string(home.file("keys/receipt.ed25519")).unwrap(),
        mine
    );
}

#[test]
fn init_with_a_file_in_the_way_fails_clearly() {
    let home = TestHome::new();
    std::fs::write(&home.path, "not a directory").unwrap();
    let out = home.run(&["init"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("is not a directory"));
    assert_eq!(std::fs::read(&home.path).unwrap(), b"not a directory");
}

/// Issue 20 item 12: a home that is a symlink to nowhere is named as such
/// (not "File exists"), and the link is left alone.
#[test]
fn issue20_a_dangling_symlink_home_is_named_and_kept() {
    let home = TestHome::new();
    let target = home.user_home.join("gone/steward");
    std::os::unix::fs::symlink(&target, &home.path).unwrap();
    for args in [&["init"][..], &["up", "--listen", "127.0.0.1:0"][..]] {
        let out = home.run_for(args, std::time::Duration::from_secs(20));
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("File exists"), "{err}");
        assert!(err.contains("symlink"), "{err}");
        assert!(err.contains(&target.display().to_string()), "{err}");
        assert!(err.contains("mkdir"), "the fix: {err}");
    }
    assert_eq!(std::fs::read_link(&home.path).unwrap(), target);
    assert!(!target.exists());
}
