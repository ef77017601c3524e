//! `steward whatsapp link [--phone +15551234567] [--json]` and `steward
//! whatsapp unlink [--json]`: the owner's number as a linked device. The QR is
//! drawn in the terminal and redrawn on each rotation (every 20 s); with
//! `--phone` an 8-character code to type on the phone instead. With `--json`
//! the prompts go to stderr and the result is JSON on stdout.

use std::process::ExitCode;

use crate::bridges::whatsapp::linked::{qr, state};
use crate::config::Config;
use crate::home::Home;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Link your own WhatsApp number: scan the QR (WhatsApp > Settings >
    /// Linked devices > Link a device), or type a pair code with --phone.
    Link(LinkArgs),
    /// Log Steward's device out of WhatsApp and delete the session.
    Unlink(UnlinkArgs),
}

#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    /// Your number (with country code): show an 8-character pair code instead of a QR.
    #[arg(long, value_name = "+NUMBER")]
    pub phone: Option<String>,
    /// Give up after this many seconds without the phone confirming.
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub timeout: u64,
    /// Print the result as JSON (prompts go to stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct UnlinkArgs {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WhatsappCliError {
    #[error(
        "bridges.whatsapp is mode cloud (a business number): linking is for your own number; set `mode: linked` in steward.yaml to use it"
    )]
    CloudMode,
    #[error(
        "this steward was built without the whatsapp-web feature; rebuild with default features to link WhatsApp"
    )]
    NotBuilt,
    #[error("{0:?} is not a phone number with its country code (e.g. +15551234567)")]
    BadPhone(String),
    #[error(
        "the daemon is running and holds the WhatsApp session: run `steward stop` first, then unlink"
    )]
    DaemonRunning,
}

pub fn run(home: &Home, cmd: Command) -> anyhow::Result<ExitCode> {
    let config = Config::load(&home.config_path())?;
    if config
        .bridges
        .whatsapp
        .as_ref()
        .is_some_and(|w| w.cloud().is_some())
    {
        return Err(WhatsappCliError::CloudMode.into());
    }
    match cmd {
        Command::Link(args) => link(home, &config, args),
        Command::Unlink(args) => unlink(home, args),
    }
}

/// The number, E.164 digits after a `+`, canonicalised in the owner's region.
fn phone(config: &Config, raw: &str) -> Result<String, WhatsappCliError> {
    let canon = crate::memory::Canonicalizer::new(config.owner.region.as_str());
    let h = canon.canonicalize(raw);
    if h.kind() != crate::memory::handle::Kind::Phone {
        return Err(WhatsappCliError::BadPhone(raw.to_string()));
    }
    Ok(h.value().to_string())
}

/// `+15125551234` as people write it: `+1 512-555-1234`.
pub fn display_number(e164: &str) -> String {
    state::display_number(e164)
}

/// What `show` writes for one QR or pair code: stdout for people, stderr with `--json`.
#[cfg(feature = "whatsapp-web")]
fn prompt(json: bool, text: &str) {
    use std::io::Write;
    if json {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        out!("{text}");
    }
}

/// The screen for one QR code (cleared first on a terminal, so a rotation redraws it).
pub fn qr_screen(payload: &str, clear: bool) -> String {
    let drawn = match qr::render(payload) {
        Ok(q) => q,
        Err(e) => return format!("{e}\n"),
    };
    let head = if clear { "\x1b[2J\x1b[H" } else { "" };
    format!(
        "{head}Scan with WhatsApp on your phone: Settings > Linked devices > Link a device.\n(The code changes every 20 seconds; this one is redrawn when it does.)\n\n{drawn}\n"
    )
}

#[cfg(feature = "whatsapp-web")]
fn link(home: &Home, config: &Config, args: LinkArgs) -> anyhow::Result<ExitCode> {
    use crate::bridges::whatsapp::linked::{link, session::Link};
    use serde::Serialize;
    use std::io::IsTerminal;
    use std::time::Duration;
    let how = match &args.phone {
        Some(raw) => Link::Code {
            phone: phone(config, raw)?,
        },
        None => Link::Qr,
    };
    let canon = crate::memory::Canonicalizer::new(config.owner.region.as_str());
    let json = args.json;
    let clear = !json && std::io::stdout().is_terminal();
    let show = move |s: link::Shown| match s {
        link::Shown::Qr(code) => prompt(json, &qr_screen(&code, clear)),
        link::Shown::Code(code) => prompt(
            json,
            &format!(
                "On your phone: WhatsApp > Settings > Linked devices > Link a device > Link with phone number instead, and type\n\n    {code}\n\n"
            ),
        ),
    };
    let session = crate::bridges::whatsapp::linked::open_session(home.root());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let within = Duration::from_secs(args.timeout.max(10));
    let linked = rt.block_on(link::link(
        &*session,
        home.root(),
        how,
        &canon,
        show,
        within,
    ))?;
    let running = crate::daemon::pidfile::inspect(&home.pid_path()).is_some();
    if json {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out<'a> {
            linked: bool,
            #[serde(flatten)]
            link: &'a link::Linked,
            restart_needed: bool,
        }
        super::print_json(&Out {
            linked: true,
            link: &linked,
            restart_needed: running,
        })?;
    } else {
        outln!(
            "✅ Linked WhatsApp {} ({}).",
            display_number(&linked.number),
            linked.platform
        );
        if config.bridges.whatsapp.is_none() {
            outln!(
                "Add `bridges: {{whatsapp: {{mode: linked}}}}` to steward.yaml so the daemon reads it."
            );
        }
        if running {
            outln!("Run `steward restart` so the daemon connects with the new link.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "whatsapp-web")]
fn unlink(home: &Home, args: UnlinkArgs) -> anyhow::Result<ExitCode> {
    use crate::bridges::whatsapp::linked::link;
    use serde::Serialize;
    use std::time::Duration;
    if crate::daemon::pidfile::inspect(&home.pid_path()).is_some()
        && state::load(home.root()).status == state::Status::Linked
    {
        return Err(WhatsappCliError::DaemonRunning.into());
    }
    let session = crate::bridges::whatsapp::linked::open_session(home.root());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let done = rt.block_on(link::unlink(
        &*session,
        home.root(),
        Duration::from_secs(20),
    ))?;
    if args.json {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out<'a> {
            unlinked: bool,
            #[serde(flatten)]
            done: &'a link::Unlinked,
        }
        super::print_json(&Out {
            unlinked: true,
            done: &done,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    match (&done.number, done.logged_out) {
        (Some(n), true) => outln!(
            "Unlinked {}: WhatsApp removed Steward's device and the session is deleted.",
            display_number(n)
        ),
        (Some(n), false) => outln!(
            "Unlinked {}: the session is deleted, but WhatsApp could not be reached; remove \"Steward\" under Settings > Linked devices on your phone.",
            display_number(n)
        ),
        (None, _) => outln!("WhatsApp was not linked; nothing to unlink."),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "whatsapp-web"))]
fn link(_: &Home, config: &Config, args: LinkArgs) -> anyhow::Result<ExitCode> {
    if let Some(raw) = &args.phone {
        phone(config, raw)?;
    }
    Err(WhatsappCliError::NotBuilt.into())
}

#[cfg(not(feature = "whatsapp-web"))]
fn unlink(home: &Home, _: UnlinkArgs) -> anyhow::Result<ExitCode> {
    let _ = state::load(home.root());
    Err(WhatsappCliError::NotBuilt.into())
}
