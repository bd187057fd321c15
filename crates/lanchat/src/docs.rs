//! Shell completions and the man page, generated from the same clap
//! definitions as the parser, so they cannot drift from it.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;

/// Prints completions for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "lanchat", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// Prints the man page (roff) to stdout.
pub fn man() -> anyhow::Result<ExitCode> {
    match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
        // `lanchat man | head` is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
