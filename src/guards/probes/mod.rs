//! Injection probes: contact messages that try to make the assistant reveal or
//! do things. A probe gets no model draft at all; the owner is told instead.
//! Layered: every message is folded (`normalise`: NFKC, invisible code points,
//! look-alike letters, accents, digits for letters, spaced letters), then
//! matched against phrase lists in seven languages (`phrases`), alone and
//! together with the last few messages so a probe split across turns is still
//! one probe. What passes the rules but asks about the owner may go to a cheap
//! model check (`screen`).

pub mod normalise;
mod phrases;
pub mod screen;

use serde::{Deserialize, Serialize};

use normalise::Forms;
pub use normalise::normalise;
use phrases::Category;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// Whether the phrases of `category` are in `text`.
fn any(forms: &Forms, category: Category) -> bool {
    phrases::hit(forms, category)
}

fn detect_one(text: &str, location_denied: bool) -> Option<Probe> {
    let forms = Forms::of(text);
    let checks: [(Category, Probe); 9] = [
        (Category::Instructions, Probe::Instructions),
        (Category::RevealPrompt, Probe::RevealPrompt),
        (Category::Identity, Probe::Identity),
        (Category::AreYouABot, Probe::AreYouABot),
        (Category::Money, Probe::Money),
        (Category::Access, Probe::Access),
        (Category::Personal, Probe::Personal),
        (Category::Roleplay, Probe::Roleplay),
        (Category::Location, Probe::Location),
    ];
    checks
        .into_iter()
        .filter(|(c, _)| *c != Category::Location || location_denied)
        .find(|(c, _)| any(&forms, *c))
        .map(|(_, p)| p)
}

/// The probe in `text`, or in the recent messages before it read together.
/// A life threat wins over everything else.
pub fn detect(text: &str, recent: &[String], location_denied: bool) -> Option<Probe> {
    if any(&Forms::of(text), Category::Life) {
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
