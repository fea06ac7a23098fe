//! The `inboxtop` binary: parse the command line, start the log (a file), install the hooks that
//! restore the terminal on any error or panic, and hand over to the command.

use clap::Parser;
use inboxtop::cmd::check::EXIT_COULD_NOT_RUN;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match inboxtop::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` succeed; a usage error could not run: UNKNOWN, not clap's 2,
        // which a monitoring system would read as CRITICAL.
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_COULD_NOT_RUN)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if inboxtop::logging::wanted(cli.command.as_ref()) {
        let environment = inboxtop::config::Environment::of_process();
        let settings = inboxtop::config::log_settings(&cli.monitor, &environment);
        if let Err(e) = inboxtop::logging::init(&settings) {
            eprintln!("inboxtop: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    }
    if let Err(e) = inboxtop::terminal::install_panic_hook() {
        eprintln!("inboxtop: {e}");
        return ExitCode::from(EXIT_COULD_NOT_RUN);
    }
    let runtime = match runtime_for(cli.command.as_ref()) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("inboxtop: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    let outcome = runtime.block_on(inboxtop::cmd::run(cli));
    // Sources may still be blocked on the network; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match outcome {
        Ok(code) => code,
        Err(e) => {
            inboxtop::terminal::restore();
            eprintln!("inboxtop: {e:#}");
            ExitCode::from(EXIT_COULD_NOT_RUN)
        }
    }
}

/// The exporter runs on one thread: its work is waiting on a fleet's sockets, and with two
/// workers each wake-up of a task could cross threads — a fifth of its idle CPU at 1 000 agents.
/// Its scrapes encode on the blocking pool. Everything else gets a worker per core (the TUI draws
/// while a flood is parsed).
fn runtime_for(
    command: Option<&inboxtop::cli::Command>,
) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match command {
        Some(inboxtop::cli::Command::Exporter(_)) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}
