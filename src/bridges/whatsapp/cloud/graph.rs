//! The Graph API's send: `POST {apiUrl}/{version}/{phoneNumberId}/messages`
//! with a bearer token and `{messaging_product: "whatsapp", to, type: "text",
//! text: {body}, biz_opaque_callback_data: <step key>}`; the answer's
//! `messages[0].id` (a wamid) is the delivery id.
//!
//! What is certain and what is not: a refused connection, a 429 or a 4xx
//! answer means nothing was sent. A 429 and a 5xx are tried again (4 attempts,
//! `Retry-After` honoured up to 30 s, else backoff). A timeout or a line cut
//! after the request went out, or 5xx to the last attempt, may or may not have
//! sent it: `Uncertain`, never tried again by the caller.

use std::time::Duration;

use serde_json::json;

use crate::llm::retry::{MAX_WAIT, jitter, retry_after};

pub const ATTEMPTS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Certainly not sent.
    #[error("the Graph API refused the request ({status}): {detail}")]
    Refused { status: u16, detail: String },
    /// Certainly not sent: the server could not be reached.
    #[error("cannot reach the Graph API at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// May or may not have been sent.
    #[error("the Graph API send may or may not have gone out: {detail}")]
    Uncertain { detail: String },
}

#[derive(Debug, Clone)]
pub struct Graph {
    http: reqwest::Client,
    url: String,
}

impl Graph {
    pub fn new(api_url: &str, version: &str, phone_number_id: &str) -> Graph {
        let http = crate::tls::http_client()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Graph {
            http,
            url: format!(
                "{}/{}/{}/messages",
                api_url.trim_end_matches('/'),
                version.trim_matches('/'),
                phone_number_id
            ),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `doctor`'s round trip: `GET {apiUrl}/{version}/{phoneNumberId}` with the
    /// token; the number and its verified name as Meta knows them.
    pub async fn probe(&self, token: &str) -> Result<String, GraphError> {
        let url = self.url.trim_end_matches("/messages");
        let resp = self
            .http
            .get(format!("{url}?fields=display_phone_number,verified_name"))
            .bearer_auth(token)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| GraphError::Unreachable {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(GraphError::Refused {
                status: status.as_u16(),
                detail: error_detail(&text),
            });
        }
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        Ok(format!(
            "{} ({})",
            v["display_phone_number"].as_str().unwrap_or("?"),
            v["verified_name"].as_str().unwrap_or("no verified name")
        ))
    }

    /// Send `text` to `to` (digits of the E.164 number); the wamid.
    pub async fn send_text(
        &self,
        token: &str,
        to: &str,
        text: &str,
        key: &str,
    ) -> Result<String, GraphError> {
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": { "preview_url": false, "body": text },
            "biz_opaque_callback_data": key,
        });
        let mut attempt = 0;
        loop {
            let (err, wait) = match self.once(token, &body).await {
                Ok(id) => return Ok(id),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Again { error, wait }) => (error, wait),
            };
            attempt += 1;
            let wait = wait.map_or_else(|| jitter(attempt), Duration::from_secs);
            if attempt >= ATTEMPTS || wait > MAX_WAIT {
                return Err(err);
            }
            tracing::debug!(error = %err, ?wait, "retrying the WhatsApp send");
            tokio::time::sleep(wait).await;
        }
    }

    async fn once(&self, token: &str, body: &serde_json::Value) -> Result<String, Attempt> {
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                Attempt::Final(if e.is_connect() {
                    GraphError::Unreachable {
                        url: self.url.clone(),
                        detail: e.to_string(),
                    }
                } else {
                    GraphError::Uncertain {
                        detail: e.to_string(),
                    }
                })
            })?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let text = resp.text().await.map_err(|e| {
            Attempt::Final(GraphError::Uncertain {
                detail: format!("the answer ({status}) was cut off: {e}"),
            })
        })?;
        if status.is_success() {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            return v["messages"][0]["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| {
                    Attempt::Final(GraphError::Uncertain {
                        detail: format!("{status} without a message id: {text:.200}"),
                    })
                });
        }
        let detail = error_detail(&text);
        let code = status.as_u16();
        Err(match code {
            429 => Attempt::Again {
                error: GraphError::Refused {
                    status: code,
                    detail,
                },
                wait,
            },
            500..=599 => Attempt::Again {
                error: GraphError::Uncertain {
                    detail: format!("{code} from the Graph API: {detail}"),
                },
                wait,
            },
            _ => Attempt::Final(GraphError::Refused {
                status: code,
                detail,
            }),
        })
    }
}

enum Attempt {
    Final(GraphError),
    Again {
        error: GraphError,
        wait: Option<u64>,
    },
}

/// `{"error": {"message", "code", "error_data": {"details"}}}` as one line.
fn error_detail(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let e = &v["error"];
    match (e["message"].as_str(), e["code"].as_i64()) {
        (Some(m), Some(c)) => match e["error_data"]["details"].as_str() {
            Some(d) => format!("{m} (code {c}): {d}"),
            None => format!("{m} (code {c})"),
        },
        (Some(m), None) => m.to_string(),
        _ => format!("{body:.200}"),
    }
}
