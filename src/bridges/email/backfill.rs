//! `steward import email --account NAME [--since 90d]`: an account's history
//! over IMAP into memory, folder by folder, 200 mails per transaction,
//! idempotent by Message-ID and never published (history is not acted on).
//! The live reader's cursor then starts where the import ended.

use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;

use super::imap::{self, ImapError, connect, cursor, protocol, set_cursor};
use super::ingest::{EmailIngest, Source};
use super::mime;
use crate::config::EmailAccount;
use crate::store::Store;

const BATCH: usize = 200;

/// `90d`, `12w`, `6m` (30-day months) or a date `2026-09-01` → the first day to import.
pub fn parse_since(text: &str, today: jiff::civil::Date) -> Option<jiff::civil::Date> {
    let t = text.trim();
    if let Ok(date) = t.parse::<jiff::civil::Date>() {
        return Some(date);
    }
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    let days = match unit {
        "d" => n,
        "w" => n * 7,
        "m" => n * 30,
        "y" => n * 365,
        _ => return None,
    };
    today.checked_sub(jiff::Span::new().days(days)).ok()
}

/// IMAP's date form: `1-Sep-2026`.
fn imap_date(d: jiff::civil::Date) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}-{}-{}",
        d.day(),
        MONTHS[(d.month() - 1) as usize],
        d.year()
    )
}

/// Import every configured folder of `account` (mail on or after `since`, or all).
/// `progress(done, total)` is called per batch.
pub async fn import(
    account: &EmailAccount,
    since: Option<jiff::civil::Date>,
    store: &Store,
    ingest: &Arc<Mutex<EmailIngest>>,
    progress: &dyn Fn(u64, u64),
) -> Result<(), ImapError> {
    let mut session = connect(account).await?;
    for folder in &account.folders {
        import_folder(
            &mut session,
            account,
            folder,
            since,
            store,
            ingest,
            progress,
        )
        .await?;
    }
    let _ = session.logout().await;
    Ok(())
}

async fn import_folder(
    session: &mut imap::Session,
    account: &EmailAccount,
    folder: &str,
    since: Option<jiff::civil::Date>,
    store: &Store,
    ingest: &Arc<Mutex<EmailIngest>>,
    progress: &dyn Fn(u64, u64),
) -> Result<(), ImapError> {
    let mailbox = session.select(folder).await.map_err(protocol(account))?;
    let validity = mailbox.uid_validity.unwrap_or(0);
    let query = since.map_or_else(|| "ALL".to_string(), |d| format!("SINCE {}", imap_date(d)));
    let mut uids: Vec<u32> = session
        .uid_search(&query)
        .await
        .map_err(protocol(account))?
        .into_iter()
        .collect();
    uids.sort_unstable();
    let total = uids.len() as u64;
    for (i, chunk) in uids.chunks(BATCH).enumerate() {
        let set: Vec<String> = chunk.iter().map(u32::to_string).collect();
        let fetched: Vec<_> = session
            .uid_fetch(set.join(","), "(UID RFC822)")
            .await
            .map_err(protocol(account))?
            .try_collect()
            .await
            .map_err(protocol(account))?;
        let mails: Vec<Vec<u8>> = fetched
            .iter()
            .filter_map(|f| f.body().map(<[u8]>::to_vec))
            .collect();
        let (name, f, ing) = (account.name.clone(), folder.to_string(), ingest.clone());
        store
            .write(move |c| {
                let tx = c.transaction()?;
                let mut ing = ing.lock().unwrap_or_else(|p| p.into_inner());
                let src = Source {
                    account: &name,
                    folder: &f,
                };
                for raw in &mails {
                    match mime::parse(raw) {
                        Ok(mail) => {
                            ing.mail(&tx, src, &mail)?;
                        }
                        Err(_) => ing.skip(),
                    }
                }
                crate::memory::messages::index_new(&tx)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        progress(((i * BATCH + chunk.len()) as u64).min(total), total);
    }
    // The live reader goes on from here (or from further on, if it already has).
    let newest = mailbox.uid_next.unwrap_or(1).saturating_sub(1);
    let (name, f) = (account.name.clone(), folder.to_string());
    store
        .write(move |c| {
            let last = match cursor(c, &name, &f)? {
                Some((v, uid)) if v == validity => uid.max(newest),
                _ => newest,
            };
            set_cursor(c, &name, &f, validity, last)?;
            Ok(())
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_spans_and_dates() {
        let today = jiff::civil::date(2026, 12, 1);
        assert_eq!(
            parse_since("90d", today),
            Some(jiff::civil::date(2026, 9, 2))
        );
        assert_eq!(
            parse_since("2w", today),
            Some(jiff::civil::date(2026, 11, 17))
        );
        assert_eq!(
            parse_since("2026-01-05", today),
            Some(jiff::civil::date(2026, 1, 5))
        );
        assert_eq!(parse_since("soon", today), None);
        assert_eq!(parse_since("5x", today), None);
        assert_eq!(imap_date(jiff::civil::date(2026, 9, 2)), "2-Sep-2026");
    }
}
