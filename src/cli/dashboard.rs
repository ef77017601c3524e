//! `steward dashboard [--json] [--no-open]`: a one-time login link to the
//! running daemon's dashboard, printed, and opened in a browser where one can
//! be (a terminal with a desktop). The link logs in once, within ten minutes.

use std::io::IsTerminal;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::bail;
use serde_json::{Value, json};

use super::reach::{self, Reach};
use crate::home::Home;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print `{"url","path"}` as JSON and open nothing.
    #[arg(long)]
    pub json: bool,
    /// Only print the link.
    #[arg(long)]
    pub no_open: bool,
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let Reach::Daemon { addr, token } = reach::reach(home)? else {
        bail!(
            "no daemon runs for this home: the dashboard is served by `steward up`; start it, then run `steward dashboard` again"
        );
    };
    let v: Value = reach::post(
        addr,
        &token,
        "/v1/dashboard/link",
        &json!({}),
        Duration::from_secs(10),
    )?;
    let url = v["url"].as_str().unwrap_or_default().to_string();
    if args.json {
        outln!("{}", json!({ "url": url, "path": v["path"] }));
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{url}");
    outln!("(logs in once, within ten minutes)");
    if !args.no_open && std::io::stdout().is_terminal() && open(&url) {
        outln!("opened in your browser");
    }
    Ok(ExitCode::SUCCESS)
}

/// Open `url` with the desktop's opener; false where there is none.
fn open(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        "xdg-open"
    } else {
        return false;
    };
    Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
