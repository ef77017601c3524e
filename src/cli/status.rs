//! `steward status [--json]`: version, home, database, and the daemon for this home.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::daemon::pidfile;
use crate::home::Home;
use crate::http::{DaemonStatus, probe};
use crate::keys;
use crate::store::{self, meta, migrate};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub version: String,
    pub home: PathBuf,
    pub initialised: bool,
    pub database: DatabaseStatus,
    pub key_fingerprint: Option<String>,
    pub daemon: DaemonReport,
    /// The daemon's newest log file (`steward logs -f` follows it); null before its first run.
    pub log_path: Option<PathBuf>,
    /// Where the console channel writes what Steward tells the owner (`steward outbox -f`).
    pub outbox_path: PathBuf,
    /// The linked WhatsApp number (`steward whatsapp link`).
    pub whatsapp: WhatsappStatus,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhatsappStatus {
    /// `unlinked`, `linked`, `loggedOut`, `replaced` or `outdated`.
    pub status: &'static str,
    /// `+E164`.
    pub number: Option<String>,
    pub linked_at: Option<String>,
    pub last_event_at: Option<String>,
}

fn whatsapp(home: &Home) -> WhatsappStatus {
    let st = crate::bridges::whatsapp::linked::state::load(home.root());
    WhatsappStatus {
        status: st.status.as_str(),
        number: st.number,
        linked_at: st.linked_at,
        last_event_at: st.last_event_at,
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    pub path: PathBuf,
    pub exists: bool,
    pub schema_version: Option<u32>,
    pub supported_schema_version: u32,
    pub created_at: Option<String>,
    pub last_boot_at: Option<String>,
    /// What memory holds and what waits for the owner (null before those tables exist).
    pub people: Option<i64>,
    pub messages: Option<i64>,
    pub pending_confirmations: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonReport {
    pub running: bool,
    pub pid: Option<u32>,
    pub listen: Option<String>,
    pub healthy: bool,
    pub uptime_secs: Option<u64>,
    pub version: Option<String>,
}

pub fn collect(home: &Home) -> StatusReport {
    StatusReport {
        version: crate::VERSION.to_string(),
        home: home.root().to_path_buf(),
        initialised: home.is_initialised(),
        database: database(home),
        key_fingerprint: keys::load_receipt_key(&home.receipt_key_path())
            .ok()
            .map(|k| keys::fingerprint(&k)),
        daemon: daemon(home),
        log_path: super::follow::log_path(home),
        outbox_path: super::follow::outbox_path(home),
        whatsapp: whatsapp(home),
    }
}

fn database(home: &Home) -> DatabaseStatus {
    let path = home.db_path();
    let mut status = DatabaseStatus {
        exists: path.is_file(),
        path,
        schema_version: None,
        supported_schema_version: migrate::latest_version(),
        created_at: None,
        last_boot_at: None,
        people: None,
        messages: None,
        pending_confirmations: None,
        error: None,
    };
    if !status.exists {
        return status;
    }
    let read = store::open_readonly(&status.path).and_then(|conn| {
        let version = migrate::current_version(&conn)?;
        let (created, booted) = if version >= 1 {
            (
                meta::get(&conn, meta::CREATED_AT)?,
                meta::get(&conn, meta::LAST_BOOT_AT)?,
            )
        } else {
            (None, None)
        };
        let count = |min: u32, sql: &str| -> Result<Option<i64>, store::StoreError> {
            if version < min {
                return Ok(None);
            }
            Ok(Some(conn.query_row(sql, [], |r| r.get(0))?))
        };
        let counts = (
            count(3, "SELECT COUNT(*) FROM people")?,
            count(3, "SELECT COUNT(*) FROM messages")?,
            count(
                2,
                "SELECT COUNT(*) FROM confirmations WHERE status = 'pending'",
            )?,
        );
        Ok((version, created, booted, counts))
    });
    match read {
        Ok((version, created, booted, (people, messages, pending))) => {
            status.schema_version = Some(version);
            status.created_at = created;
            status.last_boot_at = booted;
            status.people = people;
            status.messages = messages;
            status.pending_confirmations = pending;
        }
        Err(e) => status.error = Some(e.to_string()),
    }
    status
}

fn daemon(home: &Home) -> DaemonReport {
    let mut report = DaemonReport {
        running: false,
        pid: None,
        listen: None,
        healthy: false,
        uptime_secs: None,
        version: None,
    };
    let Some(info) = pidfile::inspect(&home.pid_path()) else {
        return report;
    };
    report.running = true;
    report.pid = Some(info.pid).filter(|p| *p != 0);
    report.listen = Some(info.listen.clone()).filter(|l| !l.is_empty());
    let Ok(addr) = info.listen.parse::<SocketAddr>() else {
        return report;
    };
    // A daemon on 0.0.0.0 is reached on loopback.
    let addr = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    report.healthy = probe::get(addr, "/healthz", None, PROBE_TIMEOUT)
        .is_ok_and(|r| r.status == 200 && r.body.contains("\"ok\":true"));
    if let Some(token) = super::client_token(home)
        && let Ok(resp) = probe::get(addr, "/v1/status", Some(&token), PROBE_TIMEOUT)
        && let Ok(live) = serde_json::from_str::<DaemonStatus>(&resp.body)
    {
        report.uptime_secs = Some(live.uptime_secs);
        report.version = Some(live.version);
    }
    report
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let report = collect(home);
    if args.json {
        super::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("steward {}", report.version);
    outln!("home       {}", report.home.display());
    let db = &report.database;
    let schema = match (db.schema_version, &db.error) {
        (_, Some(err)) => format!("unreadable: {err}"),
        (Some(v), None) if v > db.supported_schema_version => format!(
            "schema {v} (newer than this steward's {}; upgrade steward)",
            db.supported_schema_version
        ),
        (Some(v), None) => format!("schema {v}"),
        (None, None) => "missing".to_string(),
    };
    outln!("database   {} ({schema})", db.path.display());
    if let (Some(p), Some(m)) = (db.people, db.messages) {
        outln!("memory     {p} people, {m} messages");
    }
    if let Some(n) = db.pending_confirmations.filter(|n| *n > 0) {
        outln!("waiting    {n} draft(s) for your yes: `steward confirm list`");
    }
    if let Some(fp) = &report.key_fingerprint {
        outln!("receipts   key {fp}");
    }
    let d = &report.daemon;
    if d.running {
        let pid = d.pid.map(|p| format!("pid {p}")).unwrap_or("pid ?".into());
        let listen = d.listen.as_deref().unwrap_or("?");
        let health = if d.healthy {
            "healthy"
        } else {
            "not answering"
        };
        let uptime = d
            .uptime_secs
            .map(|s| format!(", up {s}s"))
            .unwrap_or_default();
        outln!("daemon     running ({pid}) on http://{listen}: {health}{uptime}");
    } else {
        outln!("daemon     not running (start it with `steward up` or `steward install`)");
    }
    let w = &report.whatsapp;
    match (w.status, &w.number) {
        ("unlinked", _) => {}
        ("linked", Some(n)) => outln!(
            "whatsapp   linked {}{}",
            super::whatsapp::display_number(n),
            w.last_event_at
                .as_deref()
                .map(|t| format!(" (last event {t})"))
                .unwrap_or_default()
        ),
        (s, _) => outln!("whatsapp   {s}: run `steward whatsapp link`"),
    }
    match &report.log_path {
        Some(p) => outln!("logs       {} (`steward logs -f`)", p.display()),
        None => outln!("logs       none yet in {}", home.logs_dir().display()),
    }
    outln!(
        "outbox     {} (what Steward told you on the console: `steward outbox -f`)",
        report.outbox_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
