//! Contact assistants through the console bridge and a model double on
//! 127.0.0.1: one confirmation per message; send, edit, no; expiry (also after
//! a restart); takeover; our own send is not a takeover; paused, kill switch and
//! quiet hours; standing approval; junk and timeouts. The guards (injection
//! corpus, probe window, duplicate hold, model check) are in assistant_guards.rs.

mod assistant_rig;
mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use steward::assistant::Outcome;
use steward::config::QuietHours;
use steward::guards::confidence::Tier;
use steward::memory::messages::{self, ChatKind};

use assistant_rig::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_message_gets_one_confirmation_and_1_send_sends_exactly_that_once() {
    let mut r = rig();
    let out = r.contact("are we still on friday?").await;
    let Outcome::Drafted {
        confirmation, tier, ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(tier, Tier::High, "short, to a known relationship");
    let prompts = r.outbox("owner");
    assert_eq!(prompts.len(), 1);
    assert_eq!(
        prompts[0],
        "✍️ 1 · Ann Lee: \"are we still on friday?\" → draft: \"yes! 7 works\" (high confidence) — reply \"1 send\", \"1 edit …\", \"1 no\""
    );
    let pending = r
        .store
        .read(|c| Ok(steward::pipeline::confirm::list_pending(c)?))
        .await
        .unwrap();
    assert_eq!(pending.len(), 1, "exactly one confirmation");
    assert_eq!(r.say("1 send").await, "✅ sent to Ann Lee.");
    assert_eq!(r.outbox("contact"), vec!["yes! 7 works"]);
    assert!(r.say("1 send").await.contains("no longer waiting"));
    assert_eq!(r.outbox("contact").len(), 1, "never twice");
    // The receipt names the confirmation and who gave it.
    let run = pending[0].run_id.clone();
    let receipt = r
        .store
        .read(move |c| Ok(steward::pipeline::runs::receipt(c, &run)?))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        receipt.payload["confirmations"][0]["id"],
        confirmation.as_str()
    );
    assert_eq!(receipt.payload["confirmations"][0]["by"], "console");
    steward::receipt::verify(&receipt, &r.pipeline.verifying_key()).unwrap();
    // Our own send, read back from the thread, is not the owner taking over.
    let ann = r.ann.clone();
    let echo = r.message(&ann, "yes! 7 works", true);
    let out = r.assistant.on_inbound(&echo, &now()).await.unwrap();
    assert_eq!(
        out,
        Outcome::Ignored {
            why: "our own send".into()
        }
    );
    assert!(
        matches!(r.contact("great").await, Outcome::Drafted { .. }),
        "not paused"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_sends_the_edit_and_no_sends_nothing() {
    let mut r = rig();
    r.contact("dinner at 8?").await;
    assert_eq!(r.say("1 edit make it 8:30").await, "✅ sent to Ann Lee.");
    r.contact("ok and drinks after?").await;
    assert_eq!(r.say("1 no").await, "👍 dropped — nothing sent to Ann Lee.");
    assert_eq!(r.outbox("contact"), vec!["make it 8:30"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_draft_is_never_sent_even_after_a_restart() {
    let mut r = rig_with(Duration::from_millis(300), never_quiet());
    r.contact("are we still on?").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(r.say("1 send").await.contains("no longer waiting"));
    let (pipeline, _store) = build(&r.dir, "http://127.0.0.1:9", Duration::from_secs(1800));
    pipeline.resume().await.unwrap();
    pipeline.expire_due().await.unwrap();
    assert!(r.outbox("contact").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_answering_in_the_thread_withdraws_the_draft_and_pauses_the_contact() {
    let mut r = rig();
    r.contact("are you coming?").await;
    let ann = r.ann.clone();
    let own = r.message(&ann, "yes leaving now", true);
    let out = r.assistant.on_inbound(&own, &now()).await.unwrap();
    assert_eq!(out, Outcome::Withdrawn { drafts: 1 });
    assert!(
        r.outbox("owner")
            .last()
            .unwrap()
            .contains("dropped my draft and paused Ann Lee")
    );
    assert!(r.say("1 send").await.contains("no longer waiting"));
    let calls = r.model.calls.load(Ordering::SeqCst);
    assert_eq!(
        r.contact("ok drive safe").await,
        Outcome::Ignored {
            why: "paused".into()
        }
    );
    assert_eq!(
        r.model.calls.load(Ordering::SeqCst),
        calls,
        "no draft while paused"
    );
    assert!(r.outbox("contact").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_contacts_and_the_kill_switch_get_no_draft() {
    let mut r = rig();
    assert!(
        r.say("pause Ann Lee for 1h")
            .await
            .starts_with("⏸ paused Ann Lee")
    );
    assert_eq!(
        r.contact("hello?").await,
        Outcome::Ignored {
            why: "paused".into()
        }
    );
    r.say("resume Ann Lee").await;
    r.say("pause").await;
    assert_eq!(
        r.contact("hello??").await,
        Outcome::Ignored {
            why: "paused".into()
        }
    );
    r.say("resume").await;
    r.say("kill switch on").await;
    assert_eq!(
        r.contact("hello???").await,
        Outcome::Ignored {
            why: "kill switch".into()
        }
    );
    assert_eq!(r.model.calls.load(Ordering::SeqCst), 0);
    r.say("kill switch off").await;
    assert!(matches!(r.contact("hello!").await, Outcome::Drafted { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_hours_queue_the_message_and_it_is_handled_after() {
    let quiet: QuietHours =
        serde_json::from_value(json!({ "start": "01:00", "end": "06:00" })).unwrap();
    let mut r = rig_with(Duration::from_secs(1800), quiet);
    let ann = r.ann.clone();
    let m = r.message(&ann, "you up?", false);
    let at_3am = jiff::civil::date(2026, 11, 22)
        .at(3, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap();
    assert_eq!(
        r.assistant.on_inbound(&m, &at_3am).await.unwrap(),
        Outcome::Queued
    );
    assert_eq!(r.assistant.drain(&at_3am).await.unwrap(), 0, "still quiet");
    assert_eq!(r.model.calls.load(Ordering::SeqCst), 0);
    let at_7am = jiff::civil::date(2026, 11, 22)
        .at(7, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap();
    assert_eq!(r.assistant.drain(&at_7am).await.unwrap(), 1);
    assert!(
        r.outbox("owner")[0].contains("\"you up?\""),
        "handled after quiet hours"
    );
    assert_eq!(r.assistant.drain(&at_7am).await.unwrap(), 0, "once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standing_approval_sends_a_high_confidence_draft_and_the_receipt_names_the_rule() {
    let mut r = rig();
    *r.model.mode.lock().unwrap() = "👍".into();
    let cara = r.person("Cara", "+15125550101");
    let m = r.message(&cara, "thanks for dinner!", false);
    let out = r.assistant.on_inbound(&m, &now()).await.unwrap();
    let Outcome::AutoSent { run_id } = out else {
        panic!("{out:?}")
    };
    assert_eq!(r.outbox("contact"), vec!["👍"]);
    let receipt = r
        .store
        .read(move |c| Ok(steward::pipeline::runs::receipt(c, &run_id)?))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        receipt.payload["confirmations"][0]["by"],
        "rule: auto send for Cara in the owner profile (confidence high)"
    );
    // Ann has no standing approval: asked as usual.
    assert!(matches!(
        r.contact("thanks!").await,
        Outcome::Drafted { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_that_returns_junk_or_stalls_sends_nothing_and_tells_the_owner() {
    let mut r = rig();
    *r.model.mode.lock().unwrap() = "junk".into();
    let out = r.contact("are we on?").await;
    assert!(matches!(out, Outcome::NoDraft { .. }), "{out:?}");
    assert_eq!(r.model.calls.load(Ordering::SeqCst), 2, "regenerated once");
    assert!(
        r.outbox("owner")
            .last()
            .unwrap()
            .contains("failed my checks")
    );
    *r.model.mode.lock().unwrap() = "slow".into();
    let out = r.contact("hello?").await;
    assert!(matches!(out, Outcome::NoDraft { .. }), "{out:?}");
    assert!(
        r.outbox("owner")
            .last()
            .unwrap()
            .starts_with("⚠️ couldn't draft a reply to Ann Lee")
    );
    assert!(r.outbox("contact").is_empty());
    let pending = r
        .store
        .read(|c| Ok(steward::pipeline::confirm::list_pending(c)?))
        .await
        .unwrap();
    assert!(pending.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_gets_drafts_only_when_monitored_and_the_owner_is_mentioned() {
    let mut r = rig();
    let ann = r.ann.clone();
    r.store
        .write_blocking(move |c| {
            let (g, _) = messages::upsert_chat(
                c,
                "console",
                "grp-1",
                ChatKind::Group,
                Some("Climbing crew"),
            )?;
            messages::add_member(c, g, &ann)?;
            Ok(())
        })
        .unwrap();
    let ann = r.ann.clone();
    let in_group = |r: &mut Rig, text: &str| {
        let mut m = r.message(&ann, text, false);
        m.chat_external_id = Some("grp-1".into());
        m.chat_kind = Some("group".into());
        m
    };
    let m = in_group(&mut r, "Priya are you coming saturday?");
    assert!(matches!(
        r.assistant.on_inbound(&m, &now()).await.unwrap(),
        Outcome::Ignored { .. }
    ));
    assert!(
        r.say("monitor climbing")
            .await
            .starts_with("👀 watching Climbing crew")
    );
    let m = in_group(&mut r, "who's bringing the rope?");
    assert!(
        matches!(
            r.assistant.on_inbound(&m, &now()).await.unwrap(),
            Outcome::Ignored { .. }
        ),
        "no mention"
    );
    let m = in_group(&mut r, "Priya are you coming saturday?");
    assert!(matches!(
        r.assistant.on_inbound(&m, &now()).await.unwrap(),
        Outcome::Drafted { .. }
    ));
    assert_eq!(r.say("1 send").await, "✅ sent to Climbing crew.");
    assert!(r.say("unmonitor climbing").await.starts_with("🙈"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_in_the_owner_asks_for_is_drafted_and_confirmed_like_any_send() {
    let mut r = rig();
    // Ann and the owner talked, long ago.
    let ann = r.ann.clone();
    r.message(&ann, "see you around!", false);
    r.message(&ann, "you too", true);
    *r.model.mode.lock().unwrap() = "hey! been a while, how are things?".into();
    // The keeper's nudge is item 1 of the list (the rig's messages are fresh, so
    // file the commitment as the keeper would).
    let ann = r.ann.clone();
    r.store
        .write_blocking(move |c| {
            c.execute(
                "INSERT INTO commitments (title, person_id, source, urgency, dedup_key, created_ms)
                 VALUES ('Reach out to Ann Lee', ?1, 'agent', 'fyi', 'relkeeper:test', 0)",
                [&ann],
            )?;
            let id = c.last_insert_rowid();
            steward::owner_state::set_list(c, &[steward::owner_state::ListItem::Commitment(id)])?;
            Ok(())
        })
        .unwrap();
    let prompt = r.say("1 draft").await;
    assert_eq!(
        prompt,
        "✍️ 1 · to Ann Lee (a check-in) → draft: \"hey! been a while, how are things?\" (medium confidence) — reply \"1 send\", \"1 edit …\", \"1 no\""
    );
    // The draft prompt held no owner secrets and asked for a first message.
    let last = r.model.prompts.lock().unwrap().last().unwrap().clone();
    assert!(
        last.contains("has not talked with Ann Lee in a while"),
        "{last}"
    );
    assert!(
        r.outbox("contact").is_empty(),
        "nothing sent before the yes"
    );
    assert_eq!(r.say("1 send").await, "✅ sent to Ann Lee.");
    assert_eq!(
        r.outbox("contact"),
        vec!["hey! been a while, how are things?"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_first_seen_long_after_it_was_sent_gets_no_draft() {
    let mut r = rig();
    let ann = r.ann.clone();
    let mut m = r.message(&ann, "are you around this weekend?", false);
    m.at_ms -= 2 * 24 * 3600 * 1000;
    let out = r.assistant.on_inbound(&m, &now()).await.unwrap();
    assert!(
        matches!(out, Outcome::Ignored { ref why } if why.starts_with("too old")),
        "{out:?}"
    );
    assert_eq!(r.model.calls.load(Ordering::SeqCst), 0);
}

/// Issue 18: one numbered list holds drafts and commitments together: the
/// brief numbers the waiting draft and the open reminder, and "2 done" and
/// "1 no" answer each by its number.
#[tokio::test(flavor = "multi_thread")]
async fn the_brief_numbers_drafts_and_commitments_in_one_list() {
    let mut r = rig();
    assert!(matches!(
        r.contact("are we still on for friday?").await,
        Outcome::Drafted { .. }
    ));
    let noted = r.say("remind me to call mom tomorrow").await;
    assert!(noted.starts_with("📌"), "{noted}");
    let brief = r.say("brief").await;
    assert!(
        brief.contains("  ✍️ 1 · Ann Lee: \"yes! 7 works\""),
        "{brief}"
    );
    assert!(brief.contains("  📌 2 · call mom"), "{brief}");
    assert!(
        brief.contains("reply \"1 send\" for a draft, \"2 done\""),
        "{brief}"
    );
    let done = r.say("2 done").await;
    assert!(done.contains("call mom"), "{done}");
    let open: i64 = r
        .store
        .write_blocking(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM commitments WHERE title = 'call mom' AND status = 'open'",
                [],
                |row| row.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(open, 0, "2 done closed the reminder");
    let dropped = r.say("1 no").await;
    assert_eq!(dropped, "👍 dropped — nothing sent to Ann Lee.");
    assert!(r.outbox("contact").is_empty(), "nothing was sent");
}
