//! Presence from phone signals, with the reference's freshness rules:
//! what contacts may be told (availability, never a place), where the owner is
//! (inner circle only), and the owner's own summary line for self-chat.

use super::signal::Signal;

const MIN: i64 = 60_000;
/// Driving counts for this long after its signal.
pub const DRIVING_FRESH_MS: i64 = 10 * MIN;
/// `device` and `now_playing` show in the owner summary for this long.
pub const DEVICE_FRESH_MS: i64 = 20 * MIN;
/// A place is believed for this long.
pub const PLACE_FRESH_MS: i64 = 6 * 60 * MIN;
/// Focus modes older than this are not reported.
pub const FOCUS_FRESH_MS: i64 = 12 * 60 * MIN;
/// The owner summary looks back this far.
pub const SUMMARY_WINDOW_MS: i64 = 2 * 60 * MIN;

fn text(s: &Signal) -> String {
    [&s.detail, &s.value, &s.app]
        .into_iter()
        .flatten()
        .map(|v| v.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `device` signal saying the phone is driving (CarPlay counts).
pub fn is_driving(s: &Signal) -> bool {
    s.kind == "device" && {
        let t = text(s);
        t.contains("driving") || t.contains("carplay")
    }
}

fn is_parked(s: &Signal) -> bool {
    s.kind == "device" && text(s).contains("parked")
}

fn newest(signals: &[Signal], pred: impl Fn(&Signal) -> bool) -> Option<&Signal> {
    signals.iter().filter(|s| pred(s)).max_by_key(|s| s.ts)
}

fn focus_phrase(s: &Signal) -> Option<&'static str> {
    let t = text(s);
    Some(match t.as_str() {
        _ if t.contains("off") => return None,
        _ if t.contains("dnd") || t.contains("do not disturb") => "on Do Not Disturb",
        _ if t.contains("sleep") => "asleep right now",
        _ if t.contains("available") => "free / available",
        _ if t.contains("busy") || t.contains("desk") || t.contains("work") => {
            "heads-down right now"
        }
        _ => "tied up right now",
    })
}

fn location_phrase(s: &Signal) -> Option<&'static str> {
    let t = text(s);
    if t.contains("gym") {
        Some("working out right now")
    } else if t.contains("airport") {
        Some("away right now")
    } else if t.contains("office") {
        Some("heads-down right now")
    } else {
        None
    }
}

/// What a contact may be told about the owner's availability. Never a place.
pub fn availability(signals: &[Signal], now: i64) -> Option<&'static str> {
    let recent = |s: &Signal, fresh: i64| now - s.ts <= fresh && s.ts <= now + MIN;
    let latest = newest(signals, |s| {
        (s.kind == "focus" && recent(s, FOCUS_FRESH_MS))
            || (s.kind == "location" && recent(s, PLACE_FRESH_MS))
    });
    if let Some(d) = newest(signals, is_driving)
        && recent(d, DRIVING_FRESH_MS)
        && latest.is_none_or(|l| l.ts <= d.ts)
    {
        return Some("driving right now");
    }
    let l = latest?;
    if l.kind == "focus" {
        focus_phrase(l)
    } else {
        location_phrase(l)
    }
}

/// Where the owner is, for the inner circle only.
pub fn place(signals: &[Signal], now: i64) -> Option<String> {
    let relevant = newest(signals, |s| {
        now - s.ts <= PLACE_FRESH_MS && (s.kind == "location" || is_driving(s) || is_parked(s))
    })?;
    if is_driving(relevant) {
        return (now - relevant.ts <= DRIVING_FRESH_MS).then(|| "on the road".to_string());
    }
    if is_parked(relevant) {
        return None;
    }
    let t = text(relevant);
    Some(
        match () {
            _ if t.contains("left home") => "out",
            _ if t.contains("office") => "the office",
            _ if t.contains("home") => "home",
            _ if t.contains("gym") => "the gym",
            _ if t.contains("airport") => "the airport",
            _ => return None,
        }
        .to_string(),
    )
}

fn steps(value: &str) -> Option<String> {
    let n: f64 = value.trim().parse().ok()?;
    Some(if n >= 1000.0 {
        let k = (n / 100.0).round() / 10.0;
        if k.fract() == 0.0 {
            format!("{}k steps", k as i64)
        } else {
            format!("{k}k steps")
        }
    } else {
        format!("{} steps", n as i64)
    })
}

/// The owner's self-chat context line: "On iPhone (last 2h): …", or `None` if nothing recent.
pub fn owner_summary(signals: &[Signal], now: i64) -> Option<String> {
    let window: Vec<&Signal> = signals
        .iter()
        .filter(|s| now - s.ts <= SUMMARY_WINDOW_MS && s.ts <= now + MIN)
        .collect();
    let latest = |kind: &str| {
        window
            .iter()
            .filter(|s| s.kind == kind)
            .max_by_key(|s| s.ts)
            .copied()
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(f) = latest("focus")
        && !text(f).contains("off")
    {
        parts.push(format!(
            "focus {}",
            f.detail.as_deref().or(f.value.as_deref()).unwrap_or("on")
        ));
    }
    if let Some(d) = latest("device").filter(|d| now - d.ts <= DEVICE_FRESH_MS) {
        parts.push(if is_driving(d) {
            "driving".into()
        } else {
            d.detail.clone().unwrap_or_else(|| "device".into())
        });
    }
    if let Some(l) = latest("location") {
        parts.push(format!(
            "at {}",
            l.detail.as_deref().or(l.value.as_deref()).unwrap_or("?")
        ));
    }
    if let Some(p) = latest("now_playing").filter(|p| now - p.ts <= DEVICE_FRESH_MS) {
        parts.push(format!(
            "playing {}",
            p.detail
                .as_deref()
                .or(p.app.as_deref())
                .unwrap_or("something")
        ));
    }
    for h in window.iter().filter(|s| s.kind == "health") {
        let metric = h.metric.as_deref().unwrap_or("").to_lowercase();
        let v = h.value.as_deref().unwrap_or("");
        let line = match metric.as_str() {
            "steps" => steps(v),
            "sleep" => Some(format!("slept {v}h")),
            "workout" => Some(h.detail.clone().unwrap_or_else(|| "worked out".into())),
            _ => None,
        };
        if let Some(line) = line
            && !parts.contains(&line)
            && !(metric == "steps" && parts.iter().any(|p| p.ends_with(" steps")))
        {
            parts.push(line);
        }
    }
    let mut apps: Vec<(&str, usize)> = Vec::new();
    for s in window.iter().filter(|s| s.kind == "app_open") {
        if let Some(app) = s.app.as_deref() {
            match apps.iter_mut().find(|(a, _)| *a == app) {
                Some(entry) => entry.1 += 1,
                None => apps.push((app, 1)),
            }
        }
    }
    apps.sort_by_key(|a| std::cmp::Reverse(a.1));
    if !apps.is_empty() {
        let top: Vec<&str> = apps.iter().take(4).map(|(a, _)| *a).collect();
        parts.push(format!("apps: {}", top.join(", ")));
    }
    (!parts.is_empty()).then(|| format!("On iPhone (last 2h): {}", parts.join(" · ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_763_800_000_000;

    fn sig(kind: &str, detail: &str, ago_min: i64) -> Signal {
        Signal {
            kind: kind.into(),
            detail: Some(detail.into()),
            ts: NOW - ago_min * MIN,
            ..Signal::default()
        }
    }

    #[test]
    fn availability_table() {
        let cases: Vec<(Vec<Signal>, Option<&str>)> = vec![
            (vec![sig("device", "driving", 5)], Some("driving right now")),
            (
                vec![sig("device", "CarPlay connected", 2)],
                Some("driving right now"),
            ),
            (vec![sig("device", "driving", 11)], None),
            (
                vec![sig("device", "driving", 5), sig("location", "gym", 2)],
                Some("working out right now"),
            ),
            (vec![sig("focus", "dnd", 30)], Some("on Do Not Disturb")),
            (vec![sig("focus", "sleep", 30)], Some("asleep right now")),
            (
                vec![sig("focus", "available", 30)],
                Some("free / available"),
            ),
            (vec![sig("focus", "work", 30)], Some("heads-down right now")),
            (vec![sig("focus", "reading", 30)], Some("tied up right now")),
            (vec![sig("focus", "off", 30)], None),
            (vec![sig("location", "airport", 60)], Some("away right now")),
            (
                vec![sig("location", "office", 60)],
                Some("heads-down right now"),
            ),
            (vec![sig("location", "home", 60)], None),
            (vec![sig("location", "gym", 7 * 60)], None),
        ];
        for (signals, want) in cases {
            assert_eq!(availability(&signals, NOW), want, "{signals:?}");
        }
    }

    #[test]
    fn place_table_is_never_stale() {
        assert_eq!(
            place(&[sig("device", "driving", 3)], NOW).as_deref(),
            Some("on the road")
        );
        assert_eq!(place(&[sig("device", "driving", 30)], NOW), None);
        assert_eq!(
            place(
                &[sig("location", "gym", 90), sig("device", "parked", 10)],
                NOW
            ),
            None
        );
        assert_eq!(
            place(&[sig("location", "left home", 20)], NOW).as_deref(),
            Some("out")
        );
        assert_eq!(
            place(&[sig("location", "office", 60)], NOW).as_deref(),
            Some("the office")
        );
        assert_eq!(place(&[sig("location", "home", 7 * 60)], NOW), None);
    }

    #[test]
    fn owner_summary_formats_like_the_reference() {
        let mut steps_signal = sig("health", "", 30);
        steps_signal.metric = Some("steps".into());
        steps_signal.value = Some("6200".into());
        let mut workout = sig("health", "", 40);
        workout.detail = None;
        workout.metric = Some("workout".into());
        let mut slack = sig("app_open", "", 10);
        slack.app = Some("Slack".into());
        let line = owner_summary(
            &[
                sig("focus", "work", 5),
                sig("device", "driving", 30),
                steps_signal,
                workout,
                slack.clone(),
                slack,
            ],
            NOW,
        )
        .unwrap();
        assert_eq!(
            line,
            "On iPhone (last 2h): focus work · 6.2k steps · worked out · apps: Slack"
        );
        assert_eq!(steps("10000").as_deref(), Some("10k steps"));
        assert_eq!(owner_summary(&[sig("focus", "off", 5)], NOW), None);
    }
}
