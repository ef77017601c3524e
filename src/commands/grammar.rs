//! What an owner message is: a command, or a turn for the chief of staff.
//!
//! A message is a command only when the whole message is one (at most 8 words,
//! starting with a command word) or it starts with `steward` / `hey steward`. A
//! command word inside a sentence never fires: "ping me about the deck" and
//! "status of the round?" are turns. Presence lines ("I'm at the gym for 1h")
//! and teaching ("remember Ann's birthday is 1990-04-02", "+15125551234 is
//! Manasa", "don't tell Ravi where I am") have their own exact shapes.

use super::duration::{self, Span};
use jiff::SignedDuration;

/// Longest command, in words (without the `steward` prefix).
pub const MAX_WORDS: usize = 8;
/// Longer than this, or containing `?`, is never a presence status.
pub const MAX_STATUS_CHARS: usize = 160;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// Not a command: the owner turn gets the text.
    Turn(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Ping,
    Status,
    Budget,
    /// Global mute; `None` until `resume`.
    Pause(Option<Span>),
    Resume,
    PauseContact {
        who: String,
        span: Option<Span>,
    },
    ResumeContact(String),
    ResumeAll,
    WhatsPaused,
    KillSwitch(bool),
    Approvals,
    /// A numbered reply to the last list.
    Item {
        n: usize,
        action: ItemAction,
    },
    Runs,
    Receipt(usize),
    Brief,
    Profile,
    Presence(Presence),
    PresenceOff,
    /// A fact about a person, saved after the owner's yes.
    Remember {
        who: String,
        key: String,
        value: String,
    },
    /// "remind me to call the bank": a commitment.
    Remind(String),
    /// "+15125551234 is Manasa".
    Identity {
        handle: String,
        name: String,
    },
    /// "don't tell Ravi where I am" (false) / "you can tell Ravi where I am" (true).
    Disclose {
        who: String,
        allow: bool,
    },
    /// yes / no to the question Steward asked last.
    Answer(bool),
    /// `news`, `news today|week|<source>`.
    News(Option<String>),
    /// The news stories saved with "save N".
    Readlist,
    /// `vehicle`, `home`, `health`, `travel`, `career`, `money`: what the
    /// domain trackers kept from mail.
    Domain(String),
    /// "what did Ann say", "catch me up on Ann", "see messages from Ann": the
    /// real thread from memory, no model.
    Peek(String),
    /// `monitor Climbing crew` / `unmonitor Climbing crew`: drafts in a group
    /// when the owner is mentioned.
    Monitor {
        group: String,
        on: bool,
    },
    /// The rest of the last long answer.
    More,
    /// A question for the owner's documents ("what's my passport number",
    /// "find the lease", "docs insurance"): the words to look for.
    Docs(String),
    /// A one-word near miss of a command ("hepl"): asked back, no model call.
    DidYouMean(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemAction {
    /// Bare number: the item's default action.
    Default,
    Send,
    No,
    Edit(String),
    Snooze(Option<Span>),
    Done,
    /// "1 draft": a check-in draft to the person the item is about.
    Draft,
    /// "save 2" / "2 save": keep a news story on the readlist.
    Save,
    /// Anything else after the number.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// free | busy | sleep | driving | focus | away
    pub state: &'static str,
    /// What the owner typed, for the owner's own views.
    pub text: String,
    /// A named place; told only to the inner circle.
    pub place: Option<String>,
    pub span: Span,
}

/// Normalise: trim, straight apostrophes, drop trailing `.`/`!`, collapse spaces.
fn normalise(text: &str) -> String {
    let t = text
        .trim()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .replace(['\u{201c}', '\u{201d}'], "\"");
    let t = t.trim_end_matches(['.', '!']).trim();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn parse(text: &str) -> Parsed {
    let original = normalise(text);
    let lower = original.to_lowercase();
    // "steward, pause" / "hey steward pause": the prefix makes anything a command try.
    for prefix in ["hey steward", "steward"] {
        if let Some(rest) = lower.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with([' ', ',', ':']))
        {
            let cut = original.len() - rest.len();
            let rest_original = original[cut..].trim_start_matches([',', ':', ' ']);
            // Bare on/off only after the name: "steward on" unmutes.
            match rest_original.to_lowercase().as_str() {
                "on" => return Parsed::Command(Command::Resume),
                "off" => return Parsed::Command(Command::Pause(None)),
                _ => {}
            }
            return match command(rest_original, usize::MAX) {
                Some(c) => Parsed::Command(c),
                None => Parsed::Turn(rest_original.to_string()),
            };
        }
    }
    match command(&original, MAX_WORDS) {
        Some(c) => Parsed::Command(c),
        None => match near_miss(&lower) {
            Some(word) => Parsed::Command(Command::DidYouMean(word)),
            None => Parsed::Turn(text.trim().to_string()),
        },
    }
}

/// The one-word commands a typo is checked against.
const COMMAND_WORDS: &[&str] = &[
    "help",
    "commands",
    "ping",
    "status",
    "budget",
    "approvals",
    "pending",
    "drafts",
    "runs",
    "brief",
    "today",
    "profile",
    "more",
    "news",
    "readlist",
    "resume",
    "unmute",
    "pause",
    "quiet",
    "recover",
];

/// A single word one edit (two for long words) from a command word: a typo,
/// not a question. Short words and real words near a command ("hello") stay
/// turns: the distance allowed grows with the length.
fn near_miss(lower: &str) -> Option<&'static str> {
    let word = lower.trim();
    if word.contains(' ') || word.chars().count() < 4 || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    let allowed = if word.chars().count() >= 7 { 2 } else { 1 };
    COMMAND_WORDS
        .iter()
        .map(|c| (*c, edits(word, c)))
        .filter(|(_, d)| *d > 0 && *d <= allowed)
        .min_by_key(|(_, d)| *d)
        .map(|(c, _)| c)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions
/// and swaps of two neighbours each count one ("hepl" is one from "help").
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

fn command(original: &str, max_words: usize) -> Option<Command> {
    let lower = original.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let orig_words: Vec<&str> = original.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    if let Some(c) = presence(original, &lower, &words) {
        return Some(c);
    }
    if let Some(c) = teaching(&lower, &words, &orig_words) {
        return Some(c);
    }
    if words.len() > max_words {
        return None;
    }
    control(&words, &orig_words)
}

fn control(w: &[&str], orig: &[&str]) -> Option<Command> {
    use Command::*;
    let name = |from: usize, to: usize| orig[from..to].join(" ");
    Some(match w {
        ["help"] | ["commands"] => Help,
        ["ping"] => Ping,
        ["status"] => Status,
        ["budget"] | ["spend"] => Budget,
        ["kill", "switch", "on"]
        | ["kill", "all"]
        | ["panic"]
        | ["emergency", "stop"]
        | ["shut", "down"] => KillSwitch(true),
        ["kill", "switch", "off"] | ["recover"] => KillSwitch(false),
        ["approvals"] | ["pending"] | ["drafts"] => Approvals,
        ["runs"] => Runs,
        ["receipt", n] => Receipt(n.parse().ok().filter(|n| *n > 0)?),
        ["brief"] | ["today"] | ["?"] | ["plate"] | ["brief", "me"] => Brief,
        ["profile"] => Profile,
        ["more"] | ["go", "on"] => More,
        ["news"] => News(None),
        ["readlist"] | ["reading", "list"] => Readlist,
        [d] if crate::owner::domains::named(d).is_some() => {
            Domain(crate::owner::domains::named(d)?.to_string())
        }
        ["monitor", _, ..] => Monitor {
            group: name(1, w.len()),
            on: true,
        },
        ["unmonitor", _, ..] => Monitor {
            group: name(1, w.len()),
            on: false,
        },
        ["news", rest @ ..] if rest.len() <= 3 => News(Some(orig[1..].join(" "))),
        ["docs" | "documents", _, ..] => Docs(name(1, w.len())),
        ["find", "the" | "my", _, ..]
        | ["what's" | "whats", "my", _, ..]
        | ["what", "is", "my", _, ..] => Docs(name(0, w.len())),
        ["when", "does" | "do", .., last]
            if matches!(last.trim_end_matches('?'), "renew" | "expire" | "end") =>
        {
            Docs(name(0, w.len()))
        }
        ["what's", "paused"] | ["whats", "paused"] | ["what", "is", "paused"] => WhatsPaused,
        ["resume", "all"] => ResumeAll,
        ["resume"] | ["unmute"] | ["wake", "up"] => Resume,
        ["yes" | "y" | "yep" | "save" | "👍"] => Answer(true),
        ["no" | "n" | "nope" | "don't" | "👎"] => Answer(false),
        // `quiet` is the timed one: 2 h alone, a bare number is hours, 15 min to 24 h.
        ["quiet"] => Pause(Some(quiet_for(QUIET_DEFAULT_MINUTES))),
        ["quiet", "off"] | ["loud"] => Resume,
        ["quiet", n] if n.parse::<f64>().is_ok_and(|h| h.is_finite() && h > 0.0) => {
            let hours: f64 = n.parse().ok()?;
            Pause(Some(quiet_for((hours * 60.0).round() as i64)))
        }
        ["quiet", rest @ ..]
            if duration::parse(rest).is_some_and(|s| matches!(s, Span::For(_))) =>
        {
            match duration::parse(rest)? {
                Span::For(d) => Pause(Some(quiet_for(d.as_mins()))),
                other => Pause(Some(other)),
            }
        }
        ["pause" | "mute" | "hush"] | ["stop", "replying"] => Pause(None),
        ["pause" | "mute" | "quiet" | "hush", rest @ ..] => match duration::parse(rest) {
            Some(span) => Pause(Some(span)),
            None => contact_pause(rest, &orig[1..])?,
        },
        ["resume" | "unmute", ..] if name_ok(&orig[1..]) => ResumeContact(name(1, w.len())),
        ["save", n] if n.chars().all(|c| c.is_ascii_digit()) && n.len() <= 2 => Item {
            n: n.parse().ok().filter(|n| *n > 0)?,
            action: ItemAction::Save,
        },
        [n, rest @ ..] if n.chars().all(|c| c.is_ascii_digit()) && n.len() <= 2 => Item {
            n: n.parse().ok().filter(|n| *n > 0)?,
            action: item_action(rest, &orig[1..]),
        },
        _ => return None,
    })
}

/// `quiet` with no span lasts this long.
const QUIET_DEFAULT_MINUTES: i64 = 120;

/// A `quiet` span, clamped to 15 minutes .. 24 hours.
fn quiet_for(minutes: i64) -> Span {
    Span::For(SignedDuration::from_mins(minutes.clamp(15, 24 * 60)))
}

/// "pause Ann", "pause Ann for 1h", "mute Ann Lee until 9am".
fn contact_pause(rest: &[&str], orig: &[&str]) -> Option<Command> {
    let split = rest.iter().position(|x| {
        matches!(
            *x,
            "for" | "until" | "till" | "tonight" | "tomorrow" | "all"
        )
    });
    let (who, span) = match split {
        Some(i) => (orig[..i].join(" "), Some(duration::parse(&rest[i..])?)),
        None => (orig.join(" "), None),
    };
    if !name_ok(&who.split_whitespace().collect::<Vec<_>>()) {
        return None;
    }
    Some(Command::PauseContact { who, span })
}

fn item_action(rest: &[&str], orig: &[&str]) -> ItemAction {
    match rest {
        [] => ItemAction::Default,
        ["send" | "yes" | "y" | "ok" | "👍" | "✅" | "approve"] => ItemAction::Send,
        ["no" | "n" | "drop" | "skip" | "cancel" | "❌" | "👎" | "reject"] => ItemAction::No,
        ["done" | "dismiss"] => ItemAction::Done,
        ["draft" | "write"] => ItemAction::Draft,
        ["save"] => ItemAction::Save,
        ["snooze"] => ItemAction::Snooze(None),
        ["snooze", span @ ..] => match duration::parse(span) {
            Some(s) => ItemAction::Snooze(Some(s)),
            None => ItemAction::Other(orig.join(" ")),
        },
        ["edit", ..] if orig.len() > 1 => ItemAction::Edit(orig[1..].join(" ")),
        _ => ItemAction::Other(orig.join(" ")),
    }
}

/// Quick presence phrases: (phrase, state, default span, names a place).
const QUICK: &[(&str, &str, i64, Option<&str>)] = &[
    ("just ate", "free", 180, None),
    ("having lunch", "busy", 60, None),
    ("heading home", "busy", 60, None),
    ("reached home", "free", 240, Some("home")),
    ("at the gym", "busy", 120, Some("the gym")),
    ("i'm at the gym", "busy", 120, Some("the gym")),
    ("going to bed", "sleep", 480, None),
    ("gn", "sleep", 480, None),
    ("driving", "driving", 60, None),
    ("i'm driving", "driving", 60, None),
    ("heads down", "focus", 120, None),
];
/// A manual status without its own span lasts this long.
const DEFAULT_STATUS_MINUTES: i64 = 240;

fn presence(original: &str, lower: &str, words: &[&str]) -> Option<Command> {
    if lower.contains('?') || original.chars().count() > MAX_STATUS_CHARS {
        return None;
    }
    if matches!(
        lower,
        "i'm back" | "im back" | "i am back" | "status off" | "back"
    ) {
        return Some(Command::PresenceOff);
    }
    // A trailing span: "… for 1h", "… until 5pm".
    let (body_words, span) = match words
        .iter()
        .rposition(|w| matches!(*w, "for" | "until" | "till"))
    {
        Some(i) if i > 0 => match duration::parse(&words[i..]) {
            Some(s) => (&words[..i], Some(s)),
            None => (words, None),
        },
        _ => (words, None),
    };
    let body = body_words.join(" ");
    let orig_words: Vec<&str> = original.split_whitespace().collect();
    let orig_body = orig_words[..body_words.len()].join(" ");
    for (phrase, state, minutes, place) in QUICK {
        if body == *phrase {
            return Some(Command::Presence(Presence {
                state,
                text: original.to_string(),
                place: place.map(str::to_string),
                span: span.unwrap_or(Span::For(SignedDuration::from_mins(*minutes))),
            }));
        }
    }
    let default = Span::For(SignedDuration::from_mins(DEFAULT_STATUS_MINUTES));
    for prefix in ["i'm at ", "im at ", "i am at "] {
        if let Some(place) = body.strip_prefix(prefix) {
            let place = orig_body[orig_body.len() - place.len()..].to_string();
            return Some(Command::Presence(Presence {
                state: "away",
                text: original.to_string(),
                place: Some(place),
                span: span.unwrap_or(default),
            }));
        }
    }
    for prefix in ["status: ", "away: "] {
        if body.starts_with(prefix) {
            let text = orig_body[prefix.len()..].trim().to_string();
            if text.is_empty() {
                return None;
            }
            return Some(Command::Presence(Presence {
                state: if prefix == "away: " { "away" } else { "busy" },
                text,
                place: None,
                span: span.unwrap_or(default),
            }));
        }
    }
    None
}

/// A phone number or email as the owner types one.
pub fn looks_like_handle(s: &str) -> bool {
    let s = s.trim_matches(|c: char| c == ',' || c == '.');
    if s.contains('@') {
        return s
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'));
    }
    let digits = s.chars().filter(char::is_ascii_digit).count();
    digits >= 7
        && s.chars()
            .all(|c| c.is_ascii_digit() || "+-() .".contains(c))
}

/// A person's name as typed in a teaching line: 1-3 words, letters only.
fn name_ok(words: &[&str]) -> bool {
    !words.is_empty()
        && words.len() <= 3
        && words.iter().all(|w| {
            w.chars()
                .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
                && !matches!(
                    w.to_lowercase().as_str(),
                    "me" | "my"
                        | "you"
                        | "i"
                        | "they"
                        | "he"
                        | "she"
                        | "and"
                        | "just"
                        | "spam"
                        | "not"
                        | "a"
                        | "an"
                        | "the"
                        | "probably"
                        | "maybe"
                        | "anyone"
                        | "everyone"
                        | "everybody"
                        | "nobody"
                        | "someone"
                )
        })
}

/// Thread-peek: exactly one person named, never with a send verb.
fn peek(w: &[&str], orig: &[&str]) -> Option<Command> {
    let w: Vec<&str> = w.iter().map(|x| x.trim_end_matches('?')).collect();
    let name = |from: usize, to: usize| -> Option<String> {
        let words = &orig[from..to];
        let n = words.join(" ");
        let n = n
            .trim_end_matches('?')
            .trim_end_matches("'s")
            .trim()
            .to_string();
        (name_ok(&n.split_whitespace().collect::<Vec<_>>())).then_some(n)
    };
    match w.as_slice() {
        ["what", "did", .., "say"] if w.len() >= 4 => name(2, w.len() - 1),
        ["what's", _, "saying"] | ["whats", _, "saying"] => name(1, 2),
        ["catch", "me", "up", "on", rest @ ..] if !rest.is_empty() => {
            let end = if rest.last() == Some(&"messages") {
                w.len() - 1
            } else {
                w.len()
            };
            name(4, end)
        }
        ["see", "messages", "from", rest @ ..] if !rest.is_empty() => name(3, w.len()),
        _ => None,
    }
    .map(Command::Peek)
}

fn teaching(lower: &str, w: &[&str], orig: &[&str]) -> Option<Command> {
    if let Some(p) = peek(w, orig) {
        return Some(p);
    }
    if lower.contains('?') || lower.chars().count() > MAX_STATUS_CHARS {
        return None;
    }
    // Reminders: "remind me to X", "remember to X".
    for prefix in ["remind me to ", "remember to "] {
        if lower.starts_with(prefix) {
            let n = prefix.split_whitespace().count();
            return Some(Command::Remind(orig[n..].join(" ")));
        }
    }
    // "remind me on friday to pay rent": the time first, `when` takes it off.
    if lower.starts_with("remind me ") && w.iter().skip(2).any(|x| *x == "to") {
        return Some(Command::Remind(orig[2..].join(" ")));
    }
    // "remember Ann's birthday is 1990-04-02"
    if w.first() == Some(&"remember") {
        let is = w.iter().position(|x| *x == "is")?;
        let possessive = w[1..is].iter().position(|x| x.ends_with("'s"))? + 1;
        let who = orig[1..=possessive].join(" ");
        let who = who.strip_suffix("'s")?.to_string();
        let key = orig[possessive + 1..is].join(" ").to_lowercase();
        let value = orig[is + 1..].join(" ");
        if key.is_empty() || value.is_empty() || !name_ok(&who.split(' ').collect::<Vec<_>>()) {
            return None;
        }
        return Some(Command::Remember { who, key, value });
    }
    // Identity corrections: "+1512… is Manasa", "X belongs to Y", "Sam's number is 512…".
    if let [handle, "is", rest @ ..] = orig
        && looks_like_handle(handle)
        && name_ok(rest)
    {
        return Some(Command::Identity {
            handle: handle.to_string(),
            name: rest.join(" "),
        });
    }
    if let [handle, "belongs", "to", rest @ ..] = orig
        && looks_like_handle(handle)
        && name_ok(rest)
    {
        return Some(Command::Identity {
            handle: handle.to_string(),
            name: rest.join(" "),
        });
    }
    if let Some(i) = w
        .iter()
        .position(|x| matches!(*x, "number" | "phone" | "email" | "cell"))
        && i >= 1
        && w.get(i + 1) == Some(&"is")
        && w[i - 1].ends_with("'s")
        && i + 2 < w.len()
    {
        let name_words: Vec<&str> = orig[..i].to_vec();
        let who = name_words.join(" ");
        let who = who.strip_suffix("'s")?;
        let handle = orig[i + 2..].join(" ");
        if name_ok(&who.split(' ').collect::<Vec<_>>()) && looks_like_handle(&handle) {
            return Some(Command::Identity {
                handle,
                name: who.to_string(),
            });
        }
    }
    disclosure(w, orig)
}

fn disclosure(w: &[&str], orig: &[&str]) -> Option<Command> {
    let deny: &[(&[&str], &[&str])] = &[
        (&["don't", "tell"], &["where", "i", "am"]),
        (&["dont", "tell"], &["where", "i", "am"]),
        (&["do", "not", "tell"], &["where", "i", "am"]),
        (&["don't", "let"], &["know", "where", "i", "am"]),
        (&["don't", "share", "my", "location", "with"], &[]),
        (&["keep", "my", "whereabouts", "private", "from"], &[]),
    ];
    let allow: &[(&[&str], &[&str])] = &[
        (&["you", "can", "tell"], &["where", "i", "am"]),
        (&["it's", "ok", "to", "tell"], &["where", "i", "am"]),
    ];
    for (forms, allowed) in [(deny, false), (allow, true)] {
        for (head, tail) in forms {
            if w.len() > head.len() + tail.len() && w.starts_with(head) && w.ends_with(tail) {
                let who = &orig[head.len()..w.len() - tail.len()];
                if !name_ok(who) {
                    return None;
                }
                return Some(Command::Disclose {
                    who: who.join(" "),
                    allow: allowed,
                });
            }
        }
    }
    None
}
