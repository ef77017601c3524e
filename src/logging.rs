//! Tracing setup.
//!
//! The filter comes from `STEWARD_LOG` if set, else `log.level` in steward.yaml.
//! People read stderr (coloured only on a terminal); the daemon also writes JSON
//! lines to `<home>/logs/steward.YYYY-MM-DD.log`, rotated daily, seven kept.

use std::io::IsTerminal;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// The environment variable holding the filter.
pub const ENV: &str = "STEWARD_LOG";
/// Daily log files kept.
pub const KEEP_FILES: usize = 7;
/// Log lines queued for the file writer before new ones are dropped.
const QUEUE_LINES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(
        "{ENV} / log.level {0:?} is not a valid filter ({1}); try `info` or `steward=debug,info`"
    )]
    Filter(String, String),
    #[error("cannot open the log directory {0}: {1}; check its permissions (0700)")]
    File(String, String),
}

fn filter(default: &str) -> Result<EnvFilter, LogError> {
    let directive = std::env::var(ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| default.to_string());
    EnvFilter::try_new(&directive).map_err(|e| LogError::Filter(directive, e.to_string()))
}

/// Colour only on a terminal, and never when NO_COLOR is set to anything
/// but the empty string (https://no-color.org).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Short CLI commands: human lines on stderr, warnings and up by default.
pub fn init_cli() {
    let filter = filter("warn").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour(
                    std::io::stderr().is_terminal(),
                    std::env::var_os("NO_COLOR"),
                ))
                .with_filter(filter),
        )
        .try_init();
}

/// The daemon: stderr for people plus rotated JSON files under `logs_dir`.
/// Keep the guard alive until exit so buffered lines are flushed.
pub fn init_daemon(default_level: &str, logs_dir: &Path) -> Result<WorkerGuard, LogError> {
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("steward")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(logs_dir)
        .map_err(|e| LogError::File(logs_dir.display().to_string(), e.to_string()))?;
    // The default queue preallocates 128,000 line slots (about 4 MB resident);
    // a mostly idle daemon needs far fewer. When full, lines are dropped, not
    // the daemon blocked: the audit chain, not this log, is the record of actions.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUE_LINES)
        .finish(appender);
    let _ = tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour(
                    std::io::stderr().is_terminal(),
                    std::env::var_os("NO_COLOR"),
                ))
                .with_filter(filter(default_level)?),
        )
        .with(
            fmt::layer()
                .json()
                .with_current_span(false)
                .with_writer(writer)
                .with_filter(filter(default_level)?),
        )
        .try_init();
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn no_color_turns_colour_off_on_a_terminal() {
        assert!(colour(true, None));
        assert!(!colour(true, Some("1".into())));
        assert!(colour(true, Some("".into())));
        assert!(!colour(false, None));
    }
}
