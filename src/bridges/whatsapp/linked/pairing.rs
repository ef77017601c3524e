//! A link session held by the daemon, for the dashboard's "Link WhatsApp":
//! `link::link` (the very code `steward whatsapp link` runs) on the daemon's
//! own session, in a task the daemon owns, so the page can come and go while
//! the phone is fetched. One at a time: a second press joins the running one.
//! It ends when the phone confirms, on `link`'s timeout or refusal, or when
//! the daemon stops; on success the reader (which waits while unlinked) is
//! woken and connects with the new keys, so no restart is needed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::link::{self, Linked, Shown};
use super::session::{Link, Session};
use crate::memory::Canonicalizer;

/// How long a dashboard link waits for the phone (`steward whatsapp link`'s default).
pub const WITHIN: Duration = Duration::from_secs(180);

/// Where the daemon's link session stands, as the page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum View {
    /// No link session has run since the daemon started.
    #[default]
    Idle,
    /// Started; WhatsApp has not sent the first code yet.
    Starting,
    /// The QR payload to draw now (it rotates every 20 s).
    Qr(String),
    /// The 8-character code to type on the phone.
    Code(String),
    /// The phone confirmed.
    Linked(Linked),
    /// It ended without a link: the error, with its fix.
    Failed(String),
}

impl View {
    /// A link session is under way.
    pub fn running(&self) -> bool {
        matches!(self, View::Starting | View::Qr(_) | View::Code(_))
    }
}

/// What pressing "Link WhatsApp" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    New,
    /// One was running already; the press joined it.
    Joined,
}

/// The daemon's one link session (cheap to clone; clones share it).
#[derive(Clone)]
pub struct Pairing {
    session: Arc<dyn Session>,
    home: PathBuf,
    canon: Canonicalizer,
    view: Arc<watch::Sender<View>>,
    /// Set while a link task runs; checked and set under one lock.
    busy: Arc<Mutex<bool>>,
    /// Bumped on a new link: the reader waiting while unlinked connects.
    relinked: Arc<watch::Sender<u64>>,
    stop: watch::Receiver<bool>,
    within: Duration,
}

impl std::fmt::Debug for Pairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pairing")
            .field("home", &self.home)
            .field("view", &*self.view.borrow())
            .finish_non_exhaustive()
    }
}

impl Pairing {
    /// A link session on `session` (the one the reader and the bridge
    /// share); `relinked` wakes the reader; it ends when `stop` turns true.
    pub fn new(
        session: Arc<dyn Session>,
        home: PathBuf,
        canon: Canonicalizer,
        relinked: watch::Sender<u64>,
        stop: watch::Receiver<bool>,
    ) -> Pairing {
        Pairing {
            session,
            home,
            canon,
            view: Arc::new(watch::channel(View::Idle).0),
            busy: Arc::new(Mutex::new(false)),
            relinked: Arc::new(relinked),
            stop,
            within: WITHIN,
        }
    }

    /// The same, giving up after `within` (tests).
    pub fn with_timeout(mut self, within: Duration) -> Pairing {
        self.within = within;
        self
    }

    /// Where it stands now.
    pub fn view(&self) -> View {
        self.view.borrow().clone()
    }

    /// Start linking (or join the link already running).
    pub fn start(&self, how: Link) -> Started {
        {
            let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            if *busy {
                return Started::Joined;
            }
            *busy = true;
        }
        self.view.send_replace(View::Starting);
        tokio::spawn(self.clone().run(how));
        Started::New
    }

    async fn run(self, how: Link) {
        let view = self.view.clone();
        let show = move |s: Shown| {
            view.send_replace(match s {
                Shown::Qr(code) => View::Qr(code),
                Shown::Code(code) => View::Code(code),
            });
        };
        let mut stop = self.stop.clone();
        let linking = link::link(
            &*self.session,
            &self.home,
            how,
            &self.canon,
            show,
            self.within,
        );
        let ended = tokio::select! {
            r = linking => match r {
                Ok(linked) => {
                    tracing::info!(number = %linked.number, "WhatsApp linked from the dashboard");
                    self.relinked.send_modify(|n| *n += 1);
                    View::Linked(linked)
                }
                Err(e) => View::Failed(e.to_string()),
            },
            () = async { let _ = stop.wait_for(|s| *s).await; } => {
                self.session.disconnect().await;
                View::Failed("the daemon stopped before the phone confirmed; press Link WhatsApp again after `steward up`".into())
            }
        };
        self.view.send_replace(ended);
        *self.busy.lock().unwrap_or_else(|p| p.into_inner()) = false;
    }
}
