//! `steward up`: run the daemon in the foreground until SIGTERM or Ctrl-C.

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

pub fn run(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
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
    runtime.block_on(async {
        let stop = daemon::stop_signal()?;
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
    Ok(ExitCode::SUCCESS)
}
