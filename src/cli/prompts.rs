//! `steward prompts [--json]`: the prompt templates, shipped or overridden
//! (with why an override is refused); `prompts show NAME` prints the one in use.

use std::process::ExitCode;

use serde_json::json;

use crate::home::Home;
use crate::prompts::Prompts;

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
    /// Print the template in use for NAME (the override if it is valid).
    Show {
        /// A template name from `steward prompts` (e.g. contact-assistant).
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let prompts = Prompts::new(home.root());
    match args.cmd {
        None => {
            let list = prompts.list();
            if args.json {
                super::print_json(&list)?;
                return Ok(ExitCode::SUCCESS);
            }
            for p in list {
                let from = match (&p.path, &p.error) {
                    (Some(path), None) => format!("override {}", path.display()),
                    (Some(_), Some(e)) => format!("shipped (override refused: {e})"),
                    (None, _) => "shipped".to_string(),
                };
                outln!("{:<20} {from}", p.name);
            }
        }
        Some(Command::Show { name, json }) => {
            let (info, text) = prompts.show(&name)?;
            if json || args.json {
                super::print_json(&json!({
                    "name": info.name,
                    "origin": info.origin,
                    "path": info.path,
                    "error": info.error,
                    "text": text,
                }))?;
            } else {
                if let Some(e) = &info.error {
                    eprintln!("steward: the override is refused ({e}); this is the shipped one");
                }
                out!("{text}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
