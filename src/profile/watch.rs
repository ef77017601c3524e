//! Keeping the owner profile current: file events on its folder (editors often
//! replace the file rather than write it) reload it within a second; a version
//! that does not parse leaves the last good one in place and is reported.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::{OwnerProfile, ProfileError};

/// The current profile, shared by everything that reads it.
#[derive(Debug, Clone, Default)]
pub struct SharedProfile(Arc<RwLock<Arc<OwnerProfile>>>);

impl SharedProfile {
    pub fn new(p: OwnerProfile) -> Self {
        SharedProfile(Arc::new(RwLock::new(Arc::new(p))))
    }
    pub fn get(&self) -> Arc<OwnerProfile> {
        Arc::clone(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }
    fn set(&self, p: OwnerProfile) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(p);
    }
}

/// Read and parse `path`. A missing file is an empty profile.
pub fn read(path: &Path) -> Result<OwnerProfile, ProfileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => super::parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(OwnerProfile::default()),
        Err(e) => Err(ProfileError {
            line: 0,
            message: format!("cannot read {}: {e}", path.display()),
        }),
    }
}

/// Reload `path` into `shared` on every change; `report` hears each outcome
/// (`None`: a good version loaded). Drop the watcher to stop.
pub fn watch(
    path: PathBuf,
    shared: SharedProfile,
    report: impl Fn(Option<ProfileError>) + Send + 'static,
) -> Option<notify::RecommendedWatcher> {
    let dir = path.parent()?.to_path_buf();
    let name = path.file_name()?.to_os_string();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res
            && event.paths.iter().any(|p| p.file_name() == Some(&name))
        {
            let _ = tx.send(());
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "no file events for the owner profile"))
    .ok()?;
    std::fs::create_dir_all(&dir).ok()?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| tracing::warn!(error = %e, "cannot watch the profiles folder"))
        .ok()?;
    std::thread::Builder::new()
        .name("steward-profile".into())
        .spawn(move || {
            // Ends when the watcher (and with it the sender) is dropped.
            while rx.recv().is_ok() {
                // A save is often several events; read once they settle.
                std::thread::sleep(Duration::from_millis(50));
                while rx.try_recv().is_ok() {}
                match read(&path) {
                    Ok(p) => {
                        if *shared.get() != p {
                            tracing::info!("owner profile reloaded");
                        }
                        shared.set(p);
                        report(None);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "owner profile not reloaded; keeping the last good one");
                        report(Some(e));
                    }
                }
            }
        })
        .ok()?;
    Some(watcher)
}
