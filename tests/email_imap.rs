//! The IMAP reader against a real dovecot: sync from the cursor, IDLE wake-up,
//! a server restart mid-session, a UIDVALIDITY change, a wrong password.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use steward::bridges::email::imap;
use steward::bridges::email::ingest::EmailIngest;
use steward::config::{EmailAccount, MailAuth, MailSecurity, MailServer, SecretRef};
use steward::memory::Canonicalizer;
use steward::store::Store;
use steward::types::Inbound;

fn account(port: u16, password: &str) -> EmailAccount {
    // SAFETY: tests set this before any thread reads it; each test uses its own name.
    let var = format!("STEWARD_TEST_IMAP_PW_{port}");
    unsafe { std::env::set_var(&var, password) };
    EmailAccount {
        name: "personal".into(),
        address: "me@example.com".into(),
        imap: MailServer {
            host: "127.0.0.1".into(),
            port,
            security: MailSecurity::None,
            ca_file: None,
        },
        user: Some("ann".into()),
        password: format!("env:{var}").parse::<SecretRef>().unwrap(),
        auth: MailAuth::Password,
        folders: vec!["INBOX".into()],
        sent: "Sent".into(),
        smtp: None,
        poll_seconds: 1,
    }
}

fn mail(n: u32) -> String {
    format!(
        "From: Ann Lee <ann@example.com>\nTo: me@example.com\nSubject: note {n}\nDate: Tue, 1 Dec 2026 10:00:0{} +0000\nMessage-ID: <m{n}@example.com>\n\nmessage number {n}\n",
        n % 10
    )
}

struct Reader {
    _dir: tempfile::TempDir,
    store: Store,
    rx: tokio::sync::broadcast::Receiver<Inbound>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn reader(account: EmailAccount) -> Reader {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let ingest = store
        .write_blocking(|c| {
            Ok(EmailIngest::new(
                c,
                Canonicalizer::new("US"),
                Some("Me"),
                &["me@example.com".to_string()],
            )?)
        })
        .unwrap();
    let (bus, rx) = tokio::sync::broadcast::channel(64);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(imap::watch(
        account,
        "INBOX".into(),
        store.clone(),
        Arc::new(Mutex::new(ingest)),
        bus,
        stop_rx,
    ));
    Reader {
        _dir: dir,
        store,
        rx,
        stop,
        task,
    }
}

/// How long a reconnect may take: the reader backs off 1, 2, 4, 8… s while
/// the server is down, and a loaded machine restarts dovecot slowly.
const RECONNECT_WAIT: Duration = Duration::from_secs(120);

async fn next(rx: &mut tokio::sync::broadcast::Receiver<Inbound>, limit: Duration) -> Inbound {
    tokio::time::timeout(limit, rx.recv())
        .await
        .expect("a mail arrived in time")
        .unwrap()
}

/// Wait until the reader has read INBOX once (its cursor exists): mail
/// delivered after that is new, not history.
async fn first_read(r: &Reader) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10)
        && r.store
            .write_blocking(|c| Ok(imap::cursor(c, "personal", "INBOX")?))
            .unwrap()
            .is_none()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(store: &Store) -> i64 {
    store
        .write_blocking(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM messages WHERE channel = 'email'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_from_the_cursor_wakes_on_idle_survives_a_restart_and_a_new_uidvalidity() {
    let Some(mut dovecot) = common::dovecot::start("ann", "secret") else {
        return;
    };
    dovecot.deliver("ann", &mail(1));
    dovecot.deliver("ann", &mail(2));
    let mut r = reader(account(dovecot.port, "secret"));
    // What the folder held before its first read is history: in memory, never published.
    let t = Instant::now();
    while count(&r.store) < 2 && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&r.store), 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(r.rx.try_recv().is_err(), "history is not acted on");

    // IDLE: a new mail is in memory without a poll.
    let sent = Instant::now();
    dovecot.deliver("ann", &mail(3));
    let c = next(&mut r.rx, Duration::from_secs(10)).await;
    assert_eq!(c.external_id, "m3@example.com");
    assert_eq!(c.channel, "email");
    assert!(c.text.contains("message number 3"));
    eprintln!("IDLE delivery → Inbound: {:?}", sent.elapsed());
    let cursor = r
        .store
        .write_blocking(|c| Ok(imap::cursor(c, "personal", "INBOX")?))
        .unwrap()
        .unwrap();
    assert_eq!(cursor.1, 3, "the cursor moved with the rows: {cursor:?}");

    // The server restarts mid-session: the reader reconnects; nothing lost or doubled.
    dovecot.stop();
    dovecot.deliver("ann", &mail(4));
    dovecot.restart();
    let d = next(&mut r.rx, RECONNECT_WAIT).await;
    assert_eq!(d.external_id, "m4@example.com");
    assert_eq!(count(&r.store), 4);

    // A new UIDVALIDITY: the folder is read again, Message-IDs keep memory whole.
    dovecot.reset_uidvalidity("ann");
    dovecot.deliver("ann", &mail(5));
    let e = next(&mut r.rx, RECONNECT_WAIT).await;
    assert_eq!(e.external_id, "m5@example.com");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(r.rx.try_recv().is_err(), "no old mail published twice");
    assert_eq!(count(&r.store), 5);

    let _ = r.stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), r.task)
        .await
        .expect("the reader stops when told")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_a_clear_error_naming_the_account() {
    let Some(dovecot) = common::dovecot::start("ann", "secret") else {
        return;
    };
    let err = imap::connect(&account(dovecot.port, "wrong"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("account personal") && text.contains("refused the login for ann"),
        "{text}"
    );
    // Plain text to a remote host is refused before any connection.
    let mut remote = account(dovecot.port, "secret");
    remote.imap.host = "imap.example.com".into();
    let err = imap::connect(&remote).await.unwrap_err().to_string();
    assert!(err.contains("in clear"), "{err}");
    // A server that cannot do STARTTLS (this one has ssl = no) is an error, never a plaintext login.
    let mut starttls = account(dovecot.port, "secret");
    starttls.imap.security = MailSecurity::Starttls;
    let err = imap::connect(&starttls).await.unwrap_err().to_string();
    assert!(err.contains("refused STARTTLS"), "{err}");
}

#[test]
fn the_daemon_reads_a_configured_account_into_memory() {
    let Some(dovecot) = common::dovecot::start("ann", "secret") else {
        return;
    };
    dovecot.deliver("ann", &mail(7));
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let cfg = home.file("steward.yaml");
    let mut yaml = std::fs::read_to_string(&cfg).unwrap();
    yaml.push_str(&format!(
        "\nbridges:\n  imessage:\n    enabled: false\n  email:\n    accounts:\n      - name: personal\n        address: me@example.com\n        user: ann\n        password: env:STEWARD_TEST_DAEMON_IMAP\n        imap: {{host: 127.0.0.1, port: {}, security: none}}\n",
        dovecot.port
    ));
    std::fs::write(&cfg, yaml).unwrap();
    let mut cmd = home.cmd(&["up", "--listen", "127.0.0.1:0"]);
    cmd.env("STEWARD_TEST_DAEMON_IMAP", "secret");
    let mut daemon = common::start(cmd);
    let db = home.file("steward.db");
    let stored = |id: &str| {
        rusqlite::Connection::open(&db)
            .and_then(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM messages WHERE channel = 'email' AND external_id = ?1",
                    [id],
                    |r| r.get::<_, i64>(0),
                )
            })
            .unwrap_or(0)
            == 1
    };
    assert!(
        common::wait_until(Duration::from_secs(15), || stored("m7@example.com")),
        "the mail waiting in the inbox was read: {}",
        daemon.log.lock().unwrap()
    );
    dovecot.deliver("ann", &mail(8));
    assert!(
        common::wait_until(Duration::from_secs(15), || stored("m8@example.com")),
        "a new mail arrived through IDLE"
    );
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_for_exit(Duration::from_secs(5)).expect("stops");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn doctor_checks_each_mail_account_and_names_the_fix() {
    let Some(dovecot) = common::dovecot::start("ann", "secret") else {
        return;
    };
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let cfg = home.file("steward.yaml");
    let mut yaml = std::fs::read_to_string(&cfg).unwrap();
    yaml.push_str(&format!(
        "\nbridges:\n  imessage:\n    enabled: false\n  email:\n    accounts:\n      - name: work\n        address: me@example.com\n        user: ann\n        password: env:STEWARD_TEST_DOCTOR_IMAP\n        imap: {{host: 127.0.0.1, port: {}, security: none}}\n",
        dovecot.port
    ));
    std::fs::write(&cfg, yaml).unwrap();
    let email_check = |pw: &str| {
        let out = home
            .cmd(&["doctor", "--json"])
            .env("STEWARD_TEST_DOCTOR_IMAP", pw)
            .output()
            .unwrap();
        let v = common::json(&out);
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "email")
            .unwrap()
            .clone()
    };
    let ok = email_check("secret");
    assert_eq!(ok["status"], "ok", "{ok}");
    assert!(
        ok["detail"]
            .as_str()
            .unwrap()
            .contains("work: login ok, IDLE"),
        "{ok}"
    );
    let bad = email_check("wrong");
    assert_eq!(bad["status"], "fail", "{bad}");
    assert!(
        bad["detail"].as_str().unwrap().contains("account work"),
        "{bad}"
    );
    assert!(
        bad["fix"]
            .as_str()
            .unwrap()
            .contains("bridges.email.accounts"),
        "{bad}"
    );
}

fn dated(n: u32, days_ago: i64) -> String {
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days_ago);
    format!(
        "From: Ann Lee <ann@example.com>\nTo: me@example.com\nSubject: note {n}\nDate: {}\nMessage-ID: <h{n}@example.com>\n\nhistory number {n}\n",
        at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    )
}

#[test]
fn import_email_since_reads_history_once_and_the_reader_goes_on_from_there() {
    let Some(d) = common::dovecot::start("ann", "pw") else {
        return;
    };
    // dovecot's SINCE uses the internal date (delivery time): set it from the Date header.
    d.deliver_dated("ann", &dated(1, 200), 200);
    d.deliver_dated("ann", &dated(2, 10), 10);
    d.deliver_dated("ann", &dated(3, 1), 1);
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let secret = home.user_home.join("pw");
    std::fs::write(&secret, "pw").unwrap();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "owner:\n  name: Me\nbridges:\n  email:\n    accounts:\n\
             \x20     - {{name: personal, address: me@example.com, user: ann, password: \"file:{}\",\n\
             \x20        imap: {{host: 127.0.0.1, port: {}, security: none}}}}\n",
            secret.display(),
            d.port
        ),
    )
    .unwrap();
    let out = home.run(&[
        "import",
        "email",
        "--account",
        "personal",
        "--since",
        "90d",
        "--json",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let counts = common::json(&out);
    assert_eq!(counts["messages"], 2, "{counts}");
    assert_eq!(counts["alreadyKnown"], 0);
    let again = common::json(&home.run(&["import", "email", "--account", "personal", "--json"]));
    assert_eq!(
        again["messages"], 1,
        "all mail: only the old one is new: {again}"
    );
    assert_eq!(again["alreadyKnown"], 2);
    // A wrong account name is a clear error that lists the configured ones.
    let out = home.run(&["import", "email", "--account", "work"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("personal"),
        "{}",
        common::stderr(&out)
    );
    let out = home.run(&[
        "import",
        "email",
        "--account",
        "personal",
        "--since",
        "soon",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("90d"),
        "{}",
        common::stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_idle_is_polled() {
    let Some(dovecot) = common::dovecot::start_with(
        "ann",
        "secret",
        "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE",
    ) else {
        return;
    };
    let mut r = reader(account(dovecot.port, "secret"));
    // The first read (an empty folder) sets the cursor; then new mail comes by polling.
    first_read(&r).await;
    dovecot.deliver("ann", &mail(7));
    let m = next(&mut r.rx, Duration::from_secs(5)).await;
    assert_eq!(m.external_id, "m7@example.com");
    let _ = r.stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), r.task).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn starttls_upgrades_the_connection_and_trusts_the_ca_file() {
    let certs = tempfile::tempdir().unwrap();
    let Some((cert, key)) = common::self_signed(certs.path()) else {
        panic!("openssl is needed for the STARTTLS test");
    };
    let Some(dovecot) = common::dovecot::start_with(
        "ann",
        "secret",
        &format!(
            "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
            cert.display(),
            key.display()
        ),
    ) else {
        return;
    };
    let mut a = account(dovecot.port, "secret");
    a.imap.security = MailSecurity::Starttls;
    // Without the CA the server's certificate is refused, with the account named.
    let err = imap::connect(&a).await.unwrap_err();
    assert!(
        err.to_string().contains("personal") && err.to_string().contains("TLS"),
        "{err}"
    );
    a.imap.ca_file = Some(cert.clone());
    assert!(imap::probe(&a).await.unwrap(), "IDLE over STARTTLS");
    let mut r = reader(a);
    first_read(&r).await;
    dovecot.deliver("ann", &mail(8));
    let m = next(&mut r.rx, Duration::from_secs(10)).await;
    assert_eq!(m.external_id, "m8@example.com");
    let _ = r.stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), r.task).await;
}
