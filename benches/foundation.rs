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
#[path = "foundation/start.rs"]
mod start;

use std::process::{Command, Stdio};
use std::time::Duration;

use footprint::{Footprint, mib};
use start::{median, spawn, start_and_stop, term_and_wait};
use steward::http::probe;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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
        let (r, s) = start_and_stop(&home);
        ready.push(r);
        stop.push(s);
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
