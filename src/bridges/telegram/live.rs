//! The reader: long polling (getUpdates from the stored offset) or updates
//! posted to the webhook, both through one [`Intake`] that stores a batch
//! and its offset in one transaction and only then publishes it. A restart
//! asks Telegram from the stored offset, so an update is neither lost (not
//! stored → not confirmed → asked again) nor handled twice (stored → past the
//! offset). A broken poll reconnects with doubling backoff plus jitter.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide_core::types::Update;
use teloxide_core::{ApiError, RequestError};
use tokio::sync::{broadcast, mpsc, watch};

use super::api::Api;
use super::ingest::{CURSOR, ConsoleEvent, TelegramIngest};
use crate::store::{Store, StoreError};
use crate::types::Inbound;

/// The longest wait between failed polls.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Where updates go, however they arrive.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    ingest: Arc<Mutex<TelegramIngest>>,
    bus: broadcast::Sender<Inbound>,
    console: mpsc::UnboundedSender<ConsoleEvent>,
    /// Webhook mode: skip ids below the offset (a redelivered post).
    dedup: bool,
}

impl Intake {
    pub fn new(
        store: Store,
        ingest: TelegramIngest,
        bus: broadcast::Sender<Inbound>,
        console: mpsc::UnboundedSender<ConsoleEvent>,
        dedup: bool,
    ) -> Intake {
        Intake {
            store,
            ingest: Arc::new(Mutex::new(ingest)),
            bus,
            console,
            dedup,
        }
    }

    /// Store `updates` with the offset past them, then publish: the next offset.
    pub async fn take(&self, updates: Vec<Update>) -> Result<i64, StoreError> {
        let (ingest, dedup) = (self.ingest.clone(), self.dedup);
        let batch = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let batch = ingest
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .updates(&tx, &updates, dedup)?;
                tx.commit()?;
                Ok(batch)
            })
            .await?;
        for m in batch.inbound {
            let _ = self.bus.send(m);
        }
        for e in batch.console {
            let _ = self.console.send(e);
        }
        Ok(batch.offset)
    }

    /// The stored offset (0: never polled).
    pub async fn offset(&self) -> Result<i64, StoreError> {
        self.store
            .read(|c| Ok(crate::memory::messages::get_cursor(c, CURSOR)?.unwrap_or(0)))
            .await
    }
}

/// Poll until `stop`: each batch is stored before the next call confirms it.
pub async fn poll(api: Api, intake: Intake, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    let mut offset = match intake.offset().await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the Telegram offset; the reader does not start");
            return;
        }
    };
    loop {
        let got = tokio::select! {
            r = api.updates(i32::try_from(offset).unwrap_or(i32::MAX)) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        let failed = match got {
            Ok(updates) if updates.is_empty() => None,
            Ok(updates) => match intake.take(updates).await {
                Ok(next) => {
                    offset = next;
                    None
                }
                Err(e) => Some(e.to_string()),
            },
            Err(RequestError::Api(ApiError::CantGetUpdates)) => {
                tracing::info!(
                    "a webhook was set; deleting it for polling (bridges.telegram.mode: polling)"
                );
                api.delete_webhook().await.err().map(|e| e.to_string())
            }
            Err(e) => Some(e.to_string()),
        };
        let Some(why) = failed else {
            backoff = Duration::from_secs(1);
            continue;
        };
        tracing::warn!(error = %why, retry_in = ?backoff, "the Telegram poll failed; retrying");
        let jitter = Duration::from_millis(u64::from(
            jiff::Timestamp::now().subsec_nanosecond().unsigned_abs() % 1000,
        ));
        tokio::select! {
            _ = tokio::time::sleep(backoff + jitter) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
