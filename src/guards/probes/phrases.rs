//! The phrase lists, one data file per language under `phrases/` (shipped in
//! the binary), folded once with the same [`normalise`] the messages get.
//! A file is `[category]` headers and one phrase a line; `#` at a line start
//! is a comment, `<n>` in a phrase stands for any number, a phrase ending
//! in `\b` must end at a word end ("your pin\b" is not "your pinky"), and
//! ` … ` stands for up to four words ("forget … instructions" is "forget the
//! previous instructions" and "forget all those instructions").

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

/// Cross-language concept rules (`phrases/concepts.txt`).
const CONCEPTS: &str = include_str!("phrases/concepts.txt");

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

/// Words a ` … ` gap may stand for.
const GAP_WORDS: usize = 4;

/// One folded phrase.
#[derive(Debug)]
struct Phrase {
    /// The folded parts, in order, separated by gaps of up to [`GAP_WORDS`].
    parts: Vec<String>,
    /// Must end at a word end.
    whole: bool,
    /// Holds `<n>` (folded to `#`): matched against the form with numbers as `#`.
    amount: bool,
}

/// A concept rule: a term from every set, and none from `unless`.
#[derive(Debug)]
struct Rule {
    sets: Vec<Vec<Phrase>>,
    unless: Vec<Phrase>,
}

/// One term or phrase line, folded.
fn phrase(line: &str) -> Option<Phrase> {
    let (body, whole) = match line.trim().strip_suffix("\\b") {
        Some(b) => (b, true),
        None => (line.trim(), false),
    };
    let parts: Vec<String> = body
        .split('…')
        .map(|p| normalise(&p.replace("<n>", "#")))
        .filter(|p| !p.is_empty())
        .collect();
    let last = parts.last()?;
    let short =
        parts.len() == 1 && last.chars().count() <= 4 && last.chars().all(char::is_alphanumeric);
    Some(Phrase {
        amount: parts.iter().any(|p| p.contains('#')),
        whole: whole || short,
        parts,
    })
}

/// `[category]` sections of `text`: each line under its category.
fn sections(text: &str) -> Vec<(Category, &str)> {
    let mut out = Vec::new();
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
        match current {
            Some(c) => out.push((c, line)),
            None => tracing::warn!(line, "probe phrase outside a category"),
        }
    }
    out
}

fn rules() -> &'static Vec<(Category, Rule)> {
    static RULES: OnceLock<Vec<(Category, Rule)>> = OnceLock::new();
    RULES.get_or_init(|| {
        sections(CONCEPTS)
            .into_iter()
            .map(|(c, line)| {
                let (sets, unless) = line.split_once(" !! ").unwrap_or((line, ""));
                let terms = |s: &str| s.split(" | ").filter_map(phrase).collect::<Vec<_>>();
                let rule = Rule {
                    sets: sets.split(" && ").map(terms).collect(),
                    unless: terms(unless),
                };
                (c, rule)
            })
            .collect()
    })
}

fn table() -> &'static Vec<(Category, Vec<Phrase>)> {
    static TABLE: OnceLock<Vec<(Category, Vec<Phrase>)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<(Category, Vec<Phrase>)> = Vec::new();
        for (_, text) in FILES {
            for (category, line) in sections(text) {
                let Some(phrase) = phrase(line) else {
                    continue;
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

/// Where `needle` occurs in `hay` at a word start (and, when `whole`, ending
/// at a word end): the byte offsets just past each occurrence.
fn ends_of(hay: &str, needle: &str, whole: bool) -> Vec<usize> {
    let starts_word = needle.starts_with(char::is_alphanumeric);
    let ends_word = needle.ends_with(char::is_alphanumeric);
    hay.match_indices(needle)
        .filter(|(i, _)| {
            let before = hay[..*i].chars().next_back();
            let after = hay[i + needle.len()..].chars().next();
            let glued_before = starts_word && before.is_some_and(char::is_alphanumeric);
            let glued_after = whole && ends_word && after.is_some_and(char::is_alphanumeric);
            !glued_before && !glued_after
        })
        .map(|(i, _)| i + needle.len())
        .collect()
}

/// Whether `parts` occur in `hay` in order, each within [`GAP_WORDS`] words
/// of the one before. Only the last part is held to `whole`.
fn occurs_seq(hay: &str, parts: &[String], whole: bool) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    ends_of(hay, first, whole && rest.is_empty())
        .into_iter()
        .any(|end| rest.is_empty() || within_gap(&hay[end..], rest, whole))
}

/// `occurs_seq` for what follows a matched part, starting within the gap.
fn within_gap(tail: &str, parts: &[String], whole: bool) -> bool {
    let mut offset = 0;
    for _ in 0..=GAP_WORDS {
        let rest = &tail[offset..];
        let trimmed = rest.trim_start();
        let start = offset + (rest.len() - trimmed.len());
        if occurs_seq_at(&tail[start..], parts, whole) {
            return true;
        }
        match tail[start..].find(' ') {
            Some(space) => offset = start + space,
            None => return false,
        }
    }
    false
}

/// `occurs_seq` with the first part anchored at the start of `hay`.
fn occurs_seq_at(hay: &str, parts: &[String], whole: bool) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    if !hay.starts_with(first.as_str()) {
        return false;
    }
    let end = first.len();
    if rest.is_empty() {
        let after = hay[end..].chars().next();
        return !(whole
            && first.ends_with(char::is_alphanumeric)
            && after.is_some_and(char::is_alphanumeric));
    }
    within_gap(&hay[end..], rest, whole)
}

#[cfg(test)]
fn occurs(hay: &str, needle: &str, whole: bool) -> bool {
    occurs_seq(hay, &[needle.to_string()], whole)
}

/// Whether any phrase of `category` (in any language) or any of its concept
/// rules is in the message's forms.
pub fn hit(forms: &Forms, category: Category) -> bool {
    let listed = table()
        .iter()
        .find(|(c, _)| *c == category)
        .is_some_and(|(_, list)| list.iter().any(|p| matches(forms, category, p)));
    listed
        || rules().iter().any(|(c, r)| {
            *c == category
                && r.sets
                    .iter()
                    .all(|set| set.iter().any(|p| matches(forms, category, p)))
                && !r.unless.iter().any(|p| matches(forms, category, p))
        })
}

fn matches(forms: &Forms, category: Category, p: &Phrase) -> bool {
    if p.amount {
        occurs_seq(&forms.amounts, &p.parts, p.whole)
    } else if category == Category::Money {
        // "$" is money, not an "s": amounts are matched as typed.
        occurs_seq(&forms.plain, &p.parts, p.whole)
    } else {
        occurs_seq(&forms.plain, &p.parts, p.whole) || occurs_seq(&forms.leet, &p.parts, p.whole)
    }
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
        let seq = |h: &str| occurs_seq(h, &["forget".into(), "instructions".into()], false);
        assert!(seq("forget the previous instructions"));
        assert!(seq("forget instructions"));
        assert!(seq("forget all of those old instructions"));
        assert!(!seq("forget about it and go read the manual instructions"));
    }
}
