//! README's "first ten minutes", run line by line on a fresh home (issue 18):
//! every `$` line between the walkthrough markers is run as written (the one
//! rewrite: `steward up &` starts the daemon in the background on a free
//! port), and every line under it must appear in what it printed, where `…`
//! stands for anything.

mod common;

use std::time::Duration;

use common::{Daemon, TestHome};

struct Step {
    command: String,
    expect: Vec<String>,
}

fn steps() -> Vec<Step> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("the start marker");
    let end = readme
        .find("<!-- walkthrough:end -->")
        .expect("the end marker");
    let mut steps: Vec<Step> = Vec::new();
    for line in readme[start..end].lines().skip(1) {
        let line = line.strip_prefix("    ").unwrap_or(line);
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_string(),
                expect: Vec::new(),
            });
        } else if !line.trim().is_empty() {
            steps
                .last_mut()
                .expect("output after a command")
                .expect
                .push(line.to_string());
        }
    }
    steps
}

/// `steward say "a b" c` → ["say", "a b", "c"] (only double quotes are used).
fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in cmd.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    assert_eq!(out.first().map(String::as_str), Some("steward"), "{cmd}");
    out.remove(0);
    out
}

/// Whether `line` shows up in `output`: its `…`-separated parts in order on one line.
fn shows(output: &str, line: &str) -> bool {
    let parts: Vec<&str> = line.trim().split('…').filter(|p| !p.is_empty()).collect();
    output.lines().any(|got| {
        let mut at = 0;
        parts.iter().all(|p| match got[at..].find(p) {
            Some(i) => {
                at += i + p.len();
                true
            }
            None => false,
        })
    })
}

#[test]
fn the_readme_first_ten_minutes_runs_as_written() {
    let home = TestHome::new();
    let steps = steps();
    assert!(steps.len() >= 8, "the walkthrough has its steps");
    let mut daemon: Option<Daemon> = None;
    for step in &steps {
        let output = if let Some(up) = step.command.strip_suffix(" &") {
            let mut args = words(up);
            args.extend(["--listen".into(), "127.0.0.1:0".into()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let d = common::start(home.cmd(&args));
            let lines = step.expect.len();
            common::wait_until(Duration::from_secs(5), || {
                d.stdout.lock().unwrap().lines().count() >= lines
            });
            let shown = d.stdout.lock().unwrap().clone();
            daemon = Some(d);
            shown
        } else {
            let args = words(&step.command);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = common::finish_within(&mut home.cmd(&args), Duration::from_secs(60));
            assert!(
                out.status.success(),
                "`{}` failed: {}{}",
                step.command,
                common::stdout(&out),
                common::stderr(&out)
            );
            common::stdout(&out)
        };
        for want in &step.expect {
            assert!(
                shows(&output, want),
                "`{}` did not print {want:?}; it printed:\n{output}",
                step.command
            );
        }
    }
    if let Some(mut d) = daemon {
        assert!(
            d.wait_for_exit(Duration::from_secs(10)).is_some(),
            "`steward stop` stopped the daemon"
        );
    }
}
