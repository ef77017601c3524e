//! A model's answer made readable for the owner's chat before it is relayed.
//!
//! A small model can write a page, or the same line twenty times, where the
//! owner asked a one-line question; all of it once reached the self-chat as one
//! message. Repeated lines are collapsed, and what is longer than the channel
//! reads well (a phone screen or two; each platform's hard limit is higher) is
//! cut at a paragraph, line or sentence end, with the rest kept for `more`.

/// What the owner reads comfortably in one message on `channel`, in characters.
/// iMessage has no hard limit but long bubbles are unreadable; WhatsApp and
/// Telegram cap a message at 4,096 characters, well above this.
pub fn readable_chars(channel: &str) -> usize {
    match channel {
        "imessage" => 700,
        "whatsapp" | "telegram" => 1000,
        "console" => 1500,
        _ => 700,
    }
}

/// The line that tells the owner there is more.
pub const MORE_HINT: &str = "… (reply \"more\" for the rest)";

/// An answer split for one channel: what is sent now and what `more` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    pub shown: String,
    pub rest: Option<String>,
}

/// Collapse repeats, then cut at `readable_chars(channel)`.
pub fn for_channel(channel: &str, text: &str) -> Trimmed {
    let text = collapse_repeats(text);
    split(&text, readable_chars(channel))
}

/// Drop a line that repeats one already kept (a model looping on itself), and
/// runs of blank lines. The first time a line appears it stays where it was.
pub fn collapse_repeats(text: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<&str> = Vec::new();
    for line in text.trim().lines() {
        let key = line.trim();
        if key.is_empty() {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push("");
            }
            continue;
        }
        if seen.insert(key.to_lowercase()) {
            out.push(line.trim_end());
        }
    }
    out.join("\n").trim().to_string()
}

/// The first piece of `text` that fits `max` characters (with the hint), cut at
/// the latest paragraph, line, sentence or word end in its second half.
pub fn split(text: &str, max: usize) -> Trimmed {
    let text = text.trim();
    if text.chars().count() <= max {
        return Trimmed {
            shown: text.to_string(),
            rest: None,
        };
    }
    let budget = max.saturating_sub(MORE_HINT.chars().count() + 1).max(1);
    let limit = text
        .char_indices()
        .nth(budget)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..limit];
    let floor = head.len() / 2;
    let cut = ["\n\n", "\n", ". ", "! ", "? ", " "]
        .iter()
        .find_map(|sep| {
            head.rfind(sep)
                .filter(|&i| i >= floor)
                .map(|i| i + sep.len())
        })
        .unwrap_or(limit);
    let shown = text[..cut].trim_end();
    let rest = text[cut..].trim();
    Trimmed {
        shown: format!("{shown}\n{MORE_HINT}"),
        rest: (!rest.is_empty()).then(|| rest.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_lines_collapse_and_short_answers_pass() {
        let looped =
            "Focus on the deck.\nFocus on the deck.\n\n\nfocus on the deck.\nThen call Ann.";
        assert_eq!(
            collapse_repeats(looped),
            "Focus on the deck.\n\nThen call Ann."
        );
        let t = for_channel("imessage", "Call Ann.");
        assert_eq!((t.shown.as_str(), t.rest), ("Call Ann.", None));
    }

    #[test]
    fn long_answers_are_cut_at_a_sentence_with_the_rest_kept() {
        let text = "This is one sentence of a short answer. ".repeat(5);
        let long: String = (0..60).map(|i| format!("Point {i} matters. ")).collect();
        let t = split(&long, 200);
        assert!(t.shown.chars().count() <= 200, "{}", t.shown);
        assert!(t.shown.ends_with(MORE_HINT));
        let body = t.shown.trim_end_matches(MORE_HINT).trim_end();
        assert!(body.ends_with('.'), "cut at a sentence: {body:?}");
        let rest = t.rest.unwrap();
        assert_eq!(format!("{body} {rest}"), long.trim());
        assert!(split(&text, 1000).rest.is_none());
    }

    #[test]
    fn cuts_respect_multibyte_text() {
        let text = "é".repeat(500);
        let t = split(&text, 100);
        assert!(t.shown.chars().count() <= 100);
        let rest = t.rest.unwrap();
        assert_eq!(
            t.shown
                .trim_end_matches(MORE_HINT)
                .trim_end()
                .chars()
                .count()
                + rest.chars().count(),
            500
        );
    }
}
