//! The foundation bench's second measurement (issue 19): `steward up` with
//! every bridge configured and connected, each to a real server or its wire
//! double on 127.0.0.1, then left idle.
//!
//! - iMessage: the standard chat.db fixture (tests/fixtures), a stand-in osascript.
//! - Email: one account on a real dovecot (IMAP with IDLE) and aiosmtpd (SMTP).
//!   Where dovecot is missing the account is left out, the bench says so
//!   loudly and the row names what was connected (`STEWARD_REQUIRE_SERVERS=1`
//!   makes that a failure instead).
//! - Telegram: the Bot API double (long polling).
//! - WhatsApp: linked mode through the loopback wire double, after a real
//!   `steward whatsapp link` (pair code).
//!
//! "Connected" is checked, not assumed: `/metrics` must say each bridge is up,
//! and one message from a contact on each channel must reach memory through
//! that channel's live reader before the idle clock starts. A bridge that is
//! not connected stops the bench with the daemon's log.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::telegram::{BotApi, TOKEN, user};
use crate::common::wawire::WaWire;
use crate::common::{self, Daemon, TestHome, dovecot::Dovecot, smtp::Smtpd};
use crate::fixtures::{self, Msg, Scenario};
use crate::footprint::Footprint;
use steward::http::probe;

const IMAP_USER: &str = "ann";
const IMAP_PASSWORD: &str = "bench-secret";
const OWNER_JID: &str = "15125550000:9@s.whatsapp.net";
const ANN_JID: &str = "15125551234@s.whatsapp.net";
const OWNER_TELEGRAM: i64 = 111_000_111;

/// The servers and files one all-bridges daemon runs against.
struct Rig {
    home: TestHome,
    chat_db: Scenario,
    /// Kept for their lifetime: dropping them stops the servers.
    dovecot: Option<Dovecot>,
    _smtp: Option<Smtpd>,
    bot: BotApi,
    wire: WaWire,
}

/// What the all-bridges run measured.
pub struct Report {
    /// The bridges that were configured and proven connected.
    pub connected: Vec<&'static str>,
    /// Bridges left out, each with the reason (printed in the table too).
    pub left_out: Vec<String>,
    /// exec → /healthz 200 per start, in ms.
    pub ready_ms: Vec<f64>,
    pub idle: Footprint,
}

pub fn run(runs: u64, idle: Duration) -> Report {
    let rig = rig();
    let mut ready_ms = Vec::new();
    let mut daemon = None;
    for i in 0..runs.max(1) {
        let (d, took) = rig.start();
        ready_ms.push(took.as_secs_f64() * 1000.0);
        if i + 1 == runs.max(1) {
            daemon = Some(d);
        } else {
            stop(d);
        }
    }
    let daemon = daemon.expect("one daemon kept");
    let connected = rig.prove_connected(&daemon);
    std::thread::sleep(idle);
    let footprint = Footprint::read(daemon.pid());
    stop(daemon);
    Report {
        connected,
        left_out: rig.left_out(),
        ready_ms,
        idle: footprint,
    }
}

fn stop(mut d: Daemon) {
    d.signal(libc::SIGTERM);
    let status = d.wait_for_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "the all-bridges daemon did not stop cleanly: {status:?}\n{}",
        d.log.lock().unwrap()
    );
}

fn rig() -> Rig {
    let home = TestHome::new();
    let out = home.run(&["init"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let chat_db = fixtures::standard(&home.user_home);
    let calls = home.user_home.join("osascript-calls");
    std::fs::create_dir(&calls).unwrap();
    let osascript = common::osascript::fake(&calls);
    // server_missing (inside start) fails here under STEWARD_REQUIRE_SERVERS=1.
    let dovecot = common::dovecot::start(IMAP_USER, IMAP_PASSWORD);
    let smtp = dovecot
        .as_ref()
        .and_then(|d| common::smtp::start(&d.mail_root(), IMAP_USER, IMAP_PASSWORD, false));
    let rig = Rig {
        home,
        chat_db,
        dovecot,
        _smtp: smtp,
        bot: BotApi::start(),
        wire: WaWire::start(),
    };
    for why in rig.left_out() {
        eprintln!("\n!!! {why}: the all-bridges figures below are WITHOUT it !!!\n");
    }
    let email = rig.email_yaml(rig._smtp.as_ref().map(|s| s.port));
    std::fs::write(
        rig.home.file("steward.yaml"),
        format!(
            "owner:\n  name: Priya\n  handles: [\"+15125550000\"]\n\
             bridges:\n  imessage:\n    enabled: true\n    chatDb: {}\n    contacts: [{}]\n    osascript: {}\n\
             {email}  telegram:\n    token: env:STEWARD_BENCH_TELEGRAM_TOKEN\n    ownerUserId: {OWNER_TELEGRAM}\n    apiUrl: \"{}\"\n\
             \x20 whatsapp:\n    mode: linked\n",
            rig.chat_db.db.display(),
            rig.chat_db.contacts.display(),
            osascript.display(),
            rig.bot.url,
        ),
    )
    .unwrap();
    rig.link_whatsapp();
    rig
}

impl Rig {
    /// `steward <args>` with the servers' secrets and the WhatsApp wire hook.
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.home.cmd(args);
        c.env("STEWARD_WHATSAPP_WIRE", self.wire.addr.to_string())
            .env("STEWARD_BENCH_IMAP_PASSWORD", IMAP_PASSWORD)
            .env("STEWARD_BENCH_TELEGRAM_TOKEN", TOKEN)
            .env("STEWARD_LOG", "warn");
        c
    }

    fn email_yaml(&self, smtp_port: Option<u16>) -> String {
        let Some(d) = &self.dovecot else {
            return String::new();
        };
        let smtp = smtp_port
            .map(|p| format!(", smtp: {{host: 127.0.0.1, port: {p}, security: none}}"))
            .unwrap_or_default();
        format!(
            "  email:\n    accounts:\n      - {{name: personal, address: me@example.com, user: {IMAP_USER}, \
             password: env:STEWARD_BENCH_IMAP_PASSWORD, imap: {{host: 127.0.0.1, port: {}, security: none}}{smtp}}}\n",
            d.port
        )
    }

    fn left_out(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.dovecot.is_none() {
            out.push(
                "EMAIL BRIDGE LEFT OUT: dovecot is not installed (apt-get install dovecot-imapd)"
                    .into(),
            );
        } else if self._smtp.is_none() {
            out.push("email SMTP left out: aiosmtpd is not installed (pip install aiosmtpd); IMAP reading is in".into());
        }
        out
    }

    /// A real `steward whatsapp link --phone`, the wire double playing WhatsApp.
    fn link_whatsapp(&self) {
        self.wire.script(vec![
            json!({"event": "pairCode", "code": "K7QW2XPL"}),
            json!({"event": "paired", "jid": OWNER_JID, "lid": "555000111@lid", "platform": "android"}),
            json!({"event": "connected"}),
        ]);
        let out = self
            .cmd(&["whatsapp", "link", "--phone", "+1 512 555 0000", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "steward whatsapp link: {}",
            common::stderr(&out)
        );
    }

    /// Start the daemon; it and the time from exec to /healthz answering 200.
    fn start(&self) -> (Daemon, Duration) {
        // Each connection of the WhatsApp reader starts with what WhatsApp sends a linked device.
        self.wire.script(vec![json!({"event": "connected"})]);
        let started = Instant::now();
        let d = common::start(self.cmd(&["up", "--listen", "127.0.0.1:0"]));
        while !probe::get(d.addr, "/healthz", None, Duration::from_secs(1))
            .is_ok_and(|r| r.status == 200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "/healthz never answered"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        (d, started.elapsed())
    }

    /// Fail loudly unless every configured bridge is up and its reader
    /// carries a contact's message into memory; the bridges proven.
    fn prove_connected(&self, d: &Daemon) -> Vec<&'static str> {
        let mut channels = vec!["imessage", "telegram", "whatsapp"];
        if self.dovecot.is_some() {
            channels.push("email");
        }
        self.bridges_up(d, &channels);
        self.wait_for(d, "the iMessage live reader's cursor", || self.cursor_set());
        let now = jiff::Timestamp::now().as_second();
        let mut chat_db = fixtures::ChatDbFixture::open(&self.chat_db.db);
        chat_db.message(Msg {
            text: Some("bench ping imessage"),
            handle: 1,
            unix: now - 2,
            chat: Some(self.chat_db.ann_chat),
            ..Msg::default()
        });
        if let Some(dovecot) = &self.dovecot {
            dovecot.deliver(
                IMAP_USER,
                "From: Bob Stone <bob@example.org>\nTo: me@example.com\nSubject: bench\n\
                 Date: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <ping@bench.example>\n\nbench ping email\n",
            );
        }
        self.bot
            .text(&user(222, "Ann", None, None), 1, "bench ping telegram");
        // Waits for the daemon's live stream: the reader is connected when this returns.
        self.wire.emit(json!({
            "event": "message", "id": "BENCHPING1", "chat": ANN_JID, "sender": ANN_JID,
            "pushName": "Ann Lee", "at": now, "text": "bench ping whatsapp",
        }));
        for channel in &channels {
            self.wait_for(d, &format!("a {channel} message in memory"), || {
                self.stored(channel)
            });
        }
        channels
    }

    /// `steward_bridge_up{channel="…"} 1` in `/metrics` for each channel.
    fn bridges_up(&self, d: &Daemon, channels: &[&str]) {
        let token = steward::keys::load_api_token(&self.home.file("api-token")).unwrap();
        let metrics = probe::get(d.addr, "/metrics", Some(&token), Duration::from_secs(5))
            .expect("GET /metrics");
        for channel in channels {
            let up = format!("steward_bridge_up{{channel=\"{channel}\"}} 1");
            assert!(
                metrics.body.lines().any(|l| l.trim() == up),
                "the {channel} bridge is not up:\n{}\n{}",
                metrics.body,
                d.log.lock().unwrap()
            );
        }
    }

    fn db(&self) -> Option<rusqlite::Connection> {
        steward::store::open_readonly(&self.db_path()).ok()
    }

    fn db_path(&self) -> PathBuf {
        self.home.file("steward.db")
    }

    fn cursor_set(&self) -> bool {
        self.db().is_some_and(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM source_cursors WHERE source = ?1",
                [steward::bridges::imessage::live::CURSOR],
                |r| r.get::<_, i64>(0),
            )
            .is_ok_and(|n| n == 1)
        })
    }

    fn stored(&self, channel: &str) -> bool {
        self.db().is_some_and(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM messages WHERE channel = ?1 AND text LIKE ?2",
                [channel, &format!("%bench ping {channel}%")],
                |r| r.get::<_, i64>(0),
            )
            .is_ok_and(|n| n == 1)
        })
    }

    fn wait_for(&self, d: &Daemon, what: &str, ok: impl FnMut() -> bool) {
        assert!(
            common::wait_until(Duration::from_secs(60), ok),
            "all-bridges bench: timed out waiting for {what}; that bridge is not connected\n{}",
            d.log.lock().unwrap()
        );
    }
}
