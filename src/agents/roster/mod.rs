//! What each roster agent does in a run, deterministically (a model only adds
//! to it): the concierge, relationship-keeper and financial-sentinel nudge;
//! chief-of-staff sends the brief; ai-radar reads its feeds; nano agents act on
//! signals; agents that need a missing bridge say so.

pub mod life;
pub mod owner_loops;
pub mod radar;
pub mod tracker;
pub mod triage;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rusqlite::{Connection, OptionalExtension, params};

use super::nudge::{Hold, Nudge};
use crate::config::QuietHours;
use crate::owner_state;
use crate::spec::AgentSpec;

/// One moment in the owner's zone.
#[derive(Debug, Clone)]
pub struct Tick {
    pub now_ms: i64,
    pub tz: TimeZone,
    /// The owner's local midnight today.
    pub day_start_ms: i64,
    /// The bridges this daemon has (what a nudge may offer to send on).
    pub channels: Vec<&'static str>,
}

impl Tick {
    pub fn at(now: Timestamp, tz: &TimeZone) -> Tick {
        let z = now.to_zoned(tz.clone());
        let midnight = z
            .date()
            .to_zoned(tz.clone())
            .map(|m| m.timestamp().as_millisecond())
            .unwrap_or(0);
        Tick {
            now_ms: now.as_millisecond(),
            tz: tz.clone(),
            day_start_ms: midnight,
            channels: Vec::new(),
        }
    }

    /// With the bridges that can carry what a nudge offers.
    pub fn reaching(mut self, channels: Vec<&'static str>) -> Tick {
        self.channels = channels;
        self
    }

    pub fn zoned(&self) -> jiff::Zoned {
        Timestamp::from_millisecond(self.now_ms)
            .unwrap_or_default()
            .to_zoned(self.tz.clone())
    }
}

/// The deterministic part of one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Nudges(Vec<Nudge>),
    /// The morning brief text (a model summary may follow).
    Brief(String),
    /// Feeds to read (network, outside the store).
    Feeds(Vec<String>),
    /// Acts on signals, not on a schedule.
    SignalDriven,
    /// New mail to sort (each one its own model call).
    Triage(Vec<triage::Mail>),
    /// A domain tracker's mail to extract from (each one its own model call).
    Track(tracker::Pending),
    /// Cannot work here yet, and exactly why.
    Needs(String),
}

/// Agents whose behaviour is not built, with what they need.
pub fn needs(spec: &AgentSpec) -> Option<String> {
    if let Some(why) = &spec.disabled {
        return Some(why.clone());
    }
    match spec.role.as_str() {
        "domain-tracker" if spec.query.is_empty() || spec.domain.is_none() => Some(format!(
            "no query: add `domain: <view>` and `query: [words, …]` to <home>/agents/{}.yaml",
            spec.name
        )),
        "ai-radar" if spec.feeds.is_empty() => {
            Some("no feeds: add `feeds: [\"https://…\"]` to <home>/agents/ai-radar.yaml".into())
        }
        _ => None,
    }
}

/// Agents whose runs do their own deterministic work (others ask their model).
pub fn has_behaviour(spec: &AgentSpec) -> bool {
    spec.role == "domain-tracker"
        || matches!(
            spec.name.as_str(),
            "concierge"
                | "relationship-keeper"
                | "financial-sentinel"
                | "chief-of-staff"
                | "ai-radar"
                | "inbox-triage"
        )
}

pub fn cursor(conn: &Connection, agent: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row(
            "SELECT cursor FROM agent_state WHERE agent = ?1",
            [agent],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten()
        .unwrap_or(0))
}

pub fn set_cursor(conn: &Connection, agent: &str, cursor: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO agent_state (agent, cursor, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (agent) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        params![agent, cursor, Timestamp::now().to_string()],
    )?;
    Ok(())
}

/// Life events from messages since the extractor's cursor.
pub fn scan_life_events(conn: &Connection) -> rusqlite::Result<()> {
    let from = cursor(conn, "life-events")?;
    let to = life::scan(conn, from)?;
    if to != from {
        set_cursor(conn, "life-events", to)?;
    }
    Ok(())
}

pub fn work(conn: &Connection, spec: &AgentSpec, tick: &Tick) -> rusqlite::Result<Work> {
    if let Some(why) = needs(spec) {
        return Ok(Work::Needs(why));
    }
    Ok(match spec.name.as_str() {
        "concierge" => {
            let (nudges, cursor) = owner_loops::concierge(conn, tick, cursor(conn, &spec.name)?)?;
            set_cursor(conn, &spec.name, cursor)?;
            Work::Nudges(nudges)
        }
        "relationship-keeper" => Work::Nudges(owner_loops::relationship_keeper(conn, tick)?),
        "inbox-triage" => Work::Triage(triage::pending(
            conn,
            cursor(conn, &spec.name)?,
            tick.now_ms,
        )?),
        "financial-sentinel" => {
            scan_life_events(conn)?;
            Work::Nudges(owner_loops::financial_sentinel(conn, tick)?)
        }
        "chief-of-staff" => {
            let today = tick.zoned().date().to_string();
            Work::Brief(crate::commands::views::brief(
                conn,
                tick.now_ms,
                &today,
                true,
            )?)
        }
        "ai-radar" => Work::Feeds(spec.feeds.clone()),
        _ if spec.role == "domain-tracker" => Work::Track(tracker::pending(
            conn,
            &spec.query,
            cursor(conn, &spec.name)?,
            tick.now_ms,
        )?),
        _ => Work::SignalDriven,
    })
}

/// Why nudges should wait now: quiet hours, the global pause, or focus
/// (the owner's heads-down/sleep status, or a fresh Do Not Disturb signal).
pub fn hold(conn: &Connection, quiet: &QuietHours, tick: &Tick) -> rusqlite::Result<Option<Hold>> {
    if quiet.contains(tick.zoned().time()) {
        return Ok(Some(Hold::QuietHours));
    }
    if owner_state::global_pause(conn, tick.now_ms)?.is_some() {
        return Ok(Some(Hold::Paused));
    }
    let manual = owner_state::presence_now(conn, tick.now_ms)?;
    if manual
        .as_ref()
        .and_then(|p| p["state"].as_str())
        .is_some_and(|s| matches!(s, "focus" | "sleep"))
    {
        return Ok(Some(Hold::Focus));
    }
    let since = tick.now_ms - crate::signals::presence::FOCUS_FRESH_MS;
    let focus = crate::signals::signal::since(conn, since)?
        .into_iter()
        .map(|(_, _, s)| s)
        .filter(|s| s.kind == "focus")
        .max_by_key(|s| s.ts)
        .and_then(|s| s.detail.clone())
        .is_some_and(|d| {
            matches!(
                d.to_lowercase().as_str(),
                "dnd" | "busy" | "work" | "sleep" | "do not disturb"
            )
        });
    Ok(focus.then_some(Hold::Focus))
}
