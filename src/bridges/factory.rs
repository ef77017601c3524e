//! One place that turns `steward.yaml` into the bridges this process runs:
//! the send side the pipeline holds, the owner's channel (the first of
//! `owner.channels` that is up and can reach them), and the readers that
//! publish new messages on the daemon's bus.

use std::path::Path;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::console::ConsoleBridge;
use super::email::outbound::EmailOutbound;
use super::imessage::outbound::ImessageOutbound;
use super::telegram::outbound::TelegramOutbound;
use super::whatsapp::cloud::outbound::WhatsappCloud;
use super::{Bridge, Bridges, Channel};
use crate::config::Config;
use crate::store::Store;
use crate::types::Inbound;

/// The configured bridges and the channel the owner hears from Steward on.
pub struct Built {
    pub bridges: Bridges,
    pub owner_channel: String,
}

/// Build every configured bridge for the home at `home`. A bridge that
/// cannot start is left out with a warning that names the fix; the console
/// is always there.
pub fn build(home: &Path, config: &Config, store: Store) -> Built {
    let mut list = vec![Bridge::Console(ConsoleBridge::new(home))];
    let im = &config.bridges.imessage;
    if im.enabled {
        let canon = crate::memory::Canonicalizer::new(config.owner.region.as_str());
        let self_chat = config
            .owner
            .handles
            .first()
            .map(|h| crate::memory::handle::Deferred::new(canon, h));
        match ImessageOutbound::new(&im.osascript, home, self_chat) {
            Ok(b) => list.push(Bridge::Imessage(b.with_pacing(im.pacing))),
            Err(e) => tracing::warn!(error = %e, "iMessage sending is unavailable"),
        }
    }
    if let Some(b) = EmailOutbound::new(config, home, store.clone()) {
        list.push(Bridge::Email(b));
    }
    if let Some(w) = config.bridges.whatsapp.as_ref().and_then(|w| w.cloud()) {
        list.push(Bridge::Whatsapp(WhatsappCloud::new(w, home, store.clone())));
    }
    if let Some(w) = config.bridges.whatsapp.as_ref().and_then(|w| w.linked()) {
        linked_whatsapp(&mut list, w, home);
    }
    if let Some(t) = &config.bridges.telegram {
        let b = TelegramOutbound::new(t, home, store);
        if !b.health().up {
            tracing::warn!(detail = %b.health().detail, "Telegram sending is unavailable");
        }
        list.push(Bridge::Telegram(b));
    }
    let owner_channel = owner_channel(&list, &config.owner.channels);
    Built {
        bridges: Bridges::new(list),
        owner_channel,
    }
}

/// The linked-device WhatsApp bridge, on the one session the reader shares.
#[cfg(feature = "whatsapp-web")]
fn linked_whatsapp(list: &mut Vec<Bridge>, w: &crate::config::WhatsappLinkedConfig, home: &Path) {
    use super::whatsapp::linked;
    let b = linked::outbound::WhatsappLinked::new(w, home, linked::open_session(home));
    if !b.health().up {
        tracing::warn!(detail = %b.health().detail, "WhatsApp is configured but not linked");
    }
    list.push(Bridge::WhatsappLinked(b));
}

#[cfg(not(feature = "whatsapp-web"))]
fn linked_whatsapp(_: &mut Vec<Bridge>, _: &crate::config::WhatsappLinkedConfig, _: &Path) {
    tracing::warn!(
        "bridges.whatsapp (mode: linked) needs a Steward built with the whatsapp-web feature (the default); WhatsApp is off"
    );
}

/// The first preferred channel whose bridge is up and can carry owner messages.
pub fn owner_channel(list: &[Bridge], preferred: &[String]) -> String {
    preferred
        .iter()
        .find(|c| {
            list.iter()
                .any(|b| b.channel() == c.as_str() && b.capabilities().owner_sends && b.health().up)
        })
        .cloned()
        .unwrap_or_else(|| super::console::CHANNEL.to_string())
}

/// The running readers, stopped together.
pub struct Readers {
    imessage: Option<super::imessage::live::LiveHandle>,
    /// The mail readers and the Telegram poll, stopped by `stop`.
    mail: Vec<tokio::task::JoinHandle<()>>,
    mail_stop: watch::Sender<bool>,
    telegram: Option<super::telegram::Reader>,
    /// What the owner must hear about the WhatsApp session (it ended).
    whatsapp: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
    /// The linked WhatsApp's link session, for the dashboard.
    whatsapp_pairing: Option<super::whatsapp::linked::Pairing>,
}

/// Start the reader of every enabled channel; the linked WhatsApp reader
/// shares the session of its bridge in `bridges`.
pub async fn start_readers(
    home: &Path,
    config: &Config,
    bridges: &Bridges,
    store: Store,
    bus: broadcast::Sender<Inbound>,
) -> Readers {
    let (mail_stop, stop) = watch::channel(false);
    let wa = start_whatsapp(home, config, bridges, &store, &bus, &stop);
    let mut telegram =
        super::telegram::start(config, store.clone(), bus.clone(), stop.clone()).await;
    let mut tasks = super::email::start(config, store.clone(), bus.clone(), stop);
    tasks.extend(telegram.as_mut().and_then(|t| t.task.take()));
    tasks.extend(wa.task);
    Readers {
        imessage: start_imessage(config, store, bus),
        mail: tasks,
        mail_stop,
        telegram,
        whatsapp: wa.notices,
        whatsapp_pairing: wa.pairing,
    }
}

/// The linked WhatsApp's receive task, what it tells the owner, and its link session.
#[derive(Default)]
struct WhatsappReader {
    task: Option<tokio::task::JoinHandle<()>>,
    notices: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
    pairing: Option<super::whatsapp::linked::Pairing>,
}

#[cfg(feature = "whatsapp-web")]
fn start_whatsapp(
    home: &Path,
    config: &Config,
    bridges: &Bridges,
    store: &Store,
    bus: &broadcast::Sender<Inbound>,
    stop: &watch::Receiver<bool>,
) -> WhatsappReader {
    let Some(session) = bridges.whatsapp_session() else {
        return WhatsappReader::default();
    };
    let reader = super::whatsapp::linked::start(
        config,
        home,
        store.clone(),
        bus.clone(),
        session,
        stop.clone(),
    );
    match reader {
        Some(r) => WhatsappReader {
            task: Some(r.reader.task),
            notices: Some(r.reader.notices),
            pairing: Some(r.pairing),
        },
        None => WhatsappReader::default(),
    }
}

#[cfg(not(feature = "whatsapp-web"))]
fn start_whatsapp(
    _: &Path,
    _: &Config,
    _: &Bridges,
    _: &Store,
    _: &broadcast::Sender<Inbound>,
    _: &watch::Receiver<bool>,
) -> WhatsappReader {
    WhatsappReader::default()
}

impl Readers {
    /// The Telegram owner console's events and the webhook's intake, once.
    pub fn take_telegram(&mut self) -> Option<super::telegram::Reader> {
        self.telegram.take()
    }

    /// What the WhatsApp reader tells the owner, once.
    pub fn take_whatsapp(&mut self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        self.whatsapp.take()
    }

    /// The linked WhatsApp's link session (the dashboard's "Link WhatsApp"), once.
    pub fn take_whatsapp_pairing(&mut self) -> Option<super::whatsapp::linked::Pairing> {
        self.whatsapp_pairing.take()
    }

    /// Stop every reader; each finishes the batch in hand.
    pub async fn stop(self) {
        let _ = self.mail_stop.send(true);
        for mut task in self.mail {
            // Each reader returns at once when told; a stuck one is cut off.
            if tokio::time::timeout(Duration::from_secs(1), &mut task)
                .await
                .is_err()
            {
                task.abort();
                tracing::warn!("a reader did not stop in time");
            }
        }
        if let Some(live) = self.imessage {
            // Its thread holds a store handle: wait for it before closing the store.
            let _ = tokio::task::spawn_blocking(move || live.stop()).await;
        }
    }
}

/// Start the iMessage live reader if the bridge is enabled.
fn start_imessage(
    config: &Config,
    store: Store,
    bus: broadcast::Sender<Inbound>,
) -> Option<super::imessage::live::LiveHandle> {
    use super::imessage::{Paths, live};
    let cfg = &config.bridges.imessage;
    if !cfg.enabled {
        return None;
    }
    let user_home = crate::home::user_home().ok()?;
    let paths = Paths::resolve(cfg, &user_home);
    let live_cfg = live::LiveConfig {
        chat_db: paths.chat_db,
        contacts: paths.contacts,
        poll: Duration::from_secs(cfg.poll_seconds.max(1)),
        region: config.owner.region.as_str().to_string(),
        owner_name: Some(config.owner.name.clone()).filter(|n| !n.is_empty()),
        owner_handles: config.owner.handles.clone(),
    };
    match live::spawn(live_cfg, store, bus) {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the iMessage reader");
            None
        }
    }
}
