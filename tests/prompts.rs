//! Prompts are files (issue 18): the contact assistant's prompt comes from
//! `prompts/contact-assistant.md`; `<home>/prompts/` overrides it at the next
//! draft (no restart); a broken override is refused with file:line and the
//! shipped one is used; and no override can put the owner's private facts in
//! a contact's prompt, because the template is never handed them.

mod assistant_rig;
mod common;

use assistant_rig::*;
use common::TestHome;

fn last_prompt(r: &Rig) -> String {
    r.model.prompts.lock().unwrap().last().cloned().unwrap()
}

fn write_override(r: &Rig, text: &str) {
    std::fs::create_dir_all(r.dir.join("prompts")).unwrap();
    std::fs::write(r.dir.join("prompts/contact-assistant.md"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_override_changes_what_the_model_receives_at_the_next_draft() {
    let mut r = rig();
    r.contact("are we still on for friday?").await;
    let shipped = last_prompt(&r);
    assert!(
        shipped.starts_with("Write the one text message Priya Rao would send next to Ann Lee."),
        "{shipped}"
    );
    assert!(
        shipped.contains("<message>\nare we still on for friday?\n</message>"),
        "the contact's text is quoted data: {shipped}"
    );
    assert!(shipped.contains("Ann Lee is Priya Rao's sister. Priya Rao calls them Annie."));

    write_override(
        &r,
        "Reply to {{ name }} as {{ owner }}. They said: {{ message }}\n",
    );
    r.contact("and {{ owner }} saturday?").await;
    assert_eq!(
        last_prompt(&r),
        "Reply to Ann Lee as Priya Rao. They said: and {{ owner }} saturday?\n",
        "the override is used, and contact text is never template code"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_override_can_reach_the_owners_private_facts() {
    let mut r = rig();
    // Every variable the template is given, dumped whole.
    write_override(
        &r,
        "{{ owner }} {{ name }} {{ how_i_text }} {{ lessons }} {{ relationship }} {{ facts }} \
         {{ place }} {{ availability }} {{ style }} {{ thread }} {{ message }} {{ retry }}\n",
    );
    r.contact("what's her anniversary and salary?").await;
    let dumped = last_prompt(&r);
    assert!(dumped.contains("Ann Lee"), "{dumped}");
    for secret in ["SECRET-PRIVATE", "2019-06-14", "200k"] {
        assert!(!dumped.contains(secret), "{secret} leaked: {dumped}");
    }
    // Asking for what it is not given is refused (unknown variable) and the
    // shipped template is used instead.
    write_override(&r, "{{ profile.private }} {{ facts_of_owner }}\n");
    r.contact("one more thing").await;
    let fell_back = last_prompt(&r);
    assert!(
        fell_back.starts_with("Write the one text message Priya Rao"),
        "{fell_back}"
    );
    assert!(!fell_back.contains("SECRET-PRIVATE"));
}

#[test]
fn steward_prompts_lists_shows_and_names_a_broken_override() {
    let home = TestHome::new();
    home.init_if_missing();
    let list = common::json(&home.run(&["prompts", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"contact-assistant") && names.contains(&"chief-of-staff"));
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|p| p["origin"] == "shipped")
    );

    std::fs::create_dir_all(home.file("prompts")).unwrap();
    std::fs::write(
        home.file("prompts/chief-of-staff.md"),
        "You are Steward.\n{% for x in %}\n",
    )
    .unwrap();
    let list = common::json(&home.run(&["prompts", "--json"]));
    let chief = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "chief-of-staff")
        .unwrap();
    let error = chief["error"].as_str().unwrap();
    assert!(error.contains("prompts/chief-of-staff.md:2:"), "{error}");
    assert_eq!(chief["origin"], "shipped");

    let shown = home.run(&["prompts", "show", "chief-of-staff"]);
    assert!(shown.status.success());
    assert!(common::stdout(&shown).starts_with("You are Steward, the owner's chief of staff"));
    assert!(common::stderr(&shown).contains("refused"));

    std::fs::write(home.file("prompts/chief-of-staff.md"), "Hi {{ message }}\n").unwrap();
    let shown = common::json(&home.run(&["prompts", "show", "chief-of-staff", "--json"]));
    assert_eq!(shown["origin"], "home");
    assert_eq!(shown["text"], "Hi {{ message }}\n");
    let unknown = home.run(&["prompts", "show", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(common::stderr(&unknown).contains("steward prompts"));
}
