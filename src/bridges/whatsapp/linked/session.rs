//! The seam between the bridge and whatsapp-rust: the few things the bridge
//! asks of a WhatsApp Web session. `web.rs` is the library behind it; tests
//! put a double behind it that emits the library's own [`Event`] values, so
//! everything above this trait (ingest, the supervised reader, the sends, the
//! link flow) is what they exercise.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use whatsapp_rust::types::events::Event;

/// A boxed future, so the trait can be held as `Arc<dyn Session>`.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The library's events in arrival order. It ends when the session's run
/// loop stops (logged out, replaced, disconnected on purpose).
pub type Events = tokio::sync::mpsc::Receiver<Arc<Event>>;

/// How a new link is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// QR codes to scan (WhatsApp > Linked devices > Link a device).
    Qr,
    /// An 8-character code to type on the phone with this number (digits, country code first).
    Code { phone: String },
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("WhatsApp is not linked; run `steward whatsapp link`")]
    NotLinked,
    /// Certainly not done (refused before anything left this machine).
    #[error("{0}")]
    Failed(String),
    /// May or may not have reached WhatsApp (a timeout, a connection lost mid-send).
    #[error("{0}")]
    Uncertain(String),
    /// The session store could not be opened or written.
    #[error(
        "the WhatsApp session store at {path}: {detail}; check the folder is yours (0700) or unlink and link again"
    )]
    Store { path: String, detail: String },
}

/// What the bridge needs from a WhatsApp Web session.
pub trait Session: Send + Sync {
    /// Start the session (with `link`: a new pairing, else the stored one)
    /// and hand back its events. A second call while connected replaces the
    /// first connection, so there is never more than one stream.
    fn connect(&self, link: Option<Link>) -> BoxFut<'_, Result<Events, SessionError>>;
    /// Send `text` to `to` (a JID); WhatsApp's message id.
    fn send_text<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> BoxFut<'a, Result<String, SessionError>>;
    /// Show (or stop showing) "typing…" in the chat with `to`.
    fn typing<'a>(&'a self, to: &'a str, on: bool) -> BoxFut<'a, Result<(), SessionError>>;
    /// Tell WhatsApp to remove this linked device, then stop.
    fn logout(&self) -> BoxFut<'_, Result<(), SessionError>>;
    /// Drop the connection and let it come back (a connection that went silent).
    fn resync(&self) -> BoxFut<'_, ()>;
    /// Stop cleanly (flushing the session's state).
    fn disconnect(&self) -> BoxFut<'_, ()>;
}
