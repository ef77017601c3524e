//! The WhatsApp Cloud API bridge against a local Graph API double
//! (`common/graph.rs`, the real JSON wire format) and Meta-shaped signed
//! webhooks: through the real daemon (verify handshake; signature good, bad and
//! missing; an oversized body; Ann's DM → draft in the owner's channel →
//! `1 send` → exactly one send → a status in the ledger → receipts verify),
//! and in-process through the pipeline (429 with Retry-After, 5xx retried,
//! 5xx to the end is uncertain and never repeated, a 4xx is not retried, the
//! 24-hour window refuses without trying).

mod common;

use std::path::Path;
use std::time::Duration;

use axum::Json;
use common::graph::{self, Graph};
use common::{TestHome, json, stderr, wait_until};
use serde_json::{Value, json};
use steward::bridges::whatsapp::cloud::{Webhook, outbound::WhatsappCloud, webhook::sign};
use steward::bridges::{Bridge, Bridges};
use steward::config::Config;
use steward::pipeline::{
    Actor, Decision, Effect, Pipeline, RunRequest, RunStatus, Settings, Trigger,
};
use steward::spec::{Roster, Usd};
use steward::store::Store;

const APP_SECRET: &str = "meta-app-secret";
const VERIFY: &str = "my-verify-token";
const ANN: &str = "15125551234";

/// Secret files and the `bridges.whatsapp` section pointing at `graph`.
fn whatsapp_yaml(dir: &Path, graph_url: &str) -> String {
    for (name, value) in [
        ("wa-token", graph::TOKEN),
        ("wa-app-secret", APP_SECRET),
        ("wa-verify", VERIFY),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, value).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    format!(
        "bridges:\n  imessage:\n    enabled: false\n  whatsapp:\n    mode: cloud\n    phoneNumberId: \"{}\"\n\
         \x20   token: \"file:{}\"\n    appSecret: \"file:{}\"\n    verifyToken: \"file:{}\"\n    apiUrl: \"{graph_url}\"\n",
        graph::PHONE_NUMBER_ID,
        dir.join("wa-token").display(),
        dir.join("wa-app-secret").display(),
        dir.join("wa-verify").display(),
    )
}

async fn chat(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "yes! 7pm works" } }],
        "usage": { "prompt_tokens": 80, "completion_tokens": 4 },
    }))
}

fn post(
    d: &common::Daemon,
    body: &str,
    signature: Option<&str>,
) -> steward::http::probe::ProbeResponse {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(s) = signature {
        headers.push(("X-Hub-Signature-256", s));
    }
    steward::http::probe::post_with_headers(
        d.addr,
        "/v1/whatsapp/webhook",
        &headers,
        body,
        Duration::from_secs(10),
    )
    .unwrap()
}

fn whatsapp_rows(home: &TestHome) -> i64 {
    let conn = steward::store::open_readonly(&home.file("steward.db")).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM messages WHERE channel = 'whatsapp'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn outbox(home: &TestHome) -> Vec<String> {
    steward::bridges::console::read_outbox(&home.file("console/outbox.jsonl"))
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.text)
        .collect()
}

/// A home whose WhatsApp bridge points at `graph`, with a model double for drafts.
fn home_for(graph: &Graph) -> TestHome {
    let model = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)),
    );
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\nquietHours: {{start: \"00:00\", end: \"00:00\"}}\n{}\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{model}/v1\"}}\n  capabilities:\n    draft: [\"local/tiny\"]\n",
            whatsapp_yaml(&home.user_home, &graph.url)
        ),
    )
    .unwrap();
    home
}

/// Ann's signed DM, then the draft's prompt in the owner's channel.
fn ann_writes_and_is_drafted(home: &TestHome, d: &common::Daemon) -> String {
    let now = jiff::Timestamp::now().as_second();
    let body = graph::inbound(
        ANN,
        "Ann Lee",
        "wamid.ann1",
        "are we still on for friday?",
        now,
    )
    .to_string();
    let r = post(
        d,
        &body,
        Some(&sign(APP_SECRET.as_bytes(), body.as_bytes())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        wait_until(Duration::from_secs(20), || outbox(home)
            .iter()
            .any(|t| t.starts_with("✍️"))),
        "a draft reached the owner: {:?}\n{}",
        outbox(home),
        d.log.lock().unwrap()
    );
    outbox(home)
        .into_iter()
        .find(|t| t.starts_with("✍️"))
        .unwrap()
}

#[test]
fn killed_after_the_graph_api_accepted_never_sends_twice_and_tells_the_owner() {
    let graph = Graph::start();
    let home = home_for(&graph);
    let mut cmd = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    cmd.env("STEWARD_FAULT", "crash-after:whatsapp.accepted");
    let mut d = common::start(cmd);
    ann_writes_and_is_drafted(&home, &d);
    let _ = home.run(&["say", "1 send", "--json"]);
    assert!(
        d.wait_for_exit(Duration::from_secs(20)).is_some(),
        "the daemon crashed after the send"
    );
    assert_eq!(graph.accepted().len(), 1);
    let d = home.up();
    assert!(
        wait_until(Duration::from_secs(20), || outbox(&home).iter().any(|t| t
            .starts_with("⚠️")
            && t.contains("may or may not have gone out"))),
        "the owner is told the send is uncertain: {:?}",
        outbox(&home)
    );
    assert_eq!(graph.accepted().len(), 1, "one send, not two");
    assert_eq!(graph.requests().len(), 1);
    // Meta's status for it names our step key: the intent is settled as delivered.
    let key = graph.accepted()[0]["biz_opaque_callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    let ledger = || steward::bridges::ledger::read(&home.file("whatsapp/sent.jsonl")).unwrap();
    assert!(
        ledger()
            .iter()
            .all(|l| l.state == steward::bridges::ledger::State::Intended),
        "{:?}",
        ledger()
    );
    let st = graph::status(
        "wamid.HBgLMTUxMjU1NTEyMzQVAgARGBI0001",
        "delivered",
        ANN,
        Some(&key),
    )
    .to_string();
    let r = post(&d, &st, Some(&sign(APP_SECRET.as_bytes(), st.as_bytes())));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        ledger().iter().any(|l| l.key == key
            && l.state == steward::bridges::ledger::State::Delivered
            && l.status.as_deref() == Some("delivered")),
        "{:?}",
        ledger()
    );
}

#[test]
fn a_whatsapp_dm_from_ann_becomes_one_send_after_1_send() {
    let graph = Graph::start();
    let home = home_for(&graph);
    let d = home.up();

    // Meta's handshake.
    let path = format!(
        "/v1/whatsapp/webhook?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444"
    );
    let ok = steward::http::probe::get(d.addr, &path, None, Duration::from_secs(5)).unwrap();
    assert_eq!((ok.status, ok.body.as_str()), (200, "1158201444"));
    let bad = steward::http::probe::get(
        d.addr,
        "/v1/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1",
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(bad.status, 403, "{}", bad.body);

    // Unsigned, wrongly signed and oversized deliveries store nothing.
    let now = jiff::Timestamp::now().as_second();
    let body = graph::inbound(
        ANN,
        "Ann Lee",
        "wamid.ann1",
        "are we still on for friday?",
        now,
    )
    .to_string();
    assert_eq!(post(&d, &body, None).status, 401);
    let forged = sign(b"not-the-secret", body.as_bytes());
    let r = post(&d, &body, Some(&forged));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("appSecret"), "{}", r.body);
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(300 * 1024));
    let r = post(&d, &big, Some(&sign(APP_SECRET.as_bytes(), big.as_bytes())));
    assert_eq!(r.status, 413, "{}", r.body);
    let junk = "{\"entry\": 5}";
    let r = post(
        &d,
        junk,
        Some(&sign(APP_SECRET.as_bytes(), junk.as_bytes())),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(whatsapp_rows(&home), 0);

    // Ann's signed DM: stored, drafted, and the owner asked.
    let r = post(
        &d,
        &body,
        Some(&sign(APP_SECRET.as_bytes(), body.as_bytes())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Meta delivers again when unsure; a repeat is the same message.
    let r = post(
        &d,
        &body,
        Some(&sign(APP_SECRET.as_bytes(), body.as_bytes())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(whatsapp_rows(&home), 1);
    assert!(
        wait_until(Duration::from_secs(20), || outbox(&home)
            .iter()
            .any(|t| t.starts_with("✍️"))),
        "a draft reached the owner: {:?}\n{}",
        outbox(&home),
        d.log.lock().unwrap()
    );
    let prompt = outbox(&home)
        .into_iter()
        .find(|t| t.starts_with("✍️"))
        .unwrap();
    assert!(
        prompt.contains("Ann Lee") && prompt.contains("yes! 7pm works"),
        "{prompt}"
    );
    assert!(
        graph.requests().is_empty(),
        "nothing is sent before the owner's yes"
    );
    // Ann is one person with her phone handle, as her iMessage would be.
    let ann = json(&home.run(&["person", "show", "+1 512 555 1234", "--json"]));
    assert_eq!(ann["name"], "Ann Lee", "{ann}");

    let out = home.run(&["say", "1 send", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["reply"],
        "✅ sent to Ann Lee.",
        "{}",
        d.log.lock().unwrap()
    );
    let sent = graph.accepted();
    assert_eq!(sent.len(), 1, "exactly one send: {sent:?}");
    assert_eq!(sent[0]["to"], ANN);
    assert_eq!(sent[0]["text"]["body"], "yes! 7pm works");
    let key = sent[0]["biz_opaque_callback_data"]
        .as_str()
        .unwrap()
        .to_string();

    // A second yes sends nothing more.
    let again = home.run(&["say", "1 send", "--json"]);
    assert!(again.status.success());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(graph.accepted().len(), 1, "{}", json(&again)["reply"]);

    // Meta's status comes back and lands in the ledger by the step key.
    let wamid = "wamid.HBgLMTUxMjU1NTEyMzQVAgARGBI0001";
    let st = graph::status(wamid, "read", ANN, Some(&key)).to_string();
    let r = post(&d, &st, Some(&sign(APP_SECRET.as_bytes(), st.as_bytes())));
    assert_eq!(r.status, 200, "{}", r.body);
    let ledger = steward::bridges::ledger::read(&home.file("whatsapp/sent.jsonl")).unwrap();
    assert!(
        ledger
            .iter()
            .any(|l| l.key == key && l.status.as_deref() == Some("read")),
        "{ledger:?}"
    );
    // A late `delivered` (statuses come out of order) never takes the read back.
    let late = graph::status(wamid, "delivered", ANN, Some(&key)).to_string();
    let r = post(
        &d,
        &late,
        Some(&sign(APP_SECRET.as_bytes(), late.as_bytes())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = steward::bridges::ledger::read(&home.file("whatsapp/sent.jsonl")).unwrap();
    assert_eq!(
        after, ledger,
        "nothing written for a status behind the line's"
    );

    let verify = home.run(&["receipts", "verify", "--json"]);
    assert!(verify.status.success(), "{}", common::stdout(&verify));
}

/// In-process: a store where Ann wrote `hours_ago`, and a pipeline whose only
/// bridge is the Cloud API pointed at `graph`.
struct Rig {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    pipeline: Pipeline,
}

async fn rig(graph: &Graph, hours_ago: i64) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let store = Store::open(&root.join("steward.db")).unwrap();
    let config: Config = serde_saphyr::from_str(&format!(
        "owner:\n  name: Priya\n{}",
        whatsapp_yaml(&root, &graph.url)
    ))
    .unwrap();
    let (bus, _) = tokio::sync::broadcast::channel(16);
    let hook = Webhook::new(&config, &root, store.clone(), bus)
        .unwrap()
        .unwrap();
    let at = jiff::Timestamp::now().as_second() - hours_ago * 3600;
    let body = graph::inbound(ANN, "Ann Lee", "wamid.ann1", "are we on?", at).to_string();
    let sig = sign(APP_SECRET.as_bytes(), body.as_bytes());
    let report = hook.deliver(body.as_bytes(), Some(&sig)).await.unwrap();
    assert_eq!(report.messages, 1);
    let bridge = WhatsappCloud::new(
        config.bridges.whatsapp.as_ref().unwrap().cloud().unwrap(),
        &root,
        store.clone(),
    );
    let pipeline = Pipeline::new(
        store,
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
        Roster::load(&root),
        Settings::from_config(&Config::default()),
        Bridges::new(vec![Bridge::Whatsapp(bridge)]),
    );
    Rig {
        _dir: dir,
        root,
        pipeline,
    }
}

/// A confirmed reply to Ann: the run after the owner's yes.
async fn reply(rig: &Rig, n: u32) -> steward::pipeline::RunOutcome {
    let out = rig
        .pipeline
        .run(RunRequest {
            agent: "whatsapp-assistant".into(),
            trigger: Trigger::Contact,
            actor: Actor::Handle {
                channel: "whatsapp".into(),
                handle: format!("+{ANN}"),
            },
            input: "are we on?".into(),
            dedup_key: Some(format!("wa-test:{n}")),
            plan: vec![Effect::Reply {
                channel: "whatsapp".into(),
                to: format!("+{ANN}"),
                // A different text each time: the same one within minutes is held.
                text: format!("yes, 7pm ({n})"),
            }],
            forecast_usd: Usd(0),
        })
        .await
        .unwrap();
    assert_eq!(out.status, RunStatus::Waiting, "{out:?}");
    rig.pipeline
        .decide(
            &out.confirmations[0],
            Decision::Approved,
            None,
            &Actor::Console,
        )
        .await
        .unwrap()
}

fn ledger(rig: &Rig) -> Vec<steward::bridges::ledger::Delivery> {
    steward::bridges::ledger::read(&rig.root.join("whatsapp/sent.jsonl")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after_and_sends_once() {
    let graph = Graph::start();
    let rig = rig(&graph, 1).await;
    graph.script(vec![(429, Some(1), graph::error(130429, "Rate limit hit"))]);
    let started = std::time::Instant::now();
    let done = reply(&rig, 1).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(graph.requests().len(), 2);
    assert_eq!(graph.accepted().len(), 1);
    assert!(
        ledger(&rig)
            .iter()
            .any(|l| l.id.is_some() && l.status.as_deref() == Some("accepted"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_retried_and_5xx_to_the_end_is_uncertain_and_never_repeated() {
    let graph = Graph::start();
    let rig = rig(&graph, 1).await;
    graph.script(vec![
        (
            503,
            Some(0),
            graph::error(2, "Service temporarily unavailable"),
        ),
        (500, None, graph::error(1, "An unknown error occurred")),
    ]);
    let done = reply(&rig, 1).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert_eq!((graph.requests().len(), graph.accepted().len()), (3, 1));

    let e = || (500, Some(0), graph::error(1, "An unknown error occurred"));
    graph.script(vec![e(), e(), e(), e()]);
    let done = reply(&rig, 2).await;
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    let reason = done.reason.unwrap_or_default();
    assert!(reason.contains("may or may not"), "{reason}");
    assert_eq!((graph.requests().len(), graph.accepted().len()), (7, 1));
    // Only the intent is on record, and a restart does not send it again.
    let lines = ledger(&rig);
    assert!(
        lines
            .iter()
            .any(|l| l.state == steward::bridges::ledger::State::Intended)
    );
    rig.pipeline.resume().await.unwrap();
    assert_eq!(graph.requests().len(), 7, "never sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_not_retried() {
    let graph = Graph::start();
    let rig = rig(&graph, 1).await;
    graph.script(vec![(
        400,
        None,
        graph::error(131026, "Message undeliverable"),
    )]);
    let done = reply(&rig, 1).await;
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    assert!(
        done.reason
            .unwrap_or_default()
            .contains("Message undeliverable")
    );
    assert_eq!(graph.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_24_hour_window_free_text_is_refused_and_never_attempted() {
    let graph = Graph::start();
    let rig = rig(&graph, 25).await;
    let done = reply(&rig, 1).await;
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    let reason = done.reason.unwrap_or_default();
    assert!(
        reason.contains("24 hours") && reason.contains("template"),
        "{reason}"
    );
    assert!(graph.requests().is_empty(), "never attempted");
    assert!(ledger(&rig).is_empty(), "no intent either");
}

#[test]
fn doctor_asks_the_graph_api_for_the_number() {
    let graph = Graph::start();
    let home = home_for(&graph);
    let check = |home: &TestHome| {
        let out = home.run(&["doctor", "--json"]);
        let report = json(&out);
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "whatsapp")
            .cloned()
            .unwrap_or_else(|| panic!("{report}"))
    };
    let c = check(&home);
    assert_eq!(c["status"], "ok", "{c}");
    assert!(c["detail"].to_string().contains("+1 555-078-3881"), "{c}");
    std::fs::write(home.user_home.join("wa-token"), "expired").unwrap();
    let c = check(&home);
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c.to_string().contains("Invalid OAuth access token"), "{c}");
}

#[test]
fn whatsapp_is_not_an_owner_channel_and_the_mode_is_cloud() {
    let path = Path::new("steward.yaml");
    let e = Config::parse("owner:\n  channels: [whatsapp, console]\n", path).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("steward.yaml:2") && msg.contains("24 hours"),
        "{msg}"
    );
    let linked = "bridges:\n  whatsapp:\n    mode: linked\n    phoneNumberId: \"1\"\n    token: env:T\n    appSecret: env:S\n    verifyToken: env:V\n";
    let msg = Config::parse(linked, path).unwrap_err().to_string();
    assert!(msg.contains("cloud"), "{msg}");
    // A token written inline is refused: secrets are references.
    let inline = linked
        .replace("linked", "cloud")
        .replace("env:T", "EAAG-secret-token");
    let msg = Config::parse(&inline, path).unwrap_err().to_string();
    assert!(msg.contains("reference") && !msg.contains("EAAG"), "{msg}");
    let ok = Config::parse(&linked.replace("linked", "cloud"), path).unwrap();
    let w = ok
        .bridges
        .whatsapp
        .clone()
        .unwrap()
        .cloud()
        .unwrap()
        .clone();
    assert_eq!(
        (w.api_url.as_str(), w.api_version.as_str()),
        ("https://graph.facebook.com", "v21.0")
    );
    assert!(
        ok.secret_refs()
            .iter()
            .any(|(k, _)| k == "bridges.whatsapp.appSecret")
    );
}
