//! A test hook under the seam, for tests that run the real daemon: with
//! `STEWARD_WHATSAPP_WIRE=127.0.0.1:PORT` the session is a loopback test
//! server speaking JSON lines instead of WhatsApp (WhatsApp's servers cannot
//! be reached from CI, and its protocol has no local server). Only the
//! transport differs: each line becomes the library's own [`Event`] (built
//! with its builders), so ingest, the reader, the ledger and the link flow
//! above the seam run exactly as in production. A non-loopback address is
//! refused, so the hook cannot send anyone's messages elsewhere.
//!
//! Lines: the client opens a connection per call: `{"op":"connect","link":…}`
//! keeps its connection as the event stream (`{"event":"connected"|"loggedOut"|
//! "streamReplaced"|"qr"|"pairCode"|"paired"|"message"|"receipt", …}`); `send`,
//! `typing`, `logout`, `resync`, `disconnect` get one answer line each.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::{
    BatchOrigin, ConnectFailureReason, Connected, InboundMessage, LoggedOut, MessageBatch,
    PairSuccess, PairingCode, PairingQrCode, Receipt, StreamReplaced,
};
use whatsapp_rust::types::message::{MessageInfo, MessageSource};

use super::session::{BoxFut, Event, Events, Link, Session, SessionError};

/// The environment variable that selects the hook.
pub const ENV: &str = "STEWARD_WHATSAPP_WIRE";

/// The hook's address, when set and on loopback.
pub fn from_env() -> Option<SocketAddr> {
    let raw = std::env::var(ENV).ok()?;
    match raw.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_loopback() => Some(a),
        _ => {
            tracing::warn!("{ENV}={raw} is not a loopback address; ignored (it is a test hook)");
            None
        }
    }
}

pub struct WireSession {
    addr: SocketAddr,
    stream: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl WireSession {
    pub fn new(addr: SocketAddr) -> WireSession {
        WireSession {
            addr,
            stream: tokio::sync::Mutex::new(None),
        }
    }

    /// One request, one answer line.
    async fn call(&self, req: Value) -> Result<Value, SessionError> {
        let uncertain = |e: std::io::Error| SessionError::Uncertain(e.to_string());
        let mut conn = TcpStream::connect(self.addr)
            .await
            .map_err(|e| SessionError::Failed(e.to_string()))?;
        conn.write_all(format!("{req}\n").as_bytes())
            .await
            .map_err(uncertain)?;
        let mut line = String::new();
        let mut reader = BufReader::new(conn);
        tokio::time::timeout(Duration::from_secs(30), reader.read_line(&mut line))
            .await
            .map_err(|_| SessionError::Uncertain("no answer within 30 s".into()))?
            .map_err(uncertain)?;
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| SessionError::Uncertain(format!("a garbled answer: {e}")))?;
        match v.get("error").and_then(Value::as_str) {
            Some(e) if v["uncertain"] == true => Err(SessionError::Uncertain(e.into())),
            Some(e) => Err(SessionError::Failed(e.into())),
            None => Ok(v),
        }
    }

    async fn start(&self, link: Option<Link>) -> Result<Events, SessionError> {
        if let Some(old) = self.stream.lock().await.take() {
            old.abort();
        }
        let link = match link {
            None => Value::Null,
            Some(Link::Qr) => json!("qr"),
            Some(Link::Code { phone }) => json!({ "code": phone }),
        };
        let mut conn = TcpStream::connect(self.addr)
            .await
            .map_err(|e| SessionError::Failed(format!("the test server: {e}")))?;
        let hello = json!({ "op": "connect", "link": link });
        conn.write_all(format!("{hello}\n").as_bytes())
            .await
            .map_err(|e| SessionError::Failed(e.to_string()))?;
        let (tx, rx) = mpsc::channel(256);
        let task = tokio::spawn(async move {
            let mut lines = BufReader::new(conn).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Value>(&line).map(|v| event(&v)) {
                    Ok(Some(e)) => {
                        if tx.send(Arc::new(e)).await.is_err() {
                            return;
                        }
                    }
                    _ => tracing::warn!("{ENV}: a line that is no event; skipped"),
                }
            }
        });
        *self.stream.lock().await = Some(task);
        Ok(rx)
    }
}

fn jid(v: &Value) -> Option<Jid> {
    v.as_str()?.parse().ok()
}

/// One line as the library's event.
fn event(v: &Value) -> Option<Event> {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Some(match v["event"].as_str()? {
        "connected" => Event::Connected(Connected::builder().build()),
        "loggedOut" => Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(false)
                .reason(ConnectFailureReason::LoggedOut)
                .build(),
        ),
        "streamReplaced" => Event::StreamReplaced(StreamReplaced::builder().build()),
        "qr" => Event::PairingQrCode(
            PairingQrCode::builder()
                .code(s("code"))
                .timeout(Duration::from_secs(20))
                .build(),
        ),
        "pairCode" => Event::PairingCode(
            PairingCode::builder()
                .code(s("code"))
                .timeout(Duration::from_secs(180))
                .build(),
        ),
        "paired" => Event::PairSuccess(
            PairSuccess::builder()
                .id(jid(&v["jid"])?)
                .lid(jid(&v["lid"]).unwrap_or_default())
                .business_name(String::new())
                .platform(s("platform"))
                .build(),
        ),
        // `{"event":"receipt","type":"delivered"|"read","chat":JID,"ids":[…]}`
        "receipt" => {
            let chat = jid(&v["chat"])?;
            let kind = match v["type"].as_str()? {
                "delivered" => whatsapp_rust::types::presence::ReceiptType::Delivered,
                "read" => whatsapp_rust::types::presence::ReceiptType::Read,
                other => whatsapp_rust::types::presence::ReceiptType::Other(other.into()),
            };
            let ids = v["ids"]
                .as_array()?
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect();
            Event::Receipt(
                Receipt::builder()
                    .message_ids(ids)
                    .source(MessageSource {
                        sender: chat.clone(),
                        chat,
                        ..Default::default()
                    })
                    .timestamp(whatsapp_rust::chrono::Utc::now())
                    .r#type(kind)
                    .offline(false)
                    .build(),
            )
        }
        "message" => {
            let chat = jid(&v["chat"])?;
            let info = MessageInfo {
                id: s("id"),
                push_name: s("pushName"),
                source: MessageSource {
                    is_group: chat.server == whatsapp_rust::Server::Group,
                    sender: jid(&v["sender"]).unwrap_or_else(|| chat.clone()),
                    sender_alt: jid(&v["senderAlt"]),
                    is_from_me: v["fromMe"] == true,
                    chat,
                    ..Default::default()
                },
                timestamp: whatsapp_rust::chrono::DateTime::from_timestamp(
                    v["at"].as_i64().unwrap_or_default(),
                    0,
                )?,
                ..Default::default()
            };
            let message = whatsapp_rust::waproto::whatsapp::Message {
                conversation: Some(s("text")),
                ..Default::default()
            };
            let item = InboundMessage::builder()
                .message(Arc::new(message))
                .info(Arc::new(info))
                .build();
            Event::Messages(
                MessageBatch::builder()
                    .messages(Arc::from(vec![item]))
                    .origin(BatchOrigin::Live)
                    .build(),
            )
        }
        _ => return None,
    })
}

impl Session for WireSession {
    fn connect(&self, link: Option<Link>) -> BoxFut<'_, Result<Events, SessionError>> {
        Box::pin(self.start(link))
    }

    fn send_text<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> BoxFut<'a, Result<String, SessionError>> {
        Box::pin(async move {
            let v = self
                .call(json!({ "op": "send", "to": to, "text": text }))
                .await?;
            v["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| SessionError::Uncertain("an answer without an id".into()))
        })
    }

    fn typing<'a>(&'a self, to: &'a str, on: bool) -> BoxFut<'a, Result<(), SessionError>> {
        Box::pin(async move {
            self.call(json!({ "op": "typing", "to": to, "on": on }))
                .await
                .map(|_| ())
        })
    }

    fn logout(&self) -> BoxFut<'_, Result<(), SessionError>> {
        Box::pin(async move { self.call(json!({ "op": "logout" })).await.map(|_| ()) })
    }

    fn resync(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            let _ = self.call(json!({ "op": "resync" })).await;
        })
    }

    fn disconnect(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if let Some(t) = self.stream.lock().await.take() {
                t.abort();
            }
            let _ = self.call(json!({ "op": "disconnect" })).await;
        })
    }
}
