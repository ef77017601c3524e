//! Issue 22 through the assistant and the owner's self-chat, with the model
//! double on 127.0.0.1: a draft request carries its cap; a model that never
//! answers fails the draft at its deadline (the owner told once, nothing sent,
//! nothing late); a long, looping owner answer is collapsed, cut for the chat,
//! and the rest comes with `more`.

mod assistant_rig;
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use steward::assistant::Outcome;
use steward::config::CallLimitsConfig;
use steward::pipeline::trim::{MORE_HINT, readable_chars};

use assistant_rig::*;

fn deadline(cap: &str, seconds: u64) -> BTreeMap<String, CallLimitsConfig> {
    let mut limits = BTreeMap::new();
    limits.insert(
        cap.to_string(),
        CallLimitsConfig {
            deadline_seconds: Some(seconds),
            ..Default::default()
        },
    );
    limits
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draft_request_carries_the_draft_cap_and_stops() {
    let mut r = rig();
    assert!(matches!(
        r.contact("are we still on for dinner friday at 7?").await,
        Outcome::Drafted { .. }
    ));
    let body = r.model.last_body.lock().unwrap().clone();
    assert_eq!(body["max_tokens"], 160, "{body}");
    assert!(
        body["stop"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "\nthem:")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draft_that_misses_its_deadline_fails_once_and_is_never_sent() {
    let mut r = rig_limited(
        Duration::from_secs(1800),
        never_quiet(),
        &[("draft", "m")],
        deadline("draft", 1),
    );
    *r.model.mode.lock().unwrap() = "never".into();
    let started = Instant::now();
    let out = r
        .contact("hey are we still on for dinner friday at 7?")
        .await;
    let took = started.elapsed();
    let Outcome::NoDraft { why } = &out else {
        panic!("{out:?}")
    };
    assert!(why.contains("within 1 s"), "{why}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // One model call: a failed draft is not regenerated.
    assert_eq!(r.model.calls.load(Ordering::SeqCst), 1);
    let told = r.outbox("owner");
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].starts_with("⚠️ couldn't draft a reply to Ann Lee")
            && told[0].contains("nothing was sent"),
        "{told:?}"
    );
    // Nothing arrives late: the call was cancelled, not abandoned.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(r.outbox("contact").is_empty());
    assert_eq!(r.outbox("owner").len(), 1);
    let pending = r
        .store
        .read(|c| Ok(steward::pipeline::confirm::list_pending(c)?))
        .await
        .unwrap();
    assert!(pending.is_empty());
}

/// A looping, page-long answer as a 135M model writes one.
fn rambling() -> String {
    let mut text = String::from("Here is your focus for today.\n");
    for _ in 0..12 {
        text.push_str("Focus on the deck.\n");
    }
    for i in 0..80 {
        text.push_str(&format!("Point {i}: finish item {i} before noon. "));
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_owner_answer_is_cut_for_the_chat_and_more_sends_the_rest() {
    let r = rig_full(
        Duration::from_secs(1800),
        never_quiet(),
        &[("draft", "m"), ("reason", "m")],
    );
    *r.model.mode.lock().unwrap() = rambling();
    let first = r.say("what should I focus on today?").await;
    assert_eq!(
        r.model.last_body.lock().unwrap()["max_tokens"],
        400,
        "chief-of-staff's own cap"
    );
    let max = readable_chars("console");
    assert!(first.chars().count() <= max, "{}", first.chars().count());
    assert!(first.ends_with(MORE_HINT), "{first}");
    assert_eq!(
        first.matches("Focus on the deck.").count(),
        1,
        "repeats collapsed: {first}"
    );
    assert_eq!(r.outbox("owner").last(), Some(&first), "the relay sent it");

    let mut pieces = vec![first.trim_end_matches(MORE_HINT).trim().to_string()];
    for _ in 0..10 {
        let next = r.say("more").await;
        assert!(next.chars().count() <= max);
        if next.starts_with("Nothing more") {
            break;
        }
        pieces.push(next.trim_end_matches(MORE_HINT).trim().to_string());
    }
    assert!(pieces.len() >= 2, "{pieces:?}");
    let whole = steward::pipeline::trim::collapse_repeats(&rambling());
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(squash(&pieces.join(" ")), squash(&whole));
    assert!(r.say("more").await.starts_with("Nothing more"));
}
