//! Pipeline throughput (release): governed no-op runs per second (admission,
//! gates, journal, audit chain and signed receipt, committed per run), and audit
//! verification entries per second over a 1,000,000-row chain.
//!
//! `cargo bench --bench pipeline` (STEWARD_BENCH_RUNS, default 20000;
//! STEWARD_BENCH_CHAIN, default 1000000). Prints a markdown table.

use std::path::Path;
use std::time::Instant;

use serde_json::json;
use steward::bridges::{Bridge, Bridges, console::ConsoleBridge};
use steward::config::Config;
use steward::pipeline::{Actor, Effect, Pipeline, RunRequest, RunStatus, Settings, Trigger, audit};
use steward::spec::{Roster, Usd};
use steward::store::Store;

const KEY: [u8; 32] = [1u8; 32];

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pipeline(dir: &Path) -> Pipeline {
    // Generous caps: this measures the pipeline, not refusals.
    let yaml = "budget:\n  maxCostUsdPerDay: 1000\n";
    let config = Config::parse(yaml, Path::new("steward.yaml")).unwrap();
    std::fs::create_dir_all(dir.join("agents")).unwrap();
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/agents/concierge.yaml"
    ))
    .unwrap()
    .replace("maxRunsPerDay: 64", "maxRunsPerDay: 10000000");
    std::fs::write(dir.join("agents/concierge.yaml"), spec).unwrap();
    let store = Store::open(&dir.join("steward.db")).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&KEY);
    let bridges = Bridges::new(vec![Bridge::Console(ConsoleBridge::new(dir))]);
    Pipeline::new(
        store,
        key,
        Roster::load(dir),
        Settings::from_config(&config),
        bridges,
    )
}

fn noop() -> RunRequest {
    RunRequest {
        agent: "concierge".into(),
        trigger: Trigger::Manual,
        actor: Actor::Console,
        input: "bench".into(),
        dedup_key: None,
        plan: vec![Effect::Noop],
        forecast_usd: Usd(0),
    }
}

fn main() {
    let runs = env_num("STEWARD_BENCH_RUNS", 20_000);
    let chain = env_num("STEWARD_BENCH_CHAIN", 1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Sequential: one caller, one run at a time.
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let seq = rt.block_on(async {
        let start = Instant::now();
        for _ in 0..runs {
            assert_eq!(p.run(noop()).await.unwrap().status, RunStatus::Succeeded);
        }
        start.elapsed()
    });

    // Boot with `runs` runs behind it: chain, anchored head, receipts since the
    // checkpoint (what `steward up` does); then the full check `doctor` does.
    let boot = rt.block_on(async {
        let fresh = pipeline(dir.path());
        let start = Instant::now();
        assert_eq!(fresh.check_integrity().await.unwrap(), None);
        start.elapsed()
    });
    let full = {
        let conn = steward::store::open_readonly(&dir.path().join("steward.db")).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&KEY);
        let head = steward::pipeline::anchor::path_for(&dir.path().join("steward.db"));
        let start = Instant::now();
        let fp = steward::keys::fingerprint(&key);
        let r =
            steward::pipeline::integrity::check(&conn, &key.verifying_key(), &fp, &head, Some(0));
        assert!(r.unwrap().is_ok());
        start.elapsed()
    };

    // Concurrent: 16 callers.
    let dir2 = tempfile::tempdir().unwrap();
    let p2 = pipeline(dir2.path());
    let conc = rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let p = p2.clone();
            let n = runs / 16;
            tasks.push(tokio::spawn(async move {
                for _ in 0..n {
                    assert_eq!(p.run(noop()).await.unwrap().status, RunStatus::Succeeded);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed()
    });

    // A 1M-row chain, built in one transaction, then verified.
    let dir3 = tempfile::tempdir().unwrap();
    let mut conn = steward::store::open_writer(&dir3.path().join("chain.db")).unwrap();
    let build = Instant::now();
    let tx = conn.transaction().unwrap();
    for i in 0..chain {
        let payload = json!({ "i": i });
        audit::append(
            &tx,
            &audit::Record {
                run_id: Some("run_bench"),
                kind: "gate",
                actor: "console",
                subject: "budget",
                decision: "allow",
                payload: &payload,
            },
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let built = build.elapsed();
    let verify = Instant::now();
    let report = audit::verify(&conn).unwrap();
    let verified = verify.elapsed();
    assert!(report.ok && report.entries as usize == chain);

    let rate = |n: usize, d: std::time::Duration| n as f64 / d.as_secs_f64();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| governed no-op runs/s, 1 caller ({runs} runs) | {:.0} |",
        rate(runs, seq)
    );
    println!(
        "| governed no-op runs/s, 16 callers ({} runs) | {:.0} |",
        runs / 16 * 16,
        rate(runs / 16 * 16, conc)
    );
    println!(
        "| boot integrity check after {runs} runs (chain + anchor + new receipts) | {:.1} ms |",
        boot.as_secs_f64() * 1000.0
    );
    println!(
        "| full check (doctor: every receipt and approval) after {runs} runs | {:.0} ms |",
        full.as_secs_f64() * 1000.0
    );
    println!(
        "| audit append entries/s (one transaction, {chain}) | {:.0} |",
        rate(chain, built)
    );
    println!(
        "| audit verify entries/s ({chain}-row chain) | {:.0} |",
        rate(chain, verified)
    );
}
