//! Nano agents: what a phone signal makes Steward say to the owner, per the
//! reference's rules. commute-copilot once per drive; health-coach on sleep
//! under 6 h (once a day), steps under 8,000 between 12:00 and 20:00 (once a
//! day) and a logged workout. focus-guardian's holds live in the nudge gate.

use crate::signals::signal::Signal;

/// `(agent, dedup key, text)` for the owner, or `None`.
pub fn health(
    s: &Signal,
    local: &jiff::Zoned,
    signal_id: i64,
) -> Option<(&'static str, String, String)> {
    if s.kind != "health" {
        return None;
    }
    let date = local.date();
    let value: Option<f64> = s.value.as_deref().and_then(|v| v.trim().parse().ok());
    match s.metric.as_deref()? {
        "sleep" => {
            let h = value?;
            (h < 6.0).then(|| {
                (
                    "health-coach",
                    format!("health-coach:sleep:{date}"),
                    format!("😴 ~{h:.1}h last night — go easy today, and maybe an early night."),
                )
            })
        }
        "steps" => {
            let n = value?;
            let hour = local.hour();
            ((12..20).contains(&hour) && n < 8000.0).then(|| {
                (
                    "health-coach",
                    format!("health-coach:steps:{date}"),
                    format!("🚶 {} steps so far today — a short walk?", n as i64),
                )
            })
        }
        "workout" => Some((
            "health-coach",
            format!("health-coach:workout:{signal_id}"),
            format!(
                "💪 nice ({}) — workout logged.",
                s.detail.as_deref().unwrap_or("worked out")
            ),
        )),
        _ => None,
    }
}

/// commute-copilot's line at the start of a drive: the open loops for later.
pub fn commute(open: &[(i64, String)]) -> String {
    if open.is_empty() {
        return "🚗 driving — all clear.".into();
    }
    let shown: Vec<&str> = open.iter().take(3).map(|(_, t)| t.as_str()).collect();
    let more = open.len().saturating_sub(3);
    let tail = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    format!(
        "🚗 driving — {} things when you stop: {}{tail}",
        open.len(),
        shown.join(" · ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(metric: &str, value: &str) -> Signal {
        Signal {
            kind: "health".into(),
            app: None,
            detail: None,
            metric: Some(metric.into()),
            value: Some(value.into()),
            ts: 0,
        }
    }

    #[test]
    fn the_reference_thresholds() {
        let tz = jiff::tz::TimeZone::UTC;
        let at = |h: i8| {
            jiff::civil::date(2026, 11, 22)
                .at(h, 0, 0, 0)
                .to_zoned(tz.clone())
                .unwrap()
        };
        assert!(
            health(&sig("sleep", "5.5"), &at(8), 1)
                .unwrap()
                .2
                .starts_with("😴 ~5.5h")
        );
        assert!(health(&sig("sleep", "7"), &at(8), 1).is_none());
        assert!(
            health(&sig("steps", "4200"), &at(15), 1)
                .unwrap()
                .2
                .starts_with("🚶 4200 steps")
        );
        assert!(
            health(&sig("steps", "4200"), &at(10), 1).is_none(),
            "before noon"
        );
        assert!(health(&sig("steps", "9000"), &at(15), 1).is_none());
        assert_eq!(commute(&[]), "🚗 driving — all clear.");
        let open: Vec<(i64, String)> = (0..5).map(|i| (i, format!("t{i}"))).collect();
        assert_eq!(
            commute(&open),
            "🚗 driving — 5 things when you stop: t0 · t1 · t2 (+2 more)"
        );
    }
}
