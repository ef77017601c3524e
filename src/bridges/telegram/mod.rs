//! The Telegram channel: a bot (Telegram's Bot API cannot read the owner's own
//! chats). Three things: the owner's console away from the Mac (their private
//! chat with the bot is a self-chat; drafts come with Send / Edit / Drop
//! buttons), contacts who write to the bot (`telegram:<user id>` handles,
//! drafted for by `telegram-assistant` and confirmed by the owner), and the
//! owner's history from Telegram Desktop's export (`export`).
//!
//! Parts, as every channel has them: `api` (teloxide-core's client, 429s
//! honoured), `ingest` (updates into memory, the offset in the same
//! transaction), `live` (long polling or the webhook, one intake), `outbound`
//! (the ledger, 4,096-character pieces, the buttons), `split`, `export`.

pub mod api;
pub mod export;
pub mod ingest;
pub mod live;
pub mod outbound;
pub mod split;

use tokio::sync::{broadcast, mpsc, watch};

use crate::config::{Config, TelegramMode};
use crate::store::Store;
use crate::types::Inbound;

pub use ingest::ConsoleEvent;

/// The channel name on messages, chats and handles' sources.
pub const CHANNEL: &str = "telegram";

/// The running reader: the poll task (polling mode), the intake the webhook
/// route feeds (webhook mode), and the owner's button presses.
pub struct Reader {
    /// The bot, for answering button presses.
    pub api: api::Api,
    pub task: Option<tokio::task::JoinHandle<()>>,
    pub webhook: Option<Webhook>,
    pub console: mpsc::UnboundedReceiver<ConsoleEvent>,
}

/// What `POST /v1/telegram/webhook` needs: the secret and the intake.
#[derive(Clone)]
pub struct Webhook {
    pub secret: String,
    pub intake: live::Intake,
}

/// Start the reader if `bridges.telegram` is set and its token resolves.
pub async fn start(
    config: &Config,
    store: Store,
    bus: broadcast::Sender<Inbound>,
    stop: watch::Receiver<bool>,
) -> Option<Reader> {
    let cfg = config.bridges.telegram.as_ref()?;
    let token = match cfg.token.resolve() {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "bridges.telegram.token does not resolve; the Telegram reader is off");
            return None;
        }
    };
    let api = match api::Api::new(token.expose(), &cfg.api_url, cfg.poll_seconds) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "the Telegram reader is off");
            return None;
        }
    };
    let canon = crate::memory::Canonicalizer::new(config.owner.region.as_str());
    let name = Some(config.owner.name.clone()).filter(|n| !n.is_empty());
    let owner = cfg.owner_user_id;
    let ingest = store
        .write(move |c| {
            Ok(ingest::TelegramIngest::new(
                c,
                canon,
                name.as_deref(),
                owner,
            )?)
        })
        .await;
    let ingest = match ingest {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the Telegram reader");
            return None;
        }
    };
    let (tx, console) = mpsc::unbounded_channel();
    let webhook_mode = cfg.mode == TelegramMode::Webhook;
    let intake = live::Intake::new(store, ingest, bus, tx, webhook_mode);
    if !webhook_mode {
        let task = tokio::spawn(live::poll(api.clone(), intake, stop));
        return Some(Reader {
            api,
            task: Some(task),
            webhook: None,
            console,
        });
    }
    let secret = match cfg.webhook_secret.as_ref().map(|s| s.resolve()) {
        Some(Ok(s)) => s.expose().to_string(),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "bridges.telegram.webhookSecret does not resolve; the webhook is off");
            return None;
        }
        None => return None,
    };
    if let Some(url) = &cfg.webhook_url
        && let Err(e) = api.set_webhook(url, &secret).await
    {
        tracing::warn!(error = %e, "setWebhook failed; Telegram will not post updates until it succeeds (restart to retry)");
    }
    Some(Reader {
        api,
        task: None,
        webhook: Some(Webhook { secret, intake }),
        console,
    })
}
