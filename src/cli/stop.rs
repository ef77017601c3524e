//! `steward stop` and `steward restart`: the daemon is found by its pid lock.
//!
//! A daemon kept running by launchd or systemd (an installed service naming
//! this home) is stopped and restarted through that manager: a SIGTERM alone
//! would only have it started again (KeepAlive, Restart=always). A daemon
//! started by hand gets SIGTERM, and `restart` starts a new one in the
//! background with its output in `<home>/logs/up.out`.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::daemon::pidfile::{self, PidInfo};
use crate::home::{self, Home};
use crate::service::{self, LABEL, Platform};

/// How long a daemon has to let go of its lock after SIGTERM (it promises 2 s).
const STOP_WAIT: Duration = Duration::from_secs(15);
/// How long a restarted daemon has to take the lock and listen.
const START_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print what happened as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    /// "stopped", "notRunning", "restarted" or "started".
    outcome: &'static str,
    /// The pid stopped, if one ran.
    stopped_pid: Option<u32>,
    /// The new daemon, after a restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    running: Option<PidInfo>,
    /// "signal", "launchd" or "systemd".
    via: &'static str,
}

pub fn stop(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let before = pidfile::inspect(&home.pid_path());
    let Some(info) = before else {
        return report(
            args.json,
            Report {
                outcome: "notRunning",
                stopped_pid: None,
                running: None,
                via: "signal",
            },
            &format!("no steward is running for {}", home.root().display()),
        );
    };
    let via = match managed(home) {
        Some(platform) => {
            run_manager(&manager_command(platform, Action::Stop))?;
            name(platform)
        }
        None => {
            terminate(info.pid)?;
            "signal"
        }
    };
    wait_stopped(home)?;
    report(
        args.json,
        Report {
            outcome: "stopped",
            stopped_pid: Some(info.pid),
            running: None,
            via,
        },
        &format!("stopped steward (pid {})", info.pid),
    )
}

pub fn restart(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let before = pidfile::inspect(&home.pid_path());
    if let Some(platform) = managed(home) {
        run_manager(&manager_command(platform, Action::Restart))?;
        let running = wait_started(home, before.as_ref().map(|i| i.pid))?;
        let line = format!(
            "restarted steward through {} (pid {})",
            name(platform),
            running.pid
        );
        return report(
            args.json,
            Report {
                outcome: "restarted",
                stopped_pid: before.map(|i| i.pid),
                running: Some(running),
                via: name(platform),
            },
            &line,
        );
    }
    if let Some(info) = &before {
        terminate(info.pid)?;
        wait_stopped(home)?;
    }
    spawn_up(home)?;
    let running = wait_started(home, None)?;
    let (outcome, line) = match &before {
        Some(old) => (
            "restarted",
            format!(
                "restarted steward (pid {} → {}), listening on http://{}",
                old.pid, running.pid, running.listen
            ),
        ),
        None => (
            "started",
            format!(
                "started steward (pid {}), listening on http://{}",
                running.pid, running.listen
            ),
        ),
    };
    report(
        args.json,
        Report {
            outcome,
            stopped_pid: before.map(|i| i.pid),
            running: Some(running),
            via: "signal",
        },
        &line,
    )
}

fn report(json: bool, report: Report, line: &str) -> anyhow::Result<ExitCode> {
    if json {
        super::print_json(&report)?;
    } else {
        outln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

fn terminate(pid: u32) -> anyhow::Result<()> {
    if pid == 0 {
        anyhow::bail!("the pid file is locked but names no pid; stop the daemon by hand");
    }
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid as i32, libc::SIGTERM) } != 0 {
        let e = std::io::Error::last_os_error();
        anyhow::bail!("cannot signal steward (pid {pid}): {e}");
    }
    Ok(())
}

/// The lock is the truth: the daemon has stopped when nobody holds it.
fn wait_stopped(home: &Home) -> anyhow::Result<()> {
    let deadline = Instant::now() + STOP_WAIT;
    while pidfile::inspect(&home.pid_path()).is_some() {
        if Instant::now() > deadline {
            anyhow::bail!(
                "steward still holds {} after {} s; see `steward logs`",
                home.pid_path().display(),
                STOP_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Wait for a daemon (other than `old`) that has recorded where it listens.
fn wait_started(home: &Home, old: Option<u32>) -> anyhow::Result<PidInfo> {
    let deadline = Instant::now() + START_WAIT;
    loop {
        if let Some(info) = pidfile::inspect(&home.pid_path())
            && Some(info.pid) != old
            && !info.listen.is_empty()
        {
            return Ok(info);
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "steward did not start within {} s; see {} and `steward logs`",
                START_WAIT.as_secs(),
                up_out(home).display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where a daemon started by `restart` writes its stdout and stderr.
fn up_out(home: &Home) -> std::path::PathBuf {
    home.logs_dir().join("up.out")
}

/// `steward --home HOME up` in the background, in its own session so the
/// terminal's Ctrl-C or hang-up does not reach it.
fn spawn_up(home: &Home) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let out_path = up_out(home);
    let _ = std::fs::remove_file(&out_path);
    home::write_new(&out_path, b"")?;
    let out = std::fs::OpenOptions::new().append(true).open(&out_path)?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--home")
        .arg(home.root())
        .arg("up")
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Stop,
    Restart,
}

/// The installed service's platform, if its file runs this home's daemon.
fn managed(home: &Home) -> Option<Platform> {
    let platform = Platform::host();
    let unit = service::unit_path(platform, &home::user_home().ok()?);
    let text = std::fs::read_to_string(unit).ok()?;
    names_home(&text, home.root()).then_some(platform)
}

fn names_home(unit: &str, root: &Path) -> bool {
    let root = root.display().to_string();
    unit.lines().any(|l| {
        l.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '='))
            .any(|w| w == root)
    })
}

fn name(platform: Platform) -> &'static str {
    match platform {
        Platform::Launchd => "launchd",
        Platform::Systemd => "systemd",
    }
}

/// The service manager's own command for `action`.
fn manager_command(platform: Platform, action: Action) -> Vec<String> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let target = format!("gui/{uid}/{LABEL}");
    let words: Vec<&str> = match (platform, action) {
        // bootout unloads the agent, so KeepAlive cannot bring it back.
        (Platform::Launchd, Action::Stop) => vec!["launchctl", "bootout", &target],
        (Platform::Launchd, Action::Restart) => vec!["launchctl", "kickstart", "-k", &target],
        (Platform::Systemd, Action::Stop) => vec!["systemctl", "--user", "stop", "steward.service"],
        (Platform::Systemd, Action::Restart) => {
            vec!["systemctl", "--user", "restart", "steward.service"]
        }
    };
    words.into_iter().map(str::to_string).collect()
}

fn run_manager(words: &[String]) -> anyhow::Result<()> {
    let status = Command::new(&words[0])
        .args(&words[1..])
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run `{}`: {e}", words.join(" ")))?;
    if !status.success() {
        anyhow::bail!(
            "`{}` failed ({status}); run it yourself to see why",
            words.join(" ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_is_driven_through_its_manager() {
        let stop = manager_command(Platform::Systemd, Action::Stop);
        assert_eq!(stop, ["systemctl", "--user", "stop", "steward.service"]);
        let restart = manager_command(Platform::Launchd, Action::Restart);
        assert_eq!(&restart[..3], ["launchctl", "kickstart", "-k"]);
        assert!(restart[3].ends_with(LABEL));
    }

    #[test]
    fn only_a_unit_for_this_home_counts() {
        let unit = "ExecStart=/usr/bin/steward --home /home/ann/.steward up\n";
        assert!(names_home(unit, Path::new("/home/ann/.steward")));
        assert!(!names_home(unit, Path::new("/home/ann/.stew")));
        let plist = "<string>/Users/ann/.steward</string>";
        assert!(names_home(plist, Path::new("/Users/ann/.steward")));
    }
}
