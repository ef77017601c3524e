//! Linking and unlinking the owner's number. `link` starts a fresh session
//! that asks to pair: each QR code the session emits (a new one every 20 s)
//! or the 8-character pair code is handed to `show`; it ends when the phone
//! confirms (`PairSuccess`), writing the linked number to the state. `unlink`
//! tells WhatsApp to remove the device (when it can be reached) and deletes
//! the session store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::session::{Event, Link, Session, SessionError};
use super::state::{self, Status};
use crate::memory::handle::{Canonicalizer, Kind};

/// What the owner must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A QR payload to draw (it replaces the previous one).
    Qr(String),
    /// The code to type on the phone.
    Code(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Linked {
    /// The owner's number, `+E164`.
    pub number: String,
    pub jid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lid: Option<String>,
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unlinked {
    /// The number that was linked, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// WhatsApp was told to remove the device (else remove it on the phone).
    pub logged_out: bool,
    pub removed: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(
        "WhatsApp is already linked to {0}; run `steward whatsapp unlink` first to link another number"
    )]
    AlreadyLinked(String),
    #[error("the phone refused the link: {0}; run `steward whatsapp link` again")]
    Refused(String),
    #[error(
        "no phone confirmed within {0} s; run `steward whatsapp link` again and scan the newest code (WhatsApp > Settings > Linked devices > Link a device)"
    )]
    TimedOut(u64),
    #[error(
        "the connection to WhatsApp ended before the phone confirmed; check the network and run `steward whatsapp link` again"
    )]
    Dropped,
    #[error("{0}")]
    Session(#[from] SessionError),
    #[error("{0}")]
    State(#[from] state::StateError),
}

/// Pair a new session and record it. `show` is called with each QR code or
/// pair code as it arrives.
pub async fn link(
    session: &dyn Session,
    home: &Path,
    how: Link,
    canon: &Canonicalizer,
    mut show: impl FnMut(Shown),
    within: Duration,
) -> Result<Linked, LinkError> {
    let before = state::load(home);
    if before.status == Status::Linked {
        return Err(LinkError::AlreadyLinked(
            before.number.unwrap_or_else(|| "a number".into()),
        ));
    }
    // A session WhatsApp ended cannot be revived: start from nothing.
    state::remove_session(home)?;
    state::ensure_dir(home)?;
    let mut events = session.connect(Some(how)).await?;
    let deadline = tokio::time::Instant::now() + within;
    let linked = loop {
        let event = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => {
                session.disconnect().await;
                return Err(LinkError::TimedOut(within.as_secs()));
            }
            Ok(None) => return Err(LinkError::Dropped),
            Ok(Some(e)) => e,
        };
        match &*event {
            Event::PairingQrCode(q) => show(Shown::Qr(q.code.clone())),
            Event::PairingCode(c) => show(Shown::Code(c.code.clone())),
            Event::PairSuccess(p) => {
                let number = canon.canonicalize(&p.id.to_non_ad_string());
                if number.kind() != Kind::Phone {
                    return Err(LinkError::Refused(format!(
                        "WhatsApp named the account {}, not a phone number",
                        p.id
                    )));
                }
                break Linked {
                    number: number.value().to_string(),
                    jid: p.id.to_string(),
                    lid: Some(p.lid.to_non_ad_string()).filter(|l| !l.starts_with('@')),
                    platform: p.platform.clone(),
                };
            }
            Event::PairError(e) => return Err(LinkError::Refused(e.error.clone())),
            Event::PairingCodeError(e) => return Err(LinkError::Refused(e.error.clone())),
            Event::PairingQrCodesExhausted(_) => {
                session.disconnect().await;
                return Err(LinkError::TimedOut(within.as_secs()));
            }
            Event::LoggedOut(_) => return Err(LinkError::Refused("logged out".into())),
            _ => {}
        }
    };
    state::save(
        home,
        &state::LinkState {
            status: Status::Linked,
            number: Some(linked.number.clone()),
            jid: Some(linked.jid.clone()),
            lid: linked.lid.clone(),
            linked_at: Some(jiff::Timestamp::now().to_string()),
            ..Default::default()
        },
    )?;
    // Let the session finish its first connection so the keys are stored,
    // then stop cleanly; the daemon's reader takes over from here.
    let settle = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Ok(Some(e)) = tokio::time::timeout_at(settle, events.recv()).await {
        if matches!(&*e, Event::Connected(_)) {
            break;
        }
    }
    session.disconnect().await;
    state::restrict(home);
    Ok(linked)
}

/// Log out (when WhatsApp can be reached within `within`) and delete the session.
pub async fn unlink(
    session: &dyn Session,
    home: &Path,
    within: Duration,
) -> Result<Unlinked, LinkError> {
    let before = state::load(home);
    let mut logged_out = false;
    if before.status == Status::Linked && state::session_db(home).exists() {
        match session.connect(None).await {
            Ok(mut events) => {
                let deadline = tokio::time::Instant::now() + within;
                while let Ok(Some(e)) = tokio::time::timeout_at(deadline, events.recv()).await {
                    match &*e {
                        Event::Connected(_) => {
                            logged_out = session.logout().await.is_ok();
                            break;
                        }
                        Event::LoggedOut(_) => break,
                        _ => {}
                    }
                }
                session.disconnect().await;
            }
            Err(e) => tracing::warn!(error = %e, "could not reach WhatsApp to log out"),
        }
    }
    let removed = state::remove_session(home)?;
    Ok(Unlinked {
        number: before.number,
        logged_out,
        removed,
    })
}
