//! `steward confirm list [--json] | approve ID | edit ID TEXT | reject ID`.
//!
//! A decision executes the run (a send), and only the holder of the home's pid
//! lock may execute: with a daemon running the decision goes to it over the
//! local API; without one, this command takes the lock and runs the pipeline itself.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;

use crate::config::Config;
use crate::daemon::{self, pidfile};
use crate::home::Home;
use crate::http::probe;
use crate::pipeline::{Actor, Decision, RunOutcome, confirm};
use crate::store::{self, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Pending confirmations.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send the draft as it is.
    Approve {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Send TEXT instead of the draft.
    Edit {
        id: String,
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Drop the draft; nothing is sent.
    Reject {
        id: String,
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
    let outcome = match pidfile::inspect(&home.pid_path()) {
        Some(info) => via_daemon(home, &info, &id, decision, text.as_deref())?,
        None => locally(home, &id, decision, text)?,
    };
    if json {
        super::print_json(&outcome)?;
    } else {
        let what = match decision {
            Decision::Approved => "approved",
            Decision::Edited => "edited and approved",
            Decision::Rejected => "rejected; nothing was sent",
        };
        println!(
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
        println!("Nothing waits for your confirmation.");
    } else {
        for p in pending {
            println!(
                "{}  {} → {}:{}  \"{}\"  (expires {})",
                p.id, p.agent, p.channel, p.to, p.text, p.expires_at
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn via_daemon(
    home: &Home,
    info: &pidfile::PidInfo,
    id: &str,
    decision: Decision,
    text: Option<&str>,
) -> anyhow::Result<RunOutcome> {
    let addr = info
        .listen
        .parse()
        .context("the pid file names no listen address")?;
    let token =
        super::client_token(home).context("cannot read the api-token to reach the daemon")?;
    let verb = match decision {
        Decision::Approved => "approve",
        Decision::Edited => "edit",
        Decision::Rejected => "reject",
    };
    let body = match text {
        Some(t) => json!({ "text": t }).to_string(),
        None => "{}".to_string(),
    };
    let path = format!("/v1/confirmations/{id}/{verb}");
    let resp = probe::post_json(addr, &path, Some(&token), &body, Duration::from_secs(30))?;
    if resp.status != 200 {
        let msg = serde_json::from_str::<serde_json::Value>(&resp.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(resp.body);
        bail!("{msg}");
    }
    Ok(serde_json::from_str(&resp.body)?)
}

fn locally(
    home: &Home,
    id: &str,
    decision: Decision,
    text: Option<String>,
) -> anyhow::Result<RunOutcome> {
    let _lock = pidfile::acquire(&home.pid_path())?;
    let config = Config::load(&home.config_path())?;
    let store = Store::open(&home.db_path())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let pipeline = daemon::build_pipeline(home, &config, store.clone())?;
        pipeline.check_integrity().await?;
        let out = pipeline.decide(id, decision, text, &Actor::Console).await;
        drop(pipeline);
        store.close().await;
        anyhow::Ok(out?)
    })?;
    Ok(outcome)
}
