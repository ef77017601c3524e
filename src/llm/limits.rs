//! What one model call may cost in output and time, by capability.
//!
//! A capability names a use, so its limits follow the use: a contact draft is a
//! text message, `fast` is classification or a small JSON object, `reason` is
//! the owner's chief of staff thinking aloud. Without a cap every call asked for
//! 1,024 tokens (a tiny local model then wrote 1,024 tokens of repeated text for
//! a one-line reply) and one provider timeout covered every use. The cap is sent
//! as `max_tokens`, the budget reserves for it, and the deadline cancels the
//! whole call (retries and fallbacks included).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::config::CallLimitsConfig;

/// One call's limits, resolved from the defaults and `models.limits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLimits {
    pub max_output_tokens: u32,
    #[serde(rename = "deadlineSeconds", serialize_with = "secs")]
    pub deadline: Duration,
    pub stop: Vec<String>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// A capability the table below does not name (an owner's own alias).
const OTHER: (u32, u64) = (512, 60);

/// `(capability, max output tokens, deadline seconds)`.
const DEFAULTS: &[(&str, u32, u64)] = &[
    // A text message: ~100 words at most; two of them (the regeneration) must
    // still come back while the contact is waiting.
    ("draft", 160, 30),
    // A verdict or a small JSON object (screening, triage, a manifest field).
    ("fast", 256, 20),
    // The owner's questions: room to think, still bounded.
    ("reason", 1024, 60),
];

/// Where a draft stops: the model starting the contact's next line, or the
/// prompt's own markers. A reply that reaches one is complete before it.
const DRAFT_STOPS: &[&str] = &["\nthem:", "<message>", "</message>", "<thread>"];

impl CallLimits {
    /// The shipped limits of `capability`.
    pub fn default_for(capability: &str) -> CallLimits {
        let (tokens, secs) = DEFAULTS
            .iter()
            .find(|(c, ..)| *c == capability)
            .map_or(OTHER, |(_, t, s)| (*t, *s));
        let stop = if capability == "draft" {
            DRAFT_STOPS.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        };
        CallLimits {
            max_output_tokens: tokens,
            deadline: Duration::from_secs(secs),
            stop,
        }
    }

    /// The shipped limits with the configured fields laid over them.
    pub fn resolve(capability: &str, config: &BTreeMap<String, CallLimitsConfig>) -> CallLimits {
        let mut l = CallLimits::default_for(capability);
        if let Some(c) = config.get(capability) {
            if let Some(t) = c.max_output_tokens {
                l.max_output_tokens = t;
            }
            if let Some(s) = c.deadline_seconds {
                l.deadline = Duration::from_secs(s);
            }
            if let Some(stop) = &c.stop {
                l.stop = stop.clone();
            }
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_the_use_and_config_overrides_per_field() {
        let d = CallLimits::default_for("draft");
        assert_eq!((d.max_output_tokens, d.deadline.as_secs()), (160, 30));
        assert!(d.stop.iter().any(|s| s == "\nthem:"));
        assert_eq!(CallLimits::default_for("fast").max_output_tokens, 256);
        let r = CallLimits::default_for("reason");
        assert_eq!((r.max_output_tokens, r.deadline.as_secs()), (1024, 60));
        assert_eq!(CallLimits::default_for("mine").max_output_tokens, 512);

        let mut cfg = BTreeMap::new();
        cfg.insert(
            "draft".to_string(),
            CallLimitsConfig {
                max_output_tokens: Some(90),
                ..Default::default()
            },
        );
        let d = CallLimits::resolve("draft", &cfg);
        assert_eq!((d.max_output_tokens, d.deadline.as_secs()), (90, 30));
        assert_eq!(d.stop, CallLimits::default_for("draft").stop);
    }
}
