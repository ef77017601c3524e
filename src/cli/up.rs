//! `steward up`: run the daemon in the foreground until SIGTERM or Ctrl-C;
//! SIGHUP starts it again in place with steward.yaml read anew.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use crate::config::Config;
use crate::home::Home;
use crate::{daemon, logging};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to serve HTTP on (overrides http.listen), e.g. 127.0.0.1:7788; port 0 picks one.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// glibc gives each thread that allocates its own arena, up to 8 per core, and
/// each keeps its freed pages. The daemon is idle most of the time and its
/// threads allocate little: two arenas took the all-bridges idle private memory
/// from 10.3 to 9.9-10.0 MiB, the bare daemon's from 4.1 to 3.7 (issue 19,
/// `cargo bench --bench foundation`). Set before the logger and the runtime
/// start their threads; other platforms' allocators differ.
fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    few_malloc_arenas();
    // Before anything is opened or written: an exposed home is refused as is.
    home.ensure_private()?;
    let config = Config::load(&home.config_path())?;
    let _guard = logging::init_daemon(&config.log.level, &home.logs_dir())?;
    let listen = args.listen.unwrap_or(config.http.listen);
    let logs_dir = home.logs_dir();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Steward is mostly idle; two workers keep memory low and latency fine.
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (why_tx, why) = std::sync::mpsc::channel();
    runtime.block_on(async {
        let signal = daemon::stop_signal(home.config_path())?;
        let stop = async move {
            let reason = signal.await;
            let _ = why_tx.send(reason);
            reason
        };
        daemon::boot(home.clone(), config, listen, stop, |bound| {
            // One line on stdout that scripts and tests can wait for.
            // Ignored if stdout is gone: the daemon must not stop over its banner.
            let mut stdout = std::io::stdout();
            let _ = writeln!(
                stdout,
                "steward {} listening on http://{bound}",
                crate::VERSION
            );
            let _ = writeln!(
                stdout,
                "logs in {} (`steward logs -f`); runs as they finish: `steward activity -f`; what Steward tells you on the console: `steward outbox -f`",
                logs_dir.display()
            );
            let _ = stdout.flush();
        })
        .await
    })?;
    // Don't wait for stray blocking tasks (a slow read) past the promised stop time.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    if why.try_recv() == Ok(daemon::RELOAD) {
        drop(_guard);
        return Err(start_again());
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGHUP: the daemon stopped cleanly (lock released, store closed); the same
/// process starts again with the same arguments, so launchd and systemd see
/// no exit and every setting in steward.yaml applies. Returns only on failure.
fn start_again() -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return anyhow::anyhow!("cannot find this binary to start again: {e}"),
    };
    let e = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .exec();
    anyhow::anyhow!("cannot start {} again after SIGHUP: {e}", exe.display())
}
