//! Loop agents on tokio's paused clock: slots at the right local times across a
//! DST change, no double run of a slot after a restart, one catch-up after a
//! 3-day gap, quiet hours hold and release, nudge caps; each deterministic
//! agent with the reference's cases; ai-radar against a local feed with ETag.

mod common;
mod fixtures;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use jiff::Timestamp;
use serde_json::{Value, json};
use steward::agents::scheduler::{Clock, Scheduler, TokioClock};
use steward::commands::Owner;
use steward::config::QuietHours;
use steward::memory::messages::{self, ChatKind, Direction, NewMessage};
use steward::pipeline::{Pipeline, Settings};
use steward::profile::watch::SharedProfile;
use steward::store::Store;

struct Rig {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    store: Store,
    pipeline: Pipeline,
    owner: Owner,
    quiet: QuietHours,
}

fn quiet(start: &str, end: &str) -> QuietHours {
    serde_json::from_value(json!({ "start": start, "end": end })).unwrap()
}

fn rig(quiet_hours: QuietHours) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    if !path.join("agents").exists() {
        std::fs::create_dir_all(path.join("agents")).unwrap();
    }
    let (store, pipeline) = build(&path);
    let profile = steward::profile::parse("## My world\nLocation: America/Chicago\n").unwrap();
    let owner = Owner::new(pipeline.clone(), SharedProfile::new(profile), "US");
    Rig {
        _dir: dir,
        dir: path,
        store,
        pipeline,
        owner,
        quiet: quiet_hours,
    }
}

fn build(dir: &std::path::Path) -> (Store, Pipeline) {
    let mut config = steward::config::Config::default();
    config.budget.max_cost_usd_per_day = 100.0;
    let (pipeline, store) = common::console_pipeline(dir, Settings::from_config(&config));
    (store, pipeline)
}

impl Rig {
    fn scheduler(&self) -> Scheduler {
        Scheduler::new(self.owner.clone(), self.quiet)
    }

    fn runs(&self, agent: &str) -> Vec<(String, Option<String>)> {
        let a = agent.to_string();
        self.store
            .write_blocking(move |c| {
                let mut s = c.prepare(
                    "SELECT status, dedup_key FROM runs WHERE agent = ?1 ORDER BY started_at",
                )?;
                Ok(s.query_map([a], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?)
            })
            .unwrap()
    }

    fn owner_outbox(&self) -> Vec<String> {
        let Ok(text) = std::fs::read_to_string(self.dir.join("console/outbox.jsonl")) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["audience"] == "owner")
            .map(|v| v["text"].as_str().unwrap().to_string())
            .collect()
    }

    /// A person with a 1:1 chat and messages at `(unix seconds, from_me, text)`.
    fn person(&self, name: &str, phone: &str, lines: &[(i64, bool, &str)]) -> String {
        self.person_on("imessage", name, phone, lines)
    }

    /// A person whose 1:1 chat is on `channel`.
    fn person_on(
        &self,
        channel: &'static str,
        name: &str,
        phone: &str,
        lines: &[(i64, bool, &str)],
    ) -> String {
        let (name, phone) = (name.to_string(), phone.to_string());
        let lines: Vec<(i64, bool, String)> = lines
            .iter()
            .map(|(a, b, c)| (*a, *b, c.to_string()))
            .collect();
        self.store
            .write_blocking(move |c| {
                let h = steward::memory::Canonicalizer::new("US").canonicalize(&phone);
                let id = steward::memory::people::attach_card(c, &name, std::slice::from_ref(&h))?;
                let owner = steward::memory::people::ensure_owner(c, Some("Priya"), &[], "test")?;
                let (chat, _) = messages::upsert_chat(
                    c,
                    channel,
                    &format!("{channel};-;{phone}"),
                    ChatKind::Direct,
                    None,
                )?;
                messages::add_member(c, chat, &id)?;
                for (i, (at, mine, text)) in lines.iter().enumerate() {
                    let ext = format!("{phone}-{i}");
                    messages::insert_message(
                        c,
                        &NewMessage {
                            channel,
                            external_id: &ext,
                            chat_id: Some(chat),
                            sender_id: if *mine { &owner } else { &id },
                            person_id: &id,
                            handle: Some(h.as_str()),
                            direction: if *mine { Direction::Out } else { Direction::In },
                            text,
                            at_ms: at * 1000,
                            reply_to: None,
                            edited: false,
                            is_command: false,
                        },
                    )?;
                }
                Ok(id)
            })
            .unwrap()
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn slots_fire_at_local_times_across_a_dst_change_and_never_twice() {
    let r = rig(quiet("00:00", "00:00"));
    // Saturday 2026-03-07 12:00 CST; clocks spring forward on Sunday 03-08.
    let clock = TokioClock::new(ts("2026-03-07T18:00:00Z"));
    let s = r.scheduler();
    s.tick(clock.now()).await.unwrap(); // first sight: nothing is "missed"
    let step = Duration::from_secs(5 * 60);
    while clock.now() < ts("2026-03-09T15:00:00Z") {
        tokio::time::advance(step).await;
        s.tick(clock.now()).await.unwrap();
    }
    let briefs: Vec<Option<String>> = r
        .runs("chief-of-staff")
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    assert_eq!(
        briefs,
        vec![
            Some("chief-of-staff:2026-03-08T13:00:00Z".to_string()), // 08:00 CDT
            Some("chief-of-staff:2026-03-09T13:00:00Z".to_string()),
        ],
        "08:00 local on both days, across the change"
    );
    // Monday 09:00 CDT: the weekly relationship-keeper.
    assert_eq!(r.runs("relationship-keeper").len(), 1);
    // A restart (a new scheduler on the same store) at the same instant runs nothing again.
    let before = r.runs("concierge").len();
    assert!(before >= 40, "meso: every :00 and :45 ({before})");
    let again = Scheduler::new(r.owner.clone(), r.quiet);
    assert!(again.tick(clock.now()).await.unwrap().is_empty());
    assert_eq!(r.runs("concierge").len(), before);
    // Firing an old slot by hand is a duplicate, never a second run.
    let spec = r.pipeline.roster().get("chief-of-staff").unwrap().clone();
    let dup = again
        .fire(&spec, Some(ts("2026-03-08T13:00:00Z")), clock.now())
        .await
        .unwrap();
    assert!(dup.duplicate);
    assert_eq!(r.runs("chief-of-staff").len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_three_day_gap_is_one_catch_up_per_agent() {
    let r = rig(quiet("00:00", "00:00"));
    let clock = TokioClock::new(ts("2026-06-01T15:00:00Z"));
    let s = r.scheduler();
    s.tick(clock.now()).await.unwrap();
    // The Mac sleeps for three days.
    tokio::time::advance(Duration::from_secs(3 * 86_400)).await;
    let runs = s.tick(clock.now()).await.unwrap();
    let concierge = r.runs("concierge");
    assert_eq!(concierge.len(), 1, "one catch-up, not ninety-six");
    assert_eq!(
        concierge[0].1.as_deref(),
        Some("concierge:2026-06-04T15:00:00Z")
    );
    assert_eq!(r.runs("chief-of-staff").len(), 1);
    assert!(runs.len() >= 3);
}

#[tokio::test(start_paused = true)]
async fn quiet_hours_hold_nudges_and_release_them_after() {
    let r = rig(quiet("01:00", "06:00"));
    // 2026-06-02 01:50 CDT = 06:50Z.
    let clock = TokioClock::new(ts("2026-06-02T06:50:00Z"));
    let due = clock.now().as_millisecond() - 60_000;
    r.store
        .write_blocking(move |c| {
            c.execute(
                "INSERT INTO commitments (title, source, next_nudge_ms, created_ms) VALUES ('call the bank', 'owner', ?1, ?1)",
                [due],
            )?;
            Ok(())
        })
        .unwrap();
    let s = r.scheduler();
    let spec = r.pipeline.roster().get("concierge").unwrap().clone();
    s.fire(&spec, None, clock.now()).await.unwrap();
    assert!(r.owner_outbox().is_empty(), "held in quiet hours");
    tokio::time::advance(Duration::from_secs(4 * 3600 + 15 * 60)).await; // 06:05 CDT
    s.tick(clock.now()).await.unwrap();
    let out = r.owner_outbox();
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with("📥 while you were heads-down:\n📌 call the bank"),
        "{out:?}"
    );
    s.tick(clock.now()).await.unwrap();
    assert_eq!(r.owner_outbox().len(), 1, "released once");
}

#[tokio::test]
async fn concierge_numbers_its_nudges_caps_them_and_spaces_the_next_ones() {
    let r = rig(quiet("00:00", "00:00"));
    let now = Timestamp::now();
    let t = now.as_millisecond();
    r.store
        .write_blocking(move |c| {
            for i in 0..5 {
                c.execute(
                    "INSERT INTO commitments (title, source, next_nudge_ms, created_ms) VALUES (?1, 'owner', ?2, ?2)",
                    rusqlite::params![format!("task {i}"), t - 60_000],
                )?;
            }
            Ok(())
        })
        .unwrap();
    let s = r.scheduler();
    let spec = r.pipeline.roster().get("concierge").unwrap().clone();
    s.fire(&spec, None, now).await.unwrap();
    let out = r.owner_outbox();
    assert_eq!(out.len(), 3, "at most 3 a tick: {out:?}");
    assert!(out[0].starts_with("📌 1 · task 0 — reply"), "{out:?}");
    // "1 done" acts on the first nudged commitment.
    let reply = r
        .owner
        .handle(steward::commands::OwnerMessage {
            channel: "console".into(),
            actor: steward::pipeline::Actor::Console,
            text: "1 done".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.reply, "✅ done: task 0");
    // Spacing: a commitment just nudged (age ~1 min) is next due in 2 h.
    let next: i64 = r
        .store
        .write_blocking(|c| {
            Ok(c.query_row(
                "SELECT next_nudge_ms FROM commitments WHERE title = 'task 1'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(next - t, 2 * 3600 * 1000);
    assert_eq!(
        steward::agents::roster::owner_loops::next_nudge(0, 3 * 3600 * 1000),
        9 * 3600 * 1000
    );
    assert_eq!(
        steward::agents::roster::owner_loops::next_nudge(0, 9 * 3600 * 1000),
        33 * 3600 * 1000
    );
}

#[test]
fn promises_are_captured_and_hedges_are_not() {
    use steward::agents::roster::owner_loops::promise;
    assert_eq!(
        promise("I'll send you the deck tonight").as_deref(),
        Some("send you the deck tonight")
    );
    assert_eq!(
        promise("ok! I will call you tomorrow").as_deref(),
        Some("call you tomorrow")
    );
    for no in [
        "I'll try",
        "I'll see what I can do",
        "I'll be there",
        "I won't send it",
        "will you send it?",
        "catch you later",
    ] {
        assert_eq!(promise(no), None, "{no}");
    }
}

#[tokio::test]
async fn financial_sentinel_flags_only_real_increases_once_a_month() {
    let r = rig(quiet("00:00", "00:00"));
    let now = Timestamp::now().as_second();
    let day = 86_400;
    r.person(
        "Billing",
        "+18005550100",
        &[
            (
                now - 40 * day,
                false,
                "Your Netflix payment of $50.00 was charged",
            ),
            (
                now - 10 * day,
                false,
                "Your Netflix payment of $60.00 was charged",
            ),
            (now - 40 * day, false, "Comcast bill: $100.00 is due"),
            (now - 10 * day, false, "Comcast bill: $103.00 is due"),
        ],
    );
    let s = r.scheduler();
    let spec = r
        .pipeline
        .roster()
        .get("financial-sentinel")
        .unwrap()
        .clone();
    s.fire(&spec, None, Timestamp::now()).await.unwrap();
    assert_eq!(
        r.owner_outbox(),
        vec!["💸 Review Netflix: $60.00, up from $50.00"]
    );
    s.fire(&spec, None, Timestamp::now()).await.unwrap();
    assert_eq!(r.owner_outbox().len(), 1, "once per payee per month");
}

#[tokio::test]
async fn relationship_keeper_nudges_the_quiet_once_a_week() {
    let r = rig(quiet("00:00", "00:00"));
    let now = Timestamp::now().as_second();
    let day = 86_400;
    r.person(
        "Maya Chen",
        "+15125550111",
        &[
            (now - 31 * day, false, "hey"),
            (now - 30 * day, true, "hi!"),
        ],
    );
    // Dev's chat is on a channel this daemon has (the console): a draft is offered.
    r.person_on(
        "console",
        "Dev Patel",
        "+15125550114",
        &[
            (now - 26 * day, false, "see you"),
            (now - 25 * day, true, "bye!"),
        ],
    );
    r.person(
        "Recent Rob",
        "+15125550112",
        &[(now - 3 * day, false, "yo"), (now - 2 * day, true, "hey")],
    );
    r.person(
        "Only Inbound",
        "+15125550113",
        &[(now - 40 * day, false, "buy now")],
    );
    let s = r.scheduler();
    let spec = r
        .pipeline
        .roster()
        .get("relationship-keeper")
        .unwrap()
        .clone();
    s.fire(&spec, None, Timestamp::now()).await.unwrap();
    let out = r.owner_outbox();
    assert_eq!(
        out,
        vec![
            // Issue 18: no draft is offered where no bridge here can send it.
            "1 · 💬 Reach out to Maya Chen — 30 days since you last talked (no channel here can reach Maya Chen on imessage: write to them yourself, then reply \"1 done\")",
            "2 · 💬 Reach out to Dev Patel — 25 days since you last talked (reply \"2 draft\" for a check-in)",
        ]
    );
    s.fire(&spec, None, Timestamp::now()).await.unwrap();
    assert_eq!(r.owner_outbox().len(), 2, "not again this ISO week");
}

#[derive(Clone, Default)]
struct Feed {
    gets: Arc<AtomicU32>,
    not_modified: Arc<AtomicU32>,
    seen_etags: Arc<Mutex<Vec<String>>>,
}

/// The test feed, dated relative to now so it can never age out of "this week".
fn rss() -> String {
    let ago = |h: i64| {
        let t = Timestamp::now() - jiff::SignedDuration::from_hours(h);
        jiff::fmt::rfc2822::to_string(&t.to_zoned(jiff::tz::TimeZone::UTC)).unwrap()
    };
    let (a, b) = (ago(2), ago(3));
    format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Model News</title>
<item><title>A new small model</title><link>https://news.example/a</link><pubDate>{a}</pubDate></item>
<item><title>A NEW small model!</title><link>https://mirror.example/a</link><pubDate>{a}</pubDate></item>
<item><title>Benchmarks, again</title><link>https://news.example/b</link><pubDate>{b}</pubDate></item>
</channel></rss>"#
    )
}

async fn feed(
    axum::extract::State(f): axum::extract::State<Feed>,
    headers: HeaderMap,
) -> axum::response::Response {
    f.gets.fetch_add(1, Ordering::SeqCst);
    if let Some(tag) = headers.get("if-none-match") {
        f.seen_etags
            .lock()
            .unwrap()
            .push(tag.to_str().unwrap().to_string());
        if tag == "\"v1\"" {
            f.not_modified.fetch_add(1, Ordering::SeqCst);
            return StatusCode::NOT_MODIFIED.into_response();
        }
    }
    (
        StatusCode::OK,
        [("etag", "\"v1\""), ("content-type", "application/rss+xml")],
        rss(),
    )
        .into_response()
}

async fn broken() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

#[tokio::test(flavor = "multi_thread")]
async fn ai_radar_reads_feeds_with_etags_dedupes_and_backs_off_a_broken_one() {
    let f = Feed::default();
    let url = common::lantern::serve_in_thread(
        axum::Router::new()
            .route("/feed.xml", axum::routing::get(feed))
            .route("/broken.xml", axum::routing::get(broken))
            .with_state(f.clone()),
    );
    let r = rig(quiet("00:00", "00:00"));
    std::fs::write(
        r.dir.join("agents/ai-radar.yaml"),
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/agents/ai-radar.yaml"))
            .unwrap()
            .replace(
                "feeds: []",
                &format!("feeds: [\"{url}/feed.xml\", \"{url}/broken.xml\"]"),
            ),
    )
    .unwrap();
    let (_, pipeline) = build(&r.dir);
    let owner = Owner::new(pipeline.clone(), SharedProfile::default(), "US");
    let s = Scheduler::new(owner.clone(), r.quiet);
    let spec = pipeline.roster().get("ai-radar").unwrap().clone();
    let out = s.fire(&spec, None, Timestamp::now()).await.unwrap();
    assert_eq!(out.status, steward::pipeline::RunStatus::Succeeded);
    let news = |filter: &str| {
        let f = filter.to_string();
        r.store
            .write_blocking(move |c| {
                Ok(steward::commands::views::news(
                    c,
                    Some(&f),
                    Timestamp::now().as_millisecond(),
                )?)
            })
            .unwrap()
    };
    let today = news("week");
    assert_eq!(
        today.lines().filter(|l| l.contains(" · ")).count(),
        2,
        "two stories, the mirrored duplicate dropped: {today}"
    );
    assert!(today.contains("1 · A new small model (Model News)"));
    s.fire(&spec, None, Timestamp::now()).await.unwrap();
    assert_eq!(
        f.not_modified.load(Ordering::SeqCst),
        1,
        "the second fetch was conditional"
    );
    assert_eq!(f.seen_etags.lock().unwrap().as_slice(), ["\"v1\""]);
    assert_eq!(
        news("week").lines().filter(|l| l.contains(" · ")).count(),
        2
    );
    // The broken feed backs off (not fetched again at once) and shows in status.
    let failing = r
        .store
        .write_blocking(|c| Ok(steward::commands::views::failing(c)?))
        .unwrap();
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0].1, 1, "the second run waited instead of retrying");
    let status = owner
        .handle(steward::commands::OwnerMessage {
            channel: "console".into(),
            actor: steward::pipeline::Actor::Console,
            text: "status".into(),
        })
        .await
        .unwrap();
    assert!(
        status.reply.contains("feed failing (1×)"),
        "{}",
        status.reply
    );
}

#[tokio::test]
async fn do_not_disturb_holds_nudges_and_focus_off_releases_them() {
    let r = rig(quiet("00:00", "00:00"));
    let now = Timestamp::now().as_millisecond();
    let signal = |detail: &'static str, ts: i64| {
        r.store
            .write_blocking(move |c| {
                c.execute(
                    "INSERT INTO signals (device_id, kind, detail, ts_ms, received_ms) VALUES ('d1', 'focus', ?1, ?2, ?2)",
                    rusqlite::params![detail, ts],
                )?;
                Ok(())
            })
            .unwrap()
    };
    signal("dnd", now - 60_000);
    r.store
        .write_blocking(move |c| {
            c.execute(
                "INSERT INTO commitments (title, source, next_nudge_ms, created_ms) VALUES ('sign the lease', 'owner', ?1, ?1)",
                [now - 30_000],
            )?;
            Ok(())
        })
        .unwrap();
    let s = r.scheduler();
    let spec = r.pipeline.roster().get("concierge").unwrap().clone();
    s.fire(&spec, None, Timestamp::now()).await.unwrap();
    assert!(r.owner_outbox().is_empty(), "held while on Do Not Disturb");
    assert!(
        s.release_now().await.unwrap().is_none(),
        "still on DND: nothing released"
    );
    signal("off", now);
    assert!(s.release_now().await.unwrap().is_some());
    assert_eq!(
        r.owner_outbox(),
        vec!["📥 while you were heads-down:\n📌 sign the lease — reply: done / snooze / research"]
    );
}

#[tokio::test]
async fn the_concierge_captures_fresh_promises_not_years_of_history() {
    let r = rig(quiet("00:00", "00:00"));
    let now = Timestamp::now().as_second();
    r.person(
        "Ann Lee",
        "+15125551234",
        &[
            (now - 400 * 86_400, true, "I'll send you the photos tonight"),
            (now - 3_600, false, "did you get the tickets?"),
            (now - 3_000, true, "I'll book the tickets tomorrow"),
            (now - 2_000, true, "I'll try to come"),
        ],
    );
    let s = r.scheduler();
    let spec = r.pipeline.roster().get("concierge").unwrap().clone();
    s.fire(&spec, None, Timestamp::now()).await.unwrap();
    let titles: Vec<String> = r
        .store
        .write_blocking(|c| {
            let mut q = c.prepare("SELECT title FROM commitments WHERE source = 'promise'")?;
            Ok(q.query_map([], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .unwrap();
    assert_eq!(titles, vec!["book the tickets tomorrow (to Ann Lee)"]);
}
