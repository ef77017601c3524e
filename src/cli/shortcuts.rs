//! `steward shortcuts build --device NAME [--url URL] [--out DIR] [--embed-secret]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::home::Home;
use crate::signals::{devices, shortcuts};
use crate::store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// One `.shortcut` per recipe in shortcuts/, plus a README of which automation runs each.
    Build {
        /// The device (name or id) the shortcuts sign as.
        #[arg(long)]
        device: String,
        /// The address the phone reaches Steward at (default: http.listen, if it is not loopback).
        #[arg(long)]
        url: Option<String>,
        /// The folder to write the .shortcut files into.
        #[arg(long, default_value = "shortcuts-out")]
        out: PathBuf,
        /// Put the secret inside the files instead of asking for it on import.
        #[arg(long)]
        embed_secret: bool,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Build {
        device,
        url,
        out,
        embed_secret,
        json,
    } = cmd;
    let config = Config::load(&home.config_path())?;
    let conn = store::open_readonly(&home.db_path())?;
    let found = devices::list(&conn)?
        .into_iter()
        .find(|d| d.name == device || d.id == device)
        .with_context(|| {
            format!("no device {device:?}; add one with `steward devices add {device}`")
        })?;
    if found.revoked_at.is_some() {
        bail!("device {device} is revoked; add a new one");
    }
    let url = match url {
        Some(u) => u,
        None if !config.http.listen.ip().is_loopback() => format!("http://{}", config.http.listen),
        None => bail!(
            "the phone cannot reach {}; pass --url with the address it can (e.g. https://mac.your-tailnet.ts.net:7788)",
            config.http.listen
        ),
    };
    let secret = if embed_secret {
        devices::credentials(&conn, &found.id)?.map(|(s, _, _)| s)
    } else {
        None
    };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut table = String::from("| shortcut | attach it to the automation |\n|---|---|\n");
    let mut written = Vec::new();
    let recipes = shortcuts::recipes(home.root())?;
    for (stem, recipe) in &recipes {
        let path = out.join(format!("{}.shortcut", recipe.name));
        shortcuts::write(
            &shortcuts::build(recipe, &found.id, &url, secret.as_deref()),
            &path,
        )?;
        sign(&path);
        table.push_str(&format!("| {} | {} |\n", recipe.name, recipe.trigger));
        written.push(serde_json::json!({
            "name": recipe.name, "trigger": recipe.trigger, "path": path,
        }));
        tracing::debug!(recipe = %stem, "built");
    }
    std::fs::write(
        out.join("README.md"),
        format!("# Steward shortcuts for {}\n\n{table}", found.name),
    )?;
    if json {
        super::print_json(&serde_json::json!({
            "device": found.name,
            "out": out,
            "shortcuts": written,
            "signed": cfg!(target_os = "macos"),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "Wrote {} shortcuts and README.md to {}.",
        recipes.len(),
        out.display()
    );
    if cfg!(not(target_os = "macos")) {
        outln!(
            "They are unsigned: iOS imports only signed shortcuts. On a Mac signed in to iCloud run, for each file:\n  shortcuts sign --mode anyone --input NAME.shortcut --output NAME-signed.shortcut"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// On macOS, sign in place with `shortcuts sign` (retried once: it can exit 0 and write nothing).
#[cfg(target_os = "macos")]
fn sign(path: &std::path::Path) {
    let signed = path.with_extension("signed.shortcut");
    for _ in 0..2 {
        let ok = std::process::Command::new("/usr/bin/shortcuts")
            .args(["sign", "--mode", "anyone", "--input"])
            .arg(path)
            .arg("--output")
            .arg(&signed)
            .status()
            .is_ok_and(|s| s.success());
        if ok && std::fs::metadata(&signed).is_ok_and(|m| m.len() > 0) {
            let _ = std::fs::rename(&signed, path);
            return;
        }
    }
    tracing::warn!(path = %path.display(), "shortcuts sign produced nothing; the file is unsigned");
}

#[cfg(not(target_os = "macos"))]
fn sign(_path: &std::path::Path) {}
