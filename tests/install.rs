//! `steward install`: the launchd plist and the systemd unit, dry-run and real (Linux).

mod common;

use common::{TestHome, stdout};

fn exe() -> String {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_steward"))
        .unwrap()
        .display()
        .to_string()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn launchd_dry_run_is_a_valid_plist_with_the_required_keys() {
    let home = TestHome::new();
    let out = home.run(&["install", "--dry-run", "--platform", "launchd"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let value = plist::Value::from_reader_xml(out.stdout.as_slice()).expect("parses as a plist");
    let d = value.as_dictionary().unwrap();
    assert_eq!(d["Label"].as_string(), Some("dev.steward.daemon"));
    let args: Vec<&str> = d["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    let home_arg = home.path.display().to_string();
    assert_eq!(
        args,
        vec![exe().as_str(), "--home", home_arg.as_str(), "up"]
    );
    assert_eq!(d["RunAtLoad"].as_boolean(), Some(true));
    assert_eq!(d["KeepAlive"].as_boolean(), Some(true));
    assert_eq!(d["ThrottleInterval"].as_signed_integer(), Some(10));
    assert_eq!(d["ProcessType"].as_string(), Some("Standard"));
    let env = d["EnvironmentVariables"].as_dictionary().unwrap();
    assert!(env["PATH"].as_string().unwrap().contains("/usr/bin"));
    // Tesseract's OpenMP threads: one (libgomp reads it before main).
    assert_eq!(env["OMP_THREAD_LIMIT"].as_string(), Some("1"));
    let logs = home.user_home.join("Library/Logs/steward");
    for key in ["StandardOutPath", "StandardErrorPath"] {
        let path = std::path::PathBuf::from(d[key].as_string().unwrap());
        assert_eq!(path.parent(), Some(logs.as_path()), "{key}");
    }
}

#[test]
fn dry_run_touches_nothing() {
    let home = TestHome::new();
    for platform in ["launchd", "systemd"] {
        let out = home.run(&["install", "--dry-run", "--platform", platform]);
        assert!(out.status.success());
    }
    assert!(files_under(&home.user_home).is_empty());
    assert!(!home.path.exists());
}

#[test]
fn systemd_dry_run_is_a_unit_that_execs_steward_up() {
    let home = TestHome::new();
    let out = home.run(&["install", "--dry-run", "--platform", "systemd"]);
    assert!(out.status.success());
    let text = stdout(&out);
    // Parse the INI shape: [Section] headers and Key=Value lines only.
    let mut section = String::new();
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
        } else {
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not key=value: {line}"));
            entries.push((section.clone(), k.to_string(), v.to_string()));
        }
    }
    let get = |s: &str, k: &str| {
        entries
            .iter()
            .find(|(es, ek, _)| es == s && ek == k)
            .map(|(_, _, v)| v.as_str())
            .unwrap_or_else(|| panic!("missing [{s}] {k}"))
    };
    assert_eq!(
        get("Service", "ExecStart"),
        format!(
            "\"{}\" \"--home\" \"{}\" \"up\"",
            exe(),
            home.path.display()
        )
    );
    assert_eq!(get("Service", "Restart"), "always");
    let env: Vec<&str> = entries
        .iter()
        .filter(|(s, k, _)| s == "Service" && k == "Environment")
        .map(|(_, _, v)| v.as_str())
        .collect();
    assert!(env.iter().any(|v| v.starts_with("PATH=")), "{env:?}");
    assert!(env.contains(&"OMP_THREAD_LIMIT=1"), "{env:?}");
    assert_eq!(get("Install", "WantedBy"), "default.target");
}

#[cfg(target_os = "linux")]
#[test]
fn linux_install_writes_the_user_unit_and_uninstall_removes_it() {
    let home = TestHome::new();
    home.init_if_missing();
    let out = home.run(&["install"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(stdout(&out).contains("systemctl --user enable --now steward.service"));
    let unit = home.user_home.join(".config/systemd/user/steward.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(text.contains(&exe()));

    // What `systemctl --user enable` would have linked.
    let wants = home
        .user_home
        .join(".config/systemd/user/default.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink(&unit, wants.join("steward.service")).unwrap();

    let out = home.run(&["uninstall"]);
    assert!(out.status.success());
    assert!(!unit.exists());
    assert!(wants.join("steward.service").symlink_metadata().is_err());
    assert!(stdout(&out).contains("systemctl --user stop steward.service"));

    let out = home.run(&["uninstall"]);
    assert!(stdout(&out).contains("Nothing to uninstall"));
}

#[cfg(target_os = "linux")]
#[test]
fn installing_for_the_other_platform_is_refused() {
    let home = TestHome::new();
    home.init_if_missing();
    let out = home.run(&["install", "--platform", "launchd"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("--dry-run"));
    assert!(files_under(&home.user_home).is_empty());
}
