//! The dashboard's Channels and Budgets pages through the real daemon (issue
//! 16): a bridge that received a message shows when, a send shows when, and a
//! failed send shows the bridge's error on its row; each agent that spent in
//! the last seven days has its own inline SVG chart.

mod common;

use std::time::Duration;

use common::TestHome;
use common::web::{T, Web, delivered, draft, token};
use serde_json::{Value, json};
use steward::http::probe;

/// The text of the `class` cell in the Channels row of `channel`.
fn channel_cell(page: &str, channel: &str, class: &str) -> Option<String> {
    let row = &page[page.find(&format!(r#"id="channel-{channel}""#))?..];
    let row = &row[..row.find("</tr>")?];
    let at = row.find(&format!(r#"class="{class}">"#))? + class.len() + 9;
    Some(row[at..].split('<').next()?.to_string())
}

/// WhatsApp Cloud with a Graph API address where nothing listens.
fn whatsapp_home() -> TestHome {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    for (name, value) in [
        ("wa-token", "t"),
        ("wa-secret", WA_SECRET),
        ("wa-verify", "v"),
    ] {
        let p = home.user_home.join(name);
        std::fs::write(&p, value).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    let secret = |n: &str| home.user_home.join(n).display().to_string();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\nquietHours: {{start: \"00:00\", end: \"00:00\"}}\nbridges:\n  imessage:\n    enabled: false\n\
             \x20 whatsapp:\n    mode: cloud\n    phoneNumberId: \"{}\"\n    token: \"file:{}\"\n    appSecret: \"file:{}\"\n\
             \x20   verifyToken: \"file:{}\"\n    apiUrl: \"http://127.0.0.1:9\"\n",
            common::graph::PHONE_NUMBER_ID,
            secret("wa-token"),
            secret("wa-secret"),
            secret("wa-verify"),
        ),
    )
    .unwrap();
    home
}

const WA_SECRET: &str = "meta-app-secret";
const ANN_WA: &str = "15125551234";

#[tokio::test(flavor = "multi_thread")]
async fn channels_show_the_last_message_the_last_send_and_a_failed_send() {
    let home = whatsapp_home();
    let d = home.up();
    let tok = token(&home);
    let mut web = Web::new(&d);
    assert_eq!(web.login(&tok).await, 303);
    let page = web.get("/channels").await.text().await.unwrap();
    assert_eq!(
        channel_cell(&page, "whatsapp", "last-message").as_deref(),
        Some("—"),
        "{page}"
    );
    assert_eq!(
        channel_cell(&page, "console", "last-send").as_deref(),
        Some("—"),
        "{page}"
    );

    // Ann writes on WhatsApp: a webhook signed as Meta signs it.
    let body = common::graph::inbound(
        ANN_WA,
        "Ann Lee",
        "wamid.a1",
        "dinner friday?",
        jiff::Timestamp::now().as_second(),
    )
    .to_string();
    let sig =
        steward::bridges::whatsapp::cloud::webhook::sign(WA_SECRET.as_bytes(), body.as_bytes());
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", sig.as_str()),
    ];
    let r = probe::post_with_headers(d.addr, "/v1/whatsapp/webhook", &headers, &body, T).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let page = web.get("/channels").await.text().await.unwrap();
    let when = channel_cell(&page, "whatsapp", "last-message").unwrap();
    assert!(
        when != "—" && !when.is_empty(),
        "a last-message time: {page}"
    );

    // A console send that went out: its time.
    let run = draft(&d, &tok, "see you at 7");
    let id = run["confirmations"][0].as_str().unwrap();
    let approve = format!("/v1/confirmations/{id}/approve");
    assert_eq!(
        probe::post_json(d.addr, &approve, Some(&tok), "{}", T)
            .unwrap()
            .status,
        200
    );
    assert!(common::wait_until(T, || delivered(&home, "see you at 7") == 1));
    let page = web.get("/channels").await.text().await.unwrap();
    assert_ne!(
        channel_cell(&page, "console", "last-send").as_deref(),
        Some("—"),
        "{page}"
    );
    assert!(
        !page.contains(r#"class="bad last-error""#),
        "no failure yet: {page}"
    );

    // A reply to Ann the Graph API never gets: the bridge's error, on its row.
    let body = json!({"agent": "imessage-assistant",
        "plan": [{"kind": "reply", "channel": "whatsapp", "to": ANN_WA, "text": "yes, 7pm"}]});
    let run: Value = serde_json::from_str(
        &probe::post_json(d.addr, "/v1/runs", Some(&tok), &body.to_string(), T)
            .unwrap()
            .body,
    )
    .unwrap();
    let id = run["confirmations"][0].as_str().expect("a confirmation");
    let approve = format!("/v1/confirmations/{id}/approve");
    probe::post_json(d.addr, &approve, Some(&tok), "{}", Duration::from_secs(60)).unwrap();
    // Connection refused is retried, then the step fails: wait for the row.
    let mut row = String::new();
    for _ in 0..120 {
        let html = web.get("/channels").await.text().await.unwrap();
        let at = html.find(r#"id="channel-whatsapp""#).unwrap();
        row = html[at..at + html[at..].find("</tr>").unwrap()].to_string();
        if row.contains("last-error") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        row.contains("The last send failed"),
        "{row}\n{}",
        d.log.lock().unwrap()
    );
}

/// A model double that answers every chat completion with a priced usage.
async fn priced_answer(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    axum::Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "nothing due"}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 500},
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn budgets_chart_seven_days_for_each_agent_that_spent() {
    let model = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(priced_answer)),
    );
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\nbridges:\n  imessage:\n    enabled: false\nmodels:\n  providers:\n\
             \x20   local: {{kind: openai, baseUrl: \"{model}/v1\"}}\n  capabilities:\n    fast: [\"local/tiny\"]\n\
             \x20 prices:\n    local/tiny: {{in: 10, out: 20}}\n"
        ),
    )
    .unwrap();
    let d = home.up();
    let tok = token(&home);
    for agent in ["concierge", "garage"] {
        let body = json!({"agent": agent, "plan": [{"kind": "ask", "prompt": "what is due?"}]});
        let r = probe::post_json(d.addr, "/v1/runs", Some(&tok), &body.to_string(), T).unwrap();
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["status"], "succeeded", "{v}");
    }
    let mut web = Web::new(&d);
    assert_eq!(web.login(&tok).await, 303);
    let page = web.get("/budgets").await.text().await.unwrap();
    let chart = |scope: &str| {
        let at = page.find(&format!(r#"data-scope="{scope}""#))?;
        let fig = &page[at..at + page[at..].find("</figure>")?];
        Some((
            fig.matches("<rect").count(),
            fig.contains(&format!(r#"aria-label="{scope}: "#)),
        ))
    };
    // 1,000 in × $10 + 500 out × $20 per million: 2 cents each, on today's bar.
    for scope in ["global", "agent:concierge", "agent:garage"] {
        assert_eq!(chart(scope), Some((7, true)), "{scope}: {page}");
    }
    assert!(page.contains("$0.0200"), "{page}");
    assert_eq!(
        chart("agent:household"),
        None,
        "an agent that spent nothing has no chart"
    );
}
