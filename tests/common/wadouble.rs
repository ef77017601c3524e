//! A WhatsApp Web session double behind the linked bridge's seam
//! (`steward::bridges::whatsapp::linked::session::Session`). It emits the
//! library's own `Event` values (built with whatsapp-rust's builders), records
//! what the bridge sent, typed and asked, and can be scripted per connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward::bridges::whatsapp::linked::session::{
    BoxFut, Event, Events, Link, Session, SessionError,
};
use tokio::sync::mpsc;
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::{
    BatchOrigin, Connected, InboundMessage, LoggedOut, MessageBatch, PairSuccess, PairingCode,
    PairingQrCode, StreamReplaced,
};
use whatsapp_rust::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::waproto::whatsapp as wa;

pub const OWNER_JID: &str = "15125550000:7@s.whatsapp.net";
pub const OWNER_LID: &str = "555000111@lid";

#[derive(Default)]
pub struct Double {
    /// The live stream's sender: the one connection there is.
    live: Mutex<Option<mpsc::Sender<Arc<Event>>>>,
    /// Events each new connection starts with, one list per connect (then empty).
    pub scripts: Mutex<VecDeque<Vec<Event>>>,
    pub connects: AtomicUsize,
    pub links: Mutex<Vec<Link>>,
    pub sent: Mutex<Vec<(String, String)>>,
    pub typing: Mutex<Vec<(String, bool)>>,
    pub logouts: AtomicUsize,
    pub resyncs: AtomicUsize,
    pub disconnects: AtomicUsize,
    /// The next send fails like this (then sends work again).
    pub fail_next: Mutex<Option<SessionError>>,
}

impl Double {
    pub fn new() -> Arc<Double> {
        Arc::new(Double::default())
    }

    /// Start each of the next connections with these events.
    pub fn script(&self, events: Vec<Event>) {
        self.scripts.lock().unwrap().push_back(events);
    }

    /// Emit an event on the live connection.
    pub async fn emit(&self, e: Event) {
        let tx = self
            .live
            .lock()
            .unwrap()
            .clone()
            .expect("no live connection");
        tx.send(Arc::new(e)).await.unwrap();
    }

    /// End the live stream without a reason (a dropped connection).
    pub fn drop_stream(&self) {
        self.live.lock().unwrap().take();
    }

    pub fn is_live(&self) -> bool {
        self.live
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|t| !t.is_closed())
    }

    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap().clone()
    }
}

impl Session for Double {
    fn connect(&self, link: Option<Link>) -> BoxFut<'_, Result<Events, SessionError>> {
        Box::pin(async move {
            self.connects.fetch_add(1, Ordering::SeqCst);
            if let Some(l) = link {
                self.links.lock().unwrap().push(l);
            }
            let (tx, rx) = mpsc::channel(256);
            let script = self.scripts.lock().unwrap().pop_front().unwrap_or_default();
            for e in script {
                tx.send(Arc::new(e)).await.unwrap();
            }
            // A new connection replaces the old one: one stream at a time.
            *self.live.lock().unwrap() = Some(tx);
            Ok(rx)
        })
    }

    fn send_text<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> BoxFut<'a, Result<String, SessionError>> {
        Box::pin(async move {
            if let Some(e) = self.fail_next.lock().unwrap().take() {
                return Err(e);
            }
            let mut sent = self.sent.lock().unwrap();
            sent.push((to.to_string(), text.to_string()));
            Ok(format!("3EB0DOUBLE{:04}", sent.len()))
        })
    }

    fn typing<'a>(&'a self, to: &'a str, on: bool) -> BoxFut<'a, Result<(), SessionError>> {
        Box::pin(async move {
            self.typing.lock().unwrap().push((to.to_string(), on));
            Ok(())
        })
    }

    fn logout(&self) -> BoxFut<'_, Result<(), SessionError>> {
        Box::pin(async move {
            self.logouts.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }

    fn resync(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.resyncs.fetch_add(1, Ordering::SeqCst);
        })
    }

    fn disconnect(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.disconnects.fetch_add(1, Ordering::SeqCst);
            self.live.lock().unwrap().take();
        })
    }
}

// The library's events, as the real session would hand them over.

pub fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

pub fn qr(code: &str) -> Event {
    Event::PairingQrCode(
        PairingQrCode::builder()
            .code(code.to_string())
            .timeout(Duration::from_secs(20))
            .build(),
    )
}

pub fn pair_code(code: &str) -> Event {
    Event::PairingCode(
        PairingCode::builder()
            .code(code.to_string())
            .timeout(Duration::from_secs(180))
            .build(),
    )
}

pub fn paired() -> Event {
    Event::PairSuccess(
        PairSuccess::builder()
            .id(jid(OWNER_JID))
            .lid(jid(OWNER_LID))
            .business_name(String::new())
            .platform("android".to_string())
            .build(),
    )
}

pub fn connected() -> Event {
    Event::Connected(Connected::builder().build())
}

pub fn logged_out() -> Event {
    Event::LoggedOut(
        LoggedOut::builder()
            .on_connect(false)
            .reason(whatsapp_rust::types::events::ConnectFailureReason::LoggedOut)
            .build(),
    )
}

pub fn replaced() -> Event {
    Event::StreamReplaced(StreamReplaced::builder().build())
}

/// One message as a live batch of one.
pub struct Msg {
    pub id: &'static str,
    pub chat: &'static str,
    pub sender: &'static str,
    pub sender_alt: Option<&'static str>,
    pub from_me: bool,
    pub at_s: i64,
    pub message: wa::Message,
}

impl Msg {
    /// Ann writes to the owner, 1:1.
    pub fn text(id: &'static str, from: &'static str, text: &str) -> Msg {
        Msg {
            id,
            chat: from,
            sender: from,
            sender_alt: None,
            from_me: false,
            at_s: 1_796_000_000,
            message: wa::Message::text(text),
        }
    }

    pub fn event(self) -> Event {
        batch(vec![self])
    }
}

pub fn batch(msgs: Vec<Msg>) -> Event {
    let items: Vec<InboundMessage> = msgs
        .into_iter()
        .map(|m| {
            let info = MessageInfo {
                id: m.id.to_string(),
                push_name: "Ann Lee".to_string(),
                source: MessageSource {
                    chat: jid(m.chat),
                    sender: jid(m.sender),
                    sender_alt: m.sender_alt.map(jid),
                    is_from_me: m.from_me,
                    is_group: m.chat.ends_with("@g.us"),
                    ..Default::default()
                },
                timestamp: whatsapp_rust::chrono::DateTime::from_timestamp(m.at_s, 0).unwrap(),
                ..Default::default()
            };
            InboundMessage::builder()
                .message(Arc::new(m.message))
                .info(Arc::new(info))
                .build()
        })
        .collect();
    Event::Messages(
        MessageBatch::builder()
            .messages(Arc::from(items))
            .origin(BatchOrigin::Live)
            .build(),
    )
}

/// The text message type's constructor, re-exported for tests.
pub use whatsapp_rust::prelude::MessageBuilderExt;
