//! WhatsApp's "Export chat" text, parsed without touching memory.
//!
//! Both phones' shapes are read:
//! - iOS: `[31/12/2021, 23:59:59] Ann Lee: text` (brackets, seconds); system lines
//!   and media markers start their text with U+200E (`‎image omitted`);
//! - Android: `31/12/2021, 23:59 - Ann Lee: text`; system lines have no
//!   `Name: ` part; media is `<Media omitted>` or `NAME (file attached)`.
//!
//! 12 h (`11:59 PM`, `11:59 p. m.`, with a narrow no-break space) and 24 h clocks,
//! `/`, `.` and `-` as date separators, 2- and 4-digit years, year-first dates.
//! Day/month order is a property of the whole file (the phone's locale): it is
//! detected from the dates (a first number over 12 means day first) and, when
//! every date fits both, the caller must say (`--date-order`). A line that does
//! not open with a date continues the message before it.

/// The order of the first two numbers of a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    Dmy,
    Mdy,
    Ymd,
}

impl std::str::FromStr for DateOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "dmy" => Ok(DateOrder::Dmy),
            "mdy" => Ok(DateOrder::Mdy),
            "ymd" => Ok(DateOrder::Ymd),
            _ => Err(format!("{s:?}: use dmy (31/12/2021) or mdy (12/31/2021)")),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error(
        "no line of it opens with a WhatsApp date and time (\"31/12/2021, 23:59 - Ann: …\" or \"[31/12/2021, 23:59:59] Ann: …\"); pass the .txt or .zip that WhatsApp's \"Export chat\" wrote"
    )]
    NotExport,
    #[error(
        "every date in it fits both day/month and month/day (the first is {example:?}); pass --date-order dmy (31/12) or --date-order mdy (12/31)"
    )]
    Ambiguous { example: String },
    #[error(
        "its dates fit neither day/month nor month/day (line {dmy_line} needs month/day, line {mdy_line} needs day/month); check that it is one chat's export"
    )]
    Mixed { dmy_line: usize, mdy_line: usize },
    #[error("line {line}: {date:?} is not a date in {order:?} order; check --date-order")]
    BadDate {
        line: usize,
        date: String,
        order: DateOrder,
    },
}

/// What a media placeholder says the message carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Text(String),
    /// A media placeholder: its kind (`image`, `media`, `attached: NAME`…) and caption.
    Media {
        kind: String,
        caption: String,
    },
    /// "This message was deleted": nothing to remember.
    Deleted,
    /// Group events, encryption notices, missed calls: not anyone's message.
    System(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number of the header in the file.
    pub line: usize,
    /// The sender as the export spells it (directional marks removed); `None` for system lines.
    pub sender: Option<String>,
    /// Local wall-clock time.
    pub at: jiff::civil::DateTime,
    pub body: Body,
    pub edited: bool,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub lines: Vec<Line>,
    /// Physical lines read.
    pub physical: usize,
    /// Lines before the first dated one (a cut-off file): not anyone's message.
    pub orphans: usize,
    pub order: Option<DateOrder>,
}

/// A dated header, before the date order is known.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header<'a> {
    nums: [u16; 3],
    year_first: bool,
    hour: u8,
    minute: u8,
    second: u8,
    pm: Option<bool>,
    bracket: bool,
    date: &'a str,
    rest: &'a str,
}

/// Marks phones put around names and numbers (LRM, RLM, embeddings, isolates, BOM).
fn is_mark(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\u{202f}' | '\u{a0}' | '\t')
}

fn digits(s: &str, max: usize) -> Option<(u16, usize, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    Some((s[..n].parse().ok()?, n, &s[n..]))
}

/// `31/12/2021, 23:59 - rest` or `[12/31/21, 11:59:59 PM] rest`.
fn header(raw: &str) -> Option<Header<'_>> {
    let s = raw.trim_start_matches(is_mark);
    let (bracket, s) = match s.strip_prefix('[') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let date_start = s;
    let (a, la, s) = digits(s, 4)?;
    let sep = s.chars().next().filter(|c| matches!(c, '/' | '.' | '-'))?;
    let (b, _, s) = digits(&s[1..], 2)?;
    let s = s.strip_prefix(sep)?;
    let (c, lc, s) = digits(s, 4)?;
    let year_first = la == 4;
    if !year_first && lc != 2 && lc != 4 {
        return None;
    }
    let date = &date_start[..date_start.len() - s.len()];
    let s = s.strip_prefix('.').unwrap_or(s); // "31.12.21." in some locales
    let s = s.strip_prefix(',').unwrap_or(s);
    let s = s.trim_start_matches(is_space);
    let (hour, _, s) = digits(s, 2)?;
    let (minute, lm, s) = digits(s.strip_prefix(':')?, 2)?;
    let (second, s) = match s.strip_prefix(':').and_then(|r| digits(r, 2)) {
        Some((sec, 2, r)) => (sec, r),
        Some(_) => return None,
        None => (0, s),
    };
    if lm != 2 {
        return None;
    }
    let (suffix, rest) = if bracket {
        let end = s.find(']')?;
        (
            &s[..end],
            s[end + 1..].strip_prefix(' ').unwrap_or(&s[end + 1..]),
        )
    } else {
        let end = s.find("- ")?;
        (&s[..end], &s[end + 2..])
    };
    let pm = ampm(suffix)?;
    Some(Header {
        nums: [a, b, c],
        year_first,
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
        second: u8::try_from(second).ok()?,
        pm,
        bracket,
        date,
        rest,
    })
}

/// The text between the time and the terminator: nothing, or AM/PM in any spelling
/// (`PM`, `pm`, `p. m.`, `p.m.`). `None` when it is something else.
fn ampm(suffix: &str) -> Option<Option<bool>> {
    let folded: String = suffix
        .chars()
        .filter(|c| !is_space(*c) && *c != '.' && !is_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    match folded.as_str() {
        "" => Some(None),
        "am" => Some(Some(false)),
        "pm" => Some(Some(true)),
        _ => None,
    }
}

/// The file's order: given, year-first, or detected from every date.
fn detect(
    heads: &[(usize, Header<'_>)],
    given: Option<DateOrder>,
) -> Result<DateOrder, ParseError> {
    if let Some(o) = given {
        return Ok(o);
    }
    if heads.iter().all(|(_, h)| h.year_first) {
        return Ok(DateOrder::Ymd);
    }
    let first_over = heads.iter().find(|(_, h)| !h.year_first && h.nums[0] > 12);
    let second_over = heads.iter().find(|(_, h)| !h.year_first && h.nums[1] > 12);
    match (first_over, second_over) {
        (Some(_), None) => Ok(DateOrder::Dmy),
        (None, Some(_)) => Ok(DateOrder::Mdy),
        (Some((d, _)), Some((m, _))) => Err(ParseError::Mixed {
            dmy_line: *m,
            mdy_line: *d,
        }),
        (None, None) => Err(ParseError::Ambiguous {
            example: heads
                .first()
                .map(|(_, h)| h.date.to_string())
                .unwrap_or_default(),
        }),
    }
}

fn civil(
    line: usize,
    h: &Header<'_>,
    order: DateOrder,
) -> Result<jiff::civil::DateTime, ParseError> {
    let [a, b, c] = h.nums;
    let (y, m, d) = match (h.year_first, order) {
        (true, _) | (false, DateOrder::Ymd) => (a, b, c),
        (false, DateOrder::Dmy) => (c, b, a),
        (false, DateOrder::Mdy) => (c, a, b),
    };
    let y = if y < 100 { 2000 + y } else { y };
    let hour = match h.pm {
        None => h.hour,
        Some(pm) if (1..=12).contains(&h.hour) => h.hour % 12 + if pm { 12 } else { 0 },
        Some(_) => 99,
    };
    let bad = || ParseError::BadDate {
        line,
        date: h.date.to_string(),
        order,
    };
    let date = jiff::civil::Date::new(i16::try_from(y).map_err(|_| bad())?, m as i8, d as i8)
        .map_err(|_| bad())?;
    let time =
        jiff::civil::Time::new(hour as i8, h.minute as i8, h.second as i8, 0).map_err(|_| bad())?;
    Ok(date.to_datetime(time))
}

/// Parse a whole export. Nothing is decided about people here.
pub fn parse(text: &str, order: Option<DateOrder>) -> Result<Parsed, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // First pass: where the headers are, so the order is known before any date is built.
    let mut heads: Vec<(usize, Header<'_>)> = Vec::new();
    let mut rows: Vec<(usize, &str)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        match header(raw) {
            Some(h) => heads.push((i + 1, h)),
            None => rows.push((i + 1, raw)),
        }
    }
    if heads.is_empty() {
        return Err(ParseError::NotExport);
    }
    let order = detect(&heads, order)?;
    let mut parsed = Parsed {
        physical: heads.len() + rows.len(),
        order: Some(order),
        ..Parsed::default()
    };
    // Continuation lines, in order, attach to the header before them.
    let mut cont = rows.into_iter().peekable();
    let mut next_heads = heads.iter().skip(1).map(|(n, _)| *n);
    let mut bound = next_heads.next();
    while cont.peek().is_some_and(|(n, _)| *n < heads[0].0) {
        cont.next();
        parsed.orphans += 1;
    }
    for (n, h) in &heads {
        let at = civil(*n, h, order)?;
        let mut text = h.rest.to_string();
        while let Some((_, more)) = cont.next_if(|(m, _)| bound.is_none_or(|b| *m < b)) {
            text.push('\n');
            text.push_str(more);
        }
        bound = next_heads.next();
        parsed.lines.push(classify(*n, h.bracket, at, &text));
    }
    Ok(parsed)
}

const EDITED: &str = "<This message was edited>";
const MEDIA: &[&str] = &[
    "image omitted",
    "video omitted",
    "audio omitted",
    "sticker omitted",
    "GIF omitted",
    "document omitted",
    "Contact card omitted",
    "video note omitted",
];

/// Split `Name: text` and decide what the text is.
fn classify(line: usize, bracket: bool, at: jiff::civil::DateTime, rest: &str) -> Line {
    let system = |text: &str| Line {
        line,
        sender: None,
        at,
        body: Body::System(text.trim_matches(is_mark).to_string()),
        edited: false,
    };
    let Some((who, text)) = rest.split_once(": ").or_else(|| {
        rest.strip_suffix(':')
            .filter(|w| !w.contains(": "))
            .map(|w| (w, ""))
    }) else {
        return system(rest);
    };
    let sender: String = who
        .chars()
        .filter(|c| !is_mark(*c))
        .collect::<String>()
        .trim_start_matches(['~', ' ', '\u{202f}', '\u{a0}'])
        .trim()
        .to_string();
    // A subject change quoting "A: b" is not a sender called `Ann changed the subject to "A`.
    if sender.is_empty()
        || sender.contains('"')
        || sender.contains('\n')
        || sender.chars().count() > 80
    {
        return system(rest);
    }
    let (text, edited) = match text.trim_end().strip_suffix(EDITED) {
        Some(t) => (t.trim_end_matches(is_mark).trim_end(), true),
        None => (text, false),
    };
    let marked = text.starts_with('\u{200e}');
    let plain = text.trim_start_matches(is_mark);
    let (first, caption) = plain.split_once('\n').unwrap_or((plain, ""));
    let media = |kind: &str| Body::Media {
        kind: kind.to_string(),
        caption: caption.to_string(),
    };
    let body = if first == "<Media omitted>" {
        media("media")
    } else if let Some(kind) = MEDIA.iter().find(|m| first == **m) {
        media(kind.trim_end_matches(" omitted"))
    } else if let Some(name) = first
        .strip_prefix("<attached: ")
        .and_then(|r| r.strip_suffix('>'))
    {
        media(&format!("attached: {}", name.trim()))
    } else if let Some(name) = first.strip_suffix(" (file attached)") {
        media(&format!("attached: {}", name.trim()))
    } else if matches!(
        first,
        "This message was deleted" | "You deleted this message"
    ) {
        Body::Deleted
    } else if bracket && marked {
        // iOS marks every event it writes itself; people's words are never marked.
        return system(plain);
    } else {
        Body::Text(text.to_string())
    };
    Line {
        line,
        sender: Some(sender),
        at,
        body,
        edited,
    }
}

#[cfg(test)]
mod tests;
