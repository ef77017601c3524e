//! Model work: two wire protocols (OpenAI-compatible chat completions and
//! Anthropic messages) behind one closed `Provider` enum, retries that honour
//! `Retry-After`, costs from reported usage (estimated, and marked, when a
//! server reports none), and capability aliases with ordered fallbacks.
//! Agents name capabilities (`fast`, `draft`, `reason`), never vendors.

mod anthropic;
pub mod limits;
mod openai;
pub mod price;
pub mod retry;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{CallLimitsConfig, ModelsConfig, ProviderConfig, ProviderKind, Secret};
pub use limits::CallLimits;

/// "No model for `cap`", with the fix: one wording wherever it is said.
pub fn no_model(cap: &str) -> String {
    format!(
        "no model for capability `{cap}`: add one under `models:` in steward.yaml, then `steward restart` or send the daemon SIGHUP (a running daemon reads it at start)"
    )
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("{}", no_model(.0))]
    NoModel(String),
    #[error(
        "capability `{cap}` names {target:?}; write it as provider/model with a provider under models.providers"
    )]
    BadTarget { cap: String, target: String },
    #[error("provider {provider}: the API key reference failed: {detail}")]
    Key { provider: String, detail: String },
    #[error("provider {provider} answered HTTP {status}: {detail}")]
    Http {
        provider: String,
        status: u16,
        detail: String,
        /// Seconds the server asked us to wait.
        retry_after: Option<u64>,
    },
    #[error("provider {provider} did not answer within {timeout:?}")]
    Timeout { provider: String, timeout: Duration },
    #[error("provider {provider} is unreachable: {detail}")]
    Connect { provider: String, detail: String },
    #[error("provider {provider} sent a reply that is not its protocol: {detail}")]
    Malformed { provider: String, detail: String },
    #[error(
        "the `{cap}` model did not finish within {seconds} s, so the call was cancelled; \
         raise models.limits.{cap}.deadlineSeconds or put a faster model first under models.capabilities.{cap}"
    )]
    Deadline { cap: String, seconds: u64 },
    #[error("every model for `{cap}` failed; last: {last}")]
    Exhausted { cap: String, last: Box<LlmError> },
}

impl LlmError {
    /// Worth another attempt at the same provider.
    fn retryable(&self) -> bool {
        matches!(self, LlmError::Http { status, .. } if *status == 429 || *status >= 500)
            || matches!(self, LlmError::Timeout { .. } | LlmError::Connect { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    /// Ask for a single JSON object back.
    pub json: bool,
    /// Sent as `max_tokens`; 0 means the capability's cap (`limits`).
    pub max_tokens: u32,
    /// Stop sequences; empty means the capability's (`limits`).
    pub stop: Vec<String>,
    /// Sent as `Idempotency-Key` where the protocol takes one (the run's step key).
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
    /// The server reported no usage; these are chars/4 estimates.
    pub estimated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatResponse {
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// The model the server says it used.
    pub model: String,
    pub provider: String,
    pub cost_micros: i64,
    /// The model stopped at the output cap, not at its own end.
    pub truncated: bool,
}

/// One configured provider. A closed set: a new wire protocol is a variant.
#[derive(Debug, Clone)]
pub struct Provider {
    name: String,
    kind: ProviderKind,
    base_url: String,
    key: Option<Secret>,
    timeout: Duration,
    http: reqwest::Client,
}

impl Provider {
    pub fn new(name: &str, cfg: &ProviderConfig) -> Result<Provider, LlmError> {
        let key = match &cfg.api_key {
            Some(r) => Some(r.resolve().map_err(|e| LlmError::Key {
                provider: name.into(),
                detail: e.to_string(),
            })?),
            None => None,
        };
        let timeout = Duration::from_secs(cfg.timeout_seconds.max(1));
        let http = crate::tls::http_client()
            .timeout(timeout)
            .build()
            .map_err(|e| LlmError::Connect {
                provider: name.into(),
                detail: e.to_string(),
            })?;
        Ok(Provider {
            name: name.to_string(),
            kind: cfg.kind,
            base_url: cfg.base_url.trim_end_matches('/').to_string(),
            key,
            timeout,
            http,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// One chat completion, retried on 429/5xx/timeouts with jittered backoff.
    /// A provider on this machine (its base URL is loopback): what a model lock allows.
    pub fn is_local(&self) -> bool {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    pub async fn chat(&self, model: &str, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        retry::with_retries(|| async {
            match self.kind {
                ProviderKind::Openai => openai::chat(self, model, req).await,
                ProviderKind::Anthropic => anthropic::chat(self, model, req).await,
            }
        })
        .await
    }

    fn http_error(&self, e: reqwest::Error) -> LlmError {
        if e.is_timeout() {
            LlmError::Timeout {
                provider: self.name.clone(),
                timeout: self.timeout,
            }
        } else {
            LlmError::Connect {
                provider: self.name.clone(),
                detail: e.without_url().to_string(),
            }
        }
    }

    /// Send a JSON POST and return the parsed JSON body, or the HTTP error.
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &Value,
    ) -> Result<Value, LlmError> {
        let mut req = self.http.post(url).json(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.map_err(|e| self.http_error(e))?;
        let status = resp.status();
        let retry_after = retry::retry_after(resp.headers());
        let text = resp.text().await.map_err(|e| self.http_error(e))?;
        if !status.is_success() {
            // The body may echo the request; keep it short and never include headers.
            let detail: String = text.chars().take(300).collect();
            return Err(LlmError::Http {
                provider: self.name.clone(),
                status: status.as_u16(),
                detail,
                retry_after,
            });
        }
        serde_json::from_str(&text).map_err(|e| self.malformed(format!("not JSON: {e}")))
    }

    fn malformed(&self, detail: impl std::fmt::Display) -> LlmError {
        LlmError::Malformed {
            provider: self.name.clone(),
            detail: detail.to_string(),
        }
    }
}

/// chars/4, the estimate used when a server reports no usage.
pub fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// What a protocol read from a reply, before the checks both share.
struct Parsed {
    text: Option<String>,
    tool_calls: Vec<ToolCall>,
    usage: Option<Usage>,
    truncated: bool,
}

/// The end of both protocols: check JSON mode, fill in usage (estimated and
/// marked when the server sent none), and name the model the server used.
fn finish_reply(
    p: &Provider,
    req: &ChatRequest,
    requested_model: &str,
    reply: &Value,
    parsed: Parsed,
) -> Result<ChatResponse, LlmError> {
    let Parsed {
        text,
        tool_calls,
        usage,
        truncated,
    } = parsed;
    if text.is_none() && tool_calls.is_empty() {
        return Err(p.malformed("neither text nor tool calls"));
    }
    // Models often wrap JSON in a code fence; the JSON inside is the answer.
    let text = if req.json {
        text.map(|t| strip_fence(&t).to_string())
    } else {
        text
    };
    if req.json
        && let Some(t) = &text
        && serde_json::from_str::<Value>(t.trim()).is_err()
    {
        return Err(p.malformed(if truncated {
            "JSON was asked for, and the reply stopped at the output cap before the JSON ended"
        } else {
            "JSON was asked for, the reply is not JSON"
        }));
    }
    let usage = usage.unwrap_or_else(|| Usage {
        input: estimate_tokens(req.messages.iter().map(|m| m.content.chars().count()).sum()),
        output: estimate_tokens(text.as_deref().map_or(0, |t| t.chars().count())),
        cached: 0,
        estimated: true,
    });
    Ok(ChatResponse {
        text,
        tool_calls,
        usage,
        model: reply["model"]
            .as_str()
            .unwrap_or(requested_model)
            .to_string(),
        provider: p.name.clone(),
        cost_micros: 0,
        truncated,
    })
}

/// Capability aliases over the configured providers.
#[derive(Debug, Clone, Default)]
pub struct Router {
    providers: BTreeMap<String, Provider>,
    capabilities: BTreeMap<String, Vec<String>>,
    prices: price::Prices,
    limits: BTreeMap<String, CallLimitsConfig>,
}

impl Router {
    /// Providers that cannot be set up (an unset key variable) are left out with
    /// a warning, so the rest keep working; calls that name them fail clearly.
    pub fn from_config(cfg: &ModelsConfig) -> Result<Router, LlmError> {
        let mut providers = BTreeMap::new();
        for (name, p) in &cfg.providers {
            match Provider::new(name, p) {
                Ok(provider) => {
                    providers.insert(name.clone(), provider);
                }
                Err(e) => {
                    tracing::warn!(provider = %name, error = %e, "model provider unavailable")
                }
            }
        }
        Ok(Router {
            providers,
            capabilities: cfg.capabilities.clone(),
            prices: price::Prices::with_defaults(&cfg.prices),
            limits: cfg.limits.clone(),
        })
    }

    /// The output cap, deadline and stop sequences of one `capability` call.
    pub fn limits(&self, capability: &str) -> CallLimits {
        CallLimits::resolve(capability, &self.limits)
    }

    /// The first `provider/model` of `capability`.
    pub fn first_target(&self, capability: &str) -> Option<String> {
        self.capabilities.get(capability)?.first().cloned()
    }

    /// What `usage` would cost on `target` (`provider/model`), in micro-dollars.
    pub fn cost_of(&self, target: &str, usage: &Usage) -> i64 {
        self.prices.cost_micros(target, usage)
    }

    /// Whether `capability` names at least one model on an available provider
    /// (a local one, when `local_only`).
    pub fn has(&self, capability: &str, local_only: bool) -> bool {
        self.capabilities.get(capability).is_some_and(|l| {
            l.iter().any(|t| {
                t.split_once('/')
                    .and_then(|(p, _)| self.providers.get(p))
                    .is_some_and(|p| !local_only || p.is_local())
            })
        })
    }

    /// Run `req` on the first model of `capability` that answers.
    pub async fn chat(
        &self,
        capability: &str,
        req: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        self.chat_locked(capability, req, false).await
    }

    /// `chat`, using only local providers when `local_only` (an agent's model lock).
    /// The request gets the capability's cap and stop sequences where it names
    /// none, and the whole call is cancelled at the capability's deadline:
    /// dropping the future drops the HTTP request, so a slow model stops
    /// costing anything and its late answer is never used.
    pub async fn chat_locked(
        &self,
        capability: &str,
        req: &ChatRequest,
        local_only: bool,
    ) -> Result<ChatResponse, LlmError> {
        let limits = self.limits(capability);
        let mut req = req.clone();
        if req.max_tokens == 0 {
            req.max_tokens = limits.max_output_tokens;
        }
        if req.stop.is_empty() {
            req.stop = limits.stop.clone();
        }
        tokio::time::timeout(
            limits.deadline,
            self.chat_in_order(capability, &req, local_only),
        )
        .await
        .unwrap_or_else(|_| {
            tracing::warn!(
                capability,
                deadline_seconds = limits.deadline.as_secs(),
                "model call cancelled at its deadline"
            );
            Err(LlmError::Deadline {
                cap: capability.to_string(),
                seconds: limits.deadline.as_secs(),
            })
        })
    }

    /// Each model of `capability` in order until one answers.
    async fn chat_in_order(
        &self,
        capability: &str,
        req: &ChatRequest,
        local_only: bool,
    ) -> Result<ChatResponse, LlmError> {
        let targets = self
            .capabilities
            .get(capability)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| LlmError::NoModel(capability.to_string()))?;
        let mut last = None;
        for target in targets {
            let (pname, model) = target.split_once('/').ok_or_else(|| LlmError::BadTarget {
                cap: capability.into(),
                target: target.clone(),
            })?;
            let provider = self
                .providers
                .get(pname)
                .ok_or_else(|| LlmError::BadTarget {
                    cap: capability.into(),
                    target: target.clone(),
                })?;
            if local_only && !provider.is_local() {
                continue;
            }
            match provider.chat(model, req).await {
                Ok(mut resp) => {
                    resp.cost_micros = self
                        .prices
                        .cost_micros(&format!("{pname}/{model}"), &resp.usage);
                    return Ok(resp);
                }
                Err(e) => {
                    tracing::warn!(capability, target = %target, error = %e, "model failed; trying the next");
                    last = Some(e);
                }
            }
        }
        Err(LlmError::Exhausted {
            cap: capability.into(),
            last: Box::new(
                last.unwrap_or_else(|| {
                    LlmError::NoModel(format!("{capability} (local models only)"))
                }),
            ),
        })
    }
}

/// The body of a ```json … ``` fence, or the text as it is.
pub fn strip_fence(t: &str) -> &str {
    let t = t.trim();
    match t.strip_prefix("```") {
        Some(rest) => {
            let rest = rest.strip_prefix("json").unwrap_or(rest);
            rest.strip_suffix("```").unwrap_or(rest).trim()
        }
        None => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(url: &str) -> Provider {
        let cfg = ProviderConfig {
            kind: ProviderKind::Openai,
            base_url: url.into(),
            api_key: None,
            timeout_seconds: 1,
        };
        Provider::new("p", &cfg).unwrap()
    }

    #[test]
    fn local_means_a_loopback_base_url() {
        for url in [
            "http://127.0.0.1:11434/v1",
            "http://localhost:8080",
            "http://[::1]:8080/v1",
            "http://127.1.2.3",
        ] {
            assert!(provider(url).is_local(), "{url}");
        }
        for url in [
            "https://api.anthropic.com",
            "http://10.0.0.5:11434/v1",
            "http://localhost.evil.com/v1",
            "http://192.168.1.2",
        ] {
            assert!(!provider(url).is_local(), "{url}");
        }
    }
}
