//! Commands that only show something: ping, status, budget, a receipt.

use super::{CommandError, Owner, views};
use crate::owner_state;

impl Owner {
    pub(super) fn ping(&self) -> String {
        format!(
            "🏓 pong — up {}, bridges: {}",
            views::human_duration(self.started().elapsed().as_millis() as i64),
            self.pipeline().channels().join(", ")
        )
    }

    /// The receipt of the `n`th run in the owner's list.
    pub(super) async fn receipt(&self, n: usize, now: i64) -> Result<String, CommandError> {
        let key = self.pipeline().verifying_key();
        self.read_text(move |c| {
            Ok(match views::nth_run(c, n, now)? {
                Some(id) => views::receipt(c, &id, &key)?,
                None => format!("no run {n}; say runs for the list."),
            })
        })
        .await
    }

    pub(super) async fn status(&self, now: i64) -> Result<String, CommandError> {
        let tz = self.tz();
        let today = self.pipeline().today();
        let channels = self.pipeline().channels().join(", ");
        let uptime = views::human_duration(self.started().elapsed().as_millis() as i64);
        let cap = self.pipeline().settings().global_cap.dollars();
        Ok(self
            .pipeline()
            .store()
            .read(move |c| {
                let kill = owner_state::kill_switch(c)?;
                let pause = match owner_state::global_pause(c, now)? {
                    Some(Some(u)) => format!("paused until {}", views::local_time(u, &tz)),
                    Some(None) => "paused".into(),
                    None => "active".into(),
                };
                let paused = owner_state::paused_contacts(c, now)?.len();
                let pending = views::pending(c, now)?.len();
                let spent = crate::pipeline::budget::usage(c, crate::pipeline::budget::GLOBAL, &today)?;
                let presence = owner_state::presence_now(c, now)?
                    .and_then(|p| p["text"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "none".into());
                let feeds: String = views::failing(c)?
                    .into_iter()
                    .map(|(url, n, e)| format!("\nfeed failing ({n}×): {url}: {e}"))
                    .collect();
                Ok(format!(
                    "📊 {}{pause} · up {uptime}\nbridges: {channels}\npaused contacts: {paused} · drafts waiting: {pending}\nspent today: ${:.4} of ${cap:.2}\nstatus: {presence}{feeds}",
                    if kill { "🛑 KILL SWITCH ON · " } else { "" },
                    spent.spent as f64 / 1e6,
                ))
            })
            .await?)
    }

    pub(super) async fn budget(&self) -> Result<String, CommandError> {
        let today = self.pipeline().today();
        let cap = self.pipeline().settings().global_cap;
        let roster = self.pipeline().roster().clone();
        Ok(self
            .pipeline()
            .store()
            .read(move |c| {
                let specs: Vec<_> = roster.specs.values().collect();
                let report = crate::pipeline::budget::report(c, &specs, cap, &today)?;
                let mut out = String::new();
                for r in report.iter().filter(|r| r.scope == "global" || r.runs > 0) {
                    out.push_str(&format!(
                        "💸 {}: ${:.4} of ${:.2} · {} runs\n",
                        r.scope, r.spent_usd, r.max_cost_usd_per_day, r.runs
                    ));
                }
                Ok(out.trim_end().to_string())
            })
            .await?)
    }
}
