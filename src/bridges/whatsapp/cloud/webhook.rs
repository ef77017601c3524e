//! Meta's webhook for the Cloud API: the `GET` verification handshake, the
//! `X-Hub-Signature-256` check (HMAC-SHA256 of the raw body with the app
//! secret, compared in constant time, before a byte is parsed), and the
//! payload's wire format (`entry[].changes[].value` with `messages`,
//! `contacts` and `statuses`) turned into events.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Meta's deliveries are a few KB; anything larger is refused (413) unread.
pub const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no X-Hub-Signature-256 header; only Meta's signed deliveries are accepted")]
    Missing,
    #[error("X-Hub-Signature-256 is not \"sha256=<64 hex digits>\"")]
    Malformed,
    #[error(
        "X-Hub-Signature-256 does not match the body; check bridges.whatsapp.appSecret is the app's secret"
    )]
    Mismatch,
}

/// Check `header` (`sha256=<hex>`) against the HMAC of `body` under `secret`.
pub fn check_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_sig = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let sig = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    if sig.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

/// The signature header value Meta would send for `body` (tests and doubles).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`: the challenge
/// to echo when the token is ours.
pub fn verify_challenge<'a>(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
    ours: &str,
) -> Option<&'a str> {
    let token = token?;
    let same = crate::keys::constant_time_eq(token.as_bytes(), ours.as_bytes());
    (mode == Some("subscribe") && same).then_some(challenge?)
}

#[derive(Debug, Deserialize)]
pub struct Payload {
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    pub value: Value,
}

#[derive(Debug, Deserialize)]
pub struct Value {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub statuses: Vec<Status>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub phone_number_id: String,
}

#[derive(Debug, Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub wa_id: String,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Message {
    pub from: String,
    pub id: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub image: Option<Media>,
    #[serde(default)]
    pub video: Option<Media>,
    #[serde(default)]
    pub document: Option<Media>,
    #[serde(default)]
    pub context: Option<Context>,
}

#[derive(Debug, Deserialize)]
pub struct Text {
    pub body: String,
}

#[derive(Debug, Deserialize)]
pub struct Media {
    #[serde(default)]
    pub caption: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Status {
    /// The wamid of our message.
    pub id: String,
    /// `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    #[serde(default)]
    pub recipient_id: String,
    /// Our step key, sent as `biz_opaque_callback_data` and echoed back.
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    pub errors: Vec<GraphErrorDetail>,
}

#[derive(Debug, Deserialize)]
pub struct GraphErrorDetail {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub title: String,
}

impl Message {
    /// The text memory keeps: the body, or a placeholder with the caption.
    pub fn text(&self) -> String {
        if let Some(t) = &self.text {
            return t.body.clone();
        }
        let caption = [&self.image, &self.video, &self.document]
            .into_iter()
            .flatten()
            .find_map(|m| m.caption.clone())
            .unwrap_or_default();
        let kind = if self.kind.is_empty() {
            "message"
        } else {
            &self.kind
        };
        if caption.is_empty() {
            format!("[{kind}]")
        } else {
            format!("[{kind}] {caption}")
        }
    }

    pub fn at_ms(&self) -> i64 {
        self.timestamp.parse::<i64>().unwrap_or(0) * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = br#"{"entry":[]}"#;
        let good = sign(b"app-secret", body);
        assert_eq!(check_signature(b"app-secret", body, Some(&good)), Ok(()));
        assert_eq!(
            check_signature(b"other", body, Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check_signature(b"app-secret", b"{\"entry\":[1]}", Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check_signature(b"app-secret", body, None),
            Err(SignatureError::Missing)
        );
        for bad in ["sha1=00", "sha256=zz", "sha256=abcd", ""] {
            assert_eq!(
                check_signature(b"app-secret", body, Some(bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn challenge() {
        let ok = verify_challenge(Some("subscribe"), Some("vt"), Some("123"), "vt");
        assert_eq!(ok, Some("123"));
        assert_eq!(
            verify_challenge(Some("subscribe"), Some("no"), Some("1"), "vt"),
            None
        );
        assert_eq!(
            verify_challenge(Some("other"), Some("vt"), Some("1"), "vt"),
            None
        );
        assert_eq!(
            verify_challenge(Some("subscribe"), None, Some("1"), "vt"),
            None
        );
    }

    #[test]
    fn media_text() {
        let m: Message = serde_json::from_str(
            r#"{"from":"1","id":"w","timestamp":"1700000000","type":"image","image":{"caption":"look","mime_type":"image/jpeg","id":"9"}}"#,
        )
        .unwrap();
        assert_eq!(m.text(), "[image] look");
        assert_eq!(m.at_ms(), 1_700_000_000_000);
    }
}
