//! Crash injection for tests: `STEWARD_FAULT=crash-after:<event-kind>` aborts
//! the process right after the named journal event (or delivery) is durable,
//! the way a power cut or `kill -9` would. Unset, it costs one comparison.

#[derive(Debug, Clone, Default)]
pub struct Fault {
    after: Option<String>,
}

pub const ENV: &str = "STEWARD_FAULT";

impl Fault {
    pub fn from_env() -> Fault {
        let after = std::env::var(ENV)
            .ok()
            .and_then(|v| v.strip_prefix("crash-after:").map(str::to_string));
        if let Some(point) = &after {
            tracing::warn!(point, "fault injection armed: the process will abort there");
        }
        Fault { after }
    }

    /// Abort now if armed for `point`.
    pub fn point(&self, point: &str) {
        if self.after.as_deref() == Some(point) {
            eprintln!("steward: injected crash after {point}");
            std::process::abort();
        }
    }
}
