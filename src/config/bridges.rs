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
    /// WhatsApp: the owner's own number as a linked device (`mode: linked`,
    /// the default) or a business number on the Cloud API; off unless configured.
    pub whatsapp: Option<WhatsappBridge>,
    /// A Telegram bot: the owner's console away from the Mac, and contacts who write to it.
    pub telegram: Option<TelegramConfig>,
}

/// `bridges.whatsapp`, by `mode`: `linked` (the default: the owner's own
/// number, Steward a linked device like WhatsApp Web) or `cloud` (a business
/// number). The keys of the other mode are refused, naming the mode they need.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawWhatsapp")]
pub enum WhatsappBridge {
    Linked(WhatsappLinkedConfig),
    Cloud(WhatsappConfig),
}

impl WhatsappBridge {
    /// The Cloud API settings, when that is the mode.
    pub fn cloud(&self) -> Option<&WhatsappConfig> {
        match self {
            WhatsappBridge::Cloud(c) => Some(c),
            WhatsappBridge::Linked(_) => None,
        }
    }

    /// The linked-device settings, when that is the mode.
    pub fn linked(&self) -> Option<&WhatsappLinkedConfig> {
        match self {
            WhatsappBridge::Linked(l) => Some(l),
            WhatsappBridge::Cloud(_) => None,
        }
    }
}

/// `bridges.whatsapp` with `mode: linked`: the session itself lives in
/// `<home>/whatsapp/` (made by `steward whatsapp link`), so only the sending
/// manners are settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsappLinkedConfig {
    /// Wait a human typing time (1-10 s by length), showing "typing…", before each send to a contact.
    pub pacing: bool,
    /// At most this many sends to contacts in any hour (1-200); more are
    /// refused with the reason. Peers report bans after bursts.
    pub max_sends_per_hour: u32,
}

/// `bridges.whatsapp` with `mode: cloud`: a business number on WhatsApp's
/// Cloud API. Meta's webhook reaches `/v1/whatsapp/webhook` on Steward's
/// listener; sends go to `{apiUrl}/{apiVersion}/{phoneNumberId}/messages`.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatsappConfig {
    pub mode: WhatsappMode,
    /// The business phone number's id in the Meta app (not the number itself).
    pub phone_number_id: String,
    /// A system-user access token with `whatsapp_business_messaging`.
    pub token: SecretRef,
    /// The Meta app's secret: every webhook POST is signed with it.
    pub app_secret: SecretRef,
    /// What Meta echoes when the webhook is registered (you choose it).
    pub verify_token: SecretRef,
    pub api_url: String,
    pub api_version: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhatsappMode {
    #[default]
    Linked,
    Cloud,
}

/// Every key of `bridges.whatsapp`, of both modes, before the checks across them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWhatsapp {
    #[serde(default)]
    mode: WhatsappMode,
    phone_number_id: Option<String>,
    token: Option<SecretRef>,
    app_secret: Option<SecretRef>,
    verify_token: Option<SecretRef>,
    api_url: Option<String>,
    api_version: Option<String>,
    pacing: Option<bool>,
    #[serde(default, deserialize_with = "range::whatsapp_sends_per_hour")]
    max_sends_per_hour: Option<u32>,
}

/// The default cap on contact sends per hour in linked mode.
pub const WHATSAPP_SENDS_PER_HOUR: u32 = 20;

impl TryFrom<RawWhatsapp> for WhatsappBridge {
    type Error = String;
    fn try_from(raw: RawWhatsapp) -> Result<Self, String> {
        if raw.mode == WhatsappMode::Linked {
            let cloud_keys = [
                ("phoneNumberId", raw.phone_number_id.is_some()),
                ("token", raw.token.is_some()),
                ("appSecret", raw.app_secret.is_some()),
                ("verifyToken", raw.verify_token.is_some()),
                ("apiUrl", raw.api_url.is_some()),
                ("apiVersion", raw.api_version.is_some()),
            ];
            if let Some((key, _)) = cloud_keys.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "bridges.whatsapp.{key} belongs to the Cloud API: add `mode: cloud` for a business number, or remove it for your own number (mode: linked, the default)"
                ));
            }
            return Ok(WhatsappBridge::Linked(WhatsappLinkedConfig {
                pacing: raw.pacing.unwrap_or(true),
                max_sends_per_hour: raw.max_sends_per_hour.unwrap_or(WHATSAPP_SENDS_PER_HOUR),
            }));
        }
        for (key, set) in [
            ("pacing", raw.pacing.is_some()),
            ("maxSendsPerHour", raw.max_sends_per_hour.is_some()),
        ] {
            if set {
                return Err(format!(
                    "bridges.whatsapp.{key} is a setting of mode: linked (your own number); remove it for mode: cloud"
                ));
            }
        }
        let need = |key: &str| {
            format!("bridges.whatsapp: mode cloud needs {key} (see README, WhatsApp Cloud API)")
        };
        Ok(WhatsappBridge::Cloud(WhatsappConfig {
            mode: WhatsappMode::Cloud,
            phone_number_id: raw.phone_number_id.ok_or_else(|| need("phoneNumberId"))?,
            token: raw
                .token
                .ok_or_else(|| need("token (e.g. env:WHATSAPP_TOKEN)"))?,
            app_secret: raw
                .app_secret
                .ok_or_else(|| need("appSecret (e.g. env:WHATSAPP_APP_SECRET)"))?,
            verify_token: raw
                .verify_token
                .ok_or_else(|| need("verifyToken (e.g. env:WHATSAPP_VERIFY_TOKEN)"))?,
            api_url: raw.api_url.unwrap_or_else(default_graph_url),
            api_version: raw.api_version.unwrap_or_else(default_graph_version),
        }))
    }
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
