//! The account's Sent folder over IMAP: a copy of each reply is appended
//! there (SMTP does not keep one), and after a crash mid-send it is where a
//! mail with our Message-ID proves the send happened.

use super::imap::{ImapError, connect, protocol};
use crate::config::EmailAccount;

/// Append `raw` to the account's Sent folder, marked seen; the folder is
/// created if the server has none by that name.
pub async fn append(account: &EmailAccount, raw: &[u8]) -> Result<(), ImapError> {
    let mut session = connect(account).await?;
    let folder = account.sent.as_str();
    if session.select(folder).await.is_err() {
        // Most servers have one; a fresh test or self-hosted account may not.
        session.create(folder).await.map_err(protocol(account))?;
    }
    let appended = session
        .append(folder, Some("(\\Seen)"), None, raw)
        .await
        .map_err(protocol(account));
    let _ = session.logout().await;
    appended
}

/// Whether the Sent folder holds a mail with this Message-ID (no brackets).
pub async fn contains(account: &EmailAccount, message_id: &str) -> Result<bool, ImapError> {
    let mut session = connect(account).await?;
    if session.examine(account.sent.as_str()).await.is_err() {
        let _ = session.logout().await;
        return Ok(false);
    }
    // The id is ours (hex and the account's domain): nothing to quote in it.
    let found = session
        .uid_search(format!("HEADER Message-ID \"<{message_id}>\""))
        .await
        .map_err(protocol(account));
    let _ = session.logout().await;
    Ok(!found?.is_empty())
}
