//! Commands that flip the owner's switches: pause and resume (everything, or
//! all paused contacts), the kill switch, the manual presence.

use super::{CommandError, Owner, views};
use crate::owner_state::{self, Key};

impl Owner {
    /// Pause drafts and nudges, until `until_ms` or until told to resume.
    pub(super) async fn pause(
        &self,
        until_ms: Option<i64>,
        tz: &jiff::tz::TimeZone,
    ) -> Result<String, CommandError> {
        self.pipeline()
            .store()
            .write(move |c| Ok(owner_state::set_global_pause(c, until_ms)?))
            .await?;
        Ok(match until_ms {
            Some(u) => format!(
                "⏸ paused until {}: no drafts, no nudges; I'll auto-resume.",
                views::local_time(u, tz)
            ),
            None => "⏸ paused: no drafts, no nudges; say *resume* when ready.".into(),
        })
    }

    pub(super) async fn resume(&self) -> Result<String, CommandError> {
        let was = self
            .pipeline()
            .store()
            .write(|c| Ok(owner_state::clear(c, Key::Pause)?))
            .await?;
        Ok(if was {
            "▶️ resumed.".into()
        } else {
            "▶️ I wasn't paused.".into()
        })
    }

    pub(super) async fn resume_all(&self) -> Result<String, CommandError> {
        let n = self
            .pipeline()
            .store()
            .write(|c| Ok(owner_state::resume_all(c)?))
            .await?;
        Ok(format!(
            "▶️ resumed {n} paused contact{}.",
            if n == 1 { "" } else { "s" }
        ))
    }

    pub(super) async fn kill_switch(&self, on: bool) -> Result<String, CommandError> {
        self.pipeline()
            .store()
            .write(move |c| Ok(owner_state::set_kill_switch(c, on)?))
            .await?;
        Ok(if on {
            "🛑 kill switch ON: nothing acts and nothing is sent until you say \"kill switch off\"."
                .into()
        } else {
            "✅ kill switch off: back to normal.".into()
        })
    }

    pub(super) async fn presence_off(&self) -> Result<String, CommandError> {
        self.pipeline()
            .store()
            .write(|c| Ok(owner_state::clear(c, Key::Presence)?))
            .await?;
        Ok("👋 welcome back; status cleared.".into())
    }
}
