//! WhatsApp on the owner's own number, Steward as a linked device (like
//! WhatsApp Web), through whatsapp-rust (`bridges.whatsapp.mode: linked`, the
//! default). Built only with the default-on `whatsapp-web` cargo feature,
//! except the link state and the QR drawing, which `status` and `doctor` read.
//!
//! Parts: `session` (the seam: the few calls the bridge makes, and the
//! library's own `Event` type; tests put a double behind it), `web` (the
//! library behind it, on its own SQLite store in `<home>/whatsapp/`),
//! `ingest` (messages into memory, JIDs and LIDs to phone handles), `live`
//! (the one supervised receive task), `outbound` (the ledger, pacing, the
//! hourly cap), `link` (pairing and unlinking), `pairing` (a link session the
//! daemon holds for the dashboard), `state` (`linked.json`), `qr` (terminal
//! and SVG).

pub mod qr;
pub mod state;

#[cfg(feature = "whatsapp-web")]
pub mod ingest;
#[cfg(feature = "whatsapp-web")]
pub mod link;
#[cfg(feature = "whatsapp-web")]
pub mod live;
#[cfg(feature = "whatsapp-web")]
pub mod outbound;
#[cfg(feature = "whatsapp-web")]
pub mod pairing;
#[cfg(feature = "whatsapp-web")]
pub mod session;
#[cfg(feature = "whatsapp-web")]
pub mod web;
#[cfg(feature = "whatsapp-web")]
pub mod wire;

#[cfg(feature = "whatsapp-web")]
pub use run::{Running, open_session, start};

/// The daemon's link session, which the dashboard starts (none can exist
/// without the `whatsapp-web` feature).
#[cfg(feature = "whatsapp-web")]
pub type Pairing = pairing::Pairing;
#[cfg(not(feature = "whatsapp-web"))]
pub type Pairing = std::convert::Infallible;

#[cfg(feature = "whatsapp-web")]
mod run {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use tokio::sync::{broadcast, watch};

    use super::pairing::Pairing;
    use super::session::Session;
    use super::{ingest, live, outbound, state};
    use crate::config::Config;
    use crate::store::Store;
    use crate::types::Inbound;

    /// The session the bridge and its reader share: whatsapp-rust on the
    /// home's session store (or, for the daemon tests, the loopback test
    /// server `STEWARD_WHATSAPP_WIRE` names: see `wire.rs`).
    pub fn open_session(home: &Path) -> Arc<dyn Session> {
        if let Some(addr) = super::wire::from_env() {
            tracing::warn!(%addr, "WhatsApp goes to the test server in STEWARD_WHATSAPP_WIRE, not to WhatsApp");
            return Arc::new(super::wire::WireSession::new(addr));
        }
        Arc::new(super::web::WebSession::new(state::session_db(home)))
    }

    /// The owner's own handles on WhatsApp: `owner.handles`, the linked
    /// number and their LID.
    pub fn own_handles(config: &Config, home: &Path) -> Vec<String> {
        let st = state::load(home);
        let mut own: Vec<String> = st.number.into_iter().collect();
        own.extend(config.owner.handles.iter().cloned());
        own.extend(st.lid);
        own
    }

    /// What the reader needs to set up the owner in memory.
    struct Setup {
        canon: crate::memory::Canonicalizer,
        name: Option<String>,
        own: Vec<String>,
    }

    /// The reader's intake, once the owner is set up in memory (in the
    /// reader's task: see `live::spawn_when`).
    async fn intake(
        setup: Setup,
        store: Store,
        bus: broadcast::Sender<Inbound>,
        home: PathBuf,
    ) -> Option<live::Intake> {
        let Setup { canon, name, own } = setup;
        crate::memory::handle::load_metadata_for(&own).await;
        let ingest = store
            .write(move |c| Ok(ingest::LinkedIngest::new(c, canon, name.as_deref(), &own)?))
            .await;
        match ingest {
            Ok(ingest) => {
                let ledger = outbound::ledger(&home);
                Some(live::Intake::new(store, ingest, bus, ledger, home))
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the WhatsApp reader");
                None
            }
        }
    }

    /// The receive task and the link session the dashboard starts, both on
    /// the bridge's one session.
    pub struct Running {
        pub reader: live::Reader,
        pub pairing: Pairing,
    }

    /// Start the receive task on `session` if `bridges.whatsapp` is linked mode.
    pub fn start(
        config: &Config,
        home: &Path,
        store: Store,
        bus: broadcast::Sender<Inbound>,
        session: Arc<dyn Session>,
        stop: watch::Receiver<bool>,
    ) -> Option<Running> {
        config.bridges.whatsapp.as_ref()?.linked()?;
        let canon = crate::memory::Canonicalizer::new(config.owner.region.as_str());
        let setup = Setup {
            canon: canon.clone(),
            name: Some(config.owner.name.clone()).filter(|n| !n.is_empty()),
            own: own_handles(config, home),
        };
        let intake = intake(setup, store, bus, home.to_path_buf());
        let (relinked, wake) = watch::channel(0);
        let pairing = Pairing::new(
            session.clone(),
            home.to_path_buf(),
            canon,
            relinked,
            stop.clone(),
        );
        let reader = live::spawn_when(session, intake, stop, wake, live::Tuning::default());
        Some(Running { reader, pairing })
    }
}
