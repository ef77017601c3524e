//! `steward runs [--json] [--agent A] [--limit N]` and `steward runs show ID [--json]`.

use std::process::ExitCode;

use anyhow::Context;

use crate::home::Home;
use crate::pipeline::runs;
use crate::store;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub show: Option<Show>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Only this agent's runs.
    #[arg(long)]
    pub agent: Option<String>,
    /// How many, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

#[derive(Debug, clap::Subcommand)]
pub enum Show {
    /// One run with its journal and receipt.
    Show {
        /// The run's id, as `steward runs` lists it.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// What a run of AGENT with this input would cost: tokens, model, confidence.
    Forecast {
        /// The agent to forecast, as `steward agents` lists it.
        agent: String,
        /// The input the run would get (its size drives the forecast).
        #[arg(long, default_value = "")]
        input: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let conn = store::open_readonly(&home.db_path())?;
    if let Some(Show::Forecast { agent, input, json }) = &args.show {
        let config = crate::config::Config::load(&home.config_path())?;
        let roster = crate::spec::Roster::load(home.root());
        let spec = roster.get(agent).map_err(anyhow::Error::msg)?;
        let router = crate::llm::Router::from_config(&config.models)?;
        let f = crate::pipeline::forecast::forecast(
            &conn,
            agent,
            Some(spec),
            &router,
            input,
            u32::from(spec.capability.is_some()),
        )?;
        if *json {
            super::print_json(&f)?;
        } else {
            outln!(
                "{agent}: ~{} tokens in, ~{} out on {} = ${:.6} (confidence {:.2}, from {} runs)",
                f.tokens_in,
                f.tokens_out,
                f.model.as_deref().unwrap_or("no model"),
                f.cost_usd,
                f.confidence,
                f.runs_considered
            );
            if f.calls > 0 {
                outln!(
                    "worst case: {} tokens out (cap {} a call) = ${:.6}, reserved before the run; each call cancelled after {} s",
                    f.max_tokens_out,
                    f.max_tokens_per_call,
                    f.worst_case_usd,
                    f.deadline_seconds.unwrap_or_default()
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Show::Show { id, json }) = args.show {
        let detail = runs::show(&conn, &id)?
            .with_context(|| format!("no run {id:?}; `steward runs` lists them"))?;
        if json {
            super::print_json(&detail)?;
        } else {
            let s = &detail.summary;
            outln!(
                "{}  {}  {} ({}), by {}",
                s.id,
                s.agent,
                s.status.as_str(),
                s.trigger,
                detail.actor
            );
            if let Some(reason) = &s.reason {
                outln!("reason: {reason}");
            }
            outln!("journal:");
            for e in &detail.journal {
                outln!("  {:>3} {:<24} {}", e.seq, e.kind, e.payload);
            }
            match &detail.receipt {
                Some(r) => outln!(
                    "receipt: signed ({}), journalHash {}",
                    r.algorithm,
                    r.payload["journalHash"].as_str().unwrap_or("?")
                ),
                None => outln!("receipt: none yet (the run has not ended)"),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows = runs::list(&conn, args.agent.as_deref(), args.limit)?;
    if args.json {
        super::print_json(&rows)?;
    } else if rows.is_empty() {
        outln!("No runs yet.");
    } else {
        let tz = super::owner_zone(home);
        for r in rows {
            outln!(
                "{}  {:<20} {:<9} {:<8} ${:.4}  {}{}",
                r.id,
                r.agent,
                r.status.as_str(),
                r.trigger,
                r.cost_usd,
                super::local_time(&r.started_at, &tz),
                r.reason.map(|x| format!("  ({x})")).unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
