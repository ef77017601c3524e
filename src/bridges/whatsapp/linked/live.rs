//! The daemon's one WhatsApp receive task, supervised. whatsapp-rust keeps
//! the connection up itself (reconnects with backoff, 1 s → 900 s); this task
//! owns the only event stream, so a reconnect never doubles the handlers. It
//! stores each batch in one transaction and only then publishes it; restarts
//! the session with backoff and jitter when its stream ends for no stated
//! reason; forces a re-sync when a connected session has said nothing for
//! 30 minutes (the "online but silent" state peers' users hit); and when
//! WhatsApp ends the session (`LoggedOut`, `StreamReplaced`, `ClientOutdated`)
//! records why, tells the owner once with the fix, and stops retrying.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

use super::ingest::{Batch, Incoming, LinkedIngest};
use super::session::{Event, Events, Session};
use super::state::{self, Status};
use crate::bridges::ledger::{self, Ledger};
use crate::store::{Store, StoreError};
use crate::types::Inbound;

/// The supervisor's clocks (tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// No event for this long while connected: force a re-sync.
    pub silence: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(900),
            silence: Duration::from_secs(30 * 60),
        }
    }
}

/// Where events go: memory (then the bus), the ledger, the link state.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    ingest: Arc<Mutex<LinkedIngest>>,
    bus: broadcast::Sender<Inbound>,
    ledger: Ledger,
    home: PathBuf,
}

impl Intake {
    pub fn new(
        store: Store,
        ingest: LinkedIngest,
        bus: broadcast::Sender<Inbound>,
        ledger: Ledger,
        home: PathBuf,
    ) -> Intake {
        Intake {
            store,
            ingest: Arc::new(Mutex::new(ingest)),
            bus,
            ledger,
            home,
        }
    }

    /// Store a batch of messages in one transaction, then publish the new ones.
    pub async fn messages(&self, event: Arc<Event>) -> Result<usize, StoreError> {
        let ingest = self.ingest.clone();
        let batch = self
            .store
            .write(move |c| {
                let Event::Messages(batch) = &*event else {
                    return Ok(Batch::default());
                };
                let tx = c.transaction()?;
                let mut out = Batch::default();
                let mut ingest = ingest.lock().unwrap_or_else(|p| p.into_inner());
                for im in batch.iter() {
                    let (info, src) = (&im.info, &im.info.source);
                    // A LID chat's phone: the sender's alt id, or for the owner's
                    // own line the recipient's.
                    let chat_alt = if src.is_from_me {
                        src.recipient_alt.as_ref()
                    } else {
                        src.sender_alt.as_ref()
                    };
                    let m = Incoming {
                        id: &info.id,
                        chat: &src.chat,
                        sender: Some(&src.sender),
                        sender_alt: src.sender_alt.as_ref(),
                        chat_alt,
                        from_me: src.is_from_me,
                        at_ms: info.timestamp.timestamp_millis(),
                        push_name: Some(info.push_name.as_str()),
                        message: &im.message,
                    };
                    ingest.message(&tx, &m, false, &mut out)?;
                }
                crate::memory::messages::index_new(&tx)?;
                tx.commit()?;
                Ok(out)
            })
            .await?;
        let n = batch.inbound.len();
        for m in batch.inbound {
            let _ = self.bus.send(m);
        }
        Ok(n)
    }

    /// The history sync (after a first link): stored, never published.
    pub async fn history(&self, event: Arc<Event>) -> Result<u64, StoreError> {
        let ingest = self.ingest.clone();
        let n = self
            .store
            .write(move |c| {
                let Event::HistorySync(lazy) = &*event else {
                    return Ok(0);
                };
                let Some(hs) = lazy.get() else {
                    tracing::warn!("a WhatsApp history chunk did not decode; skipped");
                    return Ok(0);
                };
                let tx = c.transaction()?;
                let n = ingest
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .history(&tx, hs)?;
                crate::memory::messages::index_new(&tx)?;
                tx.commit()?;
                Ok(n)
            })
            .await?;
        let _ = state::update(&self.home, |s| s.history_done = true);
        Ok(n)
    }

    /// A link made while the daemon runs: its number and LID are the owner's.
    async fn relinked(&self) {
        let st = state::load(&self.home);
        let own: Vec<String> = st.number.into_iter().chain(st.lid).collect();
        let ingest = self.ingest.clone();
        let added = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                ingest
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .add_own(&tx, &own)?;
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = added {
            tracing::warn!(error = %e, "the new WhatsApp link's number was not added to the owner");
        }
    }

    /// A delivery or read receipt for something Steward sent: on its ledger
    /// line. Receipts can arrive out of order (a reconnect drains the offline
    /// queue), so a status only ever moves forward: sent → delivered → read.
    /// A receipt for an id the ledger does not know changes nothing.
    async fn receipt(&self, event: Arc<Event>) {
        let Event::Receipt(r) = &*event else { return };
        let status = match r.r#type {
            whatsapp_rust::types::presence::ReceiptType::Delivered => "delivered",
            whatsapp_rust::types::presence::ReceiptType::Read => "read",
            _ => return,
        };
        let (ledger, ids) = (self.ledger.clone(), r.message_ids.clone());
        let _ = tokio::task::spawn_blocking(move || {
            for id in ids {
                if let Ok(Some(mut d)) = ledger.by_id(&id) {
                    if ledger::status_rank(d.status.as_deref()) >= ledger::status_rank(Some(status)) {
                        continue;
                    }
                    d.status = Some(status.to_string());
                    d.at = jiff::Timestamp::now().to_string();
                    if let Err(e) = ledger.write(&d) {
                        tracing::warn!(error = %e, "a WhatsApp receipt was not written to the ledger");
                    }
                }
            }
        })
        .await;
    }
}

/// Why one connection's stream stopped.
enum End {
    /// The daemon is stopping.
    Stopped,
    /// WhatsApp ended the session: retrying cannot help.
    Ended(Status, String),
    /// The stream ended with no reason given: start the session again.
    Dropped,
}

/// The running reader: its task, and what the owner must hear.
pub struct Reader {
    pub task: tokio::task::JoinHandle<()>,
    pub notices: mpsc::UnboundedReceiver<String>,
}

/// Start the one receive task for `session`. While the session is not
/// linked it waits for `relinked` to change (a link made by the daemon's
/// `Pairing`); a dropped sender means no link can come, and it ends.
pub fn spawn(
    session: Arc<dyn Session>,
    intake: Intake,
    stop: watch::Receiver<bool>,
    relinked: watch::Receiver<u64>,
    tuning: Tuning,
) -> Reader {
    spawn_when(session, async { Some(intake) }, stop, relinked, tuning)
}

/// `spawn`, with the intake made first, inside the task: its owner setup
/// (the owner's numbers canonicalised on the database writer, which loads
/// libphonenumber's metadata) does not hold up the daemon's start. `None`
/// (the setup failed, and said why) ends the task.
pub fn spawn_when(
    session: Arc<dyn Session>,
    intake: impl Future<Output = Option<Intake>> + Send + 'static,
    stop: watch::Receiver<bool>,
    relinked: watch::Receiver<u64>,
    tuning: Tuning,
) -> Reader {
    let (tx, notices) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        if let Some(intake) = intake.await {
            supervise(session, intake, tx, stop, relinked, tuning).await;
        }
    });
    Reader { task, notices }
}

/// Run the session until the daemon stops, or WhatsApp ends it and no new
/// link comes.
pub async fn supervise(
    session: Arc<dyn Session>,
    intake: Intake,
    notices: mpsc::UnboundedSender<String>,
    mut stop: watch::Receiver<bool>,
    mut relinked: watch::Receiver<u64>,
    tuning: Tuning,
) {
    let home = intake.home.clone();
    let mut backoff = tuning.first_backoff;
    loop {
        let st = state::load(&home);
        if !st.status.usable() {
            tell_once(&home, &notices, st.status);
            tracing::info!(
                status = st.status.as_str(),
                "WhatsApp is not linked; the reader waits for a link (the dashboard's Channels page, or `steward whatsapp link` and a restart)"
            );
            tokio::select! {
                changed = relinked.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    intake.relinked().await;
                    backoff = tuning.first_backoff;
                    continue;
                }
                () = stopped(&mut stop) => return,
            }
        }
        let end = match session.connect(None).await {
            Ok(events) => pump(&*session, &intake, events, &mut stop, tuning, &mut backoff).await,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "the WhatsApp session did not start; retrying");
                End::Dropped
            }
        };
        match end {
            End::Stopped => {
                session.disconnect().await;
                return;
            }
            End::Ended(status, why) => {
                tracing::warn!(
                    status = status.as_str(),
                    "WhatsApp ended the session: {why}"
                );
                let _ = state::update(&home, |s| {
                    s.status = status;
                    s.ended = Some(why);
                    s.told = false;
                });
                // The top of the loop tells the owner once and waits for a link.
            }
            End::Dropped => {
                let jitter = Duration::from_millis(u64::from(
                    jiff::Timestamp::now().subsec_nanosecond().unsigned_abs() % 1000,
                ));
                tokio::select! {
                    _ = tokio::time::sleep(backoff + jitter) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                backoff = (backoff * 2).min(tuning.max_backoff);
            }
        }
    }
}

/// Resolves once the daemon stops (the guard `wait_for` returns is dropped
/// here, so no caller holds it across an await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The owner's one message about an ended session (`told` keeps it to one,
/// across restarts too).
fn tell_once(home: &std::path::Path, notices: &mpsc::UnboundedSender<String>, status: Status) {
    let text = match status {
        Status::LoggedOut => {
            "⚠️ WhatsApp logged Steward out (the linked device was removed). Nothing on WhatsApp reaches me until you run `steward whatsapp link` and restart."
        }
        Status::Replaced => {
            "⚠️ Another WhatsApp Web session replaced Steward's. I stopped rather than fight over it: run `steward whatsapp link` to link again, then restart."
        }
        Status::Outdated => {
            "⚠️ WhatsApp refuses this version of Steward's WhatsApp client. Update Steward, then run `steward whatsapp link`."
        }
        Status::Unlinked | Status::Linked => return,
    };
    let st = state::load(home);
    if st.told {
        return;
    }
    if notices.send(text.to_string()).is_ok() {
        let _ = state::update(home, |s| s.told = true);
    }
}

/// Handle one connection's events until it ends.
async fn pump(
    session: &dyn Session,
    intake: &Intake,
    mut events: Events,
    stop: &mut watch::Receiver<bool>,
    tuning: Tuning,
    backoff: &mut Duration,
) -> End {
    let mut connected = false;
    let mut last_saved: Option<std::time::Instant> = None;
    loop {
        let next = tokio::select! {
            n = tokio::time::timeout(tuning.silence, events.recv()) => n,
            _ = stop.wait_for(|s| *s) => return End::Stopped,
        };
        let event = match next {
            Err(_silent) => {
                if connected {
                    tracing::warn!(silent = ?tuning.silence, "WhatsApp has said nothing while connected; forcing a re-sync");
                    session.resync().await;
                }
                continue;
            }
            Ok(None) => return End::Dropped,
            Ok(Some(e)) => e,
        };
        if last_saved.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
            last_saved = Some(std::time::Instant::now());
            let _ = state::update(&intake.home, |s| {
                s.last_event_at = Some(jiff::Timestamp::now().to_string());
            });
        }
        match &*event {
            Event::Connected(_) => {
                connected = true;
                *backoff = tuning.first_backoff;
                tracing::info!("WhatsApp connected");
            }
            Event::Disconnected(_) => connected = false,
            Event::Messages(_) => {
                if let Err(e) = intake.messages(event.clone()).await {
                    // WhatsApp does not resend: say so loudly.
                    tracing::error!(error = %e, "WhatsApp messages could not be stored and are lost");
                }
            }
            Event::HistorySync(_) => match intake.history(event.clone()).await {
                Ok(n) => tracing::info!(messages = n, "WhatsApp history stored"),
                Err(e) => tracing::warn!(error = %e, "a WhatsApp history chunk was not stored"),
            },
            Event::Receipt(_) => intake.receipt(event.clone()).await,
            Event::LoggedOut(_) => {
                return End::Ended(
                    Status::LoggedOut,
                    "logged out (the device was removed on the phone)".into(),
                );
            }
            Event::StreamReplaced(_) => {
                return End::Ended(
                    Status::Replaced,
                    "replaced by another session on the same device keys".into(),
                );
            }
            Event::ClientOutdated(_) => {
                return End::Ended(
                    Status::Outdated,
                    "WhatsApp says this client is outdated".into(),
                );
            }
            Event::TemporaryBan(_) => {
                tracing::error!(
                    "WhatsApp reports a temporary ban on this number; sends will fail until it lifts"
                );
            }
            _ => {}
        }
    }
}
