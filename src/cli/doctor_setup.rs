//! The `doctor` checks a first hour needs (issue 18): is the owner filled in,
//! does the profile's location name a zone, which agents cannot run here (one
//! per line), and is the running daemon on an older steward.yaml than the file.

use std::path::Path;

use super::doctor::{Check, Level};
use crate::config::Config;
use crate::daemon::pidfile;
use crate::home::Home;

/// owner.name and owner.handles: empty ones are the two things `setup` asks first.
pub fn check_owner(config: Option<&Config>) -> Check {
    const NAME: &str = "owner";
    let Some(owner) = config.map(|c| &c.owner) else {
        return Check::ok(NAME, "skipped (config invalid)");
    };
    let mut missing = Vec::new();
    if owner.name.trim().is_empty() {
        missing.push("owner.name is empty: drafts and replies cannot say who you are");
    }
    if owner.handles.is_empty() {
        missing.push(
            "owner.handles is empty: Steward cannot tell your own messages (or your self-chat) from a contact's",
        );
    }
    if missing.is_empty() {
        return Check::ok(
            NAME,
            format!("{} ({})", owner.name, owner.handles.join(", ")),
        );
    }
    Check::bad(
        NAME,
        Level::Warn,
        missing.join("; "),
        "steward setup --name \"Your Name\" --handle +15125551234 (or edit owner: in steward.yaml)",
    )
}

/// A `Location:` line that names no zone Steward knows ("Atlantis") would
/// otherwise be ignored without a word.
pub fn check_location(home: &Home, config: Option<&Config>) -> Option<Check> {
    const NAME: &str = "location";
    let profile = crate::profile::watch::read(&home.owner_profile_path()).ok()?;
    let location = profile.location.as_deref()?;
    if profile.timezone.is_some() || location.trim().is_empty() || location.starts_with('<') {
        return None;
    }
    let fallback = config
        .map(|c| c.owner.timezone.zone())
        .and_then(|z| z.iana_name().map(str::to_string))
        .unwrap_or_else(|| "this machine's".to_string());
    Some(Check::bad(
        NAME,
        Level::Warn,
        format!(
            "the profile's \"Location: {location}\" names no time zone Steward knows; it uses {fallback}"
        ),
        format!(
            "name a zone in {}: \"Location: Austin (CST)\" or an IANA name such as America/Chicago",
            home.owner_profile_path().display()
        ),
    ))
}

/// The agents that cannot run on this machine, each with why, one per line.
pub fn agents_waiting(home: &Home) -> Vec<String> {
    let roster = crate::spec::Roster::load(home.root());
    roster
        .specs
        .values()
        .filter_map(|s| crate::agents::roster::needs(s).map(|why| format!("{}: {why}", s.name)))
        .collect()
}

/// A daemon started before steward.yaml last changed runs on the old file:
/// `models:`, `http:` and the bridges are read once, at start.
pub fn check_config_age(home: &Home) -> Option<Check> {
    let info = pidfile::inspect(&home.pid_path())?;
    // The pid file's mtime, not its `startedAt`: both sides of the comparison
    // are then the file system's clock (a process clock may differ from it,
    // as under faketime in CI).
    let started = modified(&home.pid_path())?;
    let changed = modified(&home.config_path())?;
    (changed > started).then(|| {
        Check::bad(
            "configAge",
            Level::Warn,
            format!(
                "steward.yaml changed after the running daemon (pid {}) started; it still runs on the old file",
                info.pid
            ),
            "steward restart",
        )
    })
}

fn modified(path: &Path) -> Option<jiff::Timestamp> {
    let time = std::fs::metadata(path).ok()?.modified().ok()?;
    jiff::Timestamp::try_from(time).ok()
}
