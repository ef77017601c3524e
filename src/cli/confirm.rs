//! `steward confirm list [--json] | approve ID | edit ID TEXT | reject ID`.
//!
//! A decision executes the run (a send), and only the holder of the home's pid
//! lock may execute: with a daemon running the decision goes to it over the
//! local API; without one, this command takes the lock and runs the pipeline itself.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use crate::home::Home;
use crate::pipeline::{Actor, Decision, RunOutcome, confirm};
use crate::store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Pending confirmations.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send the draft as it is.
    Approve {
        /// The draft's id, as `steward confirm list` shows it.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send TEXT instead of the draft.
    Edit {
        /// The draft's id, as `steward confirm list` shows it.
        id: String,
        /// The text to send instead of the draft's.
        text: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Drop the draft; nothing is sent.
    Reject {
        /// The draft's id, as `steward confirm list` shows it.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, cmd: Command) -> anyhow::Result<ExitCode> {
    let (id, decision, text, json) = match cmd {
        Command::List { json } => return list(home, json),
        Command::Approve { id, json } => (id, Decision::Approved, None, json),
        Command::Edit { id, text, json } => (id, Decision::Edited, Some(text), json),
        Command::Reject { id, json } => (id, Decision::Rejected, None, json),
    };
    let outcome = match super::reach::reach(home)? {
        super::reach::Reach::Daemon { addr, token } => {
            via_daemon(addr, &token, &id, decision, text.as_deref())?
        }
        super::reach::Reach::Local => {
            let id = id.clone();
            super::reach::locally(home, |pipeline, _| async move {
                Ok(pipeline
                    .decide(&id, decision, text, &Actor::Console)
                    .await?)
            })?
        }
    };
    if json {
        super::print_json(&outcome)?;
    } else {
        let what = match decision {
            Decision::Approved => "approved",
            Decision::Edited => "edited and approved",
            Decision::Rejected => "rejected; nothing was sent",
        };
        outln!(
            "{id} {what}. Run {} is {}.",
            outcome.run_id,
            outcome.status.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn list(home: &Home, json: bool) -> anyhow::Result<ExitCode> {
    let conn = store::open_readonly(&home.db_path())?;
    let now = jiff::Timestamp::now();
    // Read-only here: hide what has expired; the daemon records the expiry.
    let pending: Vec<_> = confirm::list_pending(&conn)?
        .into_iter()
        .filter(|p| {
            p.expires_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|t| t > now)
        })
        .collect();
    if json {
        super::print_json(&pending)?;
    } else if pending.is_empty() {
        outln!("Nothing waits for your confirmation.");
    } else {
        for p in pending {
            outln!(
                "{}  {} → {}:{}  \"{}\"  (expires {})",
                p.id,
                p.agent,
                p.channel,
                p.to,
                p.text,
                p.expires_at
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn via_daemon(
    addr: std::net::SocketAddr,
    token: &str,
    id: &str,
    decision: Decision,
    text: Option<&str>,
) -> anyhow::Result<RunOutcome> {
    let verb = match decision {
        Decision::Approved => "approve",
        Decision::Edited => "edit",
        Decision::Rejected => "reject",
    };
    let body = match text {
        Some(t) => json!({ "text": t }),
        None => json!({}),
    };
    let path = format!("/v1/confirmations/{id}/{verb}");
    Ok(serde_json::from_value(super::reach::post(
        addr,
        token,
        &path,
        &body,
        Duration::from_secs(30),
    )?)?)
}
