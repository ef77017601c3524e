//! The phrase lists, one data file per language under `phrases/` (shipped in
//! the binary), folded once with the same [`normalise`] the messages get.
//! A file is `[category]` headers and one phrase a line; `#` at a line start
//! is a comment, `#` inside a phrase stands for any number, and a phrase
//! ending in `\b` must end at a word end ("your pin\b" is not "your pinky").

use std::sync::OnceLock;

use super::normalise::{Forms, normalise};

/// Shipped languages: English, Spanish, French, German, Portuguese,
/// Hindi/Hinglish in Latin script, Italian.
const FILES: &[(&str, &str)] = &[
    ("en", include_str!("phrases/en.txt")),
    ("es", include_str!("phrases/es.txt")),
    ("fr", include_str!("phrases/fr.txt")),
    ("de", include_str!("phrases/de.txt")),
    ("pt", include_str!("phrases/pt.txt")),
    ("hi", include_str!("phrases/hi.txt")),
    ("it", include_str!("phrases/it.txt")),
];

/// The categories a phrase file may name, as in `[areYouABot]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Life,
    Instructions,
    RevealPrompt,
    Identity,
    AreYouABot,
    Money,
    Access,
    Personal,
    Roleplay,
    Location,
}

impl Category {
    fn parse(s: &str) -> Option<Category> {
        Some(match s {
            "life" => Category::Life,
            "instructions" => Category::Instructions,
            "revealPrompt" => Category::RevealPrompt,
            "identity" => Category::Identity,
            "areYouABot" => Category::AreYouABot,
            "money" => Category::Money,
            "access" => Category::Access,
            "personal" => Category::Personal,
            "roleplay" => Category::Roleplay,
            "location" => Category::Location,
            _ => return None,
        })
    }
}

/// One folded phrase.
#[derive(Debug)]
struct Phrase {
    text: String,
    /// Must end at a word end.
    whole: bool,
    /// Holds `#`: matched against the form with numbers as `#`.
    amount: bool,
}

fn table() -> &'static Vec<(Category, Vec<Phrase>)> {
    static TABLE: OnceLock<Vec<(Category, Vec<Phrase>)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<(Category, Vec<Phrase>)> = Vec::new();
        for (lang, text) in FILES {
            let mut current: Option<Category> = None;
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']'))
                    && let Some(c) = Category::parse(name)
                {
                    current = Some(c);
                    continue;
                }
                // A shipped file is checked by a test; a stray line outside a
                // category is skipped rather than taking the daemon down.
                let Some(category) = current else {
                    tracing::warn!(lang, line, "probe phrase outside a category");
                    continue;
                };
                let (body, whole) = match line.strip_suffix("\\b") {
                    Some(b) => (b, true),
                    None => (line, false),
                };
                let text = normalise(body);
                if text.is_empty() {
                    continue;
                }
                let short = text.chars().count() <= 4 && text.chars().all(char::is_alphanumeric);
                let phrase = Phrase {
                    amount: text.contains('#'),
                    whole: whole || short,
                    text,
                };
                match table.iter_mut().find(|(c, _)| *c == category) {
                    Some((_, list)) => list.push(phrase),
                    None => table.push((category, vec![phrase])),
                }
            }
        }
        table
    })
}

/// Whether `needle` occurs in `hay` starting at a word start (and ending at a
/// word end when `whole`).
fn occurs(hay: &str, needle: &str, whole: bool) -> bool {
    let starts_word = needle.starts_with(char::is_alphanumeric);
    let ends_word = needle.ends_with(char::is_alphanumeric);
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        let glued_before = starts_word && before.is_some_and(char::is_alphanumeric);
        let glued_after = whole && ends_word && after.is_some_and(char::is_alphanumeric);
        !glued_before && !glued_after
    })
}

/// Whether any phrase of `category` (in any language) is in the message's forms.
pub fn hit(forms: &Forms, category: Category) -> bool {
    let Some((_, list)) = table().iter().find(|(c, _)| *c == category) else {
        return false;
    };
    list.iter().any(|p| {
        if p.amount {
            occurs(&forms.amounts, &p.text, p.whole)
        } else if category == Category::Money {
            // "$" is money, not an "s": amounts are matched as typed.
            occurs(&forms.plain, &p.text, p.whole)
        } else {
            occurs(&forms.plain, &p.text, p.whole) || occurs(&forms.leet, &p.text, p.whole)
        }
    })
}

/// How many phrases each language ships.
#[cfg(test)]
fn counts() -> Vec<(&'static str, usize)> {
    FILES
        .iter()
        .map(|(lang, text)| {
            let n = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
                .count();
            (*lang, n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_line_is_in_a_known_category() {
        for (lang, text) in FILES {
            let mut in_category = false;
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']'))
                    && !line.starts_with("[system]")
                {
                    assert!(Category::parse(name).is_some(), "{lang}: [{name}]");
                    in_category = true;
                    continue;
                }
                assert!(in_category, "{lang}: {line:?} before any category");
            }
        }
        assert!(counts().iter().all(|(_, n)| *n >= 60), "{:?}", counts());
    }

    #[test]
    fn phrases_match_from_a_word_start() {
        assert!(occurs("what's your pin", "your pin", true));
        assert!(!occurs("your pinky", "your pin", true));
        assert!(!occurs("contact asap", "act as", false));
        assert!(occurs("ignore previously given", "ignore previous", false));
    }
}
