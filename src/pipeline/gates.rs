//! The identity and policy gates: pure decisions over the request, the spec and
//! what this Steward can do. Budget and confirmation live in their own modules.

use std::sync::{Arc, OnceLock};

use super::request::{Actor, Effect, MAX_TEXT_CHARS, RunRequest, Trigger};
use crate::memory::handle::{Canonicalizer, Handle, Kind};
use crate::spec::{AgentSpec, Audience, RuntimeKind, Tool, Trust};

/// Who the actor is, as far as Steward is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Owner,
    Contact,
    System,
}

/// The owner's identities: the console, and their own canonical handles.
///
/// The handles are canonicalised on the first identity check, not when the
/// daemon starts: a phone number's first canonicalisation loads
/// libphonenumber's metadata (~100 ms of regex parsing), which would hold up
/// `/healthz` (`memory::handle::warm_up` loads it once the daemon answers).
#[derive(Debug, Clone, Default)]
pub struct OwnerIdentities {
    raw: Arc<[String]>,
    handles: Arc<OnceLock<Vec<Handle>>>,
    canon: Option<Canonicalizer>,
}

impl OwnerIdentities {
    /// `region` is the owner's (`owner.region`): numbers without a country code are read in it.
    pub fn new(handles: &[String], region: &str) -> Self {
        OwnerIdentities {
            raw: handles.into(),
            handles: Arc::default(),
            canon: Some(Canonicalizer::new(region)),
        }
    }

    /// Whether one of them is written like a phone number: its first check
    /// then loads libphonenumber's metadata (`memory::handle::warm_up`).
    pub fn may_hold_phone(&self) -> bool {
        self.raw
            .iter()
            .any(|h| crate::memory::handle::may_be_phone(h))
    }

    fn handles(&self) -> &[Handle] {
        self.handles.get_or_init(|| match &self.canon {
            Some(canon) => self.raw.iter().map(|h| canon.canonicalize(h)).collect(),
            None => Vec::new(),
        })
    }
}

/// The kinds of handle a channel's senders can have. A handle is compared only
/// within its own channel's kinds: a Telegram user id is never a phone number.
fn kinds(channel: &str) -> &'static [Kind] {
    match channel {
        "imessage" | "sms" => &[Kind::Phone, Kind::Email],
        "whatsapp" => &[Kind::Phone, Kind::Whatsapp],
        "email" => &[Kind::Email],
        "telegram" => &[Kind::Telegram],
        _ => &[
            Kind::Phone,
            Kind::Email,
            Kind::Telegram,
            Kind::Whatsapp,
            Kind::Other,
        ],
    }
}

pub fn identity(actor: &Actor, owners: &OwnerIdentities) -> Identity {
    match actor {
        Actor::Console => Identity::Owner,
        Actor::Handle { channel, handle } => {
            let canon = owners
                .canon
                .clone()
                .unwrap_or_else(|| Canonicalizer::new(""));
            // Telegram ids are bare digits: read them as Telegram ids, not numbers.
            let h = if channel == "telegram" && !handle.contains(':') {
                canon.canonicalize(&format!("telegram:{handle}"))
            } else {
                canon.canonicalize(handle)
            };
            let owner = kinds(channel).contains(&h.kind()) && owners.handles().contains(&h);
            if owner {
                Identity::Owner
            } else {
                Identity::Contact
            }
        }
        Actor::Scheduler | Actor::Device { .. } => Identity::System,
    }
}

/// Gate 1: the trigger must come from the kind of identity it names.
pub fn check_identity(trigger: Trigger, actor: &Actor, who: &Identity) -> Result<(), String> {
    let ok = match trigger {
        Trigger::Owner | Trigger::Manual => *who == Identity::Owner,
        Trigger::Contact => *who == Identity::Contact,
        Trigger::Schedule => matches!(actor, Actor::Scheduler),
        Trigger::Signal => matches!(actor, Actor::Device { .. }),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a {} trigger cannot come from {actor} ({who:?})",
            trigger.as_str()
        ))
    }
}

/// What policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecision {
    /// Plan indexes that need the owner's confirmation before they run.
    pub needs_confirmation: Vec<usize>,
}

/// Gate 2: the spec allows this trigger, audience, tools, runtime and channels.
pub fn check_policy(
    spec: &AgentSpec,
    req: &RunRequest,
    channel_available: impl Fn(&str) -> bool,
) -> Result<PolicyDecision, String> {
    let trigger = req.trigger;
    // First, so any refused documents read names its policy in the receipt.
    for effect in &req.plan {
        if let Effect::ReadDocuments { query, .. } = effect {
            check_documents(spec, trigger, query)?;
        }
    }
    if spec.trust == Trust::Manual && !matches!(trigger, Trigger::Manual | Trigger::Owner) {
        return Err(format!(
            "{} is trust: manual; only the owner starts it",
            spec.name
        ));
    }
    match (spec.audience, trigger) {
        (Audience::Owner, Trigger::Contact) => {
            return Err(format!(
                "{} serves the owner; a contact cannot trigger it",
                spec.name
            ));
        }
        (Audience::Contacts, Trigger::Schedule | Trigger::Signal) => {
            return Err(format!(
                "{} answers contacts; it does not run on {}",
                spec.name,
                trigger.as_str()
            ));
        }
        _ => {}
    }
    let mut needs_confirmation = Vec::new();
    for (i, effect) in req.plan.iter().enumerate() {
        let (tool, channel, text) = match effect {
            Effect::Noop | Effect::Ask { .. } | Effect::Forward { .. } => continue,
            // Checked above.
            Effect::ReadDocuments { .. } => continue,
            Effect::Reply { channel, text, to } => {
                if spec.audience != Audience::Contacts {
                    return Err(format!(
                        "{} is owner-facing and may not message contacts",
                        spec.name
                    ));
                }
                if to.trim().is_empty() {
                    return Err(format!("step {i}: a reply needs a recipient"));
                }
                needs_confirmation.push(i);
                (Tool::Reply, channel, text.as_str())
            }
            Effect::NotifyOwner { channel, text, .. } => {
                (Tool::NotifyOwner, channel, text.as_str())
            }
            // The text is the model's, checked when it is known.
            Effect::Relay { channel } => (Tool::NotifyOwner, channel, "…"),
        };
        if !spec.allows(tool) {
            return Err(format!(
                "{} may not use the tool {}",
                spec.name,
                tool.name()
            ));
        }
        if !channel_available(channel) {
            return Err(format!(
                "step {i}: no bridge for channel {channel:?} is running"
            ));
        }
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_TEXT_CHARS {
            return Err(format!(
                "step {i}: text must be 1-{MAX_TEXT_CHARS} characters, not {chars}"
            ));
        }
    }
    Ok(PolicyDecision { needs_confirmation })
}

/// The policy that names a refused documents read in its receipt.
pub const DOCUMENTS_POLICY: &str = "documents.ownerOnly";

/// Policy `documents.ownerOnly`: the owner's files are read only on the
/// owner's own request, by an owner-facing agent allowed `read_documents`. A
/// contact's message, a schedule or a signal never reads them, whatever the
/// agent: that is what keeps document text out of every contact draft.
fn check_documents(spec: &AgentSpec, trigger: Trigger, query: &str) -> Result<(), String> {
    if trigger != Trigger::Owner {
        return Err(format!(
            "policy {DOCUMENTS_POLICY}: the owner's documents are read only when the owner asks (the self-chat, `steward docs`), not on a {} run",
            trigger.as_str()
        ));
    }
    if spec.audience != Audience::Owner {
        return Err(format!(
            "policy {DOCUMENTS_POLICY}: {} drafts for contacts; it never reads the owner's documents",
            spec.name
        ));
    }
    if !spec.allows(Tool::ReadDocuments) {
        return Err(format!(
            "{} may not use the tool {}",
            spec.name,
            Tool::ReadDocuments.name()
        ));
    }
    if query.trim().is_empty() {
        return Err("a documents read needs something to look for".to_string());
    }
    Ok(())
}

/// The runtime side of policy: a forwarded step needs a configured runtime,
/// and an agent locked to local models is never forwarded.
pub fn check_runtime(spec: &AgentSpec, req: &RunRequest, has_runtime: bool) -> Result<(), String> {
    let forwards = req.plan.iter().any(|e| matches!(e, Effect::Forward { .. }));
    if !forwards && spec.runtime != RuntimeKind::Remote {
        return Ok(());
    }
    if spec.model_lock == Some(crate::spec::ModelLock::Local) {
        return Err(format!(
            "{} is locked to local models; it is never forwarded to the remote runtime",
            spec.name
        ));
    }
    if !has_runtime {
        return Err(format!(
            "{} needs the remote runtime, and none is configured: add `runtime: {{url: …}}` to steward.yaml",
            spec.name
        ));
    }
    Ok(())
}

/// The model side of policy: an `ask` step needs the agent's capability
/// configured; the refusal says how to configure it.
pub fn check_models(
    spec: &AgentSpec,
    req: &RunRequest,
    has_model: impl Fn(&str, bool) -> bool,
) -> Result<(), String> {
    if !req.plan.iter().any(|e| matches!(e, Effect::Ask { .. })) {
        return Ok(());
    }
    let Some(cap) = &spec.capability else {
        return Err(format!(
            "{} uses no model (no capability in its spec)",
            spec.name
        ));
    };
    let local_only = spec.model_lock == Some(crate::spec::ModelLock::Local);
    if has_model(cap, local_only) {
        Ok(())
    } else if local_only && has_model(cap, false) {
        Err(format!(
            "{} is locked to local models and `{cap}` lists none: add a provider on 127.0.0.1 to it",
            spec.name
        ))
    } else {
        Err(crate::llm::no_model(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Roster;

    fn roster() -> Roster {
        Roster::load(tempfile::tempdir().unwrap().path())
    }

    fn req(agent: &str, trigger: Trigger, plan: Vec<Effect>) -> RunRequest {
        RunRequest {
            agent: agent.into(),
            trigger,
            actor: Actor::Console,
            input: String::new(),
            dedup_key: None,
            plan,
            forecast_usd: crate::spec::Usd(0),
        }
    }

    #[test]
    fn identity_allows_and_refuses() {
        let owners = OwnerIdentities::new(
            &["+1 (512) 555-1234".into(), "email:me@example.com".into()],
            "US",
        );
        let copy = owners.clone();
        assert!(
            owners.handles.get().is_none(),
            "nothing is canonicalised before the first check"
        );
        let me = Actor::Handle {
            channel: "imessage".into(),
            handle: "+15125551234".into(),
        };
        let mail = Actor::Handle {
            channel: "email".into(),
            handle: "me@example.com".into(),
        };
        let ann = Actor::Handle {
            channel: "imessage".into(),
            handle: "+15125550000".into(),
        };
        assert_eq!(identity(&me, &owners), Identity::Owner);
        assert_eq!(identity(&mail, &owners), Identity::Owner);
        assert_eq!(identity(&ann, &owners), Identity::Contact);
        assert!(copy.handles.get().is_some(), "clones share the result");
        assert!(check_identity(Trigger::Owner, &me, &Identity::Owner).is_ok());
        assert!(check_identity(Trigger::Owner, &ann, &Identity::Contact).is_err());
        assert!(check_identity(Trigger::Manual, &ann, &Identity::Contact).is_err());
        assert!(check_identity(Trigger::Contact, &ann, &Identity::Contact).is_ok());
        assert!(check_identity(Trigger::Schedule, &Actor::Console, &Identity::Owner).is_err());
        assert!(check_identity(Trigger::Schedule, &Actor::Scheduler, &Identity::System).is_ok());
    }

    #[test]
    fn identity_is_exact_within_a_channel() {
        let owners = OwnerIdentities::new(
            &["+1 (512) 555-1234".into(), "email:me@example.com".into()],
            "US",
        );
        let actor = |channel: &str, handle: &str| Actor::Handle {
            channel: channel.into(),
            handle: handle.into(),
        };
        for (channel, handle, who) in [
            // A Telegram user id that happens to be the owner's digits is a stranger.
            ("telegram", "5125551234", Identity::Contact),
            ("telegram", "telegram:15125551234", Identity::Contact),
            // Trailing digits are not a number: another country's number ending the same.
            ("imessage", "+445125551234", Identity::Contact),
            ("imessage", "5551234", Identity::Contact),
            ("imessage", "(512) 555-1234", Identity::Owner),
            ("imessage", "me@example.com", Identity::Owner),
            ("whatsapp", "15125551234@s.whatsapp.net", Identity::Owner),
            // An email address is the owner only where email addresses live.
            ("whatsapp", "me@example.com", Identity::Contact),
            ("email", "Me@Example.com", Identity::Owner),
            ("email", "+15125551234", Identity::Contact),
        ] {
            assert_eq!(
                identity(&actor(channel, handle), &owners),
                who,
                "{channel}:{handle}"
            );
        }
    }

    #[test]
    fn policy_allows_and_refuses() {
        let r = roster();
        let console = |c: &str| c == "console";
        let reply = Effect::Reply {
            channel: "console".into(),
            to: "ann".into(),
            text: "hi".into(),
        };
        let notify = Effect::NotifyOwner {
            channel: "console".into(),
            text: "hi".into(),
            regarding: None,
        };

        let assistant = &r.specs["imessage-assistant"];
        let d = check_policy(
            assistant,
            &req(
                "imessage-assistant",
                Trigger::Contact,
                vec![notify.clone(), reply.clone()],
            ),
            console,
        )
        .unwrap();
        assert_eq!(d.needs_confirmation, vec![1]);
        // Contacts agents do not run on a schedule.
        assert!(
            check_policy(
                assistant,
                &req("imessage-assistant", Trigger::Schedule, vec![]),
                console
            )
            .is_err()
        );

        let concierge = &r.specs["concierge"];
        assert!(
            check_policy(
                concierge,
                &req("concierge", Trigger::Schedule, vec![notify.clone()]),
                console
            )
            .is_ok()
        );
        // Owner-facing agents never message contacts, and contacts cannot trigger them.
        let err = check_policy(
            concierge,
            &req("concierge", Trigger::Schedule, vec![reply.clone()]),
            console,
        )
        .unwrap_err();
        assert!(err.contains("may not message contacts"), "{err}");
        assert!(
            check_policy(
                concierge,
                &req("concierge", Trigger::Contact, vec![]),
                console
            )
            .is_err()
        );
        // Unknown channel, empty text.
        let elsewhere = Effect::NotifyOwner {
            channel: "telegram".into(),
            text: "x".into(),
            regarding: None,
        };
        assert!(
            check_policy(
                concierge,
                &req("concierge", Trigger::Manual, vec![elsewhere]),
                console
            )
            .is_err()
        );
        let empty = Effect::NotifyOwner {
            channel: "console".into(),
            text: String::new(),
            regarding: None,
        };
        assert!(
            check_policy(
                concierge,
                &req("concierge", Trigger::Manual, vec![empty]),
                console
            )
            .is_err()
        );
        // A tool off the allow-list.
        let mut narrow = concierge.clone();
        narrow.tools.clear();
        let err = check_policy(
            &narrow,
            &req("concierge", Trigger::Manual, vec![notify]),
            console,
        )
        .unwrap_err();
        assert!(err.contains("notify_owner"), "{err}");
        // Remote runtime without one configured.
        let mut remote = concierge.clone();
        remote.runtime = RuntimeKind::Remote;
        let run = req("concierge", Trigger::Manual, vec![]);
        assert!(
            check_runtime(&remote, &run, false)
                .unwrap_err()
                .contains("runtime: {url")
        );
        assert_eq!(check_runtime(&remote, &run, true), Ok(()));
        remote.model_lock = Some(crate::spec::ModelLock::Local);
        assert!(
            check_runtime(&remote, &run, true)
                .unwrap_err()
                .contains("locked to local")
        );
    }
}
