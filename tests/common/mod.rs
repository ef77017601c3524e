//! Shared helpers for the integration tests: a temporary home, the real
//! `steward` binary, and a daemon started on 127.0.0.1:0.
#![allow(dead_code)] // each test file uses a different subset

pub mod browser;
pub mod docfix;
pub mod dovecot;
pub mod graph;
pub mod lantern;
pub mod osascript;
pub mod smtp;
pub mod telegram;
pub mod wadouble;
pub mod wawire;
pub mod web;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub struct TestHome {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    /// Stands in for $HOME so nothing touches the real user's files.
    pub user_home: PathBuf,
}

impl TestHome {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("steward-home");
        let user_home = dir.path().join("user");
        std::fs::create_dir(&user_home).unwrap();
        TestHome {
            _dir: dir,
            path,
            user_home,
        }
    }

    /// `steward --home <this home> ARGS…`, with HOME pointing into the temp dir.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_steward"));
        cmd.arg("--home")
            .arg(&self.path)
            .args(args)
            .env("HOME", &self.user_home)
            .env_remove("STEWARD_HOME")
            .env_remove("STEWARD_LOG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Like `run`, for a command expected to exit on its own (a refused `up`):
    /// killed after `limit` so old behaviour fails the test instead of hanging it.
    pub fn run_for(&self, args: &[&str], limit: Duration) -> Output {
        finish_within(&mut self.cmd(args), limit)
    }

    /// `steward init` unless the home is there already.
    pub fn init_if_missing(&self) {
        if !self.path.join("steward.yaml").exists() {
            let out = self.run(&["init"]);
            assert!(out.status.success(), "{}", stderr(&out));
        }
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// Start `steward up` on a free loopback port and wait until it says it listens.
    pub fn up(&self) -> Daemon {
        self.up_with(&["--listen", "127.0.0.1:0"])
    }

    /// `up` runs on an existing home only (issue 18); this makes one first.
    pub fn up_with(&self, extra: &[&str]) -> Daemon {
        self.init_if_missing();
        let mut args = vec!["up"];
        args.extend_from_slice(extra);
        start(self.cmd(&args))
    }
}

/// Spawn a prepared `steward up` command and wait for its "listening" line.
/// stderr is drained on a thread so a chatty daemon never blocks on a full pipe.
pub fn start(mut cmd: Command) -> Daemon {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let (tx, rx) = mpsc::channel();
    let out = Arc::new(Mutex::new(String::new()));
    let out_sink = Arc::clone(&out);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            {
                let mut o = out_sink.lock().unwrap();
                o.push_str(&line);
                o.push('\n');
            }
            if let Some(url) = line.split("listening on http://").nth(1) {
                let _ = tx.send(url.trim().parse::<SocketAddr>().unwrap());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(addr) => Daemon {
            child,
            addr,
            log,
            stdout: out,
        },
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!("steward up did not start: {}", log.lock().unwrap());
        }
    }
}

/// Run `cmd` to completion, killing it after `limit`.
pub fn finish_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything the daemon wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
    /// Everything it wrote to stdout so far.
    pub stdout: Arc<Mutex<String>>,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, sig) }, 0);
    }

    /// Wait for exit up to `limit`; `None` if it is still running.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Poll `ok` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A pipeline over a fresh store in `dir` with the console bridge (agents in
/// `dir/agents` override the shipped ones); chain `with_models`/`with_runtime`.
pub fn console_pipeline(
    dir: &Path,
    settings: steward::pipeline::Settings,
) -> (steward::pipeline::Pipeline, steward::store::Store) {
    let store = steward::store::Store::open(&dir.join("steward.db")).unwrap();
    (console_pipeline_on(dir, store.clone(), settings), store)
}

/// The console-only pipeline on an open store (a second process on the same files).
pub fn console_pipeline_on(
    dir: &Path,
    store: steward::store::Store,
    settings: steward::pipeline::Settings,
) -> steward::pipeline::Pipeline {
    use steward::bridges::{Bridge, Bridges, console::ConsoleBridge};
    steward::pipeline::Pipeline::new(
        store,
        ed25519_dalek::SigningKey::from_bytes(&CONSOLE_KEY),
        steward::spec::Roster::load(dir),
        settings,
        Bridges::new(vec![Bridge::Console(ConsoleBridge::new(dir))]),
    )
}

/// The receipt key of `console_pipeline`.
pub const CONSOLE_KEY: [u8; 32] = [5u8; 32];

/// `Settings` from the default config.
pub fn default_settings() -> steward::pipeline::Settings {
    steward::pipeline::Settings::from_config(&steward::config::Config::default())
}

/// A router whose `capability` is `local/<model>` on the OpenAI-compatible server at `base`.
pub fn openai_router(
    base: &str,
    capability: &str,
    model: &str,
    timeout_seconds: u64,
) -> steward::llm::Router {
    openai_router_for(base, &[(capability, model)], timeout_seconds)
}

/// `openai_router` with several capabilities, each `(capability, model)`.
pub fn openai_router_for(
    base: &str,
    capabilities: &[(&str, &str)],
    timeout_seconds: u64,
) -> steward::llm::Router {
    openai_router_limited(base, capabilities, timeout_seconds, Default::default())
}

/// `openai_router_for` with `models.limits` (output caps, deadlines).
pub fn openai_router_limited(
    base: &str,
    capabilities: &[(&str, &str)],
    timeout_seconds: u64,
    limits: std::collections::BTreeMap<String, steward::config::CallLimitsConfig>,
) -> steward::llm::Router {
    use steward::config::{ModelsConfig, ProviderConfig, ProviderKind};
    let providers = [(
        "local".to_string(),
        ProviderConfig {
            kind: ProviderKind::Openai,
            base_url: format!("{base}/v1"),
            api_key: None,
            timeout_seconds,
        },
    )]
    .into_iter()
    .collect();
    let capabilities = capabilities
        .iter()
        .map(|(c, m)| (c.to_string(), vec![format!("local/{m}")]))
        .collect();
    steward::llm::Router::from_config(&ModelsConfig {
        providers,
        capabilities,
        prices: Default::default(),
        limits,
    })
    .unwrap()
}

/// A self-signed server certificate for 127.0.0.1 and localhost in `dir`:
/// `(cert.pem, key.pem)`, or `None` when openssl is missing.
pub fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A server certificate, not a CA: webpki refuses a CA as the end entity.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some((cert, key))
}

/// A server a test needs is missing: fail under `STEWARD_REQUIRE_SERVERS=1`
/// (CI), else say loudly that the `kind` test was skipped.
pub fn server_missing(why: &str, kind: &str) {
    if std::env::var("STEWARD_REQUIRE_SERVERS").as_deref() == Ok("1") {
        panic!("STEWARD_REQUIRE_SERVERS=1 but {why}");
    }
    eprintln!("SKIPPED: {why}; this {kind} test did not run");
}
