//! The Bot API client: teloxide-core's `Bot` and its requests (teloxide's
//! dispatcher keeps the getUpdates offset in memory; ours is stored with the
//! rows it covers, so only the client is used), with two rules on top:
//! Telegram's 429 `retry_after` is honoured (a flood wait is "not yet", never a
//! failure), and every error is sorted into "certainly not delivered" and "may
//! have been" for the ledger.

use std::future::Future;
use std::time::Duration;

use teloxide_core::payloads::setters::*;
use teloxide_core::requests::{Request, Requester};
use teloxide_core::types::{
    AllowedUpdate, CallbackQueryId, ChatAction, ChatId, ForceReply, InlineKeyboardButton,
    InlineKeyboardMarkup, Message, MessageId, ReplyMarkup, Update,
};
use teloxide_core::{Bot, RequestError};

/// The longest flood wait honoured inside one call; a longer one fails the
/// call as not delivered (nothing is lost: the pipeline reports it).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Flood waits honoured per call before giving up.
const MAX_FLOOD_WAITS: u32 = 3;
/// One send (not a long poll) gets this long.
const SEND_TIMEOUT: Duration = Duration::from_secs(17);

/// The updates the bridge asks for; everything else stays on Telegram's side.
pub fn allowed_updates() -> Vec<AllowedUpdate> {
    vec![
        AllowedUpdate::Message,
        AllowedUpdate::EditedMessage,
        AllowedUpdate::CallbackQuery,
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum ApiSetupError {
    #[error("bridges.telegram.apiUrl {url:?} is not a URL: {detail}")]
    Url { url: String, detail: String },
    #[error("cannot set up the HTTP client for Telegram: {0}")]
    Client(String),
}

/// The bot, once for sends and once for long polls (whose HTTP timeout must
/// outlast Telegram's wait).
#[derive(Clone)]
pub struct Api {
    send: Bot,
    poll: Bot,
    poll_seconds: u32,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token: it is the bot.
        write!(f, "Api({})", self.send.api_url())
    }
}

impl Api {
    pub fn new(token: &str, api_url: &str, poll_seconds: u64) -> Result<Api, ApiSetupError> {
        let url = reqwest::Url::parse(api_url).map_err(|e| ApiSetupError::Url {
            url: api_url.to_string(),
            detail: e.to_string(),
        })?;
        let client = |timeout: Duration| {
            teloxide_core::net::default_reqwest_settings()
                .timeout(timeout)
                .build()
                .map_err(|e| ApiSetupError::Client(e.to_string()))
        };
        let poll_timeout = Duration::from_secs(poll_seconds + 10);
        Ok(Api {
            send: Bot::with_client(token, client(SEND_TIMEOUT)?).set_api_url(url.clone()),
            poll: Bot::with_client(token, client(poll_timeout)?).set_api_url(url),
            poll_seconds: u32::try_from(poll_seconds).unwrap_or(25),
        })
    }

    /// Updates from `offset` on, waiting up to `pollSeconds` for the first.
    pub async fn updates(&self, offset: i32) -> Result<Vec<Update>, RequestError> {
        flood(|| {
            self.poll
                .get_updates()
                .offset(offset)
                .timeout(self.poll_seconds)
                .allowed_updates(allowed_updates())
                .send()
        })
        .await
    }

    /// A text message; `markup` adds buttons or asks for a reply.
    pub async fn send(
        &self,
        chat: i64,
        text: &str,
        markup: Option<ReplyMarkup>,
    ) -> Result<Message, RequestError> {
        flood(|| {
            let mut req = self.send.send_message(ChatId(chat), text);
            if let Some(m) = markup.clone() {
                req = req.reply_markup(m);
            }
            req.send()
        })
        .await
    }

    /// Replace a message's text; its buttons go (none are passed back).
    pub async fn edit(&self, chat: i64, message: i32, text: &str) -> Result<(), RequestError> {
        flood(|| {
            self.send
                .edit_message_text(ChatId(chat), MessageId(message), text)
                .send()
        })
        .await
        .map(|_| ())
    }

    /// Stop the spinner on a pressed button, with a short notice.
    pub async fn answer(&self, callback: &str, text: &str) -> Result<(), RequestError> {
        flood(|| {
            let mut req = self
                .send
                .answer_callback_query(CallbackQueryId(callback.to_string()));
            if !text.is_empty() {
                req = req.text(text);
            }
            req.send()
        })
        .await
        .map(|_| ())
    }

    /// "typing…" in the chat (while pacing).
    pub async fn typing(&self, chat: i64) -> Result<(), RequestError> {
        self.send
            .send_chat_action(ChatId(chat), ChatAction::Typing)
            .send()
            .await
            .map(|_| ())
    }

    /// The bot's own user: `(id, username)` (doctor's round trip).
    pub async fn me(&self) -> Result<(u64, String), RequestError> {
        let me = self.send.get_me().send().await?;
        Ok((me.id.0, me.username.clone().unwrap_or_default()))
    }

    /// Webhook mode: Telegram posts updates to `url`, with `secret` in a header.
    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), RequestError> {
        let Ok(url) = reqwest::Url::parse(url) else {
            return Ok(());
        };
        self.send
            .set_webhook(url)
            .secret_token(secret)
            .allowed_updates(allowed_updates())
            .send()
            .await
            .map(|_| ())
    }

    /// Polling mode: a webhook left set makes getUpdates fail with 409.
    pub async fn delete_webhook(&self) -> Result<(), RequestError> {
        self.send.delete_webhook().send().await.map(|_| ())
    }
}

/// A draft's buttons; the callback data is `c:<s|e|d>:<confirmation id>`.
pub fn draft_buttons(confirmation: &str) -> ReplyMarkup {
    let button = |label: &str, action: &str| {
        InlineKeyboardButton::callback(label, format!("c:{action}:{confirmation}"))
    };
    ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(vec![vec![
        button("Send", "s"),
        button("Edit", "e"),
        button("Drop", "d"),
    ]]))
}

/// The most rows of buttons under one approvals list (Telegram allows 100 buttons).
pub const LIST_ROWS: usize = 20;

/// A row of numbered Send / Edit / Drop buttons per pending confirmation.
pub fn approvals_buttons(confirmations: &[String]) -> ReplyMarkup {
    let rows = confirmations
        .iter()
        .take(LIST_ROWS)
        .enumerate()
        .map(|(i, c)| {
            let n = i + 1;
            ["Send", "Edit", "Drop"]
                .iter()
                .zip(["s", "e", "d"])
                .map(|(label, action)| {
                    InlineKeyboardButton::callback(
                        format!("{n} {label}"),
                        format!("c:{action}:{c}"),
                    )
                })
                .collect()
        })
        .collect::<Vec<Vec<_>>>();
    ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(rows))
}

/// Asks the owner's app to answer the message (the new text of a draft).
pub fn reply_wanted() -> ReplyMarkup {
    ReplyMarkup::ForceReply(ForceReply::new().input_field_placeholder("the new text".to_string()))
}

/// Call `call` again after each 429, waiting what Telegram asked.
async fn flood<T, F, Fut>(mut call: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut waits = 0;
    loop {
        match call().await {
            Err(RequestError::RetryAfter(s))
                if waits < MAX_FLOOD_WAITS && s.duration() <= MAX_RETRY_AFTER =>
            {
                waits += 1;
                tracing::info!(
                    seconds = s.seconds(),
                    "Telegram asked to wait (429); waiting"
                );
                tokio::time::sleep(s.duration()).await;
            }
            other => return other,
        }
    }
}

/// Whether a failed request may still have reached Telegram: the connection
/// was made and the answer was lost (a timeout, a dropped line, a garbled
/// reply). Telegram's own errors, flood waits and refused connections are
/// certain: nothing was sent.
pub fn uncertain(e: &RequestError) -> bool {
    match e {
        RequestError::Network(n) => !(n.is_connect() || n.is_builder()),
        RequestError::InvalidJson { .. } | RequestError::Io(_) => true,
        RequestError::Api(_) | RequestError::MigrateToChatId(_) | RequestError::RetryAfter(_) => {
            false
        }
    }
}
