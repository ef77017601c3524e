//! `steward docs index|search|show`: the owner's documents from the terminal.
//!
//! `index` writes the index directly. `search` and `show` read through the
//! pipeline's `readDocuments` effect, as the self-chat does: an owner-triggered
//! `documents` run (through the running daemon's API, else in-process under
//! the pid lock), so every file read is journaled and audited with its run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use serde_json::{Value, json};

use super::reach::{self, Reach};
use crate::config::Config;
use crate::documents::{Documents, DocumentsError, indexer, store as docs_store};
use crate::home::Home;
use crate::pipeline::{OwnerRead, RunStatus};
use crate::store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Read the folders in documents.roots into the index (new and changed files only).
    Index {
        /// Print the counts as JSON (skipped files by kind).
        #[arg(long)]
        json: bool,
    },
    /// Search the index: the best snippets, with their paths.
    Search {
        /// Words to look for ("passport number", "lease").
        query: String,
        /// Print JSON: [{path, kind, snippet, score, modifiedAt}].
        #[arg(long)]
        json: bool,
        /// How many hits (1 to 100).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
    },
    /// Print the text extracted from one indexed file (12,000 characters at most).
    Show {
        /// The file's path (as `docs search` prints it, or any path to it).
        path: PathBuf,
        /// Print JSON: {path, kind, text}.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Index { json } => index(home, json),
        Command::Search { query, json, limit } => search(home, &query, json, limit),
        Command::Show { path, json } => show(home, &path, json),
    }
}

/// The configured roots, resolved against `$HOME`.
pub fn documents(home: &Home) -> anyhow::Result<Documents> {
    let config = Config::load(&home.config_path())?;
    Ok(Documents::new(
        &config.documents,
        &crate::home::user_home()?,
        home.ocr_cache_dir(),
    ))
}

fn index(home: &Home, json: bool) -> anyhow::Result<ExitCode> {
    let docs = documents(home)?;
    let mut conn = store::open_writer(&home.db_path())?;
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut tick = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let report = store::bulk(&mut conn, |c| indexer::index_all(c, &docs, &mut tick))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if json {
        super::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} documents: {} read, {} unchanged, {} listed without text, {} removed ({:.1} s)",
        report.documents,
        report.indexed,
        report.unchanged,
        report.listed,
        report.removed,
        report.seconds
    );
    for (kind, n) in &report.skipped {
        outln!("  skipped {n} ({kind})");
    }
    for root in &report.missing_roots {
        outln!("  not found: {root}");
    }
    if report.listed > 0 && !report.ocr {
        outln!(
            "  images are listed by name only: build with `--features ocr` to read them (see `steward doctor`)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One hit as `docs search --json` prints it (the contract's order).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HitOut {
    path: String,
    kind: String,
    snippet: String,
    score: f64,
    modified_at: String,
}

/// How long a read may take through the daemon (a busy writer queues it).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The read as an owner-triggered run: its result (the API's answer shape).
fn owner_read(home: &Home, read: OwnerRead) -> anyhow::Result<Value> {
    let (route, body) = match &read {
        OwnerRead::Search { query, limit } => (
            "/v1/documents/search",
            json!({ "query": query, "limit": limit }),
        ),
        OwnerRead::Show { path } => ("/v1/documents/show", json!({ "path": path })),
    };
    match reach::reach(home)? {
        Reach::Daemon { addr, token } => reach::post(addr, &token, route, &body, READ_TIMEOUT),
        Reach::Local => reach::locally(home, move |pipeline, _| async move {
            let (out, result) = pipeline.read_documents(read).await?;
            let Some(r) = result.filter(|_| out.status == RunStatus::Succeeded) else {
                bail!(
                    "the documents run {} ended {}: {} (see `steward runs show {}`)",
                    out.run_id,
                    out.status.as_str(),
                    out.reason.unwrap_or_default(),
                    out.run_id
                );
            };
            if let Some(error) = r["error"].as_str() {
                bail!("{error}");
            }
            Ok(
                json!({ "runId": out.run_id, "hits": r["hits"], "path": r["path"],
                       "kind": r["kind"], "text": r["text"] }),
            )
        }),
    }
}

fn search(home: &Home, query: &str, json: bool, limit: u32) -> anyhow::Result<ExitCode> {
    // Only stopwords: refused before any run, with the fix.
    if docs_store::terms(query).is_empty() {
        return Err(DocumentsError::EmptyQuery {
            query: query.to_string(),
        }
        .into());
    }
    let read = OwnerRead::Search {
        query: query.to_string(),
        limit,
    };
    let hits: Vec<HitOut> = serde_json::from_value(owner_read(home, read)?["hits"].take())?;
    if json {
        super::print_json(&hits)?;
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        outln!("nothing found for {query:?} (is it indexed? `steward docs index`)");
    }
    for hit in &hits {
        outln!("{}  ({}, {:.2})", hit.path, hit.kind, hit.score);
        if !hit.snippet.is_empty() {
            outln!("    {}", hit.snippet);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(home: &Home, path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    // The index holds real paths; a relative or linked name finds the same row.
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let read = OwnerRead::Show {
        path: real.display().to_string(),
    };
    let r = owner_read(home, read)?;
    let text = r["text"].as_str().unwrap_or_default();
    if json {
        super::print_json(&json!({
            "path": real.display().to_string(), "kind": r["kind"], "text": text,
        }))?;
    } else if text.is_empty() {
        outln!(
            "({} is indexed by name only: its text is not read; see `steward doctor`)",
            real.display()
        );
    } else {
        outln!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}
