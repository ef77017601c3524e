//! `steward setup`: the first-run questions (name, handles, time zone, model),
//! each also a flag so it scripts; writes `steward.yaml` and `profiles/owner.md`.
//!
//! Everything is checked before anything is written: a bad time zone or a
//! model URL that does not answer changes nothing. The config keeps its
//! comments: only the `owner:` keys asked about are rewritten in place, and a
//! `models:` block is appended when a model was given.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::UsageError;
use crate::assets;
use crate::bridges::imessage::Paths;
use crate::config::Config;
use crate::home::{self, Home};
use crate::memory::Canonicalizer;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Your name, as your contacts know you.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// One of your own phone numbers or email addresses; repeat for more.
    #[arg(long = "handle", value_name = "HANDLE")]
    pub handles: Vec<String>,
    /// IANA time zone for your days, e.g. America/Chicago (default: this machine's).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// An OpenAI-compatible model server, e.g. http://127.0.0.1:8080/v1 (probed before it is written).
    #[arg(long, value_name = "URL")]
    pub model_url: Option<String>,
    /// The model to use at --model-url (default: the first one it lists).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// The model server's API key as a reference, never the key: env:NAME, file:PATH or keychain:NAME.
    #[arg(long, value_name = "REF")]
    pub api_key: Option<String>,
    /// Take the defaults for everything not given as a flag; ask nothing.
    #[arg(long)]
    pub yes: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The answers, complete and checked.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answers {
    pub name: String,
    pub handles: Vec<String>,
    pub timezone: String,
    pub model: Option<ModelChoice>,
}

/// A model server that answered the probe, and the model taken from it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelChoice {
    pub base_url: String,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Every model the server listed.
    pub available: Vec<String>,
    pub probe_millis: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    home: std::path::PathBuf,
    config: std::path::PathBuf,
    profile: std::path::PathBuf,
    profile_written: bool,
    owner: Answers,
    /// Set when the Messages database is readable: the command that imports it.
    imessage_import: Option<String>,
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    let interactive = !args.yes && std::io::stdin().is_terminal();
    let answers = if interactive {
        let stdin = std::io::stdin();
        ask(&mut stdin.lock(), &mut std::io::stderr(), args)?
    } else {
        from_flags(args)?
    };
    let answers = check(answers)?;
    let model = match &answers.model {
        Some(m) => Some(probe(m)?),
        None => None,
    };
    let answers = Answers { model, ..answers };

    // Checked, probed: now write. The new config text is parsed before it
    // replaces the old one, so setup can never leave a config `up` refuses.
    home.init()?;
    let config_path = home.config_path();
    let old = std::fs::read_to_string(&config_path)?;
    let new = edit_config(&old, &answers)?;
    Config::parse(&new, &config_path)?;
    replace_private(&config_path, &new)?;
    let profile_written = write_profile(&home.owner_profile_path(), &answers)?;

    let imessage_import = Config::load(&config_path).ok().and_then(|c| {
        let paths = Paths::resolve(&c.bridges.imessage, &home::user_home().ok()?);
        std::fs::File::open(&paths.chat_db)
            .ok()
            .map(|_| "steward import imessage".to_string())
    });
    let report = Report {
        home: home.root().to_path_buf(),
        config: config_path,
        profile: home.owner_profile_path(),
        profile_written,
        owner: answers,
        imessage_import,
    };
    if interactive && report.imessage_import.is_some() {
        eprintln!("Your Messages history is readable: `steward import imessage` brings it in.");
    }
    print(&report, json)
}

fn print(report: &Report, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        super::print_json(report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let o = &report.owner;
    outln!("Steward home ready at {}", report.home.display());
    outln!("  owner     {}", o.name);
    outln!(
        "  handles   {}",
        if o.handles.is_empty() {
            "none (Steward cannot tell your own messages apart; add with --handle)".to_string()
        } else {
            o.handles.join(", ")
        }
    );
    outln!("  timezone  {}", o.timezone);
    match &o.model {
        Some(m) => outln!(
            "  model     {} at {} (answered in {} ms)",
            m.model,
            m.base_url,
            m.probe_millis
        ),
        None => outln!(
            "  model     none: commands work, questions need one (`steward setup --model-url URL`)"
        ),
    }
    outln!("  config    {}", report.config.display());
    outln!(
        "  profile   {}{}",
        report.profile.display(),
        if report.profile_written {
            ""
        } else {
            " (kept: you have edited it)"
        }
    );
    if let Some(cmd) = &report.imessage_import {
        outln!("Your Messages history is readable: `{cmd}` imports it.");
    }
    outln!("Next: `steward up` (or `steward install`), then `steward say help`.");
    Ok(ExitCode::SUCCESS)
}

/// Non-interactive: the flags, with the defaults for what they leave out.
fn from_flags(args: Args) -> anyhow::Result<Answers> {
    let Some(name) = args.name else {
        return Err(UsageError(
            "pass --name NAME (or run `steward setup` in a terminal to be asked)".into(),
        )
        .into());
    };
    Ok(Answers {
        name,
        handles: args.handles,
        timezone: args.timezone.unwrap_or_else(system_zone),
        model: args.model_url.map(|url| ModelChoice {
            base_url: url,
            model: args.model.unwrap_or_default(),
            api_key: args.api_key,
            available: Vec::new(),
            probe_millis: 0,
        }),
    })
}

/// Interactive: ask for what the flags left out, each with its default.
pub fn ask(input: &mut impl BufRead, out: &mut impl Write, args: Args) -> anyhow::Result<Answers> {
    let mut line = |question: &str, default: &str| -> anyhow::Result<String> {
        if default.is_empty() {
            write!(out, "{question}: ")?;
        } else {
            write!(out, "{question} [{default}]: ")?;
        }
        out.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        let answer = answer.trim();
        Ok(if answer.is_empty() { default } else { answer }.to_string())
    };
    let name = match args.name {
        Some(n) => n,
        None => line("Your name, as your contacts know you", "")?,
    };
    let handles = if args.handles.is_empty() {
        let raw = line(
            "Your own phone numbers and email addresses (comma-separated)",
            "",
        )?;
        raw.split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect()
    } else {
        args.handles
    };
    let timezone = match args.timezone {
        Some(z) => z,
        None => line("Your time zone", &system_zone())?,
    };
    let url = match args.model_url {
        Some(u) => u,
        None => line(
            "An OpenAI-compatible model URL (e.g. http://127.0.0.1:8080/v1; empty: none for now)",
            "",
        )?,
    };
    let model = if url.is_empty() {
        None
    } else {
        let api_key = match args.api_key {
            Some(k) => Some(k),
            None => Some(line(
                "Its API key as env:NAME (empty: none, as for a local server)",
                "",
            )?)
            .filter(|k| !k.is_empty()),
        };
        Some(ModelChoice {
            base_url: url,
            model: args.model.unwrap_or_default(),
            api_key,
            available: Vec::new(),
            probe_millis: 0,
        })
    };
    Ok(Answers {
        name,
        handles,
        timezone,
        model,
    })
}

/// This machine's zone name, or UTC when it has none jiff can name.
fn system_zone() -> String {
    jiff::tz::TimeZone::system()
        .iana_name()
        .unwrap_or("UTC")
        .to_string()
}

/// Every answer checked, with the fix named: nothing is written until all pass.
fn check(mut a: Answers) -> anyhow::Result<Answers> {
    a.name = a.name.trim().to_string();
    if a.name.is_empty() {
        return Err(UsageError("the owner's name cannot be empty: pass --name NAME".into()).into());
    }
    if jiff::tz::TimeZone::get(&a.timezone).is_err() {
        return Err(UsageError(format!(
            "--timezone {}: not a time zone name; use an IANA name such as America/Chicago or Europe/London",
            a.timezone
        ))
        .into());
    }
    let canon = Canonicalizer::new("US");
    for h in &a.handles {
        if canon.canonicalize(h).kind() == crate::memory::handle::Kind::Other {
            return Err(UsageError(format!(
                "--handle {h}: not a phone number or email address; write a number with its +country code (+15125551234) or an address (you@example.com)"
            ))
            .into());
        }
    }
    if let Some(key) = a.model.as_ref().and_then(|m| m.api_key.as_ref())
        && key.parse::<crate::config::SecretRef>().is_err()
    {
        return Err(UsageError(
            "--api-key: give a reference (env:NAME, file:PATH or keychain:NAME), never the key itself"
                .into(),
        )
        .into());
    }
    Ok(a)
}

/// Ask the server which models it serves (`GET {base}/models`, as every
/// OpenAI-compatible server answers); a URL without `/v1` is tried with it.
fn probe(choice: &ModelChoice) -> anyhow::Result<ModelChoice> {
    let base = choice.base_url.trim_end_matches('/').to_string();
    let mut bases = vec![base.clone()];
    if !base.ends_with("/v1") {
        bases.insert(0, format!("{base}/v1"));
    }
    let key = match &choice.api_key {
        Some(r) => Some(
            r.parse::<crate::config::SecretRef>()
                .map_err(|e| UsageError(e.to_string()))?
                .resolve()?
                .expose()
                .to_string(),
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let mut last_error = String::new();
    for base in bases {
        match runtime.block_on(list_models(&base, key.as_deref())) {
            Ok(available) => {
                let model = pick(&choice.model, &available, &base)?;
                return Ok(ModelChoice {
                    base_url: base,
                    model,
                    api_key: choice.api_key.clone(),
                    available,
                    probe_millis: started.elapsed().as_millis() as u64,
                });
            }
            Err(e) => last_error = e,
        }
    }
    anyhow::bail!(
        "no model answered at {}: {last_error}; start your model server (llama-server, Ollama, LM Studio) or pass another --model-url; nothing was written",
        choice.base_url
    )
}

fn pick(wanted: &str, available: &[String], base: &str) -> anyhow::Result<String> {
    if wanted.is_empty() {
        return available.first().cloned().ok_or_else(|| {
            anyhow::anyhow!("{base} serves no models; load one and run setup again")
        });
    }
    if available.iter().any(|m| m == wanted) {
        Ok(wanted.to_string())
    } else {
        Err(UsageError(format!(
            "--model {wanted}: {base} does not serve it; it serves {}",
            available.join(", ")
        ))
        .into())
    }
}

async fn list_models(base: &str, key: Option<&str>) -> Result<Vec<String>, String> {
    let client = crate::tls::http_client()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client.get(format!("{base}/models"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {base}/models answered {status}"));
    }
    let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    let ids: Vec<String> = body["data"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|m| m["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if body["data"].is_array() {
        Ok(ids)
    } else {
        Err(format!(
            "GET {base}/models did not answer an OpenAI model list"
        ))
    }
}

/// `text` with the owner keys set and, when a model was chosen, a `models:`
/// block appended. Comments and every other key are kept as they were.
pub fn edit_config(text: &str, a: &Answers) -> anyhow::Result<String> {
    let quote = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let handles = format!(
        "[{}]",
        a.handles
            .iter()
            .map(|h| quote(h))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let owner = match lines.iter().position(|l| l.trim_end() == "owner:") {
        Some(i) => i,
        None => {
            lines.insert(0, "owner:".to_string());
            0
        }
    };
    for (key, value) in [
        ("name", quote(&a.name)),
        ("handles", handles),
        ("timezone", quote(&a.timezone)),
    ] {
        set_owner_key(&mut lines, owner, key, &value);
    }
    if let Some(m) = &a.model {
        if lines.iter().any(|l| l.starts_with("models:")) {
            anyhow::bail!(
                "steward.yaml already has a models: section; edit it there, or run setup without --model-url; nothing was written"
            );
        }
        let key = m
            .api_key
            .as_ref()
            .map(|k| format!(", apiKey: {}", quote(k)))
            .unwrap_or_default();
        let model = quote(&format!("local/{}", m.model));
        lines.push(String::new());
        lines.push("# Written by `steward setup`; every capability uses the one model.".into());
        lines.push("models:".into());
        lines.push("  providers:".into());
        lines.push(format!(
            "    local: {{kind: openai, baseUrl: {}{key}}}",
            quote(&m.base_url)
        ));
        lines.push("  capabilities:".into());
        for capability in ["fast", "draft", "reason"] {
            lines.push(format!("    {capability}: [{model}]"));
        }
    }
    Ok(lines.join("\n") + "\n")
}

/// Replace `  key: …` inside the `owner:` block starting at `owner`, or add it.
fn set_owner_key(lines: &mut Vec<String>, owner: usize, key: &str, value: &str) {
    let prefix = format!("  {key}:");
    for line in lines.iter_mut().skip(owner + 1) {
        if !line.is_empty() && !line.starts_with(' ') && !line.starts_with('#') {
            break; // the next top-level key: the owner block ended without it
        }
        if line.starts_with(&prefix) {
            *line = format!("{prefix} {value}");
            return;
        }
    }
    lines.insert(owner + 1, format!("{prefix} {value}"));
}

/// Fill the shipped profile template with the answers; a profile the owner
/// has edited is theirs and is kept. Returns whether it was written.
fn write_profile(path: &Path, a: &Answers) -> anyhow::Result<bool> {
    let template = assets::shipped(assets::Folder::Profiles, "owner.example.md")
        .expect("profiles/owner.example.md ships in the binary");
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if !current.is_empty() && current != template {
        return Ok(false);
    }
    let filled = template
        .replace(
            "<One or two sentences: who you are, what you do.>",
            &format!("I am {}.", a.name),
        )
        .replace(
            "Location: <city, or a time zone: America/Chicago, EST, PST, IST, eastern>",
            &format!("Location: {}", a.timezone),
        );
    replace_private(path, &filled)?;
    Ok(true)
}

/// Write `text` to `path` through a private temporary file and a rename, so
/// a reader (the daemon's watcher) never sees half a file.
fn replace_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("setup-tmp");
    let _ = std::fs::remove_file(&tmp);
    home::write_new(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Args {
        Args {
            name: None,
            handles: vec![],
            timezone: None,
            model_url: None,
            model: None,
            api_key: None,
            yes: false,
            json: false,
        }
    }

    #[test]
    fn the_questions_take_answers_and_defaults() {
        let mut input = std::io::Cursor::new("Ann Lee\n+15125551234, ann@example.com\n\n\n");
        let mut out = Vec::new();
        let a = ask(&mut input, &mut out, args()).unwrap();
        assert_eq!(a.name, "Ann Lee");
        assert_eq!(a.handles, ["+15125551234", "ann@example.com"]);
        assert_eq!(a.timezone, system_zone());
        assert!(a.model.is_none());
        let asked = String::from_utf8(out).unwrap();
        assert!(asked.contains("Your name"), "{asked}");
        assert!(asked.contains(&format!("[{}]", system_zone())), "{asked}");
    }

    #[test]
    fn flags_are_not_asked_again() {
        let mut input = std::io::Cursor::new("\n");
        let mut out = Vec::new();
        let a = ask(
            &mut input,
            &mut out,
            Args {
                name: Some("Ann".into()),
                handles: vec!["+15125551234".into()],
                timezone: Some("Europe/London".into()),
                ..args()
            },
        )
        .unwrap();
        assert_eq!(
            (a.name.as_str(), a.timezone.as_str()),
            ("Ann", "Europe/London")
        );
        let asked = String::from_utf8(out).unwrap();
        assert!(
            !asked.contains("Your name") && !asked.contains("time zone"),
            "{asked}"
        );
    }

    #[test]
    fn the_default_config_takes_the_owner_keys_and_still_parses() {
        let a = Answers {
            name: "Ann \"A\" Lee".into(),
            handles: vec!["+15125551234".into()],
            timezone: "America/Chicago".into(),
            model: None,
        };
        let text = edit_config(crate::config::DEFAULT_YAML, &a).unwrap();
        let c = Config::parse(&text, Path::new("steward.yaml")).unwrap();
        assert_eq!(c.owner.name, "Ann \"A\" Lee");
        assert_eq!(c.owner.handles, ["+15125551234"]);
        assert!(text.contains("# Your name, as your contacts know you."));
    }
}
