//! Retries: up to 3 attempts on 429, 5xx, timeouts and refused connections,
//! waiting `Retry-After` when the server says (capped), else jittered backoff.

use std::future::Future;
use std::time::Duration;

use super::LlmError;

pub const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` honoured; a longer wait is a failure for this run.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// `Retry-After` in seconds, if the server sent one.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn jitter(attempt: u32) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let base = 250u64 << attempt.min(4);
    Duration::from_millis(base + u64::from(u16::from_le_bytes(b)) % base)
}

pub async fn with_retries<F, Fut, T>(mut call: F) -> Result<T, LlmError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, LlmError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if e.retryable() && attempt + 1 < ATTEMPTS => {
                let delay = match &e {
                    LlmError::Http {
                        retry_after: Some(s),
                        ..
                    } => Duration::from_secs(*s),
                    _ => jitter(attempt),
                };
                if delay > MAX_WAIT {
                    return Err(e);
                }
                tracing::debug!(error = %e, ?delay, "retrying the model call");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
