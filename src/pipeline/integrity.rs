//! Boot-time and on-demand integrity: the audit chain recomputed, its head
//! checked against the signed anchor outside the database, and every receipt
//! signed since the last anchored checkpoint verified against its journal and
//! the chain. Any failure seals the pipeline: every run is refused (with a
//! receipt saying why) until the owner repairs the store and restarts. While
//! unsealed, the pipeline re-anchors the head after each piece of work.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ed25519_dalek::VerifyingKey;
use rusqlite::Connection;

use super::anchor::{self, Checked, Head};
use super::{Pipeline, PipelineError, approval, audit, runs, verify};

/// Everything `check_integrity` and `doctor` check; `Err` is the reason to seal.
/// `since_rowid` limits receipt verification to newer receipts (`None`: from
/// the anchor's checkpoint; `Some(0)`: all of them).
pub fn check(
    conn: &Connection,
    key: &VerifyingKey,
    fingerprint: &str,
    head_path: &std::path::Path,
    since_rowid: Option<i64>,
) -> rusqlite::Result<Result<(), String>> {
    let full = since_rowid == Some(0);
    // The full check recomputes the chain from the genesis before anything else.
    if full && let Err(why) = chain_ok(audit::verify(conn)?) {
        return Ok(Err(why));
    }
    // Before the anchor: a swapped key also fails the anchor, less helpfully.
    if let Some(why) = key_changed(conn, fingerprint)? {
        return Ok(Err(why));
    }
    let head = match anchor::check(conn, head_path, key)? {
        Checked::Problem(e) => return Ok(Err(e.to_string())),
        Checked::Reaches(head) => Some(head),
        Checked::NotAnchored => None,
    };
    // Incremental: from the anchored head on (it vouches for what is before).
    if !full {
        let chain = match &head {
            Some(h) if h.seq > 0 => {
                // The anchored row's own link: its content must hash to the signed hash.
                let prev: String =
                    conn.query_row("SELECT prev_hash FROM audit WHERE seq = ?1", [h.seq], |r| {
                        r.get(0)
                    })?;
                audit::verify_from(conn, h.seq, &prev)?
            }
            _ => audit::verify(conn)?,
        };
        if let Err(why) = chain_ok(chain) {
            return Ok(Err(why));
        }
    }
    let checkpoint = head.map_or(0, |h| h.receipts_through);
    if let Err(why) = approvals(conn, key, full)? {
        return Ok(Err(why));
    }
    if full {
        // Every receipt, and every run that ended without one.
        return Ok(
            match verify::all(conn, key)?.into_iter().find(|c| !c.valid) {
                Some(c) => Err(format!(
                    "run {}: {}; run `steward receipts verify`",
                    c.run_id,
                    c.reason.as_deref().unwrap_or("does not verify")
                )),
                None => Ok(()),
            },
        );
    }
    // Since the checkpoint, and always the newest one (cheap, and the likeliest target).
    let newest = anchor::receipts_head(conn)?;
    receipts_since(conn, key, since_rowid.unwrap_or(checkpoint).min(newest - 1))
}

/// Every approved or edited confirmation proves (`approval::prove`): at boot
/// those of unfinished runs (they may still send), in a full check all of
/// them, and then also every requested confirmation still has its row.
fn approvals(
    conn: &Connection,
    key: &VerifyingKey,
    full: bool,
) -> rusqlite::Result<Result<(), String>> {
    let mut stmt = conn.prepare(
        "SELECT c.id FROM confirmations c JOIN runs r ON r.id = c.run_id
         WHERE c.status IN ('approved', 'edited') AND (?1 OR r.status IN ('running', 'waiting'))",
    )?;
    let ids: Vec<String> = stmt
        .query_map([full], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        if let Err(why) = approval::prove(conn, key, &id)? {
            return Ok(Err(why.reason()));
        }
    }
    if !full {
        return Ok(Ok(()));
    }
    let missing: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT json_extract(j.payload, '$.id') FROM journal j
         WHERE j.kind = 'confirmation.requested'
           AND NOT EXISTS (SELECT 1 FROM confirmations c WHERE c.id = json_extract(j.payload, '$.id'))
         LIMIT 1",
        [],
        |r| r.get(0),
    ))?;
    Ok(match missing {
        Some(id) => Err(format!(
            "confirmation {id} was requested but its row is gone (deleted?); restore steward.db from backup"
        )),
        None => Ok(()),
    })
}

fn chain_ok(chain: audit::ChainReport) -> Result<(), String> {
    if chain.ok {
        return Ok(());
    }
    Err(format!(
        "the audit chain is broken at seq {} ({}); run `steward audit verify` and restore the database from backup",
        chain.first_bad_seq.unwrap_or(0),
        chain.reason.unwrap_or_default()
    ))
}

/// The newest receipt was signed by another key.
fn key_changed(conn: &Connection, fingerprint: &str) -> rusqlite::Result<Option<String>> {
    let last: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT run_id FROM receipts ORDER BY rowid DESC LIMIT 1",
        [],
        |r| r.get(0),
    ))?;
    let Some(r) = last
        .map(|id| runs::receipt(conn, &id))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    Ok(
        (r.payload["keyFingerprint"].as_str() != Some(fingerprint)).then(|| {
            format!(
                "the receipt key changed: the last receipt was signed by {}, this key is {fingerprint}; restore keys/receipt.ed25519",
                r.payload["keyFingerprint"].as_str().unwrap_or("?")
            )
        }),
    )
}

/// Every receipt after `rowid`: signature, journal, audit entry, approvals.
fn receipts_since(
    conn: &Connection,
    key: &VerifyingKey,
    rowid: i64,
) -> rusqlite::Result<Result<(), String>> {
    let mut stmt = conn.prepare("SELECT run_id FROM receipts WHERE rowid > ?1 ORDER BY rowid")?;
    let ids: Vec<String> = stmt
        .query_map([rowid], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        let Some(r) = runs::receipt(conn, &id)? else {
            continue;
        };
        if let Err(e) = verify::check(conn, key, &id, &r)? {
            return Ok(Err(format!(
                "the receipt of run {id} does not verify: {e}; run `steward receipts verify`"
            )));
        }
    }
    Ok(Ok(()))
}

impl Pipeline {
    /// Check the chain, its anchored head and the receipts since the last
    /// checkpoint; seal the pipeline on any problem, else anchor the head.
    pub async fn check_integrity(&self) -> Result<Option<String>, PipelineError> {
        let key = self.inner.key.verifying_key();
        let fingerprint = self.inner.fingerprint.clone();
        let head = self.head_path();
        let problem = self
            .store
            .read(move |c| Ok(check(c, &key, &fingerprint, &head, None)?.err()))
            .await?;
        if let Some(reason) = &problem {
            tracing::error!(%reason, "pipeline sealed: every run will be refused");
        }
        *self.inner.sealed.lock().unwrap_or_else(|p| p.into_inner()) = problem.clone();
        if problem.is_none() {
            self.inner.anchored.store(-1, Ordering::SeqCst);
            self.anchor().await?;
        }
        Ok(problem)
    }

    /// The full check (`doctor`'s: the whole chain, every receipt and approval,
    /// runs that ended without a receipt). The daemon runs it in the background
    /// after its fast boot check; a finding seals the pipeline from then on.
    pub async fn check_integrity_full(&self) -> Result<Option<String>, PipelineError> {
        let key = self.inner.key.verifying_key();
        let fingerprint = self.inner.fingerprint.clone();
        let head = self.head_path();
        let problem = self
            .store
            .read(move |c| Ok(check(c, &key, &fingerprint, &head, Some(0))?.err()))
            .await?;
        if let Some(reason) = &problem {
            tracing::error!(%reason, "pipeline sealed by the full integrity check: every run will be refused");
            *self.inner.sealed.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
        }
        Ok(problem)
    }

    /// `<home>/audit.head`.
    pub fn head_path(&self) -> std::path::PathBuf {
        anchor::path_for(self.store.path())
    }

    /// Anchor after a run or decision; a failure to write is logged, not the
    /// run's failure (the run happened; the next anchor catches up).
    pub(super) async fn anchor_after_work(&self) {
        if let Err(e) = self.anchor().await {
            tracing::warn!(error = %e, "the audit head was not anchored");
        }
    }

    /// Write the chain's head to `<home>/audit.head` if it moved. Never while
    /// sealed: anchoring a tampered database would bless it.
    pub async fn anchor(&self) -> Result<(), PipelineError> {
        if self.ensure_unsealed().is_err() {
            return Ok(());
        }
        let (head, receipts) = self
            .store
            .read(|c| Ok((anchor::db_head(c)?, anchor::receipts_head(c)?)))
            .await?;
        let Some((seq, hash)) = head else {
            return Ok(());
        };
        let inner = Arc::clone(&self.inner);
        if inner.anchored.fetch_max(seq, Ordering::SeqCst) >= seq {
            return Ok(());
        }
        let path = self.head_path();
        let head = Head {
            seq,
            hash,
            receipts_through: receipts,
        };
        tokio::task::spawn_blocking(move || anchor::write(&path, &inner.key, &head))
            .await
            .map_err(|e| PipelineError::Anchor(e.to_string()))?
            .map_err(|e| PipelineError::Anchor(e.to_string()))
    }
}
