//! WhatsApp's linked-device mode (issue 14), driven through its seam by a
//! session double that emits whatsapp-rust's own events
//! (tests/common/wadouble.rs): the QR drawn in the terminal decodes (rqrr) to
//! the code the session emitted and is redrawn on rotation; the pair-code
//! path shows the session's code; inbound 1:1 chats, LIDs, groups, the
//! "Message yourself" chat, reactions, edits, deletes, media, history and
//! forgotten handles; the supervised reader (one stream, reconnect, re-sync
//! on silence, logged out / replaced told once and not retried); and the
//! send side (typing while pacing, the hourly cap, uncertain sends).

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::wadouble::{self, Double, MessageBuilderExt, Msg};
use steward::bridges::whatsapp::linked::session::{Event, Link, Session};
use steward::bridges::whatsapp::linked::{ingest, link, live, outbound, state};
use steward::memory::Canonicalizer;
use steward::store::Store;
use steward::types::Inbound;
use tokio::sync::{broadcast, mpsc, watch};
use whatsapp_rust::waproto::whatsapp as wa;

#[tokio::test]
async fn the_qr_in_the_terminal_scans_to_the_sessions_code_and_rotates() {
    let home = tempfile::tempdir().unwrap();
    let double = Double::new();
    // Real pairing payloads are ref,noise-key,identity-key,adv-secret (base64).
    let first = "2@Xq9PbV3mLw7Rk1s,Jm5nU0bHq2xZ8cLw4rT6yA1eK3pF9gV7sD0jN5oQ2iM=,b3R0ZXJzLXF1aWNrLWJyb3duLWZveC1qdW1wcy1vdmVyPQ==,c2VjcmV0LWFkdi1rZXktZm9yLXRlc3RpbmctMzI=";
    let second = "2@Zt4QcW8nMx2Sj6u,Pq7rT1cHw3yA9dMx5sU7zB2fL4qG0hW8tE1kO6pR3jN=,bmV4dC1pZGVudGl0eS1rZXktZm9yLXRoZS1yb3RhdGlvbg==,c2Vjb25kLWFkdi1zZWNyZXQtcm90YXRpb24tMzI=";
    double.script(vec![
        wadouble::qr(first),
        wadouble::qr(second),
        wadouble::paired(),
        wadouble::connected(),
    ]);
    let mut screens = Vec::new();
    let linked = link::link(
        &*double,
        home.path(),
        Link::Qr,
        &Canonicalizer::new("US"),
        |s| match s {
            link::Shown::Qr(code) => screens.push(steward::cli::whatsapp::qr_screen(&code, true)),
            link::Shown::Code(_) => panic!("no pair code asked for"),
        },
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(screens.len(), 2, "redrawn on rotation");
    assert!(
        screens[1].starts_with("\x1b[2J\x1b[H"),
        "the screen is cleared first"
    );
    assert_eq!(common::wawire::decode_qr(&screens[0]), first);
    assert_eq!(common::wawire::decode_qr(&screens[1]), second);
    assert_eq!(linked.number, "+15125550000");
    assert_eq!(linked.lid.as_deref(), Some(wadouble::OWNER_LID));
    let st = state::load(home.path());
    assert_eq!(st.status, state::Status::Linked);
    assert_eq!(st.number.as_deref(), Some("+15125550000"));
    assert_eq!(
        double.disconnects.load(Ordering::SeqCst),
        1,
        "the link command lets go"
    );
    // `status` shows the number; linking again is refused with the fix.
    let home_h = steward::home::Home::resolve(Some(home.path().to_path_buf())).unwrap();
    let report = serde_json::to_value(steward::cli::status::collect(&home_h)).unwrap();
    assert_eq!(report["whatsapp"]["status"], "linked");
    assert_eq!(report["whatsapp"]["number"], "+15125550000");
    let again = link::link(
        &*double,
        home.path(),
        Link::Qr,
        &Canonicalizer::new("US"),
        |_| {},
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert!(
        again.to_string().contains("steward whatsapp unlink"),
        "{again}"
    );
    assert_eq!(
        steward::cli::whatsapp::display_number("+15125550000"),
        "+1 512-555-0000"
    );
}

#[tokio::test]
async fn the_pair_code_path_shows_the_sessions_code() {
    let home = tempfile::tempdir().unwrap();
    let double = Double::new();
    double.script(vec![
        wadouble::pair_code("K7QW2XPL"),
        wadouble::paired(),
        wadouble::connected(),
    ]);
    let mut shown = Vec::new();
    link::link(
        &*double,
        home.path(),
        Link::Code {
            phone: "+15125550000".into(),
        },
        &Canonicalizer::new("US"),
        |s| shown.push(s),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(shown, vec![link::Shown::Code("K7QW2XPL".into())]);
    assert_eq!(
        double.links.lock().unwrap().clone(),
        vec![Link::Code {
            phone: "+15125550000".into()
        }]
    );
    // Unlink logs out once connected and deletes the session.
    std::fs::write(state::session_db(home.path()), b"session").unwrap();
    double.script(vec![wadouble::connected()]);
    let done = link::unlink(&*double, home.path(), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(done.logged_out);
    assert_eq!(double.logouts.load(Ordering::SeqCst), 1);
    assert!(!state::session_db(home.path()).exists());
    assert_eq!(state::load(home.path()).status, state::Status::Unlinked);
}

#[tokio::test]
async fn a_phone_that_never_confirms_times_out_with_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let double = Double::new();
    double.script(vec![wadouble::qr("2@abc,def,ghi,jkl")]);
    let err = link::link(
        &*double,
        home.path(),
        Link::Qr,
        &Canonicalizer::new("US"),
        |_| {},
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("run `steward whatsapp link` again"),
        "{err}"
    );
    assert_eq!(
        state::load(home.path()).status,
        state::Status::Unlinked,
        "nothing recorded"
    );
}

/// A linked home with memory and a running reader over the double.
struct Rig {
    _dir: tempfile::TempDir,
    home: std::path::PathBuf,
    store: Store,
    double: Arc<Double>,
    bus: broadcast::Receiver<Inbound>,
    notices: mpsc::UnboundedReceiver<String>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn linked_home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    state::save(
        dir.path(),
        &state::LinkState {
            status: state::Status::Linked,
            number: Some("+15125550000".into()),
            lid: Some(wadouble::OWNER_LID.into()),
            ..Default::default()
        },
    )
    .unwrap();
    dir
}

async fn rig_with(dir: tempfile::TempDir, double: Arc<Double>, tuning: live::Tuning) -> Rig {
    let home = dir.path().to_path_buf();
    let store = Store::open(&home.join("steward.db")).unwrap();
    let own = vec!["+15125550000".to_string(), wadouble::OWNER_LID.to_string()];
    let ingest = store
        .write(move |c| {
            Ok(ingest::LinkedIngest::new(
                c,
                Canonicalizer::new("US"),
                Some("Priya"),
                &own,
            )?)
        })
        .await
        .unwrap();
    let (bus_tx, bus) = broadcast::channel(64);
    let intake = live::Intake::new(
        store.clone(),
        ingest,
        bus_tx,
        outbound::ledger(&home),
        home.clone(),
    );
    let (stop, stopped) = watch::channel(false);
    let session: Arc<dyn Session> = double.clone();
    // No link session in these tests: a dropped sender, so an ended session stays ended.
    let relinked = watch::channel(0).1;
    let reader = live::spawn(session, intake, stopped, relinked, tuning);
    Rig {
        _dir: dir,
        home,
        store,
        double,
        bus,
        notices: reader.notices,
        stop,
        task: reader.task,
    }
}

async fn rig() -> Rig {
    let double = Double::new();
    double.script(vec![wadouble::connected()]);
    rig_with(linked_home(), double, live::Tuning::default()).await
}

async fn next(bus: &mut broadcast::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(Duration::from_secs(5), bus.recv())
        .await
        .expect("an Inbound on the bus")
        .unwrap()
}

async fn until_live(d: &Double) {
    for _ in 0..200 {
        if d.is_live() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the reader never connected");
}

async fn query<T: Send + 'static>(
    store: &Store,
    sql: &'static str,
    f: impl Fn(&rusqlite::Row) -> rusqlite::Result<T> + Send + 'static,
) -> Vec<T> {
    store
        .read(move |c| {
            let mut st = c.prepare(sql)?;
            let rows = st.query_map([], |r| f(r))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_lands_in_memory_and_on_the_bus() {
    let mut r = rig().await;
    until_live(&r.double).await;
    // Ann's iMessage person already holds her phone.
    r.store
        .write(|c| {
            let h = Canonicalizer::new("US").canonicalize("+15125551234");
            steward::memory::people::attach_card(c, "Ann Lee", &[h])?;
            Ok(())
        })
        .await
        .unwrap();
    r.double
        .emit(Msg::text("A1", "15125551234@s.whatsapp.net", "are we on for 7?").event())
        .await;
    let m = next(&mut r.bus).await;
    assert_eq!(
        (m.channel.as_str(), m.text.as_str()),
        ("whatsapp", "are we on for 7?")
    );
    assert_eq!(m.chat_kind.as_deref(), Some("direct"));
    assert_eq!(m.chat_external_id.as_deref(), Some("+15125551234"));
    assert_eq!(m.handle.as_deref(), Some("phone:+15125551234"));
    assert!(!m.from_me && !m.is_command);
    let ann = m.person_id.clone();
    let names = query(&r.store, "SELECT name FROM people WHERE id IN (SELECT person_id FROM handles WHERE handle = 'phone:+15125551234')", |r| r.get::<_, Option<String>>(0)).await;
    assert_eq!(
        names,
        vec![Some("Ann Lee".to_string())],
        "the same person as her iMessage"
    );

    // Her LID with the phone WhatsApp names beside it: still Ann.
    let mut lid = Msg::text("A2", "88123@lid", "running late");
    lid.sender_alt = Some("15125551234@s.whatsapp.net");
    r.double.emit(lid.event()).await;
    let m = next(&mut r.bus).await;
    assert_eq!(m.person_id, ann);
    assert_eq!(m.chat_external_id.as_deref(), Some("+15125551234"));

    // A group: chat kind group, keyed by its JID (monitored like iMessage's).
    let mut g = Msg::text("G1", "120363041234@g.us", "dinner at 8?");
    g.sender = "15125559999@s.whatsapp.net";
    r.double.emit(g.event()).await;
    let m = next(&mut r.bus).await;
    assert_eq!(m.chat_kind.as_deref(), Some("group"));
    assert_eq!(m.chat_external_id.as_deref(), Some("120363041234@g.us"));

    // The owner's "Message yourself" chat: a command on the owner channel.
    let mut me = Msg::text("S1", "15125550000@s.whatsapp.net", "status");
    me.sender = "15125550000:3@s.whatsapp.net";
    me.from_me = true;
    r.double.emit(me.event()).await;
    let m = next(&mut r.bus).await;
    assert!(m.is_command && m.from_me, "{m:?}");
    assert_eq!(m.chat_kind.as_deref(), Some("self"));
    assert_eq!(m.handle.as_deref(), Some("phone:+15125550000"));

    // Media is a placeholder with its type and caption.
    let mut photo = Msg::text("A3", "15125551234@s.whatsapp.net", "");
    photo.message = wa::Message {
        image_message: whatsapp_rust::prelude::MessageField::some(wa::message::ImageMessage {
            caption: Some("the menu".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    r.double.emit(photo.event()).await;
    assert_eq!(next(&mut r.bus).await.text, "[photo] the menu");

    // A reaction on its target, an edit and a delete: in memory, not on the bus.
    let mut react = Msg::text("R1", "15125551234@s.whatsapp.net", "");
    react.message = whatsapp_rust::wacore::proto_helpers::build_reaction_message(
        wa::MessageKey {
            id: Some("A1".into()),
            ..Default::default()
        },
        "👍",
        0,
    );
    let mut edit = Msg::text("E1", "15125551234@s.whatsapp.net", "");
    edit.message = protocol(
        "A2",
        wa::message::protocol_message::Type::MESSAGE_EDIT,
        Some("running 10 min late"),
    );
    let mut delete = Msg::text("D1", "15125551234@s.whatsapp.net", "");
    delete.message = protocol("A3", wa::message::protocol_message::Type::REVOKE, None);
    r.double
        .emit(wadouble::batch(vec![react, edit, delete]))
        .await;
    // A marker message proves the batch before it was handled.
    r.double
        .emit(Msg::text("A4", "15125551234@s.whatsapp.net", "ok").event())
        .await;
    assert_eq!(next(&mut r.bus).await.text, "ok");
    let reactions = query(&r.store, "SELECT target, emoji FROM reactions", |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })
    .await;
    assert_eq!(reactions, vec![("A1".to_string(), Some("👍".to_string()))]);
    let texts = query(&r.store, "SELECT external_id, text, edited FROM messages WHERE external_id IN ('A2','A3') ORDER BY external_id", |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?))
    })
    .await;
    assert_eq!(
        texts,
        vec![
            ("A2".into(), "running 10 min late".into(), true),
            ("A3".into(), ingest::DELETED.into(), true)
        ]
    );

    // The same message again (an offline redelivery) is stored once, published once.
    r.double
        .emit(Msg::text("A1", "15125551234@s.whatsapp.net", "are we on for 7?").event())
        .await;
    r.double
        .emit(Msg::text("A5", "15125551234@s.whatsapp.net", "marker").event())
        .await;
    assert_eq!(next(&mut r.bus).await.text, "marker");
    let n = query(
        &r.store,
        "SELECT COUNT(*) FROM messages WHERE external_id = 'A1'",
        |r| r.get::<_, i64>(0),
    )
    .await;
    assert_eq!(n, vec![1]);
    let _ = r.stop.send(true);
    r.task.await.unwrap();
}

fn protocol(
    target: &str,
    kind: wa::message::protocol_message::Type,
    text: Option<&str>,
) -> wa::Message {
    wa::Message {
        protocol_message: whatsapp_rust::prelude::MessageField::some(
            wa::message::ProtocolMessage {
                key: whatsapp_rust::prelude::MessageField::some(wa::MessageKey {
                    id: Some(target.into()),
                    ..Default::default()
                }),
                r#type: Some(kind),
                edited_message: match text {
                    Some(t) => whatsapp_rust::prelude::MessageField::some(wa::Message::text(t)),
                    None => Default::default(),
                },
                ..Default::default()
            },
        ),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_handles_store_nothing() {
    let mut r = rig().await;
    until_live(&r.double).await;
    r.store
        .write(|c| {
            let h = Canonicalizer::new("US").canonicalize("+15125557777");
            let id = steward::memory::people::attach_card(c, "Zed", &[h])?;
            steward::memory::people::forget(c, &id).unwrap();
            Ok(())
        })
        .await
        .unwrap();
    r.double
        .emit(Msg::text("F1", "15125557777@s.whatsapp.net", "remember me?").event())
        .await;
    r.double
        .emit(Msg::text("F2", "15125551234@s.whatsapp.net", "marker").event())
        .await;
    assert_eq!(next(&mut r.bus).await.text, "marker");
    let n = query(
        &r.store,
        "SELECT COUNT(*) FROM messages WHERE external_id = 'F1'",
        |r| r.get::<_, i64>(0),
    )
    .await;
    assert_eq!(n, vec![0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_stored_and_never_published() {
    use std::io::Write;
    let mut r = rig().await;
    until_live(&r.double).await;
    let hs = wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP,
        conversations: vec![wa::Conversation {
            id: "15125551234@s.whatsapp.net".into(),
            messages: vec![wa::HistorySyncMsg {
                message: whatsapp_rust::prelude::MessageField::some(wa::WebMessageInfo {
                    key: whatsapp_rust::prelude::MessageField::some(wa::MessageKey {
                        remote_jid: Some("15125551234@s.whatsapp.net".into()),
                        from_me: Some(false),
                        id: Some("H1".into()),
                        ..Default::default()
                    }),
                    message: whatsapp_rust::prelude::MessageField::some(wa::Message::text(
                        "see you last year",
                    )),
                    message_timestamp: Some(1_700_000_000),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let raw = whatsapp_rust::buffa::Message::encode_to_vec(&hs);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).unwrap();
    let lazy = whatsapp_rust::types::events::LazyHistorySync::new(
        z.finish().unwrap().into(),
        raw.len(),
        0,
        None,
        None,
    );
    r.double.emit(Event::HistorySync(Box::new(lazy))).await;
    r.double
        .emit(Msg::text("M1", "15125551234@s.whatsapp.net", "marker").event())
        .await;
    assert_eq!(
        next(&mut r.bus).await.text,
        "marker",
        "history is not on the bus"
    );
    let rows = query(
        &r.store,
        "SELECT text, direction FROM messages WHERE external_id = 'H1'",
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )
    .await;
    assert_eq!(
        rows,
        vec![("see you last year".to_string(), "in".to_string())]
    );
    assert!(state::load(&r.home).history_done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_out_is_told_once_and_not_retried() {
    let mut r = rig().await;
    until_live(&r.double).await;
    r.double.emit(wadouble::logged_out()).await;
    tokio::time::timeout(Duration::from_secs(5), &mut r.task)
        .await
        .expect("the reader stops")
        .unwrap();
    let told = r.notices.recv().await.unwrap();
    assert!(told.contains("steward whatsapp link"), "{told}");
    assert!(r.notices.recv().await.is_none(), "once");
    let st = state::load(&r.home);
    assert_eq!((st.status, st.told), (state::Status::LoggedOut, true));
    assert_eq!(r.double.connects.load(Ordering::SeqCst), 1, "no retry");
    // A restart neither connects nor tells again.
    let double = r.double.clone();
    let again = rig_with(
        tempdir_from(&r.home),
        double.clone(),
        live::Tuning::default(),
    )
    .await;
    let mut again = again;
    tokio::time::timeout(Duration::from_secs(5), &mut again.task)
        .await
        .unwrap()
        .unwrap();
    assert!(again.notices.recv().await.is_none());
    assert_eq!(double.connects.load(Ordering::SeqCst), 1);
}

/// A temp dir holding a copy of `home`'s link state (a restart of the same home).
fn tempdir_from(home: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    state::save(dir.path(), &state::load(home)).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_stream_is_told_once() {
    let mut r = rig().await;
    until_live(&r.double).await;
    r.double.emit(wadouble::replaced()).await;
    tokio::time::timeout(Duration::from_secs(5), &mut r.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        r.notices
            .recv()
            .await
            .unwrap()
            .contains("steward whatsapp link")
    );
    assert_eq!(state::load(&r.home).status, state::Status::Replaced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_reconnects_and_silence_forces_a_resync() {
    let double = Double::new();
    double.script(vec![wadouble::connected()]);
    double.script(vec![wadouble::connected()]);
    let tuning = live::Tuning {
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        silence: Duration::from_millis(300),
    };
    let mut r = rig_with(linked_home(), double, tuning).await;
    until_live(&r.double).await;
    r.double.drop_stream();
    for _ in 0..300 {
        if r.double.connects.load(Ordering::SeqCst) == 2 && r.double.is_live() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        r.double.connects.load(Ordering::SeqCst),
        2,
        "reconnected once"
    );
    // Messages on the new stream still arrive, once each.
    r.double
        .emit(Msg::text("C1", "15125551234@s.whatsapp.net", "still there?").event())
        .await;
    assert_eq!(next(&mut r.bus).await.text, "still there?");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        r.double.resyncs.load(Ordering::SeqCst) >= 1,
        "silence forced a re-sync"
    );
    assert!(r.bus.try_recv().is_err(), "no message twice");
    let _ = r.stop.send(true);
    r.task.await.unwrap();
    assert_eq!(r.double.connects.load(Ordering::SeqCst), 2);
}

/// A pipeline whose only bridge is the linked WhatsApp over `double`.
fn pipeline(
    dir: &std::path::Path,
    double: &Arc<Double>,
    yaml: &str,
) -> steward::pipeline::Pipeline {
    use steward::bridges::whatsapp::linked::outbound::WhatsappLinked;
    use steward::bridges::{Bridge, Bridges};
    let store = Store::open(&dir.join("steward.db")).unwrap();
    let config: steward::config::Config = serde_saphyr::from_str(yaml).unwrap();
    let linked = config
        .bridges
        .whatsapp
        .as_ref()
        .unwrap()
        .linked()
        .unwrap()
        .clone();
    let session: Arc<dyn Session> = double.clone();
    steward::pipeline::Pipeline::new(
        store,
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
        steward::spec::Roster::load(dir),
        steward::pipeline::Settings::from_config(&config),
        Bridges::new(vec![Bridge::WhatsappLinked(WhatsappLinked::new(
            &linked, dir, session,
        ))]),
    )
}

/// A confirmed reply to Ann, approved; its outcome.
async fn reply(p: &steward::pipeline::Pipeline, n: u32) -> steward::pipeline::RunOutcome {
    use steward::pipeline::{Actor, Decision, Effect, RunRequest, Trigger};
    let out = p
        .run(RunRequest {
            agent: "whatsapp-assistant".into(),
            trigger: Trigger::Contact,
            actor: Actor::Handle {
                channel: "whatsapp".into(),
                handle: "phone:+15125551234".into(),
            },
            input: "are we on?".into(),
            dedup_key: Some(format!("linked:{n}")),
            plan: vec![Effect::Reply {
                channel: "whatsapp".into(),
                to: "+15125551234".into(),
                text: format!("yes, 7pm ({n})"),
            }],
            forecast_usd: steward::spec::Usd(0),
        })
        .await
        .unwrap();
    let id = out.confirmations[0].clone();
    p.decide(&id, Decision::Approved, None, &Actor::Console)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_pace_with_typing_and_stop_at_the_hourly_cap() {
    let dir = linked_home();
    let double = Double::new();
    let p = pipeline(
        dir.path(),
        &double,
        "bridges:\n  whatsapp:\n    mode: linked\n    maxSendsPerHour: 2\n",
    );
    let started = std::time::Instant::now();
    for n in 1..=2 {
        let out = reply(&p, n).await;
        assert_eq!(
            out.status,
            steward::pipeline::RunStatus::Succeeded,
            "{out:?}"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "a typing time before each send"
    );
    let to = "15125551234@s.whatsapp.net".to_string();
    assert_eq!(
        double.typing.lock().unwrap().clone(),
        vec![
            (to.clone(), true),
            (to.clone(), false),
            (to.clone(), true),
            (to.clone(), false)
        ]
    );
    let third = reply(&p, 3).await;
    assert_ne!(third.status, steward::pipeline::RunStatus::Succeeded);
    let why = third.reason.clone().unwrap_or_default();
    assert!(why.contains("maxSendsPerHour"), "{third:?}");
    assert_eq!(double.sent().len(), 2, "the third was never attempted");
    assert_eq!(double.sent()[0], (to, "yes, 7pm (1)".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncertain_send_is_never_repeated() {
    use steward::bridges::whatsapp::linked::session::SessionError;
    let dir = linked_home();
    let double = Double::new();
    *double.fail_next.lock().unwrap() =
        Some(SessionError::Uncertain("connection lost mid-send".into()));
    let p = pipeline(
        dir.path(),
        &double,
        "bridges:\n  whatsapp:\n    mode: linked\n    pacing: false\n",
    );
    let out = reply(&p, 1).await;
    assert_ne!(
        out.status,
        steward::pipeline::RunStatus::Succeeded,
        "{out:?}"
    );
    assert!(p.resume().await.unwrap().is_empty(), "nothing to resume");
    assert!(double.sent().is_empty(), "not sent again on its own");
    let ledger =
        steward::bridges::ledger::read(&dir.path().join("whatsapp/linked-sent.jsonl")).unwrap();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].state, steward::bridges::ledger::State::Intended);
    // Unlinked, a send is a certain failure naming the fix.
    state::update(dir.path(), |s| s.status = state::Status::LoggedOut).unwrap();
    let out = reply(&p, 2).await;
    assert!(
        out.reason
            .unwrap_or_default()
            .contains("steward whatsapp link")
    );
    assert!(double.sent().is_empty());
}

#[test]
fn the_config_takes_linked_by_default_and_refuses_the_other_modes_keys() {
    use steward::config::Config;
    let path = std::path::Path::new("steward.yaml");
    let c = Config::parse("bridges:\n  whatsapp: {}\n", path).unwrap();
    let l = c.bridges.whatsapp.unwrap().linked().unwrap().clone();
    assert_eq!((l.pacing, l.max_sends_per_hour), (true, 20));
    // Linked mode can carry the owner's messages.
    let ok = "owner:\n  channels: [whatsapp, console]\nbridges:\n  whatsapp:\n    mode: linked\n";
    assert!(Config::parse(ok, path).is_ok());
    for (yaml, says) in [
        ("bridges:\n  whatsapp:\n    token: env:T\n", "mode: cloud"),
        (
            "bridges:\n  whatsapp:\n    mode: cloud\n    pacing: false\n",
            "mode: linked",
        ),
        (
            "bridges:\n  whatsapp:\n    maxSendsPerHour: 500\n",
            "1 to 200",
        ),
        (
            "bridges:\n  whatsapp:\n    mode: cloud\n    phoneNumberId: \"1\"\n",
            "token",
        ),
    ] {
        let e = Config::parse(yaml, path).unwrap_err().to_string();
        assert!(e.contains(says), "{yaml}: {e}");
    }
}
