//! Canonical handles: `kind:value`, one spelling per address, so the same
//! person is found whichever way a channel writes them.
//!
//! - `phone:+15125551234`: E.164 through libphonenumber, with the owner's region
//!   for numbers without a country code ("(512) 555-1234", "+1 512 555 1234",
//!   "15125551234@s.whatsapp.net", "p:+15125551234" all land here);
//! - `email:ann@example.com`: trimmed, `mailto:`/`<>` removed, lower-case;
//! - `telegram:123456789`, `whatsapp:<jid>` for non-phone JIDs (`@lid`, `@g.us`);
//! - `other:<raw>` for anything else. Canonicalisation never fails.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use phonenumber::country;

use super::phone_regexes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Phone,
    Email,
    Telegram,
    Whatsapp,
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Telegram => "telegram",
            Kind::Whatsapp => "whatsapp",
            Kind::Other => "other",
        }
    }
}

/// A canonical handle. `Display` is the stored form `kind:value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(String);

impl Handle {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn kind(&self) -> Kind {
        match self.0.split_once(':').map(|(k, _)| k) {
            Some("phone") => Kind::Phone,
            Some("email") => Kind::Email,
            Some("telegram") => Kind::Telegram,
            Some("whatsapp") => Kind::Whatsapp,
            _ => Kind::Other,
        }
    }
    pub fn value(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, v)| v)
    }
    fn new(kind: Kind, value: &str) -> Handle {
        Handle(format!("{}:{value}", kind.as_str()))
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns raw addresses into handles for one default region.
#[derive(Debug, Clone)]
pub struct Canonicalizer {
    region: Option<country::Id>,
}

impl Canonicalizer {
    /// `region` is an ISO 3166 code such as `US`; unknown codes mean "no default".
    pub fn new(region: &str) -> Self {
        Canonicalizer {
            region: country::Id::from_str(&region.to_ascii_uppercase()).ok(),
        }
    }

    pub fn canonicalize(&self, raw: &str) -> Handle {
        let trimmed = raw.trim();
        // Already canonical (or written as such by the owner): re-check the value.
        if let Some((kind, value)) = trimmed.split_once(':') {
            match kind.to_ascii_lowercase().as_str() {
                "phone" => {
                    return self
                        .phone(value)
                        .unwrap_or_else(|| Handle::new(Kind::Other, value.trim()));
                }
                "email" | "mailto" => {
                    return email(value).unwrap_or_else(|| Handle::new(Kind::Other, value.trim()));
                }
                "telegram" => return Handle::new(Kind::Telegram, value.trim()),
                "whatsapp" => return self.jid(value.trim()),
                "other" => return Handle::new(Kind::Other, value.trim()),
                // chat.db `account` prefixes and `tel:` URIs.
                "e" => return email(value).unwrap_or_else(|| Handle::new(Kind::Other, trimmed)),
                "p" | "tel" => {
                    return self
                        .phone(value)
                        .unwrap_or_else(|| Handle::new(Kind::Other, trimmed));
                }
                _ => {}
            }
        }
        if trimmed.contains('@') {
            if let Some((user, domain)) = trimmed.rsplit_once('@') {
                let domain = domain.to_ascii_lowercase();
                if matches!(
                    domain.as_str(),
                    "s.whatsapp.net" | "c.us" | "lid" | "g.us" | "broadcast"
                ) {
                    return self.jid(&format!("{user}@{domain}"));
                }
            }
            if let Some(h) = email(trimmed) {
                return h;
            }
        }
        if let Some(h) = self.phone(trimmed) {
            return h;
        }
        Handle::new(Kind::Other, trimmed)
    }

    fn jid(&self, jid: &str) -> Handle {
        let lower = jid.to_ascii_lowercase();
        if let Some((user, domain)) = lower.split_once('@')
            && matches!(domain, "s.whatsapp.net" | "c.us")
        {
            // Phone JIDs carry the full international number without '+'; drop ":device".
            let digits = user.split(':').next().unwrap_or(user);
            if let Some(h) = self.phone(&format!("+{digits}")) {
                return h;
            }
        }
        Handle::new(Kind::Whatsapp, &lower)
    }

    fn phone(&self, raw: &str) -> Option<Handle> {
        let raw = raw.trim();
        if !plausible_phone(raw) {
            return None;
        }
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let plus = raw.starts_with('+');
        let parsed = if plus {
            phonenumber::parse(None, raw).ok()
        } else {
            // "919493678486" parses in the US as +1 919-493-678486, which
            // is no valid number: digits that are not a valid number in the
            // owner's region are tried as international ones first.
            let local = phonenumber::parse(self.region, raw).ok();
            let international = || phonenumber::parse(None, format!("+{digits}")).ok();
            match local {
                Some(n) if phonenumber::is_valid(&n) => Some(n),
                local => international()
                    .filter(phonenumber::is_valid)
                    .or(local)
                    // "15125551234": a full number written without '+'.
                    .or_else(international),
            }
        };
        let handle = match parsed {
            Some(n) => Some(Handle::new(
                Kind::Phone,
                &phonenumber::format(&n)
                    .mode(phonenumber::Mode::E164)
                    .to_string(),
            )),
            // Plausible but unknown to the metadata: keep the digits, never lose it.
            None if plus => Some(Handle::new(Kind::Phone, &format!("+{digits}"))),
            None => None,
        };
        phone_regexes::used();
        handle
    }
}

/// `+15125551234` as people write it (`+1 512-555-1234`); `None` for what
/// is not an international number libphonenumber knows.
pub fn international(e164: &str) -> Option<String> {
    let shown = phonenumber::parse(None, e164)
        .ok()
        .filter(|_| e164.trim_start().starts_with('+'))
        .map(|n| {
            phonenumber::format(&n)
                .mode(phonenumber::Mode::International)
                .to_string()
        });
    phone_regexes::used();
    shown
}

/// Written like a phone number: digits and separators only, 7-15 digits.
fn plausible_phone(raw: &str) -> bool {
    let digits = raw.chars().filter(char::is_ascii_digit).count();
    !raw.is_empty()
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().\u{a0}/".contains(c))
        && (7..=15).contains(&digits)
}

/// Whether canonicalising `raw` may read a phone number, and so load
/// libphonenumber's metadata (a prefix such as `p:` or a JID's domain aside).
pub fn may_be_phone(raw: &str) -> bool {
    let raw = raw.trim();
    let value = raw.split_once(':').map_or(raw, |(_, v)| v);
    plausible_phone(value.split('@').next().unwrap_or(value).trim())
}

/// A raw address canonicalised on its first use, for what the daemon is handed
/// at start-up but needs only later (the owner's self-chat): the first phone
/// number canonicalised loads libphonenumber's metadata, ~100 ms of regex
/// parsing that would otherwise hold up `/healthz`. Clones share the result.
#[derive(Debug, Clone)]
pub struct Deferred {
    raw: Arc<str>,
    canon: Canonicalizer,
    handle: Arc<OnceLock<Handle>>,
}

impl Deferred {
    pub fn new(canon: Canonicalizer, raw: &str) -> Deferred {
        Deferred {
            raw: raw.into(),
            canon,
            handle: Arc::default(),
        }
    }

    pub fn get(&self) -> &Handle {
        self.handle
            .get_or_init(|| self.canon.canonicalize(&self.raw))
    }
}

/// Load libphonenumber's metadata now, on this thread (once per process; at
/// once after that). A reader calls it before an owner setup that runs on the
/// database writer and may canonicalise a phone number: loading it there
/// would hold every other write (another reader's setup at start) ~100 ms.
pub fn load_metadata() {
    static LOADED: std::sync::Once = std::sync::Once::new();
    LOADED.call_once(|| {
        let _ = phonenumber::parse(None, "+15125551234");
        release_free_pages();
        phone_regexes::used();
    });
}

/// `load_metadata` on a blocking thread, when one of `raw` may be a phone
/// number: for a reader's task, before its owner setup on the writer.
pub async fn load_metadata_for(raw: &[String]) {
    if raw.iter().any(|h| may_be_phone(h)) {
        let _ = tokio::task::spawn_blocking(load_metadata).await;
    }
}

/// Load libphonenumber's metadata on a thread of its own, once the daemon
/// answers, so the first message read after a start does not wait for it.
/// Whoever needs it first meanwhile waits for this load, not a second one.
pub fn warm_up() {
    let spawned = std::thread::Builder::new()
        .name("phone-metadata".into())
        .spawn(load_metadata);
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "no thread to load the phone metadata early; it loads on first use");
    }
}

/// Give the allocator's free pages back to the system. Loading the metadata
/// parses about a thousand regexes and frees the parse trees, in the arena of
/// whichever thread loaded it; glibc keeps such freed pages resident, and an
/// idle daemon's private memory has a 10 MB budget (issue 19).
pub(super) fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn email(raw: &str) -> Option<Handle> {
    let v = raw
        .trim()
        .trim_start_matches("mailto:")
        .trim_matches(|c| c == '<' || c == '>')
        .trim()
        .to_lowercase();
    let (user, domain) = v.split_once('@')?;
    if user.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || v.contains(char::is_whitespace)
    {
        return None;
    }
    Some(Handle::new(Kind::Email, &v))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_international_number_is_not_a_us_number() {
        let c = super::Canonicalizer::new("US");
        assert_eq!(
            c.canonicalize("919493678486").as_str(),
            "phone:+919493678486"
        );
        // A valid US number without + stays in the owner's region.
        assert_eq!(c.canonicalize("5125551234").as_str(), "phone:+15125551234");
        assert_eq!(c.canonicalize("15125551234").as_str(), "phone:+15125551234");
        assert_eq!(
            c.canonicalize("(512) 555-1234").as_str(),
            "phone:+15125551234"
        );
    }

    use super::*;

    #[test]
    fn table() {
        let c = Canonicalizer::new("US");
        for (raw, want) in [
            ("(512) 555-1234", "phone:+15125551234"),
            ("+1 512 555 1234", "phone:+15125551234"),
            ("512.555.1234", "phone:+15125551234"),
            ("15125551234", "phone:+15125551234"),
            ("15125551234@s.whatsapp.net", "phone:+15125551234"),
            ("15125551234:12@s.whatsapp.net", "phone:+15125551234"),
            ("p:+15125551234", "phone:+15125551234"),
            ("phone:+15125551234", "phone:+15125551234"),
            ("tel:+1-512-555-1234", "phone:+15125551234"),
            ("+44 20 7946 0958", "phone:+442079460958"),
            ("415.555.0199", "phone:+14155550199"),
            (" Ann@Example.COM ", "email:ann@example.com"),
            ("E:me@icloud.com", "email:me@icloud.com"),
            ("<bob@example.org>", "email:bob@example.org"),
            ("mailto:Bob@Example.org", "email:bob@example.org"),
            ("telegram:123456789", "telegram:123456789"),
            ("123456789@lid", "whatsapp:123456789@lid"),
            ("12036302@g.us", "whatsapp:12036302@g.us"),
            ("22395", "other:22395"),
            ("urn:biz:1234", "other:urn:biz:1234"),
            ("", "other:"),
            ("not an address", "other:not an address"),
            ("ann@", "other:ann@"),
        ] {
            assert_eq!(c.canonicalize(raw).as_str(), want, "{raw:?}");
        }
    }

    #[test]
    fn region_decides_national_numbers() {
        let gb = Canonicalizer::new("GB");
        assert_eq!(
            gb.canonicalize("020 7946 0958").as_str(),
            "phone:+442079460958"
        );
        // An unknown region still handles international numbers.
        let none = Canonicalizer::new("ZZ");
        assert_eq!(
            none.canonicalize("+1 512 555 1234").as_str(),
            "phone:+15125551234"
        );
    }

    #[test]
    fn a_deferred_handle_is_canonicalised_once_on_first_use() {
        let d = Deferred::new(Canonicalizer::new("US"), "(512) 555-1234");
        let copy = d.clone();
        assert!(d.handle.get().is_none(), "nothing happens at construction");
        assert_eq!(d.get().as_str(), "phone:+15125551234");
        assert!(std::ptr::eq(d.get(), copy.get()), "clones share one result");
    }

    #[test]
    fn phone_like_addresses_are_told_apart_without_the_metadata() {
        for raw in [
            "+1 (512) 555-1234",
            "p:+15125551234",
            "15125551234@s.whatsapp.net",
        ] {
            assert!(may_be_phone(raw), "{raw}");
        }
        for raw in [
            "email:me@example.com",
            "me@example.com",
            "22395",
            "urn:biz:1234",
            "",
        ] {
            assert!(!may_be_phone(raw), "{raw}");
        }
    }

    #[test]
    fn kinds_and_values() {
        let h = Canonicalizer::new("US").canonicalize("ann@example.com");
        assert_eq!((h.kind(), h.value()), (Kind::Email, "ann@example.com"));
    }
}
