//! `cargo bench --bench telegram`: (1) update → `Inbound` on the bus, through
//! a long poll to a Bot API double on loopback, the SQLite transaction that
//! stores the message with its offset, and the publish: p50/p99 over
//! `STEWARD_BENCH_UPDATES` (default 1,000) updates sent one at a time;
//! (2) `import telegram` of a generated Telegram Desktop export
//! (`STEWARD_BENCH_TG_MESSAGES`, default 200,000 messages in 40 chats, a
//! third with entities, 1 in 20 a service line): messages/s.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::{Json, Router};
use serde_json::{Value, json};
use steward::bridges::telegram::{api::Api, export, ingest::TelegramIngest, live};
use steward::memory::Canonicalizer;
use tokio::sync::{Notify, broadcast, mpsc, watch};

const TOKEN: &str = "1:bench";

#[derive(Default)]
struct Double {
    pending: Mutex<Vec<Value>>,
    news: Notify,
}

/// getUpdates only: updates at or past the offset, waiting for news.
async fn updates(State(d): State<Arc<Double>>, Json(body): Json<Value>) -> Json<Value> {
    let offset = body["offset"].as_i64().unwrap_or(0);
    loop {
        let news = d.news.notified();
        let batch: Vec<Value> = {
            let mut p = d.pending.lock().unwrap();
            p.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            p.clone()
        };
        if !batch.is_empty() {
            return Json(json!({ "ok": true, "result": batch }));
        }
        if tokio::time::timeout(Duration::from_secs(5), news)
            .await
            .is_err()
        {
            return Json(json!({ "ok": true, "result": [] }));
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn update_latency(n: usize) -> (Duration, Duration, Duration) {
    let double = Arc::new(Double::default());
    let app = Router::new()
        .route(
            &format!("/bot{TOKEN}/{{method}}"),
            axum::routing::post(updates),
        )
        .with_state(double.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let store = steward::store::Store::open(&dir.path().join("steward.db")).unwrap();
    let ingest = store
        .write(|c| {
            Ok(TelegramIngest::new(
                c,
                Canonicalizer::new("US"),
                Some("Me"),
                1,
            )?)
        })
        .await
        .unwrap();
    let (bus, mut rx) = broadcast::channel(16);
    let (console, _keep) = mpsc::unbounded_channel();
    let intake = live::Intake::new(store, ingest, bus, console, false);
    let (_stop, stopped) = watch::channel(false);
    tokio::spawn(live::poll(
        Api::new(TOKEN, &url, 5).unwrap(),
        intake,
        stopped,
    ));
    let mut took = Vec::with_capacity(n);
    for i in 0..n as i64 {
        let from = json!({ "id": 1000 + i % 50, "is_bot": false, "first_name": "P" });
        let message = json!({
            "message_id": i + 1, "from": from,
            "chat": { "id": 1000 + i % 50, "type": "private", "first_name": "P" },
            "date": jiff::Timestamp::now().as_second(), "text": format!("message {i}"),
        });
        let started = Instant::now();
        double
            .pending
            .lock()
            .unwrap()
            .push(json!({ "update_id": 100 + i, "message": message }));
        double.news.notify_waiters();
        let got = rx.recv().await.unwrap();
        took.push(started.elapsed());
        assert_eq!(got.text, format!("message {i}"));
    }
    took.sort();
    (
        percentile(&took, 0.5),
        percentile(&took, 0.99),
        *took.last().unwrap(),
    )
}

fn write_export(path: &std::path::Path, n: usize) {
    let chats = 40;
    let mut list = Vec::new();
    for c in 0..chats {
        let other = 5000 + c as i64;
        let messages: Vec<Value> = (0..n / chats)
            .map(|i| {
                let id = i as i64 + 1;
                let date = (1_790_000_000 + i * 60).to_string();
                let from = if i % 2 == 0 { other } else { 1 };
                if i % 20 == 0 {
                    return json!({"id": id, "type": "service", "date_unixtime": date, "actor_id": format!("user{from}"), "action": "phone_call", "text": ""});
                }
                let text = if i % 3 == 0 {
                    json!(["see you at ", {"type": "bold", "text": "seven"}, " tonight, ", {"type": "link", "text": "https://example.com"}])
                } else {
                    json!(format!("message {i} in chat {c}: dinner friday? the usual place"))
                };
                json!({"id": id, "type": "message", "date_unixtime": date, "from": "P", "from_id": format!("user{from}"), "text": text})
            })
            .collect();
        list.push(json!({"name": format!("Person {c}"), "type": "personal_chat", "id": other, "messages": messages}));
    }
    let export = json!({
        "personal_information": {"user_id": 1, "first_name": "Me", "last_name": ""},
        "chats": {"list": list},
    });
    std::fs::write(path, serde_json::to_vec(&export).unwrap()).unwrap();
}

fn main() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (updates_n, messages_n) = (
        env("STEWARD_BENCH_UPDATES", 1000),
        env("STEWARD_BENCH_TG_MESSAGES", 200_000),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (p50, p99, max) = rt.block_on(update_latency(updates_n));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("result.json");
    write_export(&file, messages_n);
    let mb = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    let mut conn = steward::store::open_writer(&dir.path().join("steward.db")).unwrap();
    let started = Instant::now();
    let counts = export::import(
        &mut conn,
        &Canonicalizer::new("US"),
        None,
        None,
        &file,
        |_, _| {},
    )
    .unwrap();
    let took = started.elapsed();
    let read = counts.messages + counts.skipped;
    assert_eq!(read as usize, messages_n / 40 * 40, "{counts:?}");

    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| update → Inbound, {updates_n} updates one at a time (loopback long poll) | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    println!(
        "| export ({mb:.0} MB, {} messages + {} service lines) | {:.2} s |",
        counts.messages,
        counts.skipped,
        took.as_secs_f64()
    );
    println!(
        "| export messages/s (service lines included) | {:.0} |",
        read as f64 / took.as_secs_f64()
    );
}
