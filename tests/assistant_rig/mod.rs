//! The contact-assistant rig shared by tests/assistant.rs and
//! tests/assistant_guards.rs: a model double on 127.0.0.1, a console pipeline,
//! the owner, the assistant, and Ann in memory.
#![allow(dead_code)] // each test file uses a different subset

use super::common;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use steward::assistant::{Assistant, Outcome};
use steward::commands::{Owner, OwnerMessage};
use steward::config::QuietHours;
use steward::memory::messages::{self, ChatKind, Direction, NewMessage};
use steward::pipeline::{Actor, Pipeline};
use steward::profile::watch::SharedProfile;
use steward::store::Store;
use steward::types::Inbound;

/// How the model double answers: a fixed text, junk, a stall, or a leak of
/// any secret it was shown.
#[derive(Clone, Default)]
pub struct Model {
    pub mode: Arc<Mutex<String>>,
    pub calls: Arc<AtomicU32>,
    pub prompts: Arc<Mutex<Vec<String>>>,
    /// The probe screen's answer (`slow` stalls), and how often it was asked.
    pub screen: Arc<Mutex<String>>,
    pub screen_calls: Arc<AtomicU32>,
    /// The last draft request's body, as the wire carried it.
    pub last_body: Arc<Mutex<Value>>,
}

pub const SECRETS: &[&str] = &[
    "SECRET-PRIVATE",
    "anniversary",
    "2019-06-14",
    "Bouldering Gym",
];

pub async fn chat(State(m): State<Model>, Json(body): Json<Value>) -> Json<Value> {
    let prompt = body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if prompt.starts_with("You screen one text message") {
        m.screen_calls.fetch_add(1, Ordering::SeqCst);
        let verdict = m.screen.lock().unwrap().clone();
        if verdict == "slow" {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        return Json(json!({
            "id": "s", "model": body["model"],
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": verdict } }],
            "usage": { "prompt_tokens": 40, "completion_tokens": 8 },
        }));
    }
    m.calls.fetch_add(1, Ordering::SeqCst);
    m.prompts.lock().unwrap().push(prompt.clone());
    *m.last_body.lock().unwrap() = body.clone();
    let mode = m.mode.lock().unwrap().clone();
    let text = match mode.as_str() {
        "junk" => "{\"draft\": \"yes\"}".to_string(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "late".into()
        }
        // Never answers: only the caller's deadline ends the call.
        "never" => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        // A model that repeats its whole prompt (issue 17's privacy test).
        "echo" => prompt.clone(),
        // A model that repeats whatever secret it was shown.
        "leaky" => prompt
            .lines()
            .find(|l| SECRETS.iter().any(|s| l.contains(s)))
            .map(|l| format!("btw {}", l.trim()))
            .unwrap_or_else(|| "yep see you then".into()),
        fixed => fixed.to_string(),
    };
    Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text } }],
        "usage": { "prompt_tokens": 50, "completion_tokens": 5 },
    }))
}

pub struct Rig {
    pub _dir: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub model: Model,
    pub pipeline: Pipeline,
    pub owner: Owner,
    pub assistant: Assistant,
    pub store: Store,
    pub ann: String,
    pub chat: i64,
    pub seq: u32,
}

pub const PROFILE: &str = "## About me\nPriya\n## How I text\nshort\n## Facts\nanniversary: 2019-06-14\n## Relationships\n- Ann Lee: sister | address as: Annie\n- Cara: best friend | inner circle | auto send\n## Private\n- SECRET-PRIVATE my salary is 200k\n";

pub fn rig_with(ttl: Duration, quiet: QuietHours) -> Rig {
    rig_full(ttl, quiet, &[("draft", "m")])
}

pub fn rig_full(ttl: Duration, quiet: QuietHours, capabilities: &[(&str, &str)]) -> Rig {
    rig_limited(ttl, quiet, capabilities, Default::default())
}

/// `rig_full` with `models.limits`; the provider's own timeout is then 5 s, so
/// a deadline under it is what ends a stalled call.
pub fn rig_limited(
    ttl: Duration,
    quiet: QuietHours,
    capabilities: &[(&str, &str)],
    limits: std::collections::BTreeMap<String, steward::config::CallLimitsConfig>,
) -> Rig {
    rig_on(None, ttl, quiet, capabilities, limits)
}

/// The rig against the model server at `url` (without `/v1`), or the double.
pub fn rig_on(
    url: Option<String>,
    ttl: Duration,
    quiet: QuietHours,
    capabilities: &[(&str, &str)],
    limits: std::collections::BTreeMap<String, steward::config::CallLimitsConfig>,
) -> Rig {
    let model = Model::default();
    *model.mode.lock().unwrap() = "yes! 7 works".into();
    let real = url.is_some();
    let url = url.unwrap_or_else(|| {
        common::lantern::serve_in_thread(
            axum::Router::new()
                .route("/v1/chat/completions", axum::routing::post(chat))
                .with_state(model.clone()),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (pipeline, store) = if limits.is_empty() && !real {
        build_with(&path, &url, ttl, capabilities)
    } else {
        let mut settings = common::default_settings();
        settings.confirm_ttl = jiff::SignedDuration::try_from(ttl).unwrap();
        let (pipeline, store) = common::console_pipeline(&path, settings);
        // A real model is ended by its deadline only, never by a short client timeout.
        let timeout = if real { 120 } else { 5 };
        let router = common::openai_router_limited(&url, capabilities, timeout, limits);
        (pipeline.with_models(router), store)
    };
    let profile = SharedProfile::new(steward::profile::parse(PROFILE).unwrap());
    let owner = Owner::new(pipeline.clone(), profile, "US")
        .with_name("Priya Rao")
        .with_prompts(&path);
    let assistant = Assistant::new(owner.clone(), quiet);
    let (ann, chat) = store
        .write_blocking(|c| {
            let h = steward::memory::Canonicalizer::new("US").canonicalize("+15125551234");
            let ann = steward::memory::people::attach_card(c, "Ann Lee", &[h])?;
            let (chat, _) =
                messages::upsert_chat(c, "console", "chat-ann", ChatKind::Direct, None)?;
            messages::add_member(c, chat, &ann)?;
            Ok((ann, chat))
        })
        .unwrap();
    Rig {
        _dir: dir,
        dir: path,
        model,
        pipeline,
        owner,
        assistant,
        store,
        ann,
        chat,
        seq: 0,
    }
}

pub fn build(dir: &std::path::Path, url: &str, ttl: Duration) -> (Pipeline, Store) {
    build_with(dir, url, ttl, &[("draft", "m")])
}

pub fn build_with(
    dir: &std::path::Path,
    url: &str,
    ttl: Duration,
    capabilities: &[(&str, &str)],
) -> (Pipeline, Store) {
    let mut settings = common::default_settings();
    settings.confirm_ttl = jiff::SignedDuration::try_from(ttl).unwrap();
    let (pipeline, store) = common::console_pipeline(dir, settings);
    (
        pipeline.with_models(common::openai_router_for(url, capabilities, 1)),
        store,
    )
}

pub fn rig() -> Rig {
    rig_with(Duration::from_secs(1800), never_quiet())
}

pub fn never_quiet() -> QuietHours {
    serde_json::from_value(json!({ "start": "00:00", "end": "00:00" })).unwrap()
}

pub fn now() -> jiff::Zoned {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC)
}

impl Rig {
    /// What a bridge does: store the message, then publish it.
    pub fn message(&mut self, person: &str, text: &str, from_me: bool) -> Inbound {
        let at_ms = jiff::Timestamp::now().as_millisecond();
        self.message_at(person, text, from_me, at_ms)
    }

    /// `message`, sent at `at_ms`.
    pub fn message_at(&mut self, person: &str, text: &str, from_me: bool, at_ms: i64) -> Inbound {
        self.seq += 1;
        let ext = format!("m{}", self.seq);
        let (p, chat, t, e) = (person.to_string(), self.chat, text.to_string(), ext.clone());
        self.store
            .write_blocking(move |c| {
                let owner = steward::memory::people::ensure_owner(c, Some("Priya"), &[], "test")?;
                messages::insert_message(
                    c,
                    &NewMessage {
                        channel: "console",
                        external_id: &e,
                        chat_id: Some(chat),
                        sender_id: if from_me { &owner } else { &p },
                        person_id: &p,
                        handle: Some("phone:+15125551234"),
                        direction: if from_me {
                            Direction::Out
                        } else {
                            Direction::In
                        },
                        text: &t,
                        at_ms,
                        reply_to: None,
                        edited: false,
                        is_command: false,
                    },
                )?;
                Ok(())
            })
            .unwrap();
        Inbound {
            channel: "console".into(),
            external_id: ext,
            chat_external_id: Some("chat-ann".into()),
            chat_kind: Some("direct".into()),
            person_id: person.to_string(),
            sender_id: person.to_string(),
            handle: Some("phone:+15125551234".into()),
            from_me,
            is_command: false,
            text: text.to_string(),
            at_ms,
        }
    }

    pub async fn contact(&mut self, text: &str) -> Outcome {
        let ann = self.ann.clone();
        self.contact_as(&ann, text).await
    }

    pub async fn contact_as(&mut self, person: &str, text: &str) -> Outcome {
        let m = self.message(person, text, false);
        self.assistant.on_inbound(&m, &now()).await.unwrap()
    }

    pub fn person(&self, name: &str, phone: &str) -> String {
        let (name, phone) = (name.to_string(), phone.to_string());
        self.store
            .write_blocking(move |c| {
                let h = steward::memory::Canonicalizer::new("US").canonicalize(&phone);
                Ok(steward::memory::people::attach_card(c, &name, &[h])?)
            })
            .unwrap()
    }

    pub async fn say(&self, text: &str) -> String {
        self.owner
            .handle(OwnerMessage {
                channel: "console".into(),
                actor: Actor::Console,
                text: text.into(),
            })
            .await
            .unwrap()
            .reply
    }

    pub fn outbox(&self, audience: &str) -> Vec<String> {
        let Ok(text) = std::fs::read_to_string(self.dir.join("console/outbox.jsonl")) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["audience"] == audience)
            .map(|v| v["text"].as_str().unwrap().to_string())
            .collect()
    }
}
