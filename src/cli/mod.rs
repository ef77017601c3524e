//! The `steward` command line: one file per subcommand, each with `run()`.
//!
//! Commands that list or show something take `--json` and print stable camelCase
//! JSON; the plain form is for people. anyhow lives here and in `main` only.
//!
//! Every line a command prints goes through `out!`/`outln!`: a reader that
//! goes away (`steward people --json | head -1`) ends the command quietly
//! instead of panicking as `println!` does on a broken pipe.

/// `print!` to stdout; a closed pipe exits quietly (see [`write_stdout`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*)) };
}
/// `println!` to stdout; a closed pipe exits quietly (see [`write_stdout`]).
macro_rules! outln {
    () => { $crate::cli::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod agents;
pub mod audit;
pub mod budget;
pub mod completions;
pub mod confirm;
pub mod dashboard;
pub mod devices;
pub mod docs;
pub mod doctor;
pub mod doctor_bridges;
pub mod doctor_docs;
pub mod doctor_setup;
pub mod follow;
pub mod import;
pub mod init;
pub mod install;
pub mod people;
pub mod prompts;
pub mod reach;
pub mod receipts;
pub mod runs;
pub mod say;
pub mod setup;
pub mod shortcuts;
pub mod status;
pub mod stop;
pub mod up;
pub mod whatsapp;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::config::Config;
use crate::home::Home;
use crate::keys;

#[derive(Debug, Parser)]
#[command(
    name = "steward",
    version,
    about = "A careful personal-assistant daemon"
)]
pub struct Cli {
    /// The Steward home directory.
    #[arg(long, global = true, env = "STEWARD_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// First run: ask your name, handles, time zone and model; write the home.
    Setup(setup::Args),
    /// Create the home, config, database and keys (idempotent).
    Init(init::Args),
    /// Run the daemon in the foreground (what launchd/systemd run).
    Up(up::Args),
    /// Show version, home, database and whether a daemon runs for this home.
    Status(status::Args),
    /// Stop the running daemon (through launchd/systemd when it is installed).
    Stop(stop::Args),
    /// Stop the running daemon and start it again (or start one).
    Restart(stop::Args),
    /// The daemon's log as readable lines; `-f` follows it.
    Logs(follow::Args),
    /// Runs as they finish: agent, trigger, status, cost, why refused; `-f` follows.
    Activity(follow::Args),
    /// What Steward said to you on the console (nudges, the brief, replies); `-f` follows.
    Outbox(follow::Args),
    /// Check permissions, database, config and port; exit 1 if anything fails.
    Doctor(doctor::Args),
    /// Install the launchd agent (macOS) or systemd user unit (Linux).
    Install(install::InstallArgs),
    /// Remove what `install` installed.
    Uninstall(install::UninstallArgs),
    /// Say something in your self-chat (as the owner) and print the reply.
    Say(say::Args),
    /// The loop agents: schedules and last runs; run, enable, disable, create.
    Agents(agents::Args),
    /// Governed runs, newest first; `runs show ID` adds the journal and receipt.
    Runs(runs::Args),
    /// Show or verify signed run receipts.
    #[command(subcommand)]
    Receipts(receipts::Command),
    /// Verify the tamper-evident audit chain.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Drafts waiting for your yes: list, approve, edit, reject.
    #[command(subcommand)]
    Confirm(confirm::Command),
    /// Today's spend, reservations and limits, per agent and overall.
    Budget(budget::Args),
    /// A one-time login link to the dashboard of the running daemon.
    Dashboard(dashboard::Args),
    /// Backfill memory from a source.
    #[command(subcommand)]
    Import(import::Command),
    /// Everyone in memory, most recently active first.
    People(people::PeopleArgs),
    /// One person: show, merge, split, forget.
    #[command(subcommand)]
    Person(people::PersonCommand),
    /// The phones that may send signals: list, add, revoke.
    Devices(devices::Args),
    /// Recent phone signals, newest first.
    Signals(devices::SignalArgs),
    /// iPhone Shortcuts that send signed signals.
    #[command(subcommand)]
    Shortcuts(shortcuts::Command),
    /// The model prompt templates: shipped or overridden under <home>/prompts/.
    Prompts(prompts::Args),
    /// Your documents: index the folders in documents.roots, search, show.
    #[command(subcommand)]
    Docs(docs::Command),
    /// WhatsApp on your own number: link (QR or pair code), unlink.
    #[command(subcommand)]
    Whatsapp(whatsapp::Command),
    /// A shell completion script on stdout (`steward completions zsh > _steward`).
    Completions(completions::Args),
    /// The manual page (roff) on stdout (`steward man | man -l -`).
    Man,
}

impl Cli {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let home = Home::resolve(self.home)?;
        if self.command.needs_home() && !home.is_initialised() {
            // A link to nowhere is named as such: its fix is not `setup`.
            if let Ok(target) = std::fs::read_link(home.root())
                && !home.root().exists()
            {
                return Err(crate::home::HomeError::DanglingLink {
                    path: home.root().to_path_buf(),
                    target,
                }
                .into());
            }
            return Err(NoHome {
                path: home.root().to_path_buf(),
            }
            .into());
        }
        match self.command {
            Command::Setup(args) => setup::run(&home, args),
            Command::Init(args) => init::run(&home, args),
            Command::Up(args) => up::run(&home, args),
            Command::Status(args) => status::run(&home, args),
            Command::Stop(args) => stop::stop(&home, args),
            Command::Restart(args) => stop::restart(&home, args),
            Command::Logs(args) => follow::logs(&home, args),
            Command::Activity(args) => follow::activity(&home, args),
            Command::Outbox(args) => follow::outbox(&home, args),
            Command::Doctor(args) => doctor::run(&home, args),
            Command::Install(args) => install::install(&home, args),
            Command::Uninstall(args) => install::uninstall(&home, args),
            Command::Agents(cmd) => agents::run(&home, cmd),
            Command::Say(args) => say::run(&home, args),
            Command::Runs(args) => runs::run(&home, args),
            Command::Receipts(cmd) => receipts::run(&home, cmd),
            Command::Audit(cmd) => audit::run(&home, cmd),
            Command::Confirm(cmd) => confirm::run(&home, cmd),
            Command::Budget(args) => budget::run(&home, args),
            Command::Dashboard(args) => dashboard::run(&home, args),
            Command::Import(cmd) => import::run(&home, cmd),
            Command::People(args) => people::list(&home, args),
            Command::Person(cmd) => people::person(&home, cmd),
            Command::Devices(args) => devices::run(&home, args),
            Command::Signals(args) => devices::signals(&home, args),
            Command::Shortcuts(cmd) => shortcuts::run(&home, cmd),
            Command::Prompts(args) => prompts::run(&home, args),
            Command::Docs(cmd) => docs::run(&home, cmd),
            Command::Whatsapp(cmd) => whatsapp::run(&home, cmd),
            Command::Completions(args) => completions::completions(args),
            Command::Man => completions::man(),
        }
    }
}

impl Command {
    /// Whether the command works on an existing home only. Only the commands
    /// that make a home, or diagnose a missing one, run before one exists
    /// (and those that touch no home: a dry-run install, uninstall);
    /// everything else refuses rather than create one as a side effect.
    fn needs_home(&self) -> bool {
        match self {
            Command::Setup(_) | Command::Init(_) | Command::Doctor(_) => false,
            Command::Install(args) => !args.dry_run,
            Command::Uninstall(_) | Command::Completions(_) | Command::Man => false,
            _ => true,
        }
    }
}

/// A command that needs a home ran before `steward setup` (or `init`).
#[derive(Debug, thiserror::Error)]
#[error("no Steward home at {}: run `steward setup`", path.display())]
pub struct NoHome {
    pub path: PathBuf,
}

/// Write to stdout. A broken pipe means the reader has all it wanted (`head`),
/// so the process exits 0 without a word; any other write error exits 1.
pub fn write_stdout(args: std::fmt::Arguments) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// An error as `--json` callers get it: `{"error": …, "fix": …}`.
#[derive(Debug, Serialize)]
pub struct JsonError {
    pub error: String,
    /// The command or edit that fixes it, when the error names one.
    pub fix: Option<String>,
}

impl JsonError {
    pub fn from_error(err: &anyhow::Error) -> JsonError {
        let fix = if err.chain().any(|e| e.is::<NoHome>()) {
            Some("steward setup".to_string())
        } else {
            fix_in(&format!("{err:#}"))
        };
        JsonError {
            error: format!("{err:#}"),
            fix,
        }
    }
}

/// The command an error message tells the user to run ("…: run `steward
/// init`", "Run: chmod 700 …"), if it names one.
fn fix_in(message: &str) -> Option<String> {
    for marker in ["run `", "Run `", "run: `"] {
        if let Some(at) = message.find(marker) {
            let rest = &message[at + marker.len()..];
            if let Some(end) = rest.find('`') {
                return Some(rest[..end].to_string());
            }
        }
    }
    message
        .find("Run: ")
        .map(|at| message[at + 5..].trim().to_string())
}

/// Whether `--json` was asked for anywhere on the command line (before `--`):
/// every command's flag has that one meaning, so errors can follow it.
pub fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// The owner's zone (owner.timezone, else this machine's): times shown to
/// people are in it; `--json` keeps RFC 3339 UTC.
pub fn owner_zone(home: &Home) -> jiff::tz::TimeZone {
    Config::load(&home.config_path())
        .map(|c| c.owner.timezone.zone())
        .unwrap_or_else(|_| jiff::tz::TimeZone::system())
}

/// An RFC 3339 instant as people read it: local, to the second.
pub fn local_time(rfc3339: &str, tz: &jiff::tz::TimeZone) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// Ask a yes/no question on the terminal; `false` unless the answer is yes.
pub fn confirm(question: &str) -> bool {
    use std::io::Write;
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

/// A command-line argument that cannot be right (exit 2, like clap's own errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Print `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The api-token a local client should present: the config's reference if
/// set, else the home's token file. `None` if neither can be read.
pub fn client_token(home: &Home) -> Option<String> {
    let configured = Config::load(&home.config_path())
        .ok()
        .and_then(|c| c.http.api_token);
    match configured {
        Some(reference) => reference.resolve().ok().map(|s| s.expose().to_string()),
        None => keys::load_api_token(&home.api_token_path()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every flag and argument of every command, as `path: --name`, that has
    /// no help text.
    fn blank(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path}: {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            blank(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    /// Issue 18: `--help` explains every flag and argument.
    #[test]
    fn every_flag_and_argument_has_help_text() {
        let mut missing = Vec::new();
        blank(&super::Cli::command(), "steward", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
