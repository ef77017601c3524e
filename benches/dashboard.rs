//! Dashboard render times (issue 16: each page server-rendered in < 10 ms with
//! 1M messages and 10k runs stored) and its size over the wire (< 100 KB for
//! HTML + CSS + htmx), against the release daemon.
//!
//! `cargo bench --bench dashboard` (STEWARD_BENCH_MESSAGES, default 1000000;
//! STEWARD_BENCH_RUNS, default 10000; STEWARD_BENCH_ITERS, default 30).
//! Messages and people are written straight into the store; runs go through
//! the daemon's API, so their journal, audit chain and receipts are real.
//! Prints a markdown table: median, p95 and max per page, and bytes.

#[path = "foundation/start.rs"]
#[allow(dead_code)] // this bench starts the daemon once and times pages, not starts
mod start;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use start::spawn;
use steward::http::probe;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn steward(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_steward"));
    cmd.arg("--home").arg(home).env("STEWARD_LOG", "warn");
    cmd
}

/// People, one chat each, and `total` messages spread over them.
fn seed_messages(db: &Path, total: usize) {
    let people = 2000.min(total.max(1));
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last_person})
         INSERT INTO people (id, name, name_source, is_owner, created_at)
           SELECT printf('p%05d', i), 'Person ' || i, 'manual', 0, '2026-01-01T00:00:00Z' FROM n;
         INSERT INTO handles (handle, person_id, source, first_seen)
           SELECT printf('phone:+1512555%04d', substr(id, 2) + 0), id, 'bench', created_at FROM people WHERE id LIKE 'p%';
         INSERT INTO chats (id, channel, external_id, kind, name)
           SELECT substr(id, 2) + 1, 'imessage', 'chat-' || id, 'direct', NULL FROM people WHERE id LIKE 'p%';
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last_message})
         INSERT INTO messages (channel, external_id, ext_key, chat_id, sender_id, person_id, handle,
                               direction, text, at, at_ms)
           SELECT 'imessage', 'g' || i, i, (i % {people}) + 1, printf('p%05d', i % {people}),
                  printf('p%05d', i % {people}), NULL, CASE i % 2 WHEN 0 THEN 'in' ELSE 'out' END,
                  'message number ' || i || ', about dinner plans and the weekend',
                  strftime('%Y-%m-%dT%H:%M:%SZ', 1700000000 + i * 30, 'unixepoch'),
                  (1700000000 + i * 30) * 1000
           FROM n;
         -- Written past ingest, so kept here as ingest keeps it (index_new).
         UPDATE people SET last_message_ms =
           (SELECT MAX(at_ms) FROM messages m WHERE m.person_id = people.id);
         COMMIT;",
        last_person = people - 1,
        last_message = total.saturating_sub(1),
    ))
    .unwrap();
}

/// `runs` runs through the API: no-ops across the roster (some refused by their
/// budgets, as a busy day would be), and a few drafts left waiting.
fn seed_runs(addr: SocketAddr, token: &str, runs: usize) -> String {
    const AGENTS: &[&str] = &[
        "concierge",
        "relationship-keeper",
        "financial-sentinel",
        "ai-radar",
        "household",
        "upskill",
        "garage",
        "focus-guardian",
    ];
    let t = Duration::from_secs(30);
    let mut last = String::new();
    for i in 0..runs {
        let body = if i % 500 == 0 {
            json!({"agent": "imessage-assistant",
                   "plan": [{"kind": "reply", "channel": "console", "to": "ann", "text": format!("draft {i}")}]})
        } else {
            json!({"agent": AGENTS[i % AGENTS.len()], "plan": [{"kind": "noop"}]})
        };
        let r = probe::post_json(addr, "/v1/runs", Some(token), &body.to_string(), t).unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        last = v["runId"].as_str().unwrap().to_string();
    }
    last
}

struct Row {
    page: String,
    median: Duration,
    p95: Duration,
    max: Duration,
    bytes: usize,
}

async fn time_page(
    http: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    path: &str,
    iters: usize,
) -> Row {
    let mut times = Vec::with_capacity(iters);
    let mut bytes = 0;
    for _ in 0..iters {
        let t = Instant::now();
        let resp = http
            .get(format!("{base}{path}"))
            .header(auth.0, auth.1)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        bytes = resp.bytes().await.unwrap().len();
        times.push(t.elapsed());
    }
    times.sort();
    Row {
        page: path.to_string(),
        median: times[times.len() / 2],
        p95: times[(times.len() * 95 / 100).min(times.len() - 1)],
        max: times[times.len() - 1],
        bytes,
    }
}

fn main() {
    let messages = env_num("STEWARD_BENCH_MESSAGES", 1_000_000);
    let runs = env_num("STEWARD_BENCH_RUNS", 10_000);
    let iters = env_num("STEWARD_BENCH_ITERS", 30);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(steward(&home).arg("init").status().unwrap().success());

    let t = Instant::now();
    seed_messages(&home.join("steward.db"), messages);
    eprintln!("seeded {messages} messages in {:.1?}", t.elapsed());
    let (mut child, addr) = spawn(&home);
    let token = std::fs::read_to_string(home.join("api-token"))
        .unwrap()
        .trim()
        .to_string();
    let t = Instant::now();
    let run_id = seed_runs(addr, &token, runs);
    eprintln!("seeded {runs} runs in {:.1?}", t.elapsed());

    let link = probe::post_json(
        addr,
        "/v1/dashboard/link",
        Some(&token),
        "{}",
        Duration::from_secs(5),
    )
    .unwrap();
    let path = serde_json::from_str::<Value>(&link.body).unwrap()["path"]
        .as_str()
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    let rows = rt.block_on(async {
        let http = steward::tls::http_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = http.get(format!("{base}{path}")).send().await.unwrap();
        let cookie = login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let mut rows = Vec::new();
        for page in [
            "/".to_string(),
            "/activity".into(),
            "/activity?agent=concierge&status=succeeded".into(),
            format!("/runs/{run_id}"),
            "/people".into(),
            "/people?q=Person+17".into(),
            "/people/p00042".into(),
            "/budgets".into(),
            "/agents".into(),
            "/channels".into(),
            "/audit".into(),
        ] {
            rows.push(time_page(&http, &base, ("cookie", &cookie), &page, iters).await);
        }
        let bearer = format!("Bearer {token}");
        rows.push(time_page(&http, &base, ("authorization", &bearer), "/metrics", iters).await);
        let assets = [
            "/assets/htmx.min.js",
            "/assets/dashboard.css",
            "/assets/live.js",
        ];
        let mut asset_bytes = 0;
        for a in assets {
            asset_bytes += http
                .get(format!("{base}{a}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .len();
        }
        (rows, asset_bytes)
    });
    start::term_and_wait(&mut child);

    let (rows, asset_bytes) = rows;
    println!("| page ({messages} messages, {runs} runs) | median | p95 | max | HTML bytes |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        let flag = if r.median > Duration::from_millis(10) {
            " ⚠ over 10 ms"
        } else {
            ""
        };
        println!(
            "| `{}` | {:.2} ms{flag} | {:.2} ms | {:.2} ms | {} |",
            r.page,
            r.median.as_secs_f64() * 1e3,
            r.p95.as_secs_f64() * 1e3,
            r.max.as_secs_f64() * 1e3,
            r.bytes
        );
    }
    let largest = rows.iter().map(|r| r.bytes).max().unwrap_or(0);
    println!(
        "\nassets (htmx + CSS + live.js): {asset_bytes} bytes; largest page + assets: {} bytes ({})",
        largest + asset_bytes,
        if largest + asset_bytes < 100 * 1024 {
            "under 100 KB"
        } else {
            "OVER 100 KB"
        }
    );
}
