//! `steward install [--dry-run]` and `steward uninstall`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

use crate::home::{self, Home};
use crate::service::{self, LABEL, Platform, ServiceSpec, launchd, systemd};

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Print the service file and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Which service manager to write for (default: this machine's).
    #[arg(long, value_enum)]
    pub platform: Option<Platform>,
    /// Print what was (or would be) written as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Which service manager to remove from (default: this machine's).
    #[arg(long, value_enum)]
    pub platform: Option<Platform>,
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
}

fn spec(home: &Home) -> anyhow::Result<ServiceSpec> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot find the path of this steward binary")?;
    Ok(ServiceSpec {
        exe,
        home: home.root().to_path_buf(),
        user_home: home::user_home()?,
    })
}

fn require_host(platform: Platform) -> anyhow::Result<()> {
    if platform != Platform::host() {
        bail!(
            "this machine uses {:?}, not {platform:?}; use --dry-run to only print the file",
            Platform::host()
        );
    }
    Ok(())
}

/// Write `text` to `path` whole: beside it first, then renamed over it.
fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().context("service path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn launchctl(args: &[&str]) -> anyhow::Result<std::process::Output> {
    Command::new("/bin/launchctl")
        .args(args)
        .output()
        .context("cannot run /bin/launchctl")
}

fn gui_domain() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    format!("gui/{}", unsafe { libc::getuid() })
}

pub fn install(home: &Home, args: InstallArgs) -> anyhow::Result<ExitCode> {
    let platform = args.platform.unwrap_or_else(Platform::host);
    let spec = spec(home)?;
    let text = service::render(platform, &spec);
    let path = service::unit_path(platform, &spec.user_home);
    let report = |installed: bool| {
        super::print_json(&serde_json::json!({
            "platform": format!("{platform:?}").to_lowercase(),
            "path": path,
            "installed": installed,
            "text": text,
        }))
    };
    if args.dry_run {
        if args.json {
            report(false)?;
        } else {
            out!("{text}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    require_host(platform)?;
    match platform {
        Platform::Launchd => {
            // launchd does not create the log directory for StandardOutPath.
            home::ensure_private_dir(&launchd::log_dir(&spec))?;
            write_atomic(&path, &text)?;
            let domain = gui_domain();
            // Reinstalling replaces a loaded job; "not loaded" is fine here.
            let _ = launchctl(&["bootout", &format!("{domain}/{LABEL}")]);
            let out = launchctl(&["bootstrap", &domain, &path.display().to_string()])?;
            if !out.status.success() {
                bail!(
                    "launchctl bootstrap {domain} {} failed: {}; check the file with `plutil -lint`",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            if !args.json {
                outln!("Installed and started {LABEL} ({}).", path.display());
                outln!("{}", launchd::full_disk_access_help(&spec));
            }
        }
        Platform::Systemd => {
            write_atomic(&path, &text)?;
            if !args.json {
                outln!("Wrote {}.", path.display());
                outln!("{}", systemd::ENABLE_HELP);
            }
        }
    }
    if args.json {
        report(true)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn uninstall(_home: &Home, args: UninstallArgs) -> anyhow::Result<ExitCode> {
    let platform = args.platform.unwrap_or_else(Platform::host);
    require_host(platform)?;
    let user_home = home::user_home()?;
    let path = service::unit_path(platform, &user_home);
    let mut removed: Vec<PathBuf> = Vec::new();
    if platform == Platform::Launchd {
        let _ = launchctl(&["bootout", &format!("{}/{LABEL}", gui_domain())]);
    }
    let mut targets = vec![path];
    if platform == Platform::Systemd {
        // The link `systemctl --user enable` made; without it the unit is disabled.
        targets.push(user_home.join(".config/systemd/user/default.target.wants/steward.service"));
    }
    for target in targets {
        // symlink_metadata: the enable link may dangle once the unit is gone.
        if target.symlink_metadata().is_ok() {
            std::fs::remove_file(&target)
                .with_context(|| format!("cannot remove {}", target.display()))?;
            removed.push(target);
        }
    }
    if args.json {
        super::print_json(&serde_json::json!({ "removed": removed }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if removed.is_empty() {
        outln!("Nothing to uninstall: no Steward service file is installed.");
        return Ok(ExitCode::SUCCESS);
    }
    for path in &removed {
        outln!("Removed {}.", path.display());
    }
    if platform == Platform::Systemd {
        outln!("{}", systemd::DISABLE_HELP);
    }
    outln!("Your home, database and keys are untouched.");
    Ok(ExitCode::SUCCESS)
}
