//! Foundation figures for the release binary: time from exec to /healthz
//! answering, time from SIGTERM to exit, and the RSS of an idle daemon; then
//! the same daemon with every bridge configured and connected (iMessage,
//! email, Telegram, WhatsApp against local servers: `foundation/all_bridges.rs`),
//! its exec → /healthz, and its private (anonymous) memory, USS, RSS and
//! threads after the idle time (issue 19's footprint budget: < 10 MB private).
//!
//! `cargo bench --bench foundation` (STEWARD_BENCH_RUNS, default 20;
//! STEWARD_BENCH_IDLE_SECS, default 60). Prints two markdown tables.

#[path = "foundation/all_bridges.rs"]
mod all_bridges;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/fixtures/mod.rs"]
mod fixtures;
#[path = "foundation/footprint.rs"]
mod footprint;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use footprint::{Footprint, mib};
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

fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p90 = v[(v.len() * 9 / 10).min(v.len() - 1)];
    (v[v.len() / 2], p90)
}

fn main() {
    let runs = env_num("STEWARD_BENCH_RUNS", 20);
    let idle = env_num("STEWARD_BENCH_IDLE_SECS", 60);
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
    let bare = Footprint::read(child.id());
    term_and_wait(&mut child);

    let (r50, r90) = median(ready);
    let (s50, s90) = median(stop);
    println!("| measure ({runs} runs) | median | p90 |");
    println!("|---|---|---|");
    println!("| exec → /healthz 200 | {r50:.1} ms | {r90:.1} ms |");
    println!("| SIGTERM → exit 0 | {s50:.1} ms | {s90:.1} ms |");
    println!("| idle RSS after {idle} s | {:.1} MiB | |", mib(bare.rss));
    // File-backed pages are the binary's own clean pages (shared, reclaimable).
    println!(
        "| of which anonymous / file-backed | {:.1} MiB / {:.1} MiB | |",
        mib(bare.anon),
        mib(bare.file)
    );

    let all = all_bridges::run(runs, Duration::from_secs(idle));
    print_all_bridges(&all, runs, idle);
}

/// The second table: the daemon with every bridge connected.
fn print_all_bridges(all: &all_bridges::Report, runs: u64, idle: u64) {
    let f = &all.idle;
    let (r50, r90) = median(all.ready_ms.clone());
    println!();
    println!(
        "| idle daemon, bridges connected: {} ({runs} starts) | value | |",
        all.connected.join(", ")
    );
    println!("|---|---|---|");
    for why in &all.left_out {
        println!("| **{why}** | | |");
    }
    println!("| exec → /healthz 200 | {r50:.1} ms median | {r90:.1} ms p90 |");
    println!(
        "| private (anonymous) memory after {idle} s: RssAnon (budget < 10 MB) | {:.1} MiB | smaps Anonymous {:.1} MiB |",
        mib(f.anon),
        mib(f.smaps_anon)
    );
    println!(
        "| USS: Private_Clean + Private_Dirty (smaps_rollup) | {:.1} MiB | of which dirty {:.1} MiB |",
        mib(f.uss),
        mib(f.private_dirty)
    );
    println!(
        "| total RSS (VmRSS) / file-backed (RssFile) | {:.1} MiB | {:.1} MiB |",
        mib(f.rss),
        mib(f.file)
    );
    println!(
        "| threads | {} | {} |",
        f.thread_count(),
        f.threads_by_name()
    );
}
