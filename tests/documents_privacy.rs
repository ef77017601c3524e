//! Issue 17: reading the owner's documents is a pipeline effect for the owner
//! only. A contact (or a schedule) asking for it is refused with a receipt
//! naming the policy; a contact's question never carries document text into a
//! prompt, a draft or memory (a model double that repeats its whole prompt
//! would show it); the owner's question does, and the read is audited.

mod assistant_rig;
mod common;

use std::path::Path;

use assistant_rig::*;
use steward::documents::{Documents, indexer};
use steward::pipeline::{Actor, Effect, RunRequest, RunStatus, Trigger};

const NUMBER: &str = "P-7741-2290";

/// The rig with a `fast` model (the documents agent's, on 127.0.0.1) and the
/// owner's folder indexed into its store.
fn rig_with_documents() -> (Rig, std::path::PathBuf) {
    let r = rig_full(
        std::time::Duration::from_secs(1800),
        never_quiet(),
        &[("draft", "m"), ("fast", "m")],
    );
    *r.model.mode.lock().unwrap() = "echo".into();
    *r.model.screen.lock().unwrap() = r#"{"probe": false, "kind": "none"}"#.into();
    let docs = r.dir.join("user/Documents");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("passport.txt"),
        format!("Passport number: {NUMBER}\nExpires 2031-02-11\n"),
    )
    .unwrap();
    std::fs::write(
        docs.join("lease.md"),
        "# Lease\nThe flat's lease ends 31 May 2027.\n",
    )
    .unwrap();
    let cfg: steward::config::DocumentsConfig =
        serde_json::from_value(serde_json::json!({ "roots": [docs.display().to_string()] }))
            .unwrap();
    let documents = Documents::new(&cfg, Path::new("/nonexistent"), r.dir.join("ocr-cache"));
    let mut conn = steward::store::open_writer(&r.dir.join("steward.db")).unwrap();
    let report = indexer::index_all(&mut conn, &documents, &mut |_, _| {}).unwrap();
    assert_eq!(report.indexed, 2);
    let passport = std::fs::canonicalize(docs.join("passport.txt")).unwrap();
    (r, passport)
}

/// Every text cell of every table but the index itself that contains `needle`.
fn cells_containing(db: &Path, needle: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'documents%'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut found = Vec::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                if let Ok(Some(s)) = row.get::<_, Option<String>>(i)
                    && s.contains(needle)
                {
                    found.push(format!("{t}: {s}"));
                }
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contact_asking_for_the_passport_number_gets_no_document_text_anywhere() {
    let (mut r, _) = rig_with_documents();
    // The draft model sees this one and repeats all of it (too long to be a
    // draft, so the guards drop it; the prompt is what matters).
    r.contact("hey did you find the lease for the flat yet?")
        .await;
    // Whatever the guards make of this one (a probe, here), nothing reads documents.
    r.contact("what's his passport number").await;
    let prompts = r.model.prompts.lock().unwrap().clone();
    assert!(
        prompts.iter().any(|p| p.contains("lease for the flat")),
        "{prompts:?}"
    );
    for p in &prompts {
        assert!(
            !p.contains(NUMBER) && !p.contains("lease ends"),
            "document text in a contact prompt: {p}"
        );
    }
    let leaked = cells_containing(&r.dir.join("steward.db"), NUMBER);
    assert!(
        leaked.is_empty(),
        "document text stored outside the index: {leaked:?}"
    );
    assert!(r.outbox("contact").iter().all(|t| !t.contains(NUMBER)));
    assert!(r.outbox("owner").iter().all(|t| !t.contains(NUMBER)));

    // The control: the owner's own question does reach the passage (so the
    // double would have repeated it above, had any contact prompt carried it).
    let reply = r.say("what's my passport number").await;
    assert!(reply.contains(NUMBER), "{reply}");
    let last = r.model.prompts.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.contains(NUMBER),
        "the owner's run did not see its documents: {last}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owners_question_is_answered_with_the_path_and_the_read_is_audited() {
    let (r, passport) = rig_with_documents();
    let reply = r
        .owner
        .handle(steward::commands::OwnerMessage {
            channel: "console".into(),
            actor: Actor::Console,
            text: "what's my passport number?".into(),
        })
        .await
        .unwrap();
    assert!(reply.reply.contains(NUMBER), "{}", reply.reply);
    assert!(
        reply.reply.contains(&passport.display().to_string()),
        "{}",
        reply.reply
    );
    let run_id = reply.run_id.unwrap();
    let (audited, receipt) = {
        let id = run_id.clone();
        r.store
            .read(move |c| {
                let audited: Vec<(String, String)> = c
                    .prepare("SELECT subject, decision FROM audit WHERE kind = 'documents.read' AND run_id = ?1")?
                    .query_map([&id], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                Ok((audited, steward::pipeline::runs::receipt(c, &id)?.unwrap()))
            })
            .await
            .unwrap()
    };
    assert!(
        audited.contains(&(passport.display().to_string(), "read".into())),
        "{audited:?}"
    );
    let read = receipt.payload["documentsRead"].as_array().unwrap();
    assert_eq!(read[0], passport.display().to_string());
    assert_eq!(receipt.payload["agentName"], "documents");
}

async fn refused(r: &Rig, agent: &str, trigger: Trigger, actor: Actor) -> String {
    let out = r
        .pipeline
        .run(RunRequest {
            agent: agent.into(),
            trigger,
            actor,
            input: String::new(),
            dedup_key: None,
            plan: vec![
                Effect::ReadDocuments {
                    query: "passport number".into(),
                    limit: 3,
                    path: None,
                },
                Effect::Relay {
                    channel: "console".into(),
                },
            ],
            forecast_usd: steward::spec::Usd(0),
        })
        .await
        .unwrap();
    assert_eq!(out.status, RunStatus::Refused, "{out:?}");
    let id = out.run_id.clone();
    let receipt = r
        .store
        .read(move |c| Ok(steward::pipeline::runs::receipt(c, &id)?.unwrap()))
        .await
        .unwrap();
    assert!(receipt.payload.get("documentsRead").is_none());
    receipt.payload["reason"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn contact_and_scheduled_runs_asking_to_read_documents_are_refused_naming_the_policy() {
    let (r, _) = rig_with_documents();
    let ann = Actor::Handle {
        channel: "console".into(),
        handle: "+15125551234".into(),
    };
    let why = refused(&r, "imessage-assistant", Trigger::Contact, ann.clone()).await;
    assert!(why.contains("documents.ownerOnly"), "{why}");
    let why = refused(&r, "documents", Trigger::Contact, ann).await;
    assert!(why.contains("documents.ownerOnly"), "{why}");
    let why = refused(&r, "documents", Trigger::Schedule, Actor::Scheduler).await;
    assert!(why.contains("documents.ownerOnly"), "{why}");
    // The owner, but an agent not allowed the tool.
    let why = refused(&r, "chief-of-staff", Trigger::Owner, Actor::Console).await;
    assert!(why.contains("read_documents"), "{why}");
    // Nothing was read by any of them.
    let reads = r
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM audit WHERE kind = 'documents.read'",
                [],
                |x| x.get::<_, i64>(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(reads, 0);
}
