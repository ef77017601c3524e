//! The `runs` table: creating a run, ending it (settle, audit, receipt, in one
//! transaction), and the list/show shapes the CLI and HTTP API print.

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Value, json};

use super::audit::{self, Record};
use super::budget;
use super::journal::{self, Event};
use super::request::{Effect, RunStatus};
use crate::canonical;
use crate::receipt::{self, Receipt};
use crate::spec::Usd;

#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: String,
    pub agent: String,
    pub trigger: String,
    pub actor: String,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub day: String,
    pub plan: Vec<Effect>,
    pub reserved_micros: i64,
    pub cost_micros: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

const COLUMNS: &str =
    "id, agent, trigger, actor, status, reason, day, plan, reserved_micros, cost_micros,
                       tokens_in, tokens_out, model, provider, started_at, finished_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let status: String = r.get(4)?;
    let plan: String = r.get(7)?;
    Ok(RunRow {
        id: r.get(0)?,
        agent: r.get(1)?,
        trigger: r.get(2)?,
        actor: r.get(3)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
        reason: r.get(5)?,
        day: r.get(6)?,
        // A plan that no longer parses runs nothing.
        plan: serde_json::from_str(&plan).unwrap_or_default(),
        reserved_micros: r.get(8)?,
        cost_micros: r.get(9)?,
        tokens_in: r.get(10)?,
        tokens_out: r.get(11)?,
        model: r.get(12)?,
        provider: r.get(13)?,
        started_at: r.get(14)?,
        finished_at: r.get(15)?,
    })
}

pub fn load(conn: &Connection, id: &str) -> rusqlite::Result<Option<RunRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

pub fn by_dedup_key(conn: &Connection, key: &str) -> rusqlite::Result<Option<RunRow>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM runs WHERE dedup_key = ?1"),
        [key],
        from_row,
    )
    .optional()
}

pub fn unfinished(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM runs WHERE status IN ('running', 'waiting') ORDER BY started_at",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

pub fn set_status(conn: &Connection, id: &str, status: RunStatus) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET status = ?2 WHERE id = ?1",
        params![id, status.as_str()],
    )?;
    Ok(())
}

/// Everything that ends a run, in one transaction: settle the budget, set the
/// final status, journal it, append the audit entry, sign and store the receipt.
pub fn finish(
    conn: &Connection,
    key: &SigningKey,
    fingerprint: &str,
    run: &RunRow,
    status: RunStatus,
    reason: Option<&str>,
    actual_micros: i64,
) -> rusqlite::Result<Receipt> {
    let now = jiff::Timestamp::now().to_string();
    budget::settle(
        conn,
        &run.agent,
        &run.day,
        run.reserved_micros,
        actual_micros,
    )?;
    conn.execute(
        "UPDATE runs SET status = ?2, reason = ?3, cost_micros = ?4, reserved_micros = 0, finished_at = ?5 WHERE id = ?1",
        params![run.id, status.as_str(), reason, actual_micros, now],
    )?;
    let cost = Usd::from_micros(actual_micros).dollars();
    // One readable line per run; the reason is Steward's own words (a gate's
    // refusal, an error), never a message's text.
    let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
    tracing::info!(
        "run {} {} ({}) {} ${cost:.4}{why}",
        run.id,
        run.agent,
        run.trigger,
        status.as_str()
    );
    journal::append(
        conn,
        &run.id,
        "run.finished",
        &json!({ "status": status.as_str(), "reason": reason, "costUsd": cost }),
    )?;
    let (audit_seq, audit_hash) = audit::append(
        conn,
        &Record {
            run_id: Some(&run.id),
            kind: "run.end",
            actor: &run.actor,
            subject: &run.agent,
            decision: status.as_str(),
            payload: &json!({ "reason": reason, "costUsd": cost }),
        },
    )?;
    let events = journal::events(conn, &run.id)?;
    let payload = json!({
        "version": 1,
        "runId": run.id,
        "agentName": run.agent,
        "status": status.as_str(),
        "reason": reason,
        "issuedAt": now,
        "journalHash": journal::hash(&events),
        "costUsd": cost,
        "tokensIn": run.tokens_in,
        "tokensOut": run.tokens_out,
        "model": run.model,
        "provider": run.provider,
        "trigger": run.trigger,
        "auditSeq": audit_seq,
        "auditHash": audit_hash,
        "keyFingerprint": fingerprint,
    });
    // Forwarded work: the remote receipts this run verified (also in the journal
    // the journalHash covers), named here so a reader sees them without the journal.
    let remote: Vec<Value> = events
        .iter()
        .filter(|e| e.kind == "runtime.verified")
        .filter_map(|e| serde_json::from_str::<Value>(&e.payload).ok())
        .map(|p| {
            json!({
                "runId": p["remoteRunId"], "status": p["status"], "costUsd": p["costUsd"],
                "signature": p["receipt"]["signature"], "keyFingerprint": p["keyFingerprint"],
            })
        })
        .collect();
    // Who let each contact-facing step go (or not): the owner, a named rule, expiry.
    let confirmations: Vec<Value> = events
        .iter()
        .filter_map(|e| Some((e.kind.strip_prefix("confirmation.")?, e)))
        .filter(|(decision, _)| *decision != "requested")
        .filter_map(|(decision, e)| {
            let p = serde_json::from_str::<Value>(&e.payload).ok()?;
            Some(json!({ "id": p["id"], "decision": decision, "by": p.get("by").cloned().unwrap_or(Value::Null) }))
        })
        .collect();
    // The owner's files this run read (paths; the journal has the query).
    let documents: Vec<Value> = events
        .iter()
        .filter(|e| e.kind == "documents.read")
        .filter_map(|e| serde_json::from_str::<Value>(&e.payload).ok())
        .flat_map(|p| p["paths"].as_array().cloned().unwrap_or_default())
        .collect();
    let mut payload = payload;
    if !documents.is_empty() {
        payload["documentsRead"] = Value::Array(documents);
    }
    if !remote.is_empty() {
        payload["remoteRuns"] = Value::Array(remote);
    }
    if !confirmations.is_empty() {
        payload["confirmations"] = Value::Array(confirmations);
    }
    let receipt = receipt::sign(key, payload);
    conn.prepare_cached(
        "INSERT INTO receipts (run_id, payload, signature, algorithm) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        run.id,
        canonical::to_string(&receipt.payload),
        receipt.signature,
        receipt.algorithm
    ])?;
    Ok(receipt)
}

/// The text a run's latest successful model step (`ask` or `forward`) got back
/// (or, with no model step after it, a documents read's best snippet and path),
/// trimmed; only steps before `before` when given. What `relay` sends, what an
/// owner turn answers and what the contact assistant checks as a draft.
pub fn model_answer(
    conn: &Connection,
    run_id: &str,
    before: Option<usize>,
) -> rusqlite::Result<Option<String>> {
    let before = before.map_or(i64::MAX, |s| s as i64);
    let result: Option<String> = conn
        .query_row(
            "SELECT result FROM steps WHERE run_id = ?1 AND step < ?2 AND kind IN ('ask', 'forward', 'readDocuments')
             AND state = 'done' ORDER BY step DESC, attempt DESC LIMIT 1",
            params![run_id, before],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(result
        .and_then(|r| serde_json::from_str::<Value>(&r).ok())
        .and_then(|v| v["text"].as_str().map(|t| t.trim().to_string()))
        .filter(|t| !t.is_empty()))
}

pub fn receipt(conn: &Connection, run_id: &str) -> rusqlite::Result<Option<Receipt>> {
    conn.query_row(
        "SELECT payload, signature, algorithm FROM receipts WHERE run_id = ?1",
        [run_id],
        |r| {
            let payload: String = r.get(0)?;
            Ok(Receipt {
                payload: serde_json::from_str(&payload)
                    .unwrap_or(serde_json::Value::String(payload)),
                signature: r.get(1)?,
                algorithm: r.get(2)?,
            })
        },
    )
    .optional()
}

/// A row of `steward runs --json` (the contract).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub id: String,
    pub agent: String,
    pub trigger: String,
    pub status: RunStatus,
    pub cost_usd: f64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub reason: Option<String>,
}

impl From<&RunRow> for RunSummary {
    fn from(r: &RunRow) -> Self {
        RunSummary {
            id: r.id.clone(),
            agent: r.agent.clone(),
            trigger: r.trigger.clone(),
            status: r.status,
            cost_usd: Usd::from_micros(r.cost_micros).dollars(),
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            reason: r.reason.clone(),
        }
    }
}

pub fn list(
    conn: &Connection,
    agent: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<RunSummary>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM runs WHERE (?1 IS NULL OR agent = ?1) ORDER BY started_at DESC, id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![agent, limit], from_row)?;
    rows.map(|r| r.map(|row| RunSummary::from(&row))).collect()
}

/// What the dashboard's Activity page filters by; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub agent: Option<String>,
    pub status: Option<String>,
    pub trigger: Option<String>,
}

/// The newest `limit` runs matching `f`, newest first. Ordered by id: an id
/// begins with its start millisecond (`new_id`), so the primary key's index
/// yields start order without sorting every run (10k runs: a sort of all of
/// them took the Activity page over its 10 ms). Only the filters given go into
/// the SQL, so SQLite can use `runs_by_agent` and `runs_by_status`.
pub fn filtered(conn: &Connection, f: &RunFilter, limit: u32) -> rusqlite::Result<Vec<RunSummary>> {
    let mut conds = Vec::new();
    let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
    for (col, v) in [
        ("agent", &f.agent),
        ("status", &f.status),
        ("trigger", &f.trigger),
    ] {
        if let Some(v) = v {
            conds.push(format!("{col} = ?"));
            args.push(v);
        }
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    args.push(&limit);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM runs {filter} ORDER BY id DESC LIMIT ?"
    ))?;
    let rows = stmt.query_map(&args[..], from_row)?;
    rows.map(|r| r.map(|row| RunSummary::from(&row))).collect()
}

/// `agent`'s newest run, through `runs_by_agent` (`list` takes a nullable
/// filter, which SQLite cannot plan onto the index).
pub fn last_of(conn: &Connection, agent: &str) -> rusqlite::Result<Option<RunSummary>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM runs WHERE agent = ?1 ORDER BY started_at DESC, id DESC LIMIT 1"
    ))?;
    Ok(stmt
        .query_row([agent], from_row)
        .optional()?
        .map(|r| RunSummary::from(&r)))
}

/// `steward runs show ID --json`: the summary plus journal and receipt.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub actor: String,
    pub plan: Vec<Effect>,
    pub journal: Vec<Event>,
    pub receipt: Option<Receipt>,
}

pub fn show(conn: &Connection, id: &str) -> rusqlite::Result<Option<RunDetail>> {
    let Some(row) = load(conn, id)? else {
        return Ok(None);
    };
    Ok(Some(RunDetail {
        summary: RunSummary::from(&row),
        actor: row.actor.clone(),
        plan: row.plan.clone(),
        journal: journal::events(conn, id)?,
        receipt: receipt(conn, id)?,
    }))
}
