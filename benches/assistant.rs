//! Contact-assistant latency (release): from a row committed to a chat.db
//! fixture to the confirmation prompt handed to osascript, through the real
//! `steward up` (live reader, memory, probes, context, the draft run, guards,
//! the confirmation run and the self-chat run). The model is a local double
//! that answers at once; its round trip, measured alone, is subtracted.
//!
//! Also: a self-chat command through the local API, end to end.
//!
//! `cargo bench --bench assistant` (STEWARD_BENCH_DRAFTS, default 30). Prints a table.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Json;
use serde_json::{Value, json};

async fn chat(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "sounds fun, see you there" } }],
        "usage": { "prompt_tokens": 80, "completion_tokens": 6 },
    }))
}

fn calls(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".argv"))
                .count()
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n: usize = std::env::var("STEWARD_BENCH_DRAFTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let model = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)),
    );
    // The model's round trip alone, through the same client code.
    let model_ms = {
        let router = common::openai_router(&model, "draft", "tiny", 5);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let req = steward::llm::ChatRequest {
            messages: vec![steward::llm::Message {
                role: steward::llm::Role::User,
                content: "x".repeat(2000),
            }],
            max_tokens: 64,
            ..Default::default()
        };
        let times: Vec<f64> = (0..50)
            .map(|_| {
                let t = Instant::now();
                rt.block_on(router.chat("draft", &req)).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        median(times)
    };

    let home = common::TestHome::new();
    let mut s = fixtures::standard(&home.user_home);
    let dir = home.user_home.join("calls");
    std::fs::create_dir(&dir).unwrap();
    let osascript = common::osascript::fake(&dir);
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"+15125550000\"]\nquietHours: {{start: \"00:00\", end: \"00:00\"}}\n\
             bridges:\n  imessage:\n    enabled: true\n    chatDb: {}\n    contacts: [{}]\n    osascript: {}\n    pollSeconds: 1\n\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{model}/v1\"}}\n  capabilities:\n    draft: [\"local/tiny\"]\n\
             budget: {{maxCostUsdPerDay: 100}}\n",
            s.db.display(),
            s.contacts.display(),
            osascript.display()
        ),
    )
    .unwrap();
    let _d = home.up();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !home.run(&["person", "show", "Ann Lee"]).status.success() {
        assert!(Instant::now() < deadline, "the reader did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut totals = Vec::new();
    for i in 0..n {
        let before = calls(&dir);
        let text = format!("dinner plan number {i} still on?");
        let t = Instant::now();
        s.fixture.message(fixtures::Msg {
            text: Some(&text),
            handle: 1,
            unix: jiff::Timestamp::now().as_second(),
            chat: Some(s.ann_chat),
            ..fixtures::Msg::default()
        });
        while calls(&dir) == before {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no prompt for message {i}"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        totals.push(t.elapsed().as_secs_f64() * 1e3);
        // Drop it, so the list stays short and the contact is never paused.
        let _ = home.run(&["say", "1 no"]);
    }
    // A self-chat command through the API: parse, a `self-chat` run (journal,
    // audit entry, signed receipt) and the console delivery.
    let addr = _d.addr;
    let token = std::fs::read_to_string(home.file("api-token")).unwrap();
    let commands: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            let r = steward::http::probe::post_json(
                addr,
                "/v1/owner/messages",
                Some(token.trim()),
                r#"{"text":"status"}"#,
                Duration::from_secs(5),
            )
            .unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let less_model: Vec<f64> = totals.iter().map(|t| t - model_ms).collect();
    println!("| contact assistant ({n} messages) | median | p90 |");
    println!("|---|---|---|");
    println!(
        "| chat.db row → confirmation prompt at osascript | {:.1} ms | {:.1} ms |",
        median(totals.clone()),
        pct(totals.clone(), 0.9)
    );
    println!("| model round trip alone (local double) | {model_ms:.2} ms | |");
    println!(
        "| row → prompt, excluding the model call | {:.1} ms | {:.1} ms |",
        median(less_model.clone()),
        pct(less_model, 0.9)
    );
    println!(
        "| `POST /v1/owner/messages` \"status\" (200 runs, each with a receipt) | {:.2} ms | {:.2} ms |",
        median(commands.clone()),
        pct(commands, 0.9)
    );
}
