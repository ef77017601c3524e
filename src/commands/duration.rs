//! Spans the owner types after a command: "for 2 hours", "30 min", "until 9am",
//! "tonight" (until 07:00), "all day" (14 h), "a few hours" (3 h), "tomorrow"
//! (09:00). Resolved against the owner's local time.

use jiff::{SignedDuration, Timestamp, Zoned, civil::Time};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    For(SignedDuration),
    /// The next time the clock shows this (today, or tomorrow if it has passed).
    Until(Time),
}

/// Longest span a pause or snooze takes.
const MAX: SignedDuration = SignedDuration::from_hours(24 * 30);

impl Span {
    pub fn resolve(&self, now: &Zoned) -> Timestamp {
        match *self {
            Span::For(d) => now.timestamp() + d.min(MAX),
            Span::Until(t) => {
                let today = now.date().to_datetime(t);
                let at = today
                    .to_zoned(now.time_zone().clone())
                    .unwrap_or_else(|_| now.clone());
                if at.timestamp() > now.timestamp() {
                    at.timestamp()
                } else {
                    at.checked_add(SignedDuration::from_hours(24))
                        .map_or(now.timestamp(), |z| z.timestamp())
                }
            }
        }
    }
}

/// An amount with a unit: "2 hours", "2h", "30 min", "1.5 h", "an hour", "1d".
pub fn amount(words: &[&str]) -> Option<SignedDuration> {
    let joined = words.join(" ");
    let s = joined.trim();
    match s {
        "an hour" | "a hour" | "one hour" => return Some(SignedDuration::from_hours(1)),
        "half an hour" | "half hour" => return Some(SignedDuration::from_mins(30)),
        "a few hours" | "few hours" | "a couple hours" | "a couple of hours" => {
            return Some(SignedDuration::from_hours(3));
        }
        "a day" | "one day" => return Some(SignedDuration::from_hours(24)),
        _ => {}
    }
    // "2h", "30m", "2 hours", "1.5 hrs", "2h30m"
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let mut total = 0f64;
    let mut rest = compact.as_str();
    let mut any = false;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let minutes = match &rest[..u_end] {
            "m" | "min" | "mins" | "minute" | "minutes" => 1.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 60.0,
            "d" | "day" | "days" => 1440.0,
            _ => return None,
        };
        rest = &rest[u_end..];
        total += n * minutes;
        any = true;
    }
    if !any || total <= 0.0 || !total.is_finite() {
        return None;
    }
    Some(SignedDuration::from_secs((total * 60.0).round() as i64))
}

/// A clock time: "9am", "9:30", "17:00", "5 pm", "noon", "midnight".
pub fn clock(words: &[&str]) -> Option<Time> {
    let s: String = words.concat();
    match s.as_str() {
        "noon" => return Time::new(12, 0, 0, 0).ok(),
        "midnight" => return Time::new(0, 0, 0, 0).ok(),
        _ => {}
    }
    let (body, pm) = if let Some(b) = s.strip_suffix("pm") {
        (b, Some(true))
    } else if let Some(b) = s.strip_suffix("am") {
        (b, Some(false))
    } else {
        (s.as_str(), None)
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) => (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?),
        None => (body.parse::<i8>().ok()?, 0),
    };
    let h = match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) if h < 12 => h + 12,
        Some(false) if h == 12 => 0,
        None if pm.is_none() && !body.contains(':') && h > 12 => return None,
        _ => h,
    };
    Time::new(h, m, 0, 0).ok()
}

/// The span words after a command, or `None` when they are not one.
pub fn parse(words: &[&str]) -> Option<Span> {
    match words {
        [] => None,
        ["tonight"] => Some(Span::Until(Time::new(7, 0, 0, 0).ok()?)),
        ["tomorrow"] => Some(Span::Until(Time::new(9, 0, 0, 0).ok()?)),
        ["all", "day"] => Some(Span::For(SignedDuration::from_hours(14))),
        ["until" | "till" | "til", rest @ ..] => clock(rest).map(Span::Until),
        ["for", rest @ ..] => amount(rest).map(Span::For),
        rest => amount(rest).map(Span::For),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn spans() {
        let h = SignedDuration::from_hours;
        let m = SignedDuration::from_mins;
        let cases: &[(&str, Option<Span>)] = &[
            ("for 2 hours", Some(Span::For(h(2)))),
            ("for 30 min", Some(Span::For(m(30)))),
            ("30m", Some(Span::For(m(30)))),
            ("for 1h", Some(Span::For(h(1)))),
            ("2h30m", Some(Span::For(m(150)))),
            ("for an hour", Some(Span::For(h(1)))),
            ("a few hours", Some(Span::For(h(3)))),
            ("all day", Some(Span::For(h(14)))),
            ("1.5 hours", Some(Span::For(m(90)))),
            (
                "until 9am",
                Some(Span::Until(Time::new(9, 0, 0, 0).unwrap())),
            ),
            (
                "until 5:30pm",
                Some(Span::Until(Time::new(17, 30, 0, 0).unwrap())),
            ),
            (
                "until 17:00",
                Some(Span::Until(Time::new(17, 0, 0, 0).unwrap())),
            ),
            (
                "until 12am",
                Some(Span::Until(Time::new(0, 0, 0, 0).unwrap())),
            ),
            ("tonight", Some(Span::Until(Time::new(7, 0, 0, 0).unwrap()))),
            ("for ever", None),
            ("until 25:00", None),
            ("until 13pm", None),
            ("for 0 min", None),
            ("the deck", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse(&w(text)), *want, "{text}");
        }
    }

    #[test]
    fn until_a_passed_time_means_tomorrow() {
        let tz = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        let now = jiff::civil::date(2026, 3, 10)
            .at(22, 0, 0, 0)
            .to_zoned(tz)
            .unwrap();
        let at = Span::Until(Time::new(9, 0, 0, 0).unwrap()).resolve(&now);
        assert_eq!(
            at.duration_since(now.timestamp()),
            SignedDuration::from_hours(11)
        );
        let soon = Span::Until(Time::new(23, 0, 0, 0).unwrap()).resolve(&now);
        assert_eq!(
            soon.duration_since(now.timestamp()),
            SignedDuration::from_hours(1)
        );
    }
}
