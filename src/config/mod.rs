//! `steward.yaml` into typed structs.
//!
//! Every section denies unknown keys, so a typo is an error naming the file, line,
//! column and the keys that were expected, never a silent default. Keys are
//! camelCase, like every JSON shape Steward prints. Later issues add sections
//! (`models`, `runtime`, `budget`, bridges) as new fields here.

mod bridges;
mod documents;
mod range;
mod secret;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use bridges::*;
pub use documents::DocumentsConfig;
pub use secret::{Secret, SecretError, SecretRef};

/// The commented defaults `init` writes. A test keeps it equal to `Config::default()`.
pub const DEFAULT_YAML: &str = include_str!("steward.default.yaml");

/// The default listen address (loopback only, invariant 8).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7788";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path} does not exist; run `steward init` to create it")]
    Missing { path: PathBuf },
    #[error("cannot read {path}: {source}; check that it is a file you can read")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// No source snippet: the offending line may hold a pasted secret.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    pub owner: OwnerConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub budget: BudgetConfig,
    pub confirm: ConfirmConfig,
    pub bridges: BridgesConfig,
    pub models: ModelsConfig,
    /// The remote agent runtime heavy runs are forwarded to; none by default.
    pub runtime: Option<RuntimeConfig>,
    /// When contacts' messages wait and nudges hold (owner-local time).
    pub quiet_hours: QuietHours,
    /// The owner's folders Steward indexes for the self-chat.
    pub documents: DocumentsConfig,
}

/// A daily window in the owner's zone, `HH:MM`-`HH:MM`; it may wrap midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct QuietHours {
    pub start: ClockTime,
    pub end: ClockTime,
}

impl Default for QuietHours {
    fn default() -> Self {
        QuietHours {
            start: ClockTime(jiff::civil::Time::constant(1, 0, 0, 0)),
            end: ClockTime(jiff::civil::Time::constant(6, 0, 0, 0)),
        }
    }
}

impl QuietHours {
    /// Is `t` inside the window? Equal start and end means never quiet.
    pub fn contains(&self, t: jiff::civil::Time) -> bool {
        let (s, e) = (self.start.0, self.end.0);
        if s <= e {
            s <= t && t < e
        } else {
            t >= s || t < e
        }
    }
}

/// `HH:MM` in steward.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ClockTime(pub jiff::civil::Time);

impl TryFrom<String> for ClockTime {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let (h, m) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not a time; write HH:MM, e.g. 01:00"))?;
        let (h, m): (i8, i8) = (
            h.parse()
                .map_err(|_| format!("{s:?}: the hour is not a number"))?,
            m.parse()
                .map_err(|_| format!("{s:?}: the minute is not a number"))?,
        );
        jiff::civil::Time::new(h, m, 0, 0)
            .map(ClockTime)
            .map_err(|_| format!("{s:?} is not a time of day (00:00-23:59)"))
    }
}

/// A Lantern-compatible agent runtime (control plane) for heavy runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuntimeConfig {
    /// Base URL, e.g. `https://runtime.example.com`.
    pub url: String,
    /// Bearer token, by reference (`env:LANTERN_API_TOKEN`).
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// An agent with `runtime: auto` is forwarded when its forecast exceeds this.
    #[serde(
        default = "default_heavy_tokens",
        deserialize_with = "range::runtime_heavy_tokens"
    )]
    pub heavy_tokens: u64,
    /// Longest wait for a remote run to finish before the local run fails.
    #[serde(
        default = "default_runtime_deadline",
        deserialize_with = "range::runtime_deadline_seconds"
    )]
    pub deadline_seconds: u64,
    /// Time between polls of a remote run.
    #[serde(
        default = "default_poll_millis",
        deserialize_with = "range::runtime_poll_millis"
    )]
    pub poll_millis: u64,
}

fn default_heavy_tokens() -> u64 {
    20_000
}
fn default_runtime_deadline() -> u64 {
    600
}
fn default_poll_millis() -> u64 {
    1000
}

/// Model providers, capability aliases and prices (per million tokens).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelsConfig {
    pub providers: std::collections::BTreeMap<String, ProviderConfig>,
    /// Alias → ordered `provider/model` list; the first that answers wins.
    pub capabilities: std::collections::BTreeMap<String, Vec<String>>,
    pub prices: std::collections::BTreeMap<String, Price>,
    /// Capability → output cap, deadline and stop sequences, over the defaults
    /// in `llm::limits` (a sibling of `capabilities` so its list form stays as it is).
    pub limits: std::collections::BTreeMap<String, CallLimitsConfig>,
}

/// `models.limits.<capability>`: what one call of that capability may cost in
/// output and time. Unset fields keep the capability's default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct CallLimitsConfig {
    /// Sent as `max_tokens`; the budget reserves for it.
    #[serde(deserialize_with = "range::max_output_tokens")]
    pub max_output_tokens: Option<u32>,
    /// The whole call, retries and fallbacks included, is cancelled after this.
    #[serde(deserialize_with = "range::deadline_seconds")]
    pub deadline_seconds: Option<u64>,
    /// Where the model stops writing (at most 4; the text before it is the answer).
    #[serde(deserialize_with = "range::stop_sequences")]
    pub stop: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// `/v1/chat/completions`: OpenAI, Ollama, llama.cpp, LM Studio, vLLM, OpenRouter.
    Openai,
    /// `/v1/messages`.
    Anthropic,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<SecretRef>,
    #[serde(
        default = "default_timeout",
        deserialize_with = "range::provider_timeout_seconds"
    )]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    60
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Price {
    #[serde(rename = "in", deserialize_with = "range::price_in")]
    pub input: f64,
    #[serde(deserialize_with = "range::price_out")]
    pub out: f64,
    #[serde(default, deserialize_with = "range::price_cached_in")]
    pub cached_in: Option<f64>,
}

/// Limits above every agent's own budget.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct BudgetConfig {
    /// Hard cap on model spend per owner-local day, all agents together.
    #[serde(deserialize_with = "range::daily_cap")]
    pub max_cost_usd_per_day: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            max_cost_usd_per_day: 5.0,
        }
    }
}

/// How long the owner has to answer a confirmation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfirmConfig {
    #[serde(deserialize_with = "range::ttl_minutes")]
    pub ttl_minutes: u32,
}

impl Default for ConfirmConfig {
    fn default() -> Self {
        ConfirmConfig { ttl_minutes: 30 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct OwnerConfig {
    /// The owner's name as contacts know it.
    pub name: String,
    /// Default region for phone numbers without a country code.
    pub region: Region,
    /// The owner's own handles, as written (canonicalised by the memory module).
    pub handles: Vec<String>,
    /// IANA time zone for the owner's days (budgets, quiet hours); empty = the system's.
    pub timezone: TimeZoneName,
    /// Where approvals, nudges and the brief go, in order of preference: the
    /// first channel that is up and can reach the owner (the console always can).
    #[serde(deserialize_with = "range::owner_channels")]
    pub channels: Vec<String>,
}

/// A time zone name that jiff can resolve, validated at parse time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    /// The zone; the system's when no name is configured.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        if self.0.is_empty() {
            jiff::tz::TimeZone::system()
        } else {
            jiff::tz::TimeZone::get(&self.0).unwrap_or_else(|_| jiff::tz::TimeZone::system())
        }
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let name = s.trim().to_string();
        if name.is_empty() || jiff::tz::TimeZone::get(&name).is_ok() {
            Ok(TimeZoneName(name))
        } else {
            Err(format!(
                "time zone {s:?} is unknown; use an IANA name such as America/Chicago or Europe/Berlin"
            ))
        }
    }
}

impl Default for OwnerConfig {
    fn default() -> Self {
        OwnerConfig {
            name: String::new(),
            region: Region("US".to_string()),
            handles: Vec::new(),
            timezone: TimeZoneName::default(),
            channels: vec!["imessage".to_string(), "console".to_string()],
        }
    }
}

/// An ISO 3166-1 alpha-2 region code, upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Region(String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let code = s.trim().to_ascii_uppercase();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Region(code))
        } else {
            Err(format!(
                "region {s:?} is not a two-letter ISO 3166 code such as US, GB or DE"
            ))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpConfig {
    /// The API and dashboard: loopback unless `allowRemoteApi`.
    pub listen: SocketAddr,
    /// Overrides the token file `<home>/api-token`.
    pub api_token: Option<SecretRef>,
    /// A second listener for phones that serves only `POST /v1/signals` and
    /// `/healthz` (device-authenticated), e.g. a Tailscale address.
    pub signals_listen: Option<SocketAddr>,
    /// Serve the whole API beyond loopback (token-protected). Off by default.
    pub allow_remote_api: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            api_token: None,
            signals_listen: None,
            allow_remote_api: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct LogConfig {
    /// A tracing env-filter directive; `STEWARD_LOG` overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_string(),
        }
    }
}

impl Config {
    /// Every secret reference the daemon resolves, with its key in steward.yaml.
    /// `doctor` resolves exactly these, so a new secret belongs here.
    pub fn secret_refs(&self) -> Vec<(String, &SecretRef)> {
        let mut refs = Vec::new();
        if let Some(r) = &self.http.api_token {
            refs.push(("http.apiToken".to_string(), r));
        }
        for (name, p) in &self.models.providers {
            if let Some(r) = &p.api_key {
                refs.push((format!("models.providers.{name}.apiKey"), r));
            }
        }
        if let Some(r) = self.runtime.as_ref().and_then(|rt| rt.token.as_ref()) {
            refs.push(("runtime.token".to_string(), r));
        }
        if let Some(w) = self.bridges.whatsapp.as_ref().and_then(|w| w.cloud()) {
            refs.push(("bridges.whatsapp.token".to_string(), &w.token));
            refs.push(("bridges.whatsapp.appSecret".to_string(), &w.app_secret));
            refs.push(("bridges.whatsapp.verifyToken".to_string(), &w.verify_token));
        }
        if let Some(t) = &self.bridges.telegram {
            refs.push(("bridges.telegram.token".to_string(), &t.token));
            if let Some(r) = &t.webhook_secret {
                refs.push(("bridges.telegram.webhookSecret".to_string(), r));
            }
        }
        refs
    }

    /// Parse YAML text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config = serde_saphyr::from_str::<Config>(text).map_err(|err| {
            let (line, column) = err
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: err.without_snippet().to_string(),
            }
        })?;
        // Checks across sections, located at the key that names the problem.
        if let Some(message) = range::owner_on_whatsapp(&config) {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with("channels:"))
                .map_or(0, |i| i as u64 + 1);
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column: 1,
                message,
            });
        }
        Ok(config)
    }

    /// Read and parse the config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ConfigError::Missing {
                path: path.to_path_buf(),
            },
            _ => ConfigError::Read {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let text =
            String::from_utf8(bytes).map_err(|e| not_utf8(path, e.as_bytes(), e.utf8_error()))?;
        Config::parse(&text, path)
    }
}

/// A bad byte is a bad config (exit 2) located like any other error, by line,
/// column and byte offset; the byte is not echoed (it may sit in a pasted secret).
fn not_utf8(path: &Path, bytes: &[u8], e: std::str::Utf8Error) -> ConfigError {
    let offset = e.valid_up_to();
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    // Columns count characters, as the YAML parser's do; the prefix is valid UTF-8.
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    ConfigError::Parse {
        path: path.to_path_buf(),
        line: line as u64,
        column: column as u64,
        message: format!(
            "not UTF-8 at byte {offset}; save steward.yaml as UTF-8 (a Latin-1 accent or a pasted binary is the usual cause)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/h/steward.yaml"))
    }

    #[test]
    fn shipped_defaults_equal_the_struct_defaults() {
        assert_eq!(parse(DEFAULT_YAML).unwrap(), Config::default());
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(parse("# nothing\n").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_names_position_and_expected_keys() {
        let err = parse("http:\n  listen: 127.0.0.1:1\n  lisen: x\n").unwrap_err();
        let ConfigError::Parse { line, column, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!((*line, *column), (3, 3));
        let text = err.to_string();
        assert!(text.starts_with("/h/steward.yaml:3:3:"), "{text}");
        assert!(text.contains("expected one of"), "{text}");
        assert!(text.contains("listen"), "{text}");
    }

    #[test]
    fn bad_values_are_located() {
        let err = parse("owner:\n  region: USA\n").unwrap_err();
        assert!(err.to_string().contains(":2:"), "{err}");
        assert!(err.to_string().contains("two-letter"), "{err}");
        let err = parse("http:\n  listen: localhost\n").unwrap_err();
        assert!(err.to_string().contains(":2:"), "{err}");
    }

    #[test]
    fn inline_secrets_are_refused_without_echo() {
        let err = parse("http:\n  apiToken: s3cr3t-value\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("reference"), "{text}");
        assert!(
            !text.contains("s3cr3t"),
            "the value must not be echoed: {text}"
        );
        let parsed = parse("http:\n  apiToken: env:STEWARD_TOKEN\n").unwrap();
        assert_eq!(
            parsed.http.api_token,
            Some(SecretRef::Env("STEWARD_TOKEN".into()))
        );
    }

    #[test]
    fn time_zones_are_checked() {
        let cfg = parse("owner:\n  timezone: Europe/Berlin\n").unwrap();
        assert_eq!(cfg.owner.timezone.zone().iana_name(), Some("Europe/Berlin"));
        let err = parse("owner:\n  timezone: Mars/Olympus\n").unwrap_err();
        assert!(err.to_string().contains("IANA"), "{err}");
    }

    /// Issue 20 item 9: every ranged number is refused outside its range, at its position.
    #[test]
    fn issue20_numbers_out_of_range_are_located_errors() {
        let runtime = |kv: &str| format!("runtime:\n  url: http://x\n  {kv}\n");
        let provider = |kv: &str| {
            format!(
                "models:\n  providers:\n    p:\n      kind: openai\n      baseUrl: http://x\n      {kv}\n"
            )
        };
        let price = |kv: &str| {
            format!("models:\n  prices:\n    p/m:\n      in: 1\n      out: 1\n      {kv}\n")
        };
        let cases = [
            ("budget:\n  maxCostUsdPerDay: -5\n".to_string(), 2),
            ("budget:\n  maxCostUsdPerDay: .nan\n".to_string(), 2),
            ("budget:\n  maxCostUsdPerDay: .inf\n".to_string(), 2),
            ("budget:\n  maxCostUsdPerDay: 1000001\n".to_string(), 2),
            ("confirm:\n  ttlMinutes: 0\n".to_string(), 2),
            ("confirm:\n  ttlMinutes: 4294967295\n".to_string(), 2),
            ("confirm:\n  ttlMinutes: 10081\n".to_string(), 2),
            ("bridges:\n  imessage:\n    pollSeconds: 0\n".to_string(), 3),
            (
                "bridges:\n  imessage:\n    pollSeconds: 86400\n".to_string(),
                3,
            ),
            (runtime("heavyTokens: 0"), 3),
            (runtime("deadlineSeconds: 0"), 3),
            (runtime("deadlineSeconds: 86401"), 3),
            (runtime("pollMillis: 0"), 3),
            (runtime("pollMillis: 600000"), 3),
            (provider("timeoutSeconds: 0"), 6),
            (price("cachedIn: -0.1"), 6),
            (price("cachedIn: .nan"), 6),
            (
                "models:\n  prices:\n    p/m:\n      out: 1\n      in: -1\n".to_string(),
                5,
            ),
            (
                "models:\n  prices:\n    p/m:\n      in: 1\n      out: .inf\n".to_string(),
                5,
            ),
        ];
        for (yaml, line) in cases {
            let err = parse(&yaml).unwrap_err();
            let ConfigError::Parse { line: l, .. } = &err else {
                panic!("{yaml}: {err}")
            };
            assert_eq!(*l, line, "{yaml}: {err}");
            let text = err.to_string();
            assert!(text.contains(" to "), "the range is named: {text}");
            let key = yaml
                .lines()
                .last()
                .unwrap()
                .trim()
                .split(':')
                .next()
                .unwrap();
            assert!(text.contains(key), "the key is named: {text}");
        }
        // The edges are accepted.
        let ok = parse(
            "budget:\n  maxCostUsdPerDay: 0\nconfirm:\n  ttlMinutes: 10080\nruntime:\n  url: http://x\n  pollMillis: 10\n  deadlineSeconds: 86400\nmodels:\n  prices:\n    p/m: {in: 0, out: 0, cachedIn: 0}\n",
        )
        .unwrap();
        assert_eq!(ok.confirm.ttl_minutes, 10080);
        assert_eq!(ok.models.prices["p/m"].cached_in, Some(0.0));
    }

    /// Issue 22: `models.limits` sits beside the list form of `capabilities`,
    /// which stays as it was; its numbers are range-checked and located.
    #[test]
    fn issue22_limits_beside_the_capability_lists() {
        let cfg = parse(
            "models:\n  capabilities:\n    draft: [\"local/tiny\"]\n  limits:\n    draft: {maxOutputTokens: 120, deadlineSeconds: 20}\n    reason:\n      stop: [\"END\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.models.capabilities["draft"], vec!["local/tiny"]);
        let d = &cfg.models.limits["draft"];
        assert_eq!(
            (d.max_output_tokens, d.deadline_seconds),
            (Some(120), Some(20))
        );
        assert_eq!(cfg.models.limits["reason"].stop, Some(vec!["END".into()]));
        for (yaml, line) in [
            (
                "models:\n  limits:\n    draft:\n      maxOutputTokens: 0\n",
                4,
            ),
            (
                "models:\n  limits:\n    draft:\n      deadlineSeconds: 3601\n",
                4,
            ),
            ("models:\n  limits:\n    draft:\n      stop: [\" \"]\n", 4),
        ] {
            let err = parse(yaml).unwrap_err();
            assert!(
                matches!(err, ConfigError::Parse { line: l, .. } if l == line),
                "{yaml}: {err}"
            );
            assert!(err.to_string().contains("models.limits"), "{err}");
        }
        let err = parse("models:\n  limits:\n    draft: {maxTokens: 5}\n").unwrap_err();
        assert!(err.to_string().contains("maxOutputTokens"), "{err}");
    }

    #[test]
    fn region_is_normalised() {
        let cfg = parse("owner:\n  region: gb\n").unwrap();
        assert_eq!(cfg.owner.region.as_str(), "GB");
    }

    #[test]
    fn a_mail_account_logs_in_by_password_unless_it_says_xoauth2() {
        let account = |extra: &str| {
            format!(
                "bridges:\n  email:\n    accounts:\n      - name: work\n        address: me@example.com\n\
                 \x20       password: \"file:/run/token\"\n        imap: {{host: imap.example.com, port: 993, security: tls}}\n{extra}"
            )
        };
        let cfg = parse(&account("")).unwrap();
        assert_eq!(cfg.bridges.email.accounts[0].auth, MailAuth::Password);
        let cfg = parse(&account("        auth: xoauth2\n")).unwrap();
        assert_eq!(cfg.bridges.email.accounts[0].auth, MailAuth::Xoauth2);
        let err = parse(&account("        auth: oauth\n")).unwrap_err();
        assert!(err.to_string().contains("xoauth2"), "{err}");
    }
}
