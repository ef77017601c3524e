//! `boot()`: the daemon's life, from the pid lock to a clean stop.
//!
//! Order matters: the pid lock comes first (two daemons must never share a
//! store), then the store (migrations may refuse a newer schema), then the
//! listener (a busy port is reported before anything claims to be up), and only
//! then the pid record and the "listening" line that launchd logs and tests read.
//! Then the pipeline (integrity, resume), the owner side and the bridges; the
//! stop undoes them in a fixed order (`stop_in_order`), the store and the pid
//! lock last.

mod owner;
pub mod pidfile;
mod telegram;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::agents::scheduler::Scheduler;
use crate::config::{Config, SecretError};
use crate::home::Home;
use crate::http::{self, AppState};
use crate::keys::{self, KeyError};
use crate::pipeline::{self, Pipeline, PipelineError, RunOutcome};
use crate::spec::Roster;
use crate::store::{Store, StoreError, meta};
use crate::types::Inbound;

/// How long open connections get to finish after a stop signal. Kept well under
/// launchd's 20 s ExitTimeOut and the 2 s promise of `steward up`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Pid(#[from] pidfile::PidError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the api-token reference in steward.yaml (http.apiToken) failed: {0}")]
    Token(#[from] SecretError),
    #[error(
        "port {port} on {ip} is already in use; stop what holds it, or start with `--listen {ip}:<another port>` (or set http.listen in steward.yaml)",
        ip = addr.ip(), port = addr.port()
    )]
    PortInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}; choose another address with --listen")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error(
        "refusing to serve the API on {addr}: the API stays on loopback. For phones, set http.signalsListen (e.g. {ip}:7789; it serves only /v1/signals and /healthz); to expose the whole token-protected API anyway, set http.allowRemoteApi: true in steward.yaml",
        ip = addr.ip()
    )]
    RemoteApi { addr: SocketAddr },
    #[error("cannot install the {0} signal handler: {1}")]
    Signal(&'static str, io::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(io::Error),
    #[error("resuming unfinished runs failed: {0}")]
    Resume(#[from] PipelineError),
}

/// How often pending confirmations are checked for expiry.
pub const EXPIRY_TICK: Duration = Duration::from_secs(30);

/// The pipeline for `home`: its key, roster, settings and bridges. Only the
/// holder of the home's pid lock may build one that executes.
pub fn build_pipeline(home: &Home, config: &Config, store: Store) -> Result<Pipeline, DaemonError> {
    let key = keys::load_receipt_key(&home.receipt_key_path())?;
    let roster = Roster::load(home.root());
    let built = crate::bridges::build(home.root(), config, store.clone());
    let bridges = built.bridges;
    let mut settings = pipeline::Settings::from_config(config);
    settings.owner_channel = built.owner_channel;
    // The owner's identities: configured handles plus those memory learned (chat.db accounts).
    let learned = owner_handles_in_memory(&home.db_path());
    let mut owners = config.owner.handles.clone();
    owners.extend(learned);
    // On Telegram the owner is `ownerUserId`, as a `telegram:` handle (never a phone).
    if let Some(t) = &config.bridges.telegram {
        owners.push(format!("telegram:{}", t.owner_user_id));
    }
    settings.owners = pipeline::gates::OwnerIdentities::new(&owners, config.owner.region.as_str());
    let models = crate::llm::Router::from_config(&config.models).unwrap_or_default();
    let runtime = config
        .runtime
        .as_ref()
        .map(crate::runtime::Runtime::from_config);
    Ok(Pipeline::new(store, key, roster, settings, bridges)
        .with_models(models)
        .with_runtime(runtime))
}

fn owner_handles_in_memory(db: &std::path::Path) -> Vec<String> {
    let read = crate::store::open_readonly(db).and_then(|c| {
        if crate::store::migrate::current_version(&c)? < 3 {
            return Ok(Vec::new());
        }
        Ok(match crate::memory::people::owner_id(&c)? {
            Some(id) => crate::memory::people::handles_of(&c, &id)?,
            None => Vec::new(),
        })
    });
    read.unwrap_or_default()
}

/// Meta's webhook for `bridges.whatsapp`, publishing on the bridges' bus. A
/// secret that does not resolve leaves it out, with the fix in the log.
fn whatsapp_webhook(
    home: &Home,
    config: &Config,
    store: &Store,
    side: &OwnerSide,
) -> Option<crate::bridges::whatsapp::cloud::Webhook> {
    use crate::bridges::whatsapp::cloud::Webhook;
    match Webhook::new(config, home.root(), store.clone(), side.bus.clone()) {
        Ok(hook) => hook,
        Err(e) => {
            tracing::warn!(error = %e, "the WhatsApp webhook is off");
            None
        }
    }
}

/// A future that resolves on SIGTERM (launchd, systemd) or SIGINT (Ctrl-C),
/// or on SIGHUP once `config` loads: the caller then starts again in place
/// (`RELOAD`) and every setting applies. A SIGHUP while `config` does not load
/// is refused with its error (file:line) and the daemon keeps running as it is.
/// The handlers are installed now, not on first poll, so a signal that arrives
/// right after the daemon says it is up still stops it cleanly.
pub fn stop_signal(
    config: std::path::PathBuf,
) -> Result<impl Future<Output = &'static str> + Send + 'static, DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| DaemonError::Signal("SIGTERM", e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| DaemonError::Signal("SIGINT", e))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| DaemonError::Signal("SIGHUP", e))?;
    Ok(async move {
        loop {
            tokio::select! {
                _ = term.recv() => return "SIGTERM",
                _ = int.recv() => return "SIGINT",
                _ = hup.recv() => match Config::load(&config) {
                    Ok(_) => return RELOAD,
                    Err(e) => tracing::error!(
                        error = %e,
                        "SIGHUP: steward.yaml does not load, so nothing was reloaded; fix it and send SIGHUP again"
                    ),
                },
            }
        }
    })
}

/// What `stop_signal` resolves to when the daemon should start again in place.
pub const RELOAD: &str = "SIGHUP";

/// Run the daemon for an initialised `home` until `stop` resolves.
/// `ready` is called with the bound address once requests are being accepted.
///
/// The phases in their order: listen (pid lock, store, token, listeners, pid
/// record), the pipeline (integrity, resume, its background work), the owner
/// side and the bridges, serve until stopped, and the stop in order.
pub async fn boot<S, R>(
    home: Home,
    config: Config,
    listen: SocketAddr,
    stop: S,
    ready: R,
) -> Result<(), DaemonError>
where
    S: Future<Output = &'static str> + Send + 'static,
    R: FnOnce(SocketAddr),
{
    let up = listen_phase(&home, &config, listen).await?;
    let (pipeline, resumed, pipeline_tasks) =
        start_pipeline(&home, &config, up.store.clone()).await?;
    let (owner, scheduler, owner_side) =
        start_owner_side(&home, &config, &pipeline, &up.store, &resumed).await;
    let on_stop = pipeline.clone();
    let warm_phones = pipeline.owner_may_have_phone();
    let whatsapp = whatsapp_webhook(&home, &config, &up.store, &owner_side);
    let state = AppState::new(home.clone(), pipeline, owner, scheduler, up.bound, up.token)
        .with_whatsapp(whatsapp)
        .with_whatsapp_link(owner_side.whatsapp_link.clone())
        .with_telegram(owner_side.webhook.clone());
    let listeners = (up.listener, up.signals_listener);
    // Answering first; then the ~100 ms phone-metadata load, off the start-up
    // path, when the owner's first identity check will need it.
    let ready = move |bound| {
        ready(bound);
        if warm_phones {
            crate::memory::handle::warm_up();
        }
    };
    let phones = serve(&home, state, up.bound, listeners, stop, ready).await?;
    stop_in_order(pipeline_tasks, phones, owner_side, on_stop).await;
    if !up.store.close().await {
        tracing::warn!(
            "database handles still in use at stop; SQLite recovers the WAL on next open"
        );
    }
    drop(up.lock);
    tracing::info!("stopped");
    Ok(())
}

/// What the listen phase holds: the pid lock, the store, the API token and the
/// bound listeners.
struct Listening {
    lock: pidfile::PidLock,
    store: Store,
    token: String,
    listener: TcpListener,
    bound: SocketAddr,
    signals_listener: Option<TcpListener>,
}

/// The pid lock (two daemons must never share a store), the store (migrations
/// may refuse a newer schema), the token, the listeners (a busy port is
/// reported before anything claims to be up), then the pid record.
async fn listen_phase(
    home: &Home,
    config: &Config,
    listen: SocketAddr,
) -> Result<Listening, DaemonError> {
    let mut lock = pidfile::acquire(&home.pid_path())?;

    let db = home.db_path();
    let store = tokio::task::spawn_blocking(move || Store::open(&db))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;

    let token = api_token(home, config)?;

    if !listen.ip().is_loopback() && !config.http.allow_remote_api {
        return Err(DaemonError::RemoteApi { addr: listen });
    }
    let listener = bind(listen).await?;
    let bound = listener.local_addr().map_err(DaemonError::Serve)?;
    if !bound.ip().is_loopback() {
        tracing::warn!(%bound, "serving the whole API beyond loopback (http.allowRemoteApi): /v1 needs the api-token; /healthz, /.well-known/steward-receipts and POST /v1/signals (device-authenticated) are open");
    }
    let signals_listener = match config.http.signals_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let signals_bound = signals_listener
        .as_ref()
        .map(|l| l.local_addr().map_err(DaemonError::Serve))
        .transpose()?;

    lock.record(&pidfile::PidInfo {
        pid: std::process::id(),
        listen: bound.to_string(),
        signals_listen: signals_bound.map(|a| a.to_string()),
        started_at: jiff::Timestamp::now().to_string(),
        version: crate::VERSION.to_string(),
    })?;
    store
        .write(|c| {
            meta::set(c, meta::LAST_BOOT_AT, &jiff::Timestamp::now().to_string())?;
            meta::set(c, meta::LAST_BOOT_VERSION, crate::VERSION)?;
            Ok(())
        })
        .await?;
    Ok(Listening {
        lock,
        store,
        token,
        listener,
        bound,
        signals_listener,
    })
}

/// The API token: `http.apiToken`'s reference, else the home's `api-token` file.
fn api_token(home: &Home, config: &Config) -> Result<String, DaemonError> {
    Ok(match &config.http.api_token {
        Some(reference) => {
            let secret = reference.resolve()?;
            if secret.expose().len() < keys::MIN_TOKEN_LEN {
                return Err(KeyError::BadToken {
                    path: home.config_path(),
                }
                .into());
            }
            secret.expose().to_string()
        }
        None => keys::load_api_token(&home.api_token_path())?,
    })
}

/// The pipeline's own background work.
struct PipelineTasks {
    full_check: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

/// The pipeline, checked and caught up: what it resumed, and its background
/// work (the full integrity check, the confirmation expiry tick).
async fn start_pipeline(
    home: &Home,
    config: &Config,
    store: Store,
) -> Result<(Pipeline, Vec<RunOutcome>, PipelineTasks), DaemonError> {
    let pipeline = build_pipeline(home, config, store)?;
    // A broken chain or a swapped key seals the pipeline (runs refused, with receipts).
    pipeline.check_integrity().await?;
    // Runs a previous process left mid-way continue now, before new work arrives.
    let resumed = pipeline.resume().await?;
    if !resumed.is_empty() {
        tracing::info!(runs = resumed.len(), "resumed unfinished runs");
    }
    // Boot checked what changed since the anchored head; the full check (every
    // receipt, the whole chain) runs now in the background and seals on a finding.
    let full_check = {
        let pipeline = pipeline.clone();
        tokio::spawn(async move {
            if let Err(e) = pipeline.check_integrity_full().await {
                tracing::warn!(error = %e, "the full integrity check could not run");
            }
        })
    };
    let ticker = {
        let pipeline = pipeline.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_TICK);
            loop {
                tick.tick().await;
                if let Err(e) = pipeline.expire_due().await {
                    tracing::warn!(error = %e, "expiring confirmations failed");
                }
            }
        })
    };
    Ok((pipeline, resumed, PipelineTasks { full_check, ticker }))
}

/// The owner side and the bridges, stopped in this order.
struct OwnerSide {
    router: JoinHandle<()>,
    contacts: JoinHandle<()>,
    triage: JoinHandle<()>,
    sched_stop: watch::Sender<bool>,
    schedule: JoinHandle<()>,
    profile_watch: Option<notify::RecommendedWatcher>,
    readers: crate::bridges::factory::Readers,
    /// Button presses and Edit answers on the owner's Telegram console.
    telegram: Option<JoinHandle<()>>,
    /// The linked WhatsApp's link session, for the dashboard.
    whatsapp_link: Option<crate::bridges::whatsapp::linked::Pairing>,
    /// What `POST /v1/telegram/webhook` feeds (webhook mode).
    webhook: Option<crate::bridges::telegram::Webhook>,
    /// The bus every bridge publishes new messages on.
    bus: broadcast::Sender<Inbound>,
    /// Keeps the documents index current (issue 17); none without a root.
    documents: Option<crate::documents::watch::Watcher>,
}

/// The owner (profile, resumed runs told), the self-chat router, the contact
/// assistant, the bridges' readers, the scheduler and mail triage.
async fn start_owner_side(
    home: &Home,
    config: &Config,
    pipeline: &Pipeline,
    store: &Store,
    resumed: &[RunOutcome],
) -> (crate::commands::Owner, Scheduler, OwnerSide) {
    let (bus, _) = broadcast::channel::<Inbound>(1024);
    let (profile, profile_watch) = owner::profile(home.owner_profile_path(), pipeline);
    let owner =
        crate::commands::Owner::new(pipeline.clone(), profile, config.owner.region.as_str())
            .with_name(&config.owner.name)
            .with_prompts(home.root());
    let channel = pipeline.settings().owner_channel.clone();
    owner::report_resumed(&owner, &channel, resumed).await;
    let router = owner::route(owner.clone(), bus.subscribe());
    let assistant = crate::assistant::Assistant::new(owner.clone(), config.quiet_hours);
    let contacts = owner::contacts(assistant, owner.clone(), bus.subscribe());
    let mut readers = crate::bridges::factory::start_readers(
        home.root(),
        config,
        pipeline.bridges(),
        store.clone(),
        bus.clone(),
    )
    .await;
    if let Some(notices) = readers.take_whatsapp() {
        owner::whatsapp_notices(owner.clone(), notices);
    }
    let whatsapp_link = readers.take_whatsapp_pairing();
    let (telegram, webhook) = match (readers.take_telegram(), &config.bridges.telegram) {
        (Some(reader), Some(cfg)) => (
            Some(telegram::console(
                owner.clone(),
                reader.api,
                cfg.owner_user_id,
                reader.console,
            )),
            reader.webhook,
        ),
        _ => (None, None),
    };
    let scheduler = Scheduler::new(owner.clone(), config.quiet_hours);
    let triage = tokio::spawn(crate::agents::triage::on_mail(
        scheduler.clone(),
        bus.subscribe(),
    ));
    let (sched_stop, sched_stopped) = watch::channel(false);
    let schedule = tokio::spawn(scheduler.clone().run(
        std::sync::Arc::new(crate::agents::scheduler::SystemClock),
        sched_stopped,
    ));
    let side = OwnerSide {
        router,
        contacts,
        triage,
        sched_stop,
        schedule,
        profile_watch,
        readers,
        telegram,
        webhook,
        whatsapp_link,
        bus,
        documents: start_documents(home, config),
    };
    (owner, scheduler, side)
}

/// The documents watcher: a first pass, then file events. None (and one log
/// line) when no configured root exists or the folders cannot be watched.
fn start_documents(home: &Home, config: &Config) -> Option<crate::documents::watch::Watcher> {
    let user = crate::home::user_home().ok()?;
    let docs = crate::documents::Documents::new(&config.documents, &user, home.ocr_cache_dir());
    if docs.roots.is_empty() {
        tracing::info!("documents: none of documents.roots exists; nothing to index");
        return None;
    }
    match crate::documents::watch::start(docs, home.db_path()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("documents: {e}");
            None
        }
    }
}

/// Serve the API (and the phones' listener) until `stop` resolves and open
/// connections finish, or the grace period ends. The phones' listener task.
async fn serve<S, R>(
    home: &Home,
    state: AppState,
    bound: SocketAddr,
    (listener, signals_listener): (TcpListener, Option<TcpListener>),
    stop: S,
    ready: R,
) -> Result<Option<JoinHandle<()>>, DaemonError>
where
    S: Future<Output = &'static str> + Send + 'static,
    R: FnOnce(SocketAddr),
{
    let (stopping_tx, stopping) = watch::channel(false);
    let state = state.with_stopping(stopping.clone());
    let phones_app = http::signals_router(state.clone());
    let app = http::router(state);
    tokio::spawn(async move {
        let why = stop.await;
        tracing::info!(signal = why, "stopping");
        let _ = stopping_tx.send(true);
    });
    // Phones' listener: signals and health only, stopped with the main one.
    let phones = signals_listener.map(|l| {
        let graceful = wait_true(stopping.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, phones_app)
                .with_graceful_shutdown(graceful)
                .await
            {
                tracing::warn!(error = %e, "the signals listener failed");
            }
        })
    });
    let graceful = wait_true(stopping.clone());
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);

    tracing::info!(%bound, home = %home.root().display(), version = crate::VERSION, "steward is up");
    ready(bound);

    tokio::select! {
        served = server => served.map_err(DaemonError::Serve)?,
        () = async { wait_true(stopping).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!("connections still open after the grace period; closing them");
        }
    }
    Ok(phones)
}

/// Stop what runs, in order: the background checks and listeners, the owner
/// side, then the audit head is anchored and the readers stop.
async fn stop_in_order(
    pipeline: PipelineTasks,
    phones: Option<JoinHandle<()>>,
    side: OwnerSide,
    on_stop: Pipeline,
) {
    stop_task(pipeline.full_check).await;
    if let Some(p) = phones {
        stop_task(p).await;
    }
    stop_task(pipeline.ticker).await;
    stop_task(side.router).await;
    stop_task(side.contacts).await;
    stop_task(side.triage).await;
    if let Some(t) = side.telegram {
        stop_task(t).await;
    }
    let _ = side.sched_stop.send(true);
    stop_task(side.schedule).await;
    drop(side.profile_watch);
    drop(side.documents);
    // The head as it stands at stop: the next boot checks the database reaches it.
    if let Err(e) = on_stop.anchor().await {
        tracing::warn!(error = %e, "the audit head was not anchored at stop");
    }
    drop(on_stop);
    side.readers.stop().await;
    drop(side.bus);
}

async fn stop_task(task: JoinHandle<()>) {
    task.abort();
    let _ = task.await;
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, DaemonError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            DaemonError::PortInUse { addr }
        } else {
            DaemonError::Bind { addr, source }
        }
    })
}

async fn wait_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}
