//! Checks on a model's draft before the owner ever sees it. Bot-tells suppress
//! it (the caller may regenerate once); smaller things are rewritten: claims of
//! actions that did not happen, assistant openers and closers, em-dashes, and
//! the owner's casing.

/// What the checks need to know besides the draft.
#[derive(Debug, Clone, Default)]
pub struct DraftContext {
    /// The contact's name and how the owner addresses them.
    pub contact_names: Vec<String>,
    /// The contact's message.
    pub inbound: String,
    /// The owner's facts (`married: yes`, `spouse: Sam`): never denied.
    pub facts: Vec<(String, String)>,
    /// Places the draft may name (the inner circle's actual place); empty: none.
    pub allowed_places: Vec<String>,
    /// The owner texts in lower case without trailing periods.
    pub lowercase: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The text to propose, after rewrites.
    Ok(String),
    /// Not to be proposed; why.
    Suppress(String),
}

pub const MAX_CHARS: usize = 800;

const CUSTOMER_SERVICE: &[&str] = &[
    "how can i help",
    "how may i help",
    "how may i assist",
    "how can i assist",
    "certainly!",
    "let me know if",
    "i apologize",
    "i'd be happy to",
    "i would be happy to",
    "happy to help",
    "is there anything else",
    "feel free to",
    "sounds good!",
    "great question",
    "thank you for reaching out",
    "thanks for reaching out",
    "hope this helps",
    "i understand your concern",
    "rest assured",
    "don't hesitate",
    "do not hesitate",
    "at your earliest convenience",
];
const AI: &[&str] = &[
    "as an ai",
    "as a language model",
    "language model",
    "i'm an ai",
    "i am an ai",
    "i'm a bot",
    "i am a bot",
    "as an assistant",
    "virtual assistant",
    "ai assistant",
    "i'm just an ai",
    "i cannot browse",
    "i don't have access to",
    "i do not have access to",
    "i'm unable to",
    "i am unable to",
    "i can't access",
    "my training",
    "openai",
    "anthropic",
    "chatgpt",
    "claude",
];
const TELL_WORDS: &[&str] = &[
    "delve",
    "kindly",
    "navigate",
    "utilize",
    "regarding",
    "as per",
];
const REASONING: &[&str] = &[
    "the owner",
    "the user",
    "the contact",
    "based on the context",
    "according to my",
    "here's a reply",
    "here is a reply",
    "here's a draft",
    "here is a draft",
    "draft:",
    "reply:",
    "<think>",
    "</think>",
    "reasoning:",
    "i should reply",
    "i will reply",
    "in the prompt",
    "my instructions",
    "the instructions",
    "as instructed",
    "system prompt",
];
const PLACES: &[&str] = &[
    "i'm at ",
    "i am at ",
    "im at ",
    "i'm in ",
    "i am in ",
    "i'm home",
    "i am home",
    "at the gym",
    "at the office",
    "at the airport",
    "at home",
    "at work",
    "on my way to",
    "i'm out at",
];
/// Openers and closers a person would not type, stripped.
const OPENERS: &[&str] = &[
    "sure! ",
    "sure, ",
    "of course! ",
    "of course, ",
    "absolutely! ",
    "absolutely, ",
    "certainly! ",
    "certainly, ",
    "hi there! ",
    "hi there, ",
    "great question! ",
    "got it! ",
    "okay! ",
];
const CLOSERS: &[&str] = &[
    "let me know if you need anything else.",
    "let me know if you need anything else!",
    "hope this helps!",
    "hope that helps!",
    "have a great day!",
    "best regards",
    "kind regards",
    "cheers!",
];
/// Past-tense claims and what they become when the action did not run.
const CLAIMS: &[(&str, &str)] = &[
    ("i've added", "i'll add"),
    ("i added", "i'll add"),
    ("i've sent", "i'll send"),
    ("i sent", "i'll send"),
    ("i've scheduled", "i'll schedule"),
    ("i scheduled", "i'll schedule"),
    ("i've booked", "i'll book"),
    ("i booked", "i'll book"),
    ("i've set a reminder", "i'll set a reminder"),
    ("i set a reminder", "i'll set a reminder"),
    ("i've called", "i'll call"),
    ("i called", "i'll call"),
    ("i've emailed", "i'll email"),
    ("i emailed", "i'll email"),
    ("i've forwarded", "i'll forward"),
    ("i forwarded", "i'll forward"),
    ("i've shared", "i'll share"),
    ("i shared", "i'll share"),
    ("i've paid", "i'll pay"),
    ("i paid", "i'll pay"),
    ("i've ordered", "i'll order"),
    ("i ordered", "i'll order"),
];

fn contains_any(hay: &str, needles: &[&str]) -> Option<String> {
    needles
        .iter()
        .find(|n| hay.contains(*n))
        .map(|n| n.to_string())
}

fn word_hit(hay: &str, words: &[&str]) -> Option<String> {
    words
        .iter()
        .find(|w| {
            hay.match_indices(*w).any(|(i, _)| {
                let before = hay[..i].chars().next_back();
                let after = hay[i + w.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            })
        })
        .map(|w| w.to_string())
}

/// Replace `from` (matched case-insensitively) with `to`, keeping a capital first letter.
fn replace_ci(text: &str, from: &str, to: &str) -> String {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        return text.to_string(); // case mapping changed lengths: leave it alone
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (i, _) in lower.match_indices(from) {
        let before = lower[..i].chars().next_back();
        if before.is_some_and(char::is_alphanumeric) {
            continue;
        }
        out.push_str(&text[last..i]);
        let original = &text[i..i + from.len()];
        if original.starts_with(|c: char| c.is_uppercase()) {
            let mut cs = to.chars();
            if let Some(f) = cs.next() {
                out.extend(f.to_uppercase());
                out.push_str(cs.as_str());
            }
        } else {
            out.push_str(to);
        }
        last = i + from.len();
    }
    out.push_str(&text[last..]);
    out
}

/// Placeholder tokens a template left in: `[name]`, `{date}`, `<time>`, `XXX`.
fn placeholder(text: &str) -> bool {
    let pairs = [('[', ']'), ('{', '}'), ('<', '>')];
    for (open, close) in pairs {
        let mut rest = text;
        while let Some(i) = rest.find(open) {
            let after = &rest[i + open.len_utf8()..];
            let Some(j) = after.find(close) else { break };
            let inner = &after[..j];
            let looks = !inner.is_empty()
                && inner.len() <= 30
                && inner
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == ' ' || c == '_' || c == '\'');
            // "<3" is a heart, not a placeholder.
            if looks && inner != "3" {
                return true;
            }
            rest = &after[j..];
        }
    }
    text.contains("XXX") || text.contains("TODO") || text.contains("TBD")
}

/// Words that negate what follows them.
const NEGATIONS: &[&str] = &[
    "not", "never", "isn't", "wasn't", "ain't", "aren't", "weren't", "haven't", "hasn't", "hadn't",
    "no", "nope", "neither", "nor",
];
/// Words that may stand between a negation and the fact it denies without
/// changing the meaning: "not *even* married", "never *been* married".
const MODIFIERS: &[&str] = &[
    "even",
    "actually",
    "really",
    "ever",
    "been",
    "yet",
    "technically",
    "officially",
    "legally",
    "currently",
    "exactly",
    "longer",
    "so",
    "that",
    "quite",
    "like",
    "remotely",
    "at",
    "all",
    "be",
    "gonna",
    "getting",
    "got",
    "get",
    "literally",
    "honestly",
    "still",
];

/// The draft as words, with punctuation as `|` so a clause boundary stops the
/// look-back ("not even close, married people get it" denies nothing).
fn words(lower: &str) -> Vec<String> {
    let spaced: String = lower
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            ',' | '.' | ';' | ':' | '!' | '?' | '(' | ')' | '"' => '|',
            c => c,
        })
        .collect();
    spaced
        .replace('|', " | ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Is `key` (one or more words) in `words` right after a negation, with only
/// modifiers in between?
fn negated(words: &[String], key: &str) -> bool {
    let key: Vec<&str> = key.split_whitespace().collect();
    if key.is_empty() || words.len() < key.len() {
        return false;
    }
    (0..=words.len() - key.len()).any(|i| {
        if words[i..i + key.len()]
            .iter()
            .zip(&key)
            .any(|(w, k)| w != k)
        {
            return false;
        }
        let mut j = i;
        while j > 0 && MODIFIERS.contains(&words[j - 1].as_str()) {
            j -= 1;
        }
        j > 0 && NEGATIONS.contains(&words[j - 1].as_str())
    })
}

/// Does the draft deny one of the owner's facts? ("I'm not married", "I'm not
/// even married", "never been married")
fn denies_fact(lower: &str, facts: &[(String, String)]) -> Option<String> {
    let words = words(lower);
    for (key, value) in facts {
        let key = key.to_lowercase();
        let value = value.to_lowercase();
        if (value == "yes" || value == "true") && negated(&words, &key) {
            return Some(format!("denies the owner's fact {key}"));
        }
        if key == "married"
            && value == "yes"
            && (lower.contains("i'm single") || lower.contains("i am single"))
        {
            return Some("denies the owner's fact married".into());
        }
        if matches!(key.as_str(), "spouse" | "wife" | "husband" | "partner")
            && [
                "no wife",
                "no husband",
                "no partner",
                "don't have a wife",
                "don't have a husband",
            ]
            .iter()
            .any(|n| lower.contains(n))
        {
            return Some(format!("denies the owner's fact {key}"));
        }
    }
    None
}

pub fn check(draft: &str, ctx: &DraftContext) -> Verdict {
    let mut text = draft.trim().trim_matches('"').trim().to_string();
    // Rewrites first, so what is checked is what would be sent.
    for _ in 0..2 {
        let lower = text.to_lowercase();
        if let Some(o) = OPENERS.iter().find(|o| lower.starts_with(*o)) {
            text = text[o.len()..].trim_start().to_string();
        }
    }
    let lower = text.to_lowercase();
    if let Some(c) = CLOSERS.iter().find(|c| lower.ends_with(*c)) {
        text = text[..text.len() - c.len()].trim_end().to_string();
    }
    text = text
        .replace(" — ", ", ")
        .replace('—', ", ")
        .replace(" – ", ", ");
    for (from, to) in CLAIMS {
        text = replace_ci(&text, from, to);
    }
    if ctx.lowercase {
        text = text.to_lowercase().trim_end_matches('.').to_string();
    }
    let text = text.trim().to_string();
    let lower = text.to_lowercase();
    let chars = text.chars().count();

    let suppress = |why: String| Verdict::Suppress(why);
    if text.is_empty() {
        return suppress("empty".into());
    }
    if chars > MAX_CHARS || (chars > 400 && text.matches('\n').count() > 8) {
        return suppress(format!("too long ({chars} characters)"));
    }
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') || text.contains("\":") || text.contains("```") {
        return suppress("JSON or code".into());
    }
    if ["api_key", "apikey", "sk-", "bearer ", "token:"]
        .iter()
        .any(|k| lower.contains(k))
    {
        return suppress("internal keys".into());
    }

    if let Some(hit) = contains_any(&lower, AI) {
        return suppress(format!("an AI disclaimer ({hit:?})"));
    }
    if let Some(hit) = contains_any(&lower, CUSTOMER_SERVICE) {
        return suppress(format!("customer-service phrasing ({hit:?})"));
    }
    if let Some(hit) = contains_any(&lower, REASONING) {
        return suppress(format!("a reasoning leak ({hit:?})"));
    }
    if placeholder(&text) {
        return suppress("a placeholder".into());
    }
    if let Some(hit) = word_hit(&lower, TELL_WORDS) {
        return suppress(format!("a tell-word ({hit:?})"));
    }
    if let Some(why) = denies_fact(&lower, &ctx.facts) {
        return suppress(why);
    }
    if let Some(hit) = contains_any(&lower, PLACES)
        && !ctx
            .allowed_places
            .iter()
            .any(|p| lower.contains(&p.to_lowercase()))
    {
        return suppress(format!("names a place ({})", hit.trim()));
    }
    // "Hey Sam," to Ann: a vocative name that is not the contact's.
    let first = lower.split([',', '!', '.']).next().unwrap_or_default();
    if let Some(name) = first
        .strip_prefix("hey ")
        .or_else(|| first.strip_prefix("hi "))
        .or_else(|| first.strip_prefix("hello "))
        .map(str::trim)
        && !name.is_empty()
        && name.split_whitespace().count() == 1
        && !matches!(
            name,
            "there" | "you" | "all" | "guys" | "babe" | "love" | "hun" | "dude" | "man"
        )
        && !ctx
            .contact_names
            .iter()
            .any(|n| n.to_lowercase().split_whitespace().any(|w| w == name))
        && !ctx.inbound.to_lowercase().contains(name)
    {
        return suppress(format!("addresses someone else ({name:?})"));
    }
    Verdict::Ok(text)
}
