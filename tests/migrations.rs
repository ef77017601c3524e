//! Migrations through the real binary: applied once, recorded, never re-applied.

mod common;

use common::TestHome;

fn versions(db: &std::path::Path) -> Vec<(u32, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT version, name FROM schema_version ORDER BY version")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn migrations_apply_once_and_record_the_version() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let db = home.file("steward.db");
    let first = versions(&db);
    let latest = steward::store::migrate::latest_version();
    assert_eq!(first.len() as u32, latest);
    assert_eq!(first.last().unwrap().0, latest);

    // A daemon boot and a second init re-open the database without re-applying.
    let mut daemon = home.up();
    daemon.signal(libc::SIGTERM);
    daemon
        .wait_for_exit(std::time::Duration::from_secs(5))
        .unwrap();
    assert!(home.run(&["init"]).status.success());
    assert_eq!(versions(&db), first);

    let status = common::json(&home.run(&["status", "--json"]));
    assert_eq!(status["database"]["schemaVersion"], latest);
    assert!(status["database"]["lastBootAt"].is_string());
}
