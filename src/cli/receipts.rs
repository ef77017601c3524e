//! `steward receipts show RUN_ID` and `steward receipts verify [FILE] [--key B64] [--json]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::home::Home;
use crate::keys;
use crate::pipeline::{runs, verify};
use crate::receipt::{self, Receipt};
use crate::store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a run's receipt: {"payload":{…},"signature":"…","algorithm":"ed25519"}.
    Show {
        /// The run whose receipt to show.
        run_id: String,
        /// Accepted for symmetry: a receipt is JSON either way.
        #[arg(long)]
        json: bool,
    },
    /// Verify one receipt file offline, or every stored receipt against journal, chain and key.
    Verify {
        /// A receipt JSON file; without it, every stored receipt is checked.
        file: Option<PathBuf>,
        /// The public key (base64) to verify against; default: this home's key.
        #[arg(long)]
        key: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Show { run_id, json: _ } => {
            let conn = store::open_readonly(&home.db_path())?;
            let r = runs::receipt(&conn, &run_id)?.with_context(|| {
                format!("no receipt for run {run_id:?} (unknown run, or it has not ended)")
            })?;
            super::print_json(&r)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { file, key, json } => verify_cmd(home, file, key, json),
    }
}

fn verify_cmd(
    home: &Home,
    file: Option<PathBuf>,
    key: Option<String>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let public = match key {
        Some(b64) => receipt::parse_public_key(&b64)?,
        None => keys::load_receipt_key(&home.receipt_key_path())?.verifying_key(),
    };
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let r: Receipt = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a receipt ({{payload, signature, algorithm}})",
                path.display()
            )
        })?;
        let result = receipt::verify(&r, &public);
        let run_id = r.payload["runId"].as_str().unwrap_or("?").to_string();
        if as_json {
            super::print_json(
                &json!({ "valid": result.is_ok(), "runId": run_id, "reason": result.as_ref().err().map(ToString::to_string) }),
            )?;
        } else {
            match &result {
                Ok(()) => outln!("valid: receipt for {run_id}"),
                Err(e) => outln!("INVALID: receipt for {run_id}: {e}"),
            }
        }
        return Ok(if result.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let conn = store::open_readonly(&home.db_path())?;
    let checks = verify::all(&conn, &public)?;
    let first_bad = checks.iter().find(|c| !c.valid);
    if as_json {
        super::print_json(
            &json!({ "ok": first_bad.is_none(), "receipts": checks.len(), "firstBad": first_bad }),
        )?;
    } else if let Some(bad) = first_bad {
        outln!(
            "INVALID: receipt for {}: {}",
            bad.run_id,
            bad.reason.as_deref().unwrap_or("?")
        );
    } else {
        outln!("All {} receipts verify.", checks.len());
    }
    Ok(if first_bad.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
