//! The `steward` command line: one file per subcommand, each with `run()`.
//!
//! Commands that list or show something take `--json` and print stable camelCase
//! JSON; the plain form is for people. anyhow lives here and in `main` only.

pub mod agents;
pub mod audit;
pub mod budget;
pub mod confirm;
pub mod devices;
pub mod doctor;
pub mod import;
pub mod init;
pub mod install;
pub mod people;
pub mod reach;
pub mod receipts;
pub mod runs;
pub mod say;
pub mod shortcuts;
pub mod status;
pub mod up;

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
    /// Create the home, config, database and keys (idempotent).
    Init(init::Args),
    /// Run the daemon in the foreground (what launchd/systemd run).
    Up(up::Args),
    /// Show version, home, database and whether a daemon runs for this home.
    Status(status::Args),
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
}

impl Cli {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let home = Home::resolve(self.home)?;
        match self.command {
            Command::Init(args) => init::run(&home, args),
            Command::Up(args) => up::run(&home, args),
            Command::Status(args) => status::run(&home, args),
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
            Command::Import(cmd) => import::run(&home, cmd),
            Command::People(args) => people::list(&home, args),
            Command::Person(cmd) => people::person(&home, cmd),
            Command::Devices(args) => devices::run(&home, args),
            Command::Signals(args) => devices::signals(&home, args),
            Command::Shortcuts(cmd) => shortcuts::run(&home, cmd),
        }
    }
}

/// A command-line argument that cannot be right (exit 2, like clap's own errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Print `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
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
