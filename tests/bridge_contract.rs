//! The contract every channel's send side keeps, run against each bridge
//! (console, iMessage through a stand-in osascript, email through real
//! dovecot + aiosmtpd, WhatsApp through a Graph API double, Telegram through a local Bot API double): a confirmed reply is delivered once per key however
//! often the yes is repeated; a new instance of the bridge (a restarted
//! process) finds the delivery in its ledger; the reader's copy of our own
//! send is recognised as an echo, once; health names the channel and is up.
//! A new channel adds its case here.

mod common;

use std::path::Path;

use steward::bridges::{Bridge, Bridges};
use steward::config::Config;
use steward::pipeline::{
    Actor, Decision, Effect, Pipeline, RunRequest, RunStatus, Settings, Trigger,
};
use steward::spec::{Roster, Usd};
use steward::store::Store;
use steward::types::StepKey;

/// One bridge under test.
struct Case {
    /// A fresh instance over the same files (as after a restart).
    make: Box<dyn Fn() -> Bridge>,
    /// Where a reply goes on this channel, and the agent that drafts there.
    to: String,
    agent: &'static str,
    /// How many messages actually reached the recipient.
    delivered: Box<dyn Fn() -> usize>,
    /// The text as this channel's reader reports our own send coming back.
    echo: Box<dyn Fn(&str) -> String>,
}

async fn contract(dir: &Path, store: Store, case: Case) {
    let bridge = (case.make)();
    let channel = bridge.channel();
    let pipeline = Pipeline::new(
        store.clone(),
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
        Roster::load(dir),
        Settings::from_config(&Config::default()),
        Bridges::new(vec![bridge.clone()]),
    );
    let out = pipeline
        .run(RunRequest {
            agent: case.agent.into(),
            trigger: Trigger::Contact,
            actor: Actor::Handle {
                channel: channel.into(),
                handle: "someone".into(),
            },
            input: "are we on?".into(),
            dedup_key: Some(format!("contract:{channel}")),
            plan: vec![Effect::Reply {
                channel: channel.into(),
                to: case.to.clone(),
                text: "yes, 7pm".into(),
            }],
            forecast_usd: Usd(0),
        })
        .await
        .unwrap();
    assert_eq!(out.status, RunStatus::Waiting, "{channel}: {out:?}");
    assert_eq!((case.delivered)(), 0, "{channel}: nothing before the yes");
    let id = out.confirmations[0].clone();
    let done = pipeline
        .decide(&id, Decision::Approved, None, &Actor::Console)
        .await
        .unwrap();
    assert_eq!(done.status, RunStatus::Succeeded, "{channel}: {done:?}");
    assert_eq!((case.delivered)(), 1, "{channel}: delivered once");

    // Send once per key: a second yes is refused and sends nothing.
    let again = pipeline
        .decide(&id, Decision::Approved, None, &Actor::Console)
        .await;
    assert!(
        again.is_err(),
        "{channel}: a decided confirmation stays decided"
    );
    assert!(pipeline.resume().await.unwrap().is_empty());
    assert_eq!((case.delivered)(), 1, "{channel}: still once");

    // Ledger lookup after a crash: a new instance knows the key; another key is unknown.
    let restarted = (case.make)();
    let key = StepKey {
        run_id: out.run_id.clone(),
        step: 0,
        attempt: 1,
    };
    let found = restarted.delivered(&key).await.unwrap();
    assert!(found.is_some(), "{channel}: the ledger knows {key}");
    let other = StepKey {
        run_id: "r-never".into(),
        step: 0,
        attempt: 1,
    };
    assert_eq!(restarted.delivered(&other).await.unwrap(), None);

    // Echo dropped: our own send read back from the channel is an echo, once.
    let echo_key = format!("{channel}>{}", case.to);
    let text = (case.echo)("yes, 7pm");
    let (k, t) = (echo_key.clone(), text.clone());
    let first = store
        .write(move |c| Ok(steward::owner_state::take_echo(c, &k, &t)?))
        .await
        .unwrap();
    assert!(first, "{channel}: our send coming back is recognised");
    let second = store
        .write(move |c| Ok(steward::owner_state::take_echo(c, &echo_key, &text)?))
        .await
        .unwrap();
    assert!(
        !second,
        "{channel}: and only once (the owner typing it is theirs)"
    );

    // Health names the channel and is up for a working setup.
    let health = restarted.health();
    assert_eq!(health.channel, channel);
    assert!(health.up, "{channel}: {}", health.detail);
}

#[tokio::test]
async fn the_console_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let root = dir.path().to_path_buf();
    let outbox = root.join("console/outbox.jsonl");
    let case = Case {
        make: Box::new(move || {
            Bridge::Console(steward::bridges::console::ConsoleBridge::new(&root))
        }),
        to: "+15125551234".into(),
        agent: "imessage-assistant",
        delivered: Box::new(move || {
            steward::bridges::ledger::read(&outbox)
                .unwrap()
                .iter()
                .filter(|d| d.audience == "contact")
                .count()
        }),
        echo: Box::new(str::to_string),
    };
    contract(dir.path(), store, case).await;
}

#[tokio::test]
async fn imessage_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let calls_dir = dir.path().join("calls");
    std::fs::create_dir(&calls_dir).unwrap();
    let osascript = common::osascript::fake(&calls_dir);
    let root = dir.path().to_path_buf();
    let case = Case {
        make: Box::new(move || {
            Bridge::Imessage(
                steward::bridges::imessage::outbound::ImessageOutbound::new(
                    &osascript,
                    &root,
                    Some(steward::memory::handle::Deferred::new(
                        steward::memory::Canonicalizer::new("US"),
                        "+15125550000",
                    )),
                )
                .unwrap(),
            )
        }),
        to: "iMessage;-;+15125551234".into(),
        agent: "imessage-assistant",
        delivered: Box::new(move || common::osascript::calls(&calls_dir).len()),
        echo: Box::new(str::to_string),
    };
    contract(dir.path(), store, case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_keeps_the_contract() {
    use steward::bridges::email::{ingest::EmailIngest, mime};
    let Some(imap) = common::dovecot::start("me", "pw") else {
        return;
    };
    imap.add_user("ann", "ann-pw");
    let Some(smtp) = common::smtp::start(&imap.mail_root(), "me", "pw", false) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let secret = dir.path().join("pw");
    std::fs::write(&secret, "pw").unwrap();
    let config: Config = serde_saphyr::from_str(&format!(
        "owner:\n  name: Priya\nbridges:\n  email:\n    accounts:\n\
         \x20     - {{name: personal, address: me@example.com, user: me, password: \"file:{}\",\n\
         \x20        imap: {{host: 127.0.0.1, port: {}, security: none}}, smtp: {{host: 127.0.0.1, port: {}, security: none}}}}\n",
        secret.display(),
        imap.port,
        smtp.port
    ))
    .unwrap();
    // Ann's mail, in memory as the reader would have stored it.
    let raw = "From: Ann Lee <ann@example.com>\r\nTo: me@example.com\r\nSubject: Friday\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <a1@example.com>\r\n\r\nare we on?\r\n";
    let mail = mime::parse(raw.as_bytes()).unwrap();
    store
        .write(move |c| {
            let mut ingest = EmailIngest::new(
                c,
                steward::memory::Canonicalizer::new("US"),
                Some("Priya"),
                &["me@example.com".to_string()],
            )?;
            let src = steward::bridges::email::ingest::Source {
                account: "personal",
                folder: "INBOX",
            };
            ingest.mail(c, src, &mail)?;
            Ok(())
        })
        .await
        .unwrap();
    let (root, s) = (dir.path().to_path_buf(), store.clone());
    let mail_root = imap.mail_root();
    let case = Case {
        make: Box::new(move || {
            Bridge::Email(
                steward::bridges::email::outbound::EmailOutbound::new(&config, &root, s.clone())
                    .unwrap(),
            )
        }),
        to: "a1@example.com".into(),
        agent: "email-assistant",
        delivered: Box::new(move || {
            let dir = mail_root.join("ann/Maildir/new");
            std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
        }),
        // The reader's copy: our Sent mail parsed as memory stores it.
        echo: Box::new(move |_| {
            let sent = imap.mails("me", "Sent");
            assert_eq!(sent.len(), 1, "one copy in Sent");
            mime::parse(sent[0].as_bytes()).unwrap().text
        }),
    };
    contract(dir.path(), store, case).await;
    drop(smtp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_cloud_keeps_the_contract() {
    use common::graph::{self, Graph};
    use steward::bridges::whatsapp::cloud::{Webhook, outbound::WhatsappCloud, webhook::sign};
    let graph = Graph::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    for (name, value) in [("t", graph::TOKEN), ("s", "app-secret"), ("v", "vt")] {
        std::fs::write(dir.path().join(name), value).unwrap();
    }
    let config: Config = serde_saphyr::from_str(&format!(
        "owner:\n  name: Priya\nbridges:\n  whatsapp:\n    mode: cloud\n    phoneNumberId: \"{}\"\n\
         \x20   token: \"file:{}\"\n    appSecret: \"file:{}\"\n    verifyToken: \"file:{}\"\n    apiUrl: \"{}\"\n",
        graph::PHONE_NUMBER_ID,
        dir.path().join("t").display(),
        dir.path().join("s").display(),
        dir.path().join("v").display(),
        graph.url,
    ))
    .unwrap();
    // Ann wrote a minute ago (inside the 24-hour window), through the webhook.
    let (bus, _) = tokio::sync::broadcast::channel(4);
    let hook = Webhook::new(&config, dir.path(), store.clone(), bus)
        .unwrap()
        .unwrap();
    let now = jiff::Timestamp::now().as_second() - 60;
    let body = graph::inbound("15125551234", "Ann Lee", "wamid.a1", "are we on?", now).to_string();
    hook.deliver(body.as_bytes(), Some(&sign(b"app-secret", body.as_bytes())))
        .await
        .unwrap();
    let (root, s) = (dir.path().to_path_buf(), store.clone());
    let wa = config
        .bridges
        .whatsapp
        .clone()
        .unwrap()
        .cloud()
        .unwrap()
        .clone();
    let sent = std::sync::Arc::new(graph);
    let counted = sent.clone();
    let case = Case {
        make: Box::new(move || Bridge::Whatsapp(WhatsappCloud::new(&wa, &root, s.clone()))),
        to: "+15125551234".into(),
        agent: "whatsapp-assistant",
        delivered: Box::new(move || counted.accepted().len()),
        // The Cloud API does not echo our sends as messages; the assistant's
        // echo ledger entry is what a linked device would read back.
        echo: Box::new(str::to_string),
    };
    contract(dir.path(), store, case).await;
    drop(sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_linked_keeps_the_contract() {
    use steward::bridges::whatsapp::linked::{outbound::WhatsappLinked, session::Session, state};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    state::save(
        dir.path(),
        &state::LinkState {
            status: state::Status::Linked,
            number: Some("+15125550000".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let config: Config =
        serde_saphyr::from_str("bridges:\n  whatsapp:\n    pacing: false\n").unwrap();
    let linked = config.bridges.whatsapp.unwrap().linked().unwrap().clone();
    let double = common::wadouble::Double::new();
    let root = dir.path().to_path_buf();
    let session: std::sync::Arc<dyn Session> = double.clone();
    let case = Case {
        make: Box::new(move || {
            Bridge::WhatsappLinked(WhatsappLinked::new(&linked, &root, session.clone()))
        }),
        to: "+15125551234".into(),
        agent: "whatsapp-assistant",
        delivered: Box::new(move || double.sent().len()),
        echo: Box::new(str::to_string),
    };
    contract(dir.path(), store, case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_keeps_the_contract() {
    let api = common::telegram::BotApi::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, common::telegram::TOKEN).unwrap();
    let config: Config = serde_saphyr::from_str(&format!(
        "bridges:\n  telegram:\n    token: \"file:{}\"\n    ownerUserId: 111\n    apiUrl: \"{}\"\n    pacing: false\n",
        token.display(),
        api.url
    ))
    .unwrap();
    let (root, s) = (dir.path().to_path_buf(), store.clone());
    let seen = api.clone();
    let case = Case {
        make: Box::new(move || {
            Bridge::Telegram(steward::bridges::telegram::outbound::TelegramOutbound::new(
                config.bridges.telegram.as_ref().unwrap(),
                &root,
                s.clone(),
            ))
        }),
        to: "222".into(),
        agent: "telegram-assistant",
        delivered: Box::new(move || {
            seen.bodies("sendMessage")
                .iter()
                .filter(|b| b["chat_id"] == 222)
                .count()
        }),
        // A bot never gets its own messages back; the pipeline's echo ledger
        // still holds the send for the owner-typed-it-themself check.
        echo: Box::new(str::to_string),
    };
    contract(dir.path(), store, case).await;
}
