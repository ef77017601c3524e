//! `steward doctor`: each problem is a failed check with the command that fixes it.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{TestHome, json};

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

#[test]
fn a_fresh_home_passes_every_check() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    // A free port, so the port check does not depend on this machine's 7788.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        home.file("steward.yaml"),
        format!("http:\n  listen: 127.0.0.1:{port}\n"),
    )
    .unwrap();
    let out = home.run(&["doctor", "--json"]);
    let report = json(&out);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(out.status.code(), Some(0));
    // Issue 18: what `setup` fills in (the owner) and the agents that cannot
    // run here are warnings; everything else is ok.
    for c in report["checks"].as_array().unwrap() {
        if c["name"] == "owner" || c["name"] == "agents" {
            assert_eq!(c["status"], "warn", "{c}");
        } else {
            assert!(c["status"] == "ok", "{c}");
            assert!(c["fix"].is_null());
        }
    }
}

#[test]
fn loose_permissions_fail_with_the_chmod_to_run() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::set_permissions(&home.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let token = home.file("api-token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = home.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let perms = check(&report, "permissions");
    assert_eq!(perms["status"], "fail");
    let fix = perms["fix"].as_str().unwrap();
    assert!(
        fix.contains(&format!("chmod 700 {}", home.path.display())),
        "{fix}"
    );
    assert!(
        fix.contains(&format!("chmod 600 {}", token.display())),
        "{fix}"
    );
    // Plain output says it too.
    let plain = common::stdout(&home.run(&["doctor"]));
    assert!(plain.contains("FAIL  permissions"), "{plain}");
}

#[test]
fn a_corrupt_database_fails_the_database_check_and_is_kept() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let db = home.file("steward.db");
    let junk = vec![b'x'; 8192];
    std::fs::write(&db, &junk).unwrap();
    let report = json(&home.run(&["doctor", "--json"]));
    let c = check(&report, "database");
    assert_eq!(c["status"], "fail");
    assert!(c["fix"].as_str().unwrap().contains(".bad"), "{c}");
    assert_eq!(std::fs::read(&db).unwrap(), junk);
}

#[test]
fn a_busy_port_fails_the_port_check_and_names_the_flag() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    std::fs::write(
        home.file("steward.yaml"),
        format!("http:\n  listen: 127.0.0.1:{port}\n"),
    )
    .unwrap();
    let report = json(&home.run(&["doctor", "--json"]));
    let c = check(&report, "port");
    assert_eq!(c["status"], "fail");
    assert!(c["fix"].as_str().unwrap().contains("--listen"));
}

#[test]
fn the_running_daemon_holding_the_port_is_not_a_failure() {
    let home = TestHome::new();
    let daemon = home.up();
    std::fs::write(
        home.file("steward.yaml"),
        format!("http:\n  listen: {}\n", daemon.addr),
    )
    .unwrap();
    let report = json(&home.run(&["doctor", "--json"]));
    let c = check(&report, "port");
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains(&daemon.pid().to_string())
    );
}

#[test]
fn an_uninitialised_home_fails_and_says_setup() {
    let home = TestHome::new();
    let out = home.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(check(&report, "home")["fix"], "steward setup");
    assert!(!home.path.exists(), "doctor creates nothing");
}

#[test]
fn an_enabled_imessage_bridge_without_its_database_fails_with_the_fix() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let missing = home.user_home.join("Library/Messages/chat.db");
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "bridges:\n  imessage:\n    enabled: true\n    chatDb: {}\n",
            missing.display()
        ),
    )
    .unwrap();
    let report = json(&home.run(&["doctor", "--json"]));
    let c = check(&report, "imessage");
    assert_eq!(c["status"], "fail");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("no Messages database"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("bridges.imessage"),
        "{c}"
    );
}

#[test]
fn a_configured_model_that_does_not_answer_fails_the_models_check() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "models:\n  providers:\n    local: {{kind: openai, baseUrl: \"http://127.0.0.1:{port}/v1\", timeoutSeconds: 2}}\n  capabilities:\n    fast: [\"local/tiny\"]\n"
        ),
    )
    .unwrap();
    let report = json(&home.run(&["doctor", "--json"]));
    let c = check(&report, "models");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("fast → local/tiny"),
        "{c}"
    );
}

#[test]
fn a_bad_profile_line_warns_and_a_broken_agent_spec_fails() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    std::fs::write(
        home.file("profiles/owner.md"),
        "## Facts\n- anniversary: 2019-13-45\n",
    )
    .unwrap();
    std::fs::create_dir_all(home.file("agents")).unwrap();
    std::fs::write(
        home.file("agents/concierge.yaml"),
        "name: concierge\ntier: often\n",
    )
    .unwrap();
    let out = home.run(&["doctor", "--json"]);
    let report = json(&out);
    let p = check(&report, "profile");
    assert_eq!(p["status"], "warn", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("line 2"), "{p}");
    let a = check(&report, "agents");
    assert_eq!(a["status"], "fail", "{a}");
    assert!(
        a["detail"].as_str().unwrap().starts_with("concierge:"),
        "{a}"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// Issue 20 item 8: doctor resolves every secret reference the daemon resolves,
/// so it never says "All checks passed" for a home `up` refuses.
#[test]
fn issue20_doctor_fails_an_unresolvable_api_token_reference_that_up_refuses() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let var = "STEWARD_TEST_ISSUE20_UNSET_TOKEN";
    std::fs::write(
        home.file("steward.yaml"),
        format!("http:\n  listen: 127.0.0.1:0\n  apiToken: env:{var}\n"),
    )
    .unwrap();
    let up = home.cmd(&["up"]).env_remove(var).output().unwrap();
    assert_eq!(up.status.code(), Some(1), "{}", common::stderr(&up));

    let out = home
        .cmd(&["doctor", "--json"])
        .env_remove(var)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["ok"], false, "{report}");
    let c = check(&report, "apiToken");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains(var), "{c}");
    let fix = c["fix"].as_str().unwrap();
    assert!(fix.contains(&format!("set the variable {var}")), "{fix}");
    assert!(fix.contains("http.apiToken"), "{fix}");
    let plain = common::stdout(&home.cmd(&["doctor"]).env_remove(var).output().unwrap());
    assert!(!plain.contains("All checks passed"), "{plain}");

    // With the variable set (and long enough), the same check passes.
    let ok = home
        .cmd(&["doctor", "--json"])
        .env(var, "f".repeat(40))
        .output()
        .unwrap();
    assert_eq!(check(&json(&ok), "apiToken")["status"], "ok");
    // Too short for the daemon is too short for doctor.
    let short = home
        .cmd(&["doctor", "--json"])
        .env(var, "abc")
        .output()
        .unwrap();
    assert_eq!(check(&json(&short), "apiToken")["status"], "fail");
}

/// Issue 20 item 8: model and runtime keys are references the daemon resolves too.
#[test]
fn issue20_doctor_fails_unresolvable_model_and_runtime_secrets() {
    let home = TestHome::new();
    assert!(home.run(&["init"]).status.success());
    let secret_file = home.user_home.join("no-such-key");
    std::fs::write(
        home.file("steward.yaml"),
        format!(
            "models:\n  providers:\n    cloud: {{kind: anthropic, baseUrl: \"http://127.0.0.1:9\", apiKey: \"env:STEWARD_TEST_ISSUE20_UNSET_KEY\"}}\n\
             runtime:\n  url: \"http://127.0.0.1:9\"\n  token: \"file:{}\"\n",
            secret_file.display()
        ),
    )
    .unwrap();
    let out = home
        .cmd(&["doctor", "--json"])
        .env_remove("STEWARD_TEST_ISSUE20_UNSET_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let c = check(&report, "secrets");
    assert_eq!(c["status"], "fail", "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("models.providers.cloud.apiKey"), "{detail}");
    assert!(detail.contains("runtime.token"), "{detail}");
    let fix = c["fix"].as_str().unwrap();
    assert!(
        fix.contains("set the variable STEWARD_TEST_ISSUE20_UNSET_KEY"),
        "{fix}"
    );
    assert!(fix.contains(&secret_file.display().to_string()), "{fix}");
}
