//! The governed pipeline in-process: every gate's allow and refuse path, receipts
//! that verify offline, confirmations, dedup, tamper detection, and budgets under
//! concurrency. The crash-injection test against the real daemon is in crash.rs.

use std::path::Path;

use steward::bridges::console::{ConsoleBridge, read_outbox};
use steward::bridges::{Bridge, Bridges};
use steward::config::Config;
use steward::pipeline::{
    Actor, Decision, Effect, Pipeline, PipelineError, RunRequest, RunStatus, Settings, Trigger,
    audit, runs, verify,
};
use steward::receipt::{self, ReceiptError};
use steward::spec::{Roster, Usd};
use steward::store::Store;

struct Fixture {
    dir: tempfile::TempDir,
    pipeline: Pipeline,
}

impl Fixture {
    fn new(yaml: &str) -> Fixture {
        Fixture::with_agents(yaml, &[])
    }

    /// With `<home>/agents/NAME.yaml` overrides written before the roster loads.
    fn with_agents(yaml: &str, agents: &[(&str, String)]) -> Fixture {
        let config = Config::parse(yaml, Path::new("steward.yaml")).unwrap();
        Fixture::with_settings(Settings::from_config(&config), agents)
    }

    fn with_settings(settings: Settings, agents: &[(&str, String)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        if !agents.is_empty() {
            std::fs::create_dir(dir.path().join("agents")).unwrap();
        }
        for (name, text) in agents {
            std::fs::write(dir.path().join("agents").join(format!("{name}.yaml")), text).unwrap();
        }
        let store = Store::open(&dir.path().join("steward.db")).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
        let bridges = Bridges::new(vec![Bridge::Console(ConsoleBridge::new(dir.path()))]);
        let roster = Roster::load(dir.path());
        let pipeline = Pipeline::new(store, key, roster, settings, bridges);
        Fixture { dir, pipeline }
    }

    fn outbox(&self) -> Vec<steward::bridges::console::Delivery> {
        read_outbox(&self.dir.path().join("console/outbox.jsonl")).unwrap()
    }

    async fn receipt(&self, run_id: &str) -> receipt::Receipt {
        let id = run_id.to_string();
        self.pipeline
            .store()
            .read(move |c| Ok(runs::receipt(c, &id)?))
            .await
            .unwrap()
            .expect("every run has a receipt")
    }

    /// A contact run from Ann whose plan is one reply: it waits for the owner.
    async fn draft_to_ann(&self, text: &str) -> steward::pipeline::RunOutcome {
        let req = request(
            "imessage-assistant",
            Trigger::Contact,
            ann(),
            vec![reply(text)],
        );
        self.pipeline.run(req).await.unwrap()
    }

    /// A manual concierge run that does nothing but leave its receipt.
    async fn noop(&self) -> steward::pipeline::RunOutcome {
        let req = request(
            "concierge",
            Trigger::Manual,
            Actor::Console,
            vec![Effect::Noop],
        );
        self.pipeline.run(req).await.unwrap()
    }

    async fn verify_all(&self) -> Vec<verify::ReceiptCheck> {
        let key = self.pipeline.verifying_key();
        self.pipeline
            .store()
            .read(move |c| Ok(verify::all(c, &key)?))
            .await
            .unwrap()
    }

    async fn chain_ok(&self) -> bool {
        self.pipeline
            .store()
            .read(|c| Ok(audit::verify(c)?))
            .await
            .unwrap()
            .ok
    }

    async fn sql(&self, sql: &'static str) {
        self.pipeline
            .store()
            .write(move |c| Ok(c.execute_batch(sql)?))
            .await
            .unwrap();
    }
}

fn request(agent: &str, trigger: Trigger, actor: Actor, plan: Vec<Effect>) -> RunRequest {
    RunRequest {
        agent: agent.into(),
        trigger,
        actor,
        input: "input".into(),
        dedup_key: None,
        plan,
        forecast_usd: Usd(0),
    }
}

fn reply(text: &str) -> Effect {
    Effect::Reply {
        channel: "console".into(),
        to: "ann".into(),
        text: text.into(),
    }
}

fn ann() -> Actor {
    Actor::Handle {
        channel: "imessage".into(),
        handle: "+15125550000".into(),
    }
}

#[tokio::test]
async fn a_noop_run_succeeds_with_a_receipt_that_verifies_offline() {
    let f = Fixture::new("");
    let out = f.noop().await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let r = f.receipt(&out.run_id).await;
    // Offline: only the published public key and the receipt itself.
    let public = receipt::public_key_b64(&f.pipeline.verifying_key());
    let key = receipt::parse_public_key(&public).unwrap();
    assert_eq!(receipt::verify(&r, &key), Ok(()));
    for field in [
        "version",
        "runId",
        "agentName",
        "status",
        "issuedAt",
        "journalHash",
        "costUsd",
        "tokensIn",
        "tokensOut",
        "model",
        "provider",
        "trigger",
        "auditSeq",
        "auditHash",
        "keyFingerprint",
    ] {
        assert!(r.payload.get(field).is_some(), "receipt lacks {field}");
    }
    assert_eq!(r.payload["status"], "succeeded");
    assert_eq!(r.payload["keyFingerprint"], f.pipeline.fingerprint());
    assert!(f.verify_all().await.iter().all(|c| c.valid));
    assert!(f.chain_ok().await);
}

#[tokio::test]
async fn each_gate_refuses_with_a_valid_receipt_and_sends_nothing() {
    let f = Fixture::new("budget:\n  maxCostUsdPerDay: 0.01\n");
    let notify = Effect::NotifyOwner {
        channel: "console".into(),
        text: "hi".into(),
        regarding: None,
    };
    let cases = [
        // identity: a contact cannot start a manual run
        (
            request("concierge", Trigger::Manual, ann(), vec![notify.clone()]),
            "cannot come from",
        ),
        // policy: unknown agent
        (
            request("nobody", Trigger::Manual, Actor::Console, vec![]),
            "unknown agent",
        ),
        // policy: owner-facing agent messaging a contact
        (
            request(
                "concierge",
                Trigger::Manual,
                Actor::Console,
                vec![reply("x")],
            ),
            "may not message contacts",
        ),
        // budget: over the per-run cap
        (
            RunRequest {
                forecast_usd: Usd(30_000),
                ..request(
                    "concierge",
                    Trigger::Manual,
                    Actor::Console,
                    vec![notify.clone()],
                )
            },
            "per-run cap",
        ),
        // budget: over the global cap
        (
            RunRequest {
                forecast_usd: Usd(15_000),
                ..request(
                    "chief-of-staff",
                    Trigger::Manual,
                    Actor::Console,
                    vec![notify],
                )
            },
            "global budget",
        ),
    ];
    for (req, why) in cases {
        let out = f.pipeline.run(req).await.unwrap();
        assert_eq!(out.status, RunStatus::Refused, "{why}");
        assert!(
            out.reason.as_deref().unwrap().contains(why),
            "{:?} vs {why}",
            out.reason
        );
        let r = f.receipt(&out.run_id).await;
        assert_eq!(r.payload["status"], "refused");
        assert!(r.payload["reason"].as_str().unwrap().contains(why));
    }
    assert!(f.outbox().is_empty());
    let checks = f.verify_all().await;
    assert_eq!(checks.len(), 5);
    assert!(checks.iter().all(|c| c.valid), "{checks:?}");
    assert!(f.chain_ok().await);
}

#[tokio::test]
async fn an_invalid_spec_refuses_its_runs_with_the_parse_error() {
    let f = Fixture::with_agents(
        "",
        &[("broken", "name: broken\ntier: hourly\n".to_string())],
    );
    let out = f
        .pipeline
        .run(request(
            "broken",
            Trigger::Manual,
            Actor::Console,
            vec![Effect::Noop],
        ))
        .await
        .unwrap();
    assert_eq!(out.status, RunStatus::Refused);
    let reason = out.reason.unwrap();
    assert!(
        reason.contains("invalid spec") && reason.contains("broken.yaml:2:"),
        "{reason}"
    );
    assert_eq!(f.receipt(&out.run_id).await.payload["status"], "refused");
}

#[tokio::test]
async fn owner_notices_are_delivered_once_through_the_bridge() {
    let f = Fixture::new("");
    let plan = vec![Effect::NotifyOwner {
        channel: "console".into(),
        text: "📌 call the bank".into(),
        regarding: None,
    }];
    let req = RunRequest {
        dedup_key: Some("concierge:2026-11-22T10:00".into()),
        ..request("concierge", Trigger::Schedule, Actor::Scheduler, plan)
    };
    let first = f.pipeline.run(req.clone()).await.unwrap();
    assert_eq!(first.status, RunStatus::Succeeded);
    let again = f.pipeline.run(req).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.run_id, first.run_id);
    let sent = f.outbox();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].audience.as_str(), sent[0].text.as_str()),
        ("owner", "📌 call the bank")
    );
}

#[tokio::test]
async fn a_reply_waits_for_the_owner_and_sends_exactly_what_was_approved() {
    let f = Fixture::new("");
    let out = f.draft_to_ann("see you at 6").await;
    assert_eq!(out.status, RunStatus::Waiting);
    assert_eq!(out.confirmations.len(), 1);
    assert!(
        f.outbox().is_empty(),
        "nothing is sent before the owner says yes"
    );

    // A contact cannot approve.
    let err = f
        .pipeline
        .decide(&out.confirmations[0], Decision::Approved, None, &ann())
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::NotOwner(_)));
    assert!(f.outbox().is_empty());

    let done = f
        .pipeline
        .decide(
            &out.confirmations[0],
            Decision::Edited,
            Some("see you at 7".into()),
            &Actor::Console,
        )
        .await
        .unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    let sent = f.outbox();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].to.as_str(), sent[0].text.as_str()),
        ("ann", "see you at 7")
    );

    // Deciding again changes nothing and sends nothing.
    let err = f
        .pipeline
        .decide(
            &out.confirmations[0],
            Decision::Approved,
            None,
            &Actor::Console,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::AlreadyDecided { .. }));
    assert_eq!(f.outbox().len(), 1);
    assert!(f.verify_all().await.iter().all(|c| c.valid));
}

#[tokio::test]
async fn a_rejected_reply_is_never_sent() {
    let f = Fixture::new("");
    let out = f.draft_to_ann("no").await;
    let done = f
        .pipeline
        .decide(
            &out.confirmations[0],
            Decision::Rejected,
            None,
            &Actor::Console,
        )
        .await
        .unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    assert!(f.outbox().is_empty());
}

#[tokio::test]
async fn an_expired_confirmation_is_never_sent() {
    // steward.yaml refuses a zero TTL (issue 20); the setting itself can be zero.
    let mut settings = Settings::from_config(&Config::default());
    settings.confirm_ttl = jiff::SignedDuration::ZERO;
    let f = Fixture::with_settings(settings, &[]);
    let out = f.draft_to_ann("late").await;
    assert_eq!(out.status, RunStatus::Waiting);
    let err = f
        .pipeline
        .decide(
            &out.confirmations[0],
            Decision::Approved,
            None,
            &Actor::Console,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::Expired(_)), "{err}");
    assert!(f.outbox().is_empty());
    let r = f.receipt(&out.run_id).await;
    assert_eq!(r.payload["status"], "expired");
    // Resuming after a restart does not send it either.
    f.pipeline.resume().await.unwrap();
    assert!(f.outbox().is_empty());
}

#[tokio::test]
async fn flipping_any_stored_byte_fails_verification() {
    let f = Fixture::new("");
    let out = f.noop().await;
    assert!(f.verify_all().await[0].valid);

    // A journal row.
    f.sql("UPDATE journal SET payload = replace(payload, 'concierge', 'concierg3') WHERE seq = 1")
        .await;
    let check = &f.verify_all().await[0];
    assert_eq!(
        check.reason.as_deref(),
        Some(ReceiptError::Journal.to_string().as_str())
    );
    f.sql("UPDATE journal SET payload = replace(payload, 'concierg3', 'concierge') WHERE seq = 1")
        .await;
    assert!(f.verify_all().await[0].valid);

    // The receipt payload.
    f.sql("UPDATE receipts SET payload = replace(payload, '\"succeeded\"', '\"succeedeD\"')")
        .await;
    assert_eq!(
        f.verify_all().await[0].reason.as_deref(),
        Some(ReceiptError::Mismatch.to_string().as_str())
    );
    f.sql("UPDATE receipts SET payload = replace(payload, '\"succeedeD\"', '\"succeeded\"')")
        .await;

    // An audit row: the chain breaks there, and the receipt naming it fails.
    f.sql("UPDATE audit SET decision = 'allow!' WHERE seq = 1")
        .await;
    assert!(!f.chain_ok().await);
    f.sql("UPDATE audit SET hash = 'x' || substr(hash, 2) WHERE kind = 'run.end'")
        .await;
    assert_eq!(
        f.verify_all().await[0].reason.as_deref(),
        Some(ReceiptError::Audit.to_string().as_str())
    );
    let _ = out;
}

#[tokio::test]
async fn two_hundred_concurrent_runs_never_pass_a_hard_daily_cap() {
    let f = Fixture::new("budget:\n  maxCostUsdPerDay: 100\n");
    // imessage-assistant: $1.00/day. Each run reserves $0.03 and holds it while it waits.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let p = f.pipeline.clone();
        tasks.push(tokio::spawn(async move {
            let req = RunRequest {
                forecast_usd: Usd(30_000),
                ..request(
                    "imessage-assistant",
                    Trigger::Contact,
                    ann(),
                    vec![reply(&format!("r{i}"))],
                )
            };
            p.run(req).await.unwrap().status
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        if t.await.unwrap() == RunStatus::Waiting {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 33, "floor($1.00 / $0.03) runs fit under the cap");
    let day = f.pipeline.today();
    let reserved: i64 = f
        .pipeline
        .store()
        .read(move |c| Ok(c.query_row("SELECT reserved_micros FROM budget_usage WHERE scope = 'agent:imessage-assistant' AND day = ?1", [day], |r| r.get(0))?))
        .await
        .unwrap();
    assert!(
        reserved <= 1_000_000,
        "reserved {reserved} micros passes the cap"
    );
    assert_eq!(reserved, 33 * 30_000);
}

#[tokio::test]
async fn a_soft_limit_allows_and_notifies_the_owner_once_a_day() {
    let soft = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/agents/concierge.yaml"
    ))
    .unwrap()
    .replace("hardFail: true", "hardFail: false");
    let f = Fixture::with_agents("", &[("concierge", soft)]);
    // $0.45 forecast against a $0.50/day cap with notifyAtPct 80: past 80% at once.
    let req = || RunRequest {
        forecast_usd: Usd(450_000),
        ..request(
            "concierge",
            Trigger::Manual,
            Actor::Console,
            vec![Effect::Noop],
        )
    };
    for _ in 0..3 {
        // Over the $0.02 per-run cap and, later, the daily cap, but soft: allowed.
        assert_eq!(
            f.pipeline.run(req()).await.unwrap().status,
            RunStatus::Succeeded
        );
    }
    let pct_notices: i64 = f
        .pipeline
        .store()
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM journal WHERE kind = 'budget.notice' AND payload LIKE '%daily budget (%'", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(pct_notices, 1, "the notifyAtPct notice is sent once a day");
    // The owner heard each notice through the bridge, as an owner message.
    let told: Vec<_> = f
        .outbox()
        .into_iter()
        .filter(|d| d.audience == "owner")
        .collect();
    assert!(
        told.iter().any(|d| d.text.contains("daily budget")),
        "{told:?}"
    );
    assert!(told.iter().all(|d| d.text.starts_with("💸")));
}

#[tokio::test]
async fn a_broken_chain_or_a_swapped_key_seals_the_pipeline() {
    let f = Fixture::new("");
    f.noop().await;
    let waiting = f.draft_to_ann("hi").await;
    assert_eq!(f.pipeline.check_integrity().await.unwrap(), None);

    // A changed journal row of the last run seals it.
    f.sql("UPDATE journal SET payload = payload || ' ' WHERE seq = 1 AND run_id = (SELECT run_id FROM receipts ORDER BY rowid DESC LIMIT 1)").await;
    let why = f.pipeline.check_integrity().await.unwrap().expect("sealed");
    assert!(why.contains("journal"), "{why}");
    f.sql("UPDATE journal SET payload = rtrim(payload) WHERE seq = 1")
        .await;
    assert_eq!(f.pipeline.check_integrity().await.unwrap(), None);

    // Another key, same store: the last receipt's fingerprint does not match.
    let other = Pipeline::new(
        f.pipeline.store().clone(),
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
        Roster::load(f.dir.path()),
        Settings::from_config(&Config::default()),
        Bridges::new(vec![Bridge::Console(ConsoleBridge::new(f.dir.path()))]),
    );
    let why = other.check_integrity().await.unwrap().expect("sealed");
    assert!(why.contains("receipt key changed"), "{why}");
    let refused = other
        .run(request(
            "concierge",
            Trigger::Manual,
            Actor::Console,
            vec![Effect::Noop],
        ))
        .await
        .unwrap();
    assert_eq!(refused.status, RunStatus::Refused);
    assert!(refused.reason.unwrap().contains("receipt key changed"));
    // A sealed pipeline does not send, even on the owner's yes.
    let err = other
        .decide(
            &waiting.confirmations[0],
            Decision::Approved,
            None,
            &Actor::Console,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::Sealed(_)));
    assert!(f.outbox().is_empty());

    // A tampered chain row seals the original pipeline too (an old row: the
    // full check the daemon runs right after boot finds it).
    f.sql("UPDATE audit SET subject = 'policy!' WHERE seq = 2")
        .await;
    let why = f
        .pipeline
        .check_integrity_full()
        .await
        .unwrap()
        .expect("sealed");
    assert!(why.contains("seq 2"), "{why}");
    let out = f.noop().await;
    assert_eq!(out.status, RunStatus::Refused);
    assert_eq!(f.receipt(&out.run_id).await.payload["status"], "refused");
}
