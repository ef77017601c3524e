//! XOAUTH2 (Gmail, Outlook): `auth: xoauth2` logs in to IMAP with a bearer
//! token instead of a password, against a real dovecot whose oauth2 passdb asks
//! a local token-introspection double, and to SMTP against aiosmtpd. A refused
//! token is a clear error that says to refresh it.

mod common;

use std::os::unix::fs::PermissionsExt;

use axum::Json;
use serde_json::{Value, json};
use steward::bridges::email::{imap, smtp};
use steward::config::{EmailAccount, MailAuth, MailSecurity, MailServer, SecretRef};

const GOOD: &str = "ya29.good-token";

/// RFC 7662 introspection as dovecot posts it (a form with `token=…`).
async fn introspect(body: String) -> Json<Value> {
    let token = body.split('&').find_map(|kv| kv.strip_prefix("token="));
    Json(if token == Some(GOOD) {
        json!({ "active": true, "username": "ann" })
    } else {
        json!({ "active": false })
    })
}

fn account(name: &str, imap_port: u16, smtp_port: Option<u16>, token: &str) -> EmailAccount {
    let var = format!("STEWARD_TEST_XOAUTH2_{name}");
    // SAFETY: each test sets its own variable before anything reads it.
    unsafe { std::env::set_var(&var, token) };
    let server = |port| MailServer {
        host: "127.0.0.1".into(),
        port,
        security: MailSecurity::None,
        ca_file: None,
    };
    EmailAccount {
        name: name.into(),
        address: "ann@example.com".into(),
        imap: server(imap_port),
        smtp: smtp_port.map(server),
        user: Some("ann".into()),
        password: format!("env:{var}").parse::<SecretRef>().unwrap(),
        auth: MailAuth::Xoauth2,
        folders: vec!["INBOX".into()],
        sent: "Sent".into(),
        poll_seconds: 1,
    }
}

/// dovecot with XOAUTH2 through its oauth2 passdb, asking `url` about tokens.
fn dovecot_with_oauth(url: &str) -> Option<(common::dovecot::Dovecot, tempfile::TempDir)> {
    let conf = tempfile::tempdir().unwrap();
    std::fs::set_permissions(conf.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = conf.path().join("oauth2.conf.ext");
    std::fs::write(
        &file,
        format!(
            "introspection_mode = post\nintrospection_url = {url}/introspect\n\
             username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let extra = format!(
        "auth_mechanisms = plain login xoauth2\n\
         passdb {{\n  driver = oauth2\n  mechanisms = xoauth2\n  args = {}\n}}\n",
        file.display()
    );
    let d = common::dovecot::start_with("ann", "not-the-token", &extra)?;
    Some((d, conf))
}

#[tokio::test(flavor = "multi_thread")]
async fn imap_logs_in_with_a_bearer_token_and_a_refused_token_says_refresh_it() {
    let url = common::lantern::serve_in_thread(
        axum::Router::new().route("/introspect", axum::routing::post(introspect)),
    );
    let Some((d, _conf)) = dovecot_with_oauth(&url) else {
        return;
    };
    let mut session = imap::connect(&account("good", d.port, None, GOOD))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    session.select("INBOX").await.expect("a logged-in session");
    let _ = session.logout().await;

    let err = imap::connect(&account("stale", d.port, None, "ya29.expired"))
        .await
        .expect_err("a stale token is refused");
    let msg = err.to_string();
    assert!(
        matches!(err, imap::ImapError::Token { .. }),
        "{msg}\n{}",
        d.log()
    );
    assert!(
        msg.contains("account stale") && msg.contains("refresh the access token"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_sends_with_a_bearer_token_and_refuses_a_stale_one() {
    let root = tempfile::tempdir().unwrap();
    let Some(server) = common::smtp::start(root.path(), "ann", GOOD, false) else {
        return;
    };
    let mail = || {
        lettre::Message::builder()
            .from("ann@example.com".parse().unwrap())
            .to("bob@example.com".parse().unwrap())
            .subject("hi")
            .body("hello".to_string())
            .unwrap()
    };
    smtp::send(&account("sgood", 9, Some(server.port), GOOD), &mail())
        .await
        .expect("a good token sends");
    assert_eq!(server.accepted(), 1);
    let err = smtp::send(
        &account("sstale", 9, Some(server.port), "ya29.expired"),
        &mail(),
    )
    .await
    .expect_err("a stale token is refused");
    assert_eq!(server.accepted(), 1, "nothing more was accepted: {err}");
    let msg = err.to_string();
    assert!(
        msg.contains("account sstale") && msg.contains("refresh the access token"),
        "{msg}"
    );
}
