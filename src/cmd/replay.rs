//! `replay`: a recording in the TUI, at any speed, with pause, step and jump. How the replay
//! ended — every observation sent, or a broken line — is shown in the footer as it happens.

use color_eyre::eyre::{Result, eyre};
use std::process::ExitCode;
use tokio::sync::mpsc;

use super::export;
use super::pipeline::CHANNEL;
use super::tui::run_tui;
use crate::app::{App, Command as AppCommand};
use crate::cli::ReplayArgs;
use crate::config::Settings;
use crate::monitor::Thresholds;
use crate::record::{Header, Reader};
use crate::source::replay::{ReplayCommand, ReplayEnd, land_fleet, run_replay};
use crate::ui::Target;
use crate::ui::time::Zone;

pub(super) async fn run(settings: Settings, args: ReplayArgs) -> Result<ExitCode> {
    let reader = Reader::open(&args.file).map_err(|e| eyre!("{e}"))?;
    let header = reader.header.clone();
    let thresholds = header.thresholds(&settings.thresholds());
    let context = export::recording_context(&args.file, &header);
    let targets = header
        .agent_ids()
        .iter()
        .map(|id| target(&args, &header, id, &thresholds))
        .collect();
    // Land before the TUI starts: the models fold everything before `--from` at full speed,
    // from the recording's latest checkpoint before it when there is one. A fleet recording
    // replays as a fleet: one model per recorded agent.
    let from = args.from.unwrap_or_default();
    if !from.is_zero() {
        eprintln!("inboxtop: landing {} s into the recording…", from.as_secs());
    }
    let (fleet, landing, recorded) =
        tokio::task::spawn_blocking(move || land_fleet(reader, &thresholds, from))
            .await?
            .map_err(|e| eyre!("{e}"))?;
    let mut app = App::new(fleet, targets);
    app.view.replay = true;
    app.view.zone = Zone::from_utc_setting(settings.utc.value);
    let (tx, observations) = mpsc::channel(CHANNEL);
    let (replay_tx, replay_rx) = mpsc::channel(16);
    let (notice_tx, notices) = mpsc::channel(1);
    let speed = args.speed;
    let player = tokio::spawn(async move {
        let end = run_replay(landing, recorded, speed, tx, replay_rx).await;
        if let Some(notice) = notice(&end) {
            let _ = notice_tx.send(notice).await;
        }
        end
    });
    let (commands, mut command_rx) = mpsc::channel(16);
    let forward = tokio::spawn(async move {
        while let Some(cmd) = command_rx.recv().await {
            let replay_cmd = match cmd {
                AppCommand::ReplayPause => ReplayCommand::TogglePause,
                AppCommand::ReplayStep => ReplayCommand::Step,
                AppCommand::ReplayJump(d) => ReplayCommand::Jump(d),
                AppCommand::Reconnect(_) | AppCommand::Probe(_) => continue,
            };
            let _ = replay_tx.try_send(replay_cmd);
        }
    });
    let outcome = run_tui(&mut app, observations, notices, commands, &context).await;
    forward.abort();
    outcome?;
    if !player.is_finished() {
        player.abort();
    } else if let Ok(ReplayEnd::Broken { error, sent }) = player.await {
        eprintln!("inboxtop: {error} (replayed the {sent} observations before it)");
    }
    Ok(ExitCode::SUCCESS)
}

/// What the footer says when the replay ends by itself.
fn notice(end: &ReplayEnd) -> Option<String> {
    match end {
        ReplayEnd::Finished { sent } => Some(format!("replay finished: {sent} observations")),
        ReplayEnd::Broken { sent, error } => Some(format!(
            "recording broken at line {}: {} (replayed the {sent} observations before it)",
            error.line, error.message
        )),
        ReplayEnd::Stopped { .. } => None,
    }
}

fn target(args: &ReplayArgs, header: &Header, agent: &str, thresholds: &Thresholds) -> Target {
    Target {
        base_url: header.base_url.clone(),
        agent: agent.to_owned(),
        key_masked: "(not recorded)".into(),
        mode: match args.speed {
            0.0 => format!("replay: {} (max speed)", args.file.display()),
            speed => format!("replay: {} ({speed}×)", args.file.display()),
        },
        expected_heartbeat: (thresholds.heartbeat_min, thresholds.heartbeat_max),
        proxy: None,
        recorder_lost: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ReadError;

    #[test]
    fn the_footer_names_the_broken_line_and_its_error() {
        let broken = ReplayEnd::Broken {
            sent: 2,
            error: ReadError {
                path: "r.ndjson".into(),
                line: 4,
                message: "not an observation: expected value".into(),
            },
        };
        assert_eq!(
            notice(&broken).as_deref(),
            Some(
                "recording broken at line 4: not an observation: expected value \
                 (replayed the 2 observations before it)"
            )
        );
        assert_eq!(
            notice(&ReplayEnd::Finished { sent: 9 }).as_deref(),
            Some("replay finished: 9 observations")
        );
        assert_eq!(notice(&ReplayEnd::Stopped { sent: 1 }), None);
    }
}
