//! Table tests: both phones, both clocks, both date orders, and the edge lines.

use super::*;

fn dt(s: &str) -> jiff::civil::DateTime {
    s.parse().unwrap()
}

fn one(line: &str, order: Option<DateOrder>) -> Line {
    let parsed = parse(line, order).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    assert_eq!(parsed.lines.len(), 1, "{line:?}");
    parsed.lines.into_iter().next().unwrap()
}

#[test]
fn headers_of_every_shape() {
    use DateOrder::*;
    // (line, order to force or None to detect, sender, local time, text)
    let table: &[(&str, Option<DateOrder>, &str, &str, &str)] = &[
        // Android, 24 h, day first (en-GB, most of the world).
        (
            "31/12/2021, 23:59 - Ann Lee: Happy new year",
            None,
            "Ann Lee",
            "2021-12-31T23:59",
            "Happy new year",
        ),
        // Android, 12 h, month first (en-US), narrow no-break space before PM.
        (
            "12/31/21, 11:59\u{202f}PM - Ann Lee: hi",
            None,
            "Ann Lee",
            "2021-12-31T23:59",
            "hi",
        ),
        // Android, 12 h with a plain space, midnight and noon.
        (
            "1/13/22, 12:05 AM - Bob: late",
            None,
            "Bob",
            "2022-01-13T00:05",
            "late",
        ),
        (
            "1/13/22, 12:05 PM - Bob: lunch",
            None,
            "Bob",
            "2022-01-13T12:05",
            "lunch",
        ),
        // iOS, brackets and seconds, 12 h, month first.
        (
            "[12/31/21, 11:59:58 PM] Ann Lee: hi",
            None,
            "Ann Lee",
            "2021-12-31T23:59:58",
            "hi",
        ),
        // iOS, 24 h, day first, leading LRM on the line.
        (
            "\u{200e}[31/12/2021, 08:01:02] Ann: morning",
            None,
            "Ann",
            "2021-12-31T08:01:02",
            "morning",
        ),
        // German: dots, two-digit year, no comma.
        (
            "31.12.21 23:59 - Jörg: Prost",
            None,
            "Jörg",
            "2021-12-31T23:59",
            "Prost",
        ),
        // Spanish 12 h: "p. m.".
        (
            "31/12/21, 11:59 p. m. - Ana: hola",
            None,
            "Ana",
            "2021-12-31T23:59",
            "hola",
        ),
        // Year first (ISO-like locales).
        (
            "2021-12-31, 23:59 - Kim: hi",
            None,
            "Kim",
            "2021-12-31T23:59",
            "hi",
        ),
        // A forced order for a date that fits both.
        (
            "01/02/2022, 10:00 - Ann: x",
            Some(Dmy),
            "Ann",
            "2022-02-01T10:00",
            "x",
        ),
        (
            "01/02/2022, 10:00 - Ann: x",
            Some(Mdy),
            "Ann",
            "2022-01-02T10:00",
            "x",
        ),
        // A phone number as the sender, with the embedding marks Android puts around it.
        (
            "13/01/2022, 10:00 - \u{202a}+1 512-555-1234\u{202c}: hey",
            None,
            "+1 512-555-1234",
            "2022-01-13T10:00",
            "hey",
        ),
        // An unsaved contact with a push name ("~ Ann").
        (
            "13/01/2022, 10:00 - ~\u{202f}Ann: hey",
            None,
            "Ann",
            "2022-01-13T10:00",
            "hey",
        ),
        // A colon in the text stays in the text.
        (
            "13/01/2022, 10:00 - Ann: time: 10:30: ok",
            None,
            "Ann",
            "2022-01-13T10:00",
            "time: 10:30: ok",
        ),
    ];
    for (line, order, sender, at, text) in table {
        let l = one(line, *order);
        assert_eq!(l.sender.as_deref(), Some(*sender), "{line:?}");
        assert_eq!(l.at, dt(at), "{line:?}");
        assert_eq!(l.body, Body::Text(text.to_string()), "{line:?}");
    }
}

#[test]
fn media_deleted_edited_and_system_lines() {
    let m = |kind: &str, caption: &str| Body::Media {
        kind: kind.into(),
        caption: caption.into(),
    };
    let sys = |t: &str| Body::System(t.into());
    let table: Vec<(&str, Option<&str>, Body, bool)> = vec![
        (
            "13/01/2022, 10:00 - Ann: <Media omitted>",
            Some("Ann"),
            m("media", ""),
            false,
        ),
        (
            "[13/01/2022, 10:00:00] Ann: \u{200e}image omitted",
            Some("Ann"),
            m("image", ""),
            false,
        ),
        (
            "[13/01/2022, 10:00:00] Ann: \u{200e}<attached: 00000012-PHOTO-2022-01-13.jpg>",
            Some("Ann"),
            m("attached: 00000012-PHOTO-2022-01-13.jpg", ""),
            false,
        ),
        (
            "13/01/2022, 10:00 - Ann: IMG-20220113-WA0001.jpg (file attached)\nlook at this",
            Some("Ann"),
            m("attached: IMG-20220113-WA0001.jpg", "look at this"),
            false,
        ),
        (
            "13/01/2022, 10:00 - Ann: This message was deleted",
            Some("Ann"),
            Body::Deleted,
            false,
        ),
        (
            "13/01/2022, 10:00 - Me: You deleted this message",
            Some("Me"),
            Body::Deleted,
            false,
        ),
        (
            "13/01/2022, 10:00 - Ann: fixed it <This message was edited>",
            Some("Ann"),
            Body::Text("fixed it".into()),
            true,
        ),
        (
            "[13/01/2022, 10:00:00] Ann: fixed \u{200e}<This message was edited>",
            Some("Ann"),
            Body::Text("fixed".into()),
            true,
        ),
        // Android system lines have no sender.
        (
            "13/01/2022, 10:00 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.",
            None,
            sys(
                "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.",
            ),
            false,
        ),
        (
            "13/01/2022, 10:00 - Ann created group \"Trip: Rome\"",
            None,
            sys("Ann created group \"Trip: Rome\""),
            false,
        ),
        (
            "13/01/2022, 10:00 - Ann changed the subject from \"A: b\" to \"c\"",
            None,
            sys("Ann changed the subject from \"A: b\" to \"c\""),
            false,
        ),
        // iOS writes its events as the chat's own "sender", with a marked text.
        (
            "[13/01/2022, 10:00:00] Family: \u{200e}Ann added Bob",
            None,
            sys("Ann added Bob"),
            false,
        ),
        (
            "[13/01/2022, 10:00:00] Ann Lee: \u{200e}Messages and calls are end-to-end encrypted.",
            None,
            sys("Messages and calls are end-to-end encrypted."),
            false,
        ),
        (
            "[13/01/2022, 10:00:00] Ann: \u{200e}Missed voice call",
            None,
            sys("Missed voice call"),
            false,
        ),
        // An empty message (a sender and nothing after the colon).
        (
            "13/01/2022, 10:00 - Ann:",
            Some("Ann"),
            Body::Text(String::new()),
            false,
        ),
    ];
    for (line, sender, body, edited) in table {
        let l = one(line, None);
        assert_eq!(l.sender.as_deref(), sender, "{line:?}");
        assert_eq!(l.body, body, "{line:?}");
        assert_eq!(l.edited, edited, "{line:?}");
    }
}

#[test]
fn continuation_lines_join_the_message_before_them() {
    let text = "garbage from a cut-off file\n\
                13/01/2022, 10:00 - Ann: first line\n\
                second line\n\
                \n\
                fourth: with a colon\n\
                13/01/2022, 10:01 - Bob: next\r\n\
                14/01/2022, 09:00 - Ann: 3/4 of us\n\
                can come at 10:30 - ok?\n";
    let p = parse(text, None).unwrap();
    assert_eq!(p.orphans, 1);
    assert_eq!(p.physical, 8);
    assert_eq!(p.lines.len(), 3);
    assert_eq!(
        p.lines[0].body,
        Body::Text("first line\nsecond line\n\nfourth: with a colon".into())
    );
    assert_eq!(p.lines[1].body, Body::Text("next".into()));
    assert_eq!(p.lines[1].line, 6);
    assert_eq!(
        p.lines[2].body,
        Body::Text("3/4 of us\ncan come at 10:30 - ok?".into())
    );
}

#[test]
fn the_order_is_detected_from_the_whole_file_or_asked_for() {
    // The first date fits both; a later one decides.
    let dmy = "01/02/2022, 10:00 - Ann: a\n25/02/2022, 10:00 - Ann: b\n";
    assert_eq!(parse(dmy, None).unwrap().order, Some(DateOrder::Dmy));
    assert_eq!(
        parse(dmy, None).unwrap().lines[0].at,
        dt("2022-02-01T10:00")
    );
    let mdy = "01/02/2022, 10:00 - Ann: a\n02/25/2022, 10:00 - Ann: b\n";
    assert_eq!(
        parse(mdy, None).unwrap().lines[0].at,
        dt("2022-01-02T10:00")
    );
    // Every date fits both: ask.
    let both = "01/02/2022, 10:00 - Ann: a\n03/04/2022, 10:00 - Ann: b\n";
    let err = parse(both, None).unwrap_err();
    assert_eq!(
        err,
        ParseError::Ambiguous {
            example: "01/02/2022".into()
        }
    );
    assert!(err.to_string().contains("--date-order"), "{err}");
    // A file that needs both is not one export.
    let mixed = "25/02/2022, 10:00 - Ann: a\n02/25/2022, 10:00 - Ann: b\n";
    assert!(matches!(parse(mixed, None), Err(ParseError::Mixed { .. })));
    // A forced order that a date does not fit names the line.
    let err = parse(dmy, Some(DateOrder::Mdy)).unwrap_err();
    assert!(
        matches!(err, ParseError::BadDate { line: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn not_an_export() {
    assert_eq!(
        parse("hello\nworld\n", None).unwrap_err(),
        ParseError::NotExport
    );
    assert_eq!(parse("", None).unwrap_err(), ParseError::NotExport);
    // A date without a time is not a header.
    assert_eq!(
        parse("31/12/2021 - Ann: x", None).unwrap_err(),
        ParseError::NotExport
    );
    // Nonsense between the time and the dash is not AM/PM.
    assert_eq!(
        parse("31/12/2021, 10:00 xx - Ann: x", None).unwrap_err(),
        ParseError::NotExport
    );
}

#[test]
fn impossible_times_are_refused() {
    assert!(matches!(
        parse("31/12/2021, 25:00 - Ann: x", None),
        Err(ParseError::BadDate { .. })
    ));
    assert!(matches!(
        parse("12/31/2021, 13:00 PM - Ann: x", None),
        Err(ParseError::BadDate { .. })
    ));
    assert!(matches!(
        parse("31/02/2021, 10:00 - Ann: x", None),
        Err(ParseError::BadDate { .. })
    ));
}
