//! Sending through a stand-in `osascript`: the script goes on stdin, the text
//! and target as argv (so a message can never alter the script), errors are
//! typed, and a confirmed reply through the pipeline runs it exactly once.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use steward::bridges::imessage::outbound::ImessageOutbound;
use steward::bridges::imessage::send::{SendError, Sender, Target};
use steward::bridges::{Bridge, Bridges};
use steward::config::Config;
use steward::pipeline::{
    Actor, Decision, Effect, Pipeline, RunRequest, RunStatus, Settings, Trigger,
};
use steward::spec::{Roster, Usd};
use steward::store::Store;

/// A fake osascript that records argv (NUL-separated) and stdin, then exits with `code`.
fn fake(dir: &Path, code: i32, stderr: &str) -> PathBuf {
    let path = dir.join("osascript");
    let script = format!(
        "#!/bin/sh\nn=$(ls {d}/call.*.argv 2>/dev/null | wc -l)\nprintf '%s\\0' \"$@\" > {d}/call.$n.argv\ncat > {d}/call.$n.stdin\nprintf '%s' '{stderr}' >&2\nexit {code}\n",
        d = dir.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn calls(dir: &Path) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for n in 0.. {
        let argv = dir.join(format!("call.{n}.argv"));
        if !argv.exists() {
            break;
        }
        let args = std::fs::read_to_string(&argv).unwrap();
        let args = args
            .trim_end_matches('\0')
            .split('\0')
            .map(str::to_string)
            .collect();
        out.push((
            args,
            std::fs::read_to_string(dir.join(format!("call.{n}.stdin"))).unwrap(),
        ));
    }
    out
}

#[test]
fn text_and_target_travel_as_argv_and_the_script_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let osascript = fake(dir.path(), 0, "");
    let sender = Sender::new(&osascript, dir.path()).unwrap();
    let nasty = "ok\" & (do shell script \"rm -rf ~\") & \"";
    sender
        .send(nasty, &Target::Chat("iMessage;-;+15125551234".into()))
        .unwrap();
    sender
        .send("hi", &Target::Participant("ann@example.com".into()))
        .unwrap();
    let calls = calls(dir.path());
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].0,
        vec!["-", nasty, "iMessage;-;+15125551234", "chat"]
    );
    assert_eq!(
        calls[1].0,
        vec!["-", "hi", "ann@example.com", "participant"]
    );
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bridges/imessage/send.applescript"
    ))
    .unwrap();
    assert_eq!(calls[0].1, shipped);
    assert!(!calls[0].1.contains("rm -rf"));
}

#[test]
fn applescript_failures_become_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let osascript = fake(
        dir.path(),
        1,
        "execution error: Messages got an error: Can’t get chat id. (-1728)",
    );
    let err = Sender::new(&osascript, dir.path())
        .unwrap()
        .send("x", &Target::Chat("any;-;+1".into()))
        .unwrap_err();
    assert!(matches!(err, SendError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("send it one message by hand"));
    let missing = Sender::new(Path::new("/nonexistent/osascript"), dir.path())
        .unwrap()
        .send("x", &Target::Chat("c".into()));
    assert!(matches!(missing, Err(SendError::Spawn { .. })));
}

#[test]
fn a_dm_guid_messages_cannot_find_is_retried_once_as_its_participant() {
    let dir = tempfile::tempdir().unwrap();
    // Fails for "chat" mode only, like Messages on builds that reject any;-; guids.
    let path = dir.path().join("osascript");
    let script = format!(
        "#!/bin/sh\nn=$(ls {d}/call.*.argv 2>/dev/null | wc -l)\nprintf '%s\\0' \"$@\" > {d}/call.$n.argv\ncat > {d}/call.$n.stdin\n\
         if [ \"$4\" = chat ]; then echo 'execution error: Can’t get chat id. (-1728)' >&2; exit 1; fi\nexit 0\n",
        d = dir.path().display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sender = Sender::new(&path, dir.path()).unwrap();
    sender
        .send("hi", &Target::Chat("any;-;+15125551234".into()))
        .unwrap();
    let calls = calls(dir.path());
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].0, vec!["-", "hi", "+15125551234", "participant"]);
    // A group has no participant form: the error stands, nothing is retried.
    let err = sender
        .send("hi", &Target::Chat("any;+;0123abcd".into()))
        .unwrap_err();
    assert!(matches!(err, SendError::NotFound(_)));
    assert_eq!(self::calls(dir.path()).len(), 3);
}

#[tokio::test]
async fn a_confirmed_reply_runs_osascript_once_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let osascript = fake(dir.path(), 0, "");
    let store = Store::open(&dir.path().join("steward.db")).unwrap();
    let bridge = ImessageOutbound::new(&osascript, dir.path(), None).unwrap();
    let pipeline = Pipeline::new(
        store,
        ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]),
        Roster::load(dir.path()),
        Settings::from_config(&Config::default()),
        Bridges::new(vec![Bridge::Imessage(bridge)]),
    );
    let out = pipeline
        .run(RunRequest {
            agent: "imessage-assistant".into(),
            trigger: Trigger::Contact,
            actor: Actor::Handle {
                channel: "imessage".into(),
                handle: "+15125551234".into(),
            },
            input: "are we on?".into(),
            dedup_key: Some("imessage:GUID-1".into()),
            plan: vec![Effect::Reply {
                channel: "imessage".into(),
                to: "iMessage;-;+15125551234".into(),
                text: "yes".into(),
            }],
            forecast_usd: Usd(0),
        })
        .await
        .unwrap();
    assert_eq!(out.status, RunStatus::Waiting);
    assert!(
        calls(dir.path()).is_empty(),
        "nothing runs before the owner's yes"
    );
    let done = pipeline
        .decide(
            &out.confirmations[0],
            Decision::Approved,
            None,
            &Actor::Console,
        )
        .await
        .unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    let calls = calls(dir.path());
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].0,
        vec!["-", "yes", "iMessage;-;+15125551234", "chat"]
    );
    let ledger = steward::bridges::ledger::read(&dir.path().join("imessage/sent.jsonl")).unwrap();
    assert_eq!(ledger.len(), 1);
    // Restarting resumes nothing: the run is finished and the ledger knows the key.
    assert!(pipeline.resume().await.unwrap().is_empty());
}
