//! The Telegram bridge against a local Bot API double (tests/common/telegram.rs,
//! the real JSON wire format on 127.0.0.1): getUpdates offsets across a
//! restart and a poll whose connection drops mid-answer (no update lost, none
//! handled twice), 429 `retry_after` honoured, long texts in 4,096-character
//! pieces cut at sentences, a stranger whose user id is the owner's phone
//! digits, and Telegram Desktop's export on a committed sample.

mod common;

use std::time::Duration;

use common::telegram::{BotApi, TOKEN, user};
use serde_json::Value;
use steward::bridges::telegram::api::Api;
use steward::bridges::telegram::ingest::TelegramIngest;
use steward::bridges::telegram::live::{self, Intake};
use steward::bridges::telegram::outbound::TelegramOutbound;
use steward::bridges::{Bridge, Bridges};
use steward::config::Config;
use steward::pipeline::{Actor, Decision, Effect, Pipeline, RunRequest, RunStatus, Trigger};
use steward::store::Store;
use steward::types::Inbound;
use tokio::sync::{broadcast, mpsc, watch};

const OWNER: i64 = 111_000_111;

fn config(api: &BotApi, token_file: &std::path::Path) -> Config {
    serde_saphyr::from_str(&format!(
        "owner:\n  name: Priya\n  handles: [\"+15125551234\"]\nbridges:\n  telegram:\n    token: \"file:{}\"\n    ownerUserId: {OWNER}\n    apiUrl: \"{}\"\n    pollSeconds: 1\n    pacing: false\n",
        token_file.display(),
        api.url
    ))
    .unwrap()
}

struct Reader {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    bus: broadcast::Receiver<Inbound>,
    console: mpsc::UnboundedReceiver<steward::bridges::telegram::ConsoleEvent>,
}

/// A reader over `store`, as the daemon starts it (a second call is a restart).
async fn reader(api: &BotApi, store: &Store) -> Reader {
    let ingest = store
        .write(|c| {
            Ok(TelegramIngest::new(
                c,
                steward::memory::Canonicalizer::new("US"),
                Some("Priya"),
                OWNER,
            )?)
        })
        .await
        .unwrap();
    let (bus, rx) = broadcast::channel(64);
    let (events, console) = mpsc::unbounded_channel();
    let intake = Intake::new(store.clone(), ingest, bus, events, false);
    let client = Api::new(TOKEN, &api.url, 1).unwrap();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(live::poll(client, intake, stopped));
    Reader {
        stop,
        task,
        bus: rx,
        console,
    }
}

async fn stop(r: Reader) {
    r.stop.send(true).unwrap();
    r.task.await.unwrap();
}

fn count(store: &Store, sql: &'static str) -> i64 {
    store
        .write_blocking(move |c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_update_is_lost_or_handled_twice_across_a_restart_and_a_dropped_poll() {
    let api = BotApi::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let ann = user(222, "Ann", Some("Lee"), Some("annlee"));
    let first = api.text(&ann, 1, "hi");
    api.text(&ann, 2, "are we on for friday?");

    let mut r = reader(&api, &store).await;
    let messages = "SELECT COUNT(*) FROM messages WHERE channel = 'telegram'";
    wait_for("two messages", || count(&store, messages) == 2).await;
    let a = r.bus.recv().await.unwrap();
    assert_eq!(a.handle.as_deref(), Some("telegram:222"));
    assert_eq!(
        (a.chat_kind.as_deref(), a.text.as_str()),
        (Some("direct"), "hi")
    );
    assert_eq!(r.bus.recv().await.unwrap().text, "are we on for friday?");
    stop(r).await;
    assert_eq!(
        api.offsets()[0],
        0,
        "the first start asks from the beginning"
    );

    // While stopped: one more message, and the next poll's line drops mid-answer.
    let third = api.text(&ann, 3, "hello?");
    api.drop_polls(1);
    let mut r = reader(&api, &store).await;
    wait_for("the third message", || count(&store, messages) == 3).await;
    let got = tokio::time::timeout(Duration::from_secs(5), r.bus.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.text, "hello?", "only the new message is published");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(r.bus.try_recv().is_err(), "nothing is published twice");
    stop(r).await;
    assert_eq!(api.drops_left(), 0, "a poll's line was dropped mid-answer");
    assert_eq!(count(&store, messages), 3, "each update stored once");
    let offsets = api.offsets();
    let restart = offsets.iter().position(|o| *o == third).unwrap();
    assert!(
        offsets[restart..].len() >= 2,
        "the dropped poll was asked again: {offsets:?}"
    );
    assert!(
        offsets.iter().all(|o| *o == 0 || *o >= first + 2),
        "after the first batch no poll goes back: {offsets:?}"
    );
    let stored: i64 = store
        .write_blocking(|c| {
            Ok(steward::memory::messages::get_cursor(c, "telegram.offset")?.unwrap())
        })
        .unwrap();
    assert_eq!(stored, third + 1);
    let ann_person = count(
        &store,
        "SELECT COUNT(*) FROM handles WHERE handle = 'telegram:222'",
    );
    assert_eq!(ann_person, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_id_is_the_owners_phone_digits_is_a_stranger() {
    let api = BotApi::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let twin = user(15_125_551_234, "Not", Some("Priya"), None);
    api.text(&twin, 1, "kill switch on");
    let mut r = reader(&api, &store).await;
    let m = tokio::time::timeout(Duration::from_secs(10), r.bus.recv())
        .await
        .unwrap()
        .unwrap();
    stop(r).await;
    assert!(!m.is_command && !m.from_me, "{m:?}");
    assert_eq!(m.handle.as_deref(), Some("telegram:15125551234"));
    let owners = steward::pipeline::gates::OwnerIdentities::new(
        &["+15125551234".into(), format!("telegram:{OWNER}")],
        "US",
    );
    let who = |handle: &str| {
        steward::pipeline::gates::identity(
            &Actor::Handle {
                channel: "telegram".into(),
                handle: handle.into(),
            },
            &owners,
        )
    };
    assert_eq!(
        who("telegram:15125551234"),
        steward::pipeline::gates::Identity::Contact
    );
    assert_eq!(
        who(&format!("telegram:{OWNER}")),
        steward::pipeline::gates::Identity::Owner
    );
    let owner_handle: String = store
        .write_blocking(|c| {
            Ok(c.query_row(
                "SELECT p.is_owner FROM handles h JOIN people p ON p.id = h.person_id WHERE h.handle = 'telegram:15125551234'",
                [],
                |r| r.get::<_, bool>(0).map(|b| b.to_string()),
            )?)
        })
        .unwrap();
    assert_eq!(owner_handle, "false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_from_someone_with_a_known_name_offers_a_merge_and_sends_nothing() {
    use steward::bridges::telegram::ConsoleEvent;
    let api = BotApi::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let known: String = store
        .write_blocking(|c| {
            let h = steward::memory::Canonicalizer::new("US").canonicalize("+15125550101");
            let id = steward::memory::people::resolve(c, &h, "imessage")?
                .person()
                .expect("not forgotten");
            c.execute("UPDATE people SET name = 'Ann Lee' WHERE id = ?1", [&id])?;
            Ok(id)
        })
        .unwrap();
    api.text(&user(222, "Ann", Some("Lee"), Some("annlee")), 1, "/start");
    let mut r = reader(&api, &store).await;
    let mut told = Vec::new();
    while told.len() < 2 {
        let e = tokio::time::timeout(Duration::from_secs(10), r.console.recv())
            .await
            .unwrap()
            .unwrap();
        if let ConsoleEvent::Tell(t) = e {
            told.push(t);
        }
    }
    stop(r).await;
    assert_eq!(
        told,
        [
            "🔗 Ann Lee (@annlee) on Telegram has the same name as Ann Lee in your memory. merge Ann Lee? yes/no",
            "👋 Ann Lee (@annlee) started a chat with your Telegram bot. Their messages will reach you as drafts to confirm.",
        ]
    );
    assert!(
        api.bodies("sendMessage").is_empty(),
        "/start gets no answer: nothing about the owner leaks"
    );
    let n = count(
        &store,
        "SELECT COUNT(*) FROM messages WHERE channel = 'telegram'",
    );
    assert_eq!(n, 0, "/start is not a message");
    let now = jiff::Timestamp::now().as_millisecond();
    let merged = store
        .write_blocking(move |c| Ok(steward::commands::teach::answer(c, true, now)?))
        .unwrap();
    assert_eq!(merged, "🔗 merged into Ann Lee.");
    let owner_of_handle: String = store
        .write_blocking(|c| {
            Ok(c.query_row(
                "SELECT person_id FROM handles WHERE handle = 'telegram:222'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(
        owner_of_handle, known,
        "the Telegram handle joined the known Ann"
    );
}

/// A pipeline whose only bridge is Telegram on the double.
fn pipeline(api: &BotApi, dir: &std::path::Path, store: &Store) -> Pipeline {
    let token = dir.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let cfg = config(api, &token);
    let bridge = TelegramOutbound::new(cfg.bridges.telegram.as_ref().unwrap(), dir, store.clone());
    Pipeline::new(
        store.clone(),
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
        steward::spec::Roster::load(dir),
        steward::pipeline::Settings::from_config(&cfg),
        Bridges::new(vec![Bridge::Telegram(bridge)]),
    )
}

async fn confirmed_reply(p: &Pipeline, text: &str) -> steward::pipeline::RunOutcome {
    let out = p
        .run(RunRequest {
            agent: "telegram-assistant".into(),
            trigger: Trigger::Contact,
            actor: Actor::Handle {
                channel: "telegram".into(),
                handle: "telegram:222".into(),
            },
            input: "hi".into(),
            dedup_key: None,
            plan: vec![Effect::Reply {
                channel: "telegram".into(),
                to: "222".into(),
                text: text.into(),
            }],
            forecast_usd: steward::spec::Usd(0),
        })
        .await
        .unwrap();
    assert_eq!(out.status, RunStatus::Waiting);
    p.decide(
        &out.confirmations[0],
        Decision::Approved,
        None,
        &Actor::Console,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_sent_once() {
    let api = BotApi::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let p = pipeline(&api, dir.path(), &store);
    api.flood(1);
    let started = std::time::Instant::now();
    let done = confirmed_reply(&p, "yes, 7pm").await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry_after was honoured"
    );
    let sends = api.bodies("sendMessage");
    assert_eq!(sends.len(), 2, "refused once, then accepted: {sends:?}");
    assert!(
        sends
            .iter()
            .all(|b| b["chat_id"] == 222 && b["text"] == "yes, 7pm")
    );
    let ledger = steward::bridges::ledger::read(&dir.path().join("telegram/sent.jsonl")).unwrap();
    let delivered: Vec<_> = ledger
        .iter()
        .filter(|d| d.key.ends_with(":1") && d.state == steward::bridges::ledger::State::Delivered)
        .collect();
    assert_eq!(
        delivered.len(),
        1,
        "one delivery line for the step: {ledger:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_reply_goes_in_pieces_cut_at_sentences() {
    let api = BotApi::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let p = pipeline(&api, dir.path(), &store);
    // The pipeline caps one send at 4,000 characters; 4,000 two-unit emoji
    // sentences are 8,000 UTF-16 units, over Telegram's 4,096.
    let sentence = "😀😀😀😀😀😀😀😀😀. ";
    let text = sentence
        .repeat(4000 / sentence.chars().count())
        .trim()
        .to_string();
    assert!(text.chars().count() <= 4000 && text.encode_utf16().count() > 4096);
    let done = confirmed_reply(&p, &text).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    let sends = api.bodies("sendMessage");
    assert!(sends.len() >= 2, "{}", sends.len());
    for s in &sends {
        let t = s["text"].as_str().unwrap();
        assert!(t.encode_utf16().count() <= 4096);
        assert!(
            t.ends_with('.'),
            "cut at a sentence end: …{:?}",
            &t[t.len() - 8..]
        );
    }
    let joined: Vec<String> = sends
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(joined.join(" "), text.trim());
}

#[test]
fn the_export_sample_imports_once_with_entities_flattened() {
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/telegram/result.json"
    );
    let out = home.run(&["import", "telegram", fixture, "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let v = common::json(&out);
    assert_eq!(
        (v["messages"].as_i64(), v["skipped"].as_i64()),
        (Some(8), Some(3)),
        "{v}"
    );
    assert_eq!(
        (v["people"].as_i64(), v["chats"].as_i64()),
        (Some(2), Some(3)),
        "{v}"
    );
    assert_eq!(v["alreadyKnown"], 0);
    assert!(v["seconds"].is_number());
    let again = common::json(&home.run(&["import", "telegram", fixture, "--json"]));
    assert_eq!(
        (again["messages"].as_i64(), again["alreadyKnown"].as_i64()),
        (Some(0), Some(8)),
        "{again}"
    );
    let db = steward::store::open_readonly(&home.file("steward.db")).unwrap();
    let row = |sql: &str| -> Value {
        db.query_row(sql, [], |r| {
            Ok(serde_json::json!([
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?
            ]))
        })
        .unwrap()
    };
    assert_eq!(
        row("SELECT text, handle FROM messages WHERE external_id = 'account:222000222:102'"),
        serde_json::json!([
            "are we still on for Friday? menu at this place",
            "telegram:222000222"
        ])
    );
    // The owner's line counts for Ann and is marked edited.
    assert_eq!(
        row(
            "SELECT m.text, p.name FROM messages m JOIN people p ON p.id = m.person_id WHERE m.external_id = 'account:222000222:103' AND m.edited = 1 AND m.direction = 'out'"
        ),
        serde_json::json!(["yes! 7pm works", "Ann Lee"])
    );
    assert_eq!(
        row(
            "SELECT p.name, h.handle FROM people p JOIN handles h ON h.person_id = p.id WHERE p.is_owner = 1 AND h.handle LIKE 'telegram:%'"
        ),
        serde_json::json!(["Priya Shah", "telegram:111000111"])
    );
    let bad = home.file("bad.json");
    std::fs::write(&bad, "{\"nope\": 1}").unwrap();
    let out = home.run(&["import", "telegram", bad.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("Telegram Desktop"),
        "{}",
        common::stderr(&out)
    );
}
