//! The remote agent runtime (a Lantern-compatible control plane) that heavy runs
//! are forwarded to: forecast, create (with an idempotency key), poll until the
//! run ends, fetch its receipt and verify it against the runtime's published key.
//!
//! Wire shapes (the Lantern runtime's): `POST /v1/runs/forecast {agentName, input}`,
//! `POST /v1/runs {agentName, input, labels}` → 201 `{id, status, costUsd,
//! tokensIn, tokensOut, …}`, `GET /v1/runs/{id}`, `POST /v1/runs/{id}/receipt` →
//! `{payload, signature, algorithm}`, `GET /.well-known/lantern-receipts` →
//! `{algorithm, publicKey, keyFingerprint}`. 402 is a budget refusal with a reason.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{RuntimeConfig, SecretRef};
use crate::receipt::{self, Receipt};

/// Attempts for a create or read that meets 429, 5xx or a dropped connection.
const ATTEMPTS: u32 = 4;
/// The longest `Retry-After` honoured.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Each HTTP exchange; the run itself may take up to the configured deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The label that carries Steward's idempotency key on the remote run.
pub const KEY_LABEL: &str = "stewardKey";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the remote runtime refused the run: {0}")]
    Refused(String),
    #[error("the remote runtime answered HTTP {status} to {what}: {detail}")]
    Http {
        what: &'static str,
        status: u16,
        detail: String,
        retry_after: Option<u64>,
    },
    #[error(
        "cannot reach the remote runtime at {url}: {detail}; check runtime.url in steward.yaml and that the runtime is up"
    )]
    Unreachable { url: String, detail: String },
    #[error("the remote runtime's reply to {what} is not its protocol: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("remote run {id} was still {status} after {secs} s (runtime.deadlineSeconds)")]
    Deadline {
        id: String,
        status: String,
        secs: u64,
    },
    #[error("the remote receipt for {id} does not verify: {detail}")]
    Receipt { id: String, detail: String },
    #[error("runtime.token: {0}")]
    Token(String),
}

impl RuntimeError {
    fn retryable(&self) -> bool {
        matches!(self, RuntimeError::Http { status, .. } if *status == 429 || *status >= 500)
            || matches!(self, RuntimeError::Unreachable { .. })
    }
}

/// A remote run as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRun {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub cost_usd: f64,
    #[serde(default)]
    pub tokens_in: u64,
    #[serde(default)]
    pub tokens_out: u64,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub output: Option<Value>,
}

impl RemoteRun {
    /// Statuses after which the run never changes again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "succeeded" | "failed" | "cancelled" | "canceled" | "refused" | "expired" | "error"
        )
    }
}

/// The runtime's published receipt key.
#[derive(Debug, Clone)]
pub struct PublishedKey {
    pub key: ed25519_dalek::VerifyingKey,
    pub fingerprint: String,
}

#[derive(Clone)]
pub struct Runtime {
    base: String,
    token: Option<SecretRef>,
    http: reqwest::Client,
    pub heavy_tokens: u64,
    deadline: Duration,
    poll: Duration,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("base", &self.base).finish()
    }
}

impl Runtime {
    pub fn from_config(cfg: &RuntimeConfig) -> Runtime {
        Runtime {
            base: cfg.url.trim_end_matches('/').to_string(),
            token: cfg.token.clone(),
            http: crate::tls::http_client()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap_or_default(),
            heavy_tokens: cfg.heavy_tokens,
            deadline: Duration::from_secs(cfg.deadline_seconds),
            poll: Duration::from_millis(cfg.poll_millis.max(10)),
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// One exchange: JSON in, JSON out, the status mapped to a typed error.
    async fn call(
        &self,
        what: &'static str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Value), RuntimeError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            let secret = token
                .resolve()
                .map_err(|e| RuntimeError::Token(e.to_string()))?;
            req = req.bearer_auth(secret.expose());
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| RuntimeError::Unreachable {
            url: self.base.clone(),
            // reqwest's Display names the URL only, never headers (the token).
            detail: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let retry_after = crate::llm::retry::retry_after(resp.headers());
        let text = resp.text().await.map_err(|e| RuntimeError::Unreachable {
            url: self.base.clone(),
            detail: e.to_string(),
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 402 {
            let reason = value["reason"]
                .as_str()
                .or(value["error"].as_str())
                .unwrap_or("budget limit reached")
                .to_string();
            return Err(RuntimeError::Refused(reason));
        }
        if !(200..300).contains(&status) {
            let detail = value["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(RuntimeError::Http {
                what,
                status,
                detail,
                retry_after,
            });
        }
        if value.is_null() && status != 204 {
            return Err(RuntimeError::Malformed {
                what,
                detail: "the body is not JSON".into(),
            });
        }
        Ok((status, value))
    }

    /// `call` again on 429, 5xx and dropped connections, with backoff.
    async fn call_retrying(
        &self,
        what: &'static str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Value), RuntimeError> {
        let mut attempt = 0;
        loop {
            match self
                .call(what, method.clone(), path, body, idempotency_key)
                .await
            {
                Err(e) if e.retryable() && attempt + 1 < ATTEMPTS => {
                    let delay = match &e {
                        RuntimeError::Http {
                            retry_after: Some(s),
                            ..
                        } => Duration::from_secs(*s),
                        _ => crate::llm::retry::jitter(attempt),
                    };
                    if delay > MAX_WAIT {
                        return Err(e);
                    }
                    tracing::debug!(error = %e, ?delay, "retrying the runtime call");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// `POST /v1/runs/forecast`; a 402 is `Refused` with the runtime's reason.
    pub async fn forecast(&self, agent: &str, input: &str) -> Result<Value, RuntimeError> {
        let body = json!({ "agentName": agent, "input": input });
        let (_, v) = self
            .call_retrying(
                "the forecast",
                reqwest::Method::POST,
                "/v1/runs/forecast",
                Some(&body),
                None,
            )
            .await?;
        Ok(v)
    }

    /// `POST /v1/runs` with `key` as the Idempotency-Key header and a label, so
    /// a repeated create returns the same remote run.
    pub async fn create(
        &self,
        agent: &str,
        input: &str,
        key: &str,
    ) -> Result<RemoteRun, RuntimeError> {
        let body = json!({ "agentName": agent, "input": input, "labels": { KEY_LABEL: key } });
        let (_, v) = self
            .call_retrying(
                "creating the run",
                reqwest::Method::POST,
                "/v1/runs",
                Some(&body),
                Some(key),
            )
            .await?;
        parse_run("creating the run", v)
    }

    /// The remote run created under `key`, if any (asked before re-creating
    /// after a crash). A runtime without the lookup answers 404/405: `None`,
    /// and the idempotency key on the create still prevents a second run.
    pub async fn find(&self, key: &str) -> Result<Option<RemoteRun>, RuntimeError> {
        let path = format!("/v1/runs?label={KEY_LABEL}:{}", urlencode(key));
        match self
            .call_retrying(
                "looking the run up",
                reqwest::Method::GET,
                &path,
                None,
                None,
            )
            .await
        {
            Ok((_, Value::Array(items))) => items
                .into_iter()
                .next()
                .map(|v| parse_run("looking the run up", v))
                .transpose(),
            Ok((_, v)) => match v.get("runs").and_then(Value::as_array) {
                Some(items) => items
                    .first()
                    .cloned()
                    .map(|v| parse_run("looking the run up", v))
                    .transpose(),
                None => Ok(None),
            },
            Err(RuntimeError::Http {
                status: 404 | 405, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn get(&self, id: &str) -> Result<RemoteRun, RuntimeError> {
        let path = format!("/v1/runs/{}", urlencode(id));
        let (_, v) = self
            .call_retrying("reading the run", reqwest::Method::GET, &path, None, None)
            .await?;
        parse_run("reading the run", v)
    }

    /// Poll until the run ends or the deadline passes.
    pub async fn wait(&self, id: &str) -> Result<RemoteRun, RuntimeError> {
        let started = tokio::time::Instant::now();
        loop {
            let run = self.get(id).await?;
            if run.is_terminal() {
                return Ok(run);
            }
            if started.elapsed() >= self.deadline {
                return Err(RuntimeError::Deadline {
                    id: id.to_string(),
                    status: run.status,
                    secs: self.deadline.as_secs(),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    pub async fn receipt(&self, id: &str) -> Result<Receipt, RuntimeError> {
        let path = format!("/v1/runs/{}/receipt", urlencode(id));
        let (_, v) = self
            .call_retrying(
                "issuing the receipt",
                reqwest::Method::POST,
                &path,
                Some(&json!({})),
                None,
            )
            .await?;
        serde_json::from_value(v).map_err(|e| RuntimeError::Malformed {
            what: "issuing the receipt",
            detail: e.to_string(),
        })
    }

    pub async fn published_key(&self) -> Result<PublishedKey, RuntimeError> {
        let (_, v) = self
            .call_retrying(
                "the receipt key",
                reqwest::Method::GET,
                "/.well-known/lantern-receipts",
                None,
                None,
            )
            .await?;
        let malformed = |detail: String| RuntimeError::Malformed {
            what: "the receipt key",
            detail,
        };
        let algorithm = v["algorithm"].as_str().unwrap_or_default();
        if !algorithm.eq_ignore_ascii_case(receipt::ALGORITHM) {
            return Err(malformed(format!(
                "algorithm {algorithm:?}: only ed25519 receipts can be verified offline"
            )));
        }
        let key = receipt::parse_public_key(v["publicKey"].as_str().unwrap_or_default())
            .map_err(|e| malformed(e.to_string()))?;
        Ok(PublishedKey {
            key,
            fingerprint: v["keyFingerprint"].as_str().unwrap_or_default().to_string(),
        })
    }
}

/// A remote receipt is good when its signature verifies under the published key
/// and it speaks of this run, with the status the runtime reported.
pub fn check_receipt(r: &Receipt, key: &PublishedKey, run: &RemoteRun) -> Result<(), RuntimeError> {
    let bad = |detail: String| RuntimeError::Receipt {
        id: run.id.clone(),
        detail,
    };
    receipt::verify(r, &key.key).map_err(|e| bad(e.to_string()))?;
    if r.payload["runId"].as_str() != Some(run.id.as_str()) {
        return Err(bad(format!(
            "it is for run {:?}, not {:?}",
            r.payload["runId"], run.id
        )));
    }
    if r.payload["status"].as_str() != Some(run.status.as_str()) {
        return Err(bad(format!(
            "it says {:?}, the runtime said {:?}",
            r.payload["status"], run.status
        )));
    }
    Ok(())
}

fn parse_run(what: &'static str, v: Value) -> Result<RemoteRun, RuntimeError> {
    serde_json::from_value(v).map_err(|e| RuntimeError::Malformed {
        what,
        detail: e.to_string(),
    })
}

/// Percent-encode everything outside the unreserved set (ids and keys are ASCII).
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_statuses() {
        let run = |s: &str| RemoteRun {
            id: "r".into(),
            status: s.into(),
            cost_usd: 0.0,
            tokens_in: 0,
            tokens_out: 0,
            model: None,
            provider: None,
            output: None,
        };
        for s in ["succeeded", "failed", "cancelled"] {
            assert!(run(s).is_terminal(), "{s}");
        }
        for s in ["queued", "running", "waiting", "whatever"] {
            assert!(!run(s).is_terminal(), "{s}");
        }
    }

    #[test]
    fn keys_are_percent_encoded() {
        assert_eq!(urlencode("run-1:0:1"), "run-1%3A0%3A1");
    }
}
