//! `steward doctor [--json]`: every check prints ok/warn/fail and, when not ok,
//! the command that fixes it. Exit 1 if any check fails. Later issues add checks
//! (Full Disk Access, bridges, models) as more functions in `checks()`.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use super::{doctor_bridges, doctor_setup};
use crate::config::{Config, DEFAULT_LISTEN};
use crate::daemon::pidfile;
use crate::home::{self, DIR_MODE, Home, SECRET_MODE};
use crate::keys;
use crate::store::{self, migrate};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: &'static str,
    pub status: Level,
    pub detail: String,
    pub fix: Option<String>,
    /// One item per line under the detail (the agents that cannot run here).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
}

impl Check {
    pub(crate) fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Level::Ok,
            detail: detail.into(),
            fix: None,
            lines: Vec::new(),
        }
    }
    pub(crate) fn bad(
        name: &'static str,
        status: Level,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
            lines: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorReport {
    pub ok: bool,
    pub home: std::path::PathBuf,
    pub checks: Vec<Check>,
}

pub fn checks(home: &Home) -> Vec<Check> {
    // Nothing else can be checked, and nothing else is "ok", without a home:
    // the one failure says how to make one.
    if std::fs::symlink_metadata(home.root()).is_err() {
        return vec![check_home(home)];
    }
    let config = Config::load(&home.config_path());
    let listen = config
        .as_ref()
        .map(|c| c.http.listen)
        .unwrap_or_else(|_| DEFAULT_LISTEN.parse().expect("valid default"));
    let mut checks = vec![
        check_home(home),
        check_permissions(home),
        match &config {
            Ok(_) => Check::ok("config", home.config_path().display().to_string()),
            Err(e) => Check::bad(
                "config",
                Level::Fail,
                e.to_string(),
                "fix steward.yaml at the line and column shown (`steward init` recreates a missing one)",
            ),
        },
        check_database(&home.db_path()),
        match keys::load_receipt_key(&home.receipt_key_path()) {
            Ok(k) => Check::ok(
                "receiptKey",
                format!("fingerprint {}", keys::fingerprint(&k)),
            ),
            Err(e) => Check::bad(
                "receiptKey",
                Level::Fail,
                e.to_string(),
                "restore keys/receipt.ed25519 from backup, or run `steward init` if there never was one",
            ),
        },
        check_api_token(home, config.as_ref().ok()),
        check_secrets(config.as_ref().ok()),
        check_audit(home),
        doctor_bridges::check_imessage(config.as_ref().ok()),
        doctor_bridges::check_email(config.as_ref().ok()),
        doctor_bridges::check_whatsapp(home.root(), config.as_ref().ok()),
        doctor_bridges::check_telegram(config.as_ref().ok()),
        check_models(config.as_ref().ok()),
        check_runtime(config.as_ref().ok()),
        check_profile(home),
        check_agents(home),
        check_port(home, listen),
        check_exposure(home, listen),
        doctor_setup::check_owner(config.as_ref().ok()),
        super::doctor_docs::check_documents(home, config.as_ref().ok()),
    ];
    checks.extend(doctor_setup::check_location(home, config.as_ref().ok()));
    checks.extend(doctor_setup::check_config_age(home));
    checks
}

/// The token the daemon will take: http.apiToken's reference if set (resolved
/// and length-checked as `up` does), else the token file.
fn check_api_token(home: &Home, config: Option<&Config>) -> Check {
    const NAME: &str = "apiToken";
    let Some(reference) = config.and_then(|c| c.http.api_token.as_ref()) else {
        return match keys::load_api_token(&home.api_token_path()) {
            Ok(_) => Check::ok(NAME, home.api_token_path().display().to_string()),
            Err(e) => Check::bad(
                NAME,
                Level::Fail,
                e.to_string(),
                format!("rm {} && steward init", home.api_token_path().display()),
            ),
        };
    };
    match reference.resolve() {
        Ok(s) if s.expose().len() >= keys::MIN_TOKEN_LEN => {
            Check::ok(NAME, format!("http.apiToken ({reference})"))
        }
        Ok(_) => Check::bad(
            NAME,
            Level::Fail,
            format!(
                "http.apiToken ({reference}) is shorter than {} characters",
                keys::MIN_TOKEN_LEN
            ),
            format!(
                "put a token of at least {} characters there (`openssl rand -hex 32`)",
                keys::MIN_TOKEN_LEN
            ),
        ),
        Err(e) => Check::bad(
            NAME,
            Level::Fail,
            format!("http.apiToken ({reference}): {e}"),
            reference.fix("http.apiToken"),
        ),
    }
}

/// Every other secret reference resolves now, as the daemon will resolve it.
fn check_secrets(config: Option<&Config>) -> Check {
    const NAME: &str = "secrets";
    let Some(config) = config else {
        return Check::ok(NAME, "skipped (config invalid)");
    };
    // http.apiToken has its own check (with the length rule).
    let refs: Vec<_> = config
        .secret_refs()
        .into_iter()
        .filter(|(key, _)| key != "http.apiToken")
        .collect();
    let (mut failed, mut fixes) = (Vec::new(), Vec::new());
    for (key, reference) in &refs {
        if let Err(e) = reference.resolve() {
            failed.push(format!("{key} ({reference}): {e}"));
            fixes.push(reference.fix(key));
        }
    }
    if failed.is_empty() {
        Check::ok(NAME, format!("{} references resolve", refs.len()))
    } else {
        Check::bad(NAME, Level::Fail, failed.join("; "), fixes.join("; "))
    }
}

fn check_home(home: &Home) -> Check {
    let root = home.root();
    let Ok(meta) = std::fs::metadata(root) else {
        return Check::bad(
            "home",
            Level::Fail,
            format!("no Steward home at {}", root.display()),
            "steward setup",
        );
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid {
        return Check::bad(
            "home",
            Level::Fail,
            format!(
                "{} belongs to uid {}, not you ({uid})",
                root.display(),
                meta.uid()
            ),
            format!("sudo chown -R {uid} {}", root.display()),
        );
    }
    Check::ok("home", root.display().to_string())
}

fn check_permissions(home: &Home) -> Check {
    let mut wrong = Vec::new();
    let mut fixes = Vec::new();
    let mut expect = |path: &Path, want: u32| {
        if let Some(mode) = home::mode_of(path)
            && mode != want
        {
            wrong.push(format!(
                "{} is {mode:o}, should be {want:o}",
                path.display()
            ));
            fixes.push(format!("chmod {want:o} {}", path.display()));
        }
    };
    for dir in home.private_dirs() {
        expect(&dir, DIR_MODE);
    }
    for file in home.secret_paths() {
        expect(&file, SECRET_MODE);
    }
    if wrong.is_empty() {
        Check::ok("permissions", "home 0700, secrets 0600")
    } else {
        Check::bad(
            "permissions",
            Level::Fail,
            wrong.join("; "),
            fixes.join(" && "),
        )
    }
}

fn check_database(path: &Path) -> Check {
    const NAME: &str = "database";
    let conn = match store::open_readonly(path) {
        Ok(conn) => conn,
        Err(e @ store::StoreError::Missing(_)) => {
            return Check::bad(NAME, Level::Fail, e.to_string(), "steward init");
        }
        Err(e) => {
            return Check::bad(
                NAME,
                Level::Fail,
                e.to_string(),
                format!(
                    "mv {0} {0}.bad && steward init (then restore from backup)",
                    path.display()
                ),
            );
        }
    };
    let result = store::quick_check(&conn).and_then(|integrity| {
        Ok((
            integrity,
            migrate::current_version(&conn)?,
            migrate::edited_migrations(&conn)?,
        ))
    });
    let supported = migrate::latest_version();
    match result {
        Err(e) => Check::bad(
            NAME,
            Level::Fail,
            e.to_string(),
            format!(
                "mv {0} {0}.bad && steward init (then restore from backup)",
                path.display()
            ),
        ),
        Ok((Err(problems), _, _)) => Check::bad(
            NAME,
            Level::Fail,
            format!("quick_check found: {}", problems.join("; ")),
            format!(
                "stop steward, then: sqlite3 {0} '.recover' | sqlite3 {0}.recovered",
                path.display()
            ),
        ),
        Ok((Ok(()), version, _)) if version > supported => Check::bad(
            NAME,
            Level::Fail,
            format!("schema {version} is newer than this steward ({supported})"),
            "install the newer steward that wrote it",
        ),
        Ok((Ok(()), version, edited)) if !edited.is_empty() => Check::bad(
            NAME,
            Level::Warn,
            format!("schema {version}; migrations {edited:?} changed after they were applied"),
            "report this: released migrations must never be edited",
        ),
        Ok((Ok(()), version, _)) if version < supported => Check::ok(
            NAME,
            format!("integrity ok, schema {version} (steward up migrates it to {supported})"),
        ),
        Ok((Ok(()), version, _)) => Check::ok(NAME, format!("integrity ok, schema {version}")),
    }
}

/// The chain, its anchored head, and every receipt against its journal and
/// approvals: what `up` checks at boot, but all receipts, not only the new ones.
fn check_audit(home: &Home) -> Check {
    const NAME: &str = "auditChain";
    let key = keys::load_receipt_key(&home.receipt_key_path()).ok();
    let head = crate::pipeline::anchor::path_for(&home.db_path());
    let report = store::open_readonly(&home.db_path()).and_then(|conn| {
        if migrate::current_version(&conn)? < 2 {
            return Ok(None);
        }
        let chain = crate::pipeline::audit::verify(&conn)?;
        let deep = match &key {
            Some(k) if chain.ok => Some(crate::pipeline::integrity::check(
                &conn,
                &k.verifying_key(),
                &keys::fingerprint(k),
                &head,
                Some(0),
            )?),
            _ => None,
        };
        Ok(Some((chain, deep)))
    });
    let fix = "restore steward.db (and audit.head) from a backup taken before the damage";
    match report {
        Ok(None) => Check::ok(NAME, "no audit chain yet (steward up creates it)"),
        Ok(Some((r, _))) if !r.ok => Check::bad(
            NAME,
            Level::Fail,
            format!(
                "broken at seq {}: {}; Steward refuses to act until it is repaired",
                r.first_bad_seq.unwrap_or(0),
                r.reason.unwrap_or_default()
            ),
            fix,
        ),
        Ok(Some((_, Some(Err(why))))) => Check::bad(NAME, Level::Fail, why, fix),
        Ok(Some((r, _))) if r.entries > 0 && !head.exists() => Check::bad(
            NAME,
            Level::Warn,
            format!(
                "{} entries verify, but {} is missing: deleting the newest entries would go unnoticed",
                r.entries,
                head.display()
            ),
            "start `steward up` once (it anchors the head); if it was deleted, restore it from backup",
        ),
        Ok(Some((r, deep))) => {
            let what = if deep.is_some() {
                "verify, the head matches audit.head, every receipt checks"
            } else {
                "verify (receipts not checked: no receipt key)"
            };
            Check::ok(NAME, format!("{} entries {what}", r.entries))
        }
        Err(e) => Check::bad(NAME, Level::Fail, e.to_string(), "see the database check"),
    }
}

/// A small runtime for a check that probes over the network.
pub(super) fn probe_runtime(
    name: &'static str,
    what: &str,
) -> Result<tokio::runtime::Runtime, Check> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|_| {
            Check::bad(
                name,
                Level::Warn,
                format!("cannot start a runtime to probe {what}"),
                "retry",
            )
        })
}

/// Each capability's first model answers a one-token request; reports latency.
fn check_models(config: Option<&Config>) -> Check {
    use crate::llm::{ChatRequest, Message, Role, Router};
    const NAME: &str = "models";
    let Some(cfg) = config.map(|c| &c.models) else {
        return Check::ok(NAME, "skipped (config invalid)");
    };
    if cfg.capabilities.is_empty() {
        return Check::ok(
            NAME,
            "no models configured: deterministic work only (add models: to steward.yaml)",
        );
    }
    let rt = match probe_runtime(NAME, "models") {
        Ok(rt) => rt,
        Err(check) => return check,
    };
    let mut lines = Vec::new();
    let mut failed = false;
    for (cap, targets) in &cfg.capabilities {
        let Some(first) = targets.first() else {
            continue;
        };
        let mut one = cfg.clone();
        one.capabilities = [(cap.clone(), vec![first.clone()])].into_iter().collect();
        let started = std::time::Instant::now();
        let result = rt.block_on(async {
            let router = Router::from_config(&one)?;
            let req = ChatRequest {
                messages: vec![Message {
                    role: Role::User,
                    content: "ping".into(),
                }],
                max_tokens: 1,
                ..ChatRequest::default()
            };
            router.chat(cap, &req).await
        });
        match result {
            Ok(_) => lines.push(format!(
                "{cap} → {first}: {} ms",
                started.elapsed().as_millis()
            )),
            Err(e) => {
                failed = true;
                lines.push(format!("{cap} → {first}: {e}"));
            }
        }
    }
    if failed {
        Check::bad(
            NAME,
            Level::Fail,
            lines.join("; "),
            "check models.providers (baseUrl, apiKey reference) and that the server runs",
        )
    } else {
        Check::ok(NAME, lines.join("; "))
    }
}

/// The owner profile parses (a bad line keeps the daemon on the last good one).
fn check_profile(home: &Home) -> Check {
    const NAME: &str = "profile";
    let path = home.owner_profile_path();
    match crate::profile::watch::read(&path) {
        Ok(p) => Check::ok(
            NAME,
            format!(
                "{}: {} facts, {} relationships, time zone {}",
                path.display(),
                p.facts.len(),
                p.relationships.len(),
                p.timezone.as_deref().unwrap_or("from steward.yaml")
            ),
        ),
        Err(e) => Check::bad(
            NAME,
            Level::Warn,
            e.to_string(),
            format!(
                "edit {} (the template is profiles/owner.example.md)",
                path.display()
            ),
        ),
    }
}

/// Every agent spec parses; the ones that cannot run here say why.
fn check_agents(home: &Home) -> Check {
    const NAME: &str = "agents";
    let roster = crate::spec::Roster::load(home.root());
    if let Some((name, e)) = roster.invalid.iter().next() {
        return Check::bad(
            NAME,
            Level::Fail,
            format!("{name}: {e}"),
            format!(
                "fix {} or delete it to use the shipped spec",
                home.root()
                    .join("agents")
                    .join(format!("{name}.yaml"))
                    .display()
            ),
        );
    }
    let waiting = doctor_setup::agents_waiting(home);
    if waiting.is_empty() {
        return Check::ok(NAME, format!("{} agents, all can run", roster.specs.len()));
    }
    Check {
        lines: waiting.clone(),
        ..Check::bad(
            NAME,
            Level::Warn,
            format!(
                "{} agents; {} cannot run here:",
                roster.specs.len(),
                waiting.len()
            ),
            "each line says what the agent waits for",
        )
    }
}

/// The remote runtime publishes its receipt key; reports latency and fingerprint.
fn check_runtime(config: Option<&Config>) -> Check {
    const NAME: &str = "runtime";
    let Some(cfg) = config.and_then(|c| c.runtime.as_ref()) else {
        return Check::ok(NAME, "none configured: runtime: remote agents are refused");
    };
    let rt = crate::runtime::Runtime::from_config(cfg);
    let started = std::time::Instant::now();
    let probe = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|r| r.block_on(rt.published_key()).map_err(|e| e.to_string()));
    match probe {
        Ok(key) => Check::ok(
            NAME,
            format!(
                "{}: receipt key {} in {} ms",
                rt.url(),
                key.fingerprint,
                started.elapsed().as_millis()
            ),
        ),
        Err(e) => Check::bad(
            NAME,
            Level::Fail,
            e,
            "check runtime.url and runtime.token in steward.yaml and that the runtime is up",
        ),
    }
}

/// Where the API is reachable: the running daemon's own record, else the config.
fn check_exposure(home: &Home, configured: SocketAddr) -> Check {
    let running = pidfile::inspect(&home.pid_path());
    let listen = running
        .as_ref()
        .and_then(|i| i.listen.parse::<SocketAddr>().ok())
        .unwrap_or(configured);
    let source = if running.is_some() {
        "the running daemon listens"
    } else {
        "http.listen is"
    };
    let phones = running
        .and_then(|i| i.signals_listen)
        .map(|a| format!("; phones reach only /v1/signals and /healthz on {a}"))
        .unwrap_or_default();
    if listen.ip().is_loopback() {
        Check::ok(
            "exposure",
            format!("the API stays on loopback ({source} {listen}){phones}"),
        )
    } else {
        Check::bad(
            "exposure",
            Level::Warn,
            format!(
                "{source} {listen}: the whole API and the dashboard are reachable from other machines (http.allowRemoteApi); /v1 and /metrics need the api-token, the dashboard its login, /healthz, /.well-known/steward-receipts and POST /v1/signals are open{phones}"
            ),
            "set http.listen to 127.0.0.1:7788 and give phones http.signalsListen (prefer a Tailscale address over 0.0.0.0)",
        )
    }
}

fn check_port(home: &Home, listen: SocketAddr) -> Check {
    if let Some(info) = pidfile::inspect(&home.pid_path()) {
        return Check::ok(
            "port",
            format!(
                "in use by this home's daemon (pid {}) on {}",
                info.pid, info.listen
            ),
        );
    }
    match TcpListener::bind(listen) {
        Ok(_) => Check::ok("port", format!("{listen} is free")),
        Err(e) => Check::bad(
            "port",
            Level::Fail,
            format!("cannot listen on {listen}: {e}"),
            format!(
                "stop what holds port {}, or choose another with `steward up --listen {}:<port>` / http.listen",
                listen.port(),
                listen.ip()
            ),
        ),
    }
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let checks = checks(home);
    let ok = checks.iter().all(|c| c.status != Level::Fail);
    if args.json {
        super::print_json(&DoctorReport {
            ok,
            home: home.root().to_path_buf(),
            checks,
        })?;
    } else {
        for c in &checks {
            let mark = match c.status {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            outln!("{mark}  {:<12} {}", c.name, c.detail);
            for line in &c.lines {
                outln!("      {:<12} - {line}", "");
            }
            if let Some(fix) = &c.fix {
                outln!("      {:<12} fix: {fix}", "");
            }
        }
        outln!(
            "{}",
            if ok {
                "All checks passed."
            } else {
                "Some checks failed."
            }
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
