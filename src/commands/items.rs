//! Numbered replies to the last list ("1 send", "2 no", "1 edit …", bare "2").
//! A list answers for 15 minutes; a number not on it gets a short answer.

use super::grammar::ItemAction;
use super::views;
use super::{CommandError, Owner, OwnerMessage};
use crate::assistant::{Assistant, AssistantError};
use crate::owner_state::{self, Key, ListItem};
use crate::pipeline::{Decision, PipelineError, RunStatus};

impl Owner {
    pub(super) async fn item(
        &self,
        n: usize,
        action: ItemAction,
        msg: &OwnerMessage,
    ) -> Result<String, CommandError> {
        let now = self.now().as_millisecond();
        let store = self.pipeline().store();
        // A list answers for 15 minutes, and a list of drafts for as long as one waits.
        let items = store
            .read(move |c| {
                if let Some(items) = owner_state::list(c, now)? {
                    return Ok(Some(items));
                }
                let stale: Option<Vec<ListItem>> = owner_state::get(c, Key::List)?
                    .and_then(|(v, _)| serde_json::from_value(v).ok());
                let pending: Vec<String> =
                    views::pending(c, now)?.into_iter().map(|p| p.id).collect();
                Ok(stale.filter(|items| {
                    items
                        .iter()
                        .any(|i| matches!(i, ListItem::Confirmation(id) if pending.contains(id)))
                }))
            })
            .await?;
        let Some(items) = items else {
            return Ok("🤷 no list is open; say approvals, runs, brief or news.".into());
        };
        let Some(item) = items.get(n.wrapping_sub(1)).cloned() else {
            return Ok(format!("no item {n}."));
        };
        match item {
            ListItem::Confirmation(id) => self.confirmation(n, &id, action, msg).await,
            ListItem::Commitment(id) => self.commitment(id, action).await,
            ListItem::News(id) => match action {
                ItemAction::Save | ItemAction::Default => {
                    let now = self.now().as_millisecond();
                    Ok(store
                        .write(move |c| Ok(views::save_news(c, id, now)?))
                        .await?)
                }
                _ => Ok(format!("reply \"save {n}\" to keep it on your readlist.")),
            },
            ListItem::Run(id) => {
                let key = self.pipeline().verifying_key();
                Ok(store
                    .read(move |c| Ok(views::receipt(c, &id, &key)?))
                    .await?)
            }
        }
    }

    /// A draft answered by its id (a Telegram button, or a reply to its
    /// "new text?" question): the same decision as "N send", "N edit …" or "N no".
    pub async fn answer_draft(
        &self,
        id: &str,
        action: ItemAction,
        msg: &OwnerMessage,
    ) -> Result<String, CommandError> {
        if !self.pipeline().is_owner(&msg.actor) {
            return Err(CommandError::NotOwner(msg.actor.to_string()));
        }
        let wanted = ListItem::Confirmation(id.to_string());
        // Its number, for a reply that names it ("reply 2 send …").
        let n = self
            .pipeline()
            .store()
            .read(move |c| {
                let items: Option<Vec<ListItem>> = owner_state::get(c, Key::List)?
                    .and_then(|(v, _)| serde_json::from_value(v).ok());
                Ok(items
                    .and_then(|items| items.iter().position(|i| *i == wanted))
                    .map_or(1, |i| i + 1))
            })
            .await?;
        self.confirmation(n, id, action, msg).await
    }

    async fn confirmation(
        &self,
        n: usize,
        id: &str,
        action: ItemAction,
        msg: &OwnerMessage,
    ) -> Result<String, CommandError> {
        let id_owned = id.to_string();
        let found = self
            .pipeline()
            .store()
            .read(move |c| {
                Ok(views::pending(c, owner_state::now_ms())?
                    .into_iter()
                    .find(|p| p.id == id_owned)
                    .map(|p| {
                        let name = views::display_name(c, &p.channel, &p.to);
                        (p, name)
                    }))
            })
            .await?;
        let Some((pending, name)) = found else {
            return Ok("that draft is no longer waiting (sent, dropped or expired).".into());
        };
        let (decision, text) = match action {
            ItemAction::Send => (Decision::Approved, None),
            ItemAction::Edit(t) => (Decision::Edited, Some(t)),
            ItemAction::No | ItemAction::Done => (Decision::Rejected, None),
            ItemAction::Default => {
                return Ok(format!(
                    "✍️ to {name}: \"{}\" — reply \"send\", \"edit …\" or \"no\" after its number.",
                    pending.text
                ));
            }
            ItemAction::Snooze(_) => {
                return Ok(format!(
                    "drafts can't be snoozed: this one expires at {} and is then never sent.",
                    pending
                        .expires_at
                        .parse::<jiff::Timestamp>()
                        .map(|t| views::local_time(t.as_millisecond(), &self.tz()))
                        .unwrap_or_default()
                ));
            }
            ItemAction::Other(_) | ItemAction::Draft | ItemAction::Save => {
                return Ok("reply \"1 send\", \"1 edit <text>\" or \"1 no\".".into());
            }
        };
        match self.pipeline().decide(id, decision, text, &msg.actor).await {
            Ok(out) => Ok(match (decision, out.status) {
                (Decision::Rejected, _) => format!("👍 dropped — nothing sent to {name}."),
                (_, RunStatus::Succeeded) => format!("✅ sent to {name}."),
                // A held repeat: the draft waits again for the owner's answer.
                (_, RunStatus::Waiting) => format!(
                    "⏸ not sent to {name} yet: {} — reply \"{n} send\" to send it again anyway, \"{n} no\" to drop it.",
                    out.reason.unwrap_or_else(|| "it is waiting".into())
                ),
                (_, status) => format!(
                    "⚠️ not sent to {name}: the run is {}{}",
                    status.as_str(),
                    out.reason.map(|r| format!(" ({r})")).unwrap_or_default()
                ),
            }),
            Err(
                e @ (PipelineError::KillSwitch
                | PipelineError::Expired(_)
                | PipelineError::AlreadyDecided { .. }
                | PipelineError::BadEdit),
            ) => Ok(format!("⚠️ {e}")),
            Err(e) => Err(e.into()),
        }
    }

    /// A check-in draft to the person a commitment is about.
    async fn outreach(&self, id: i64) -> Result<String, CommandError> {
        let person: Option<String> = self
            .pipeline()
            .store()
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT person_id FROM commitments WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .ok()
                .flatten())
            })
            .await?;
        let Some(person) = person else {
            return Ok("🤷 that one is not about a person; nothing to draft.".into());
        };
        let assistant = Assistant::new(self.clone(), crate::config::QuietHours::default());
        match assistant.outreach(&person).await {
            Ok(text) => Ok(text),
            Err(AssistantError::Pipeline(e)) => Err(e.into()),
            Err(AssistantError::Store(e)) => Err(e.into()),
        }
    }

    async fn commitment(&self, id: i64, action: ItemAction) -> Result<String, CommandError> {
        let now = self.now().as_millisecond();
        let tz = self.tz();
        let snooze_ms = |span: Option<super::duration::Span>| match span {
            Some(s) => s
                .resolve(
                    &jiff::Timestamp::from_millisecond(now)
                        .unwrap_or_default()
                        .to_zoned(tz.clone()),
                )
                .as_millisecond(),
            None => now + 3 * 3_600_000,
        };
        let (status, next) = match action {
            ItemAction::Send | ItemAction::Done | ItemAction::Default => ("done", None),
            ItemAction::No => ("dismissed", None),
            ItemAction::Snooze(span) => ("snoozed", Some(snooze_ms(span))),
            ItemAction::Draft => return self.outreach(id).await,
            ItemAction::Edit(_) | ItemAction::Other(_) | ItemAction::Save => {
                return Ok("reply \"done\", \"snooze [2h]\" or \"no\" after its number.".into());
            }
        };
        let title: Option<String> = self
            .pipeline()
            .store()
            .write(move |c| {
                c.execute(
                    "UPDATE commitments SET status = ?2, next_nudge_ms = COALESCE(?3, next_nudge_ms),
                            closed_ms = CASE WHEN ?2 IN ('done', 'dismissed') THEN ?4 END WHERE id = ?1",
                    rusqlite::params![id, status, next, now],
                )?;
                Ok(c.query_row("SELECT title FROM commitments WHERE id = ?1", [id], |r| r.get(0))
                    .ok())
            })
            .await?;
        let title = title.unwrap_or_default();
        Ok(match (status, next) {
            ("done", _) => format!("✅ done: {title}"),
            ("dismissed", _) => format!("👍 dropped: {title}"),
            (_, Some(at)) => format!("😴 snoozed until {}: {title}", views::local_time(at, &tz)),
            _ => title,
        })
    }
}
