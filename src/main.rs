//! The `steward` binary: parse the command line, run it, map errors to exit codes.
//! Exit 0 on success, 1 on failure, 2 on bad usage or a bad steward.yaml.

use std::process::ExitCode;

use clap::Parser;
use steward::cli::{Cli, Command, UsageError};
use steward::config::ConfigError;
use steward::logging;

fn main() -> ExitCode {
    // Every file Steward creates is private to the owner, whatever the caller's umask.
    // SAFETY: umask has no preconditions and cannot fail.
    unsafe { libc::umask(0o077) };
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Up(_)) {
        logging::init_cli();
    }
    match cli.run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            let bad_usage = err.chain().any(|e| {
                matches!(
                    e.downcast_ref::<ConfigError>(),
                    Some(ConfigError::Parse { .. })
                ) || e.is::<UsageError>()
            });
            ExitCode::from(if bad_usage { 2 } else { 1 })
        }
    }
}
