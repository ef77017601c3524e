//! The owner profile (`<home>/profiles/owner.md`) as typed data: who the owner
//! is, how they text, their time zone, facts that are never denied, per-contact
//! rules, style lessons and private lines. `watch` keeps it current.

pub mod watch;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("owner profile line {line}: {message}")]
pub struct ProfileError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerProfile {
    pub about: String,
    pub how_i_text: String,
    pub location: Option<String>,
    /// IANA name, from the location line (a name or a 3+ letter abbreviation).
    pub timezone: Option<String>,
    pub facts: Vec<Fact>,
    pub schedule: String,
    pub relationships: Vec<Relationship>,
    pub style_lessons: Vec<String>,
    /// Never told to anyone, never put in a contact-facing prompt.
    pub private: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fact {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    pub name: String,
    pub relation: String,
    pub address_as: Option<String>,
    pub never: Vec<String>,
    /// Other handles (phone, email) of this person.
    pub also: Vec<String>,
    /// May be told the owner's actual place.
    pub inner_circle: bool,
    /// High-confidence drafts to them send without asking (opt-in).
    pub auto_send: bool,
}

impl Relationship {
    /// Lower-case keys this entry answers to: "Sam(Mae)" → sam(mae), sam, mae.
    fn keys(&self) -> Vec<String> {
        let full = self.name.to_lowercase();
        let mut keys = vec![full.clone()];
        if let Some((a, b)) = full.split_once('(') {
            keys.push(a.trim().to_string());
            keys.push(b.trim_end_matches(')').trim().to_string());
        }
        keys
    }
}

impl OwnerProfile {
    /// The entry for a contact name or handle. A single first name matches only
    /// when exactly one entry contains it.
    pub fn relationship(&self, who: &str) -> Option<&Relationship> {
        let q = who.trim().to_lowercase();
        if q.is_empty() {
            return None;
        }
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        if let Some(r) = self.relationships.iter().find(|r| {
            r.keys().contains(&q)
                || r.also.iter().any(|h| {
                    let hd: String = h.chars().filter(char::is_ascii_digit).collect();
                    h.eq_ignore_ascii_case(&q)
                        || (digits.len() >= 7 && (hd.ends_with(&digits) || digits.ends_with(&hd)))
                })
        }) {
            return Some(r);
        }
        let first = q.split_whitespace().next()?;
        let mut hits = self.relationships.iter().filter(|r| {
            r.keys()
                .iter()
                .any(|k| k.split_whitespace().any(|w| w == first))
        });
        match (hits.next(), hits.next()) {
            (Some(r), None) => Some(r),
            _ => None,
        }
    }

    pub fn zone(&self) -> Option<jiff::tz::TimeZone> {
        self.timezone
            .as_deref()
            .and_then(|t| jiff::tz::TimeZone::get(t).ok())
    }
}

/// Abbreviations and words the location line may use for a zone.
const ZONES: &[(&str, &str)] = &[
    ("est", "America/New_York"),
    ("edt", "America/New_York"),
    ("eastern", "America/New_York"),
    ("cst", "America/Chicago"),
    ("cdt", "America/Chicago"),
    ("central", "America/Chicago"),
    ("mst", "America/Denver"),
    ("mountain", "America/Denver"),
    ("pst", "America/Los_Angeles"),
    ("pdt", "America/Los_Angeles"),
    ("pacific", "America/Los_Angeles"),
    ("ist", "Asia/Kolkata"),
    ("gmt", "Europe/London"),
    ("bst", "Europe/London"),
    ("cet", "Europe/Berlin"),
    ("utc", "UTC"),
];

fn zone_for(location: &str) -> Result<Option<String>, String> {
    let l = location.trim();
    if l.contains('/') || l.eq_ignore_ascii_case("utc") {
        return match jiff::tz::TimeZone::get(l) {
            Ok(_) => Ok(Some(l.to_string())),
            Err(_) => Err(format!(
                "time zone {l:?} is unknown; use an IANA name such as America/Chicago"
            )),
        };
    }
    // "Austin (CST)", "Pune, IST": any 3+ letter word that names a zone.
    for word in l.split(|c: char| !c.is_alphabetic()) {
        if word.len() < 3 {
            continue;
        }
        let w = word.to_lowercase();
        if let Some((_, z)) = ZONES.iter().find(|(k, _)| *k == w) {
            return Ok(Some(z.to_string()));
        }
    }
    Ok(None)
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    About,
    HowIText,
    MyWorld,
    Facts,
    Schedule,
    Relationships,
    StyleLessons,
    Private,
    Other,
}

fn section(heading: &str) -> Section {
    match heading
        .trim()
        .to_lowercase()
        .trim_end_matches("(managed)")
        .trim()
    {
        "about me" => Section::About,
        "how i text" => Section::HowIText,
        "my world" => Section::MyWorld,
        "facts" | "auto-learned facts" => Section::Facts,
        "schedule" => Section::Schedule,
        "relationships" => Section::Relationships,
        "style lessons" => Section::StyleLessons,
        "private" => Section::Private,
        _ => Section::Other,
    }
}

/// Drop `<placeholder>` spans and HTML comments; what is left, trimmed.
fn strip_placeholders(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut depth = 0;
    for c in line.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

pub fn parse(text: &str) -> Result<OwnerProfile, ProfileError> {
    let mut p = OwnerProfile::default();
    let mut current = Section::None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let err = |message: String| ProfileError { line: n, message };
        if let Some(h) = raw.strip_prefix("## ") {
            current = section(h);
            continue;
        }
        if raw.starts_with("# ") {
            continue;
        }
        let line = strip_placeholders(raw);
        if line.is_empty() {
            continue;
        }
        let push_text = |buf: &mut String| {
            if !buf.is_empty() {
                buf.push('\n');
            }
            buf.push_str(&line);
        };
        match current {
            Section::None | Section::Other => {}
            Section::About => push_text(&mut p.about),
            Section::HowIText => push_text(&mut p.how_i_text),
            Section::Schedule => push_text(&mut p.schedule),
            Section::MyWorld => {
                if let Some((k, v)) = line.split_once(':')
                    && matches!(
                        k.trim().to_lowercase().as_str(),
                        "location" | "timezone" | "time zone"
                    )
                {
                    let v = v.trim();
                    if k.trim().eq_ignore_ascii_case("location") {
                        p.location = Some(v.to_string());
                    }
                    if let Some(z) = zone_for(v).map_err(err)? {
                        p.timezone = Some(z);
                    } else if !k.trim().eq_ignore_ascii_case("location") {
                        return Err(err(format!("time zone {v:?} is unknown")));
                    }
                }
            }
            Section::Facts => {
                let item = line.trim_start_matches(['-', '*']).trim();
                let Some((k, v)) = item.split_once(':') else {
                    return Err(err(format!("a fact is \"label: value\", not {item:?}")));
                };
                let (key, value) = (k.trim().to_lowercase(), v.trim().to_string());
                if key.is_empty() || value.is_empty() {
                    return Err(err(format!("a fact needs a label and a value: {item:?}")));
                }
                if looks_like_date(&value) && value.parse::<jiff::civil::Date>().is_err() {
                    return Err(err(format!("{value:?} is not a date (YYYY-MM-DD)")));
                }
                p.facts.push(Fact { key, value });
            }
            Section::Relationships => p.relationships.push(relationship(&line).map_err(err)?),
            Section::StyleLessons => p
                .style_lessons
                .push(line.trim_start_matches(['-', '*']).trim().to_string()),
            Section::Private => p
                .private
                .push(line.trim_start_matches(['-', '*']).trim().to_string()),
        }
    }
    Ok(p)
}

fn looks_like_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit)
}

/// `- Name: relation | address as: X | never: a, b | also: +1… | inner circle | auto send`
fn relationship(line: &str) -> Result<Relationship, String> {
    let body = line
        .strip_prefix(['-', '*'])
        .ok_or_else(|| format!("a relationship starts with \"- \": {line:?}"))?
        .trim();
    let mut parts = body.split('|').map(str::trim);
    let head = parts.next().unwrap_or_default();
    let (name, relation) = head
        .split_once(':')
        .ok_or_else(|| format!("write \"- Name: relationship\", not {head:?}"))?;
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(format!("a relationship needs a name: {line:?}"));
    }
    let mut r = Relationship {
        name,
        relation: relation.trim().to_string(),
        ..Relationship::default()
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    for part in parts.filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once(':').unwrap_or((part, ""));
        match k.trim().to_lowercase().as_str() {
            "address as" => r.address_as = Some(v.trim().to_string()).filter(|s| !s.is_empty()),
            "never" => r.never = list(v),
            "also" => r.also = list(v),
            "inner circle" => r.inner_circle = true,
            "auto send" | "auto-send" => r.auto_send = true,
            other => {
                return Err(format!(
                    "unknown relationship option {other:?} (use address as, never, also, inner circle, auto send)"
                ));
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Owner profile
## About me
Priya, product lead in Austin.
## How I text
lower-case, short
## My world
Location: Austin (CST)
## Facts
- married: yes
- anniversary: 2019-06-14
## Relationships
- Ann: sister | address as: Annie | never: work, money | also: +15125551234 | inner circle
- Sam(Mae): friend
- Sam Lee: colleague | auto send
<- Placeholder: ignored>
## Private
- salary is 200k
";

    #[test]
    fn parses_every_section() {
        let p = parse(SAMPLE).unwrap();
        assert_eq!(p.about, "Priya, product lead in Austin.");
        assert_eq!(p.timezone.as_deref(), Some("America/Chicago"));
        assert_eq!(p.facts.len(), 2);
        assert_eq!(p.relationships.len(), 3);
        let ann = p.relationship("ann").unwrap();
        assert_eq!(ann.address_as.as_deref(), Some("Annie"));
        assert_eq!(ann.never, vec!["work", "money"]);
        assert!(ann.inner_circle && !ann.auto_send);
        assert_eq!(p.relationship("(512) 555-1234").unwrap().name, "Ann");
        assert_eq!(p.relationship("mae").unwrap().name, "Sam(Mae)");
        // "Sam" is in two entries: a bare first name matches neither.
        assert!(p.relationship("sam").is_some_and(|r| r.name == "Sam(Mae)"));
        assert!(p.relationship("sam lee").unwrap().auto_send);
        assert_eq!(p.private, vec!["salary is 200k"]);
    }

    #[test]
    fn the_shipped_template_parses_to_nothing() {
        let p = parse(include_str!("../../profiles/owner.example.md")).unwrap();
        assert!(p.relationships.is_empty() && p.facts.is_empty() && p.timezone.is_none());
    }

    #[test]
    fn problems_name_the_line() {
        let cases = [
            ("## Facts\n- anniversary: 2019-13-45\n", 2, "not a date"),
            ("## Facts\nmarried\n", 2, "label: value"),
            ("## My world\nLocation: Mars/Olympus\n", 2, "unknown"),
            ("## Relationships\nAnn sister\n", 2, "starts with"),
            (
                "## Relationships\n- Ann: sister | adress as: A\n",
                2,
                "unknown relationship option",
            ),
        ];
        for (text, line, want) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text}");
            assert!(e.message.contains(want), "{e}");
        }
    }
}
