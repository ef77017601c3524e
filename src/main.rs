//! The `steward` binary: parse the command line, run it, map errors to exit codes.
//! Exit 0 on success, 1 on failure, 2 on bad usage or a bad steward.yaml.

use std::process::ExitCode;

use clap::Parser;
use steward::cli::{Cli, Command, JsonError, UsageError, json_requested};
use steward::config::ConfigError;
use steward::logging;

fn main() -> ExitCode {
    // Every file Steward creates is private to the owner, whatever the caller's umask.
    // SAFETY: umask has no preconditions and cannot fail.
    unsafe { libc::umask(0o077) };
    // SQLite's process-wide settings, before anything (the WhatsApp library
    // included) opens a connection.
    steward::store::tune_library();
    let json = json_requested(std::env::args_os().skip(1));
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Up(_)) {
        logging::init_cli();
    }
    match cli.run() {
        Ok(code) => code,
        Err(err) => {
            if json {
                // Scripts asked for JSON: the error is JSON too (one line on
                // stderr, so stdout stays the answer only), and the exit code says it failed.
                let body = serde_json::to_string(&JsonError::from_error(&err))
                    .unwrap_or_else(|_| format!("{{\"error\":{:?}}}", err.to_string()));
                eprintln!("{body}");
            } else {
                eprintln!("error: {err:#}");
            }
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
