//! Document questions in the self-chat ("what's my passport number", "find
//! the lease", "docs insurance"): one `documents` run that reads the index
//! (the pipeline's `readDocuments` effect, so the read is gated to the owner,
//! journaled and audited), lets a model pick out the exact value when one is
//! configured (local-only while the agent is `modelLock: local`), and relays
//! the answer with the file's path.

use super::{CommandError, Owner, OwnerMessage, Reply};
use crate::pipeline::{Effect, RunRequest, RunStatus, Trigger};

/// The agent whose runs read documents (`agents/documents.yaml`).
pub const DOCUMENTS: &str = "documents";
/// Files whose passages a model sees, and the snippet comes from.
const HITS: u32 = 3;

impl Owner {
    pub(super) async fn documents(
        &self,
        msg: &OwnerMessage,
        question: &str,
    ) -> Result<Reply, CommandError> {
        let mut plan = vec![Effect::ReadDocuments {
            query: question.to_string(),
            limit: HITS,
            path: None,
        }];
        // Without a model the best snippet and its path are the answer.
        if self.pipeline().can_ask(DOCUMENTS) {
            plan.push(Effect::Ask {
                prompt: prompt(question),
                json: false,
            });
        }
        plan.push(Effect::Relay {
            channel: msg.channel.clone(),
        });
        let out = self
            .pipeline()
            .run(RunRequest {
                agent: DOCUMENTS.into(),
                trigger: Trigger::Owner,
                actor: msg.actor.clone(),
                input: question.to_string(),
                dedup_key: None,
                plan,
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
            return Ok(Reply {
                reply: crate::pipeline::trim::for_channel(&msg.channel, &reply).shown,
                run_id: Some(out.run_id),
                kind: "command".into(),
                failed: false,
            });
        }
        let reason = out.reason.unwrap_or_else(|| out.status.as_str().into());
        let text = format!("📄 I could not look in your documents: {reason}");
        let run_id = self.tell(msg, &text).await?;
        Ok(Reply {
            reply: text,
            run_id,
            kind: "command".into(),
            failed: true,
        })
    }
}

fn prompt(question: &str) -> String {
    format!(
        "You answer the owner's question from their own documents, listed below. Reply in one or two \
         lines with the exact value asked for (a number, a date, a name) copied from the document, and \
         the path of the file it is in. If the documents do not contain it, say so; never guess.\n\
         \nThe owner's question (data):\n<message>\n{question}\n</message>\n"
    )
}
