//! `steward say "TEXT" [--json]`: TEXT as the owner's self-chat line, to the
//! running daemon (or an in-process one for this single turn); prints the reply.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use super::reach::{self, Reach};
use crate::commands::{Owner, OwnerMessage, Reply};
use crate::home::Home;
use crate::pipeline::Actor;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What you would type in your self-chat.
    pub text: String,
    /// Print the reply as JSON (reply, runId, kind, failed).
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let reply: Reply = match reach::reach(home)? {
        Reach::Daemon { addr, token } => {
            let body = json!({ "text": args.text });
            // An owner turn may wait on a model.
            let v = reach::post(
                addr,
                &token,
                "/v1/owner/messages",
                &body,
                Duration::from_secs(300),
            )?;
            serde_json::from_value(v)?
        }
        Reach::Local => {
            let profile_path = home.owner_profile_path();
            let root = home.root().to_path_buf();
            reach::locally(home, move |pipeline, config| async move {
                let profile = match crate::profile::watch::read(&profile_path) {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("steward: {e}; using an empty profile for this turn");
                        Default::default()
                    }
                };
                let shared = crate::profile::watch::SharedProfile::new(profile);
                let owner = Owner::new(pipeline, shared, config.owner.region.as_str())
                    .with_name(&config.owner.name)
                    .with_prompts(&root);
                Ok(owner
                    .handle(OwnerMessage {
                        channel: crate::bridges::console::CHANNEL.to_string(),
                        actor: Actor::Console,
                        text: args.text,
                    })
                    .await?)
            })?
        }
    };
    if args.json {
        super::print_json(&reply)?;
    } else if !reply.reply.is_empty() {
        outln!("{}", reply.reply);
    }
    // The answer was the failure's explanation: scripts must see it failed.
    Ok(if reply.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
