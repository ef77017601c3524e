//! The owner's decision as evidence. A confirmation row saying `approved` is
//! not enough to send: anyone who can write the database could flip it. Each
//! decision is therefore recorded, in the transaction that changes the row, as
//! a journal event carrying a claim signed with the receipt key (who, when,
//! which step, where to, the SHA-256 of the final text) and an audit entry
//! whose payload is that event. A [`super::ConfirmedSend`] is built only when
//! the claim is present, signed by this key, in the audit chain, and matches
//! the row it approves; receipt verification asks the same of every delivered
//! contact reply.

use ed25519_dalek::{SigningKey, VerifyingKey};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::audit::{self, Record};
use super::confirm::Decision;
use super::journal;
use crate::canonical;
use crate::receipt::{self, Receipt};

/// The confirmation row a decision is about.
struct Row {
    run_id: String,
    step: i64,
    channel: String,
    to: String,
    text: String,
}

fn row(conn: &Connection, id: &str) -> rusqlite::Result<Option<Row>> {
    conn.query_row(
        "SELECT run_id, step, channel, recipient, COALESCE(final_text, text) FROM confirmations WHERE id = ?1",
        [id],
        |r| {
            Ok(Row {
                run_id: r.get(0)?,
                step: r.get(1)?,
                channel: r.get(2)?,
                to: r.get(3)?,
                text: r.get(4)?,
            })
        },
    )
    .optional()
}

fn text_sha256(text: &str) -> String {
    canonical::sha256_hex(text.as_bytes())
}

/// Journal and audit the decision just written to confirmation `id`, in the
/// caller's transaction. `edited` is the owner's edit, if any (kept in the
/// journal as before; the claim binds the final text by hash).
pub fn record(
    conn: &Connection,
    key: &SigningKey,
    id: &str,
    decision: Decision,
    edited: Option<&str>,
    by: &str,
    at: &str,
) -> rusqlite::Result<String> {
    let r = row(conn, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    let claim = json!({
        "confirmation": id, "runId": r.run_id, "step": r.step, "decision": decision.as_str(),
        "by": by, "at": at, "channel": r.channel, "to": r.to, "textSha256": text_sha256(&r.text),
    });
    let signed = receipt::sign(key, claim);
    let kind = format!("confirmation.{}", decision.as_str());
    let payload = json!({
        "id": id, "by": by, "text": edited,
        "claim": signed.payload, "signature": signed.signature,
    });
    journal::append(conn, &r.run_id, &kind, &payload)?;
    audit::append(
        conn,
        &Record {
            run_id: Some(&r.run_id),
            kind: "confirmation",
            actor: by,
            subject: id,
            decision: decision.as_str(),
            payload: &payload,
        },
    )?;
    Ok(r.run_id)
}

/// Why an approval cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unproven {
    #[error("confirmation {0} says approved but the journal has no signed decision for it")]
    NoDecision(String),
    #[error("the decision on confirmation {0} is not signed by this receipt key")]
    BadSignature(String),
    #[error("the decision on confirmation {0} is not in the audit chain")]
    NotAudited(String),
    #[error("confirmation {0} does not match what the owner approved ({1} changed)")]
    Changed(String, &'static str),
}

impl Unproven {
    /// The refusal reason a run and the owner see.
    pub fn reason(&self) -> String {
        format!(
            "{self}; nothing was sent (was the database edited? run `steward audit verify` and `steward doctor`)"
        )
    }
}

/// The signed decision for confirmation `id` found in `run_id`'s journal:
/// `(decision, claim, payload)`.
fn decision_event(
    conn: &Connection,
    run_id: &str,
    id: &str,
) -> rusqlite::Result<Option<(String, Value, Value)>> {
    // The latest decision counts: a held send reopens the row for a second yes.
    let mut found = None;
    for e in journal::events(conn, run_id)? {
        let Some(decision) = e.kind.strip_prefix("confirmation.") else {
            continue;
        };
        if !matches!(decision, "approved" | "edited") {
            continue;
        }
        let payload: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
        if payload["id"].as_str() == Some(id) {
            let claim = payload["claim"].clone();
            found = Some((decision.to_string(), claim, payload));
        }
    }
    Ok(found)
}

/// Whether the approval of confirmation `id` is evidence: signed by `key`, in
/// the audit chain, and matching the row's run, step, recipient and final text.
pub fn prove(
    conn: &Connection,
    key: &VerifyingKey,
    id: &str,
) -> rusqlite::Result<Result<(), Unproven>> {
    let Some(r) = row(conn, id)? else {
        return Ok(Err(Unproven::NoDecision(id.to_string())));
    };
    let Some((decision, claim, payload)) = decision_event(conn, &r.run_id, id)? else {
        return Ok(Err(Unproven::NoDecision(id.to_string())));
    };
    let signed = Receipt {
        payload: claim.clone(),
        signature: payload["signature"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        algorithm: receipt::ALGORITHM.to_string(),
    };
    if receipt::verify(&signed, key).is_err() || claim["confirmation"].as_str() != Some(id) {
        return Ok(Err(Unproven::BadSignature(id.to_string())));
    }
    let digest = canonical::sha256_hex(canonical::to_string(&payload).as_bytes());
    let audited: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM audit WHERE kind = 'confirmation' AND subject = ?1
         AND run_id = ?2 AND decision = ?3 AND payload_digest = ?4)",
        params![id, r.run_id, decision, digest],
        |x| x.get(0),
    )?;
    if !audited {
        return Ok(Err(Unproven::NotAudited(id.to_string())));
    }
    let checks: [(&'static str, bool); 5] = [
        ("run", claim["runId"].as_str() == Some(r.run_id.as_str())),
        ("step", claim["step"].as_i64() == Some(r.step)),
        (
            "channel",
            claim["channel"].as_str() == Some(r.channel.as_str()),
        ),
        ("recipient", claim["to"].as_str() == Some(r.to.as_str())),
        (
            "text",
            claim["textSha256"].as_str() == Some(text_sha256(&r.text).as_str()),
        ),
    ];
    if let Some((what, _)) = checks.iter().find(|(_, ok)| !ok) {
        return Ok(Err(Unproven::Changed(id.to_string(), what)));
    }
    Ok(Ok(()))
}

/// For receipt verification: every contact reply the journal says was
/// delivered has a signed, audited approval of that step and target before it.
pub fn check_journal(
    conn: &Connection,
    key: &VerifyingKey,
    events: &[journal::Event],
) -> rusqlite::Result<Result<(), String>> {
    let parsed: Vec<(&str, Value)> = events
        .iter()
        .map(|e| {
            let v = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
            (e.kind.as_str(), v)
        })
        .collect();
    for (i, (kind, p)) in parsed.iter().enumerate() {
        if !matches!(*kind, "step.done" | "step.recovered") {
            continue;
        }
        let step = p["step"].as_i64();
        let intended = parsed[..i].iter().rev().find(|(k, q)| {
            *k == "step.intended" && q["step"].as_i64() == step && q["key"] == p["key"]
        });
        let Some((_, intended)) = intended else {
            return Ok(Err(format!(
                "step {} was delivered but never intended",
                step.unwrap_or(-1)
            )));
        };
        if intended["kind"].as_str() != Some("reply") {
            continue;
        }
        let approved = parsed[..i].iter().any(|(k, q)| {
            matches!(*k, "confirmation.approved" | "confirmation.edited")
                && q["claim"]["step"].as_i64() == step
                && format!(
                    "{}:{}",
                    q["claim"]["channel"].as_str().unwrap_or_default(),
                    q["claim"]["to"].as_str().unwrap_or_default()
                ) == intended["target"].as_str().unwrap_or_default()
                && signed_and_audited(conn, key, q).unwrap_or(false)
        });
        if !approved {
            return Ok(Err(format!(
                "the reply sent at step {} has no signed, audited approval from the owner",
                step.unwrap_or(-1)
            )));
        }
    }
    Ok(Ok(()))
}

fn signed_and_audited(
    conn: &Connection,
    key: &VerifyingKey,
    payload: &Value,
) -> rusqlite::Result<bool> {
    let signed = Receipt {
        payload: payload["claim"].clone(),
        signature: payload["signature"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        algorithm: receipt::ALGORITHM.to_string(),
    };
    if receipt::verify(&signed, key).is_err() {
        return Ok(false);
    }
    let digest = canonical::sha256_hex(canonical::to_string(payload).as_bytes());
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM audit WHERE kind = 'confirmation' AND subject = ?1 AND payload_digest = ?2)",
        params![payload["id"].as_str().unwrap_or_default(), digest],
        |x| x.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, kind: &str, payload: Value) -> journal::Event {
        journal::Event {
            seq,
            kind: kind.into(),
            payload: canonical::to_string(&payload),
        }
    }

    #[test]
    fn a_delivered_reply_without_a_signed_audited_approval_fails_verification() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let intended = event(
            1,
            "step.intended",
            json!({"step": 0, "kind": "reply", "key": "r:0:1", "target": "imessage:+15125550000"}),
        );
        let done = event(2, "step.done", json!({"step": 0, "key": "r:0:1"}));
        let vk = key.verifying_key();
        let bare = [intended.clone(), done.clone()];
        assert!(check_journal(&conn, &vk, &bare).unwrap().is_err());

        // A signed claim that is not in the audit chain is not enough either.
        let claim = json!({"confirmation": "c1", "runId": "r", "step": 0, "decision": "approved",
            "by": "console", "at": "t", "channel": "imessage", "to": "+15125550000", "textSha256": "x"});
        let signed = receipt::sign(&key, claim);
        let payload = json!({"id": "c1", "by": "console", "text": null,
            "claim": signed.payload, "signature": signed.signature});
        let approved = event(2, "confirmation.approved", payload.clone());
        let done3 = event(3, "step.done", json!({"step": 0, "key": "r:0:1"}));
        let events = [intended, approved, done3];
        assert!(check_journal(&conn, &vk, &events).unwrap().is_err());

        audit::append(
            &conn,
            &Record {
                run_id: Some("r"),
                kind: "confirmation",
                actor: "console",
                subject: "c1",
                decision: "approved",
                payload: &payload,
            },
        )
        .unwrap();
        assert_eq!(check_journal(&conn, &vk, &events).unwrap(), Ok(()));
        // Under another key the same journal fails.
        let other = SigningKey::from_bytes(&[4u8; 32]).verifying_key();
        assert!(check_journal(&conn, &other, &events).unwrap().is_err());
    }
}
