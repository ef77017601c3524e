//! The agents through the CLI: `steward agents [--json]` lists the roster
//! with schedules and needs, `agents run` goes through the pipeline, and
//! `agents create` writes a spec from the model (and refuses junk).

mod common;
mod fixtures;

use serde_json::{Value, json};

#[test]
fn agents_lists_the_roster_and_relationship_keeper_nudges_an_imported_history() {
    let home = common::TestHome::new();
    let s = fixtures::standard(&home.user_home);
    assert!(home.run(&["init"]).status.success());
    // Never quiet: the nudges must not wait for the morning whatever hour the test runs.
    let yaml = std::fs::read_to_string(home.file("steward.yaml")).unwrap();
    std::fs::write(
        home.file("steward.yaml"),
        format!("{yaml}\nquietHours: {{start: \"00:00\", end: \"00:00\"}}\n"),
    )
    .unwrap();
    let args = s.import_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(home.run(&args).status.success());

    let list = common::json(&home.run(&["agents", "--json"]));
    let rows = list.as_array().unwrap();
    assert!(rows.len() >= 17);
    for row in rows {
        for key in [
            "name",
            "tier",
            "cron",
            "nextRunAt",
            "lastRun",
            "enabled",
            "needsModel",
        ] {
            assert!(row.get(key).is_some(), "agents --json lacks {key}: {row}");
        }
        // Every agent works here, or says exactly what it needs.
        let scheduled = row["cron"].is_string() && row["enabled"] == true;
        assert!(
            !scheduled || row["nextRunAt"].is_string() || row["needs"].is_string(),
            "{row}"
        );
    }
    let by = |n: &str| rows.iter().find(|r| r["name"] == n).unwrap().clone();
    assert_eq!(by("chief-of-staff")["cron"], "0 8 * * *");
    assert_eq!(by("concierge")["cron"], "*/45 * * * *");
    // Mail is read now: inbox-triage and the domain trackers run.
    assert_eq!(
        by("inbox-triage")["enabled"],
        true,
        "{}",
        by("inbox-triage")
    );
    assert!(by("inbox-triage")["needs"].is_null());
    assert!(by("garage")["needs"].is_null(), "{}", by("garage"));
    assert!(
        by("ai-radar")["needs"]
            .as_str()
            .unwrap()
            .contains("no feeds")
    );
    assert!(by("commute-copilot")["cron"].is_null(), "nano: on signals");

    // Ann and Bob talked both ways with the owner in 2025: quiet for 21+ days.
    let out = home.run(&["agents", "run", "relationship-keeper", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let run = common::json(&out);
    assert_eq!(run["status"], "succeeded");
    let nudges: Vec<String> = std::fs::read_to_string(home.file("console/outbox.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        nudges.iter().any(|n| n.contains("💬 Reach out to Ann Lee")),
        "{nudges:?}"
    );
    assert!(
        nudges
            .iter()
            .any(|n| n.contains("💬 Reach out to Bob Stone")),
        "{nudges:?}"
    );
    assert!(
        home.run(&["receipts", "show", run["id"].as_str().unwrap()])
            .status
            .success()
    );
    assert!(home.run(&["receipts", "verify"]).status.success());
    // The listing now shows that run.
    let list = common::json(&home.run(&["agents", "--json"]));
    let keeper = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "relationship-keeper")
        .unwrap()
        .clone();
    assert_eq!(keeper["lastRun"]["id"], run["id"]);
    // An agent that needs what is missing says so and exits 1.
    let out = home.run(&["agents", "run", "ai-radar"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("no feeds"),
        "{}",
        common::stderr(&out)
    );
    // Disable / enable.
    assert!(
        home.run(&["agents", "disable", "concierge"])
            .status
            .success()
    );
    let list = common::json(&home.run(&["agents", "--json"]));
    let c = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "concierge")
        .unwrap()
        .clone();
    assert_eq!(
        (c["enabled"].clone(), c["nextRunAt"].clone()),
        (json!(false), Value::Null)
    );
}

async fn manifest(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    let text = if body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .contains("plants")
    {
        "```json\n{\"type\":\"loop\",\"role\":\"gardener\",\"name\":\"Plant Waterer\",\"goal\":\"remind me to water the plants\",\"tier\":\"macro\",\"cron\":\"0 18 * * 0\",\"sensors\":[],\"actions\":[\"nudge\"],\"trust\":\"ask\"}\n```"
    } else {
        "not json at all"
    };
    axum::Json(json!({
        "id": "c", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text } }],
        "usage": { "prompt_tokens": 90, "completion_tokens": 40 },
    }))
}

#[test]
fn agents_create_writes_a_valid_spec_from_the_model_and_refuses_junk() {
    let url = common::lantern::serve_in_thread(
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(manifest)),
    );
    let home = common::TestHome::new();
    assert!(home.run(&["init"]).status.success());
    // No model: refused with the fix, nothing written.
    let out = home.run(&[
        "agents",
        "create",
        "--prompt",
        "water the plants on sundays",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("no model for capability"),
        "{}",
        common::stderr(&out)
    );
    let config = home.file("steward.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "models:\n  providers:\n    local: {{kind: openai, baseUrl: \"{url}/v1\"}}\n  capabilities:\n    reason: [\"local/m\"]\n"
    ));
    std::fs::write(&config, text).unwrap();
    let out = home.run(&[
        "agents",
        "create",
        "--prompt",
        "water the plants on sundays",
        "--json",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let made = common::json(&out);
    assert_eq!(made["agentName"], "plant-waterer");
    let spec = std::fs::read_to_string(home.file("agents/plant-waterer.yaml")).unwrap();
    assert!(
        spec.contains("cron: \"0 18 * * 0\"") && spec.contains("tier: macro"),
        "{spec}"
    );
    let list = common::json(&home.run(&["agents", "--json"]));
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "plant-waterer")
        .unwrap()
        .clone();
    assert_eq!(row["cron"], "0 18 * * 0");
    // Junk from the model writes nothing.
    let out = home.run(&["agents", "create", "--prompt", "something else"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("not JSON"),
        "{}",
        common::stderr(&out)
    );
    // The same name again is refused.
    let out = home.run(&[
        "agents",
        "create",
        "--prompt",
        "water the plants on sundays",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("already exists"));
}
