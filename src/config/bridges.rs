//! `bridges:` in steward.yaml: iMessage, email accounts, Telegram and
//! WhatsApp, each off unless configured (iMessage on by default on macOS).

use std::path::PathBuf;

use serde::Deserialize;

use super::SecretRef;
use super::range;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct BridgesConfig {
    pub imessage: ImessageConfig,
    pub email: EmailConfig,
    /// WhatsApp through the Cloud API; off unless configured.
    pub whatsapp: Option<WhatsappConfig>,
    /// A Telegram bot: the owner's console away from the Mac, and contacts who write to it.
    pub telegram: Option<TelegramConfig>,
}

/// `bridges.whatsapp`: a business number on WhatsApp's Cloud API. Meta's
/// webhook reaches `/v1/whatsapp/webhook` on Steward's listener; sends go to
/// `{apiUrl}/{apiVersion}/{phoneNumberId}/messages`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WhatsappConfig {
    /// `cloud` (the linked-device mode is not built yet).
    pub mode: WhatsappMode,
    /// The business phone number's id in the Meta app (not the number itself).
    pub phone_number_id: String,
    /// A system-user access token with `whatsapp_business_messaging`.
    pub token: SecretRef,
    /// The Meta app's secret: every webhook POST is signed with it.
    pub app_secret: SecretRef,
    /// What Meta echoes when the webhook is registered (you choose it).
    pub verify_token: SecretRef,
    #[serde(default = "default_graph_url")]
    pub api_url: String,
    #[serde(default = "default_graph_version")]
    pub api_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhatsappMode {
    Cloud,
}

fn default_graph_url() -> String {
    "https://graph.facebook.com".to_string()
}

fn default_graph_version() -> String {
    "v21.0".to_string()
}

/// `bridges.telegram`: a bot made with BotFather. Webhook mode needs the
/// secret (checked while parsing, so the error is located).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawTelegramConfig")]
pub struct TelegramConfig(RawTelegramConfig);

impl std::ops::Deref for TelegramConfig {
    type Target = RawTelegramConfig;
    fn deref(&self) -> &RawTelegramConfig {
        &self.0
    }
}

impl TryFrom<RawTelegramConfig> for TelegramConfig {
    type Error = String;
    fn try_from(raw: RawTelegramConfig) -> Result<Self, String> {
        if raw.mode == TelegramMode::Webhook && raw.webhook_secret.is_none() {
            return Err("bridges.telegram: mode webhook needs webhookSecret (a reference, e.g. env:TELEGRAM_WEBHOOK_SECRET): without it anyone who finds the URL could post updates".into());
        }
        if let Some(url) = &raw.webhook_url
            && !url.starts_with("https://")
        {
            return Err(format!(
                "bridges.telegram.webhookUrl {url:?}: Telegram posts only to https:// URLs"
            ));
        }
        if !(raw.api_url.starts_with("https://") || raw.api_url.starts_with("http://")) {
            return Err(format!(
                "bridges.telegram.apiUrl {:?} is not an http(s) URL",
                raw.api_url
            ));
        }
        Ok(TelegramConfig(raw))
    }
}

/// The keys of `bridges.telegram`, before the checks across them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTelegramConfig {
    /// The bot's token from BotFather, by reference (`env:TELEGRAM_BOT_TOKEN`).
    pub token: SecretRef,
    /// The owner's own Telegram user id (a number; @userinfobot tells it).
    /// Messages and button presses from this id, and no other, are the owner's.
    #[serde(deserialize_with = "range::telegram_user_id")]
    pub owner_user_id: i64,
    /// `polling` (getUpdates, the default) or `webhook` (Telegram posts to
    /// `/v1/telegram/webhook` on this daemon's listener, through a proxy of yours).
    #[serde(default)]
    pub mode: TelegramMode,
    /// The Bot API server: Telegram's own unless a self-hosted one (or a test double).
    #[serde(default = "default_telegram_api")]
    pub api_url: String,
    /// Webhook mode: the public HTTPS URL Telegram posts updates to.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Webhook mode: the secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.
    #[serde(default)]
    pub webhook_secret: Option<SecretRef>,
    /// Wait a human typing time (1-10 s by length) before each send to a contact.
    #[serde(default = "default_true")]
    pub pacing: bool,
    /// How long one getUpdates call waits for news (long polling).
    #[serde(
        default = "default_telegram_poll",
        deserialize_with = "range::telegram_poll_seconds"
    )]
    pub poll_seconds: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    #[default]
    Polling,
    Webhook,
}

/// Telegram's own Bot API server.
pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";

fn default_telegram_api() -> String {
    TELEGRAM_API_URL.to_string()
}

fn default_telegram_poll() -> u64 {
    25
}

fn default_true() -> bool {
    true
}

/// `bridges.email`: one or more mail accounts, read over IMAP.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct EmailConfig {
    pub accounts: Vec<EmailAccount>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EmailAccount {
    /// A short name (`personal`, `work`): cursors, logs and `--account` use it.
    pub name: String,
    /// The owner's address on this account (their own mail is theirs).
    pub address: String,
    pub imap: MailServer,
    /// The account's SMTP server: replies go out through it (none: mail is read only).
    #[serde(default)]
    pub smtp: Option<MailServer>,
    /// The login; the address if unset.
    #[serde(default)]
    pub user: Option<String>,
    /// `env:NAME`, `file:PATH` or `keychain:SERVICE`; an app password works.
    /// With `auth: xoauth2` it names the OAuth2 access token instead, read
    /// again at every login (so a refresher may rewrite the file).
    pub password: SecretRef,
    /// `password` (LOGIN/PLAIN) or `xoauth2` (Gmail, Outlook: a bearer token).
    #[serde(default)]
    pub auth: MailAuth,
    /// Folders read live and in the backfill.
    #[serde(default = "default_folders")]
    pub folders: Vec<String>,
    /// Where sent mail is kept (a copy of each reply is appended there).
    #[serde(default = "default_sent")]
    pub sent: String,
    /// How often a folder is polled when the server has no IDLE (1-3600 s).
    #[serde(
        default = "default_mail_poll",
        deserialize_with = "range::mail_poll_seconds"
    )]
    pub poll_seconds: u64,
}

/// How a mail account logs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailAuth {
    #[default]
    Password,
    /// SASL XOAUTH2: `user=<login>^Aauth=Bearer <token>^A^A`.
    Xoauth2,
}

impl EmailAccount {
    /// The login: `user`, else the address.
    pub fn login(&self) -> String {
        self.user.clone().unwrap_or_else(|| self.address.clone())
    }
}

fn default_mail_poll() -> u64 {
    60
}

fn default_folders() -> Vec<String> {
    vec!["INBOX".to_string()]
}

fn default_sent() -> String {
    "Sent".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MailServer {
    pub host: String,
    pub port: u16,
    /// `tls` (implicit), `starttls` (upgraded before the login, never
    /// downgraded), or `none` (loopback only).
    pub security: MailSecurity,
    /// A PEM file of an extra certificate authority to trust for this server
    /// (a self-hosted server's own CA); the system's roots are always trusted.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    Tls,
    Starttls,
    None,
}

/// The iMessage bridge. Paths default to the macOS locations under `$HOME`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ImessageConfig {
    /// Read Messages live in `steward up` (default: on macOS only).
    pub enabled: bool,
    /// `~/Library/Messages/chat.db` if unset.
    pub chat_db: Option<PathBuf>,
    /// AddressBook databases or folders; `~/Library/Application Support/AddressBook` if empty.
    pub contacts: Vec<PathBuf>,
    /// The `osascript` used to send (tests point this at a stand-in).
    pub osascript: PathBuf,
    /// The fallback poll, beside file events.
    #[serde(deserialize_with = "range::imessage_poll_seconds")]
    pub poll_seconds: u64,
    /// Wait a human typing time (1-10 s by length) before each send to a contact.
    pub pacing: bool,
}

impl Default for ImessageConfig {
    fn default() -> Self {
        ImessageConfig {
            enabled: cfg!(target_os = "macos"),
            chat_db: None,
            contacts: Vec::new(),
            osascript: PathBuf::from("/usr/bin/osascript"),
            poll_seconds: 30,
            pacing: true,
        }
    }
}
