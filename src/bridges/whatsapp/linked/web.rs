//! whatsapp-rust behind the [`Session`] seam: a `Bot` on the library's own
//! SQLite store (`<home>/whatsapp/session.db`, diesel over the same bundled
//! libsqlite3-sys 0.37 our rusqlite uses), its events forwarded in order
//! (`EventDelivery::Ordered`) into the one stream the reader owns. When the
//! bot's run loop ends (logout, replaced, our disconnect) the stream ends.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use whatsapp_rust::Jid;
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::{Bot, Client, EventDelivery, SendError, SqliteStore};

use super::session::{BoxFut, Event, Events, Link, Session, SessionError};

/// Events buffered before the library drops them (it counts drops rather
/// than stall its receive loop); far above one offline drain's batch.
const MAILBOX: usize = 4096;

/// One live bot: its client and the task that waits for its run loop to end.
struct Running {
    client: Arc<Client>,
    done: tokio::task::JoinHandle<()>,
}

pub struct WebSession {
    db: PathBuf,
    running: tokio::sync::Mutex<Option<Running>>,
}

impl WebSession {
    /// A session on the store at `db`; nothing connects until `connect`.
    pub fn new(db: PathBuf) -> WebSession {
        WebSession {
            db,
            running: tokio::sync::Mutex::new(None),
        }
    }

    async fn client(&self) -> Result<Arc<Client>, SessionError> {
        self.running
            .lock()
            .await
            .as_ref()
            .map(|r| r.client.clone())
            .ok_or(SessionError::NotLinked)
    }

    async fn stop(&self) {
        let Some(r) = self.running.lock().await.take() else {
            return;
        };
        r.client.disconnect().await;
        if tokio::time::timeout(Duration::from_secs(10), r.done)
            .await
            .is_err()
        {
            tracing::warn!("the WhatsApp session did not stop within 10 s");
        }
    }

    async fn start(&self, link: Option<Link>) -> Result<Events, SessionError> {
        self.stop().await;
        let store_err = |e: &dyn std::fmt::Display| SessionError::Store {
            path: self.db.display().to_string(),
            detail: e.to_string(),
        };
        let path = self.db.to_str().ok_or_else(|| store_err(&"not UTF-8"))?;
        let store = SqliteStore::new(path).await.map_err(|e| store_err(&e))?;
        let (tx, rx) = mpsc::channel(MAILBOX);
        // The handler holds the sender through this slot, so clearing it
        // when the run loop ends closes the stream for the reader.
        let slot = Arc::new(Mutex::new(Some(tx)));
        let feed = slot.clone();
        let mut builder = Bot::builder()
            .with_backend(store)
            .with_event_delivery(EventDelivery::Ordered { capacity: MAILBOX })
            .on_event(move |event: Arc<Event>, _client| {
                let tx = feed.lock().unwrap_or_else(|p| p.into_inner()).clone();
                async move {
                    if let Some(tx) = tx {
                        let _ = tx.send(event).await;
                    }
                }
            });
        if let Some(Link::Code { phone }) = link {
            builder = builder.with_pair_code(PairCodeOptions {
                phone_number: phone.chars().filter(char::is_ascii_digit).collect(),
                show_push_notification: true,
                ..Default::default()
            });
        }
        let bot = builder
            .build()
            .await
            .map_err(|e| SessionError::Failed(format!("WhatsApp session: {e}")))?;
        let handle = bot.spawn();
        let client = handle.client();
        let done = tokio::spawn(async move {
            handle.await;
            slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        });
        *self.running.lock().await = Some(Running { client, done });
        Ok(rx)
    }
}

fn jid(to: &str) -> Result<Jid, SessionError> {
    to.parse::<Jid>()
        .map_err(|e| SessionError::Failed(format!("{to:?} is not a WhatsApp JID: {e}")))
}

/// Sorted by whether the message may have left: before the session had an
/// identity or a connection, or for a bad request, certainly not.
fn send_error(e: SendError) -> SessionError {
    use whatsapp_rust::ClientError;
    match e {
        SendError::NotLoggedIn
        | SendError::InvalidRequest(_)
        | SendError::Client(ClientError::NotConnected | ClientError::NotLoggedIn) => {
            SessionError::Failed(e.to_string())
        }
        other => SessionError::Uncertain(other.to_string()),
    }
}

impl Session for WebSession {
    fn connect(&self, link: Option<Link>) -> BoxFut<'_, Result<Events, SessionError>> {
        Box::pin(self.start(link))
    }

    fn send_text<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> BoxFut<'a, Result<String, SessionError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let to = jid(to)?;
            client
                .send_text(to, text)
                .await
                .map(|r| r.message_id)
                .map_err(send_error)
        })
    }

    fn typing<'a>(&'a self, to: &'a str, on: bool) -> BoxFut<'a, Result<(), SessionError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let to = jid(to)?;
            let chat = client.chatstate();
            let sent = if on {
                chat.send_composing(&to).await
            } else {
                chat.send_paused(&to).await
            };
            sent.map_err(|e| SessionError::Failed(e.to_string()))
        })
    }

    fn logout(&self) -> BoxFut<'_, Result<(), SessionError>> {
        Box::pin(async move {
            self.client().await?.logout().await;
            Ok(())
        })
    }

    fn resync(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if let Ok(c) = self.client().await {
                c.reconnect().await;
            }
        })
    }

    fn disconnect(&self) -> BoxFut<'_, ()> {
        Box::pin(self.stop())
    }
}
