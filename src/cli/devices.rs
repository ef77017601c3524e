//! `steward devices [--json]`, `devices add NAME [--token-mode] [--json]`,
//! `devices revoke NAME`, and `steward signals [--json] [--limit N]`. They write
//! the database directly, so they work with or without a running daemon.

use std::process::ExitCode;

use crate::home::Home;
use crate::signals::devices::{self, Mode};
use crate::signals::signal;
use crate::store;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Option<Command>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// A new device; its secret is shown once.
    Add {
        /// The device's name, as `steward devices` lists it.
        name: String,
        /// Also accept `x-steward-signal-token` (Lantern's shortcuts) from this device.
        #[arg(long)]
        token_mode: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Refuse every future signal from this device.
    Revoke {
        /// The device's name, as `steward devices` lists it.
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct SignalArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many signals, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    match args.cmd {
        Some(Command::Add {
            name,
            token_mode,
            json,
        }) => {
            let conn = store::open_writer(&home.db_path())?;
            let mode = if token_mode {
                Mode::Token
            } else {
                Mode::Signed
            };
            let d = devices::add(&conn, &name, mode)?;
            if json {
                super::print_json(&d)?;
            } else {
                outln!("Added {} ({}, {} mode).", d.name, d.id, d.mode.as_str());
                outln!(
                    "Secret (shown once; `steward shortcuts build` asks for it): {}",
                    d.secret
                );
            }
        }
        Some(Command::Revoke { name, json }) => {
            let conn = store::open_writer(&home.db_path())?;
            devices::revoke(&conn, &name)?;
            if json || args.json {
                super::print_json(&serde_json::json!({ "name": name, "revoked": true }))?;
            } else {
                outln!("Revoked {name}: its signals are refused from now on.");
            }
        }
        None => {
            let conn = store::open_readonly(&home.db_path())?;
            let list = devices::list(&conn)?;
            if args.json {
                super::print_json(&list)?;
            } else if list.is_empty() {
                outln!("No devices. Add one with `steward devices add iPhone`.");
            } else {
                for d in list {
                    let state = if d.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    outln!("{}  {:<20} {:<6} {state}", d.id, d.name, d.mode.as_str());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn signals(home: &Home, args: SignalArgs) -> anyhow::Result<ExitCode> {
    let conn = store::open_readonly(&home.db_path())?;
    let rows = signal::list(&conn, args.limit.min(500))?;
    if args.json {
        super::print_json(&rows)?;
    } else if rows.is_empty() {
        outln!("No signals yet.");
    } else {
        for r in rows {
            let fields: Vec<String> = [
                ("app", &r.signal.app),
                ("detail", &r.signal.detail),
                ("metric", &r.signal.metric),
                ("value", &r.signal.value),
            ]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
            outln!(
                "{}  {:<12} {:<12} {}",
                r.at,
                r.device,
                r.signal.kind,
                fields.join(" ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
