//! Issue 18, "The first hour": what a new user meets before and right after
//! `steward setup`. Each test names the behaviour it pins.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{TestHome, json, stderr, stdout};

fn no_home_line(home: &TestHome) -> String {
    format!(
        "no Steward home at {}: run `steward setup`",
        home.path.display()
    )
}

/// Item 1: before a home exists, every command but init/setup/doctor refuses
/// with one line that names the path and the fix, and creates nothing.
#[test]
fn issue18_commands_before_a_home_say_run_setup_and_create_nothing() {
    let home = TestHome::new();
    let mbox = home.user_home.join("mail.mbox");
    std::fs::write(&mbox, "").unwrap();
    let mbox = mbox.to_str().unwrap();
    for args in [
        &["say", "help"][..],
        &["status"],
        &["up", "--listen", "127.0.0.1:0"],
        &["import", "imessage"],
        &["import", "mbox", mbox],
        &["people"],
        &["person", "show", "Ann"],
        &["agents"],
        &["runs"],
        &["budget"],
        &["confirm", "list"],
        &["devices"],
        &["signals"],
        &["audit", "verify"],
    ] {
        let out = home.run_for(args, Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim(),
            format!("error: {}", no_home_line(&home)),
            "{args:?}"
        );
        assert!(!home.path.exists(), "{args:?} created the home");
    }
}

/// Item 1: with `--json` the refusal is JSON too, with the fix on its own.
#[test]
fn issue18_json_errors_are_json_with_the_fix() {
    let home = TestHome::new();
    let out = home.run(&["people", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_str(stderr(&out).trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&out)));
    assert_eq!(err["error"], no_home_line(&home));
    assert_eq!(err["fix"], "steward setup");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

/// Item 1: doctor on a missing home fails, and reports nothing as ok.
#[test]
fn issue18_doctor_on_a_missing_home_fails_without_any_ok() {
    let home = TestHome::new();
    let out = home.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["status"] != "ok"), "{report:#}");
    assert_eq!(checks[0]["fix"], "steward setup");
    let plain = home.run(&["doctor"]);
    assert!(!stdout(&plain).contains("ok "), "{}", stdout(&plain));
    assert!(!home.path.exists(), "doctor creates nothing");
}

/// Item 1: a reader that goes away (`| head -1`) ends the command quietly,
/// on every print path: JSON, plain lists, and multi-line reports.
#[test]
fn issue18_a_closed_stdout_ends_quietly_instead_of_panicking() {
    let home = TestHome::new();
    home.init_if_missing();
    for args in [
        &["people", "--json"][..],
        &["people"],
        &["agents"],
        &["agents", "--json"],
        &["status"],
        &["doctor"],
        &["runs"],
        &["budget"],
    ] {
        let mut child = home
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command has written a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // doctor's exit code is its verdict; the others succeed.
        if args[0] != "doctor" {
            assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        }
    }
}

/// A local OpenAI-compatible double: lists one model, answers any chat.
fn model_double() -> String {
    use axum::routing::{get, post};
    use serde_json::json;
    let app = axum::Router::new()
        .route(
            "/v1/models",
            get(|| async {
                axum::Json(json!({"object": "list", "data": [{"id": "tiny-1", "object": "model"}]}))
            }),
        )
        .route(
            "/v1/chat/completions",
            post(|| async {
                axum::Json(json!({
                    "id": "c", "model": "tiny-1",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from tiny."}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3},
                }))
            }),
        );
    common::lantern::serve_in_thread(app)
}

/// Item 2: `setup` with flags writes the owner into steward.yaml (comments
/// kept) and profiles/owner.md, and writes a model only after it answered.
#[test]
fn issue18_setup_with_flags_writes_config_profile_and_a_probed_model() {
    let home = TestHome::new();
    let base = model_double();
    let out = home.run(&[
        "setup",
        "--name",
        "Ann Lee",
        "--handle",
        "+15125551234",
        "--handle",
        "ann@example.com",
        "--timezone",
        "America/Chicago",
        "--model-url",
        &base, // without /v1: setup finds it
        "--yes",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["owner"]["model"]["model"], "tiny-1");
    assert_eq!(report["owner"]["model"]["baseUrl"], format!("{base}/v1"));

    let yaml = std::fs::read_to_string(home.file("steward.yaml")).unwrap();
    let config = steward::config::Config::load(&home.file("steward.yaml")).unwrap();
    assert_eq!(config.owner.name, "Ann Lee");
    assert_eq!(config.owner.handles, ["+15125551234", "ann@example.com"]);
    assert_eq!(config.models.capabilities["reason"], ["local/tiny-1"]);
    assert!(
        yaml.contains("# Your name, as your contacts know you."),
        "{yaml}"
    );
    assert_eq!(common::mode(&home.file("steward.yaml")), 0o600);
    let profile = std::fs::read_to_string(home.file("profiles/owner.md")).unwrap();
    assert!(profile.contains("I am Ann Lee."), "{profile}");
    assert!(profile.contains("Location: America/Chicago"), "{profile}");

    // The home works: doctor's owner and models checks pass, and a question
    // reaches the model written.
    let doctor = json(&home.run(&["doctor", "--json"]));
    let models = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "models")
        .unwrap()
        .clone();
    assert_eq!(models["status"], "ok", "{models}");
    let say = home.run(&["say", "what should I do today?"]);
    assert!(say.status.success(), "{}", stderr(&say));
    assert!(
        stdout(&say).contains("Hello from tiny."),
        "{}",
        stdout(&say)
    );
}

/// Item 2: a model URL that does not answer, or a bad zone, changes nothing.
#[test]
fn issue18_setup_refuses_a_dead_model_or_bad_zone_and_writes_nothing() {
    let home = TestHome::new();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let out = home.run(&["setup", "--name", "Ann", "--model-url", &url, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no model answered at"),
        "{}",
        stderr(&out)
    );
    assert!(!home.path.exists());

    let out = home.run(&["setup", "--name", "Ann", "--timezone", "Mars/Olympus"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("America/Chicago"), "{}", stderr(&out));
    assert!(!home.path.exists());

    // Scripted without a name: says which flag.
    let out = home.run(&["setup", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--name"), "{}", stderr(&out));
}

/// Item 2: with a terminal attached, setup asks; the answers land as flags would.
#[test]
fn issue18_setup_in_a_terminal_asks_the_questions() {
    let home = TestHome::new();
    // `script` gives setup a pseudo-terminal; the answers go in on its stdin.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        common::server_missing("script(1) from util-linux", "pty");
        return;
    }
    let steward = env!("CARGO_BIN_EXE_steward");
    let line = format!(
        "{steward} --home {} setup --timezone Europe/London",
        home.path.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("HOME", &home.user_home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // name, handles, model URL (none); the zone came as a flag.
        stdin.write_all(b"Ann Lee\n+15125551234\n\n").unwrap();
        std::thread::sleep(Duration::from_secs(3));
    }
    let out = child.wait_with_output().unwrap();
    let screen = stdout(&out);
    assert!(screen.contains("Your name"), "{screen}");
    assert!(!screen.contains("Your time zone"), "{screen}");
    let config = steward::config::Config::load(&home.file("steward.yaml")).unwrap();
    assert_eq!(config.owner.name, "Ann Lee");
    assert_eq!(config.owner.handles, ["+15125551234"]);
}

/// A home set up with the model double, ready for `up`.
fn set_up_home() -> TestHome {
    let home = TestHome::new();
    let base = model_double();
    let out = home.run(&[
        "setup",
        "--name",
        "Ann Lee",
        "--handle",
        "+15125551234",
        "--timezone",
        "America/Chicago",
        "--model-url",
        &base,
        "--yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    home
}

/// Kills a daemon `restart` started in the background if a test fails before
/// it stops it (it is in its own session, so nothing else would).
struct Detached<'a>(&'a TestHome);

impl Drop for Detached<'_> {
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(self.0.file("steward.pid"))
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(pid) = v["pid"].as_i64()
        {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// Item 3: `stop` and `restart` find the daemon by its pid lock; a clean stop
/// logs no WARN.
#[test]
fn issue18_stop_and_restart_through_the_pid_lock() {
    let home = set_up_home();
    let _cleanup = Detached(&home);
    let mut daemon = home.up();
    // A turn first, so the stop happens with the store and model client used.
    assert!(
        home.run(&["say", "what should I do today?"])
            .status
            .success()
    );
    let out = home.run(&["stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("stopped steward (pid {})", daemon.pid())
    );
    let status = daemon.wait_for_exit(Duration::from_secs(5)).unwrap();
    assert_eq!(status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(200));
    let log = daemon.log.lock().unwrap().clone();
    assert!(!log.contains("WARN"), "a clean stop logs no WARN: {log}");
    let again = home.run(&["stop"]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("no steward is running"),
        "{}",
        stdout(&again)
    );

    // restart with nothing running starts one; again replaces it.
    let started = home.run(&["restart", "--json"]);
    assert!(started.status.success(), "{}", stderr(&started));
    let first = json(&started);
    assert_eq!(first["outcome"], "started");
    let pid = first["running"]["pid"].as_u64().unwrap();
    let addr: std::net::SocketAddr = first["running"]["listen"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let health = steward::http::probe::get(addr, "/healthz", None, Duration::from_secs(5)).unwrap();
    assert_eq!(health.status, 200);
    let restarted = json(&home.run(&["restart", "--json"]));
    assert_eq!(restarted["outcome"], "restarted");
    assert_eq!(restarted["stoppedPid"], pid);
    assert_ne!(restarted["running"]["pid"], pid);
    let out = home.run(&["stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!home.file("steward.pid").exists());
}

/// Item 3: one readable line per run and send in the log, no message text and
/// no Debug dumps; `logs`, `activity` and `outbox` show them; `status` and
/// `up` say where the log is.
#[test]
fn issue18_logs_activity_and_outbox_show_what_it_did() {
    let home = set_up_home();
    let daemon = home.up();
    let question = "what should I do about the Henderson contract?";
    let say = home.run(&["say", question]);
    assert!(say.status.success(), "{}", stderr(&say));

    // activity: the run that answered, by agent, trigger and status.
    let activity = stdout(&home.run(&["activity"]));
    assert!(activity.contains("(owner) succeeded $"), "{activity}");
    let rows: Vec<serde_json::Value> = stdout(&home.run(&["activity", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.iter().any(|r| r["status"] == "succeeded"), "{rows:?}");

    // The outbox has what Steward said; the log has the send, without the words.
    let outbox = stdout(&home.run(&["outbox"]));
    assert!(outbox.contains("Hello from tiny."), "{outbox}");
    assert!(
        common::wait_until(Duration::from_secs(5), || {
            stdout(&home.run(&["logs"])).contains("sent on console to the owner")
        }),
        "{}",
        stdout(&home.run(&["logs"]))
    );
    let logs = stdout(&home.run(&["logs"]));
    assert!(logs.contains(" INFO run run_"), "{logs}");
    assert!(!logs.contains("Henderson"), "message text at info: {logs}");
    assert!(
        !logs.contains("Hello from tiny"),
        "reply text at info: {logs}"
    );
    let stderr_log = daemon.log.lock().unwrap().clone();
    assert!(!stderr_log.contains("Henderson"), "{stderr_log}");
    assert!(!stderr_log.contains("Some("), "Debug dump: {stderr_log}");
    for line in stdout(&home.run(&["logs", "--json"])).lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }

    // status names the log and the outbox.
    let status = stdout(&home.run(&["status"]));
    let logs_dir = home.file("logs");
    assert!(
        status.contains(&format!("logs       {}/steward.", logs_dir.display())),
        "{status}"
    );
    assert!(status.contains("outbox.jsonl"), "{status}");

    // activity -f prints a run that finishes after it started.
    let mut follow = home
        .cmd(&["activity", "-f", "--lines", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let reader = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(reader)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(home.run(&["say", "status"]).status.success());
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("activity -f printed the new run");
    assert!(line.contains("(owner)"), "{line}");
    let _ = follow.kill();
    let _ = follow.wait();
}

/// Item 3: `up` says where its log is, on stdout beside the listening line.
#[test]
fn issue18_up_prints_the_log_path() {
    use std::io::BufRead;
    let home = set_up_home();
    let mut child = home
        .cmd(&["up", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("listening on"), "{first}");
    assert!(
        second.contains(&format!("logs in {}", home.file("logs").display())),
        "{second}"
    );
    assert!(second.contains("steward outbox -f"), "{second}");
}

/// Item 3: the daily run-cap refusal names the file and the key to raise.
#[test]
fn issue18_the_run_cap_refusal_names_file_and_key() {
    let home = set_up_home();
    let spec = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("agents/relationship-keeper.yaml"),
    )
    .unwrap()
    .replace("maxRunsPerDay: 4", "maxRunsPerDay: 1");
    std::fs::create_dir_all(home.file("agents")).unwrap();
    let file = home.file("agents/relationship-keeper.yaml");
    std::fs::write(&file, spec).unwrap();
    let first = json(&home.run(&["agents", "run", "relationship-keeper", "--json"]));
    assert_ne!(first["status"], "refused", "{first}");
    let second = json(&home.run(&["agents", "run", "relationship-keeper", "--json"]));
    assert_eq!(second["status"], "refused", "{second}");
    let reason = second["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("raise budget.maxRunsPerDay in {}", file.display())),
        "{reason}"
    );
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {report:#}"))
}

/// Item 4: doctor warns on an empty owner, an unknown profile location and
/// lists the agents that cannot run, one per line.
#[test]
fn issue18_doctor_warns_on_an_empty_owner_an_unknown_location_and_idle_agents() {
    let home = TestHome::new();
    home.init_if_missing();
    let report = json(&home.run(&["doctor", "--json"]));
    let owner = check(&report, "owner");
    assert_eq!(owner["status"], "warn", "{owner}");
    assert!(
        owner["detail"]
            .as_str()
            .unwrap()
            .contains("owner.name is empty")
    );
    assert!(
        owner["detail"]
            .as_str()
            .unwrap()
            .contains("owner.handles is empty")
    );
    assert!(owner["fix"].as_str().unwrap().starts_with("steward setup"));

    let agents = check(&report, "agents");
    assert_eq!(agents["status"], "warn", "{agents}");
    let lines = agents["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("ai-radar: no feeds")),
        "{agents}"
    );
    let plain = stdout(&home.run(&["doctor"]));
    assert!(
        plain.contains("\n                   - ai-radar: no feeds"),
        "{plain}"
    );

    let profile = home.file("profiles/owner.md");
    let text = std::fs::read_to_string(&profile).unwrap().replace(
        "Location: <city, or a time zone: America/Chicago, EST, PST, IST, eastern>",
        "Location: Atlantis",
    );
    std::fs::write(&profile, text).unwrap();
    let report = json(&home.run(&["doctor", "--json"]));
    let location = check(&report, "location");
    assert_eq!(location["status"], "warn", "{location}");
    assert!(location["detail"].as_str().unwrap().contains("Atlantis"));

    // Filled in by setup: the owner check passes and the location one is gone.
    let out = home.run(&[
        "setup",
        "--name",
        "Ann",
        "--handle",
        "+15125551234",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&home.run(&["doctor", "--json"]));
    assert_eq!(check(&report, "owner")["status"], "ok");
}

/// Item 4: the port check names the port the running daemon really listens
/// on, and a config changed under a running daemon says "restart".
#[test]
fn issue18_doctor_names_the_live_port_and_a_config_changed_since_start() {
    let home = TestHome::new();
    let daemon = home.up();
    let report = json(&home.run(&["doctor", "--json"]));
    let port = check(&report, "port");
    assert!(
        port["detail"]
            .as_str()
            .unwrap()
            .contains(&daemon.addr.to_string()),
        "{port}"
    );
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "configAge"),
        "{report:#}"
    );
    std::thread::sleep(Duration::from_millis(20));
    let yaml = std::fs::read_to_string(home.file("steward.yaml")).unwrap();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "{yaml}\nmodels:\n  providers:\n    local: {{kind: openai, baseUrl: \"http://127.0.0.1:9/v1\"}}\n  capabilities:\n    reason: [\"local/m\"]\n"
        ),
    )
    .unwrap();
    let report = json(&home.run(&["doctor", "--json"]));
    let age = check(&report, "configAge");
    assert_eq!(age["status"], "warn");
    assert_eq!(age["fix"], "steward restart");
    // The daemon's own answer says the same.
    let say = stdout(&home.run(&["say", "what is on today?"]));
    assert!(say.contains("steward restart"), "{say}");
}

/// Item 5: a near-miss command is asked back without a model call, a blank
/// message is ignored, and `say` exits non-zero when the turn failed.
#[test]
fn issue18_selfchat_typos_blanks_and_failed_turns() {
    let home = TestHome::new();
    home.init_if_missing();
    // A model that cannot be reached: any model call would fail the turn.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let yaml = std::fs::read_to_string(home.file("steward.yaml")).unwrap();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "{yaml}\nmodels:\n  providers:\n    local: {{kind: openai, baseUrl: \"{url}\", timeoutSeconds: 2}}\n  capabilities:\n    reason: [\"local/m\"]\n"
        ),
    )
    .unwrap();

    let out = home.run(&["say", "hepl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("did you mean `help`?"),
        "{}",
        stdout(&out)
    );

    let out = home.run(&["say", "   ", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["kind"], "ignored");
    let runs = json(&home.run(&["runs", "--json"]));
    assert_eq!(
        runs.as_array().unwrap().len(),
        1,
        "only the typo's reply ran: {runs}"
    );

    let out = home.run(&["say", "what should I do about the deck?"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("the model did not answer"),
        "{}",
        stdout(&out)
    );
}

/// Item 5: a reminder nudges at the time asked, in the owner's zone; one with
/// no time keeps the 45-minute first nudge.
#[test]
fn issue18_reminders_respect_the_time_asked() {
    let home = TestHome::new();
    let out = home.run(&[
        "setup",
        "--name",
        "Ann",
        "--timezone",
        "Asia/Kolkata",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reply = stdout(&home.run(&["say", "remind me to call mom at 6pm"]));
    assert!(
        reply.contains("📌 noted: call mom — I'll nudge you at"),
        "{reply}"
    );
    assert!(reply.trim_end().ends_with("18:00."), "{reply}");
    let reply = stdout(&home.run(&["say", "remind me on friday to pay rent"]));
    assert!(reply.contains("noted: pay rent"), "{reply}");
    assert!(
        reply.contains("Fri 09:00") || reply.contains(" 09:00"),
        "{reply}"
    );
    let brief = stdout(&home.run(&["say", "brief"]));
    assert!(brief.contains("📌 1 · call mom"), "{brief}");
    assert!(brief.contains("📌 2 · pay rent"), "{brief}");
}

/// Item 6: empty results say the right thing, and times shown to people are
/// local (the owner's zone) to the second while `--json` keeps UTC.
#[test]
fn issue18_empty_searches_and_local_times() {
    let home = TestHome::new();
    let out = home.run(&[
        "setup",
        "--name",
        "Ann",
        "--timezone",
        "Asia/Kolkata",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let none = stdout(&home.run(&["people", "--search", "zzz"]));
    assert_eq!(
        none.trim(),
        "No one matches \"zzz\" (by name or any handle form)."
    );
    assert!(stdout(&home.run(&["people"])).contains("Nobody yet"));

    assert!(home.run(&["say", "ping"]).status.success());
    let runs = json(&home.run(&["runs", "--json"]));
    let utc = runs[0]["startedAt"].as_str().unwrap().to_string();
    assert!(utc.ends_with('Z'), "{utc}");
    let local = utc
        .parse::<jiff::Timestamp>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Kolkata").unwrap())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    let plain = stdout(&home.run(&["runs"]));
    assert!(plain.contains(&local), "{local} in {plain}");
}

/// Conventions: the commands that act and print also take `--json`.
#[test]
fn issue18_acting_commands_print_json_too() {
    let home = TestHome::new();
    home.init_if_missing();
    let off = json(&home.run(&["agents", "disable", "relationship-keeper", "--json"]));
    assert_eq!(off["name"], "relationship-keeper");
    assert_eq!(off["enabled"], false);
    let on = json(&home.run(&["agents", "enable", "ai-radar", "--json"]));
    assert_eq!(on["enabled"], true);
    assert!(on["needs"].as_str().unwrap().contains("feeds"), "{on}");

    let device = json(&home.run(&["devices", "add", "iPhone", "--json"]));
    assert_eq!(device["name"], "iPhone", "{device}");
    let out = home.user_home.join("sc");
    let built = json(&home.run(&[
        "shortcuts",
        "build",
        "--device",
        "iPhone",
        "--url",
        "https://mac.example.ts.net:7788",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    let shortcuts = built["shortcuts"].as_array().unwrap();
    assert!(!shortcuts.is_empty(), "{built}");
    for s in shortcuts {
        assert!(std::path::Path::new(s["path"].as_str().unwrap()).is_file());
    }
    let revoked = json(&home.run(&["devices", "revoke", "iPhone", "--json"]));
    assert_eq!(revoked["revoked"], true);

    let dry = json(&home.run(&["install", "--dry-run", "--platform", "systemd", "--json"]));
    assert_eq!(dry["platform"], "systemd");
    assert_eq!(dry["installed"], false);
    assert!(
        dry["text"].as_str().unwrap().contains("ExecStart="),
        "{dry}"
    );
}
