//! Foundation figures for the release binary: time from exec to /healthz
//! answering, time from SIGTERM to exit, and the RSS of an idle daemon.
//!
//! `cargo bench --bench foundation` (STEWARD_BENCH_RUNS, default 20;
//! STEWARD_BENCH_IDLE_SECS, default 30). Prints a markdown table.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use steward::http::probe;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spawn(home: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["--home"])
        .arg(home)
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("STEWARD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .expect("listening line")
        .trim()
        .parse()
        .unwrap();
    (child, addr)
}

fn term_and_wait(child: &mut Child) -> Duration {
    let start = Instant::now();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    start.elapsed()
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `RssAnon`, `RssFile`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p90 = v[(v.len() * 9 / 10).min(v.len() - 1)];
    (v[v.len() / 2], p90)
}

fn main() {
    let runs = env_num("STEWARD_BENCH_RUNS", 20);
    let idle = env_num("STEWARD_BENCH_IDLE_SECS", 30);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let ok = Command::new(env!("CARGO_BIN_EXE_steward"))
        .arg("--home")
        .arg(&home)
        .arg("init")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());

    let mut ready = Vec::new();
    let mut stop = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let (mut child, addr) = spawn(&home);
        loop {
            if probe::get(addr, "/healthz", None, Duration::from_secs(1))
                .is_ok_and(|r| r.status == 200)
            {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        ready.push(start.elapsed().as_secs_f64() * 1000.0);
        stop.push(term_and_wait(&mut child).as_secs_f64() * 1000.0);
    }

    let (mut child, addr) = spawn(&home);
    let _ = probe::get(addr, "/healthz", None, Duration::from_secs(1));
    std::thread::sleep(Duration::from_secs(idle));
    let rss = status_kib(child.id(), "VmRSS");
    let anon = status_kib(child.id(), "RssAnon");
    let file = status_kib(child.id(), "RssFile");
    term_and_wait(&mut child);

    let (r50, r90) = median(ready);
    let (s50, s90) = median(stop);
    println!("| measure ({runs} runs) | median | p90 |");
    println!("|---|---|---|");
    println!("| exec → /healthz 200 | {r50:.1} ms | {r90:.1} ms |");
    println!("| SIGTERM → exit 0 | {s50:.1} ms | {s90:.1} ms |");
    let mib = |k: u64| k as f64 / 1024.0;
    println!("| idle RSS after {idle} s | {:.1} MiB | |", mib(rss));
    // File-backed pages are the binary's own clean pages (shared, reclaimable).
    println!(
        "| of which anonymous / file-backed | {:.1} MiB / {:.1} MiB | |",
        mib(anon),
        mib(file)
    );
}
