//! Keeping the daemon running: a launchd LaunchAgent on macOS, a systemd user
//! unit on Linux. Both exec the steward binary directly (never through a shell:
//! macOS attributes Full Disk Access to the process launchd starts) with an
//! absolute `--home` and `up`.

pub mod launchd;
pub mod systemd;

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The launchd label and the plist's file stem.
pub const LABEL: &str = "dev.steward.daemon";
/// PATH given to the service; launchd and systemd start jobs without a login shell.
pub const SERVICE_PATH: &str = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
/// Tesseract built with OpenMP (Debian's is) spins a thread per core for each
/// page; beside other work on two cores a 300 dpi page took 14.7 s that way
/// and 1.8 s on one thread. The daemon OCRs in the background, so one thread.
/// libgomp reads this when it loads, before `main`: only the environment the
/// service starts with can set it.
pub const OCR_THREADS: (&str, &str) = ("OMP_THREAD_LIMIT", "1");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "camelCase")]
pub enum Platform {
    Launchd,
    Systemd,
}

impl Platform {
    pub fn host() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Launchd
        } else {
            Platform::Systemd
        }
    }
}

/// What a service file needs to know.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Absolute path of the steward binary.
    pub exe: PathBuf,
    /// Absolute Steward home.
    pub home: PathBuf,
    /// The user's home directory (`$HOME`), where the service file goes.
    pub user_home: PathBuf,
}

impl ServiceSpec {
    pub fn args(&self) -> Vec<String> {
        vec![
            self.exe.display().to_string(),
            "--home".to_string(),
            self.home.display().to_string(),
            "up".to_string(),
        ]
    }
}

/// Where the service file for `platform` goes.
pub fn unit_path(platform: Platform, user_home: &Path) -> PathBuf {
    match platform {
        Platform::Launchd => user_home
            .join("Library/LaunchAgents")
            .join(format!("{LABEL}.plist")),
        Platform::Systemd => user_home.join(".config/systemd/user/steward.service"),
    }
}

/// The service file's text.
pub fn render(platform: Platform, spec: &ServiceSpec) -> String {
    match platform {
        Platform::Launchd => launchd::plist(spec),
        Platform::Systemd => systemd::unit(spec),
    }
}
