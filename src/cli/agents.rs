//! `steward agents [--json]`: the roster with schedules, next and last runs;
//! `agents run NAME` (through the pipeline: the daemon's if one runs, else
//! in-process), `agents enable|disable NAME`, `agents create --prompt "…"`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::reach::{self, Reach};
use crate::agents::cron;
use crate::agents::roster;
use crate::agents::scheduler::{self, Scheduler};
use crate::commands::Owner;
use crate::home::Home;
use crate::pipeline::{RunOutcome, runs};
use crate::spec::Tier;
use crate::store;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Option<Command>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run one agent now; `--json` prints the run as `steward runs --json` does.
    Run {
        /// The agent's name, as `steward agents` lists it.
        name: String,
        /// What the run works on (handed to the model as data).
        #[arg(long, default_value = "")]
        input: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Let an agent run on its schedule.
    Enable {
        /// The agent's name, as `steward agents` lists it.
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop an agent's scheduled runs (it can still be run by hand).
    Disable {
        /// The agent's name, as `steward agents` lists it.
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Describe a loop agent; the model writes its spec into <home>/agents/.
    Create {
        /// What the new agent should do, in plain words (a model writes its spec).
        #[arg(long)]
        prompt: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    name: String,
    tier: Tier,
    cron: Option<String>,
    next_run_at: Option<String>,
    last_run: Option<Value>,
    enabled: bool,
    needs_model: bool,
    /// Why it cannot run here, if it cannot.
    needs: Option<String>,
    /// Its own cron was invalid and the tier's default applies.
    cron_warning: Option<String>,
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    match args.cmd {
        None => list(home, args.json),
        Some(Command::Run { name, input, json }) => run_one(home, &name, &input, json),
        Some(Command::Enable { name, json }) => toggle(home, &name, true, json || args.json),
        Some(Command::Disable { name, json }) => toggle(home, &name, false, json || args.json),
        Some(Command::Create { prompt, json }) => create(home, &prompt, json),
    }
}

fn list(home: &Home, json: bool) -> anyhow::Result<ExitCode> {
    let config = crate::config::Config::load(&home.config_path())?;
    let tz = crate::profile::watch::read(&home.owner_profile_path())
        .ok()
        .and_then(|p| p.zone())
        .unwrap_or_else(|| config.owner.timezone.zone());
    let roster = crate::spec::Roster::load(home.root());
    let conn = store::open_readonly(&home.db_path())?;
    let models = crate::llm::Router::from_config(&config.models).unwrap_or_default();
    let now = jiff::Timestamp::now();
    let mut rows = Vec::new();
    for spec in roster.specs.values() {
        let (cron, warning) = cron::effective(spec.tier, spec.cron.as_deref());
        let enabled = scheduler::enabled(&conn, spec)?;
        let needs = roster::needs(spec);
        let next = match (&cron, enabled && needs.is_none()) {
            (Some(c), true) => c.next_after(now, &tz).map(|t| t.to_string()),
            _ => None,
        };
        let last = runs::list(&conn, Some(&spec.name), 1)?
            .into_iter()
            .next()
            .map(|r| json!({ "id": r.id, "status": r.status, "at": r.started_at }));
        let needs_model = spec.capability.is_some() && !roster::has_behaviour(spec);
        let needs = needs.or_else(|| {
            let cap = spec.capability.as_deref()?;
            (needs_model && !models.has(cap, false)).then(|| crate::llm::no_model(cap))
        });
        rows.push(Row {
            name: spec.name.clone(),
            tier: spec.tier,
            cron: cron.map(|c| c.text),
            next_run_at: next,
            last_run: last,
            enabled,
            needs_model,
            needs,
            cron_warning: warning,
        });
    }
    if json {
        super::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in rows {
        let when = match (&r.cron, &r.next_run_at) {
            (None, _) => "on signals/messages".to_string(),
            (Some(c), Some(n)) => format!("{c} · next {}", super::local_time(n, &tz)),
            (Some(c), None) => format!("{c} · not scheduled"),
        };
        let state = if r.enabled { "on" } else { "off" };
        out!(
            "{:<20} {:<5} {state:<3} {when}",
            r.name,
            format!("{:?}", r.tier).to_lowercase()
        );
        if let Some(n) = &r.needs {
            out!("  ({n})");
        }
        outln!();
    }
    Ok(ExitCode::SUCCESS)
}

fn run_one(home: &Home, name: &str, input: &str, json: bool) -> anyhow::Result<ExitCode> {
    let outcome: RunOutcome = match reach::reach(home)? {
        Reach::Daemon { addr, token } => {
            let body = json!({ "input": input });
            // A forwarded run may wait on the remote runtime for minutes.
            let v = reach::post(
                addr,
                &token,
                &format!("/v1/agents/{name}/run"),
                &body,
                Duration::from_secs(900),
            )?;
            serde_json::from_value(v)?
        }
        Reach::Local => {
            let (name, input) = (name.to_string(), input.to_string());
            let profile =
                crate::profile::watch::read(&home.owner_profile_path()).unwrap_or_default();
            let root = home.root().to_path_buf();
            reach::locally(home, move |pipeline, config| async move {
                let owner = Owner::new(
                    pipeline,
                    crate::profile::watch::SharedProfile::new(profile),
                    config.owner.region.as_str(),
                )
                .with_name(&config.owner.name)
                .with_prompts(&root);
                let s = Scheduler::new(owner, config.quiet_hours);
                Ok(s.run_now(&name, &input).await?)
            })?
        }
    };
    let conn = store::open_readonly(&home.db_path())?;
    let detail = runs::show(&conn, &outcome.run_id)?.context("the run vanished")?;
    if json {
        super::print_json(&detail.summary)?;
    } else {
        let s = &detail.summary;
        out!("{} {} {}", s.id, s.agent, outcome.status.as_str());
        if let Some(reason) = &outcome.reason {
            out!(": {reason}");
        }
        outln!();
        for e in &detail.journal {
            let p: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
            match e.kind.as_str() {
                "model.called" => outln!("{}", p["text"].as_str().unwrap_or_default()),
                "runtime.verified" => outln!(
                    "remote run {} {} (receipt verified, key {})",
                    p["remoteRunId"].as_str().unwrap_or_default(),
                    p["status"].as_str().unwrap_or_default(),
                    p["keyFingerprint"].as_str().unwrap_or_default()
                ),
                _ => {}
            }
        }
        for effect in &detail.plan {
            if let crate::pipeline::Effect::NotifyOwner { text, .. } = effect {
                outln!("→ you: {text}");
            }
        }
    }
    Ok(
        if outcome.status.is_final() && outcome.status != crate::pipeline::RunStatus::Succeeded {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn toggle(home: &Home, name: &str, on: bool, json: bool) -> anyhow::Result<ExitCode> {
    let roster = crate::spec::Roster::load(home.root());
    let spec = roster.get(name).map_err(anyhow::Error::msg)?;
    let conn = store::open_writer(&home.db_path())?;
    scheduler::set_enabled(&conn, &spec.name, on)?;
    if json {
        super::print_json(&json!({
            "name": spec.name,
            "enabled": on,
            "needs": roster::needs(spec),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    match (on, roster::needs(spec)) {
        (true, Some(why)) => outln!("{name} is enabled, but cannot run yet: {why}"),
        (true, None) => outln!("{name} runs on its schedule."),
        (false, _) => outln!(
            "{name} no longer runs on its schedule (`steward agents run {name}` still works)."
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The manifest fields the model fills (Lantern's), turned into our spec.
fn spec_yaml(m: &Value) -> anyhow::Result<(String, String)> {
    let name = m["name"]
        .as_str()
        .map(|n| n.trim().to_lowercase().replace([' ', '_'], "-"))
        .filter(|n| !n.is_empty())
        .context("the model's manifest has no name")?;
    let tier = m["tier"].as_str().unwrap_or("meso").to_lowercase();
    let trust = match m["trust"].as_str().unwrap_or("ask") {
        "auto_safe" => "auto_safe",
        "manual" => "manual",
        _ => "ask",
    };
    let goal = m["goal"]
        .as_str()
        .unwrap_or("a loop agent the owner described")
        .replace(['\n', '"'], " ");
    let role = m["role"]
        .as_str()
        .unwrap_or("concierge")
        .replace(['\n', '"'], " ");
    let mut yaml = format!(
        "# Written by `steward agents create` from the owner's description.\nname: {name}\nrole: \"{role}\"\ndescription: \"{goal}\"\ntier: {tier}\n"
    );
    if let Some(c) = m["cron"].as_str().filter(|c| cron::Cron::parse(c).is_ok()) {
        yaml.push_str(&format!("cron: \"{c}\"\n"));
    }
    yaml.push_str(&format!(
        "capability: fast\naudience: owner\ntrust: {trust}\nruntime: local\ntools: [notify_owner, read_memory]\nbudget:\n  maxCostUsdPerRun: 0.02\n  maxCostUsdPerDay: 0.20\n  maxRunsPerDay: 100\n  hardFail: true\n  notifyAtPct: 80\n"
    ));
    Ok((name, yaml))
}

fn create(home: &Home, prompt: &str, json: bool) -> anyhow::Result<ExitCode> {
    let ask = format!(
        "Write a JSON manifest for a personal-assistant loop agent the owner describes below. Fields: \
         type (\"loop\"), role, name (kebab-case), goal, tier (nano|micro|meso|macro|mega), cron (5-field, optional), \
         sensors (list), actions (list), trust (ask|auto_safe|manual). Reply with the JSON object only.\n\n\
         The owner's description (data):\n<description>\n{prompt}\n</description>"
    );
    let plan = vec![crate::pipeline::Effect::Ask {
        prompt: ask,
        json: true,
    }];
    let outcome: RunOutcome = match reach::reach(home)? {
        Reach::Daemon { addr, token } => {
            let body = json!({ "agent": "chief-of-staff", "input": prompt, "plan": plan });
            serde_json::from_value(reach::post(
                addr,
                &token,
                "/v1/runs",
                &body,
                Duration::from_secs(300),
            )?)?
        }
        Reach::Local => {
            let input = prompt.to_string();
            reach::locally(home, move |pipeline, _| async move {
                Ok(pipeline
                    .run(crate::pipeline::RunRequest {
                        agent: "chief-of-staff".into(),
                        trigger: crate::pipeline::Trigger::Manual,
                        actor: crate::pipeline::Actor::Console,
                        input,
                        dedup_key: None,
                        plan,
                        forecast_usd: crate::spec::Usd(0),
                    })
                    .await?)
            })?
        }
    };
    if outcome.status != crate::pipeline::RunStatus::Succeeded {
        bail!(
            "the manifest was not written: {}",
            outcome
                .reason
                .unwrap_or_else(|| outcome.status.as_str().into())
        );
    }
    let conn = store::open_readonly(&home.db_path())?;
    let text = runs::model_answer(&conn, &outcome.run_id, None)?
        .context("the model returned no manifest")?;
    let body = text
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```");
    let manifest: Value =
        serde_json::from_str(body.trim()).context("the model's manifest is not JSON")?;
    let (name, yaml) = spec_yaml(&manifest)?;
    let path = home.root().join("agents").join(format!("{name}.yaml"));
    crate::spec::AgentSpec::parse(&yaml, &path)
        .map_err(|e| anyhow::anyhow!("the model's manifest is not a valid spec: {e}"))?;
    if path.exists()
        || crate::spec::Roster::load(home.root())
            .specs
            .contains_key(&name)
    {
        bail!("an agent called {name} already exists; nothing was written");
    }
    std::fs::create_dir_all(path.parent().expect("agents dir"))?;
    std::fs::write(&path, &yaml)?;
    if json {
        super::print_json(
            &json!({ "agentName": name, "path": path, "runId": outcome.run_id, "manifest": manifest }),
        )?;
    } else {
        outln!(
            "Wrote {} (run {}). The daemon picks it up on its next start.",
            path.display(),
            outcome.run_id
        );
    }
    Ok(ExitCode::SUCCESS)
}
