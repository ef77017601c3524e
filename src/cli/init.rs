//! `steward init`: create the home and everything in it that is missing.

use std::process::ExitCode;

use crate::home::Home;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print what was created and kept as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let report = home.init()?;
    if args.json {
        super::print_json(&report)?;
    } else if report.created.is_empty() {
        outln!(
            "{} is already initialised; nothing changed.",
            home.root().display()
        );
    } else {
        outln!("Initialised {}", home.root().display());
        for path in &report.created {
            outln!("  created  {}", path.display());
        }
        for path in &report.kept {
            outln!("  kept     {}", path.display());
        }
        outln!(
            "Next: edit {} and {}, then `steward up`.",
            home.config_path().display(),
            home.owner_profile_path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
