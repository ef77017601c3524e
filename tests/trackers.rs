//! The domain trackers on the real binary with a model double: garage reads
//! the mail its query matches (recent, any sender), keeps the model's
//! `{records, obligations}`, tells the owner of a new obligation once, makes it
//! a commitment, and shows it all in the `vehicle` view. Mail outside its query
//! or its window costs no model call; a second run reads nothing again; junk
//! from the model keeps nothing.

mod common;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

type Prompts = Arc<Mutex<Vec<String>>>;

async fn chat(State(prompts): State<Prompts>, Json(body): Json<Value>) -> Json<Value> {
    let prompt = body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let text = if prompt.contains("registration") {
        "{\"records\":[{\"title\":\"Registration notice received\",\"detail\":\"plate 7ABC123\"}],\
         \"obligations\":[{\"title\":\"Renew the car registration\",\"due\":\"2099-01-15\"}]}"
    } else {
        "Sure! Here is what I found: nothing."
    };
    prompts.lock().unwrap().push(prompt);
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text } }],
        "usage": { "prompt_tokens": 200, "completion_tokens": 40 },
    }))
}

fn mail(from: &str, subject: &str, date: &str, id: &str, body: &str) -> String {
    format!(
        "From MAILER-DAEMON Tue Dec  1 10:00:00 2026\nFrom: {from}\nTo: me@example.com\n\
         Subject: {subject}\nDate: {date}\nMessage-ID: <{id}>\n\n{body}\n\n"
    )
}

fn date(hours_ago: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours_ago))
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

fn rig() -> (common::TestHome, Prompts) {
    let prompts: Prompts = Arc::default();
    let url = common::lantern::serve_in_thread(
        axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(chat))
            .with_state(prompts.clone()),
    );
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"me@example.com\"]\n\
             quietHours: {{start: \"00:00\", end: \"00:00\"}}\n\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{url}/v1\"}}\n  capabilities:\n    fast: [\"local/m\"]\n"
        ),
    )
    .unwrap();
    (home, prompts)
}

fn import(home: &common::TestHome, mbox: &str) {
    let path = home.user_home.join("mail.mbox");
    std::fs::write(&path, mbox).unwrap();
    let out = home.run(&["import", "mbox", path.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

fn outbox(home: &common::TestHome) -> Vec<String> {
    steward::bridges::console::read_outbox(&home.file("console/outbox.jsonl"))
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.text)
        .collect()
}

#[test]
fn garage_keeps_what_its_mail_says_and_tells_the_owner_once() {
    let (home, prompts) = rig();
    let mbox = [
        mail(
            "DMV <noreply@dmv.example.gov>",
            "Vehicle registration renewal",
            &date(3),
            "dmv1@dmv.example.gov",
            "Your registration for plate 7ABC123 expires soon. Renew online.",
        ),
        mail(
            "Ann Lee <ann@example.com>",
            "Dinner",
            &date(2),
            "ann1@example.com",
            "Dinner on Friday? I found a new card game too.",
        ),
        mail(
            "Jiffy <shop@jiffy.example.com>",
            "Your car is due for service",
            &date(24 * 200),
            "old1@jiffy.example.com",
            "An oil change is due.",
        ),
    ]
    .concat();
    import(&home, &mbox);

    let out = home.run(&["agents", "run", "garage", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::json(&out)["status"], "succeeded");
    let asked = prompts.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "only the recent matching mail: {asked:?}");
    assert!(asked[0].contains("<<<MAIL") && asked[0].contains("vehicle"));

    let lines = outbox(&home);
    let told: Vec<&String> = lines
        .iter()
        .filter(|t| t.contains("🚗 vehicle · Renew the car registration — due Thu Jan 15"))
        .collect();
    assert_eq!(told.len(), 1, "{lines:?}");
    assert!(
        told[0].contains("(from DMV: Vehicle registration renewal)"),
        "{told:?}"
    );
    assert!(
        lines.iter().any(|t| t.starts_with("🚗 vehicle this week: 1 record (Registration notice received); open: Renew the car registration (due Jan 15)")),
        "the weekly coach brief: {lines:?}"
    );

    let view = home.run(&["say", "vehicle"]);
    assert!(view.status.success(), "{}", common::stderr(&view));
    let text = common::stdout(&view);
    assert!(
        text.contains("⏳ Renew the car registration (due 2099-01-15)"),
        "{text}"
    );
    assert!(
        text.contains("· Registration notice received — plate 7ABC123"),
        "{text}"
    );

    // Again: nothing new to read, nothing told twice.
    let before = outbox(&home).len();
    let out = home.run(&["agents", "run", "garage", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(prompts.lock().unwrap().len(), 1, "no mail is read twice");
    assert_eq!(outbox(&home).len(), before, "{:?}", outbox(&home));
}

#[test]
fn junk_from_the_model_keeps_nothing_and_the_view_says_so() {
    let (home, prompts) = rig();
    import(
        &home,
        &mail(
            "Garage <shop@garage.example.com>",
            "Tire rotation",
            &date(5),
            "t1@garage.example.com",
            "Your tires were rotated today.",
        ),
    );
    let out = home.run(&["agents", "run", "garage", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(prompts.lock().unwrap().len(), 1);
    let text = common::stdout(&home.run(&["say", "vehicle"]));
    assert!(text.contains("nothing from your mail yet"), "{text}");
    assert!(
        !outbox(&home).iter().any(|t| t.contains("🚗")),
        "{:?}",
        outbox(&home)
    );
}

#[test]
fn a_tracker_with_mail_to_read_and_no_model_says_which_key_to_add() {
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    import(
        &home,
        &mail(
            "DMV <noreply@dmv.example.gov>",
            "Registration",
            &date(1),
            "d2@dmv.example.gov",
            "Renew your vehicle registration.",
        ),
    );
    let out = home.run(&["agents", "run", "garage"]);
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("models:"), "{err}");
}

#[test]
fn a_bill_by_mail_reaches_the_money_view_through_financial_sentinel() {
    let (home, prompts) = rig();
    import(
        &home,
        &mail(
            "Netflix <info@mailer.netflix.example>",
            "Your receipt",
            &date(4),
            "n1@netflix.example",
            "Your Netflix payment of $17.99 was charged today.",
        ),
    );
    let empty = common::stdout(&home.run(&["say", "money"]));
    assert!(empty.contains("no bills seen"), "{empty}");
    let out = home.run(&["agents", "run", "financial-sentinel", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = common::stdout(&home.run(&["say", "money"]));
    assert!(text.contains("· Netflix $17.99"), "{text}");
    assert!(
        prompts.lock().unwrap().is_empty(),
        "bills are read by rules, not a model"
    );
}
