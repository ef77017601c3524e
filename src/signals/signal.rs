//! One signal: parsing both wire forms, checking a signature, validating the
//! fields, and storing it with its nonce in one transaction.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::constant_time_eq;

/// How far a signed timestamp may be from now.
pub const CLOCK_WINDOW_MS: i64 = 120_000;
/// How long nonces are remembered (twice the clock window).
pub const NONCE_MEMORY_MS: i64 = 240_000;
/// Signals older than this are deleted.
pub const RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;
/// Largest accepted request body.
pub const MAX_BODY: usize = 8 * 1024;

pub const KINDS: [&str; 10] = [
    "app_open",
    "location",
    "focus",
    "device",
    "health",
    "now_playing",
    "wake",
    "sleep",
    "screenshot",
    "custom",
];

/// Why a signal was refused, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("this nonce was already used by this device (replay)")]
    Replay,
    #[error("too many signals from this device; at most {0} a minute")]
    RateLimited(u32),
}

impl Rejection {
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Malformed(_) => 400,
            Rejection::Unauthorized(_) => 401,
            Rejection::Replay => 409,
            Rejection::RateLimited(_) => 429,
        }
    }
}

/// The fields of a signal, from either wire form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signal {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Unix milliseconds.
    pub ts: i64,
}

/// The token-mode JSON body (Lantern's shape); `value` may be a number.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalBody {
    pub kind: Option<String>,
    pub app: Option<String>,
    pub detail: Option<String>,
    pub metric: Option<String>,
    pub value: Option<serde_json::Value>,
    pub ts: Option<i64>,
}

/// The signed-mode body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedBody {
    pub msg: String,
    pub sig: String,
}

fn clip(s: Option<String>, max: usize) -> Option<String> {
    s.map(|v| v.trim().chars().take(max).collect::<String>())
        .filter(|v| !v.is_empty())
}

/// Check kind and required fields; truncate to the reference's limits.
pub fn validate(mut s: Signal) -> Result<Signal, Rejection> {
    s.kind = s
        .kind
        .trim()
        .to_ascii_lowercase()
        .chars()
        .take(40)
        .collect();
    if !KINDS.contains(&s.kind.as_str()) {
        return Err(Rejection::Malformed(format!(
            "unknown kind {:?}; one of {}",
            s.kind,
            KINDS.join(", ")
        )));
    }
    s.app = clip(s.app, 100);
    s.detail = clip(s.detail, 500);
    s.metric = clip(s.metric, 40);
    s.value = clip(s.value, 40);
    let needs_app = matches!(s.kind.as_str(), "app_open" | "custom");
    let may_be_bare = matches!(s.kind.as_str(), "wake" | "sleep" | "screenshot");
    if needs_app && s.app.is_none() {
        return Err(Rejection::Malformed(format!("{} needs app", s.kind)));
    }
    if !needs_app && !may_be_bare && s.app.is_none() && s.detail.is_none() && s.value.is_none() {
        return Err(Rejection::Malformed(format!(
            "{} needs at least one of app, detail, value",
            s.kind
        )));
    }
    Ok(s)
}

impl SignalBody {
    pub fn into_signal(self, now_ms: i64) -> Result<Signal, Rejection> {
        let value = match self.value {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
            Some(_) => {
                return Err(Rejection::Malformed(
                    "value must be a string or a number".into(),
                ));
            }
        };
        validate(Signal {
            kind: self
                .kind
                .ok_or_else(|| Rejection::Malformed("kind is required".into()))?,
            app: self.app,
            detail: self.detail,
            metric: self.metric,
            value,
            ts: self.ts.unwrap_or(now_ms),
        })
    }
}

/// `hex(SHA-256(secret | msg | secret))`, as the shortcut computes it.
pub fn signature(secret: &str, msg: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{secret}|{msg}|{secret}").as_bytes(),
    ))
}

/// A signed message, parsed (not yet trusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub device: String,
    pub ts_ms: i64,
    pub nonce: String,
    pub signal: Signal,
}

/// Parse `v1|<device>|<ts>|<nonce>|<kind>|<field>=<value>…`.
pub fn parse_signed(msg: &str) -> Result<Signed, Rejection> {
    let bad = |why: &str| {
        Rejection::Malformed(format!(
            "msg: {why}; expected v1|<device>|<ISO-8601 ts>|<nonce>|<kind>|field=value…"
        ))
    };
    let mut parts = msg.split('|');
    if parts.next() != Some("v1") {
        return Err(bad("version must be v1"));
    }
    let device = parts
        .next()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| bad("no device"))?;
    let ts = parts.next().ok_or_else(|| bad("no timestamp"))?;
    let ts_ms = ts
        .trim()
        .parse::<jiff::Timestamp>()
        .map_err(|_| bad("the timestamp is not ISO-8601 with an offset"))?
        .as_millisecond();
    let nonce = parts
        .next()
        .filter(|n| !n.is_empty() && n.len() <= 64)
        .ok_or_else(|| bad("no nonce (1-64 chars)"))?;
    let kind = parts.next().ok_or_else(|| bad("no kind"))?;
    let mut signal = Signal {
        kind: kind.to_string(),
        ts: ts_ms,
        ..Signal::default()
    };
    for field in parts {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| bad("a field is not name=value"))?;
        let slot = match k {
            "app" => &mut signal.app,
            "detail" => &mut signal.detail,
            "metric" => &mut signal.metric,
            "value" => &mut signal.value,
            _ => return Err(bad("unknown field (app, detail, metric, value)")),
        };
        *slot = Some(v.to_string());
    }
    Ok(Signed {
        device: device.to_string(),
        ts_ms,
        nonce: nonce.to_string(),
        signal: validate(signal)?,
    })
}

/// Verify a signed body for `header_device` with its `secret`, at `now_ms`.
pub fn verify_signed(
    body: &SignedBody,
    header_device: &str,
    secret: &str,
    now_ms: i64,
) -> Result<Signed, Rejection> {
    // The signature first: nothing unauthenticated gets parsed further or stored.
    let expected = signature(secret, &body.msg);
    if !constant_time_eq(
        expected.as_bytes(),
        body.sig.trim().to_ascii_lowercase().as_bytes(),
    ) {
        return Err(Rejection::Unauthorized("bad signature"));
    }
    let signed = parse_signed(&body.msg)?;
    if signed.device != header_device {
        return Err(Rejection::Unauthorized("the message names another device"));
    }
    if (signed.ts_ms - now_ms).abs() > CLOCK_WINDOW_MS {
        return Err(Rejection::Unauthorized(
            "the timestamp is more than 120 s from now; check the phone's clock",
        ));
    }
    Ok(signed)
}

/// Store a signal, and its nonce if signed, in one transaction. A nonce seen
/// before for this device refuses the whole signal.
pub fn store(
    conn: &mut Connection,
    device: &str,
    nonce: Option<&str>,
    s: &Signal,
    now_ms: i64,
) -> Result<i64, StoreSignalError> {
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM signal_nonces WHERE seen_at_ms < ?1",
        [now_ms - NONCE_MEMORY_MS],
    )?;
    if let Some(n) = nonce {
        let fresh = tx.execute(
            "INSERT INTO signal_nonces (device_id, nonce, seen_at_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![device, n, now_ms],
        )?;
        if fresh == 0 {
            return Err(StoreSignalError::Replay);
        }
    }
    tx.execute(
        "INSERT INTO signals (device_id, kind, app, detail, metric, value, ts_ms, received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![device, s.kind, s.app, s.detail, s.metric, s.value, s.ts, now_ms],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "DELETE FROM signals WHERE ts_ms < ?1",
        [now_ms - RETENTION_MS],
    )?;
    tx.commit()?;
    Ok(id)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreSignalError {
    #[error("replayed nonce")]
    Replay,
    #[error("signal database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A stored signal as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub id: i64,
    pub device: String,
    #[serde(flatten)]
    pub signal: Signal,
    pub at: String,
}

/// Every signal since `since_ms` (all devices), for presence.
pub fn since(conn: &Connection, since_ms: i64) -> rusqlite::Result<Vec<(i64, String, Signal)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, device_id, kind, app, detail, metric, value, ts_ms FROM signals WHERE ts_ms >= ?1 ORDER BY ts_ms",
    )?;
    stmt.query_map([since_ms], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            Signal {
                kind: r.get(2)?,
                app: r.get(3)?,
                detail: r.get(4)?,
                metric: r.get(5)?,
                value: r.get(6)?,
                ts: r.get(7)?,
            },
        ))
    })?
    .collect()
}

pub fn list(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare(
        "SELECT s.id, COALESCE(d.name, s.device_id), s.kind, s.app, s.detail, s.metric, s.value, s.ts_ms
         FROM signals s LEFT JOIN devices d ON d.id = s.device_id ORDER BY s.ts_ms DESC, s.id DESC LIMIT ?1",
    )?;
    stmt.query_map([limit], |r| {
        let ts: i64 = r.get(7)?;
        Ok(Stored {
            id: r.get(0)?,
            device: r.get(1)?,
            signal: Signal {
                kind: r.get(2)?,
                app: r.get(3)?,
                detail: r.get(4)?,
                metric: r.get(5)?,
                value: r.get(6)?,
                ts,
            },
            at: crate::memory::messages::rfc3339_ms(ts),
        })
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_763_800_000_000;

    fn msg(ts: &str, rest: &str) -> String {
        format!("v1|dab12|{ts}|n1|{rest}")
    }

    #[test]
    fn a_good_signed_message_verifies() {
        let ts = jiff::Timestamp::from_millisecond(NOW).unwrap().to_string();
        let m = msg(&ts, "location|detail=gym");
        let body = SignedBody {
            sig: signature("s3cret", &m),
            msg: m,
        };
        let s = verify_signed(&body, "dab12", "s3cret", NOW + 5_000).unwrap();
        assert_eq!(
            (s.signal.kind.as_str(), s.signal.detail.as_deref()),
            ("location", Some("gym"))
        );
        // Shortcuts writes local time with an offset: same instant, accepted.
        let local = msg("2025-11-22T02:26:40-06:00", "wake");
        assert_eq!(parse_signed(&local).unwrap().ts_ms, 1_763_800_000_000);
    }

    #[test]
    fn forged_stale_future_and_misdirected_are_refused() {
        let ts = jiff::Timestamp::from_millisecond(NOW).unwrap().to_string();
        let m = msg(&ts, "wake");
        let good = signature("s3cret", &m);
        let forged = SignedBody {
            msg: m.clone(),
            sig: signature("guess", &m),
        };
        assert_eq!(
            verify_signed(&forged, "dab12", "s3cret", NOW),
            Err(Rejection::Unauthorized("bad signature"))
        );
        let body = SignedBody {
            msg: m.clone(),
            sig: good,
        };
        assert!(matches!(
            verify_signed(&body, "dab12", "s3cret", NOW + 121_000),
            Err(Rejection::Unauthorized(_))
        ));
        assert!(matches!(
            verify_signed(&body, "dab12", "s3cret", NOW - 121_000),
            Err(Rejection::Unauthorized(_))
        ));
        assert!(matches!(
            verify_signed(&body, "dother", "s3cret", NOW),
            Err(Rejection::Unauthorized(_))
        ));
    }

    #[test]
    fn validation_follows_the_reference() {
        let sig = |kind: &str| Signal {
            kind: kind.into(),
            ts: NOW,
            ..Signal::default()
        };
        assert!(validate(sig("wake")).is_ok());
        assert!(
            validate(sig("location")).is_err(),
            "needs app, detail or value"
        );
        assert!(validate(sig("app_open")).is_err(), "needs app");
        assert!(validate(sig("teleport")).is_err());
        let long = Signal {
            kind: "custom".into(),
            app: Some("x".repeat(300)),
            ..sig("custom")
        };
        assert_eq!(validate(long).unwrap().app.unwrap().len(), 100);
        assert!(parse_signed("v2|d|2025-01-01T00:00:00Z|n|wake").is_err());
        assert!(parse_signed("v1|d|yesterday|n|wake").is_err());
        assert!(parse_signed("v1|d|2025-01-01T00:00:00Z|n|location|where=home").is_err());
    }
}
