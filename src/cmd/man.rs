//! `man`: the man page (roff), on stdout.

use clap::CommandFactory;
use color_eyre::eyre::{Result, WrapErr};
use std::process::ExitCode;

use crate::cli::Cli;

pub(super) fn run() -> Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .wrap_err("rendering the man page")?;
    super::print_out(page);
    Ok(ExitCode::SUCCESS)
}
