//! `replay`: a recording in the TUI, at any speed, with pause, step and jump.

use color_eyre::eyre::{Result, eyre};
use std::process::ExitCode;
use tokio::sync::mpsc;

use super::export;
use super::pipeline::CHANNEL;
use super::tui::run_tui;
use crate::app::{App, Command as AppCommand};
use crate::cli::ReplayArgs;
use crate::config::Settings;
use crate::monitor::{Monitor, Thresholds};
use crate::record::{Header, Reader};
use crate::source::replay::{ReplayCommand, ReplayEnd, run_replay};
use crate::ui::Target;

pub(super) async fn run(settings: Settings, args: ReplayArgs) -> Result<ExitCode> {
    let reader = Reader::open(&args.file).map_err(|e| eyre!("{e}"))?;
    let header = reader.header.clone();
    let thresholds = header.thresholds(&settings.thresholds());
    let context = export::recording_context(&args.file, &header);
    let mut app = App::new(
        Monitor::new(thresholds.clone()),
        target(&args, &header, &thresholds),
    );
    app.view.replay = true;
    let (tx, observations) = mpsc::channel(CHANNEL);
    let (replay_tx, replay_rx) = mpsc::channel(16);
    let player = tokio::spawn(run_replay(
        reader,
        args.speed,
        args.from.unwrap_or_default(),
        tx,
        replay_rx,
    ));
    let (commands, mut command_rx) = mpsc::channel(16);
    let forward = tokio::spawn(async move {
        while let Some(cmd) = command_rx.recv().await {
            let replay_cmd = match cmd {
                AppCommand::ReplayPause => ReplayCommand::TogglePause,
                AppCommand::ReplayStep => ReplayCommand::Step,
                AppCommand::ReplayJump(d) => ReplayCommand::Jump(d),
                AppCommand::Reconnect | AppCommand::Probe => continue,
            };
            let _ = replay_tx.try_send(replay_cmd);
        }
    });
    let outcome = run_tui(&mut app, observations, commands, &context).await;
    forward.abort();
    outcome?;
    if !player.is_finished() {
        player.abort();
    } else if let Ok(ReplayEnd::Broken { error, sent }) = player.await {
        eprintln!("inboxtop: {error} (replayed the {sent} observations before it)");
    }
    Ok(ExitCode::SUCCESS)
}

fn target(args: &ReplayArgs, header: &Header, thresholds: &Thresholds) -> Target {
    Target {
        base_url: header.base_url.clone(),
        agent: header.agent.clone(),
        key_masked: "(not recorded)".into(),
        mode: match args.speed {
            0.0 => format!("replay: {} (max speed)", args.file.display()),
            speed => format!("replay: {} ({speed}×)", args.file.display()),
        },
        expected_heartbeat: (thresholds.heartbeat_min, thresholds.heartbeat_max),
    }
}
