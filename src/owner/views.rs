//! What the owner reads in self-chat: help, status, budget, approvals, runs, a
//! receipt, the brief. All deterministic, all from the store.

use rusqlite::{Connection, OptionalExtension, params};

use crate::owner_state::{self, ListItem};
use crate::pipeline::{confirm, runs};

pub const HELP: &str = "Steward commands:
• ping · status · budget · brief (or today, ?) · runs · receipt <n> · profile
• pause / mute [for 2h | until 9am | tonight] · resume · pause Ann [for 1h] · resume Ann · resume all · what's paused
• kill switch on (panic, emergency stop) · kill switch off
• approvals: numbered drafts; reply 1 send · 1 edit <text> · 1 no · on a 💬 nudge, 1 draft
• I'm at the gym [for 1h] · heads down · driving · going to bed · I'm back
• remember Ann's birthday is 1990-04-02 · +15125551234 is Manasa · remind me to call the bank
• don't tell Ravi where I am · you can tell Ravi where I am
• news [today | week | <source>] · save N (to your readlist) · readlist · monitor <group> · unmonitor <group>
• vehicle · home · health · travel · career · money: what your mail trackers kept
• what did Ann say · catch me up on Ann
Anything else goes to your chief of staff (a long answer is cut; reply more for the rest). Start with \"steward\" to force a command.";

/// "2h 5m", "12m", "40s".
pub fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => match (s / 60) % 60 {
            0 => format!("{}h", s / 3600),
            m => format!("{}h {m}m", s / 3600),
        },
        _ => format!("{}d", s / 86_400),
    }
}

/// "15:04" (today) or "Tue 09:00" in the owner's zone.
pub fn local_time(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    let Ok(t) = jiff::Timestamp::from_millisecond(ms) else {
        return "later".into();
    };
    let z = t.to_zoned(tz.clone());
    let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
    if z.date() == today {
        z.strftime("%H:%M").to_string()
    } else {
        z.strftime("%a %H:%M").to_string()
    }
}

/// A contact's name for the owner: memory's name for the handle or 1:1 chat,
/// else what was given.
pub fn display_name(conn: &Connection, channel: &str, to: &str) -> String {
    let by_handle = conn
        .query_row(
            "SELECT p.name FROM handles h JOIN people p ON p.id = h.person_id
             WHERE (h.handle = ?1 OR h.handle LIKE '%:' || ?1) AND p.name IS NOT NULL LIMIT 1",
            [to],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .ok()
        .flatten();
    let by_chat = || {
        // A group by its name; a 1:1 chat by the other person's.
        conn.query_row(
            "SELECT CASE WHEN c.kind = 'group' THEN COALESCE(c.name, c.external_id) ELSE p.name END
             FROM chats c LEFT JOIN chat_members m ON m.chat_id = c.id
             LEFT JOIN people p ON p.id = m.person_id AND p.is_owner = 0
             WHERE c.external_id = ?1 AND (?2 = '' OR c.channel = ?2 OR ?2 = 'imessage')
             ORDER BY p.name IS NULL LIMIT 1",
            params![to, channel],
            |r| r.get::<_, Option<String>>(0),
        )
        .map(|n| n.unwrap_or_default())
        .optional()
        .ok()
        .flatten()
    };
    let named = |n: &String| !n.trim().is_empty();
    by_handle
        .filter(named)
        .or_else(|| by_chat().filter(named))
        .unwrap_or_else(|| formatted(to))
}

/// Someone memory has no name for, as the owner reads a number
/// ("+1 512-555-1234"); anything that is not a number as given.
fn formatted(to: &str) -> String {
    let raw = to.strip_prefix("phone:").unwrap_or(to);
    crate::memory::handle::international(raw).unwrap_or_else(|| raw.to_string())
}

pub fn pending(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<confirm::Pending>> {
    Ok(confirm::list_pending(conn)?
        .into_iter()
        .filter(|p| {
            p.expires_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|t| t.as_millisecond() > now_ms)
        })
        .collect())
}

/// The numbered approvals list; records it so "1 send" means this first item.
pub fn approvals(conn: &Connection, now_ms: i64) -> rusqlite::Result<String> {
    let pending = pending(conn, now_ms)?;
    if pending.is_empty() {
        return Ok("✅ nothing waits for your yes.".into());
    }
    let items: Vec<ListItem> = pending
        .iter()
        .map(|p| ListItem::Confirmation(p.id.clone()))
        .collect();
    owner_state::set_list(conn, &items)?;
    let mut out = String::new();
    for (i, p) in pending.iter().enumerate() {
        let name = display_name(conn, &p.channel, &p.to);
        let left = p
            .expires_at
            .parse::<jiff::Timestamp>()
            .map(|t| human_duration(t.as_millisecond() - now_ms))
            .unwrap_or_default();
        out.push_str(&format!(
            "✍️ {} · {name}: draft \"{}\" ({left} left)\n",
            i + 1,
            p.text
        ));
    }
    out.push_str("reply \"1 send\", \"1 edit …\", \"1 no\"");
    Ok(out)
}

/// The brief's numbered part: drafts waiting for a yes, then open commitments.
fn brief_items(conn: &Connection, now_ms: i64) -> rusqlite::Result<(String, Vec<ListItem>)> {
    let mut out = String::new();
    let mut items = Vec::new();
    let pending = pending(conn, now_ms)?;
    if pending.is_empty() {
        out.push_str("• no drafts waiting for your yes\n");
    } else {
        out.push_str("• drafts waiting for your yes:\n");
        for p in pending.iter().take(5) {
            items.push(ListItem::Confirmation(p.id.clone()));
            let name = display_name(conn, &p.channel, &p.to);
            let draft: String = p.text.chars().take(60).collect();
            out.push_str(&format!("  ✍️ {} · {name}: \"{draft}\"\n", items.len()));
        }
    }
    let open = open_commitments(conn, 5)?;
    if open.is_empty() {
        out.push_str("• no open commitments\n");
    } else {
        out.push_str("• open:\n");
        for (id, title) in &open {
            items.push(ListItem::Commitment(*id));
            out.push_str(&format!("  📌 {} · {title}\n", items.len()));
        }
    }
    let drafts = pending.len().min(5);
    let hint = match (drafts, open.len()) {
        (0, 0) => None,
        (_, 0) => Some("reply \"N send\", \"N edit …\" or \"N no\"".to_string()),
        (0, _) => Some("reply \"N done\" or \"N snooze\"".to_string()),
        (d, _) => Some(format!(
            "reply \"1 send\" for a draft, \"{n} done\" or \"{n} snooze\" for a commitment",
            n = d + 1
        )),
    };
    if let Some(h) = hint {
        out.push_str(&format!("  ({h})\n"));
    }
    Ok((out, items))
}

/// The last runs, numbered for `receipt <n>`.
pub fn runs(conn: &Connection, now_ms: i64) -> rusqlite::Result<String> {
    // The self-chat's own replies would crowd out the work the owner asks about.
    let list: Vec<_> = runs::list(conn, None, 40)?
        .into_iter()
        .filter(|r| r.agent != crate::spec::SELF_CHAT_AGENT)
        .take(8)
        .collect();
    if list.is_empty() {
        return Ok("no runs yet.".into());
    }
    let items: Vec<ListItem> = list.iter().map(|r| ListItem::Run(r.id.clone())).collect();
    owner_state::set_list(conn, &items)?;
    let mut out = String::new();
    for (i, r) in list.iter().enumerate() {
        let ago = r
            .started_at
            .parse::<jiff::Timestamp>()
            .map(|t| human_duration(now_ms - t.as_millisecond()))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} · {} {} ${:.4} · {ago} ago\n",
            i + 1,
            r.agent,
            r.status.as_str(),
            r.cost_usd
        ));
    }
    out.push_str("reply \"receipt 1\" for a receipt");
    Ok(out.trim_end().to_string())
}

/// The run `receipt <n>` means: from the last runs list if fresh, else the n-th newest.
pub fn nth_run(conn: &Connection, n: usize, now_ms: i64) -> rusqlite::Result<Option<String>> {
    if let Some(items) = owner_state::list(conn, now_ms)? {
        let runs: Vec<&String> = items
            .iter()
            .filter_map(|i| match i {
                ListItem::Run(id) => Some(id),
                _ => None,
            })
            .collect();
        if !runs.is_empty() {
            return Ok(runs.get(n - 1).map(|s| s.to_string()));
        }
    }
    Ok(runs::list(conn, None, 200)?
        .into_iter()
        .filter(|r| r.agent != crate::spec::SELF_CHAT_AGENT)
        .nth(n - 1)
        .map(|r| r.id))
}

pub fn receipt(
    conn: &Connection,
    run_id: &str,
    key: &ed25519_dalek::VerifyingKey,
) -> rusqlite::Result<String> {
    let Some(r) = runs::receipt(conn, run_id)? else {
        return Ok(format!("{run_id} has no receipt yet (it has not ended)."));
    };
    let verdict = match crate::pipeline::verify::check(conn, key, run_id, &r)? {
        Ok(()) => "✅ verified".to_string(),
        Err(e) => format!("❌ does not verify: {e}"),
    };
    let p = &r.payload;
    let mut out = format!(
        "🧾 {} · {} · {} · ${} · {}",
        p["runId"].as_str().unwrap_or_default(),
        p["agentName"].as_str().unwrap_or_default(),
        p["status"].as_str().unwrap_or_default(),
        p["costUsd"],
        verdict
    );
    if let Some(model) = p["model"].as_str() {
        out.push_str(&format!(
            "\nmodel {model} ({}) · {} in / {} out",
            p["provider"].as_str().unwrap_or("?"),
            p["tokensIn"],
            p["tokensOut"]
        ));
    }
    if let Some(reason) = p["reason"].as_str() {
        out.push_str(&format!("\n{reason}"));
    }
    Ok(out)
}

/// Who is waiting on the owner: 1:1 chats whose last message is theirs and
/// older than an hour, longest wait first.
pub fn awaiting(
    conn: &Connection,
    now_ms: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(String, String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(p.name, m.handle, 'someone'), m.text, m.at_ms FROM chats c
         JOIN messages m ON m.id = (SELECT id FROM messages WHERE chat_id = c.id ORDER BY at_ms DESC, id DESC LIMIT 1)
         JOIN people p ON p.id = m.person_id
         WHERE c.kind = 'direct' AND m.direction = 'in' AND p.is_owner = 0 AND m.at_ms < ?1
         ORDER BY m.at_ms ASC LIMIT ?2",
    )?;
    stmt.query_map(params![now_ms - 3_600_000, limit], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?
    .collect()
}

pub fn open_commitments(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, title FROM commitments WHERE status IN ('open', 'snoozed')
         ORDER BY CASE urgency WHEN 'now' THEN 0 WHEN 'soon' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
                  created_ms LIMIT ?1",
    )?;
    stmt.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// The deterministic brief.
/// The brief. Drafts and open commitments are numbered in one list; with
/// `record` that list is what "1 send" / "2 done" answer next.
pub fn brief(
    conn: &Connection,
    now_ms: i64,
    today: &str,
    record: bool,
) -> rusqlite::Result<String> {
    let mut out = String::from("☀️ brief\n");
    let waiting = awaiting(conn, now_ms, 5)?;
    if waiting.is_empty() {
        out.push_str("• nobody is waiting on a reply\n");
    } else {
        out.push_str("• waiting on you:\n");
        for (name, text, at) in &waiting {
            let snippet: String = text.chars().take(60).collect();
            out.push_str(&format!(
                "  – {name} ({} ago): \"{snippet}\"\n",
                human_duration(now_ms - at)
            ));
        }
    }
    let (numbered, items) = brief_items(conn, now_ms)?;
    out.push_str(&numbered);
    if record && !items.is_empty() {
        owner_state::set_list(conn, &items)?;
    }
    let mut events = conn.prepare_cached(
        "SELECT kind, summary FROM life_events WHERE kind != 'bill' AND at_ms >= ?1 ORDER BY at_ms DESC LIMIT 3",
    )?;
    let events: Vec<(String, String)> = events
        .query_map([now_ms - 24 * 3_600_000], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (kind, summary) in &events {
        let icon = match kind.as_str() {
            "delivery" => "📦",
            "travel" => "✈️",
            _ => "📅",
        };
        out.push_str(&format!("• {icon} {summary}\n"));
    }
    let (n, ok, cost): (i64, i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(status = 'succeeded'), 0), COALESCE(SUM(cost_micros), 0)
         FROM runs WHERE day = ?1 AND agent != ?2",
        params![today, crate::spec::SELF_CHAT_AGENT],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    out.push_str(&format!(
        "• today: {n} runs, {ok} succeeded, ${:.4} spent",
        cost as f64 / 1e6
    ));
    Ok(out)
}

// The radar (`agents::roster::radar`) fills `feeds` and `news_items`; these
// are the owner's views of them, here so the commands need not import the agents.

/// Feeds in trouble, for `status`: (url, failures, last error).
pub fn failing(conn: &Connection) -> rusqlite::Result<Vec<(String, i64, String)>> {
    conn.prepare(
        "SELECT url, failures, COALESCE(last_error, '') FROM feeds WHERE failures > 0 ORDER BY url",
    )?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
    .collect()
}

/// `news [today|week|<source>]`.
pub fn news(conn: &Connection, filter: Option<&str>, now_ms: i64) -> rusqlite::Result<String> {
    let (since, source) = match filter.map(str::trim).filter(|f| !f.is_empty()) {
        None | Some("today") => (now_ms - 24 * 3600 * 1000, None),
        Some("week") => (now_ms - 7 * 24 * 3600 * 1000, None),
        Some(s) => (0, Some(s.to_lowercase())),
    };
    let mut stmt = conn.prepare(
        "SELECT id, title, url, source FROM news_items WHERE published_ms >= ?1
         AND (?2 IS NULL OR lower(source) LIKE '%' || ?2 || '%') ORDER BY published_ms DESC LIMIT 10",
    )?;
    let rows: Vec<(i64, String, String, String)> = stmt
        .query_map(params![since, source], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok(
            "📰 no news yet (ai-radar reads the feeds listed in agents/ai-radar.yaml).".into(),
        );
    }
    let items: Vec<ListItem> = rows.iter().map(|r| ListItem::News(r.0)).collect();
    owner_state::set_list(conn, &items)?;
    let mut out = String::from("📰 news\n");
    for (i, (_, title, url, source)) in rows.iter().enumerate() {
        out.push_str(&format!("{} · {title} ({source}) {url}\n", i + 1));
    }
    out.push_str("(\"save 2\" keeps one on your readlist)");
    Ok(out)
}

/// "save N" on the news list: the story goes on the readlist (once).
pub fn save_news(conn: &Connection, id: i64, now_ms: i64) -> rusqlite::Result<String> {
    let title: Option<String> = conn
        .query_row("SELECT title FROM news_items WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(title) = title else {
        return Ok("that story is gone from memory.".into());
    };
    let saved = conn.execute(
        "UPDATE news_items SET saved_ms = ?2 WHERE id = ?1 AND saved_ms IS NULL",
        params![id, now_ms],
    )?;
    Ok(if saved == 1 {
        format!("🔖 saved to your readlist: {title}")
    } else {
        format!("🔖 already on your readlist: {title}")
    })
}

/// The saved stories, newest saved first.
pub fn readlist(conn: &Connection) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(
        "SELECT title, url, source FROM news_items WHERE saved_ms IS NOT NULL
         ORDER BY saved_ms DESC LIMIT 20",
    )?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok("🔖 your readlist is empty: say news, then \"save 2\".".into());
    }
    let mut out = String::from("🔖 readlist\n");
    for (title, url, source) in &rows {
        out.push_str(&format!("• {title} ({source}) {url}\n"));
    }
    Ok(out.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_contact_without_a_name_is_shown_by_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_writer(&dir.path().join("s.db")).unwrap();
        conn.execute_batch(
            "INSERT INTO people (id, name, is_owner, created_at) VALUES ('p1', '', 0, 'now');
             INSERT INTO handles (handle, person_id, source, first_seen)
               VALUES ('phone:+15125551234', 'p1', 'test', 'now');",
        )
        .unwrap();
        let shown = super::display_name(&conn, "imessage", "+15125551234");
        assert_eq!(shown, "+1 512-555-1234");
        assert_eq!(super::display_name(&conn, "email", "a@b.c"), "a@b.c");
    }
}
