//! The owner's handle: the pipeline, the profile and the owner's name, and the
//! one way Steward tells the owner something (`Owner::tell`, a `self-chat`
//! run with a receipt). It sits below both the contact assistant and the
//! commands: the assistant asks the owner through it, and the commands
//! (`commands`, which adds `Owner::handle`) start assistant drafts. `views`
//! is what the owner reads, all from the store.

pub mod domains;
pub mod views;

use std::time::Instant;

use crate::memory::handle::Canonicalizer;
use crate::pipeline::{
    Actor, Effect, Pipeline, PipelineError, Regarding, RunRequest, RunStatus, Trigger,
};
use crate::profile::watch::SharedProfile;
use crate::spec::SELF_CHAT_AGENT;

/// One owner message: where it came from and what it says.
#[derive(Debug, Clone)]
pub struct OwnerMessage {
    /// The chat the reply goes back to (`console`, `imessage`, …).
    pub channel: String,
    pub actor: Actor,
    pub text: String,
}

/// The owner as Steward reaches them: cheap to clone, shared by the router,
/// the assistant, the scheduler and the API.
#[derive(Clone)]
pub struct Owner {
    pipeline: Pipeline,
    profile: SharedProfile,
    canon: Canonicalizer,
    started: Instant,
    /// The owner's name as contacts know it (for drafts in their voice).
    name: String,
    /// The prompt templates (with the home's overrides).
    prompts: crate::prompts::Prompts,
}

impl Owner {
    pub fn new(pipeline: Pipeline, profile: SharedProfile, region: &str) -> Self {
        Owner {
            pipeline,
            profile,
            canon: Canonicalizer::new(region),
            started: Instant::now(),
            name: String::new(),
            prompts: crate::prompts::Prompts::default(),
        }
    }

    /// Read prompt templates with `home`'s overrides (`<home>/prompts/`).
    pub fn with_prompts(mut self, home: &std::path::Path) -> Self {
        self.prompts = crate::prompts::Prompts::new(home);
        self
    }

    pub fn prompts(&self) -> &crate::prompts::Prompts {
        &self.prompts
    }

    /// Now, by the pipeline's clock (the one place "today" comes from).
    pub fn now(&self) -> jiff::Timestamp {
        self.pipeline.now()
    }

    /// The owner's name (`owner.name`), for drafts written in their voice.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    pub fn profile(&self) -> &SharedProfile {
        &self.profile
    }

    /// The owner's zone: the profile's, else the configured one.
    pub fn tz(&self) -> jiff::tz::TimeZone {
        self.profile
            .get()
            .zone()
            .unwrap_or_else(|| self.pipeline.settings().timezone.clone())
    }

    /// Canonical handles in the owner's region.
    pub fn canon(&self) -> &Canonicalizer {
        &self.canon
    }

    /// When this handle was made (the daemon's uptime).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Send `text` to the owner's chat through the pipeline; the run id, if admitted.
    pub async fn tell(
        &self,
        msg: &OwnerMessage,
        text: &str,
    ) -> Result<Option<String>, PipelineError> {
        self.tell_regarding(msg, text, None).await
    }

    /// `tell`, saying what the message is about (a draft's buttons, their outcome).
    pub async fn tell_regarding(
        &self,
        msg: &OwnerMessage,
        text: &str,
        regarding: Option<Regarding>,
    ) -> Result<Option<String>, PipelineError> {
        let out = self
            .pipeline
            .run(RunRequest {
                agent: SELF_CHAT_AGENT.into(),
                trigger: Trigger::Owner,
                actor: msg.actor.clone(),
                input: msg.text.clone(),
                dedup_key: None,
                plan: vec![Effect::NotifyOwner {
                    channel: msg.channel.clone(),
                    text: text.to_string(),
                    regarding,
                }],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        if out.status != RunStatus::Succeeded {
            tracing::warn!(run = %out.run_id, reason = out.reason.as_deref().unwrap_or("none"), "the reply to the owner was not delivered");
        }
        Ok(Some(out.run_id))
    }
}
