//! Linking WhatsApp from the dashboard's Channels page (issues 14 and 16),
//! through the real daemon with the loopback test server behind
//! `STEWARD_WHATSAPP_WIRE` playing WhatsApp (tests/common/wawire.rs): the
//! page offers "Link WhatsApp" while unlinked; a POST without the CSRF token
//! starts nothing; with it the daemon's link session shows the server's QR as
//! inline SVG that decodes to exactly the server's code, replaced over the
//! event stream when the code rotates; a second press joins the running
//! session; the phone's confirmation shows the number on the page and in
//! `steward status`, and the reader connects with the new link without a
//! restart. The pair-code path shows the server's code, and a refusal shows
//! the error with the fix and the form again. In headless Chromium (when
//! installed) the QR in the page is swapped for the rotated one without a
//! reload, and the page ends on the linked number.

mod common;

use std::time::Duration;

use axum::Json;
use common::browser;
use common::wawire::{WaWire, decode_svg_qr};
use common::web::{Web, token};
use common::{Daemon, TestHome, json, wait_until};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

const OWNER_JID: &str = "15125550000:9@s.whatsapp.net";
const ANN_JID: &str = "15125551234@s.whatsapp.net";
const FIRST: &str = "2@Fz8QpW9nLx1Sj7u,Tq8rU2cHw4yB0dNx6sV8zC3gM5qH1iX9tF2kP7qS4lO=,aWRlbnRpdHkta2V5LWRhc2hib2FyZC1saW5rLTAx,YWR2LXNlY3JldC1kYXNoYm9hcmQtbGluay0wMQ==";
const ROTATED: &str = "2@Rt4XkM2bVc7Lp0a,Jn5sD8fGh1kL3zX6cV9bN2mQ4wE7rT0yU3iO6pA9sD=,aWRlbnRpdHkta2V5LWRhc2hib2FyZC1saW5rLTAy,YWR2LXNlY3JldC1kYXNoYm9hcmQtbGluay0wMg==";

async fn chat(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "yes, all linked" } }],
        "usage": { "prompt_tokens": 80, "completion_tokens": 4 },
    }))
}

/// A home in linked mode that was never linked, a model double for drafts,
/// and its daemon on the wire hook.
fn unlinked_daemon(wire: &WaWire) -> (TestHome, Daemon) {
    let model = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)),
    );
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"+15125550000\"]\n  channels: [whatsapp, console]\n\
             quietHours: {{start: \"00:00\", end: \"00:00\"}}\n\
             bridges:\n  imessage:\n    enabled: false\n  whatsapp:\n    mode: linked\n\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{model}/v1\"}}\n  capabilities:\n    draft: [\"local/tiny\"]\n"
        ),
    )
    .unwrap();
    let mut c = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    c.env("STEWARD_WHATSAPP_WIRE", wire.addr.to_string());
    let d = common::start(c);
    (home, d)
}

async fn channels(web: &Web) -> String {
    let resp = web.get("/channels").await;
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The Channels page once `pred` holds for it (the link runs in the daemon).
async fn channels_until(web: &Web, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = channels(web).await;
        if pred(&page) {
            return page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Channels page never showed {what}:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The link section of the page.
fn section(page: &str) -> &str {
    let at = page
        .find(r#"id="whatsapp-link""#)
        .unwrap_or_else(|| panic!("no WhatsApp link section:\n{page}"));
    &page[at..]
}

/// `GET /events?parts=whatsapp-link`, read event by event.
struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    async fn open(web: &Web) -> Stream {
        let resp = web
            .http
            .get(format!("{}/events?parts=whatsapp-link", web.base))
            .header("cookie", &web.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        Stream {
            resp,
            buf: String::new(),
        }
    }

    /// The next `whatsapp-link` event's HTML.
    async fn next(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if !block.lines().any(|l| l == "event: whatsapp-link") {
                    continue;
                }
                return block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: ").or(l.strip_prefix("data:")))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.resp.chunk())
                .await
                .expect("an event within 20 s")
                .unwrap()
                .expect("the stream stays open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_channels_page_links_whatsapp_with_a_live_qr() {
    let wire = WaWire::start();
    let (home, d) = unlinked_daemon(&wire);
    let mut web = Web::new(&d);
    assert_eq!(web.login(&token(&home)).await, 303);
    let csrf = offers_the_form_and_refuses_bad_posts(&web, &wire).await;
    let mut events = shows_the_qr_as_it_rotates(&web, &wire, &csrf).await;
    the_phone_confirms(&web, &wire, &home, &mut events).await;
    the_new_link_reads_and_sends(&web, &wire, &home, &d).await;
    // Linked: the form is gone, and a POST is refused with the fix.
    assert!(
        !channels(&web)
            .await
            .contains(r#"action="/channels/whatsapp/link""#)
    );
    let resp = web
        .post("/channels/whatsapp/link", &[("csrf", &csrf), ("phone", "")])
        .await;
    assert_eq!(resp.status(), 409);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("steward whatsapp unlink")
    );
    assert_eq!(wire.connects().len(), 2);
}

/// Unlinked: the form; a POST without the CSRF token or with a bad number
/// starts nothing. The session's CSRF token.
async fn offers_the_form_and_refuses_bad_posts(web: &Web, wire: &WaWire) -> String {
    let page = channels(web).await;
    let part = section(&page);
    assert!(
        part.contains(r#"action="/channels/whatsapp/link""#) && part.contains("Link WhatsApp"),
        "{page}"
    );
    assert!(part.contains("not linked"), "{part}");

    // Refused without the CSRF token, and a bad number: nothing starts.
    let resp = web.post("/channels/whatsapp/link", &[("phone", "")]).await;
    assert_eq!(resp.status(), 403);
    let csrf = web.csrf().await;
    let resp = web
        .post(
            "/channels/whatsapp/link",
            &[("csrf", &csrf), ("phone", "12")],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text().await.unwrap().contains("country code"),
        "the fix is named"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        wire.connects().is_empty(),
        "nothing started: {:?}",
        wire.connects()
    );

    csrf
}

/// Pressed: the server's QR on the page and over the event stream, then the
/// rotated one; a second press joins the running session.
async fn shows_the_qr_as_it_rotates(web: &Web, wire: &WaWire, csrf: &str) -> Stream {
    // Pressed: the daemon's link session shows the server's QR.
    wire.script(vec![json!({"event": "qr", "code": FIRST})]);
    let resp = web
        .post("/channels/whatsapp/link", &[("csrf", csrf), ("phone", "")])
        .await;
    assert_eq!(resp.status(), 303);
    let page = channels_until(web, "a QR", |p| p.contains("<svg")).await;
    assert_eq!(decode_svg_qr(section(&page)), FIRST);
    assert_eq!(wire.connects(), vec![Value::String("qr".into())]);
    assert!(
        !page.contains(r#"action="/channels/whatsapp/link""#),
        "no form while linking"
    );

    // The event stream carries the current code, then the rotated one.
    let mut events = Stream::open(web).await;
    assert_eq!(decode_svg_qr(&events.next().await), FIRST);
    wire.emit(json!({"event": "qr", "code": ROTATED}));
    assert_eq!(decode_svg_qr(&events.next().await), ROTATED);
    let page = channels(web).await;
    assert_eq!(
        decode_svg_qr(section(&page)),
        ROTATED,
        "a reload shows the current code"
    );

    // A second press joins the running session: no second connection.
    let resp = web
        .post("/channels/whatsapp/link", &[("csrf", csrf), ("phone", "")])
        .await;
    assert_eq!(resp.status(), 303);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(wire.connects().len(), 1, "{:?}", wire.connects());

    events
}

async fn the_phone_confirms(web: &Web, wire: &WaWire, home: &TestHome, events: &mut Stream) {
    // The phone confirms: the number on the page, over the stream, in `status`.
    wire.script(vec![json!({"event": "connected"})]);
    wire.emit(
        json!({"event": "paired", "jid": OWNER_JID, "lid": "555000111@lid", "platform": "android"}),
    );
    wire.emit(json!({"event": "connected"}));
    let linked = events.next().await;
    assert!(linked.contains("Linked as +1 512-555-0000"), "{linked}");
    let page = channels(web).await;
    assert!(
        section(&page).contains("Linked as +1 512-555-0000"),
        "{page}"
    );
    let status = json(&home.run(&["status", "--json"]));
    assert_eq!(status["whatsapp"]["status"], "linked", "{status}");
    assert_eq!(status["whatsapp"]["number"], "+15125550000", "{status}");
}

/// The reader and the bridge use the new link without a restart.
async fn the_new_link_reads_and_sends(web: &Web, wire: &WaWire, home: &TestHome, d: &Daemon) {
    // The reader connects with the new link by itself, and Ann's DM is stored.
    assert!(
        wait_until(Duration::from_secs(20), || wire.connects().len() == 2),
        "the reader connected after the link: {:?}\n{}",
        wire.connects(),
        d.log.lock().unwrap()
    );
    assert_eq!(wire.connects()[1], Value::Null, "with the stored session");
    wire.emit(json!({
        "event": "message", "id": "ANN1", "chat": ANN_JID, "sender": ANN_JID,
        "pushName": "Ann Lee", "at": jiff::Timestamp::now().as_second(),
        "text": "linked at last?",
    }));
    assert!(
        wait_until(Duration::from_secs(20), || {
            let out = home.run(&["person", "show", "+1 512 555 1234", "--json"]);
            out.status.success() && json(&out)["name"] == "Ann Lee"
        }),
        "Ann's message was stored: {}",
        d.log.lock().unwrap()
    );
    // The send side has the link too: the draft reaches the owner's own
    // WhatsApp, and its read receipt shows on the Channels page.
    let to_owner = || {
        wire.sent()
            .into_iter()
            .filter(|(to, t)| to == "15125550000@s.whatsapp.net" && t.starts_with("✍️"))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(30), || to_owner() == 1),
        "the draft reached the owner on WhatsApp: {:?}\n{}",
        wire.sent(),
        d.log.lock().unwrap()
    );
    let page = channels(web).await;
    assert!(page.contains("· sent"), "{page}");
    let sent = steward::bridges::ledger::read(&home.file("whatsapp/linked-sent.jsonl")).unwrap();
    let id = sent.iter().find_map(|l| l.id.clone()).unwrap();
    wire.emit(json!({"event": "receipt", "type": "read", "chat": OWNER_JID, "ids": [id]}));
    channels_until(web, "the read receipt", |p| p.contains("· read")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pair_code_shows_and_a_refusal_shows_the_fix() {
    let wire = WaWire::start();
    let (home, d) = unlinked_daemon(&wire);
    let mut web = Web::new(&d);
    assert_eq!(web.login(&token(&home)).await, 303);
    let csrf = web.csrf().await;

    wire.script(vec![json!({"event": "pairCode", "code": "K7QW2XPL"})]);
    let resp = web
        .post(
            "/channels/whatsapp/link",
            &[("csrf", &csrf), ("phone", "+1 512 555 0000")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let page = channels_until(&web, "the pair code", |p| p.contains("K7QW2XPL")).await;
    assert!(
        section(&page).contains("Link with phone number instead"),
        "{page}"
    );
    assert_eq!(wire.connects(), vec![json!({"code": "+15125550000"})]);

    // The phone refuses: the error with its fix, and the form to try again.
    wire.emit(json!({"event": "loggedOut"}));
    let page = channels_until(&web, "the refusal", |p| p.contains("link-error")).await;
    let part = section(&page);
    assert!(part.contains("the phone refused the link"), "{part}");
    assert!(part.contains("steward whatsapp link"), "the fix: {part}");
    assert!(
        part.contains(r#"action="/channels/whatsapp/link""#),
        "{part}"
    );
    let status = json(&home.run(&["status", "--json"]));
    assert_eq!(status["whatsapp"]["status"], "unlinked", "{status}");
}

/// The link section's HTML once its QR decodes to `want` (no navigation in between).
async fn qr_in_browser(c: &Client, want: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let html = match c.find(Locator::Css("#whatsapp-link")).await {
            Ok(e) => e.html(true).await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if html.contains("<svg") && decode_svg_qr(&html) == want {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the page's QR never became {want:?}: {html}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn link_in_browser(c: &Client, wire: &WaWire, base: &str, tok: &str) -> anyhow::Result<()> {
    browser::log_in(c, base, tok).await?;
    c.goto(&format!("{base}/channels")).await?;
    wire.script(vec![json!({"event": "qr", "code": FIRST})]);
    // The event stream may swap the live part between find and click.
    browser::click(c, Locator::Css("#whatsapp-link button.primary")).await?;
    qr_in_browser(c, FIRST).await?;
    let at = c.current_url().await?;
    // Rotated on the server: the event stream swaps it in place.
    wire.emit(json!({"event": "qr", "code": ROTATED}));
    qr_in_browser(c, ROTATED).await?;
    anyhow::ensure!(c.current_url().await? == at, "the page was not reloaded");
    wire.script(vec![json!({"event": "connected"})]);
    wire.emit(
        json!({"event": "paired", "jid": OWNER_JID, "lid": "555000111@lid", "platform": "android"}),
    );
    wire.emit(json!({"event": "connected"}));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = c.find(Locator::Css("#whatsapp-link")).await?.text().await?;
        if text.contains("Linked as +1 512-555-0000") {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "never linked: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn in_a_real_browser_the_qr_follows_the_rotation() {
    let Some(driver) = browser::Driver::start() else {
        return;
    };
    let wire = WaWire::start();
    let (home, d) = unlinked_daemon(&wire);
    let base = format!("http://{}", d.addr);
    let c = driver.browser(true).await;
    if let Err(e) = link_in_browser(&c, &wire, &base, &token(&home)).await {
        let source = c.source().await.unwrap_or_default();
        browser::screenshot_pages(&c, &base, "whatsapp-link", &["/channels"]).await;
        let _ = c.close().await;
        panic!("{e}\n{source}\n{}", d.log.lock().unwrap());
    }
    c.close().await.unwrap();
}
