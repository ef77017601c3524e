//! Life events from incoming messages, rules first: bills (payee and amount),
//! deliveries, appointments, travel. They feed financial-sentinel and the brief.
//! Nothing here acts: bills, codes and payments are never automatic.

use rusqlite::{Connection, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: &'static str,
    pub payee: Option<String>,
    pub amount_cents: Option<i64>,
    pub summary: String,
}

const PAYEES: &[&str] = &[
    "Netflix",
    "Spotify",
    "Hulu",
    "Disney+",
    "iCloud",
    "Apple",
    "Amazon Prime",
    "Amazon",
    "Comcast",
    "Xfinity",
    "AT&T",
    "Verizon",
    "T-Mobile",
    "PG&E",
    "Con Edison",
    "Geico",
    "Progressive",
    "State Farm",
    "YouTube",
    "HBO",
    "Peacock",
    "Adobe",
    "Dropbox",
    "Google",
    "Microsoft",
    "Audible",
    "Paramount+",
    "Duolingo",
    "ChatGPT",
    "OpenAI",
    "Equinox",
    "Planet Fitness",
];
const BILL_WORDS: &[&str] = &[
    "bill",
    "payment",
    "charged",
    "renew",
    "subscription",
    "autopay",
    "invoice",
    "receipt",
    "is due",
    "amount due",
    "membership",
];

/// The first `$12.34`-style amount, in cents.
pub fn amount(text: &str) -> Option<i64> {
    let i = text.find('$')?;
    let rest = &text[i + 1..];
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    let num = num.trim_end_matches('.');
    let (whole, frac) = num.split_once('.').unwrap_or((num, "0"));
    let whole: i64 = whole.parse().ok()?;
    let frac: String = frac.chars().chain("00".chars()).take(2).collect();
    Some(whole * 100 + frac.parse::<i64>().ok()?)
}

pub fn extract(text: &str, sender: Option<&str>) -> Option<Event> {
    let lower = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let summary: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(120)
        .collect();
    if let Some(cents) = amount(text).filter(|_| has(BILL_WORDS)) {
        let payee = PAYEES
            .iter()
            .find(|p| lower.contains(&p.to_lowercase()))
            .map(|p| p.to_string())
            .or_else(|| sender.map(str::to_string));
        return Some(Event {
            kind: "bill",
            payee,
            amount_cents: Some(cents),
            summary,
        });
    }
    let kind = if has(&[
        "out for delivery",
        "was delivered",
        "has been delivered",
        "has shipped",
        "tracking number",
        "your package",
    ]) {
        "delivery"
    } else if has(&[
        "flight",
        "boarding pass",
        "itinerary",
        "check-in is open",
        "your trip",
        "gate ",
    ]) {
        "travel"
    } else if has(&[
        "appointment",
        "your visit on",
        "scheduled for",
        "reservation for",
    ]) {
        "appointment"
    } else {
        return None;
    };
    Some(Event {
        kind,
        payee: None,
        amount_cents: None,
        summary,
    })
}

/// Extract from inbound messages after `cursor`; returns the new cursor.
pub fn scan(conn: &Connection, cursor: i64) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare(
        "SELECT m.id, m.text, m.at_ms, p.name FROM messages m LEFT JOIN people p ON p.id = m.sender_id
         WHERE m.id > ?1 AND m.direction = 'in' ORDER BY m.id LIMIT 5000",
    )?;
    let rows: Vec<(i64, String, i64, Option<String>)> = stmt
        .query_map([cursor], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut last = cursor;
    for (id, text, at, sender) in rows {
        last = id;
        if let Some(e) = extract(&text, sender.as_deref()) {
            conn.execute(
                "INSERT OR IGNORE INTO life_events (kind, payee, amount_cents, summary, message_id, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![e.kind, e.payee, e.amount_cents, e.summary, id, at],
            )?;
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let bill = extract("Your Netflix payment of $17.99 was charged", None).unwrap();
        assert_eq!(
            (bill.kind, bill.payee.as_deref(), bill.amount_cents),
            ("bill", Some("Netflix"), Some(1799))
        );
        let from = extract("Your bill of $1,203.50 is due Friday", Some("City Water")).unwrap();
        assert_eq!(
            (from.payee.as_deref(), from.amount_cents),
            (Some("City Water"), Some(120_350))
        );
        assert_eq!(
            extract("Your package was delivered", None).unwrap().kind,
            "delivery"
        );
        assert_eq!(
            extract("Flight UA 12 boarding pass ready", None)
                .unwrap()
                .kind,
            "travel"
        );
        assert_eq!(
            extract("Reminder: dentist appointment tomorrow 9am", None)
                .unwrap()
                .kind,
            "appointment"
        );
        assert_eq!(
            extract("dinner was $40 lol", None),
            None,
            "an amount without a bill word"
        );
        assert_eq!(extract("see you friday", None), None);
        assert_eq!(amount("$5"), Some(500));
    }
}
