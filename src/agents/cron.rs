//! Five-field cron (`min hour dom mon dow`) evaluated in the owner's time zone
//! with jiff, so slots land on the right local times across DST changes: a
//! local time skipped by a spring-forward runs at the first instant after the
//! gap, and a time repeated by a fall-back runs once (the earlier instant).
//!
//! Why not tokio-cron-scheduler: it keeps its own job store and clock (chrono's
//! system time, which tokio's paused time cannot drive), and has no notion of
//! our catch-up rule (one run per agent after a gap, deduplicated in our store).
//! What we need is "the next slot after t in zone z", which is this file.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::spec::Tier;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<i8>,
    hours: Vec<i8>,
    days: Vec<i8>,
    months: Vec<i8>,
    weekdays: Vec<i8>,
    /// Day-of-month and day-of-week both restricted: either matches (cron's rule).
    either_day: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cron {text:?}: {why}")]
pub struct CronError {
    pub text: String,
    pub why: String,
}

/// The tier's schedule, `None` for nano (event-driven).
pub fn tier_default(tier: Tier) -> Option<&'static str> {
    match tier {
        Tier::Nano => None,
        Tier::Micro => Some("*/5 * * * *"),
        Tier::Meso => Some("*/45 * * * *"),
        Tier::Macro => Some("0 8 * * *"),
        Tier::Mega => Some("0 9 * * 1"),
    }
}

fn field(text: &str, lo: i8, hi: i8) -> Result<Vec<i8>, String> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<i8>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = a.parse().map_err(|_| format!("bad number in {part:?}"))?;
            let b = b.parse().map_err(|_| format!("bad number in {part:?}"))?;
            (a, b)
        } else {
            let a: i8 = range
                .parse()
                .map_err(|_| format!("bad number in {part:?}"))?;
            // "5/15" means from 5 to the end, every 15.
            (a, if part.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            return Err(format!("{part:?} is outside {lo}-{hi}"));
        }
        out.extend((a..=b).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let err = |why: String| CronError {
            text: text.to_string(),
            why,
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(err(format!(
                "needs 5 fields (minute hour day month weekday), found {}",
                parts.len()
            )));
        }
        let mut weekdays = field(parts[4], 0, 7).map_err(err)?;
        // 7 is Sunday too.
        for d in &mut weekdays {
            if *d == 7 {
                *d = 0;
            }
        }
        weekdays.sort_unstable();
        weekdays.dedup();
        Ok(Cron {
            minutes: field(parts[0], 0, 59).map_err(err)?,
            hours: field(parts[1], 0, 23).map_err(err)?,
            days: field(parts[2], 1, 31).map_err(err)?,
            months: field(parts[3], 1, 12).map_err(err)?,
            weekdays,
            either_day: parts[2] != "*" && parts[4] != "*",
            text: text.to_string(),
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        if !self.months.contains(&d.month()) {
            return false;
        }
        let dom = self.days.contains(&d.day());
        let dow = self.weekdays.contains(&d.weekday().to_sunday_zero_offset());
        if self.either_day {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first slot strictly after `after`, in `tz`. `None` only for a
    /// schedule that never matches within eight years (e.g. Feb 30).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone());
        // A fall-back hour repeats local times: begin a day early to be safe.
        let mut day = start.date().checked_sub(1.day()).ok()?;
        for _ in 0..(366 * 8) {
            if self.day_matches(day) {
                for &h in &self.hours {
                    for &m in &self.minutes {
                        let Ok(t) = Time::new(h, m, 0, 0) else {
                            continue;
                        };
                        // `compatible`: a time in a gap runs just after it; a
                        // repeated time runs at its first occurrence.
                        let Ok(z) = day.to_datetime(t).to_zoned(tz.clone()) else {
                            continue;
                        };
                        if z.timestamp() > after {
                            return Some(z.timestamp());
                        }
                    }
                }
            }
            day = day.checked_add(1.day()).ok()?;
        }
        None
    }

    /// The latest slot in `(after, upto]`, if any (the catch-up slot).
    pub fn last_in(&self, after: Timestamp, upto: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        // Most schedules repeat within a week: look at the last eight days first.
        let recent = upto
            .checked_sub(jiff::SignedDuration::from_hours(24 * 8))
            .ok()
            .filter(|r| *r > after);
        for from in recent.into_iter().chain(std::iter::once(after)) {
            let mut cur = self.next_after(from, tz)?;
            if cur > upto {
                continue;
            }
            while let Some(n) = self.next_after(cur, tz).filter(|n| *n <= upto) {
                cur = n;
            }
            return Some(cur);
        }
        None
    }
}

/// An agent's effective schedule: its own cron if valid, else its tier's
/// (with the reason it fell back), or none for nano agents.
pub fn effective(tier: Tier, own: Option<&str>) -> (Option<Cron>, Option<String>) {
    let fallback = || tier_default(tier).and_then(|c| Cron::parse(c).ok());
    match own {
        None => (fallback(), None),
        Some(text) => match Cron::parse(text) {
            Ok(c) => (Some(c), None),
            Err(e) => (fallback(), Some(e.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_fields_and_refuses_nonsense() {
        let c = Cron::parse("*/15 8-10 * * 1-5").unwrap();
        assert_eq!(c.minutes, vec![0, 15, 30, 45]);
        assert_eq!(c.hours, vec![8, 9, 10]);
        assert_eq!(c.weekdays, vec![1, 2, 3, 4, 5]);
        assert_eq!(Cron::parse("0 9 * * 7").unwrap().weekdays, vec![0]);
        for bad in [
            "* * * *",
            "60 * * * *",
            "*/0 * * * *",
            "a b c d e",
            "5-1 * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_slots_in_local_time() {
        let tz = TimeZone::get("America/Chicago").unwrap();
        let daily = Cron::parse("0 8 * * *").unwrap();
        // 07:59 CST on 2026-01-10 is 13:59Z; 08:00 CST is 14:00Z.
        assert_eq!(
            daily.next_after(ts("2026-01-10T13:59:00Z"), &tz),
            Some(ts("2026-01-10T14:00:00Z"))
        );
        assert_eq!(
            daily.next_after(ts("2026-01-10T14:00:00Z"), &tz),
            Some(ts("2026-01-11T14:00:00Z"))
        );
        let weekly = Cron::parse("0 9 * * 1").unwrap();
        // Saturday 2026-01-10 → Monday 2026-01-12 09:00 CST.
        assert_eq!(
            weekly.next_after(ts("2026-01-10T12:00:00Z"), &tz),
            Some(ts("2026-01-12T15:00:00Z"))
        );
    }

    #[test]
    fn dst_changes_keep_local_times_and_never_double_run() {
        let tz = TimeZone::get("America/Chicago").unwrap();
        let daily = Cron::parse("0 8 * * *").unwrap();
        // Spring forward on 2026-03-08: 08:00 CDT is 13:00Z (was 14:00Z the day before).
        assert_eq!(
            daily.next_after(ts("2026-03-07T14:00:00Z"), &tz),
            Some(ts("2026-03-08T13:00:00Z"))
        );
        // Fall back on 2026-11-01: 08:00 CST is 14:00Z again.
        assert_eq!(
            daily.next_after(ts("2026-10-31T13:00:00Z"), &tz),
            Some(ts("2026-11-01T14:00:00Z"))
        );
        // 02:30 does not exist on 2026-03-08: it runs once, just after the gap (03:30 CDT).
        let gap = Cron::parse("30 2 * * *").unwrap();
        assert_eq!(
            gap.next_after(ts("2026-03-08T06:00:00Z"), &tz),
            Some(ts("2026-03-08T08:30:00Z"))
        );
        // 01:30 happens twice on 2026-11-01: it runs once.
        let fold = Cron::parse("30 1 * * *").unwrap();
        let first = fold.next_after(ts("2026-11-01T05:00:00Z"), &tz).unwrap();
        assert_eq!(first, ts("2026-11-01T06:30:00Z"));
        let second = fold.next_after(first, &tz).unwrap();
        assert_eq!(
            second,
            ts("2026-11-02T07:30:00Z"),
            "not again at 07:30Z the same night"
        );
    }

    #[test]
    fn the_catch_up_slot_is_the_latest_missed_one() {
        let tz = TimeZone::UTC;
        let every5 = Cron::parse("*/5 * * * *").unwrap();
        let last = every5.last_in(ts("2026-01-01T00:00:00Z"), ts("2026-01-04T00:03:00Z"), &tz);
        assert_eq!(last, Some(ts("2026-01-04T00:00:00Z")));
        assert_eq!(
            every5.last_in(ts("2026-01-01T00:00:00Z"), ts("2026-01-01T00:04:00Z"), &tz),
            None
        );
        let (c, warning) = effective(Tier::Meso, Some("not a cron"));
        assert_eq!(c.unwrap().text, "*/45 * * * *");
        assert!(warning.unwrap().contains("needs 5 fields"));
        assert_eq!(effective(Tier::Nano, None).0, None);
    }
}
