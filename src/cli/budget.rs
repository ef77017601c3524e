//! `steward budget [--json]`: today's spend, reservations and limits.

use std::process::ExitCode;

use crate::config::Config;
use crate::home::Home;
use crate::pipeline::{Settings, budget};
use crate::spec::Roster;
use crate::store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::load(&home.config_path())?;
    let settings = Settings::from_config(&config);
    let roster = Roster::load(home.root());
    let day = jiff::Timestamp::now()
        .to_zoned(settings.timezone.clone())
        .date()
        .to_string();
    let conn = store::open_readonly(&home.db_path())?;
    let specs: Vec<_> = roster.specs.values().collect();
    let report = budget::report(&conn, &specs, settings.global_cap, &day)?;
    if args.json {
        super::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("Budget for {day} (limits per day):");
    for s in report {
        if s.scope != budget::GLOBAL && s.runs == 0 && s.spent_usd == 0.0 {
            continue;
        }
        outln!(
            "  {:<30} spent ${:.4}  reserved ${:.4}  of ${:.2}  ({} runs)",
            s.scope,
            s.spent_usd,
            s.reserved_usd,
            s.max_cost_usd_per_day,
            s.runs
        );
    }
    Ok(ExitCode::SUCCESS)
}
