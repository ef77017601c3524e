//! Email end to end on the real binary with real servers: a mail from Ann
//! reaches dovecot, the daemon reads it by IDLE, drafts a reply (a model
//! double), asks the owner, and `steward say "1 send"` hands exactly one
//! reply to aiosmtpd, which delivers it into Ann's mailbox with the thread's
//! headers; a copy lands in the owner's Sent folder and every receipt
//! verifies. Then the same with the daemon killed mid-send: never two mails.

mod common;

use std::process::Command;
use std::time::Duration;

use axum::Json;
use common::dovecot::Dovecot;
use common::smtp::Smtpd;
use common::{Daemon, TestHome, json, stderr, wait_until};
use serde_json::{Value, json};

const PASSWORD: &str = "s3cret-mail";

async fn chat(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "yes! 7pm works" } }],
        "usage": { "prompt_tokens": 80, "completion_tokens": 4 },
    }))
}

struct Rig {
    home: TestHome,
    imap: Dovecot,
    smtp: Smtpd,
    _model: String,
}

/// dovecot with the owner (`me`) and Ann, aiosmtpd delivering into them, a
/// model double, and a home whose account sends through both.
fn rig(starttls: bool) -> Option<Rig> {
    rig_with(starttls, PASSWORD)
}

fn rig_with(starttls: bool, smtp_password: &str) -> Option<Rig> {
    let imap = common::dovecot::start("me", PASSWORD)?;
    imap.add_user("ann", "ann-pw");
    let smtp = common::smtp::start(&imap.mail_root(), "me", smtp_password, starttls)?;
    let model = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)),
    );
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let secret = home.user_home.join("mail-password");
    std::fs::write(&secret, PASSWORD).unwrap();
    let smtp_security = if starttls { "starttls" } else { "none" };
    let ca = smtp
        .cert
        .as_ref()
        .map(|c| format!(", caFile: {}", c.display()))
        .unwrap_or_default();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"me@example.com\"]\nquietHours: {{start: \"00:00\", end: \"00:00\"}}\n\
             bridges:\n  imessage:\n    enabled: false\n  email:\n    accounts:\n\
             \x20     - name: personal\n        address: me@example.com\n        user: me\n        password: \"file:{}\"\n\
             \x20       imap: {{host: 127.0.0.1, port: {}, security: none}}\n\
             \x20       smtp: {{host: {}, port: {}, security: {smtp_security}{ca}}}\n\
             models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{model}/v1\"}}\n  capabilities:\n    draft: [\"local/tiny\"]\n",
            secret.display(),
            imap.port,
            if starttls { "localhost" } else { "127.0.0.1" },
            smtp.port,
        ),
    )
    .unwrap();
    Some(Rig {
        home,
        imap,
        smtp,
        _model: model,
    })
}

fn ann_writes(imap: &Dovecot) {
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000");
    imap.deliver(
        "me",
        &format!(
            "From: Ann Lee <ann@example.com>\nTo: Priya <me@example.com>\nSubject: Friday\nDate: {date}\n\
             Message-ID: <a1@example.com>\nReferences: <root@example.com>\nIn-Reply-To: <root@example.com>\n\n\
             are we still on for friday?\n"
        ),
    );
}

fn up(home: &TestHome, fault: Option<&str>) -> Daemon {
    let mut cmd: Command = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    if let Some(point) = fault {
        cmd.env("STEWARD_FAULT", format!("crash-after:{point}"));
    }
    let d = common::start(cmd);
    // Mail already in the folder at the first read is history (never drafted
    // to): wait for that read before Ann writes.
    let db = home.file("steward.db");
    let read = wait_until(Duration::from_secs(10), || {
        steward::store::open_readonly(&db)
            .and_then(|c| {
                Ok(c.query_row("SELECT COUNT(*) FROM email_cursors", [], |r| {
                    r.get::<_, i64>(0)
                })?)
            })
            .is_ok_and(|n| n > 0)
    });
    assert!(
        read,
        "the mail reader read INBOX: {}",
        d.log.lock().unwrap()
    );
    d
}

fn outbox(home: &TestHome) -> Vec<String> {
    steward::bridges::console::read_outbox(&home.file("console/outbox.jsonl"))
        .unwrap()
        .into_iter()
        .map(|d| d.text)
        .collect()
}

/// Wait for the draft's confirmation line in the owner's channel (the console here).
fn wait_for_draft(rig: &Rig, d: &Daemon) -> String {
    assert!(
        wait_until(Duration::from_secs(20), || outbox(&rig.home)
            .iter()
            .any(|t| t.starts_with("✉️"))),
        "a confirmation reached the owner: {:?}\n{}",
        outbox(&rig.home),
        d.log.lock().unwrap()
    );
    outbox(&rig.home)
        .into_iter()
        .find(|t| t.starts_with("✉️"))
        .unwrap()
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l[name.len()..].starts_with(':')
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[test]
fn a_mail_from_ann_becomes_one_threaded_reply_after_1_send() {
    let Some(rig) = rig(false) else { return };
    let d = up(&rig.home, None);
    ann_writes(&rig.imap);
    let prompt = wait_for_draft(&rig, &d);
    assert!(
        prompt.starts_with(
            "✉️ 1 · Ann Lee — Re: Friday: \"are we still on for friday?\" → draft: \"yes! 7pm works\""
        ),
        "{prompt}"
    );
    assert_eq!(
        rig.smtp.accepted(),
        0,
        "nothing is sent before the owner's yes"
    );

    let out = rig.home.run(&["say", "1 send", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["reply"],
        "✅ sent to Ann Lee.",
        "{}",
        d.log.lock().unwrap()
    );

    let inbox = rig.imap.mails("ann", "");
    assert_eq!(inbox.len(), 1, "exactly one reply in Ann's mailbox");
    let reply = &inbox[0];
    assert_eq!(header(reply, "In-Reply-To"), Some("<a1@example.com>"));
    assert_eq!(
        header(reply, "References"),
        Some("<root@example.com> <a1@example.com>")
    );
    assert_eq!(header(reply, "Subject"), Some("Re: Friday"));
    assert!(header(reply, "From").unwrap().contains("me@example.com"));
    assert!(reply.contains("yes! 7pm works"), "{reply}");
    let sent = rig.imap.mails("me", "Sent");
    assert_eq!(sent.len(), 1, "a copy in the owner's Sent folder");
    assert_eq!(header(&sent[0], "Message-ID"), header(reply, "Message-ID"));
    assert_eq!(rig.smtp.accepted(), 1);

    let verify = rig.home.run(&["receipts", "verify", "--json"]);
    assert!(verify.status.success(), "{}", common::stdout(&verify));
    // Saying yes again sends nothing more.
    let again = rig.home.run(&["say", "1 send", "--json"]);
    assert!(again.status.success());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rig.smtp.accepted(), 1, "{}", json(&again)["reply"]);
}

#[test]
fn a_list_mail_gets_no_draft() {
    let Some(rig) = rig(false) else { return };
    let d = up(&rig.home, None);
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000");
    rig.imap.deliver(
        "me",
        &format!(
            "From: Rust Weekly <news@example.org>\nTo: me@example.com\nSubject: This week\nDate: {date}\n\
             Message-ID: <l1@example.org>\nList-Id: <weekly.example.org>\nPrecedence: list\n\nhello readers, what do you think?\n"
        ),
    );
    ann_writes(&rig.imap);
    // Ann's mail is drafted; the list mail that came first never is.
    wait_for_draft(&rig, &d);
    let lines = outbox(&rig.home);
    assert!(
        lines.iter().all(|t| !t.contains("Rust Weekly")),
        "{lines:?}"
    );
}

#[test]
fn starttls_with_auth_delivers_the_reply() {
    let Some(rig) = rig(true) else { return };
    let d = up(&rig.home, None);
    ann_writes(&rig.imap);
    wait_for_draft(&rig, &d);
    let out = rig.home.run(&["say", "1 send", "--json"]);
    assert_eq!(
        json(&out)["reply"],
        "✅ sent to Ann Lee.",
        "{}",
        d.log.lock().unwrap()
    );
    assert_eq!(rig.imap.mails("ann", "").len(), 1);
}

#[test]
fn a_refused_login_names_the_account_and_sends_nothing() {
    let Some(rig) = rig_with(false, "another-password") else {
        return;
    };
    let d = up(&rig.home, None);
    ann_writes(&rig.imap);
    wait_for_draft(&rig, &d);
    let out = rig.home.run(&["say", "1 send", "--json"]);
    let reply = json(&out)["reply"].as_str().unwrap_or_default().to_string();
    assert!(
        reply.starts_with("⚠️ not sent to Ann Lee") && reply.contains("account personal"),
        "{reply}"
    );
    assert!(
        !reply.contains("may or may not"),
        "a refused login is a certain no: {reply}"
    );
    assert_eq!(rig.smtp.accepted(), 0);
    assert!(rig.imap.mails("ann", "").is_empty());
}

/// Kill the daemon at `point` during the send and start it again (a restart
/// settles interrupted runs before it says it is up).
fn crash_during_send(point: &str) -> Option<(Rig, Daemon)> {
    let rig = rig(false)?;
    let mut d = up(&rig.home, Some(point));
    ann_writes(&rig.imap);
    wait_for_draft(&rig, &d);
    let _ = rig.home.run(&["say", "1 send", "--json"]);
    assert!(
        d.wait_for_exit(Duration::from_secs(20)).is_some(),
        "the daemon crashed at {point}"
    );
    assert_eq!(rig.smtp.accepted(), 1, "the server took the mail once");
    let d = up(&rig.home, None);
    Some((rig, d))
}

#[test]
fn killed_after_smtp_accepted_never_sends_twice_and_tells_the_owner() {
    let Some((rig, _d)) = crash_during_send("smtp.accepted") else {
        return;
    };
    assert_eq!(rig.imap.mails("ann", "").len(), 1, "one delivery, not two");
    assert_eq!(rig.smtp.accepted(), 1);
    let lines = outbox(&rig.home);
    assert!(
        lines
            .iter()
            .any(|t| t.starts_with("⚠️") && t.contains("may or may not have gone out")),
        "the owner is told the send is uncertain: {lines:?}"
    );
}

#[test]
fn killed_after_the_sent_copy_recovers_as_delivered() {
    let Some((rig, _d)) = crash_during_send("email.sent-copy") else {
        return;
    };
    assert_eq!(rig.imap.mails("ann", "").len(), 1, "one delivery, not two");
    assert_eq!(rig.smtp.accepted(), 1);
    let lines = outbox(&rig.home);
    assert!(
        !lines.iter().any(|t| t.starts_with("⚠️")),
        "found in Sent: nothing to warn about: {lines:?}"
    );
    let verify = rig.home.run(&["receipts", "verify", "--json"]);
    assert!(verify.status.success(), "{}", common::stdout(&verify));
}

/// The owner's notes by mail: `owner.channels: [email, …]`.
fn rig_owner_by_mail() -> Option<Rig> {
    let rig = rig(false)?;
    let path = rig.home.file("steward.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let yaml = yaml.replacen("owner:\n", "owner:\n  channels: [email, console]\n", 1);
    std::fs::write(&path, yaml).unwrap();
    Some(rig)
}

/// A mail Steward wrote to the owner.
fn is_note(mail: &str) -> bool {
    header(mail, "Message-ID").is_some_and(|id| id.starts_with("<steward.owner."))
        && header(mail, "From").is_some_and(|f| f.starts_with("Steward"))
}

/// The owner answers Steward's note `note` with `text` (as a phone's mail app does).
fn owner_replies(imap: &Dovecot, n: u32, in_reply_to: &str, text: &str) {
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000");
    imap.deliver(
        "me",
        &format!(
            "From: Priya <me@example.com>\nTo: me@example.com\nSubject: Re: Steward\nDate: {date}\n\
             Message-ID: <owner{n}@example.com>\nIn-Reply-To: {in_reply_to}\nReferences: {in_reply_to}\n\n\
             {text}\n\nSent from my phone\n\nOn Tue, Steward wrote:\n> ✉️ 1 · Ann Lee\n"
        ),
    );
}

#[test]
fn the_owner_approves_by_answering_stewards_mail_and_a_forged_answer_does_nothing() {
    let Some(rig) = rig_owner_by_mail() else {
        return;
    };
    let d = up(&rig.home, None);
    ann_writes(&rig.imap);
    // The confirmation reaches the owner as a mail from Steward to their own address.
    let note = || {
        rig.imap
            .mails("me", "")
            .into_iter()
            .find(|m| is_note(m) && m.contains("Ann Lee =E2=80=94 Re: Friday"))
    };
    assert!(
        wait_until(Duration::from_secs(20), || note().is_some()),
        "the draft's confirmation came by mail: {:?}\n{}",
        rig.imap.mails("me", ""),
        d.log.lock().unwrap()
    );
    let note = note().unwrap();
    let id = header(&note, "Message-ID").unwrap().to_string();
    assert!(id.starts_with("<steward.owner."), "{id}");
    assert!(
        note.contains("Reply to this mail to answer Steward"),
        "{note}"
    );
    assert_eq!(rig.smtp.accepted(), 1, "only the note so far");

    // A mail that claims to be the owner but answers no note of Steward's is not a command.
    owner_replies(&rig.imap, 1, "<steward.owner.0000@example.com>", "1 send");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        rig.imap.mails("ann", "").is_empty(),
        "a forged yes sends nothing"
    );

    owner_replies(&rig.imap, 2, &id, "1 send");
    assert!(
        wait_until(Duration::from_secs(20), || rig.imap.mails("ann", "").len()
            == 1),
        "the owner's answer sent the reply: {}",
        d.log.lock().unwrap()
    );
    // The outcome comes back by mail too; Steward's own notes are never read as commands.
    assert!(
        wait_until(Duration::from_secs(20), || rig
            .imap
            .mails("me", "")
            .iter()
            .any(|m| is_note(m) && m.contains("sent to Ann Lee"))),
        "{:?}",
        rig.imap.mails("me", "")
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(rig.imap.mails("ann", "").len(), 1, "exactly one reply");
    let verify = rig.home.run(&["receipts", "verify", "--json"]);
    assert!(verify.status.success(), "{}", common::stdout(&verify));
}

#[test]
fn the_daemon_triages_new_mail_once_it_settles() {
    let Some(rig) = rig(false) else { return };
    let path = rig.home.file("steward.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        yaml.replace(
            "    draft: [\"local/tiny\"]\n",
            "    draft: [\"local/tiny\"]\n    fast: [\"local/tiny\"]\n",
        ),
    )
    .unwrap();
    let d = up(&rig.home, None);
    ann_writes(&rig.imap);
    // inbox-triage runs by itself after the mail settles (20 s); the model
    // double's answer is not JSON, so the mail is fyi.
    assert!(
        wait_until(Duration::from_secs(60), || outbox(&rig.home)
            .iter()
            .any(|t| t == "📥 triaged 1 new mail: 0 action, 1 fyi, 0 noise")),
        "{:?}\n{}",
        outbox(&rig.home),
        d.log.lock().unwrap()
    );
}
