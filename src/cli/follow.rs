//! Seeing what the daemon does: `steward logs [-f] [--json]` (the log file),
//! `steward activity [-f] [--json]` (runs as they finish) and `steward outbox
//! [-f] [--json]` (what Steward said to the owner on the console).
//!
//! Each reads what the daemon already writes; `-f` keeps reading until
//! interrupted, polling (a few reads a second of one small file or query).

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::bridges::console::{self, Delivery};
use crate::home::Home;
use crate::store;

/// How often `-f` looks for more.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep printing new lines as they come, until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Print JSON lines (the stored form) instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many of the latest to show first.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub lines: usize,
}

/// The daemon's log: `<home>/logs/steward.YYYY-MM-DD.log`, the newest first.
pub fn log_path(home: &Home) -> Option<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(home.logs_dir())
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("steward.") && n.ends_with(".log"))
        })
        .collect();
    // The date in the name sorts as text.
    logs.sort();
    logs.pop()
}

/// Where the console outbox is (what `say`, nudges and the brief wrote).
pub fn outbox_path(home: &Home) -> PathBuf {
    console::ConsoleBridge::new(home.root())
        .outbox_path()
        .to_path_buf()
}

pub fn logs(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let Some(mut path) = log_path(home) else {
        outln!(
            "No log yet in {}: the daemon writes one once it runs (`steward up`).",
            home.logs_dir().display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let json = args.json;
    let mut tail = Tail::open(&path, args.lines)?;
    loop {
        for line in tail.read_new()? {
            if json {
                outln!("{line}");
            } else {
                outln!("{}", human_log_line(&line));
            }
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(POLL);
        // A new day's file: finish nothing (the old one is complete), read the new one.
        if let Some(newest) = log_path(home)
            && newest != path
        {
            path = newest;
            tail = Tail::open(&path, usize::MAX)?;
        }
    }
}

pub fn outbox(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let path = outbox_path(home);
    if !path.exists() && !args.follow {
        outln!(
            "Nothing in the console outbox yet ({}): nudges, the brief and replies to the owner land here when the console is the owner's channel.",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut tail = Tail::open(&path, args.lines)?;
    loop {
        for line in tail.read_new()? {
            if args.json {
                outln!("{line}");
            } else if let Ok(d) = serde_json::from_str::<Delivery>(&line) {
                outln!("{}  to {}  {}", local_time(&d.at), d.to, d.text);
            }
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(POLL);
    }
}

/// One finished run, as `activity` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub id: String,
    pub agent: String,
    pub trigger: String,
    pub status: String,
    pub cost_usd: f64,
    pub reason: Option<String>,
    pub finished_at: String,
}

pub fn activity(home: &Home, args: Args) -> anyhow::Result<ExitCode> {
    let conn = store::open_readonly(&home.db_path())?;
    // The latest `lines` first, oldest of them first, then whatever finishes after.
    let mut shown = latest_finished(&conn, args.lines)?;
    shown.reverse();
    if shown.is_empty() && !args.follow {
        outln!("No runs have finished yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut after = (String::new(), String::new());
    loop {
        for a in &shown {
            if args.json {
                outln!("{}", serde_json::to_string(a)?);
            } else {
                outln!("{}", human_activity(a));
            }
            after = (a.finished_at.clone(), a.id.clone());
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(POLL);
        shown = finished_after(&conn, &after)?;
    }
}

fn human_activity(a: &Activity) -> String {
    let reason = a
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "{}  {} ({}) {} ${:.4}{reason}",
        local_time(&a.finished_at),
        a.agent,
        a.trigger,
        a.status,
        a.cost_usd
    )
}

const ACTIVITY_COLUMNS: &str = "id, agent, trigger, status, cost_micros, reason, finished_at";

fn activity_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Activity> {
    Ok(Activity {
        id: r.get(0)?,
        agent: r.get(1)?,
        trigger: r.get(2)?,
        status: r.get(3)?,
        cost_usd: r.get::<_, i64>(4)? as f64 / 1_000_000.0,
        reason: r.get(5)?,
        finished_at: r.get(6)?,
    })
}

fn latest_finished(conn: &rusqlite::Connection, n: usize) -> anyhow::Result<Vec<Activity>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ACTIVITY_COLUMNS} FROM runs WHERE finished_at IS NOT NULL
         ORDER BY finished_at DESC, id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([n.min(i64::MAX as usize) as i64], activity_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn finished_after(
    conn: &rusqlite::Connection,
    (at, id): &(String, String),
) -> anyhow::Result<Vec<Activity>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ACTIVITY_COLUMNS} FROM runs
         WHERE finished_at IS NOT NULL AND (finished_at > ?1 OR (finished_at = ?1 AND id > ?2))
         ORDER BY finished_at, id"
    ))?;
    let rows = stmt.query_map([at, id], activity_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An RFC 3339 instant in this machine's zone, to the second (the log and
/// lists read without a home's config use it).
pub fn local_time(rfc3339: &str) -> String {
    super::local_time(rfc3339, &jiff::tz::TimeZone::system())
}

/// A JSON log line (tracing's format) as one readable line: time, level, the
/// message, then the fields as key=value.
pub fn human_log_line(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return line.to_string();
    };
    let time = v["timestamp"].as_str().map(local_time).unwrap_or_default();
    let level = v["level"].as_str().unwrap_or("");
    let mut out = format!("{time} {level:>5}");
    if let Some(fields) = v["fields"].as_object() {
        if let Some(m) = fields.get("message").and_then(Value::as_str) {
            out.push(' ');
            out.push_str(m);
        }
        for (k, val) in fields.iter().filter(|(k, _)| *k != "message") {
            match val {
                Value::String(s) => out.push_str(&format!(" {k}={s}")),
                other => out.push_str(&format!(" {k}={other}")),
            }
        }
    }
    out
}

/// Reads the complete lines appended to a file since the last read.
struct Tail {
    path: PathBuf,
    offset: u64,
    /// Lines to skip from the first read (only the last `keep` are shown).
    keep: usize,
}

impl Tail {
    fn open(path: &Path, keep: usize) -> anyhow::Result<Tail> {
        Ok(Tail {
            path: path.to_path_buf(),
            offset: 0,
            keep,
        })
    }

    fn read_new(&mut self) -> anyhow::Result<Vec<String>> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", self.path.display())),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            self.offset = 0; // replaced or truncated: start over
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        file.take(len - self.offset).read_to_end(&mut bytes)?;
        // Only whole lines: a line being written is read next time.
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.offset += complete as u64;
        let mut lines: Vec<String> = bytes[..complete]
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.trim().is_empty())
            .collect();
        if lines.len() > self.keep {
            lines.drain(..lines.len() - self.keep);
        }
        self.keep = usize::MAX;
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_reads_as_one_line_of_text() {
        let line = r#"{"timestamp":"2026-01-02T03:04:05.678Z","level":"INFO","fields":{"message":"run finished","agent":"concierge","costUsd":0.5},"target":"steward"}"#;
        let text = human_log_line(line);
        assert!(
            text.contains(" INFO run finished agent=concierge costUsd=0.5"),
            "{text}"
        );
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn tail_reads_only_whole_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "a\nb\nc\npart").unwrap();
        let mut t = Tail::open(&path, 2).unwrap();
        assert_eq!(t.read_new().unwrap(), ["b", "c"]);
        assert!(t.read_new().unwrap().is_empty());
        std::fs::write(&path, "a\nb\nc\npartial\nd\n").unwrap();
        assert_eq!(t.read_new().unwrap(), ["partial", "d"]);
    }
}
