//! The commands, one module each. The monitoring ones share one pipeline (`pipeline`) with a
//! different end: the TUI (`tui`, `replay`), a headless verdict (`check`), or nothing but the
//! simulator (`serve`).

use std::fmt::Write as _;
pub mod check;
mod completions;
mod config;
mod export;
mod export_log;
mod exporter;
mod man;
mod pipeline;
mod replay;
mod serve;
mod tui;

use color_eyre::eyre::{Result, eyre};
use std::process::ExitCode;

use crate::cli::{Cli, Command, MonitorArgs, ServerArgs, SimArgs};
use crate::config::Settings;
use crate::sim::Scenario;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let load = |server: Option<&ServerArgs>| load_settings(&cli.monitor, server);
    match cli.command {
        None => match load(None)? {
            settings if settings.has_server() => tui::watch(settings).await,
            settings => tui::demo(settings, SimArgs::default()).await,
        },
        Some(Command::Demo(args)) if args.sim.list_scenarios => Ok(list_scenarios()),
        Some(Command::Serve(args)) if args.sim.list_scenarios => Ok(list_scenarios()),
        Some(Command::Demo(args)) => tui::demo(load(None)?, args.sim).await,
        Some(Command::Watch(args)) => tui::watch(load(Some(&args.server))?).await,
        Some(Command::Check(args)) => check::run(load(Some(&args.server))?, args).await,
        Some(Command::Serve(args)) => serve::run(args).await,
        Some(Command::Replay(args)) => replay::run(load(None)?, args).await,
        Some(Command::Exporter(args)) => exporter::run(load(Some(&args.server))?, args).await,
        Some(Command::Config(args)) => Ok(config::run(&load(Some(&args.server))?)),
        Some(Command::Completions(args)) => Ok(completions::run(args.shell)),
        Some(Command::Man) => man::run(),
    }
}

/// The settings for a command, with the warnings the user should see before the TUI starts.
fn load_settings(monitor: &MonitorArgs, server: Option<&ServerArgs>) -> Result<Settings> {
    let settings = crate::config::load(monitor, server.unwrap_or(&ServerArgs::default()))
        .map_err(|e| eyre!(e))?;
    for warning in &settings.warnings {
        eprintln!("inboxtop: warning: {warning}");
    }
    Ok(settings)
}

/// `--list-scenarios`, for `demo` and `serve` alike.
fn list_scenarios() -> ExitCode {
    let mut text = String::new();
    for s in Scenario::all() {
        let _ = writeln!(text, "{:<16} {}", s.name(), s.summary());
        for line in s.description().lines() {
            let _ = writeln!(text, "{:<16} {}", "", line.trim());
        }
        text += "\n";
    }
    print_out(text);
    ExitCode::SUCCESS
}

/// Writes to stdout; a reader that went away (a closed pipe) is not an error worth a panic.
fn print_out(text: impl AsRef<[u8]>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_ref()).and_then(|()| out.flush());
}

/// Resolves on SIGTERM (and SIGHUP), so every exit path restores the terminal and flushes.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}
