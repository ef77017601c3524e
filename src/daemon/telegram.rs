//! The owner's Telegram console beyond chat lines (those go through the
//! self-chat router like any owner message): a press on a draft's Send / Edit
//! / Drop button is the same decision as "1 send" / "1 edit …" / "1 no" (one
//! confirmation, one send), and its outcome is edited into the question; Edit
//! asks for the new text, which the owner gives by replying. A press from
//! anyone but `ownerUserId` is refused, and the refusal is a run with a
//! receipt (the identity gate refuses it) so it is in the audit chain.

use crate::bridges::telegram::api::Api;
use crate::bridges::telegram::{CHANNEL, ConsoleEvent};
use crate::commands::grammar::ItemAction;
use crate::commands::{Owner, OwnerMessage};
use crate::pipeline::{Actor, Effect, Regarding, RunRequest, Trigger};

/// Handle the console's events until the reader stops.
pub fn console(
    owner: Owner,
    api: Api,
    owner_user: i64,
    mut events: tokio::sync::mpsc::UnboundedReceiver<ConsoleEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                ConsoleEvent::Press {
                    callback,
                    from,
                    data,
                    ..
                } => press(&owner, &api, owner_user, &callback, from, &data).await,
                ConsoleEvent::EditText { confirmation, text } => {
                    let msg = from_owner(owner_user, "edit");
                    decide(&owner, &msg, &confirmation, ItemAction::Edit(text)).await;
                }
                ConsoleEvent::Tell(text) => {
                    let msg = OwnerMessage {
                        channel: owner.pipeline().settings().owner_channel.clone(),
                        actor: Actor::Console,
                        text: String::new(),
                    };
                    if let Err(e) = owner.tell(&msg, &text).await {
                        tracing::warn!(error = %e, "could not tell the owner about a Telegram contact");
                    }
                }
            }
        }
    })
}

/// The owner on Telegram, as the pipeline's actor.
fn from_owner(owner_user: i64, what: &str) -> OwnerMessage {
    OwnerMessage {
        channel: CHANNEL.to_string(),
        actor: Actor::Handle {
            channel: CHANNEL.to_string(),
            handle: format!("telegram:{owner_user}"),
        },
        text: what.to_string(),
    }
}

/// `c:<s|e|d>:<confirmation id>` → the action and the id.
fn parse(data: &str) -> Option<(char, &str)> {
    let rest = data.strip_prefix("c:")?;
    let (action, id) = rest.split_once(':')?;
    let action = action.chars().next().filter(|a| "sed".contains(*a))?;
    (!id.is_empty()).then_some((action, id))
}

async fn press(owner: &Owner, api: &Api, owner_user: i64, callback: &str, from: i64, data: &str) {
    let presser = Actor::Handle {
        channel: CHANNEL.to_string(),
        handle: format!("telegram:{from}"),
    };
    // Stop the button's spinner first: the decision may take a while (pacing).
    if from != owner_user || !owner.pipeline().is_owner(&presser) {
        if let Err(e) = api
            .answer(callback, "Only the owner can answer this.")
            .await
        {
            tracing::debug!(error = %e, "answerCallbackQuery failed");
        }
        refuse(owner, presser, data).await;
        return;
    }
    let _ = api.answer(callback, "").await;
    let msg = from_owner(owner_user, data);
    match parse(data) {
        Some(('s', id)) => decide(owner, &msg, id, ItemAction::Send).await,
        Some(('d', id)) => decide(owner, &msg, id, ItemAction::No).await,
        Some((_, id)) => {
            let ask = "✏️ What should it say instead? Reply to this message with the new text.";
            let about = Some(Regarding::EditText(id.to_string()));
            if let Err(e) = owner.tell_regarding(&msg, ask, about).await {
                tracing::warn!(error = %e, "could not ask for the new text");
            }
        }
        None => tracing::info!(data, "a button Steward does not know was pressed"),
    }
}

/// The decision, then its outcome in place of the question.
async fn decide(owner: &Owner, msg: &OwnerMessage, id: &str, action: ItemAction) {
    let text = match owner.answer_draft(id, action, msg).await {
        Ok(t) => t,
        Err(e) => format!("⚠️ {e}"),
    };
    let about = Some(Regarding::Settles(id.to_string()));
    if let Err(e) = owner.tell_regarding(msg, &text, about).await {
        tracing::warn!(error = %e, "could not show the outcome of a button");
    }
}

/// Someone else pressed the owner's button: a run the identity gate refuses,
/// so the attempt has a receipt and an audit entry.
async fn refuse(owner: &Owner, presser: Actor, data: &str) {
    tracing::warn!(who = %presser, "a Telegram button press from someone who is not the owner was refused");
    let run = owner
        .pipeline()
        .run(RunRequest {
            agent: crate::spec::SELF_CHAT_AGENT.into(),
            trigger: Trigger::Owner,
            actor: presser,
            input: format!("telegram button {data}"),
            dedup_key: None,
            plan: vec![Effect::Noop],
            forecast_usd: crate::spec::Usd(0),
        })
        .await;
    if let Err(e) = run {
        tracing::warn!(error = %e, "the refused press could not be recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_data() {
        assert_eq!(parse("c:s:c-1a2b"), Some(('s', "c-1a2b")));
        assert_eq!(parse("c:d:x"), Some(('d', "x")));
        assert_eq!(parse("c:x:x"), None);
        assert_eq!(parse("c:s:"), None);
        assert_eq!(parse("other"), None);
    }
}
