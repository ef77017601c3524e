//! What time it is. Product code that decides by "today", "this week" or "due"
//! asks a `Clock` instead of the wall clock, so tests pin time instead of
//! depending on the calendar (issue: a test that aged out a week after it landed).

use jiff::Timestamp;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// `base` plus the tokio time elapsed since creation (paused time in tests).
pub struct TokioClock {
    base: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn new(base: Timestamp) -> Self {
        TokioClock {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let d = jiff::SignedDuration::try_from(self.start.elapsed()).unwrap_or_default();
        self.base.checked_add(d).unwrap_or(self.base)
    }
}

/// A clock that stands still at one instant (tests and replays).
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}
