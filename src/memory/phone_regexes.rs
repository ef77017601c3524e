//! libphonenumber's compiled regexes, given back once phone numbers stop
//! arriving.
//!
//! The `phonenumber` crate compiles each metadata pattern it matches on first
//! use and keeps it in one process-wide LRU of 100 regexes. A compiled pattern
//! is ~90 KiB (lazy DFA and all), so numbers from a few dozen countries (an
//! address book, a WhatsApp group) filled it to ~9.5 MiB of heap, held for the
//! life of the daemon, whose idle private memory has a 10 MB budget (issue 19).
//! US numbers alone left ~0.6 MiB. The metadata itself (~2.6 MiB of pattern
//! text) stays: it is parsed once and has no way to be dropped.
//!
//! So: whoever asks libphonenumber something calls [`used`]. The first call of
//! a burst starts a thread that waits until no number has been asked about for
//! [`IDLE`], then empties the cache and returns the freed pages. Within a
//! burst the cache keeps working; recompiling after an idle spell costs ~2 ms
//! per country, once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long without a phone number before the compiled regexes go.
pub const IDLE: Duration = Duration::from_secs(5);

struct State {
    last_use: Instant,
    /// A thread is waiting to empty the cache.
    waiting: bool,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Note a use of libphonenumber; after [`IDLE`] without one, its compiled
/// regexes are dropped.
pub fn used() {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let start = !state.as_ref().is_some_and(|s| s.waiting);
    *state = Some(State {
        last_use: Instant::now(),
        waiting: true,
    });
    drop(state);
    if start {
        let spawned = std::thread::Builder::new()
            .name("phone-regexes".into())
            .spawn(wait_then_drop);
        if spawned.is_err() {
            // No thread to spare: the cache stays as it is, bounded at 100.
            if let Some(s) = STATE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                s.waiting = false;
            }
        }
    }
}

/// How many compiled regexes libphonenumber holds now.
pub fn compiled() -> usize {
    let cache = phonenumber::metadata::DATABASE.cache();
    cache.lock().unwrap_or_else(|e| e.into_inner()).len()
}

fn wait_then_drop() {
    let mut wait = IDLE;
    loop {
        std::thread::sleep(wait);
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = state.as_mut() else { return };
        let idle = s.last_use.elapsed();
        if idle < IDLE {
            wait = IDLE - idle;
            continue;
        }
        // Still under the lock: a use from now on starts a new thread.
        s.waiting = false;
        drop(state);
        drop_compiled();
        return;
    }
}

fn drop_compiled() {
    let cache = phonenumber::metadata::DATABASE.cache();
    cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    super::handle::release_free_pages();
}
