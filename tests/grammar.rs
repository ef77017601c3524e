//! The self-chat grammar, table-driven: commands vs sentences (the reference's
//! edge cases), durations, numbered replies, presence, teaching.

use jiff::SignedDuration;
use jiff::civil::Time;
use steward::commands::duration::Span;
use steward::commands::grammar::{Command, ItemAction, Parsed, parse};

fn h(n: i64) -> Option<Span> {
    Some(Span::For(SignedDuration::from_hours(n)))
}

fn m(n: i64) -> Option<Span> {
    Some(Span::For(SignedDuration::from_mins(n)))
}

#[test]
fn commands_and_sentences() {
    use Command::*;
    let cases: Vec<(&str, Option<Command>)> = vec![
        ("ping", Some(Ping)),
        ("Ping!", Some(Ping)),
        ("help", Some(Help)),
        ("status", Some(Status)),
        ("budget", Some(Budget)),
        ("brief", Some(Brief)),
        ("today", Some(Brief)),
        ("?", Some(Brief)),
        ("runs", Some(Runs)),
        ("receipt 2", Some(Receipt(2))),
        // Issue 17: document questions.
        (
            "what's my passport number",
            Some(Docs("what's my passport number".into())),
        ),
        (
            "What is my car insurance policy number?",
            Some(Docs("What is my car insurance policy number?".into())),
        ),
        ("find the lease", Some(Docs("find the lease".into()))),
        ("docs insurance", Some(Docs("insurance".into()))),
        (
            "when does the car insurance renew?",
            Some(Docs("when does the car insurance renew?".into())),
        ),
        ("what's the plan for tonight", None),
        (
            "can you find the lease and send it to my landlord before friday please",
            None,
        ),
        ("approvals", Some(Approvals)),
        ("pending", Some(Approvals)),
        ("pause", Some(Pause(None))),
        ("mute", Some(Pause(None))),
        ("stop replying", Some(Pause(None))),
        ("pause for 2 hours", Some(Pause(h(2)))),
        ("mute for 30 min", Some(Pause(m(30)))),
        (
            "pause until 9am",
            Some(Pause(Some(Span::Until(Time::new(9, 0, 0, 0).unwrap())))),
        ),
        (
            "quiet tonight",
            Some(Pause(Some(Span::Until(Time::new(7, 0, 0, 0).unwrap())))),
        ),
        ("hush all day", Some(Pause(h(14)))),
        ("resume", Some(Resume)),
        ("wake up", Some(Resume)),
        ("resume all", Some(ResumeAll)),
        ("what's paused", Some(WhatsPaused)),
        ("what\u{2019}s paused", Some(WhatsPaused)),
        (
            "pause Ann",
            Some(PauseContact {
                who: "Ann".into(),
                span: None,
            }),
        ),
        (
            "pause Ann Lee for 1h",
            Some(PauseContact {
                who: "Ann Lee".into(),
                span: h(1),
            }),
        ),
        ("resume Ann", Some(ResumeContact("Ann".into()))),
        ("kill switch on", Some(KillSwitch(true))),
        ("panic", Some(KillSwitch(true))),
        ("emergency stop", Some(KillSwitch(true))),
        ("kill switch off", Some(KillSwitch(false))),
        ("steward, kill switch on", Some(KillSwitch(true))),
        ("hey steward ping", Some(Ping)),
        // A command word inside a sentence never fires.
        ("ping me about the deck", None),
        ("pause and tell me what Ann said", None),
        ("status of the round?", None),
        ("help me draft a note to Bob", None),
        ("wake me up at 7", None),
        ("resume the meeting notes from yesterday please", None),
        (
            "brief me on the board meeting tomorrow morning at nine",
            None,
        ),
        ("can you kill switch on", None),
        ("receipt please", None),
        ("what did Ann say", Some(Peek("Ann".into()))),
        ("what did Ann Lee say?", Some(Peek("Ann Lee".into()))),
        ("catch me up on Raju's messages", Some(Peek("Raju".into()))),
        ("see messages from Bob", Some(Peek("Bob".into()))),
        ("what did you say", None),
        ("message Arun that I'm late", None),
        (
            "monitor Climbing crew",
            Some(Monitor {
                group: "Climbing crew".into(),
                on: true,
            }),
        ),
    ];
    for (text, want) in cases {
        let got = parse(text);
        match want {
            Some(cmd) => assert_eq!(got, Parsed::Command(cmd), "{text:?}"),
            None => assert!(matches!(got, Parsed::Turn(_)), "{text:?} → {got:?}"),
        }
    }
}

#[test]
fn the_steward_prefix_forces_a_command_try_and_keeps_the_rest_for_a_turn() {
    assert_eq!(
        parse("steward what did Ann say about friday"),
        Parsed::Turn("what did Ann say about friday".into())
    );
    assert_eq!(parse("Steward: status"), Parsed::Command(Command::Status));
    // "stewardship" is a word, not the prefix.
    assert!(matches!(parse("stewardship notes"), Parsed::Turn(t) if t == "stewardship notes"));
}

#[test]
fn numbered_replies() {
    let item = |n: usize, action: ItemAction| Parsed::Command(Command::Item { n, action });
    let cases = [
        ("1 send", item(1, ItemAction::Send)),
        ("1 yes", item(1, ItemAction::Send)),
        ("1 👍", item(1, ItemAction::Send)),
        ("2 no", item(2, ItemAction::No)),
        ("2 done", item(2, ItemAction::Done)),
        ("2", item(2, ItemAction::Default)),
        (
            "1 edit see you at 8",
            item(1, ItemAction::Edit("see you at 8".into())),
        ),
        (
            "1 edit See You",
            item(1, ItemAction::Edit("See You".into())),
        ),
        ("3 snooze 2h", item(3, ItemAction::Snooze(h(2)))),
        ("3 snooze", item(3, ItemAction::Snooze(None))),
        (
            "1 ask her first",
            item(1, ItemAction::Other("ask her first".into())),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text), want, "{text:?}");
    }
    assert!(matches!(parse("0 send"), Parsed::Turn(_)));
    assert!(matches!(parse("123 send"), Parsed::Turn(_)));
}

#[test]
fn presence_lines() {
    let presence = |text: &str| match parse(text) {
        Parsed::Command(Command::Presence(p)) => Some(p),
        _ => None,
    };
    let gym = presence("I'm at the gym").unwrap();
    assert_eq!((gym.state, gym.place.as_deref()), ("busy", Some("the gym")));
    assert_eq!(Some(gym.span), h(2));
    let gym = presence("I\u{2019}m at the gym for 1h").unwrap();
    assert_eq!(Some(gym.span), h(1));
    let temple = presence("I'm at the Temple until 5pm").unwrap();
    assert_eq!(temple.place.as_deref(), Some("the Temple"));
    assert_eq!(temple.span, Span::Until(Time::new(17, 0, 0, 0).unwrap()));
    assert_eq!(presence("heads down").unwrap().state, "focus");
    assert_eq!(Some(presence("heads down").unwrap().span), h(2));
    assert_eq!(presence("driving").unwrap().state, "driving");
    assert_eq!(Some(presence("going to bed").unwrap().span), h(8));
    assert_eq!(Some(presence("just ate").unwrap().span), h(3));
    assert_eq!(presence("status: on a call").unwrap().text, "on a call");
    assert_eq!(parse("I'm back"), Parsed::Command(Command::PresenceOff));
    assert_eq!(parse("status off"), Parsed::Command(Command::PresenceOff));
    // A question, or a long line, is never a status.
    assert!(presence("I'm at the gym?").is_none());
    let long = format!("I'm at {}", "the place ".repeat(20));
    assert!(long.len() > 160);
    assert!(matches!(parse(&long), Parsed::Turn(_)));
}

#[test]
fn teaching_lines() {
    use Command::*;
    let cases: Vec<(&str, Option<Command>)> = vec![
        (
            "remember Ann's birthday is 1990-04-02",
            Some(Remember {
                who: "Ann".into(),
                key: "birthday".into(),
                value: "1990-04-02".into(),
            }),
        ),
        (
            "remember Ann Lee's favourite wine is Rioja",
            Some(Remember {
                who: "Ann Lee".into(),
                key: "favourite wine".into(),
                value: "Rioja".into(),
            }),
        ),
        (
            "+15125551234 is Manasa",
            Some(Identity {
                handle: "+15125551234".into(),
                name: "Manasa".into(),
            }),
        ),
        (
            "ann@example.com belongs to Ann Lee",
            Some(Identity {
                handle: "ann@example.com".into(),
                name: "Ann Lee".into(),
            }),
        ),
        (
            "Sam's number is 512-555-0101",
            Some(Identity {
                handle: "512-555-0101".into(),
                name: "Sam".into(),
            }),
        ),
        // Hedges, negations, "my number", and no handle at all are not corrections.
        ("512 is just spam", None),
        ("+15125551234 is not Manasa", None),
        ("my number is 5125550000", None),
        ("that's Manasa", None),
        (
            "don't tell Ravi where I am",
            Some(Disclose {
                who: "Ravi".into(),
                allow: false,
            }),
        ),
        (
            "don't share my location with Ravi",
            Some(Disclose {
                who: "Ravi".into(),
                allow: false,
            }),
        ),
        (
            "keep my whereabouts private from Ravi Kumar",
            Some(Disclose {
                who: "Ravi Kumar".into(),
                allow: false,
            }),
        ),
        (
            "you can tell Ravi where I am",
            Some(Disclose {
                who: "Ravi".into(),
                allow: true,
            }),
        ),
        ("don't tell anyone where I am", None),
        ("don't tell me where I am", None),
        (
            "remind me to call the bank",
            Some(Remind("call the bank".into())),
        ),
        ("yes", Some(Answer(true))),
        ("no", Some(Answer(false))),
    ];
    for (text, want) in cases {
        let got = parse(text);
        match want {
            Some(cmd) => assert_eq!(got, Parsed::Command(cmd), "{text:?}"),
            None => assert!(matches!(got, Parsed::Turn(_)), "{text:?} → {got:?}"),
        }
    }
}

/// Issue 18 item 5: the grammar gaps found against the reference assistant.
#[test]
fn issue18_quiet_on_off_and_near_misses() {
    use Command::*;
    let hours = |h: i64| Some(Pause(Some(Span::For(SignedDuration::from_hours(h)))));
    let cases: Vec<(&str, Option<Command>)> = vec![
        ("quiet", hours(2)),
        ("quiet 100", hours(24)),
        ("quiet 3", hours(3)),
        (
            "quiet for 30 min",
            Some(Pause(Some(Span::For(SignedDuration::from_mins(30))))),
        ),
        (
            "quiet 5m",
            Some(Pause(Some(Span::For(SignedDuration::from_mins(15))))),
        ),
        ("quiet off", Some(Resume)),
        ("loud", Some(Resume)),
        ("steward on", Some(Resume)),
        ("steward, on", Some(Resume)),
        ("steward off", Some(Pause(None))),
        ("hepl", Some(DidYouMean("help"))),
        ("approvls", Some(DidYouMean("approvals"))),
        ("statsu", Some(DidYouMean("status"))),
        ("Statsu!", Some(DidYouMean("status"))),
        // Not typos: real words and sentences stay turns.
        ("hello", None),
        ("thanks", None),
        ("on", None),
        ("hepl me with the deck", None),
        (
            "remind me on friday to pay rent",
            Some(Remind("on friday to pay rent".into())),
        ),
        (
            "remind me to call mom at 6pm",
            Some(Remind("call mom at 6pm".into())),
        ),
    ];
    for (text, want) in cases {
        let got = match parse(text) {
            Parsed::Command(c) => Some(c),
            Parsed::Turn(_) => None,
        };
        assert_eq!(got, want, "{text:?}");
    }
}
