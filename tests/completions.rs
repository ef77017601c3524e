//! Shell completions and the man page come from the same clap tree as the
//! commands, work before a home exists, and name today's commands.

mod common;

use common::{TestHome, stdout};

#[test]
fn completions_and_the_man_page_name_every_command_without_a_home() {
    let home = TestHome::new();
    let bash = home.run(&["completions", "bash"]);
    assert!(bash.status.success(), "{}", common::stderr(&bash));
    let bash = stdout(&bash);
    for word in [
        "steward", "setup", "import", "telegram", "whatsapp", "receipts",
    ] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    let zsh = stdout(&home.run(&["completions", "zsh"]));
    assert!(
        zsh.starts_with("#compdef steward"),
        "{}",
        &zsh[..zsh.len().min(80)]
    );
    let fish = stdout(&home.run(&["completions", "fish"]));
    assert!(
        fish.contains("complete -c steward"),
        "{}",
        &fish[..fish.len().min(200)]
    );

    let man = home.run(&["man"]);
    assert!(man.status.success(), "{}", common::stderr(&man));
    let man = stdout(&man);
    assert!(
        man.contains("\n.TH steward 1"),
        "{}",
        &man[..man.len().min(200)]
    );
    assert!(
        man.contains("setup") && man.contains("completions"),
        "the subcommands are listed"
    );

    let bad = home.run(&["completions", "nosh"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    assert!(!home.path.exists(), "nothing was created");
}
