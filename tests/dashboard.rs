//! The dashboard (issue 16) through the real daemon: the session and CSRF
//! rules over plain HTTP, one row sending once, `steward dashboard`'s one-time
//! link, `GET /metrics`; then in headless Chromium: log in, a draft appears in
//! Approvals without a reload, Send delivers exactly once, the run shows
//! `succeeded` with a receipt that verifies, a tampered receipt shows invalid,
//! a form without its CSRF field or cookie is refused, and with JavaScript
//! off the pages still read and the forms still work. The Channels and
//! Budgets pages' contents are in `tests/dashboard_pages.rs`.

mod common;

use std::time::Duration;

use common::web::{T, Web, delivered, draft, set_cookie, token};
use common::{Daemon, TestHome, browser, json};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use steward::http::probe;

#[tokio::test(flavor = "multi_thread")]
async fn no_cookie_no_csrf_no_entry_and_one_row_sends_once() {
    let home = TestHome::new();
    let d = home.up();
    let tok = token(&home);
    let run = draft(&d, &tok, "on my way");
    let id = run["confirmations"][0].as_str().unwrap().to_string();
    let mut web = Web::new(&d);

    // No cookie: a page asks for the login, anything else is 401.
    let resp = web.get("/").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login");
    let plain = web.http.get(format!("{}/", web.base)).send().await.unwrap();
    assert_eq!(plain.status(), 401);
    let post = web.post(&format!("/approvals/{id}/send"), &[]).await;
    assert_eq!(post.status(), 401);

    // A wrong token, and a login POST without its CSRF token, are refused.
    assert_eq!(web.login("not-the-token").await, 401);
    let bare = web.post("/login", &[("token", &tok)]).await;
    assert_eq!(bare.status(), 403);
    assert_eq!(web.login(&tok).await, 303);
    let page = web.get("/").await.text().await.unwrap();
    assert!(page.contains("on my way"), "{page}");

    // A POST without the CSRF token (or with another) changes nothing.
    let send = format!("/approvals/{id}/send");
    assert_eq!(web.post(&send, &[]).await.status(), 403);
    assert_eq!(web.post(&send, &[("csrf", "forged")]).await.status(), 403);
    assert_eq!(delivered(&home, "on my way"), 0);

    // Send twice: one delivery; the second answer says it is no longer waiting.
    let csrf = web.csrf().await;
    let first = web.post(&send, &[("csrf", &csrf)]).await;
    assert_eq!(first.status(), 303);
    let again = web.post(&send, &[("csrf", &csrf)]).await;
    assert_eq!(again.status(), 303);
    let location = again.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("no+longer+waiting"), "{location}");
    assert_eq!(delivered(&home, "on my way"), 1);
    let first_notice = first.headers()["location"].to_str().unwrap().to_string();
    assert!(first_notice.contains("sent+to"), "{first_notice}");

    // Logged out, the cookie opens nothing.
    assert_eq!(web.post("/logout", &[("csrf", &csrf)]).await.status(), 303);
    assert_eq!(web.get("/").await.status(), 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_one_time_link_logs_in_once() {
    let home = TestHome::new();
    let d = home.up();
    let out = home.run(&["dashboard", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let link = json(&out);
    let path = link["path"].as_str().unwrap();
    assert_eq!(link["url"], format!("http://{}{path}", d.addr));
    let web = Web::new(&d);
    let first = web.get(path).await;
    assert_eq!(first.status(), 303);
    let cookie = set_cookie(&first, "steward_session").expect("a session");
    assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");
    assert_eq!(web.get(path).await.status(), 401);

    // Without a daemon the command says how to start one.
    drop(d);
    std::thread::sleep(Duration::from_millis(300));
    let out = home.run(&["dashboard"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("steward up"),
        "{}",
        common::stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_prometheus_text_behind_the_token() {
    let home = TestHome::new();
    let d = home.up();
    let tok = token(&home);
    let run = draft(&d, &tok, "see you at 7");
    let id = run["confirmations"][0].as_str().unwrap();
    let approve = format!("/v1/confirmations/{id}/approve");
    assert_eq!(
        probe::post_json(d.addr, &approve, Some(&tok), "{}", T)
            .unwrap()
            .status,
        200
    );
    // A refused run: an agent no spec names.
    let refused = json!({"agent": "no-such-agent", "plan": [{"kind": "noop"}]});
    probe::post_json(d.addr, "/v1/runs", Some(&tok), &refused.to_string(), T).unwrap();

    assert_eq!(probe::get(d.addr, "/metrics", None, T).unwrap().status, 401);
    let resp = probe::get(d.addr, "/metrics", Some(&tok), T).unwrap();
    assert_eq!(resp.status, 200);
    let text = resp.body;
    for name in [
        "steward_runs_total",
        "steward_sends_total",
        "steward_gate_refusals_total",
        "steward_bridge_up",
        "steward_ingest_lag_seconds",
        "steward_budget_spent_usd",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}: {text}");
    }
    assert!(
        text.contains(r#"steward_runs_total{agent="imessage-assistant",status="succeeded"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"steward_sends_total{channel="console"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"steward_bridge_up{channel="console"} 1"#),
        "{text}"
    );
    assert!(text.contains("steward_gate_refusals_total{gate="), "{text}");

    // Activity filters by status, agent and trigger.
    let mut web = Web::new(&d);
    assert_eq!(web.login(&tok).await, 303);
    let rows =
        |html: &str, class: &str| html.matches(&format!(r#"class="status-{class}""#)).count();
    let refused = web
        .get("/activity?status=refused")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        (rows(&refused, "refused"), rows(&refused, "succeeded")),
        (1, 0),
        "{refused}"
    );
    let by_agent = web
        .get("/activity?agent=imessage-assistant")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        (rows(&by_agent, "refused"), rows(&by_agent, "succeeded")),
        (0, 1),
        "{by_agent}"
    );
    let scheduled = web
        .get("/activity?trigger=schedule")
        .await
        .text()
        .await
        .unwrap();
    assert!(scheduled.contains("No runs match."), "{scheduled}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_sends_approvals_and_does_not_hold_up_a_stop() {
    let home = TestHome::new();
    let mut d = home.up();
    let tok = token(&home);
    let mut web = Web::new(&d);
    assert_eq!(web.login(&tok).await, 303);
    let mut resp = web
        .http
        .get(format!("{}/events?parts=approvals", web.base))
        .header("cookie", &web.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    draft(&d, &tok, "stream me");
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !seen.contains("stream me") && std::time::Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk()).await;
        if let Ok(Ok(Some(bytes))) = chunk {
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    assert!(
        seen.contains("event: approvals") && seen.contains("stream me"),
        "{seen}"
    );
    // A browser left open on the dashboard does not hold up a clean stop.
    let t = std::time::Instant::now();
    d.signal(15);
    assert!(
        d.wait_for_exit(Duration::from_secs(5)).is_some(),
        "still running with a stream open"
    );
    // Held until the 1.5 s grace period, the stop would take longer than that.
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "stop took {:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn devices_are_added_and_revoked_and_their_shortcuts_download() {
    let home = TestHome::new();
    let d = home.up();
    let mut web = Web::new(&d);
    assert_eq!(web.login(&token(&home)).await, 303);
    let csrf = web.csrf().await;
    let added = web
        .post("/channels/devices", &[("csrf", &csrf), ("name", "iphone")])
        .await;
    assert_eq!(added.status(), 200);
    let page = added.text().await.unwrap();
    let secret = page
        .split(r#"<pre id="secret">"#)
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(secret.len() >= 32, "{page}");

    let channels = web.get("/channels").await.text().await.unwrap();
    assert!(channels.contains(r#"id="device-iphone""#), "{channels}");
    assert!(!channels.contains(secret), "the secret is shown once only");
    let id = channels
        .split("/channels/devices/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let recipe = channels
        .split(r#"<option value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let shortcut = format!(
        "/channels/devices/{id}/shortcut?url=https%3A%2F%2Fmac.example.ts.net%3A7788&recipe={recipe}"
    );
    let file = web.get(&shortcut).await;
    assert_eq!(file.status(), 200);
    assert!(
        file.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".shortcut")
    );
    let bytes = file.bytes().await.unwrap();
    assert!(bytes.starts_with(b"bplist00"), "not a binary plist");
    let bad_url = web
        .get(&format!(
            "/channels/devices/{id}/shortcut?url=ftp%3A%2F%2Fx&recipe={recipe}"
        ))
        .await;
    assert_eq!(bad_url.status(), 400);

    let revoke = web
        .post(
            &format!("/channels/devices/{id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoke.status(), 303);
    assert!(
        web.get("/channels")
            .await
            .text()
            .await
            .unwrap()
            .contains("revoked")
    );
    assert_eq!(web.get(&shortcut).await.status(), 404);
    let listed = json(&home.run(&["devices", "--json"]));
    assert!(listed[0]["revokedAt"].is_string(), "{listed}");
}

/// Pages screenshotted when a browser step fails.
const PAGES: &[&str] = &[
    "/",
    "/activity",
    "/people",
    "/budgets",
    "/agents",
    "/channels",
    "/audit",
];

async fn text_of(c: &Client, css: &str) -> anyhow::Result<String> {
    Ok(c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await?
        .text()
        .await?)
}

/// Wait until the element at `css` shows `want`.
async fn wait_text(c: &Client, css: &str, want: &str) -> anyhow::Result<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let text = text_of(c, css).await.unwrap_or_default();
        if text.contains(want) {
            return Ok(text);
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("{css} never showed {want:?}; it shows {text:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn with_js(c: &Client, home: &TestHome, d: &Daemon, base: &str) -> anyhow::Result<()> {
    let tok = token(home);
    browser::log_in(c, base, &tok).await?;
    wait_text(c, "h1", "Approvals").await?;
    c.execute("window.__stayed = 42; return 1", vec![]).await?;

    // A draft made now appears without a reload (the event stream).
    let run = draft(d, &tok, "running 10 min late");
    let run_id = run["runId"].as_str().unwrap().to_string();
    wait_text(c, "#approvals .card .draft", "running 10 min late").await?;
    let stayed = c.execute("return window.__stayed", vec![]).await?;
    anyhow::ensure!(stayed == json!(42), "the page reloaded ({stayed})");

    // Send: exactly one delivery.
    browser::click(c, Locator::Css("#approvals .card button.primary")).await?;
    wait_text(c, ".notice", "sent to").await?;
    anyhow::ensure!(
        delivered(home, "running 10 min late") == 1,
        "not delivered once"
    );

    // The run: succeeded, its receipt verifies, the public key is shown.
    c.goto(&format!("{base}/runs/{run_id}")).await?;
    wait_text(c, "main table", "succeeded").await?;
    let well_known = probe::get(d.addr, "/.well-known/steward-receipts", None, T)?;
    let key: Value = serde_json::from_str(&well_known.body)?;
    let shown = text_of(c, "#public-key").await?;
    anyhow::ensure!(
        key["publicKey"] == json!(shown),
        "key shown {shown}, served {key}"
    );
    browser::click(c, Locator::Css("form[action$='/verify'] button")).await?;
    let verdict = wait_text(c, "#verdict", "valid").await?;
    anyhow::ensure!(verdict.starts_with('✓'), "{verdict}");

    // Tamper with the stored receipt: Verify says invalid.
    let db = rusqlite::Connection::open(home.file("steward.db"))?;
    db.execute(
        "UPDATE receipts SET payload = replace(payload, 'succeeded', 'refused') WHERE run_id = ?1",
        [&run_id],
    )?;
    browser::click(c, Locator::Css("form[action$='/verify'] button")).await?;
    wait_text(c, "#verdict", "invalid").await?;

    // Every page renders under the session.
    for (path, title) in [
        ("/activity", "Activity"),
        ("/budgets", "Budgets"),
        ("/channels", "Channels"),
        ("/audit", "Audit"),
    ] {
        c.goto(&format!("{base}{path}")).await?;
        wait_text(c, "h1", title).await?;
    }
    wait_text(c, "#chain", "intact").await?;
    people_and_agents(c, home, base).await?;
    refusals(c, home, d, base).await
}

/// Submit the Send form of the first draft natively (no htmx, no submit
/// event), as a page on another site would, after `prepare` ran on it.
async fn submit_send(c: &Client, prepare: &str) -> anyhow::Result<()> {
    let script = format!(
        "const f = document.querySelector('#approvals .card button.primary').form; {prepare}; \
         HTMLFormElement.prototype.submit.call(f); return 1"
    );
    c.execute(&script, vec![]).await?;
    Ok(())
}

/// In the browser: a Send whose CSRF field was removed is refused, and so
/// is one made after the session cookie is gone; neither sends.
async fn refusals(c: &Client, home: &TestHome, d: &Daemon, base: &str) -> anyhow::Result<()> {
    let tok = token(home);
    let probe_run = draft(d, &tok, "csrf probe");
    c.goto(&format!("{base}/")).await?;
    wait_text(c, "#approvals .card .draft", "csrf probe").await?;
    submit_send(c, "f.querySelector('input[name=csrf]').remove()").await?;
    wait_text(c, "h1", "no valid CSRF token").await?;

    c.goto(&format!("{base}/")).await?;
    wait_text(c, "#approvals .card .draft", "csrf probe").await?;
    c.delete_all_cookies().await?;
    submit_send(c, "").await?;
    wait_text(c, "h1", "Not logged in").await?;
    anyhow::ensure!(delivered(home, "csrf probe") == 0, "a refused form sent");
    c.goto(&format!("{base}/activity")).await?;
    anyhow::ensure!(
        c.current_url().await?.path() == "/login",
        "a page without the cookie did not ask to log in"
    );
    // Out of the way of the next browser's first card.
    let id = probe_run["confirmations"][0].as_str().unwrap_or_default();
    let reject = format!("/v1/confirmations/{id}/reject");
    anyhow::ensure!(probe::post_json(d.addr, &reject, Some(&tok), "{}", T)?.status == 200);
    Ok(())
}

fn people_named(home: &TestHome, name: &str) -> anyhow::Result<i64> {
    let db = rusqlite::Connection::open(home.file("steward.db"))?;
    Ok(
        db.query_row("SELECT COUNT(*) FROM people WHERE name = ?1", [name], |r| {
            r.get(0)
        })?,
    )
}

/// Forget asks before deleting; an agent is disabled and enabled again.
async fn people_and_agents(c: &Client, home: &TestHome, base: &str) -> anyhow::Result<()> {
    {
        let db = rusqlite::Connection::open(home.file("steward.db"))?;
        let handle = steward::memory::Canonicalizer::new("US").canonicalize("+1 512 555 0100");
        steward::memory::people::attach_card(&db, "Ann Lee", &[handle])?;
    }
    c.goto(&format!("{base}/people?q=Ann")).await?;
    browser::click(c, Locator::LinkText("Ann Lee")).await?;
    wait_text(c, "h1", "Ann Lee").await?;
    wait_text(c, "main", "+15125550100").await?;
    browser::click(c, Locator::Css("form[action$='/forget'] button")).await?;
    wait_text(c, "#question", "Forget Ann Lee").await?;
    anyhow::ensure!(
        people_named(home, "Ann Lee")? == 1,
        "deleted before the confirm step"
    );
    browser::click(c, Locator::Css("main form button.primary")).await?;
    wait_text(c, ".notice", "Forgot").await?;
    anyhow::ensure!(people_named(home, "Ann Lee")? == 0, "not deleted after yes");

    c.goto(&format!("{base}/agents")).await?;
    let row = "#agent-concierge";
    wait_text(c, row, "concierge").await?;
    let toggle = format!("{row} form[action$='able'] button");
    let before = text_of(c, &toggle).await?;
    browser::click(c, Locator::Css(&toggle)).await?;
    let flipped = if before == "Disable" {
        "Enable"
    } else {
        "Disable"
    };
    wait_text(c, &toggle, flipped).await?;
    Ok(())
}

async fn without_js(c: &Client, home: &TestHome, d: &Daemon, base: &str) -> anyhow::Result<()> {
    let tok = token(home);
    draft(d, &tok, "back at 6");
    browser::log_in(c, base, &tok).await?;
    wait_text(c, "#approvals", "back at 6").await?;
    // The plain form still decides.
    browser::click(c, Locator::Css("#approvals .card button.primary")).await?;
    wait_text(c, ".notice", "sent to").await?;
    anyhow::ensure!(delivered(home, "back at 6") == 1, "not delivered once");
    c.goto(&format!("{base}/activity")).await?;
    wait_text(c, "#runs", "succeeded").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn in_a_real_browser() {
    let Some(driver) = browser::Driver::start() else {
        return;
    };
    let home = TestHome::new();
    let d = home.up();
    let base = format!("http://{}", d.addr);
    for (js, name) in [(true, "js"), (false, "nojs")] {
        let c = driver.browser(js).await;
        let result = if js {
            with_js(&c, &home, &d, &base).await
        } else {
            without_js(&c, &home, &d, &base).await
        };
        if let Err(e) = result {
            let at = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = c.source().await.unwrap_or_default();
            browser::screenshot_pages(&c, &base, name, PAGES).await;
            let _ = c.close().await;
            panic!("{name}: {e} (at {at})\n{source}\n{}", d.log.lock().unwrap());
        }
        c.close().await.unwrap();
    }
}
