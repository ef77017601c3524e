//! Generated `.shortcut` files, parsed back and run step by step the way
//! Shortcuts would, produce signals the real daemon accepts.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{TestHome, json};
use plist::Value;
use sha2::{Digest, Sha256};
use steward::http::probe;

const T: Duration = Duration::from_secs(10);

/// Resolve a WFTextTokenString against action outputs (by UUID) and the shortcut input.
fn resolve(token: &Value, outputs: &HashMap<String, String>, input: &str) -> String {
    let d = token.as_dictionary().unwrap();
    assert_eq!(
        d["WFSerializationType"].as_string(),
        Some("WFTextTokenString")
    );
    let v = d["Value"].as_dictionary().unwrap();
    let s = v["string"].as_string().unwrap();
    let att = v["attachmentsByRange"].as_dictionary().unwrap();
    let mut out = String::new();
    let mut pos = 0;
    for c in s.chars() {
        if c == '\u{fffc}' {
            let a = att[&format!("{{{pos}, 1}}")].as_dictionary().unwrap();
            match a["Type"].as_string().unwrap() {
                "ActionOutput" => out.push_str(&outputs[a["OutputUUID"].as_string().unwrap()]),
                "ExtensionInput" => out.push_str(input),
                other => panic!("unexpected attachment {other}"),
            }
        } else {
            out.push(c);
        }
        pos += c.len_utf16();
    }
    out
}

fn field_dict(v: &Value, outputs: &HashMap<String, String>) -> Vec<(String, String)> {
    let items =
        v.as_dictionary().unwrap()["Value"].as_dictionary().unwrap()["WFDictionaryFieldValueItems"]
            .as_array()
            .unwrap();
    items
        .iter()
        .map(|i| {
            let i = i.as_dictionary().unwrap();
            (
                resolve(&i["WFKey"], outputs, ""),
                resolve(&i["WFValue"], outputs, ""),
            )
        })
        .collect()
}

/// Run a shortcut's actions; returns (url, headers, json body).
fn run(
    shortcut: &Value,
    secret_answer: &str,
    input: &str,
) -> (String, Vec<(String, String)>, serde_json::Value) {
    let actions = shortcut.as_dictionary().unwrap()["WFWorkflowActions"]
        .as_array()
        .unwrap();
    let mut outputs: HashMap<String, String> = HashMap::new();
    let mut post = None;
    for a in actions {
        let a = a.as_dictionary().unwrap();
        let id = a["WFWorkflowActionIdentifier"].as_string().unwrap();
        let p = a["WFWorkflowActionParameters"].as_dictionary().unwrap();
        let uuid = p["UUID"].as_string().unwrap().to_string();
        let value = match id {
            "is.workflow.actions.gettext" => match &p["WFTextActionText"] {
                Value::String(s) if s.is_empty() => secret_answer.to_string(), // the import question's answer
                Value::String(s) => s.clone(),
                token => resolve(token, &outputs, input),
            },
            "is.workflow.actions.date" => String::new(),
            "is.workflow.actions.format.date" => {
                assert_eq!(p["WFDateFormatStyle"].as_string(), Some("ISO 8601"));
                jiff::Zoned::now()
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            }
            "is.workflow.actions.number.random" => {
                let mut b = [0u8; 4];
                getrandom::fill(&mut b).unwrap();
                format!("{}", u32::from_le_bytes(b) % 999_999_999)
            }
            "is.workflow.actions.hash" => {
                assert_eq!(p["WFHashType"].as_string(), Some("SHA256"));
                let from = p["WFInput"].as_dictionary().unwrap()["Value"]
                    .as_dictionary()
                    .unwrap()["OutputUUID"]
                    .as_string()
                    .unwrap();
                hex::encode(Sha256::digest(outputs[from].as_bytes()))
            }
            "is.workflow.actions.downloadurl" => {
                assert_eq!(p["WFHTTPMethod"].as_string(), Some("POST"));
                assert_eq!(p["WFHTTPBodyType"].as_string(), Some("JSON"));
                let body: serde_json::Map<String, serde_json::Value> =
                    field_dict(&p["WFJSONValues"], &outputs)
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect();
                post = Some((
                    p["WFURL"].as_string().unwrap().to_string(),
                    field_dict(&p["WFHTTPHeaders"], &outputs),
                    serde_json::Value::Object(body),
                ));
                String::new()
            }
            other => panic!("unexpected action {other}"),
        };
        outputs.insert(uuid, value);
    }
    post.expect("the shortcut posts")
}

#[test]
fn every_generated_shortcut_sends_a_signal_the_server_accepts() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let device = json(&home.run(&["devices", "add", "iPhone", "--json"]));
    let secret = device["secret"].as_str().unwrap().to_string();
    let daemon = home.up();
    let out_dir = home.user_home.join("shortcuts");
    let url = format!("http://{}", daemon.addr);
    let built = home.run(&[
        "shortcuts",
        "build",
        "--device",
        "iPhone",
        "--url",
        &url,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(built.status.success(), "{}", common::stderr(&built));
    let readme = std::fs::read_to_string(out_dir.join("README.md")).unwrap();
    assert!(readme.contains("| Driving | CarPlay connects"));

    let mut files: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "shortcut"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 17);
    for (i, path) in files.iter().enumerate() {
        let shortcut = Value::from_file(path).unwrap();
        let questions = shortcut.as_dictionary().unwrap()["WFWorkflowImportQuestions"]
            .as_array()
            .unwrap();
        assert_eq!(questions.len(), 1, "the secret is asked for, not baked in");
        let (url, headers, body) = run(&shortcut, &secret, &format!("{}", 6000 + i));
        let path_part = url
            .strip_prefix(&format!("http://{}", daemon.addr))
            .unwrap();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = probe::post_with_headers(daemon.addr, path_part, &headers, &body.to_string(), T)
            .unwrap();
        assert_eq!(r.status, 200, "{}: {} {}", path.display(), r.body, body);
    }
    let signals = json(&home.run(&["signals", "--json", "--limit", "100"]));
    assert_eq!(signals.as_array().unwrap().len(), 17);
    let steps = signals
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "steps")
        .unwrap();
    assert!(
        steps["value"].as_str().unwrap().starts_with("60"),
        "the shortcut input became the value: {steps}"
    );

    // With --embed-secret the secret is inside and nothing is asked.
    let embedded = home.user_home.join("embedded");
    assert!(
        home.run(&[
            "shortcuts",
            "build",
            "--device",
            "iPhone",
            "--url",
            &url,
            "--out",
            embedded.to_str().unwrap(),
            "--embed-secret"
        ])
        .status
        .success()
    );
    let one = Value::from_file(embedded.join("Wake.shortcut")).unwrap();
    assert!(
        one.as_dictionary().unwrap()["WFWorkflowImportQuestions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A phone cannot reach loopback: without --url the build refuses.
    let refused = home.run(&[
        "shortcuts",
        "build",
        "--device",
        "iPhone",
        "--out",
        embedded.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(common::stderr(&refused).contains("--url"));
}
