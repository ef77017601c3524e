//! iMessage figures (release): backfill speed and peak RSS over a generated
//! chat.db (400 handles, 60% of bodies only in attributedBody), live latency
//! from a committed row to the published `Inbound` (p50/p99 over 1,000 appends),
//! and `memory::context` latency on the filled store.
//!
//! `cargo bench --bench imessage` (STEWARD_BENCH_MESSAGES, default 1000000;
//! STEWARD_BENCH_APPENDS, default 1000). Prints a markdown table.

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

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

fn main() {
    let total = env_num("STEWARD_BENCH_MESSAGES", 1_000_000);
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

    // Backfill.
    let steward_db = dir.path().join("steward.db");
    let mut conn = steward::store::open_writer(&steward_db).unwrap();
    let rss_before = rss_peak_kib();
    let start = Instant::now();
    let chat_db = ChatDb::open(&db_path).unwrap();
    let owner = chat_db.owner_accounts().unwrap();
    let mut ingest = {
        let tx = conn.transaction().unwrap();
        let i = Ingest::new(&tx, Canonicalizer::new("US"), None, &owner, &[]).unwrap();
        tx.commit().unwrap();
        i
    };
    let counts = imessage::backfill(&mut conn, &chat_db, &mut ingest, |_, _| {}).unwrap();
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
}
