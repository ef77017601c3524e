//! `steward completions bash|zsh|fish|elvish|powershell` and `steward man`:
//! generated from the same clap tree as the commands, so they never drift.

use std::process::ExitCode;

use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// The completion script for `shell` on stdout (e.g. `steward completions zsh > _steward`).
pub fn completions(args: Args) -> anyhow::Result<ExitCode> {
    let mut cmd = super::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "steward", &mut buf);
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}

/// The man page (roff) on stdout: `steward man | man -l -`.
pub fn man() -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(super::Cli::command()).render(&mut buf)?;
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}
