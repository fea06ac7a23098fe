//! `completions SHELL`: a completion script for the shell, on stdout.

use clap::CommandFactory;
use clap_complete::Shell;
use std::process::ExitCode;

use crate::cli::Cli;

pub(super) fn run(shell: Shell) -> ExitCode {
    // Generated into memory first: clap_complete panics on a write error such as a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "inboxtop", &mut script);
    super::print_out(script);
    ExitCode::SUCCESS
}
