//! Telegram through the real daemon, against the local Bot API double: a
//! contact writes to the bot → the assistant drafts (a model double) → the
//! owner's chat gets the question with Send / Edit / Drop → a stranger's press
//! (whose user id is the owner's phone digits) is refused and audited → the
//! owner's Send press makes exactly one sendMessage and edits the question to
//! show it → a second press sends nothing → every receipt verifies. Then the
//! owner runs the day from Telegram (status, approvals, pause, kill switch,
//! brief), and webhook mode refuses a post with the wrong secret.

mod common;

use std::time::Duration;

use axum::Json;
use common::telegram::{BotApi, TOKEN, user};
use common::{Daemon, TestHome, wait_until};
use serde_json::{Value, json};

const OWNER: i64 = 111_000_111;
const ANN: i64 = 222;
/// The digits of the owner's phone number, as a Telegram user id.
const TWIN: i64 = 15_125_551_234;

async fn chat(Json(body): Json<Value>) -> Json<Value> {
    // A different answer for Sunday: the same text twice is held as a repeat.
    let content = if body.to_string().contains("sunday") {
        "sunday is fine"
    } else {
        "yes! 7pm works"
    };
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content } }],
        "usage": { "prompt_tokens": 80, "completion_tokens": 4 },
    }))
}

fn home(api: &BotApi, extra: &str) -> TestHome {
    let model = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)),
    );
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let token = home.user_home.join("bot-token");
    std::fs::write(&token, TOKEN).unwrap();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"+15125551234\"]\n  channels: [telegram, console]\n\
             quietHours: {{start: \"00:00\", end: \"00:00\"}}\n\
             bridges:\n  imessage:\n    enabled: false\n  telegram:\n    token: \"file:{}\"\n    ownerUserId: {OWNER}\n\
             \x20   apiUrl: \"{}\"\n    pollSeconds: 1\n    pacing: false\n{extra}\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{model}/v1\"}}\n  capabilities:\n    draft: [\"local/tiny\"]\n",
            token.display(),
            api.url,
        ),
    )
    .unwrap();
    home
}

/// The messages the bot sent to `chat`.
fn sent_to(api: &BotApi, chat: i64) -> Vec<Value> {
    api.bodies("sendMessage")
        .into_iter()
        .filter(|b| b["chat_id"] == chat)
        .collect()
}

fn wait(what: &str, d: &Daemon, ok: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(20), ok),
        "timed out waiting for {what}\n{}",
        d.log.lock().unwrap()
    );
}

fn db(home: &TestHome) -> rusqlite::Connection {
    steward::store::open_readonly(&home.file("steward.db")).unwrap()
}

#[test]
fn a_contact_message_becomes_one_send_after_the_owners_button() {
    let api = BotApi::start();
    let home = home(&api, "");
    let d = home.up();
    wait("the first poll", &d, || !api.offsets().is_empty());

    api.text(
        &user(ANN, "Ann", Some("Lee"), Some("annlee")),
        1,
        "are we still on for friday?",
    );
    let has_buttons = |b: &Value| b["reply_markup"]["inline_keyboard"].is_array();
    wait("the draft's question", &d, || {
        sent_to(&api, OWNER).iter().any(has_buttons)
    });
    let question = sent_to(&api, OWNER).into_iter().find(has_buttons).unwrap();
    let text = question["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "✍️ 1 · Ann Lee: \"are we still on for friday?\" → draft: \"yes! 7pm works\""
        ),
        "{text}"
    );
    let buttons = &question["reply_markup"]["inline_keyboard"][0];
    let labels: Vec<&str> = buttons
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Send", "Edit", "Drop"]);
    let send = buttons[0]["callback_data"].as_str().unwrap().to_string();
    let prompt = question["_messageId"].as_i64().unwrap();
    assert!(
        sent_to(&api, ANN).is_empty(),
        "nothing before the owner's yes"
    );

    // A stranger whose user id is the owner's phone digits presses Send.
    let twin = user(TWIN, "Priya", None, None);
    api.press(&twin, OWNER, prompt, &send);
    wait("the refusal", &d, || {
        api.bodies("answerCallbackQuery")
            .iter()
            .any(|b| b["text"] == "Only the owner can answer this.")
    });
    wait("the refused run", &d, || {
        db(&home)
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE status = 'refused' AND actor LIKE '%telegram:15125551234%'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            == 1
    });
    let audited: i64 = db(&home)
        .query_row(
            "SELECT COUNT(*) FROM audit a JOIN runs r ON r.id = a.run_id WHERE r.actor LIKE '%telegram:15125551234%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(audited >= 1, "the refusal is in the audit chain");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        sent_to(&api, ANN).is_empty(),
        "a stranger's press sends nothing"
    );

    // The owner presses Send: one sendMessage, and the question shows the outcome.
    let me = user(OWNER, "Priya", Some("Shah"), Some("priya"));
    api.press(&me, OWNER, prompt, &send);
    wait("the reply to Ann", &d, || sent_to(&api, ANN).len() == 1);
    assert_eq!(sent_to(&api, ANN)[0]["text"], "yes! 7pm works");
    let edited = |needle: &'static str| {
        let api = api.clone();
        move || {
            api.bodies("editMessageText").iter().any(|b| {
                b["chat_id"] == OWNER
                    && b["message_id"] == prompt
                    && b["text"].as_str().unwrap_or_default().contains(needle)
            })
        }
    };
    wait("the question edited", &d, edited("✅ sent to Ann Lee."));

    // Pressing again is the same decision again: nothing more is sent.
    api.press(&me, OWNER, prompt, &send);
    wait("the second outcome", &d, edited("no longer waiting"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        sent_to(&api, ANN).len(),
        1,
        "exactly one sendMessage to Ann"
    );

    assert!(
        sent_to(&api, OWNER)
            .iter()
            .any(|b| b["text"]
                == "👋 Ann Lee (@annlee) wrote to your Telegram bot for the first time."),
        "the owner hears of a new contact"
    );

    edit_by_reply(&api, &d, &home, &me);
    approve_from_the_list(&api, &d, &me);

    let verify = home.run(&["receipts", "verify", "--json"]);
    assert!(verify.status.success(), "{}", common::stdout(&verify));

    run_the_day(&api, &d, &home, &me);
}

/// Edit: the bot asks for the new text; the owner's reply to it is the edit.
fn edit_by_reply(api: &BotApi, d: &Daemon, home: &TestHome, me: &Value) {
    let has_buttons = |b: &Value| b["reply_markup"]["inline_keyboard"].is_array();
    let ann = user(ANN, "Ann", Some("Lee"), Some("annlee"));
    api.text(&ann, 2, "and saturday?");
    let questions = || {
        sent_to(api, OWNER)
            .into_iter()
            .filter(has_buttons)
            .collect::<Vec<_>>()
    };
    wait("the second question", d, || questions().len() == 2);
    let second = questions()[1].clone();
    let edit = second["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(edit.starts_with("c:e:"), "{edit}");
    api.press(me, OWNER, second["_messageId"].as_i64().unwrap(), &edit);
    let asks_text = |b: &Value| b["reply_markup"]["force_reply"] == true;
    wait("the new-text question", d, || {
        sent_to(api, OWNER).iter().any(asks_text)
    });
    let ask = sent_to(api, OWNER).into_iter().find(asks_text).unwrap();
    // A person answers in seconds; the test waits until the question is remembered.
    wait("the question remembered", d, || {
        db(home)
            .query_row(
                "SELECT COUNT(*) FROM telegram_prompts WHERE kind = 'edit'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            == 1
    });
    api.reply(
        me,
        3,
        ask["_messageId"].as_i64().unwrap(),
        "saturday works too",
    );
    wait("the edited reply to Ann", d, || {
        sent_to(api, ANN).len() == 2
    });
    assert_eq!(sent_to(api, ANN)[1]["text"], "saturday works too");
}

/// `approvals` on Telegram: the list carries numbered buttons per draft, and
/// a press on one is the same one decision as the draft's own Send.
fn approve_from_the_list(api: &BotApi, d: &Daemon, me: &Value) {
    let has_buttons = |b: &Value| b["reply_markup"]["inline_keyboard"].is_array();
    let ann = user(ANN, "Ann", Some("Lee"), Some("annlee"));
    api.text(&ann, 4, "and sunday?");
    wait("the third question", d, || {
        sent_to(api, OWNER)
            .iter()
            .filter(|b| has_buttons(b))
            .count()
            == 3
    });
    let before = sent_to(api, OWNER).len();
    api.text(me, 5, "approvals");
    wait("the approvals list", d, || {
        sent_to(api, OWNER).len() > before
    });
    let list = sent_to(api, OWNER)[before].clone();
    assert!(
        list["text"].as_str().unwrap().contains("✍️ 1 · Ann Lee"),
        "{list}"
    );
    let rows = list["reply_markup"]["inline_keyboard"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "one row per pending draft: {list}");
    let labels: Vec<&str> = rows[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["1 Send", "1 Edit", "1 Drop"]);
    let send = rows[0][0]["callback_data"].as_str().unwrap().to_string();
    let id = list["_messageId"].as_i64().unwrap();
    api.press(me, OWNER, id, &send);
    wait("the reply to Ann from the list", d, || {
        sent_to(api, ANN).len() == 3
    });
    assert_eq!(sent_to(api, ANN)[2]["text"], "sunday is fine");
    api.press(me, OWNER, id, &send);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(sent_to(api, ANN).len(), 3, "a second press sends nothing");
}

/// A day run from Telegram: each command gets its reply in the owner's chat.
fn run_the_day(api: &BotApi, d: &Daemon, home: &TestHome, me: &Value) {
    let mut n = 10;
    for (line, want) in [
        ("/status", ""),
        ("approvals", ""),
        ("pause for 2h", "pause"),
        ("/kill_switch on", "kill switch"),
        ("kill switch off", "kill switch"),
        ("brief", ""),
    ] {
        let before = sent_to(api, OWNER).len();
        n += 1;
        api.text(me, n, line);
        wait(line, d, || sent_to(api, OWNER).len() > before);
        let reply = sent_to(api, OWNER)[before]["text"]
            .as_str()
            .unwrap()
            .to_lowercase();
        assert!(reply.contains(want), "{line}: {reply}");
        if line.contains("kill") {
            let on = steward::owner_state::kill_switch(&db(home)).unwrap();
            assert_eq!(on, line.ends_with("on"), "{line}: the switch follows");
        }
        if line == "pause for 2h" {
            let now = jiff::Timestamp::now().as_millisecond();
            let paused = steward::owner_state::global_pause(&db(home), now).unwrap();
            assert!(paused.is_some(), "paused from Telegram");
        }
    }
}

#[test]
fn webhook_mode_takes_posts_with_the_secret_only() {
    let api = BotApi::start();
    let home = home(
        &api,
        "    mode: webhook\n    webhookUrl: \"https://steward.example.com/v1/telegram/webhook\"\n    webhookSecret: \"env:TG_HOOK_SECRET\"\n",
    );
    let mut cmd = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    cmd.env("TG_HOOK_SECRET", "s3cret-hook");
    let d = common::start(cmd);
    wait("setWebhook", &d, || {
        api.bodies("setWebhook").iter().any(|b| {
            b["secret_token"] == "s3cret-hook"
                && b["url"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with("/v1/telegram/webhook")
        })
    });
    let update = json!({
        "update_id": 9001,
        "message": api.message(&user(ANN, "Ann", Some("Lee"), None), 5, "hello via webhook"),
    })
    .to_string();
    let post = |secret: &str| {
        steward::http::probe::post_with_headers(
            d.addr,
            "/v1/telegram/webhook",
            &[
                ("Content-Type", "application/json"),
                ("X-Telegram-Bot-Api-Secret-Token", secret),
            ],
            &update,
            Duration::from_secs(10),
        )
        .unwrap()
    };
    let stored = || -> i64 {
        db(&home)
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE channel = 'telegram' AND text = 'hello via webhook'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0)
    };
    let wrong = post("s3cret-hooK");
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(stored(), 0, "a wrong secret changes nothing");
    assert_eq!(post("").status, 401);
    let right = post("s3cret-hook");
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(stored(), 1);
    // Telegram posting the same update again changes nothing.
    assert_eq!(post("s3cret-hook").status, 200);
    assert_eq!(stored(), 1);
    assert!(api.offsets().is_empty(), "webhook mode never polls");
}

#[test]
fn doctor_asks_telegram_who_the_bot_is() {
    let api = BotApi::start();
    let home = home(&api, "");
    let report = common::json(&home.run(&["doctor", "--json"]));
    let checks = report["checks"].as_array().expect("checks");
    let c = checks
        .iter()
        .find(|c| c["name"] == "telegram")
        .expect("a telegram check");
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("@steward_test_bot"),
        "{c}"
    );
    assert_eq!(api.bodies("getMe").len(), 1, "a real round trip");
    std::fs::write(home.user_home.join("bot-token"), "wrong:token").unwrap();
    let report = common::json(&home.run(&["doctor", "--json"]));
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "telegram")
        .unwrap()
        .clone();
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["fix"].as_str().unwrap().contains("BotFather"), "{c}");
}

/// Killed after the reply to Ann went out but before its delivery line: the
/// restart finds every piece on the ledger, so the run is delivered, Ann has
/// one message, and nothing is sent again or reported uncertain.
#[test]
fn killed_after_the_reply_went_out_it_is_delivered_once() {
    let api = BotApi::start();
    let home = home(&api, "");
    let mut cmd = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    cmd.env("STEWARD_FAULT", "crash-after:telegram.sent.contact");
    let mut d = common::start(cmd);
    wait("the first poll", &d, || !api.offsets().is_empty());
    api.text(&user(ANN, "Ann", Some("Lee"), None), 1, "friday?");
    let has_buttons = |b: &Value| b["reply_markup"]["inline_keyboard"].is_array();
    wait("the draft's question", &d, || {
        sent_to(&api, OWNER).iter().any(has_buttons)
    });
    let question = sent_to(&api, OWNER).into_iter().find(has_buttons).unwrap();
    let send = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    let prompt = question["_messageId"].as_i64().unwrap();
    let me = user(OWNER, "Priya", None, None);
    api.press(&me, OWNER, prompt, &send);
    assert!(
        d.wait_for_exit(Duration::from_secs(20)).is_some(),
        "the daemon crashed after the send: {}",
        d.log.lock().unwrap()
    );
    assert_eq!(
        sent_to(&api, ANN).len(),
        1,
        "the reply went out before the crash"
    );

    let d = home.up();
    let settled = || {
        db(&home)
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE agent = 'telegram-assistant' AND status = 'succeeded' AND id IN
                 (SELECT run_id FROM confirmations WHERE status = 'approved')",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
            == 1
    };
    wait("the interrupted run settled as delivered", &d, settled);
    api.press(&me, OWNER, prompt, &send);
    wait("the second press answered", &d, || {
        api.bodies("answerCallbackQuery").len() >= 2
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(sent_to(&api, ANN).len(), 1, "never sent twice");
    let owner_lines: Vec<String> = sent_to(&api, OWNER)
        .iter()
        .map(|b| b["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        owner_lines.iter().all(|t| !t.contains("may or may not")),
        "every piece is on the ledger: nothing uncertain to report: {owner_lines:?}"
    );
    let verify = home.run(&["receipts", "verify", "--json"]);
    assert!(verify.status.success(), "{}", common::stdout(&verify));
}
