//! Time comes from one place: "today" and "this week" follow the pipeline's
//! clock, never the calendar, so a test can pin it and no test can age.

mod common;

use std::sync::Arc;

use jiff::Timestamp;
use steward::commands::Owner;
use steward::profile::watch::SharedProfile;

#[tokio::test(flavor = "multi_thread")]
async fn news_this_week_is_decided_by_the_pipeline_clock_not_the_calendar() {
    // A story from 2020: in "this week" when the pipeline's clock says it is
    // 2020-01-03, and gone when the clock says 2020-02-01, whatever today is.
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = common::console_pipeline(dir.path(), common::default_settings());
    let published: Timestamp = "2020-01-01T12:00:00Z".parse().unwrap();
    store
        .write_blocking(move |c| {
            c.execute(
                "INSERT INTO news_items (url, title, title_key, source, published_ms, seen_ms)
                 VALUES ('https://n.example/1', 'Old story', 'old story', 'Feed', ?1, ?1)",
                [published.as_millisecond()],
            )?;
            Ok(())
        })
        .unwrap();
    drop(store);
    for (now, shown) in [
        ("2020-01-03T00:00:00Z", true),
        ("2020-02-01T00:00:00Z", false),
    ] {
        let clock = steward::clock::FixedClock(now.parse().unwrap());
        let (pipeline, _store) = common::console_pipeline(dir.path(), common::default_settings());
        let pipeline = pipeline.with_clock(Arc::new(clock));
        let owner = Owner::new(pipeline, SharedProfile::default(), "US");
        let reply = owner
            .handle(steward::commands::OwnerMessage {
                channel: "console".into(),
                actor: steward::pipeline::Actor::Console,
                text: "news week".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            reply.reply.contains("Old story"),
            shown,
            "at {now}: {}",
            reply.reply
        );
    }
}
