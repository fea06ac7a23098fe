//! `demo` and `watch` (and bare `inboxtop`): the monitor in the TUI, against the embedded
//! simulator or a server; `run_tui` is shared with `replay`.

use color_eyre::eyre::{Result, WrapErr};
use std::process::ExitCode;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::pipeline::{Pipeline, Watched};
use super::{export, export_log};
use crate::app::{self, App, Command as AppCommand};
use crate::cli::SimArgs;
use crate::config::Settings;
use crate::monitor::Monitor;
use crate::observation::Observation;
use crate::record;
use crate::report::ReportContext;
use crate::source::{self, Endpoint, StreamCommand};
use crate::ui::Target;
use crate::ui::time::Zone;
use crate::view::Export;

pub(super) async fn demo(settings: Settings, sim: SimArgs) -> Result<ExitCode> {
    let mut fleet = Watched::simulated(&settings, &sim).await?;
    // The fleet view is not wired into the TUI yet: the first agent.
    monitor(fleet.swap_remove(0), settings).await
}

pub(super) async fn watch(settings: Settings) -> Result<ExitCode> {
    let mut fleet = Watched::server(&settings)?;
    monitor(fleet.swap_remove(0), settings).await
}

async fn monitor(watched: Watched, settings: Settings) -> Result<ExitCode> {
    let mut pipeline = Pipeline::start(std::slice::from_ref(&watched), &settings).await?;
    let mut app = App::new(Monitor::new(watched.thresholds.clone()), target(&watched));
    app.view.zone = Zone::from_utc_setting(settings.utc.value);
    let (commands, command_rx) = mpsc::channel(16);
    let handler = handle_commands(command_rx, &pipeline, watched.endpoint.clone());
    let observations = std::mem::replace(&mut pipeline.observations, mpsc::channel(1).1);
    // A live source has nothing to announce: the notice channel starts closed.
    let notices = mpsc::channel(1).1;
    let context = watched.report_context(&settings);
    let result = run_tui(&mut app, observations, notices, commands, &context).await;
    handler.abort();
    pipeline.finish().await?;
    drop(watched);
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Carries out what the user asks of a live source: reconnect now, or send a probe message.
fn handle_commands(
    mut commands: mpsc::Receiver<AppCommand>,
    pipeline: &Pipeline,
    endpoint: Endpoint,
) -> JoinHandle<()> {
    let stream_commands = pipeline.stream_commands[0].clone();
    let inject = pipeline.inject.clone();
    let clock = pipeline.clock;
    tokio::spawn(async move {
        while let Some(cmd) = commands.recv().await {
            match cmd {
                AppCommand::Reconnect => {
                    let _ = stream_commands.try_send(StreamCommand::ReconnectNow);
                }
                AppCommand::Probe => {
                    let (endpoint, inject) = (endpoint.clone(), inject.clone());
                    tokio::spawn(async move {
                        for obs in source::send_probe(&endpoint, clock).await {
                            let _ = inject.send(obs).await;
                        }
                    });
                }
                AppCommand::ReplayPause | AppCommand::ReplayStep | AppCommand::ReplayJump(_) => {}
            }
        }
    })
}

fn target(watched: &Watched) -> Target {
    Target {
        base_url: record::without_userinfo(&watched.endpoint.base_url),
        agent: watched.endpoint.agent.clone(),
        key_masked: watched.endpoint.api_key.masked(),
        mode: watched.origin.to_string(),
        expected_heartbeat: (
            watched.thresholds.heartbeat_min,
            watched.thresholds.heartbeat_max,
        ),
    }
}

/// The TUI over `observations` (and `notices` for the footer) until the user quits or SIGTERM;
/// the terminal is restored on every path.
pub(super) async fn run_tui(
    app: &mut App,
    observations: mpsc::Receiver<Observation>,
    notices: mpsc::Receiver<String>,
    commands: mpsc::Sender<AppCommand>,
    context: &ReportContext,
) -> Result<()> {
    let mut terminal = crate::terminal::enter().wrap_err("could not take over the terminal")?;
    let events = crossterm::event::EventStream::new();
    let export = |app: &App, what| match what {
        Export::Report => export::status(app, context),
        Export::EventLog => export_log::status(&app.monitor),
    };
    let outcome = tokio::select! {
        r = app::run(&mut terminal, app, observations, notices, events, commands, export) => r,
        () = super::terminated() => Ok(()),
    };
    crate::terminal::restore();
    outcome
}
