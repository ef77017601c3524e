//! Sending through Messages with AppleScript: `osascript -` with the script on
//! stdin and the text and target as argv, so no message text is ever part of a
//! script. Keeps an outbound ledger so a crash after a send is never a resend.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::assets::{self, Folder};

/// How long one send may take before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(
        "Messages cannot find {0} (AppleScript -1728); send it one message by hand first, or check the handle"
    )]
    NotFound(String),
    #[error("Messages could not use {0} as a recipient (AppleScript -1700)")]
    BadTarget(String),
    #[error(
        "macOS did not let steward control Messages (-1743): allow it in System Settings → Privacy & Security → Automation"
    )]
    NotAuthorized,
    #[error("cannot run {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("osascript did not finish within {0:?}; the send may or may not have happened")]
    Timeout(Duration),
    #[error("the send script is unavailable: {0}")]
    Script(String),
    #[error("osascript failed: {0}")]
    Failed(String),
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A chat guid (`iMessage;-;+1…`, `any;+;…`): DMs and groups.
    Chat(String),
    /// A phone number or email over iMessage.
    Participant(String),
    /// A phone number as SMS.
    Sms(String),
}

impl Target {
    /// A recipient as the pipeline names it: a chat guid if it has `;`, else a handle.
    pub fn parse(to: &str) -> Target {
        let to = to.trim();
        if to.contains(';') {
            Target::Chat(to.to_string())
        } else if let Some(number) = to.strip_prefix("sms:") {
            Target::Sms(number.to_string())
        } else {
            Target::Participant(
                to.strip_prefix("phone:")
                    .or_else(|| to.strip_prefix("email:"))
                    .unwrap_or(to)
                    .to_string(),
            )
        }
    }

    /// For a 1:1 chat guid (`service;-;handle`), the same recipient as a participant.
    pub fn direct_participant(&self) -> Option<Target> {
        let Target::Chat(guid) = self else {
            return None;
        };
        let mut parts = guid.splitn(3, ';');
        let (service, kind, handle) = (parts.next()?, parts.next()?, parts.next()?);
        if kind != "-" || handle.is_empty() {
            return None;
        }
        Some(if service.eq_ignore_ascii_case("sms") {
            Target::Sms(handle.to_string())
        } else {
            Target::Participant(handle.to_string())
        })
    }

    fn argv(&self) -> (&str, &'static str) {
        match self {
            Target::Chat(c) => (c, "chat"),
            Target::Participant(p) => (p, "participant"),
            Target::Sms(p) => (p, "sms"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sender {
    osascript: PathBuf,
    script: String,
}

impl Sender {
    /// The script is `bridges/imessage/send.applescript`, overridable under the home.
    pub fn new(osascript: &Path, home: &Path) -> Result<Sender, SendError> {
        let script = assets::load(home, Folder::Bridges, "imessage/send.applescript")
            .map_err(|e| SendError::Script(e.to_string()))?
            .ok_or_else(|| {
                SendError::Script("bridges/imessage/send.applescript is missing".into())
            })?;
        Ok(Sender {
            osascript: osascript.to_path_buf(),
            script: script.text.into_owned(),
        })
    }

    /// Send `text` to `target`. Blocking: run it on a blocking thread.
    /// A 1:1 chat guid Messages cannot find (-1728, reported for `any;-;…` guids
    /// on some macOS 15 builds) is retried once as its participant.
    pub fn send(&self, text: &str, target: &Target) -> Result<(), SendError> {
        match self.run(text, target) {
            Err(SendError::NotFound(_)) if target.direct_participant().is_some() => {
                let participant = target.direct_participant().expect("checked");
                tracing::info!("chat id not found; retrying as its participant");
                self.run(text, &participant)
            }
            other => other,
        }
    }

    fn run(&self, text: &str, target: &Target) -> Result<(), SendError> {
        let (to, mode) = target.argv();
        let mut child = Command::new(&self.osascript)
            .args(["-", text, to, mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| SendError::Spawn {
                path: self.osascript.clone(),
                source,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(self.script.as_bytes())
                .map_err(|source| SendError::Spawn {
                    path: self.osascript.clone(),
                    source,
                })?;
        }
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SendError::Timeout(TIMEOUT));
                }
                Err(e) => return Err(SendError::Failed(e.to_string())),
            }
        };
        if status.success() {
            return Ok(());
        }
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
        }
        Err(classify(err.trim(), to))
    }
}

fn classify(stderr: &str, to: &str) -> SendError {
    if stderr.contains("(-1728)") {
        SendError::NotFound(to.to_string())
    } else if stderr.contains("(-1700)") {
        SendError::BadTarget(to.to_string())
    } else if stderr.contains("(-1743)") {
        SendError::NotAuthorized
    } else {
        SendError::Failed(stderr.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("iMessage;-;+15125551234"),
            Target::Chat("iMessage;-;+15125551234".into())
        );
        assert_eq!(
            Target::parse("phone:+15125551234"),
            Target::Participant("+15125551234".into())
        );
        assert_eq!(
            Target::parse("ann@example.com"),
            Target::Participant("ann@example.com".into())
        );
        assert_eq!(
            Target::parse("sms:+15125551234"),
            Target::Sms("+15125551234".into())
        );
    }

    #[test]
    fn applescript_errors_are_typed() {
        let e = "execution error: Messages got an error: Can’t get chat id \"x\". (-1728)";
        assert!(matches!(classify(e, "x"), SendError::NotFound(_)));
        assert!(matches!(
            classify("… (-1700)", "x"),
            SendError::BadTarget(_)
        ));
        assert!(matches!(
            classify("… (-1743)", "x"),
            SendError::NotAuthorized
        ));
        assert!(matches!(classify("boom", "x"), SendError::Failed(_)));
    }
}
