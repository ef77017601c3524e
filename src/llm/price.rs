//! Prices per million tokens and the cost of one call. A token at $1 per
//! million is exactly one micro-dollar, so costs stay integers.

use std::collections::BTreeMap;

use super::Usage;
use crate::config::Price;

/// Shipped defaults for common cloud models; local providers cost 0 unless priced.
const DEFAULTS: &[(&str, f64, f64, f64)] = &[
    ("anthropic/claude-sonnet-4-5", 3.0, 15.0, 0.3),
    ("anthropic/claude-haiku-4-5", 1.0, 5.0, 0.1),
    ("anthropic/claude-opus-4-1", 15.0, 75.0, 1.5),
    ("openai/gpt-4o", 2.5, 10.0, 1.25),
    ("openai/gpt-4o-mini", 0.15, 0.6, 0.075),
    ("openai/gpt-4.1", 2.0, 8.0, 0.5),
    ("openai/gpt-4.1-mini", 0.4, 1.6, 0.1),
];

#[derive(Debug, Clone, Default)]
pub struct Prices(BTreeMap<String, Price>);

impl Prices {
    /// The shipped defaults, overridden by `models.prices`.
    pub fn with_defaults(configured: &BTreeMap<String, Price>) -> Prices {
        let mut map: BTreeMap<String, Price> = DEFAULTS
            .iter()
            .map(|(k, i, o, c)| {
                (
                    k.to_string(),
                    Price {
                        input: *i,
                        out: *o,
                        cached_in: Some(*c),
                    },
                )
            })
            .collect();
        map.extend(configured.iter().map(|(k, v)| (k.clone(), *v)));
        Prices(map)
    }

    /// Micro-dollars for `usage` on `target` (`provider/model`); unknown targets cost 0.
    pub fn cost_micros(&self, target: &str, usage: &Usage) -> i64 {
        let Some(p) = self.0.get(target) else {
            return 0;
        };
        let cached = usage.cached.min(usage.input);
        let fresh = usage.input - cached;
        let cached_price = p.cached_in.unwrap_or(p.input);
        (fresh as f64 * p.input + cached as f64 * cached_price + usage.output as f64 * p.out)
            .round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_exact_in_micro_dollars() {
        let prices = Prices::with_defaults(&BTreeMap::new());
        let usage = Usage {
            input: 1000,
            output: 200,
            cached: 400,
            estimated: false,
        };
        // 600 × $3 + 400 × $0.30 + 200 × $15 per million = 1800 + 120 + 3000 micro-dollars.
        assert_eq!(
            prices.cost_micros("anthropic/claude-sonnet-4-5", &usage),
            4920
        );
        assert_eq!(prices.cost_micros("local/llama3.2:3b", &usage), 0);
        let mut configured = BTreeMap::new();
        configured.insert(
            "local/llama3.2:3b".to_string(),
            Price {
                input: 1.0,
                out: 1.0,
                cached_in: None,
            },
        );
        assert_eq!(
            Prices::with_defaults(&configured).cost_micros("local/llama3.2:3b", &usage),
            1200
        );
    }
}
