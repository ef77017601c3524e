//! The tamper suite: someone with write access to steward.db (not to the
//! receipt key) edits, deletes from and truncates each pipeline table in turn;
//! each case records which check catches it: `audit verify` (the chain and
//! its anchored head), `receipts verify`, `doctor` (everything, every
//! receipt), and the boot check (`up`; incremental since the anchored
//! checkpoint). ARCHITECTURE.md carries the same table.

mod common;

use std::path::Path;

use rusqlite::Connection;
use steward::bridges::console::read_outbox;
use steward::pipeline::{
    Actor, Decision, Effect, Pipeline, RunRequest, RunStatus, Trigger, anchor, approval, audit,
    integrity, verify,
};
use steward::spec::Usd;

const KEY: [u8; 32] = common::CONSOLE_KEY;

struct Rig {
    dir: tempfile::TempDir,
    pipeline: Pipeline,
    /// r1 noop, r2 an approved and sent reply, r3 noop, r4 a reply waiting.
    runs: [String; 4],
    /// The confirmations of r2 and r4.
    conf: [String; 2],
}

fn pipeline(dir: &Path, store: steward::store::Store) -> Pipeline {
    common::console_pipeline_on(dir, store, common::default_settings())
}

fn noop() -> RunRequest {
    request("concierge", Trigger::Manual, Actor::Console, Effect::Noop)
}

fn draft(text: &str) -> RunRequest {
    let ann = Actor::Handle {
        channel: "imessage".into(),
        handle: "+15125550000".into(),
    };
    let reply = Effect::Reply {
        channel: "console".into(),
        to: "ann".into(),
        text: text.into(),
    };
    request("imessage-assistant", Trigger::Contact, ann, reply)
}

fn request(agent: &str, trigger: Trigger, actor: Actor, effect: Effect) -> RunRequest {
    RunRequest {
        agent: agent.into(),
        trigger,
        actor,
        input: "input".into(),
        dedup_key: None,
        plan: vec![effect],
        forecast_usd: Usd(0),
    }
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store = steward::store::Store::open(&dir.path().join("steward.db")).unwrap();
    let p = pipeline(dir.path(), store);
    let r1 = p.run(noop()).await.unwrap().run_id;
    let w = p.run(draft("see you at 6")).await.unwrap();
    let done = p
        .decide(
            &w.confirmations[0],
            Decision::Approved,
            None,
            &Actor::Console,
        )
        .await
        .unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    let r3 = p.run(noop()).await.unwrap().run_id;
    let r4 = p.run(draft("dinner friday?")).await.unwrap();
    assert_eq!(r4.status, RunStatus::Waiting);
    Rig {
        runs: [r1, w.run_id, r3, r4.run_id],
        conf: [w.confirmations[0].clone(), r4.confirmations[0].clone()],
        pipeline: p,
        dir,
    }
}

impl Rig {
    fn outbox(&self) -> usize {
        read_outbox(&self.dir.path().join("console/outbox.jsonl"))
            .unwrap()
            .len()
    }

    /// What an intruder with the sqlite3 shell would do: foreign keys off.
    fn tamper(&self, sql: &str) {
        let c = Connection::open(self.dir.path().join("steward.db")).unwrap();
        c.execute_batch(&format!("PRAGMA foreign_keys = OFF; {sql}"))
            .unwrap();
    }

    /// Which checks catch the database as it is now: [audit verify, receipts verify, doctor, boot].
    async fn caught(&self) -> [bool; 4] {
        let db = self.dir.path().join("steward.db");
        let head = anchor::path_for(&db);
        let key = ed25519_dalek::SigningKey::from_bytes(&KEY);
        let vk = key.verifying_key();
        let conn = Connection::open(&db).unwrap();
        let audit_verify = !audit::verify(&conn).unwrap().ok
            || matches!(
                anchor::check(&conn, &head, &vk).unwrap(),
                anchor::Checked::Problem(_)
            );
        let receipts = verify::all(&conn, &vk).unwrap().iter().any(|c| !c.valid);
        let fp = steward::keys::fingerprint(&key);
        let doctor = integrity::check(&conn, &vk, &fp, &head, Some(0))
            .unwrap()
            .is_err();
        // A fresh process on the same files, as `steward up` would be.
        let store = steward::store::Store::open(&db).unwrap();
        let boot = pipeline(self.dir.path(), store)
            .check_integrity()
            .await
            .unwrap()
            .is_some();
        [audit_verify, receipts, doctor, boot]
    }
}

type Tamper = fn(&Rig);

/// Each case: table, what was done, the tampering, and [audit, receipts, doctor, boot].
fn cases() -> Vec<(&'static str, &'static str, Tamper, [bool; 4])> {
    const ALL: [bool; 4] = [true; 4];
    const ALL_BUT_AUDIT: [bool; 4] = [false, true, true, true];
    vec![
        (
            "audit",
            "edit a row",
            |r| r.tamper("UPDATE audit SET decision = 'allow!' WHERE seq = 2"),
            [true, false, true, false],
        ),
        (
            "audit",
            "edit a row, recompute every hash",
            rewrite_chain,
            ALL,
        ),
        (
            "audit",
            "delete the newest 3 rows",
            |r| r.tamper("DELETE FROM audit WHERE seq > (SELECT MAX(seq) - 3 FROM audit)"),
            [true, false, true, true],
        ),
        ("audit", "truncate", |r| r.tamper("DELETE FROM audit"), ALL),
        (
            "runs+all",
            "delete the newest run everywhere",
            delete_newest_run,
            [true, false, true, true],
        ),
        (
            "journal",
            "edit a row of an old run",
            |r| {
                r.tamper(&format!(
                    "UPDATE journal SET payload = payload || ' ' WHERE run_id = '{}' AND seq = 1",
                    r.runs[0]
                ))
            },
            [false, true, true, false],
        ),
        (
            "journal",
            "delete the approval of a sent reply",
            |r| {
                r.tamper(&format!(
                    "DELETE FROM journal WHERE run_id = '{}' AND kind = 'confirmation.approved'",
                    r.runs[1]
                ))
            },
            [false, true, true, false],
        ),
        (
            "journal",
            "truncate",
            |r| r.tamper("DELETE FROM journal"),
            ALL_BUT_AUDIT,
        ),
        (
            "receipts",
            "edit a payload",
            |r| {
                r.tamper(&format!("UPDATE receipts SET payload = replace(payload, 'succeeded', 'refused') WHERE run_id = '{}'", r.runs[0]))
            },
            [false, true, true, false],
        ),
        (
            "receipts",
            "delete an old one",
            |r| {
                r.tamper(&format!(
                    "DELETE FROM receipts WHERE run_id = '{}'",
                    r.runs[0]
                ))
            },
            [false, true, true, false],
        ),
        (
            "receipts",
            "delete the newest",
            |r| {
                r.tamper(&format!(
                    "DELETE FROM receipts WHERE run_id = '{}'",
                    r.runs[2]
                ))
            },
            [true, true, true, true],
        ),
        (
            "receipts",
            "truncate",
            |r| r.tamper("DELETE FROM receipts"),
            ALL,
        ),
        (
            "runs",
            "edit a status",
            |r| {
                r.tamper(&format!(
                    "UPDATE runs SET status = 'failed' WHERE id = '{}'",
                    r.runs[0]
                ))
            },
            [false, true, true, false],
        ),
        (
            "runs",
            "delete one",
            |r| r.tamper(&format!("DELETE FROM runs WHERE id = '{}'", r.runs[0])),
            [false, true, true, false],
        ),
        (
            "runs",
            "truncate",
            |r| r.tamper("DELETE FROM runs"),
            [false, true, true, false],
        ),
        (
            "confirmations",
            "approve a pending draft",
            |r| {
                r.tamper(&format!("UPDATE confirmations SET status = 'approved', decided_by = 'console' WHERE id = '{}'", r.conf[1]))
            },
            [false, false, true, true],
        ),
        (
            "confirmations",
            "edit a sent reply's text",
            |r| {
                r.tamper(&format!(
                    "UPDATE confirmations SET final_text = 'I quit' WHERE id = '{}'",
                    r.conf[0]
                ))
            },
            [false, false, true, false],
        ),
        (
            "confirmations",
            "delete one",
            |r| {
                r.tamper(&format!(
                    "DELETE FROM confirmations WHERE id = '{}'",
                    r.conf[0]
                ))
            },
            [false, false, true, false],
        ),
        (
            "confirmations",
            "truncate",
            |r| r.tamper("DELETE FROM confirmations"),
            [false, false, true, false],
        ),
        // Operational state, not evidence: a changed step is checked against the
        // bridge's outbound ledger before anything is sent again.
        (
            "steps",
            "truncate",
            |r| r.tamper("DELETE FROM steps"),
            [false, false, false, false],
        ),
    ]
}

fn rewrite_chain(r: &Rig) {
    r.tamper("UPDATE audit SET decision = 'allow!' WHERE seq = 2");
    let c = Connection::open(r.dir.path().join("steward.db")).unwrap();
    let mut prev = audit::GENESIS.to_string();
    let rows: Vec<(i64, audit::Entry)> = c
        .prepare("SELECT seq, ts, run_id, kind, actor, subject, decision, payload_digest FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |x| {
            Ok((
                x.get(0)?,
                audit::Entry {
                    seq: x.get(0)?,
                    ts: x.get(1)?,
                    run_id: x.get(2)?,
                    kind: x.get(3)?,
                    actor: x.get(4)?,
                    subject: x.get(5)?,
                    decision: x.get(6)?,
                    payload_digest: x.get(7)?,
                    prev_hash: String::new(),
                    hash: String::new(),
                },
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (seq, mut e) in rows {
        e.prev_hash = prev;
        e.hash = e.compute_hash();
        c.execute(
            "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
            rusqlite::params![seq, e.prev_hash, e.hash],
        )
        .unwrap();
        prev = e.hash;
    }
    assert!(
        audit::verify(&c).unwrap().ok,
        "the rewritten chain verifies on its own"
    );
}

fn delete_newest_run(r: &Rig) {
    // r4 is the newest run: every row it left, in every table.
    let id = &r.runs[3];
    r.tamper(&format!(
        "DELETE FROM audit WHERE seq >= (SELECT MIN(seq) FROM audit WHERE run_id = '{id}');
         DELETE FROM journal WHERE run_id = '{id}'; DELETE FROM steps WHERE run_id = '{id}';
         DELETE FROM confirmations WHERE run_id = '{id}'; DELETE FROM receipts WHERE run_id = '{id}';
         DELETE FROM runs WHERE id = '{id}';"
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tampering_of_the_pipeline_tables_is_caught_by_the_checks_the_table_names() {
    let rig0 = rig().await;
    assert_eq!(
        rig0.caught().await,
        [false; 4],
        "an untouched store passes every check"
    );
    let mut table = String::from(
        "| table | tampering | audit verify | receipts verify | doctor | boot |\n|---|---|---|---|---|---|\n",
    );
    let mut wrong = Vec::new();
    for (t, what, tamper, expected) in cases() {
        let r = rig().await;
        tamper(&r);
        let got = r.caught().await;
        let mark = |b: bool| if b { "caught" } else { "—" };
        table.push_str(&format!(
            "| {t} | {what} | {} | {} | {} | {} |\n",
            mark(got[0]),
            mark(got[1]),
            mark(got[2]),
            mark(got[3])
        ));
        if got != expected {
            wrong.push(format!("{t} / {what}: expected {expected:?}, got {got:?}"));
        }
        if t != "steps" {
            assert!(
                got[2],
                "{t} / {what}: doctor catches every tampering of evidence"
            );
        }
    }
    println!("{table}");
    assert!(wrong.is_empty(), "{}\n{table}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_written_into_the_database_sends_nothing_and_is_refused_on_the_record() {
    let r = rig().await;
    let sent_before = r.outbox();
    r.tamper(&format!(
        "UPDATE confirmations SET status = 'approved', final_text = text, decided_by = 'console' WHERE id = '{}'",
        r.conf[1]
    ));
    // What `steward up` does after its boot check: resume unfinished runs.
    let store = r.pipeline.store().clone();
    let p = pipeline(r.dir.path(), store);
    let out = p.resume().await.unwrap();
    assert_eq!(r.outbox(), sent_before, "nothing reached the contact");
    let run = out.iter().find(|o| o.run_id == r.runs[3]).expect("resumed");
    assert_eq!(run.status, RunStatus::Refused);
    let why = run.reason.as_deref().unwrap();
    assert!(
        why.contains("no signed decision") && why.contains("nothing was sent"),
        "{why}"
    );
    // The refusal is itself on the record, and the honest receipts still verify.
    let c = Connection::open(r.dir.path().join("steward.db")).unwrap();
    let tamper_rows: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE kind = 'tamper'",
            [],
            |x| x.get(0),
        )
        .unwrap();
    assert_eq!(tamper_rows, 1);
    assert!(audit::verify(&c).unwrap().ok);
    let vk = ed25519_dalek::SigningKey::from_bytes(&KEY).verifying_key();
    assert!(verify::all(&c, &vk).unwrap().iter().all(|x| x.valid));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_text_changed_after_the_decision_no_longer_proves() {
    let r = rig().await;
    let vk = ed25519_dalek::SigningKey::from_bytes(&KEY).verifying_key();
    let db = r.dir.path().join("steward.db");
    let c = Connection::open(&db).unwrap();
    assert_eq!(approval::prove(&c, &vk, &r.conf[0]).unwrap(), Ok(()));
    for (sql, what) in [
        (
            "UPDATE confirmations SET final_text = 'I quit' WHERE id = ?1",
            "text",
        ),
        (
            "UPDATE confirmations SET recipient = 'boss' WHERE id = ?1",
            "recipient",
        ),
    ] {
        let r2 = rig().await;
        let c2 = Connection::open(r2.dir.path().join("steward.db")).unwrap();
        c2.execute(sql, [&r2.conf[0]]).unwrap();
        assert_eq!(
            approval::prove(&c2, &vk, &r2.conf[0]).unwrap(),
            Err(approval::Unproven::Changed(r2.conf[0].clone(), what))
        );
    }
    // Another key cannot have signed it.
    let other = ed25519_dalek::SigningKey::from_bytes(&[6u8; 32]).verifying_key();
    assert_eq!(
        approval::prove(&c, &other, &r.conf[0]).unwrap(),
        Err(approval::Unproven::BadSignature(r.conf[0].clone()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_fast_boot_check_leaves_the_background_full_check_seals() {
    let r = rig().await;
    // An old run's journal: before the anchored checkpoint, so boot does not re-read it.
    r.tamper(&format!(
        "UPDATE journal SET payload = payload || ' ' WHERE run_id = '{}' AND seq = 1",
        r.runs[0]
    ));
    let p = pipeline(r.dir.path(), r.pipeline.store().clone());
    assert_eq!(
        p.check_integrity().await.unwrap(),
        None,
        "boot is incremental"
    );
    let why = p.check_integrity_full().await.unwrap().expect("sealed");
    assert!(why.contains(&r.runs[0]), "{why}");
    assert_eq!(p.run(noop()).await.unwrap().status, RunStatus::Refused);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_newest_entries_seals_the_next_boot_and_refuses_every_run() {
    let r = rig().await;
    assert!(
        anchor::path_for(&r.dir.path().join("steward.db")).exists(),
        "anchored as it ran"
    );
    delete_newest_run(&r);
    let store = r.pipeline.store().clone();
    let p = pipeline(r.dir.path(), store);
    let why = p.check_integrity().await.unwrap().expect("sealed");
    assert!(why.contains("newest entries were deleted"), "{why}");
    let refused = p.run(noop()).await.unwrap();
    assert_eq!(refused.status, RunStatus::Refused);
    // A sealed pipeline never re-anchors: the file still names the lost head.
    let c = Connection::open(r.dir.path().join("steward.db")).unwrap();
    let vk = ed25519_dalek::SigningKey::from_bytes(&KEY).verifying_key();
    assert!(matches!(
        anchor::check(&c, &anchor::path_for(&r.dir.path().join("steward.db")), &vk).unwrap(),
        anchor::Checked::Problem(_)
    ));
}
