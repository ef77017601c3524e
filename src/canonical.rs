//! Canonical JSON for signatures and hashes: object keys sorted, compact, and
//! escaped the way Go's `encoding/json` does (`<`, `>`, `&`, U+2028, U+2029 as
//! `\uXXXX`; whole floats without a fraction), so a Lantern receipt and a
//! Steward receipt canonicalise to the same bytes in one offline verifier.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The canonical text of `value`.
pub fn to_string(value: &Value) -> String {
    let normal = normalise(value.clone());
    // serde_json's Map is a BTreeMap (no preserve_order feature): keys come out sorted.
    let text = serde_json::to_string(&normal).expect("a Value always serialises");
    go_escape(&text)
}

/// Whole floats become integers, as Go prints them.
fn normalise(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, normalise(v))).collect())
        }
        other => other,
    }
}

/// These characters only occur inside JSON strings, so a textual replace is exact.
fn go_escape(text: &str) -> String {
    if !text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sorted_compact_go_style() {
        let v = json!({"b": 1, "a": {"z": 2.0, "y": 0.25}, "c": "<&>"});
        assert_eq!(
            to_string(&v),
            r#"{"a":{"y":0.25,"z":2},"b":1,"c":"\u003c\u0026\u003e"}"#
        );
    }

    #[test]
    fn canonical_form_is_stable_under_reparse() {
        let v = json!({"x": [3, "é", {"k": null}], "costUsd": 0.0123});
        let once = to_string(&v);
        let again = to_string(&serde_json::from_str(&once).unwrap());
        assert_eq!(once, again);
    }
}
