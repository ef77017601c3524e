//! `steward audit verify [--json]`: recompute the audit chain.

use std::process::ExitCode;

use crate::home::Home;
use crate::pipeline::audit;
use crate::store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Recompute every hash; exit 1 naming the first bad seq.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Verify { json } = cmd;
    let conn = store::open_readonly(&home.db_path())?;
    let report = audit::verify(&conn)?;
    if json {
        super::print_json(&report)?;
    } else if report.ok {
        println!("Audit chain intact: {} entries.", report.entries);
    } else {
        println!(
            "Audit chain BROKEN at seq {}: {}",
            report.first_bad_seq.unwrap_or(0),
            report.reason.as_deref().unwrap_or("?")
        );
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
