//! When a reminder is for: "call mom at 6pm", "call the bank tomorrow",
//! "on friday to pay rent", "pay rent friday at 5pm". The time phrase is taken
//! off the task, leading ("on friday to X") or trailing ("X tomorrow at 9"),
//! and resolved in the owner's zone, DST included (jiff: a wall time in a gap
//! moves forward, a repeated one takes the first).

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::duration::clock;

/// A day named without a time is meant in the morning.
const MORNING: (i8, i8) = (9, 0);
/// "tonight" without a time.
const EVENING: (i8, i8) = (20, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Day {
    /// Today, or tomorrow when the time has passed.
    Next,
    Today,
    Tomorrow,
    On(Weekday),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    day: Day,
    time: Option<Time>,
    evening: bool,
}

/// The task and when it is for; `None` when the text names no time.
pub fn split(task: &str) -> (String, Option<When>) {
    let words: Vec<&str> = task.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let lower: Vec<&str> = lower
        .iter()
        .map(|w| w.trim_end_matches([',', '.']))
        .collect();
    // "on friday to pay rent", "tomorrow at 9 to call the bank"
    if let Some(to) = lower.iter().position(|w| *w == "to")
        && to > 0
        && to + 1 < words.len()
        && let Some(when) = parse(&lower[..to])
    {
        return (words[to + 1..].join(" "), Some(when));
    }
    // "call mom at 6pm", "call the bank tomorrow", "pay rent on friday at 5pm"
    for k in (1..=5.min(words.len().saturating_sub(1))).rev() {
        if let Some(when) = parse(&lower[words.len() - k..]) {
            return (words[..words.len() - k].join(" "), Some(when));
        }
    }
    (task.to_string(), None)
}

fn parse(w: &[&str]) -> Option<When> {
    let w = match w {
        ["on", rest @ ..] => rest,
        rest => rest,
    };
    let (day, rest, evening) = match w {
        ["today", rest @ ..] => (Day::Today, rest, false),
        ["tonight", rest @ ..] => (Day::Today, rest, true),
        ["tomorrow", "morning", rest @ ..] => (Day::Tomorrow, rest, false),
        ["tomorrow", rest @ ..] => (Day::Tomorrow, rest, false),
        [d, rest @ ..] if weekday(d).is_some() => (Day::On(weekday(d)?), rest, false),
        rest => (Day::Next, rest, false),
    };
    let time = match rest {
        [] => None,
        ["at", t @ ..] | ["by", t @ ..] => Some(clock(t)?),
        _ => return None,
    };
    if day == Day::Next && time.is_none() {
        return None;
    }
    // "at 6" with no am/pm: a reminder for 6 is 18:00, not 06:00.
    let bare = rest
        .iter()
        .all(|w| !w.contains("am") && !w.contains("pm") && !w.contains(':'));
    let time = time.map(|t| {
        if bare && (1..7).contains(&t.hour()) {
            t.checked_add(SignedDuration::from_hours(12)).unwrap_or(t)
        } else {
            t
        }
    });
    Some(When { day, time, evening })
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" | "tues" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" | "thurs" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => return None,
    })
}

impl When {
    /// The instant to nudge, after `now`, in the owner's zone.
    pub fn resolve(&self, now: Timestamp, tz: &TimeZone) -> Timestamp {
        let local = now.to_zoned(tz.clone());
        let today = local.date();
        let (h, m) = if self.evening { EVENING } else { MORNING };
        let time = self
            .time
            .unwrap_or_else(|| Time::new(h, m, 0, 0).expect("a valid time"));
        let at = |date: Date| {
            tz.to_zoned(date.to_datetime(time))
                .map(|z| z.timestamp())
                .unwrap_or(now)
        };
        let tomorrow = today.tomorrow().unwrap_or(today);
        match self.day {
            Day::Today => at(today),
            Day::Tomorrow => at(tomorrow),
            Day::Next => {
                let t = at(today);
                if t > now { t } else { at(tomorrow) }
            }
            Day::On(day) => {
                // The next such day; today only if the time is still ahead.
                let mut date = today;
                for _ in 0..8 {
                    if date.weekday() == day && at(date) > now {
                        return at(date);
                    }
                    date = date.tomorrow().unwrap_or(date);
                }
                at(date)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (now in the owner's zone, what was typed, task, nudge in the owner's zone)
    #[test]
    fn reminders_land_at_the_local_time_asked() {
        let chicago = TimeZone::get("America/Chicago").unwrap();
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let cases = [
            // A Wednesday afternoon in Chicago.
            (
                &chicago,
                "2026-06-10T14:00",
                "call mom at 6pm",
                "call mom",
                "2026-06-10T18:00",
            ),
            (
                &chicago,
                "2026-06-10T19:00",
                "call mom at 6pm",
                "call mom",
                "2026-06-11T18:00",
            ),
            (
                &chicago,
                "2026-06-10T14:00",
                "call the bank tomorrow",
                "call the bank",
                "2026-06-11T09:00",
            ),
            (
                &chicago,
                "2026-06-10T14:00",
                "on friday to pay rent",
                "pay rent",
                "2026-06-12T09:00",
            ),
            (
                &chicago,
                "2026-06-10T14:00",
                "pay rent friday at 5pm",
                "pay rent",
                "2026-06-12T17:00",
            ),
            (
                &chicago,
                "2026-06-10T14:00",
                "water plants tonight",
                "water plants",
                "2026-06-10T20:00",
            ),
            (
                &chicago,
                "2026-06-10T14:00",
                "wednesday to renew",
                "renew",
                "2026-06-17T09:00",
            ),
            (
                &chicago,
                "2026-06-10T08:00",
                "wednesday to renew",
                "renew",
                "2026-06-10T09:00",
            ),
            // Across the spring-forward night: Saturday 2026-03-07 → Sunday 9:00 CDT.
            (
                &chicago,
                "2026-03-07T22:00",
                "call dad tomorrow",
                "call dad",
                "2026-03-08T09:00",
            ),
            // 02:30 does not exist that night: moved forward to 03:30 CDT.
            (
                &chicago,
                "2026-03-07T22:00",
                "check the boiler tomorrow at 2:30am",
                "check the boiler",
                "2026-03-08T03:30",
            ),
            (
                &kolkata,
                "2026-03-07T22:00",
                "call dad at 6pm",
                "call dad",
                "2026-03-08T18:00",
            ),
        ];
        for (tz, now, typed, task, want) in cases {
            let now = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", now)
                .unwrap()
                .to_zoned(tz.clone())
                .unwrap()
                .timestamp();
            let (got_task, when) = split(typed);
            assert_eq!(got_task, task, "{typed}");
            let at = when
                .unwrap_or_else(|| panic!("{typed}: no time"))
                .resolve(now, tz);
            let shown = at
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string();
            assert_eq!(shown, want, "{typed}");
        }
    }

    #[test]
    fn a_task_with_no_time_has_none() {
        for typed in [
            "call the bank",
            "go to the store",
            "read up on friday's agenda notes",
        ] {
            assert_eq!(split(typed).1, None, "{typed}");
        }
    }
}
