//! The daemon's owner side: the owner profile (loaded, watched, problems told
//! once) and the router that hands self-chat lines to the command centre.

use std::path::PathBuf;

use tokio::sync::broadcast;

use crate::commands::{Owner, OwnerMessage};
use crate::owner_state::{self, Key};
use crate::pipeline::{Actor, Effect, Pipeline, RunRequest, Trigger};
use crate::profile::watch::{self, SharedProfile};
use crate::profile::{OwnerProfile, ProfileError};
use crate::types::Inbound;

/// Load the profile now and keep it current. A problem (now or after an edit)
/// is told to the owner once per distinct problem; the last good profile stays.
pub fn profile(
    path: PathBuf,
    pipeline: &Pipeline,
) -> (SharedProfile, Option<notify::RecommendedWatcher>) {
    let (initial, problem) = match watch::read(&path) {
        Ok(p) => (p, None),
        Err(e) => (OwnerProfile::default(), Some(e)),
    };
    let shared = SharedProfile::new(initial);
    let rt = tokio::runtime::Handle::current();
    let report = {
        let pipeline = pipeline.clone();
        move |problem: Option<ProfileError>| {
            let pipeline = pipeline.clone();
            rt.spawn(async move { report(&pipeline, problem).await });
        }
    };
    if let Some(e) = problem {
        report(Some(e));
    }
    let watcher = watch::watch(path, shared.clone(), report);
    (shared, watcher)
}

async fn report(pipeline: &Pipeline, problem: Option<ProfileError>) {
    let text = problem.as_ref().map(ToString::to_string);
    let t = text.clone();
    // Tell once per distinct problem; a good load clears it so the next one is told.
    let fresh = pipeline
        .store()
        .write(move |c| {
            let last = owner_state::get(c, Key::ProfileProblem)?
                .and_then(|(v, _)| v.as_str().map(str::to_string));
            match &t {
                Some(p) if last.as_deref() == Some(p.as_str()) => Ok(false),
                Some(p) => {
                    owner_state::set(
                        c,
                        Key::ProfileProblem,
                        &serde_json::Value::String(p.clone()),
                    )?;
                    Ok(true)
                }
                None => {
                    owner_state::clear(c, Key::ProfileProblem)?;
                    Ok(false)
                }
            }
        })
        .await
        .unwrap_or(false);
    let Some(problem) = text.filter(|_| fresh) else {
        return;
    };
    let channel = pipeline.settings().owner_channel.clone();
    let msg = format!(
        "⚠️ {problem}. I'm keeping the last good version of your profile until it's fixed."
    );
    let out = pipeline
        .run(RunRequest {
            agent: crate::spec::SELF_CHAT_AGENT.into(),
            trigger: Trigger::Owner,
            actor: Actor::Console,
            input: String::new(),
            dedup_key: None,
            plan: vec![Effect::NotifyOwner {
                channel,
                text: msg,
                regarding: None,
            }],
            forecast_usd: crate::spec::Usd(0),
        })
        .await;
    if let Err(e) = out {
        tracing::warn!(error = %e, "cannot tell the owner about the profile problem");
    }
}

/// Hand every new self-chat line to the command centre, after dropping the
/// echoes of Steward's own replies.
pub fn route(owner: Owner, mut bus: broadcast::Receiver<Inbound>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let msg = match bus.recv().await {
                Ok(m) => m,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the owner router fell behind");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if !msg.is_command || !msg.from_me {
                continue;
            }
            tracing::debug!(chars = msg.text.chars().count(), "self-chat line");
            let channels = owner.pipeline().channels();
            // sms/rcs lines in the self-chat are answered by the iMessage bridge.
            let channel = if channels.contains(&msg.channel.as_str()) {
                msg.channel.clone()
            } else if channels.contains(&"imessage") {
                "imessage".to_string()
            } else {
                owner.pipeline().settings().owner_channel.clone()
            };
            let (ch, text) = (channel.clone(), msg.text.clone());
            // A bot never receives its own messages: on Telegram nothing is an echo.
            let echoes = msg.channel != crate::bridges::telegram::CHANNEL;
            let echo = owner
                .pipeline()
                .store()
                .write(move |c| Ok(echoes && owner_state::take_echo(c, &ch, &text)?))
                .await;
            match echo {
                Ok(true) => {
                    tracing::debug!("dropped our own echo");
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "echo check failed; not acting on the line");
                    continue;
                }
            }
            // A self-chat line is the owner's by construction; name their handle in
            // the audit when the identity gate knows it, else the console.
            let actor = msg
                .handle
                .as_ref()
                .map(|h| Actor::Handle {
                    channel: msg.channel.clone(),
                    handle: h.clone(),
                })
                .filter(|a| owner.pipeline().is_owner(a))
                .unwrap_or(Actor::Console);
            let owner_msg = OwnerMessage {
                channel,
                actor,
                text: msg.text,
            };
            if let Err(e) = owner.handle(owner_msg).await {
                tracing::warn!(error = %e, "a self-chat command failed");
            }
        }
    })
}

/// Hand every new contact message to the contact assistant, one at a time (a
/// contact's messages stay in order), and drain the quiet-hours queue each minute.
pub fn contacts(
    assistant: crate::assistant::Assistant,
    owner: Owner,
    mut bus: broadcast::Receiver<Inbound>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = jiff::Timestamp::now().to_zoned(owner.tz());
                    if let Err(e) = assistant.drain(&now).await {
                        tracing::warn!(error = %e, "draining the quiet-hours queue failed");
                    }
                }
                msg = bus.recv() => {
                    let msg = match msg {
                        Ok(m) => m,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "the contact assistant fell behind");
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    };
                    if msg.is_command {
                        continue;
                    }
                    let now = jiff::Timestamp::now().to_zoned(owner.tz());
                    match assistant.on_inbound(&msg, &now).await {
                        Ok(outcome) => tracing::info!(channel = %msg.channel, "contact message: {}", outcome.summary()),
                        Err(e) => tracing::warn!(error = %e, "the contact assistant failed on a message"),
                    }
                }
            }
        }
    })
}

/// Runs a restart could not finish (a send that may or may not have gone
/// out is never repeated) are told to the owner once, at boot.
pub async fn report_resumed(owner: &Owner, channel: &str, resumed: &[crate::pipeline::RunOutcome]) {
    for run in resumed
        .iter()
        .filter(|r| r.status == crate::pipeline::RunStatus::Failed)
    {
        let why = run.reason.as_deref().unwrap_or("it stopped mid-way");
        let msg = OwnerMessage {
            channel: channel.to_string(),
            actor: Actor::Console,
            text: String::new(),
        };
        let line = format!(
            "⚠️ a run was interrupted by a restart ({}): {why}",
            run.run_id
        );
        if let Err(e) = owner.tell(&msg, &line).await {
            tracing::warn!(error = %e, "could not tell the owner about an interrupted run");
        }
    }
}

/// Tell the owner what the WhatsApp reader reports (its session ended), on
/// an owner channel other than WhatsApp: that one is what broke.
pub fn whatsapp_notices(
    owner: Owner,
    mut notices: tokio::sync::mpsc::UnboundedReceiver<String>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(text) = notices.recv().await {
            let pipeline = owner.pipeline();
            let preferred = pipeline.settings().owner_channel.clone();
            let up = |c: &str| {
                pipeline.reaches_owner(c)
                    && pipeline
                        .bridge_health()
                        .iter()
                        .any(|h| h.channel == c && h.up)
            };
            let channel = std::iter::once(preferred.as_str())
                .chain(["imessage", "telegram", "email"])
                .find(|c| *c != crate::bridges::whatsapp::CHANNEL && up(c))
                .unwrap_or(crate::bridges::console::CHANNEL)
                .to_string();
            let msg = OwnerMessage {
                channel,
                actor: Actor::Console,
                text: String::new(),
            };
            if let Err(e) = owner.tell(&msg, &text).await {
                tracing::warn!(error = %e, "could not tell the owner the WhatsApp session ended");
            }
        }
    })
}
