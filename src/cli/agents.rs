//! `steward agents run NAME [--input TEXT] [--json]`: one run of an agent now,
//! through the pipeline (the daemon's if one runs, else in-process).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use super::reach::{self, Reach};
use crate::home::Home;
use crate::pipeline::{Actor, RunOutcome, RunRequest, Trigger, runs};
use crate::store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run one agent now; `--json` prints the run as `steward runs --json` does.
    Run {
        name: String,
        /// What the run works on (handed to the model as data).
        #[arg(long, default_value = "")]
        input: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Run { name, input, json } = cmd;
    let roster = crate::agents::Roster::load(home.root());
    let spec = roster.get(&name).map_err(anyhow::Error::msg)?;
    let plan = crate::agents::manual_plan(spec, &input);
    let outcome: RunOutcome = match reach::reach(home)? {
        Reach::Daemon { addr, token } => {
            let body = json!({ "agent": name, "input": input, "plan": plan });
            // A forwarded run may wait on the remote runtime for minutes.
            let v = reach::post(addr, &token, "/v1/runs", &body, Duration::from_secs(900))?;
            serde_json::from_value(v)?
        }
        Reach::Local => reach::locally(home, |pipeline, _| async move {
            Ok(pipeline
                .run(RunRequest {
                    agent: name,
                    trigger: Trigger::Manual,
                    actor: Actor::Console,
                    input,
                    dedup_key: None,
                    plan,
                    forecast_usd: crate::agents::spec::Usd(0),
                })
                .await?)
        })?,
    };
    let conn = store::open_readonly(&home.db_path())?;
    let detail = runs::show(&conn, &outcome.run_id)?.context("the run vanished")?;
    if json {
        super::print_json(&detail.summary)?;
    } else {
        let s = &detail.summary;
        print!("{} {} {}", s.id, s.agent, outcome.status.as_str());
        if let Some(reason) = &outcome.reason {
            print!(": {reason}");
        }
        println!();
        for e in &detail.journal {
            let p: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
            match e.kind.as_str() {
                "model.called" => println!("{}", p["text"].as_str().unwrap_or_default()),
                "runtime.verified" => println!(
                    "remote run {} {} (receipt verified, key {})",
                    p["remoteRunId"].as_str().unwrap_or_default(),
                    p["status"].as_str().unwrap_or_default(),
                    p["keyFingerprint"].as_str().unwrap_or_default()
                ),
                _ => {}
            }
        }
    }
    Ok(
        if outcome.status.is_final() && outcome.status != crate::pipeline::RunStatus::Succeeded {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}
