//! `steward people [--json] [--search Q]` and `steward person show|merge|split|forget`.

use std::process::ExitCode;

use serde_json::json;

use crate::config::Config;
use crate::home::Home;
use crate::memory::{Canonicalizer, people, query};
use crate::store;

#[derive(Debug, clap::Args)]
pub struct PeopleArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Match names and handles.
    #[arg(long)]
    pub search: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum PersonCommand {
    /// One person: handles, facts, recent messages (newest first). Any handle form works.
    Show {
        /// A name, a handle in any form, or a person id.
        who: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// How many recent messages to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Move everything of B into A.
    Merge {
        /// The person who keeps everything (a name, handle or id).
        a: String,
        /// The person merged into A (a name, handle or id).
        b: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Move one handle (and its messages) to a new person.
    Split {
        /// The handle to move to a new person, in any form.
        handle: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete a person and all their messages, facts and reactions (asks first).
    Forget {
        /// A name, a handle in any form, or a person id.
        who: String,
        /// Forget without asking (needed when no terminal can ask).
        #[arg(long)]
        yes: bool,
        /// Print what was deleted as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Let a forgotten handle back: its next message or import is kept again.
    Unforget {
        /// The handle, in any form (a phone number, an email address, telegram:ID).
        handle: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn canon(home: &Home) -> Canonicalizer {
    let region = Config::load(&home.config_path())
        .map(|c| c.owner.region.as_str().to_string())
        .unwrap_or_else(|_| "US".into());
    Canonicalizer::new(&region)
}

pub fn list(home: &Home, args: PeopleArgs) -> anyhow::Result<ExitCode> {
    let conn = store::open_readonly(&home.db_path())?;
    let canonical = args
        .search
        .as_deref()
        .map(|q| canon(home).canonicalize(q).to_string());
    let rows = query::people(&conn, args.search.as_deref(), canonical.as_deref())?;
    if args.json {
        super::print_json(&rows)?;
    } else if let (true, Some(q)) = (rows.is_empty(), &args.search) {
        outln!("No one matches {q:?} (by name or any handle form).");
    } else if rows.is_empty() {
        outln!("Nobody yet. `steward import imessage` fills memory from Messages.");
    } else {
        for p in rows {
            outln!(
                "{}  {:<24} {:>6} msgs  {}{}",
                p.id,
                p.name.as_deref().unwrap_or("(no name)"),
                p.message_count,
                p.handles.join(", "),
                if p.is_owner { "  (you)" } else { "" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn person(home: &Home, cmd: PersonCommand) -> anyhow::Result<ExitCode> {
    let canon = canon(home);
    match cmd {
        PersonCommand::Show { who, json, limit } => {
            let conn = store::open_readonly(&home.db_path())?;
            let id = people::find(&conn, &who, &canon)?;
            let detail = query::show(&conn, &id, limit)?;
            if json {
                super::print_json(&detail)?;
            } else {
                outln!(
                    "{} {}  ({} messages)",
                    detail.id,
                    detail.name.as_deref().unwrap_or("(no name)"),
                    detail.message_count
                );
                outln!("handles: {}", detail.handles.join(", "));
                for f in &detail.facts {
                    outln!("fact: {} = {} ({})", f.key, f.value, f.source);
                }
                let tz = super::owner_zone(home);
                for l in &detail.recent {
                    let arrow = if l.direction == "in" { "←" } else { "→" };
                    outln!(
                        "{} {arrow} [{}] {}{}",
                        super::local_time(&l.at, &tz),
                        l.channel,
                        l.text,
                        if l.edited { " (edited)" } else { "" }
                    );
                }
            }
        }
        PersonCommand::Merge { a, b, json } => {
            let mut conn = store::open_writer(&home.db_path())?;
            let tx = conn.transaction()?;
            // An id that no longer exists (already merged) is passed through for merge's note.
            let a = people::find(&tx, &a, &canon).unwrap_or(a);
            let b = people::find(&tx, &b, &canon).unwrap_or(b);
            let out = people::merge(&tx, &a, &b)?;
            tx.commit()?;
            if json {
                super::print_json(&out)?;
            } else {
                outln!(
                    "{}",
                    out.note
                        .clone()
                        .unwrap_or_else(|| format!("Merged {b} into {a}."))
                );
            }
        }
        PersonCommand::Split { handle, json } => {
            let mut conn = store::open_writer(&home.db_path())?;
            let tx = conn.transaction()?;
            let h = canon.canonicalize(&handle);
            let new = people::split(&tx, &h)?;
            tx.commit()?;
            if json {
                super::print_json(&json!({ "handle": h.as_str(), "person": new }))?;
            } else {
                outln!("{h} is now person {new}.");
            }
        }
        PersonCommand::Forget { who, yes, json } => return forget(home, &canon, &who, yes, json),
        PersonCommand::Unforget { handle, json } => {
            let h = canon.canonicalize(&handle);
            let conn = store::open_writer(&home.db_path())?;
            let was = people::unforget(&conn, &h)?;
            if json {
                super::print_json(&json!({ "handle": h.as_str(), "wasForgotten": was }))?;
            } else if was {
                outln!("{h} is no longer forgotten: its next message is kept again.");
            } else {
                outln!("{h} was not forgotten; nothing changed.");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `person forget WHO`: asks first (or `--yes`); the handles stay forgotten.
fn forget(
    home: &Home,
    canon: &Canonicalizer,
    who: &str,
    yes: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut conn = store::open_writer(&home.db_path())?;
    let tx = conn.transaction()?;
    let id = people::find(&tx, who, canon)?;
    if !yes {
        let detail = query::show(&tx, &id, 0)?;
        let what = format!(
            "Forget {} ({}): {} messages and every fact, for good? Later imports and messages from these handles are dropped too.",
            detail.name.as_deref().unwrap_or(&id),
            detail.handles.join(", "),
            detail.message_count
        );
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() {
            return Err(super::UsageError(format!(
                "{what} Nothing was deleted: pass --yes to forget without asking"
            ))
            .into());
        }
        if !super::confirm(&what) {
            outln!("Nothing was deleted.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let out = people::forget(&tx, &id)?;
    tx.commit()?;
    if json {
        super::print_json(&out)?;
    } else {
        outln!(
            "Forgot {}: {} handles, {} messages, {} facts deleted. Their handles stay forgotten (`steward person unforget HANDLE` lets one back).",
            out.id,
            out.handles,
            out.messages,
            out.facts
        );
    }
    Ok(ExitCode::SUCCESS)
}
