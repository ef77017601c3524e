//! Injection probes: contact messages that try to make the assistant reveal or
//! do things. A probe gets no model draft at all; the owner is told instead.
//! Matching is on a normalised copy (lower case, zero-width characters dropped,
//! look-alike digits mapped, letter-by-letter spacing joined), and on the last
//! few messages together so a probe split across turns is still one probe.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Probe {
    Instructions,
    RevealPrompt,
    AreYouABot,
    Identity,
    Money,
    Access,
    Personal,
    Roleplay,
    /// The owner's whereabouts, from a contact the owner said not to tell.
    Location,
    /// Someone may be in danger: the owner is paged, whatever else is going on.
    LifeThreat,
}

impl Probe {
    /// What the contact tried, for the owner's "🛡 Ann asked …" line.
    pub fn what(self) -> &'static str {
        match self {
            Probe::Instructions => "tried to change my instructions",
            Probe::RevealPrompt => "asked me to reveal my instructions",
            Probe::AreYouABot => "asked whether they're talking to a bot",
            Probe::Identity => "asked who they're really talking to",
            Probe::Money => "asked for money or a payment",
            Probe::Access => "asked for a code, password or login",
            Probe::Personal => "asked for personal details (address, birth date, security answers)",
            Probe::Roleplay => "tried to make me play a role",
            Probe::Location => "asked where you are (you said not to tell them)",
            Probe::LifeThreat => "may be in danger",
        }
    }
}

const LIFE: &[&str] = &[
    "kill myself",
    "killing myself",
    "suicide",
    "suicidal",
    "want to die",
    "end my life",
    "end it all",
    "overdose",
    "i'm in danger",
    "im in danger",
    "being attacked",
    "call 911",
    "call an ambulance",
    "can't breathe",
    "cant breathe",
    "heart attack",
];
const INSTRUCTIONS: &[&str] = &[
    "ignore your instructions",
    "ignore all instructions",
    "ignore previous",
    "ignore the previous",
    "ignore prior",
    "ignore all previous",
    "ignore the above",
    "ignore above",
    "ignore your rules",
    "ignore what you were told",
    "forget your instructions",
    "forget everything",
    "forget all previous",
    "forget your rules",
    "disregard",
    "new instructions",
    "developer mode",
    "jailbreak",
    "dan mode",
    "override your",
    "you must obey",
    "system:",
    "[system]",
    "<system>",
    "admin override",
    "your new task",
    "stop being",
    "instructions:",
];
const REVEAL: &[&str] = &[
    "system prompt",
    "your prompt",
    "initial prompt",
    "your instructions",
    "what were you told",
    "repeat the text above",
    "repeat everything above",
    "print your rules",
    "show your rules",
    "what are your rules",
    "reveal your",
    "the text above",
    "hidden instructions",
    "your guidelines",
    "what's in your context",
    "whats in your context",
];
const BOT: &[&str] = &[
    "are you a bot",
    "are you an ai",
    "are you ai",
    "r u a bot",
    "is this a bot",
    "is this ai",
    "is this an ai",
    "talking to a bot",
    "talking to an ai",
    "talking to a machine",
    "are you real",
    "are you human",
    "is this automated",
    "automated reply",
    "are you chatgpt",
    "is this chatgpt",
    "are you a robot",
    "language model",
    "are you an assistant",
    "is this an assistant",
    "auto-reply",
    "autoreply",
    "is a bot",
    "a bot answering",
];
const IDENTITY: &[&str] = &[
    "who are you really",
    "who am i talking to",
    "who is this really",
    "who's really texting",
    "whos really texting",
    "is this really",
    "prove it's you",
    "prove its you",
    "prove you are",
];
const MONEY: &[&str] = &[
    "send me money",
    "send money",
    "wire me",
    "wire transfer",
    "venmo me",
    "zelle me",
    "cash app",
    "cashapp",
    "paypal me",
    "gift card",
    "giftcard",
    "itunes card",
    "bitcoin",
    "crypto",
    "lend me",
    "loan me",
    "transfer $",
    "send $",
    "pay me",
    "bank account",
    "routing number",
    "account number",
    "western union",
    "moneygram",
    "send the money",
];
const ACCESS: &[&str] = &[
    "password",
    "passcode",
    "verification code",
    "send me the code",
    "what's the code",
    "whats the code",
    "read me the code",
    "forward the code",
    "otp",
    "2fa",
    "one-time code",
    "one time code",
    "security code",
    "pin number",
    "your pin",
    "your login",
    "apple id",
    "icloud",
    "sign-in code",
    "auth code",
    "code i sent",
    "code you got",
    "6-digit",
    "6 digit",
];
const PERSONAL: &[&str] = &[
    "social security",
    "ssn",
    "date of birth",
    "dob",
    "home address",
    "your address",
    "his address",
    "her address",
    "where do you live",
    "where does he live",
    "where does she live",
    "maiden name",
    "birthplace",
    "where were you born",
    "where was he born",
    "where was she born",
    "first school",
    "elementary school",
    "first pet",
    "pet's name",
    "pets name",
    "passport",
    "driver's license",
    "drivers license",
    "credit card",
    "card number",
    "cvv",
    "security question",
];
const ROLEPLAY: &[&str] = &[
    "pretend you are",
    "pretend you're",
    "pretend to be",
    "roleplay",
    "role-play",
    "role play",
    "act as",
    "you are now",
    "from now on you",
    "let's play a game where",
    "lets play a game where",
    "simulate",
    "in character",
];
const LOCATION: &[&str] = &[
    "where are you",
    "where r u",
    "where are u",
    "where r you",
    "your location",
    "where is he",
    "where is she",
    "where's he",
    "where's she",
    "wheres he",
    "share your location",
    "send your location",
    "send me your location",
    "are you home",
    "are you at home",
    "where you at",
    "what's your location",
    "find my",
    "are you out",
];

/// Lower case, no zero-width or directional marks, look-alike digits mapped,
/// and "i g n o r e" joined back into words.
pub fn normalise(text: &str) -> String {
    let lower: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(*c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}' | '\u{202a}'..='\u{202e}'))
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    // Join runs of single letters separated by spaces or dots ("i.g.n.o.r.e").
    let mut out = String::with_capacity(lower.len());
    let tokens: Vec<&str> = lower.split([' ', '.', '-', '_']).collect();
    let mut i = 0;
    while i < tokens.len() {
        let mut j = i;
        while j < tokens.len() && tokens[j].chars().count() == 1 {
            j += 1;
        }
        if j - i >= 4 {
            out.push_str(&tokens[i..j].concat());
            i = j;
        } else {
            out.push_str(tokens[i]);
            i += 1;
        }
        out.push(' ');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn leet(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            c => c,
        })
        .collect()
}

fn has(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| {
        // Short needles must be whole words: "otp" not in "hotpot".
        if n.len() <= 4 && n.chars().all(char::is_alphanumeric) {
            text.split(|c: char| !c.is_alphanumeric()).any(|w| w == *n)
        } else {
            text.contains(n)
        }
    })
}

fn detect_one(text: &str, location_denied: bool) -> Option<Probe> {
    let norm = normalise(text);
    let alt = leet(&norm);
    let plain = text.to_lowercase();
    let any = |needles: &[&str]| has(&norm, needles) || has(&alt, needles) || has(&plain, needles);
    let checks: [(bool, Probe); 9] = [
        (any(INSTRUCTIONS), Probe::Instructions),
        (any(REVEAL), Probe::RevealPrompt),
        (any(IDENTITY), Probe::Identity),
        (any(BOT), Probe::AreYouABot),
        (has(&norm, MONEY), Probe::Money),
        (any(ACCESS), Probe::Access),
        (any(PERSONAL), Probe::Personal),
        (any(ROLEPLAY), Probe::Roleplay),
        (location_denied && any(LOCATION), Probe::Location),
    ];
    checks.into_iter().find(|(hit, _)| *hit).map(|(_, p)| p)
}

/// The probe in `text`, or in the recent messages before it read together.
/// A life threat wins over everything else.
pub fn detect(text: &str, recent: &[String], location_denied: bool) -> Option<Probe> {
    let norm = normalise(text);
    if has(&norm, LIFE) {
        return Some(Probe::LifeThreat);
    }
    if let Some(p) = detect_one(text, location_denied) {
        return Some(p);
    }
    if recent.is_empty() {
        return None;
    }
    let joined = format!("{} {text}", recent.join(" "));
    detect_one(&joined, location_denied)
}
