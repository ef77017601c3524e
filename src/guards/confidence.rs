//! How sure Steward is that a draft is what the owner would send, as risk and
//! safe points (the reference's table). Shown to the owner with every draft; a
//! standing approval only ever sends HIGH.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Low,
    Medium,
    High,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Medium => "medium",
            Tier::High => "high",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Confidence {
    pub points: i32,
    pub tier: Tier,
    /// What moved the score, e.g. "a dollar amount −2".
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// The owner marked this relationship in the profile.
    pub known_relationship: bool,
    /// Fewer than three messages ever exchanged.
    pub cold_contact: bool,
    /// The owner has disliked drafts to this contact before.
    pub prior_dislikes: bool,
}

const ACKS: &[&str] = &[
    "ok",
    "okay",
    "k",
    "kk",
    "👍",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "sounds good",
    "got it",
    "cool",
    "yes",
    "yep",
    "yeah",
    "sure",
    "np",
    "no problem",
    "haha",
    "lol",
    "nice",
    "great",
    "perfect",
    "will do",
    "on it",
    "yes!",
    "ok!",
    "❤️",
    "🙏",
];
const FUTURE: &[&str] = &[
    "tomorrow",
    "tonight",
    "next week",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    " am",
    " pm",
    "o'clock",
    "later today",
    "this weekend",
];
const SENSITIVE: &[&str] = &[
    "doctor",
    "hospital",
    "diagnos",
    "prescription",
    "surgery",
    "lawyer",
    "attorney",
    "court",
    "lawsuit",
    "tax",
    "loan",
    "mortgage",
    "invest",
    "debt",
    "insurance",
    "bank",
    "medication",
    "therapy",
    "contract",
];
const GRIEF: &[&str] = &[
    "passed away",
    "funeral",
    "died",
    "condolences",
    "sorry for your loss",
    "rip ",
    "memorial",
    "lost her",
    "lost him",
    "cancer",
];
const CLAIMS: &[&str] = &["i'll ", "i will ", "i can ", "let me ", "i'm going to "];

fn dollar(text: &str) -> bool {
    text.match_indices('$').any(|(i, _)| {
        text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .count()
            >= 2
    })
}

pub fn score(inbound: &str, draft: &str, s: &Signals) -> Confidence {
    let both = format!("{} {}", inbound.to_lowercase(), draft.to_lowercase());
    let d = draft.trim().to_lowercase();
    let mut points = 0;
    let mut reasons = Vec::new();
    let mut add = |n: i32, why: &str| {
        points += n;
        reasons.push(format!(
            "{why} {}{}",
            if n > 0 { "+" } else { "−" },
            n.abs()
        ));
    };
    if dollar(&both) {
        add(-2, "a dollar amount");
    }
    if FUTURE.iter().any(|f| d.contains(f)) {
        add(-2, "a time in the future");
    }
    if SENSITIVE.iter().any(|w| both.contains(w)) {
        add(-2, "a medical, legal or money topic");
    }
    if s.prior_dislikes {
        add(-2, "you disliked drafts to them before");
    }
    if GRIEF.iter().any(|w| both.contains(w)) {
        add(-3, "grief");
    }
    if CLAIMS
        .iter()
        .any(|c| d.starts_with(c) || d.contains(&format!(" {c}")))
    {
        add(-1, "promises an action");
    }
    if draft.trim().contains('\n') {
        add(-1, "several lines");
    }
    if draft.chars().count() >= 200 {
        add(-1, "long");
    }
    if s.cold_contact {
        add(-1, "you rarely talk");
    }
    let bare = d.trim_end_matches(['.', '!']);
    if ACKS.contains(&bare) {
        add(3, "a plain acknowledgement");
    }
    if draft.chars().count() <= 30 {
        add(1, "short");
    }
    if s.known_relationship {
        add(1, "a known relationship");
    }
    let tier = match points {
        p if p >= 1 => Tier::High,
        -1 | 0 => Tier::Medium,
        _ => Tier::Low,
    };
    Confidence {
        points,
        tier,
        reasons,
    }
}
