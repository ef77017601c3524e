//! `.shortcut` files from `shortcuts/*.yaml` recipes. Each shortcut builds the
//! signed line `v1|device|ts|nonce|kind|field=value…`, hashes
//! `secret|msg|secret` with SHA-256 (Shortcuts has no HMAC) and POSTs
//! `{msg, sig}` with `X-Steward-Device`. The secret is asked for on import
//! (`WFWorkflowImportQuestions`) unless the owner chooses to embed it.

use std::collections::BTreeMap;
use std::path::Path;

use plist::{Dictionary, Value};
use serde::Deserialize;

use crate::assets::{self, Folder};

/// The object-replacement character that stands for a variable in a text token.
const SLOT: char = '\u{fffc}';

#[derive(Debug, thiserror::Error)]
pub enum ShortcutError {
    #[error("{file}: {message}")]
    Recipe { file: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// One recipe file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    pub trigger: String,
}

/// Every recipe, shipped and overridden from the home, by file stem.
pub fn recipes(home: &Path) -> Result<Vec<(String, Recipe)>, ShortcutError> {
    let mut out = Vec::new();
    for file in assets::list(home, Folder::Shortcuts) {
        let Some(stem) = file.strip_suffix(".yaml") else {
            continue;
        };
        let bad = |message: String| ShortcutError::Recipe {
            file: file.clone(),
            message,
        };
        let asset = assets::load(home, Folder::Shortcuts, &file).map_err(|e| bad(e.to_string()))?;
        let Some(asset) = asset else { continue };
        let recipe: Recipe = serde_saphyr::from_str(&asset.text)
            .map_err(|e| bad(e.without_snippet().to_string()))?;
        if !super::signal::KINDS.contains(&recipe.kind.as_str()) {
            return Err(bad(format!("unknown kind {:?}", recipe.kind)));
        }
        for (k, v) in &recipe.fields {
            if !matches!(k.as_str(), "app" | "detail" | "metric" | "value") || v.contains('|') {
                return Err(bad(format!(
                    "field {k}={v}: fields are app, detail, metric, value, without '|'"
                )));
            }
        }
        out.push((stem.to_string(), recipe));
    }
    Ok(out)
}

/// A piece of a text token: literal text, another action's output, or the shortcut's input.
enum Part<'a> {
    Lit(&'a str),
    Out(&'a str, &'a str),
    Input,
}

fn token_string(parts: &[Part<'_>]) -> Value {
    let mut string = String::new();
    let mut attachments = Dictionary::new();
    for part in parts {
        let at = string.encode_utf16().count();
        let mut attach = Dictionary::new();
        match part {
            Part::Lit(s) => {
                string.push_str(s);
                continue;
            }
            Part::Out(uuid, name) => {
                attach.insert("Type".into(), "ActionOutput".into());
                attach.insert("OutputUUID".into(), (*uuid).into());
                attach.insert("OutputName".into(), (*name).into());
            }
            Part::Input => {
                attach.insert("Type".into(), "ExtensionInput".into());
            }
        }
        string.push(SLOT);
        attachments.insert(format!("{{{at}, 1}}"), Value::Dictionary(attach));
    }
    let mut value = Dictionary::new();
    value.insert("string".into(), string.into());
    value.insert("attachmentsByRange".into(), Value::Dictionary(attachments));
    dict([
        ("WFSerializationType", "WFTextTokenString".into()),
        ("Value", Value::Dictionary(value)),
    ])
}

fn attachment(uuid: &str, name: &str) -> Value {
    let mut value = Dictionary::new();
    value.insert("Type".into(), "ActionOutput".into());
    value.insert("OutputUUID".into(), uuid.into());
    value.insert("OutputName".into(), name.into());
    dict([
        ("WFSerializationType", "WFTextTokenAttachment".into()),
        ("Value", Value::Dictionary(value)),
    ])
}

fn dict<const N: usize>(items: [(&str, Value); N]) -> Value {
    Value::Dictionary(items.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn field_dict(items: &[(&str, Value)]) -> Value {
    let entries: Vec<Value> = items
        .iter()
        .map(|(k, v)| {
            dict([
                ("WFItemType", Value::Integer(0.into())),
                ("WFKey", token_string(&[Part::Lit(k)])),
                ("WFValue", v.clone()),
            ])
        })
        .collect();
    let mut value = Dictionary::new();
    value.insert("WFDictionaryFieldValueItems".into(), Value::Array(entries));
    dict([
        ("WFSerializationType", "WFDictionaryFieldValue".into()),
        ("Value", Value::Dictionary(value)),
    ])
}

fn action(id: &str, uuid: &str, name: &str, mut params: Dictionary) -> Value {
    params.insert("UUID".into(), uuid.into());
    params.insert("CustomOutputName".into(), name.into());
    dict([
        (
            "WFWorkflowActionIdentifier",
            format!("is.workflow.actions.{id}").into(),
        ),
        ("WFWorkflowActionParameters", Value::Dictionary(params)),
    ])
}

fn params<const N: usize>(items: [(&str, Value); N]) -> Dictionary {
    items.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The shortcut for `recipe`, signing as `device_id`, posting to `base_url`.
pub fn build(
    recipe: &Recipe,
    device_id: &str,
    base_url: &str,
    embedded_secret: Option<&str>,
) -> Value {
    const SECRET: &str = "1B2C1A10-0000-4000-8000-000000000001";
    const DATE: &str = "1B2C1A10-0000-4000-8000-000000000002";
    const TS: &str = "1B2C1A10-0000-4000-8000-000000000003";
    const NONCE: &str = "1B2C1A10-0000-4000-8000-000000000004";
    const MSG: &str = "1B2C1A10-0000-4000-8000-000000000005";
    const TO_SIGN: &str = "1B2C1A10-0000-4000-8000-000000000006";
    const SIG: &str = "1B2C1A10-0000-4000-8000-000000000007";
    const POST: &str = "1B2C1A10-0000-4000-8000-000000000008";

    let head = format!("v1|{device_id}|");
    let kind = format!("|{}", recipe.kind);
    let mut msg = vec![
        Part::Lit(&head),
        Part::Out(TS, "ts"),
        Part::Lit("|"),
        Part::Out(NONCE, "nonce"),
        Part::Lit(&kind),
    ];
    let fields: Vec<(String, bool)> = recipe
        .fields
        .iter()
        .map(|(k, v)| {
            if v == "{input}" {
                (format!("|{k}="), true)
            } else {
                (format!("|{k}={v}"), false)
            }
        })
        .collect();
    for (lit, input) in &fields {
        msg.push(Part::Lit(lit));
        if *input {
            msg.push(Part::Input);
        }
    }
    let url = format!("{}/v1/signals", base_url.trim_end_matches('/'));
    let actions = vec![
        action(
            "gettext",
            SECRET,
            "secret",
            params([("WFTextActionText", embedded_secret.unwrap_or("").into())]),
        ),
        action(
            "date",
            DATE,
            "now",
            params([("WFDateActionMode", "Current Date".into())]),
        ),
        action(
            "format.date",
            TS,
            "ts",
            params([
                ("WFDate", token_string(&[Part::Out(DATE, "now")])),
                ("WFDateFormatStyle", "ISO 8601".into()),
                ("WFISO8601IncludeTime", true.into()),
            ]),
        ),
        action(
            "number.random",
            NONCE,
            "nonce",
            params([
                ("WFRandomNumberMinimum", Value::Integer(0.into())),
                ("WFRandomNumberMaximum", Value::Integer(999_999_999.into())),
            ]),
        ),
        action(
            "gettext",
            MSG,
            "msg",
            params([("WFTextActionText", token_string(&msg))]),
        ),
        action(
            "gettext",
            TO_SIGN,
            "to sign",
            params([(
                "WFTextActionText",
                token_string(&[
                    Part::Out(SECRET, "secret"),
                    Part::Lit("|"),
                    Part::Out(MSG, "msg"),
                    Part::Lit("|"),
                    Part::Out(SECRET, "secret"),
                ]),
            )]),
        ),
        action(
            "hash",
            SIG,
            "sig",
            params([
                ("WFInput", attachment(TO_SIGN, "to sign")),
                ("WFHashType", "SHA256".into()),
            ]),
        ),
        action(
            "downloadurl",
            POST,
            "response",
            params([
                ("WFURL", url.into()),
                ("WFHTTPMethod", "POST".into()),
                ("ShowHeaders", true.into()),
                (
                    "WFHTTPHeaders",
                    field_dict(&[("X-Steward-Device", token_string(&[Part::Lit(device_id)]))]),
                ),
                ("WFHTTPBodyType", "JSON".into()),
                (
                    "WFJSONValues",
                    field_dict(&[
                        ("msg", token_string(&[Part::Out(MSG, "msg")])),
                        ("sig", token_string(&[Part::Out(SIG, "sig")])),
                    ]),
                ),
            ]),
        ),
    ];
    let questions = if embedded_secret.is_some() {
        Vec::new()
    } else {
        vec![dict([
            ("ActionIndex", Value::Integer(0.into())),
            ("Category", "Parameter".into()),
            ("ParameterKey", "WFTextActionText".into()),
            (
                "Text",
                format!("Paste the secret `steward devices add` showed for device {device_id}")
                    .into(),
            ),
            ("DefaultValue", "".into()),
        ])]
    };
    dict([
        ("WFWorkflowActions", Value::Array(actions)),
        ("WFWorkflowClientVersion", "3036.0.4.2".into()),
        ("WFWorkflowMinimumClientVersion", Value::Integer(900.into())),
        ("WFWorkflowMinimumClientVersionString", "900".into()),
        (
            "WFWorkflowIcon",
            dict([
                (
                    "WFWorkflowIconStartColor",
                    Value::Integer(4_282_601_983u64.into()),
                ),
                ("WFWorkflowIconGlyphNumber", Value::Integer(61440.into())),
            ]),
        ),
        ("WFWorkflowTypes", Value::Array(Vec::new())),
        (
            "WFWorkflowInputContentItemClasses",
            Value::Array(vec!["WFStringContentItem".into()]),
        ),
        ("WFWorkflowImportQuestions", Value::Array(questions)),
    ])
}

/// Write `value` as a (binary) `.shortcut` plist.
pub fn write(value: &Value, path: &Path) -> Result<(), ShortcutError> {
    value
        .to_file_binary(path)
        .map_err(|e| ShortcutError::Write {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::signal::{Signal, validate};

    #[test]
    fn every_shipped_recipe_makes_a_valid_signal() {
        let home = tempfile::tempdir().unwrap();
        let all = recipes(home.path()).unwrap();
        assert!(all.len() >= 16);
        for (stem, r) in all {
            let field = |k: &str| r.fields.get(k).map(|v| v.replace("{input}", "x"));
            let s = Signal {
                kind: r.kind.clone(),
                app: field("app"),
                detail: field("detail"),
                metric: field("metric"),
                value: field("value"),
                ts: 0,
            };
            assert!(validate(s).is_ok(), "{stem}");
        }
    }
}
