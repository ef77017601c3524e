//! An owner message that is not a command: the chief-of-staff agent answers it
//! with the owner profile and memory as context, through the pipeline (one run:
//! the model step, then a relay of its answer to the owner's chat). Without a
//! model the owner hears the refusal, with its fix. A long answer is relayed
//! cut to the channel's readable length (`pipeline::trim`); `more` sends the rest.

use super::{CHIEF_OF_STAFF, CommandError, Owner, OwnerMessage, Reply, views};
use crate::pipeline::{Effect, RunRequest, RunStatus, Trigger};
use crate::prompts::KeyValue;

/// People named in the message whose memory goes into the prompt.
const MAX_PEOPLE: usize = 3;

impl Owner {
    pub(super) async fn turn(&self, msg: &OwnerMessage, text: &str) -> Result<Reply, CommandError> {
        let prompt = self.turn_prompt(text).await?;
        let out = self
            .pipeline()
            .run(RunRequest {
                agent: CHIEF_OF_STAFF.into(),
                trigger: Trigger::Owner,
                actor: msg.actor.clone(),
                input: text.to_string(),
                dedup_key: None,
                plan: vec![
                    Effect::Ask {
                        prompt,
                        json: false,
                    },
                    Effect::Relay {
                        channel: msg.channel.clone(),
                    },
                ],
                forecast_usd: crate::spec::Usd(0),
            })
            .await?;
        if out.status == RunStatus::Succeeded {
            let id = out.run_id.clone();
            let reply = self
                .pipeline()
                .store()
                .read(move |c| Ok(crate::pipeline::runs::model_answer(c, &id, None)?))
                .await?
                .unwrap_or_default();
            // What the relay sent, not the whole answer.
            let reply = crate::pipeline::trim::for_channel(&msg.channel, &reply).shown;
            return Ok(Reply {
                reply,
                run_id: Some(out.run_id),
                kind: "turn".into(),
                failed: false,
            });
        }
        let reason = out
            .reason
            .unwrap_or_else(|| out.status.as_str().to_string());
        let text = match out.status {
            RunStatus::Refused => format!("🤖 I can't answer that yet: {reason}"),
            _ => format!("⚠️ the model did not answer ({reason}); nothing else was done."),
        };
        let run_id = self.tell(msg, &text).await?;
        Ok(Reply {
            reply: text,
            run_id,
            kind: "turn".into(),
            failed: true,
        })
    }

    /// The next piece of the last long answer, sized for `channel`.
    pub(super) async fn more(&self, channel: &str) -> Result<String, CommandError> {
        let max = crate::pipeline::trim::readable_chars(channel);
        Ok(self
            .pipeline()
            .store()
            .write(move |c| {
                let Some(rest) = crate::owner_state::more(c)? else {
                    return Ok("Nothing more: my last answer was complete.".to_string());
                };
                let next = crate::pipeline::trim::split(&rest, max);
                crate::owner_state::set_more(c, next.rest.as_deref())?;
                Ok(next.shown)
            })
            .await?)
    }

    async fn turn_prompt(&self, text: &str) -> Result<String, CommandError> {
        let profile = self.profile().get();
        let now = self.now().as_millisecond();
        let today = self.pipeline().today();
        let canon = self.canon().clone();
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
            .map(|w| w.trim_end_matches("'s").to_string())
            .collect();
        let (brief, people) = self
            .pipeline()
            .store()
            .read(move |c| {
                let brief = views::brief(c, now, &today, false)?;
                let mut people = Vec::new();
                for w in words {
                    if people.len() >= MAX_PEOPLE {
                        break;
                    }
                    if let Ok(id) = crate::memory::people::find(c, &w, &canon) {
                        let ctx = crate::memory::query::context(
                            c,
                            &id,
                            None,
                            None,
                            crate::memory::query::Caps {
                                other_channels: 5,
                                facts: 10,
                                ..Default::default()
                            },
                        )?;
                        people.push(serde_json::to_string(&ctx).unwrap_or_default());
                    }
                }
                Ok((brief, people))
            })
            .await?;
        let vars = ChiefVars {
            about: &profile.about,
            how_i_text: &profile.how_i_text,
            facts: profile
                .facts
                .iter()
                .map(|f| KeyValue {
                    key: &f.key,
                    value: &f.value,
                })
                .collect(),
            now: self.now().to_zoned(self.tz()).to_string(),
            brief,
            people,
            message: text,
        };
        Ok(self
            .prompts()
            .render(crate::prompts::CHIEF_OF_STAFF, &vars)?)
    }
}

/// What the chief-of-staff template sees: the owner's own profile (this is
/// the owner's chat) and the memory their question names.
#[derive(Debug, serde::Serialize)]
struct ChiefVars<'a> {
    about: &'a str,
    how_i_text: &'a str,
    facts: Vec<KeyValue<'a>>,
    now: String,
    brief: String,
    people: Vec<String>,
    message: &'a str,
}
