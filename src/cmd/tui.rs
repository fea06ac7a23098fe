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
use crate::fleet::Fleet;
use crate::monitor::Monitor;
use crate::observation::{AgentIx, Observation};
use crate::record;
use crate::report::ReportContext;
use crate::source::{self, Endpoint, StreamCommand};
use crate::ui::Target;
use crate::ui::time::Zone;
use crate::view::Export;

pub(super) async fn demo(settings: Settings, sim: SimArgs) -> Result<ExitCode> {
    let fleet = Watched::simulated(&settings, &sim).await?;
    monitor(fleet, settings).await
}

pub(super) async fn watch(settings: Settings) -> Result<ExitCode> {
    let fleet = Watched::server(&settings)?;
    monitor(fleet, settings).await
}

/// The TUI over every watched agent: the fleet view first when there are several.
async fn monitor(watched: Vec<Watched>, settings: Settings) -> Result<ExitCode> {
    let mut pipeline = Pipeline::start(&watched, &settings)?;
    let mut fleet = Fleet::new();
    for w in &watched {
        fleet.add(w.endpoint.agent.clone(), Monitor::new(w.thresholds.clone()));
    }
    let recorder_lost = pipeline.recorder_lost();
    let targets = watched
        .iter()
        .map(|w| Target {
            recorder_lost: recorder_lost.clone(),
            ..target(w)
        })
        .collect();
    let mut app = App::new(fleet, targets);
    app.view.zone = Zone::from_utc_setting(settings.utc.value);
    let (commands, command_rx) = mpsc::channel(16);
    let endpoints = watched.iter().map(|w| w.endpoint.clone()).collect();
    let handler = handle_commands(command_rx, &pipeline, endpoints);
    let observations = std::mem::replace(&mut pipeline.observations, mpsc::channel(1).1);
    // A live source has nothing to announce: the notice channel starts closed.
    let notices = mpsc::channel(1).1;
    let context = match watched.first() {
        Some(first) => first.report_context(&settings),
        None => return Ok(ExitCode::SUCCESS),
    };
    let result = run_tui(&mut app, observations, notices, commands, &context).await;
    handler.abort();
    pipeline.finish().await?;
    drop(watched);
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Carries out what the user asks of a live source, for the agent it names (an index into
/// `endpoints` and the pipeline's stream commands): reconnect now, or send a probe message.
fn handle_commands(
    mut commands: mpsc::Receiver<AppCommand>,
    pipeline: &Pipeline,
    endpoints: Vec<Endpoint>,
) -> JoinHandle<()> {
    let stream_commands = pipeline.stream_commands.clone();
    let inject = pipeline.inject.clone();
    let clock = pipeline.clock;
    tokio::spawn(async move {
        while let Some(cmd) = commands.recv().await {
            match cmd {
                AppCommand::Reconnect(ix) => {
                    if let Some(stream) = stream_commands.get(ix) {
                        let _ = stream.try_send(StreamCommand::ReconnectNow);
                    }
                }
                AppCommand::Probe(ix) => {
                    let Some(endpoint) = endpoints.get(ix).cloned() else {
                        continue;
                    };
                    let agent_clock =
                        clock.for_agent(AgentIx::try_from(ix).unwrap_or(AgentIx::MAX));
                    let inject = inject.clone();
                    tokio::spawn(async move {
                        for obs in source::send_probe(&endpoint, agent_clock).await {
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
        mode: if watched.thresholds.expect_stream {
            watched.origin.to_string()
        } else {
            format!("{} · peek only (--no-stream)", watched.origin)
        },
        expected_heartbeat: (
            watched.thresholds.heartbeat_min,
            watched.thresholds.heartbeat_max,
        ),
        proxy: source::proxy_for(&watched.endpoint.base_url),
        recorder_lost: None,
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
        // The report is about the agent on screen.
        Export::Report => export::status(app, &context.clone().for_agent(app.agent_id())),
        Export::EventLog => export_log::status(app.monitor()),
    };
    let outcome = tokio::select! {
        r = app::run(&mut terminal, app, observations, notices, events, commands, export) => r,
        () = super::terminated() => Ok(()),
    };
    crate::terminal::restore();
    outcome
}
