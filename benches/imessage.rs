//! iMessage figures (release): backfill speed and peak RSS over a generated
//! chat.db (400 handles, 60% of bodies only in attributedBody), live latency
//! from a committed row to the published `Inbound` (p50/p99 over 1,000 appends),
//! and `memory::context` latency on the filled store.
//!
//! `cargo bench --bench imessage` (STEWARD_BENCH_MESSAGES, default 1000000;
//! STEWARD_BENCH_APPENDS, default 1000). Prints a markdown table.
//!
//! Side by side (issue 19): with `IMESSAGE_EXPORTER` set to an imessage-exporter
//! binary, it also runs `steward import imessage` (the release binary, as a
//! user runs it) and `imessage-exporter -f txt -a macOS` on the same file,
//! alternating, `STEWARD_BENCH_RUNS` times each (default 3), and prints each
//! one's median wall time, peak RSS and the ratio. `STEWARD_BENCH_CHATDB=PATH`
//! keeps the generated chat.db there (and `--side-by-side-only` with an
//! existing file skips everything else; `--fixture-only` only builds it).

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;
#[path = "foundation/start.rs"]
mod start;

use std::time::{Duration, Instant};

use rusqlite::params;
use steward::bridges::imessage::{self, chatdb::ChatDb, ingest::Ingest, live, typedstream};
use steward::memory::{Canonicalizer, Caps, context};
use steward::store::Store;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

const WORDS: &[&str] = &[
    "dinner", "tonight", "are", "we", "still", "on", "for", "friday", "call", "me", "when", "you",
    "can", "running", "late", "see", "you", "at", "the", "crag", "bring", "rope", "thanks",
    "sounds", "good", "love", "that", "meeting", "moved", "to", "tomorrow", "🎉", "ok", "lol",
    "where", "are", "you", "parking", "deck", "tickets", "flight", "landed",
];

/// A GUID that looks like Messages' (random UUIDs, so index inserts are random too).
fn guid(i: usize) -> String {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = || {
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        x
    };
    let (a, b) = (next(), next());
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn text(i: usize) -> String {
    let n = 3 + (i * 7919) % 14;
    (0..n)
        .map(|k| WORDS[(i * 31 + k * 17) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wall time and peak RSS (KiB) of a child process, from wait4's rusage
/// (`Child::wait` cannot return it, so the child is reaped by wait4 itself).
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut std::process::Command) -> (Duration, u64) {
    // A file, not a pipe: a chatty child must never block on a full pipe.
    let err = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(err.reopen().unwrap())
        .spawn()
        .expect("start the child");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; both pointers are live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = started.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let said = std::fs::read_to_string(err.path()).unwrap_or_default();
        panic!("{cmd:?} failed ({status}): {said}");
    }
    (took, usage.ru_maxrss as u64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Tables and an index of Apple's schema that our fixture leaves out and
/// imessage-exporter reads (attachments, recoverable messages, replies; the
/// index keeps its per-message reply count from scanning the whole table).
const EXPORTER_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT,
    transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT,
    total_bytes INTEGER DEFAULT 0, is_sticker INTEGER DEFAULT 0, sticker_user_info BLOB, attribution_info BLOB,
    hide_attachment INTEGER DEFAULT 0, ck_sync_state INTEGER DEFAULT 0, ck_server_change_token_blob BLOB,
    ck_record_id TEXT, original_guid TEXT UNIQUE NOT NULL, emoji_image_content_identifier TEXT,
    emoji_image_short_description TEXT, preview_generation_state INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
    attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
CREATE TABLE IF NOT EXISTS chat_recoverable_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, delete_date INTEGER,
    ck_sync_state INTEGER DEFAULT 0, PRIMARY KEY (chat_id, message_id));
CREATE INDEX IF NOT EXISTS message_idx_thread_originator_guid ON message (thread_originator_guid);
";

/// `steward import imessage` and imessage-exporter on the same chat.db, alternating.
fn side_by_side(chat_db: &std::path::Path, exporter: &str, total: usize) {
    rusqlite::Connection::open(chat_db)
        .and_then(|c| c.execute_batch(EXPORTER_SCHEMA))
        .expect("add the tables imessage-exporter reads");
    let runs = env_num("STEWARD_BENCH_RUNS", 3).max(1);
    let steward = env!("CARGO_BIN_EXE_steward");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let home = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new(steward)
            .arg("--home")
            .arg(home.path())
            .arg("init")
            .output()
            .unwrap();
        assert!(ok.status.success(), "steward init failed");
        ours.push(run_measured(
            std::process::Command::new(steward)
                .arg("--home")
                .arg(home.path())
                .args(["import", "imessage", "--json", "--db"])
                .arg(chat_db),
        ));
        let out = tempfile::tempdir().unwrap();
        theirs.push(run_measured(
            std::process::Command::new(exporter)
                .args(["-f", "txt", "-a", "macOS", "-p"])
                .arg(chat_db)
                .arg("-o")
                .arg(out.path().join("export")),
        ));
    }
    let secs = |v: &[(Duration, u64)]| median(v.iter().map(|r| r.0.as_secs_f64()).collect());
    let rss = |v: &[(Duration, u64)]| v.iter().map(|r| r.1).max().unwrap_or(0) as f64 / 1024.0;
    let all = |v: &[(Duration, u64)]| {
        v.iter()
            .map(|r| format!("{:.1}", r.0.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| side by side, {total} messages, {runs} runs each | wall median (runs) | peak RSS |"
    );
    println!("|---|---|---|");
    println!(
        "| `steward import imessage` | {:.2} s ({}) | {:.0} MiB |",
        secs(&ours),
        all(&ours),
        rss(&ours)
    );
    println!(
        "| `imessage-exporter -f txt -a macOS` | {:.2} s ({}) | {:.0} MiB |",
        secs(&theirs),
        all(&theirs),
        rss(&theirs)
    );
    println!(
        "| ratio steward / exporter (target ≤ 1.0) | {:.2}× | |",
        secs(&ours) / secs(&theirs)
    );
    // Each run's pair ran back to back, so its ratio is less swayed by a
    // neighbour slowing the whole machine for a while (seen here: both tools
    // 25% slower for minutes).
    let paired = ours.iter().zip(&theirs);
    let ratios = paired.map(|(o, t)| o.0.as_secs_f64() / t.0.as_secs_f64());
    println!(
        "| ratio, median of each run's pair | {:.2}× | |",
        median(ratios.collect())
    );
    println!();
}

fn main() {
    let total = env_num("STEWARD_BENCH_MESSAGES", 1_000_000);
    let keep = std::env::var_os("STEWARD_BENCH_CHATDB").map(std::path::PathBuf::from);
    let exporter = std::env::var("IMESSAGE_EXPORTER").ok();
    if std::env::args().any(|a| a == "--side-by-side-only") {
        let db =
            keep.expect("--side-by-side-only needs STEWARD_BENCH_CHATDB=PATH of a kept chat.db");
        let exporter = exporter.expect("--side-by-side-only needs IMESSAGE_EXPORTER");
        side_by_side(&db, &exporter, total);
        return;
    }
    let appends = env_num("STEWARD_BENCH_APPENDS", 1000);
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("chat.db");

    // Build the fixture: 400 handles, a DM each, 20 groups, `total` messages.
    let build = Instant::now();
    let f = fixtures::ChatDbFixture::create(&db_path, true);
    let handles: Vec<i64> = (0..400)
        .map(|i| f.handle(&format!("+1512555{:04}", 1000 + i)))
        .collect();
    let me = f.handle("+15125550000");
    let dms: Vec<i64> = handles
        .iter()
        .enumerate()
        .map(|(i, h)| {
            f.chat(
                &format!("iMessage;-;+1512555{:04}", 1000 + i),
                45,
                None,
                &[*h],
            )
        })
        .collect();
    let groups: Vec<i64> = (0..20)
        .map(|g| {
            f.chat(
                &format!("any;+;{g:032x}"),
                43,
                Some("group"),
                &handles[g * 20..g * 20 + 5],
            )
        })
        .collect();
    let self_chat = f.chat("iMessage;-;+15125550000", 45, None, &[me]);
    {
        let tx = f.conn.unchecked_transaction().unwrap();
        let mut msg = tx
            .prepare("INSERT INTO message (guid, text, handle_id, attributedBody, service, account, date, is_from_me) VALUES (?1, ?2, ?3, ?4, 'iMessage', ?5, ?6, ?7)")
            .unwrap();
        let mut join = tx.prepare("INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (?1, ?2, ?3)").unwrap();
        let base = (1_700_000_000 - fixtures::APPLE_EPOCH) * 1_000_000_000;
        for i in 0..total {
            let h = i % 400;
            let from_me = i % 3 == 0;
            let body_only = i % 5 < 3;
            let t = text(i);
            let blob = typedstream::encode(&t, i % 2 == 0);
            let date = base + i as i64 * 1_000_000_000;
            msg.execute(params![
                guid(i),
                if body_only { None } else { Some(t.as_str()) },
                handles[h],
                blob,
                if from_me {
                    Some("p:+15125550000")
                } else {
                    None
                },
                date,
                from_me
            ])
            .unwrap();
            let id = tx.last_insert_rowid();
            let chat = if i % 10 == 9 { groups[h % 20] } else { dms[h] };
            join.execute(params![chat, id, date]).unwrap();
        }
        drop(msg);
        drop(join);
        tx.commit().unwrap();
    }
    let built = build.elapsed();
    if let Some(keep) = &keep {
        let _ = std::fs::remove_file(keep);
        f.conn
            .execute("VACUUM INTO ?1", [keep.to_string_lossy()])
            .expect("keep the chat.db at STEWARD_BENCH_CHATDB");
    }
    if std::env::args().any(|a| a == "--fixture-only") {
        return;
    }
    if let Some(exporter) = &exporter {
        f.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        side_by_side(&db_path, exporter, total);
    }

    // Backfill, into a home `steward init` made (its store carries the audit
    // chain's start, so the daemon below accepts it).
    let home = init_home(dir.path());
    let steward_db = home.join("steward.db");
    let mut conn = steward::store::open_writer(&steward_db).unwrap();
    let rss_before = rss_peak_kib();
    let start = Instant::now();
    let mut chat_db = ChatDb::open(&db_path).unwrap();
    let owner = chat_db.owner_accounts().unwrap();
    let mut ingest = {
        let tx = conn.transaction().unwrap();
        let i = Ingest::new(&tx, Canonicalizer::new("US"), None, &owner, &[]).unwrap();
        tx.commit().unwrap();
        i
    };
    let counts = imessage::backfill(&mut conn, &mut chat_db, &mut ingest, |_, _| {}).unwrap();
    let import = start.elapsed();
    let rss_peak = rss_peak_kib();
    assert_eq!(counts.messages as usize, total);
    drop(chat_db);

    // memory::context on the filled store: a person's DM thread plus an FTS query.
    let people: Vec<(String, i64)> = conn
        // Contacts, as the assistant asks for them (the owner is not a context subject).
        .prepare(
            "SELECT m.person_id, m.chat_id FROM messages m WHERE m.id % 997 = 0 AND m.chat_id IS NOT NULL
             AND m.person_id != (SELECT id FROM people WHERE is_owner = 1) LIMIT 1000",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Two passes: the first from a cold page cache, the second as a running daemon sees it.
    let mut cold_ms = Vec::new();
    let mut ctx_ms = Vec::new();
    for pass in 0..2 {
        for (person, chat) in &people {
            let t = Instant::now();
            let c = context(
                &conn,
                person,
                Some(*chat),
                Some("dinner tonight"),
                Caps::default(),
            )
            .unwrap();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if pass == 0 {
                cold_ms.push(ms)
            } else {
                ctx_ms.push(ms)
            }
            assert!(!c.thread.is_empty());
        }
    }
    drop(conn);

    // Live: append rows to the self-chat and time commit → Inbound.
    let store = Store::open(&steward_db).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (bus, mut rx) = tokio::sync::broadcast::channel(4096);
    let cfg = live::LiveConfig {
        chat_db: db_path.clone(),
        contacts: vec![],
        poll: Duration::from_secs(30),
        region: "US".into(),
        owner_name: None,
        owner_handles: vec![],
    };
    let handle = live::spawn(cfg, store.clone(), bus).unwrap();
    // Wait until the reader has taken its first cursor.
    loop {
        let ready = store
            .write_blocking(|c| Ok(steward::memory::messages::get_cursor(c, live::CURSOR)?))
            .unwrap();
        if ready.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut live_ms = Vec::new();
    let base = (1_800_000_000 - fixtures::APPLE_EPOCH) * 1_000_000_000;
    for i in 0..appends {
        let t0 = Instant::now();
        f.conn
            .execute(
                "INSERT INTO message (guid, text, handle_id, service, date, is_from_me) VALUES (?1, ?2, ?3, 'iMessage', ?4, 0)",
                params![format!("LIVE-{i:08}-0000-4000-8000-000000000000"), format!("live {i}"), handles[i % 400], base + i as i64],
            )
            .unwrap();
        let id = f.conn.last_insert_rowid();
        f.conn
            .execute(
                "INSERT INTO chat_message_join (chat_id, message_id) VALUES (?1, ?2)",
                params![dms[i % 400], id],
            )
            .unwrap();
        let got =
            rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), rx.recv()).await });
        live_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(got.expect("published").unwrap().text, format!("live {i}"));
        // Messages writes in bursts; space appends so each is its own wake-up.
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.stop();
    let _ = self_chat;
    // Every handle closed, so the daemon below is the store's only user.
    assert!(
        rt.block_on(store.close()),
        "the bench still holds the store"
    );
    let filled: Vec<f64> = (0..10).map(|_| start::start_and_stop(&home).0).collect();
    let (ready50, ready90) = start::median(filled);

    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| fixture: {total} messages built in | {:.1} s |",
        built.as_secs_f64()
    );
    println!(
        "| backfill messages/s | {:.0} |",
        total as f64 / import.as_secs_f64()
    );
    println!("| backfill wall time | {:.1} s |", import.as_secs_f64());
    println!(
        "| peak RSS during backfill (VmHWM; {:.0} MiB before) | {:.0} MiB |",
        rss_before as f64 / 1024.0,
        rss_peak as f64 / 1024.0
    );
    println!(
        "| live row → Inbound p50 / p99 ({appends} appends) | {:.1} ms / {:.1} ms |",
        pct(live_ms.clone(), 0.5),
        pct(live_ms, 0.99)
    );
    println!(
        "| memory::context p50 / p99, first pass ({} calls, {total}-message store) | {:.2} ms / {:.2} ms |",
        people.len(),
        pct(cold_ms.clone(), 0.5),
        pct(cold_ms, 0.99)
    );
    println!(
        "| memory::context p50 / p99, second pass | {:.2} ms / {:.2} ms |",
        pct(ctx_ms.clone(), 0.5),
        pct(ctx_ms, 0.99)
    );
    println!(
        "| `steward up` exec → /healthz 200 on the {total}-message store, median / p90 (10 starts) | {ready50:.1} ms / {ready90:.1} ms |"
    );
}

/// A new home from `steward init` (the start → `/healthz` row runs the release
/// daemon on it once the store is filled; its owner's phone handle is learned
/// from chat.db, as a user's is).
fn init_home(dir: &std::path::Path) -> std::path::PathBuf {
    let home = dir.join("home");
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
        .arg("--home")
        .arg(&home)
        .arg("init")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    home
}
