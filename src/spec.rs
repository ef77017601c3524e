//! `agents/*.yaml` into [`AgentSpec`].
//!
//! Every field is checked at parse time, so an error names the file, the line and
//! the field. A spec that fails to parse does not stop the daemon: the roster
//! keeps the error, and a run of that agent is refused with it as the reason.
//!
//! This module sits below the pipeline: admission checks a spec's audience,
//! trust, tools, runtime and model lock, and prices runs in [`Usd`], so these
//! types cannot live with the agents' behaviour (`crate::agents`), which runs
//! through the pipeline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::assets::{self, Folder, Origin};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SpecError {
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error(
        "{file}:{line}: field `name` is {name:?} but the file is {stem}.yaml; rename one to match"
    )]
    NameMismatch {
        file: String,
        line: u32,
        name: String,
        stem: String,
    },
    #[error("{0}")]
    Unreadable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Nano,
    Micro,
    Meso,
    Macro,
    Mega,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    /// Talks only to the owner (self-chat nudges).
    Owner,
    /// Drafts messages to contacts: every send needs the owner's confirmation.
    Contacts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Ask the owner before anything reaches a contact (the default).
    #[default]
    Ask,
    /// Owner-facing work runs unattended; contact sends still need a yes.
    AutoSafe,
    /// Runs only when the owner starts it.
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    #[default]
    Local,
    Remote,
    Auto,
}

/// What an agent may do. A plan effect needs its tool on the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    /// Send a message to a contact (always behind a confirmation).
    Reply,
    /// Send a message to the owner's self-chat.
    NotifyOwner,
    /// Read the person-graph memory.
    ReadMemory,
    /// Write to the owner's calendar.
    CalendarWrite,
    /// Fetch a web page (its text is untrusted data).
    WebFetch,
    /// Search the owner's documents (owner-triggered runs only).
    ReadDocuments,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Reply => "reply",
            Tool::NotifyOwner => "notify_owner",
            Tool::ReadMemory => "read_memory",
            Tool::CalendarWrite => "calendar_write",
            Tool::WebFetch => "web_fetch",
            Tool::ReadDocuments => "read_documents",
        }
    }
}

/// A non-negative, finite dollar amount, held as integer micro-dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Usd(pub i64);

impl Usd {
    pub const MICROS: f64 = 1_000_000.0;
    pub fn micros(self) -> i64 {
        self.0
    }
    pub fn from_micros(micros: i64) -> Usd {
        Usd(micros)
    }
    pub fn dollars(self) -> f64 {
        self.0 as f64 / Self::MICROS
    }
}

impl TryFrom<f64> for Usd {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, Self::Error> {
        if !v.is_finite() || !(0.0..=1_000_000.0).contains(&v) {
            return Err(format!(
                "{v} is not a dollar amount between 0 and 1,000,000"
            ));
        }
        Ok(Usd((v * Self::MICROS).round() as i64))
    }
}

impl From<Usd> for f64 {
    fn from(u: Usd) -> f64 {
        u.dollars()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentBudget {
    pub max_cost_usd_per_run: Usd,
    pub max_cost_usd_per_day: Usd,
    pub max_runs_per_day: u32,
    /// Refuse a run that would pass a limit (otherwise: allow, and tell the owner).
    pub hard_fail: bool,
    /// Tell the owner once a day when spend reaches this share of the daily cap.
    pub notify_at_pct: Pct,
}

impl Default for AgentBudget {
    fn default() -> Self {
        AgentBudget {
            max_cost_usd_per_run: Usd(50_000),
            max_cost_usd_per_day: Usd(500_000),
            max_runs_per_day: 500,
            hard_fail: true,
            notify_at_pct: Pct(80),
        }
    }
}

/// A percentage from 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(try_from = "u32")]
pub struct Pct(pub u32);

impl TryFrom<u32> for Pct {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        if (1..=100).contains(&v) {
            Ok(Pct(v))
        } else {
            Err(format!("{v} is not a percentage from 1 to 100"))
        }
    }
}

/// The agent whose runs carry command replies to the owner. Named here, below
/// the pipeline, because admission lets it through the kill switch (so "kill
/// switch off" can be acknowledged); the commands own its behaviour.
pub const SELF_CHAT_AGENT: &str = "self-chat";

/// An agent name: lower-case letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(try_from = "String")]
pub struct AgentName(pub String);

impl TryFrom<String> for AgentName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok {
            Ok(AgentName(s))
        } else {
            Err(format!(
                "agent name {s:?} must be 1-64 lower-case letters, digits and dashes"
            ))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSpec {
    name: Spanned<AgentName>,
    role: String,
    description: String,
    tier: Tier,
    #[serde(default)]
    cron: Option<String>,
    #[serde(default)]
    capability: Option<String>,
    audience: Audience,
    #[serde(default)]
    trust: Trust,
    #[serde(default)]
    runtime: RuntimeKind,
    #[serde(default)]
    tools: Vec<Tool>,
    #[serde(default)]
    budget: AgentBudget,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    model_lock: Option<ModelLock>,
    #[serde(default, deserialize_with = "max_output_tokens")]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    feeds: Vec<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    query: Vec<String>,
    #[serde(default)]
    disabled: Option<String>,
}

/// `maxOutputTokens`: 1 to 200,000, like `models.limits.*.maxOutputTokens`.
fn max_output_tokens<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = u32::deserialize(d)?;
    if !(1..=200_000).contains(&v) {
        return Err(serde::de::Error::custom(format!(
            "maxOutputTokens must be 1 to 200000 tokens, not {v}"
        )));
    }
    Ok(Some(v))
}

/// Restricts which models an agent may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelLock {
    /// Only providers on this machine (e.g. anything that reads the owner's documents).
    Local,
}

/// One agent's manifest.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSpec {
    pub name: String,
    pub role: String,
    pub description: String,
    pub tier: Tier,
    pub cron: Option<String>,
    /// The model alias it needs (`fast`, `draft`, `reason`); `None`: no model.
    pub capability: Option<String>,
    pub audience: Audience,
    pub trust: Trust,
    pub runtime: RuntimeKind,
    pub tools: Vec<Tool>,
    pub budget: AgentBudget,
    pub prompt: Option<String>,
    pub model_lock: Option<ModelLock>,
    /// This agent's output cap per model call, over its capability's
    /// (`models.limits`); the budget reserves for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// RSS/Atom feeds (ai-radar).
    pub feeds: Vec<String>,
    /// A domain tracker's view (`vehicle`, `home`, …) and the words its mail
    /// must contain (any one of them, whole words, subject or body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<String>,
    /// Off unless the owner enables it, and why (e.g. a bridge it needs is missing).
    pub disabled: Option<String>,
    /// The file it was read from (`agents/NAME.yaml` when shipped), so a
    /// refusal can say where to change a limit.
    #[serde(skip)]
    pub file: std::path::PathBuf,
}

impl AgentSpec {
    /// Parse a spec's text; `file` names it in errors and its stem must equal `name`.
    pub fn parse(text: &str, file: &Path) -> Result<AgentSpec, SpecError> {
        let display = file.display().to_string();
        let raw: RawSpec = serde_saphyr::from_str(text).map_err(|err| {
            let (line, column) = err
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            SpecError::Invalid {
                file: display.clone(),
                line,
                column,
                message: err.without_snippet().to_string(),
            }
        })?;
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if raw.name.value.0 != stem {
            return Err(SpecError::NameMismatch {
                file: display,
                line: raw.name.referenced.line() as u32,
                name: raw.name.value.0,
                stem: stem.to_string(),
            });
        }
        Ok(AgentSpec {
            name: raw.name.value.0,
            role: raw.role,
            description: raw.description,
            tier: raw.tier,
            cron: raw.cron,
            capability: raw.capability,
            audience: raw.audience,
            trust: raw.trust,
            runtime: raw.runtime,
            tools: raw.tools,
            budget: raw.budget,
            prompt: raw.prompt,
            model_lock: raw.model_lock,
            max_output_tokens: raw.max_output_tokens,
            feeds: raw.feeds,
            domain: raw.domain,
            query: raw.query,
            disabled: raw.disabled,
            file: file.to_path_buf(),
        })
    }

    pub fn allows(&self, tool: Tool) -> bool {
        self.tools.contains(&tool)
    }
}

/// Every agent: shipped specs overridden by `<home>/agents/NAME.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    pub specs: BTreeMap<String, AgentSpec>,
    /// Agents whose file did not parse, with the error (runs of them are refused).
    pub invalid: BTreeMap<String, SpecError>,
}

impl Roster {
    pub fn load(home: &Path) -> Roster {
        let mut roster = Roster::default();
        for file in assets::list(home, Folder::Agents) {
            let Some(stem) = file.strip_suffix(".yaml") else {
                continue;
            };
            let loaded = assets::load(home, Folder::Agents, &file);
            let result = match loaded {
                Ok(Some(asset)) => {
                    let path = match &asset.origin {
                        Origin::Home(p) => p.clone(),
                        Origin::Shipped => PathBuf::from("agents").join(&file),
                    };
                    AgentSpec::parse(&asset.text, &path)
                }
                Ok(None) => continue,
                Err(e) => Err(SpecError::Unreadable(e.to_string())),
            };
            match result {
                Ok(spec) => {
                    roster.specs.insert(stem.to_string(), spec);
                }
                Err(e) => {
                    tracing::warn!(agent = stem, error = %e, "agent spec is invalid; its runs will be refused");
                    roster.invalid.insert(stem.to_string(), e);
                }
            }
        }
        roster
    }

    /// The spec for `name`, or why there is none.
    pub fn get(&self, name: &str) -> Result<&AgentSpec, String> {
        if let Some(spec) = self.specs.get(name) {
            return Ok(spec);
        }
        match self.invalid.get(name) {
            Some(err) => Err(format!("agent {name} has an invalid spec: {err}")),
            None => Err(format!(
                "unknown agent {name:?}; `steward agents` lists the known ones"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name: tester\nrole: concierge\ndescription: d\ntier: meso\naudience: owner\ntools: [notify_owner]\n";

    #[test]
    fn every_shipped_spec_is_valid() {
        let empty = tempfile::tempdir().unwrap();
        let roster = Roster::load(empty.path());
        assert!(roster.invalid.is_empty(), "{:?}", roster.invalid);
        for name in [
            "concierge",
            "imessage-assistant",
            "whatsapp-assistant",
            "telegram-assistant",
            "chief-of-staff",
        ] {
            assert!(roster.specs.contains_key(name), "{name} missing");
        }
        let assistant = &roster.specs["imessage-assistant"];
        assert_eq!(assistant.audience, Audience::Contacts);
        assert!(assistant.allows(Tool::Reply));
    }

    #[test]
    fn defaults_apply() {
        let spec = AgentSpec::parse(GOOD, Path::new("agents/tester.yaml")).unwrap();
        assert_eq!(spec.trust, Trust::Ask);
        assert_eq!(spec.runtime, RuntimeKind::Local);
        assert_eq!(spec.budget, AgentBudget::default());
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let bad = GOOD.replace("tier: meso", "tier: hourly");
        let err = AgentSpec::parse(&bad, Path::new("agents/tester.yaml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("agents/tester.yaml:4:"), "{text}");
        assert!(text.contains("hourly"), "{text}");

        let bad = format!("{GOOD}budget:\n  notifyAtPct: 150\n");
        let err = AgentSpec::parse(&bad, Path::new("agents/tester.yaml")).unwrap_err();
        assert!(err.to_string().contains(":8:"), "{err}");

        let bad = format!("{GOOD}budget:\n  maxCostUsdPerRun: -1\n");
        assert!(AgentSpec::parse(&bad, Path::new("agents/tester.yaml")).is_err());

        let bad = format!("{GOOD}tols: []\n");
        let err = AgentSpec::parse(&bad, Path::new("agents/tester.yaml")).unwrap_err();
        assert!(err.to_string().contains("tols"), "{err}");

        let err = AgentSpec::parse(GOOD, Path::new("agents/other.yaml")).unwrap_err();
        assert!(err.to_string().starts_with("agents/other.yaml:1:"), "{err}");
    }

    #[test]
    fn a_home_override_replaces_and_a_broken_one_is_kept_as_an_error() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("agents")).unwrap();
        let custom = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/agents/concierge.yaml"
        ))
        .unwrap()
        .replace("tier: meso", "tier: micro");
        std::fs::write(home.path().join("agents/concierge.yaml"), custom).unwrap();
        std::fs::write(home.path().join("agents/broken.yaml"), "name: broken\n").unwrap();
        let roster = Roster::load(home.path());
        assert_eq!(roster.specs["concierge"].tier, Tier::Micro);
        let why = roster.get("broken").unwrap_err();
        assert!(why.contains("invalid spec"), "{why}");
        assert!(roster.get("nobody").unwrap_err().contains("unknown agent"));
    }

    #[test]
    fn usd_is_exact_micros() {
        assert_eq!(Usd::try_from(0.05).unwrap().micros(), 50_000);
        assert!(Usd::try_from(f64::NAN).is_err());
    }
}
