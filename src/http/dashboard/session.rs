//! Dashboard sessions: who may read the pages and whose POSTs count.
//!
//! A session starts from the api-token typed into the login form, or from a
//! one-time link `steward dashboard` asks for (consumed on first use). The
//! session id travels only in an HttpOnly, SameSite=Strict cookie; every form
//! carries the session's CSRF token, compared in constant time. Sessions live
//! in memory: a restarted daemon asks for the token again, which is the point
//! of a short-lived browser login on the owner's own machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::keys;

/// The session cookie's name.
pub const COOKIE: &str = "steward_session";
/// The login form's own CSRF cookie (double submit: there is no session yet).
pub const LOGIN_COOKIE: &str = "steward_login";
/// The form field every POST carries.
pub const CSRF_FIELD: &str = "csrf";

/// How long a session lasts after login, whatever it does.
const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a one-time link waits for its first use.
const LINK_TTL: Duration = Duration::from_secs(10 * 60);
/// At most this many live sessions; the oldest goes first (a loop of logins
/// cannot grow memory without bound).
const MAX_SESSIONS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the system's random source failed ({0}); try again")]
    Random(String),
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
    started: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    links: HashMap<String, Instant>,
}

/// The live sessions and unused one-time links, shared by every handler.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<Inner>>,
}

/// 32 random bytes as hex: session ids, CSRF tokens and link tokens.
pub fn random_token() -> Result<String, SessionError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| SessionError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps behind: still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session; returns its id (the cookie's value).
    pub fn start(&self) -> Result<String, SessionError> {
        let id = random_token()?;
        let session = Session {
            csrf: random_token()?,
            started: Instant::now(),
        };
        let mut inner = self.lock();
        inner
            .sessions
            .retain(|_, s| s.started.elapsed() < SESSION_TTL);
        while inner.sessions.len() >= MAX_SESSIONS {
            let oldest = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => inner.sessions.remove(&k),
                None => break,
            };
        }
        inner.sessions.insert(id.clone(), session);
        Ok(id)
    }

    /// The live session with this id, if any.
    pub fn get(&self, id: &str) -> Option<Session> {
        let inner = self.lock();
        // Compare every key in constant time: the id is the credential.
        inner
            .sessions
            .iter()
            .find(|(k, _)| keys::constant_time_eq(k.as_bytes(), id.as_bytes()))
            .map(|(_, s)| s)
            .filter(|s| s.started.elapsed() < SESSION_TTL)
            .cloned()
    }

    pub fn end(&self, id: &str) {
        self.lock().sessions.remove(id);
    }

    /// A one-time login link's token (what `steward dashboard` prints).
    pub fn new_link(&self) -> Result<String, SessionError> {
        let token = random_token()?;
        let mut inner = self.lock();
        inner.links.retain(|_, at| at.elapsed() < LINK_TTL);
        inner.links.insert(token.clone(), Instant::now());
        Ok(token)
    }

    /// Use a link token: true once, for a token issued less than ten minutes ago.
    pub fn consume_link(&self, token: &str) -> bool {
        let mut inner = self.lock();
        let found = inner
            .links
            .keys()
            .find(|k| keys::constant_time_eq(k.as_bytes(), token.as_bytes()))
            .cloned();
        match found.and_then(|k| inner.links.remove(&k)) {
            Some(at) => at.elapsed() < LINK_TTL,
            None => false,
        }
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The `Set-Cookie` value for a session (or login) cookie: never readable by
/// scripts, never sent by another site's request.
pub fn set_cookie(name: &str, value: &str) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that deletes cookie `name`.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_logs_in_once() {
        let s = Sessions::default();
        let t = s.new_link().unwrap();
        assert!(s.consume_link(&t));
        assert!(!s.consume_link(&t));
        assert!(!s.consume_link("nope"));
    }

    #[test]
    fn sessions_are_found_by_id_and_ended() {
        let s = Sessions::default();
        let id = s.start().unwrap();
        assert_eq!(s.get(&id).unwrap().csrf.len(), 64);
        assert!(s.get("other").is_none());
        s.end(&id);
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn sessions_are_capped() {
        let s = Sessions::default();
        let first = s.start().unwrap();
        for _ in 0..MAX_SESSIONS {
            s.start().unwrap();
        }
        assert!(s.get(&first).is_none());
        assert_eq!(s.lock().sessions.len(), MAX_SESSIONS);
    }

    #[test]
    fn cookies_are_read_by_name() {
        let h = "a=1; steward_session=abc; b=2";
        assert_eq!(cookie(h, COOKIE), Some("abc"));
        assert_eq!(cookie(h, "c"), None);
        assert!(set_cookie(COOKIE, "x").contains("HttpOnly; SameSite=Strict"));
    }
}
