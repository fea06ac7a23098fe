//! `check`: watch headless for a while (or read a recording), then print the verdict with its
//! evidence. The exit code is the verdict's, in the Monitoring Plugins convention: 0 OK,
//! 1 WARNING, 2 CRITICAL, 3 UNKNOWN — and a check that could not run is UNKNOWN too.

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use std::path::Path;
use std::process::ExitCode;

use super::export;
use super::pipeline::{Pipeline, Watched};
use crate::cli::{CheckArgs, SimArgs};
use crate::config::Settings;
use crate::monitor::Monitor;
use crate::monitor::verdict::judge;
use crate::record::Reader;
use crate::report::{self, Format, ReportContext};

/// The exit code of a command that could not run: UNKNOWN in the Monitoring Plugins convention
/// (`Verdict::Unknown.exit_code()`), for `check` and every other command alike.
pub const EXIT_COULD_NOT_RUN: u8 = 3;

pub(super) async fn run(settings: Settings, args: CheckArgs) -> Result<ExitCode> {
    let (monitor, context) = match observe(&settings, &args).await {
        Ok(observed) => observed,
        Err(reason) => return Ok(could_not_run(&reason, args.format)),
    };
    let judgement = judge(&monitor);
    let text = report::render(&monitor, &judgement, &context, args.format);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).wrap_err_with(|| format!("writing {}", path.display()))?
        }
        None => super::print_out(&text),
    }
    Ok(ExitCode::from(judgement.verdict.exit_code()))
}

/// Says why on stderr and, for a monitoring system reading the plugin line, on stdout too.
fn could_not_run(reason: &color_eyre::Report, format: Format) -> ExitCode {
    eprintln!("inboxtop: could not run: {reason:#}");
    if format == Format::Plugin {
        let reason = crate::sanitize::line(&format!("{reason:#}")).replace('|', "/");
        super::print_out(format!("INBOXTOP UNKNOWN - could not run: {reason}\n"));
    }
    ExitCode::from(EXIT_COULD_NOT_RUN)
}

/// The model of the window (or the recording), and where it came from; an error when there is
/// nothing a verdict could be about.
async fn observe(settings: &Settings, args: &CheckArgs) -> Result<(Monitor, ReportContext)> {
    let (monitor, context) = match &args.from {
        Some(path) => judge_recording(path, settings)?,
        None => watch_headless(settings, args).await?,
    };
    if monitor.observations == 0 {
        bail!("nothing was observed");
    }
    if args.from.is_none() && unreachable_throughout(&monitor) {
        bail!(
            "the server never answered ({})",
            first_network_error(&monitor)
        );
    }
    Ok((monitor, context))
}

/// No request ever got an HTTP answer: the verdict would be about our network, not the server.
fn unreachable_throughout(m: &Monitor) -> bool {
    m.net_errors.total() > 0
        && m.connection.sessions.iter().all(|s| s.status.is_none())
        && m.inbox.polls == 0
        && m.http_errors.total() == 0
}

fn first_network_error(m: &Monitor) -> String {
    m.net_errors
        .iter()
        .next()
        .map(|e| format!("{}: {}", e.class.label(), crate::sanitize::line(&e.error)))
        .unwrap_or_default()
}

/// The server (or the simulator with `--scenario`) through the model for `--duration`, or until
/// Ctrl-C or SIGTERM.
async fn watch_headless(settings: &Settings, args: &CheckArgs) -> Result<(Monitor, ReportContext)> {
    let (watched, real_duration) = if args.scenarios.is_empty() {
        (Watched::server(settings)?.swap_remove(0), args.duration)
    } else {
        let sim = SimArgs {
            scenarios: args.scenarios.clone(),
            agents: args.agents,
            time_scale: args.time_scale,
            ..SimArgs::default()
        };
        let mut fleet = Watched::simulated(settings, &sim).await?;
        (fleet.swap_remove(0), args.duration.div_f64(args.time_scale))
    };
    let mut pipeline = Pipeline::start(std::slice::from_ref(&watched), settings).await?;
    let mut monitor = Monitor::new(watched.thresholds.clone());
    let deadline = tokio::time::sleep(real_duration);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            obs = pipeline.observations.recv() => match obs {
                Some(obs) => monitor.apply(&obs),
                None => break,
            },
            () = &mut deadline => break,
            _ = tokio::signal::ctrl_c() => break,
            () = super::terminated() => break,
        }
    }
    // Whatever the sources had observed by now is judged too (and is what the recording holds).
    pipeline.stop_sources().await;
    while let Some(obs) = pipeline.observations.recv().await {
        monitor.apply(&obs);
    }
    pipeline.finish().await?;
    let context = watched.report_context(settings).asked_for(args.duration);
    drop(watched);
    Ok((monitor, context))
}

/// `check --from FILE`: the recording through the model, with the recorded thresholds. A bad
/// line is reported, and the valid part before it is judged.
fn judge_recording(path: &Path, settings: &Settings) -> Result<(Monitor, ReportContext)> {
    let reader = Reader::open(path).map_err(|e| eyre!("{e}"))?;
    let header = reader.header.clone();
    let mut monitor = Monitor::new(header.thresholds(&settings.thresholds()));
    for item in reader {
        match item {
            Ok(obs) => monitor.apply(&obs),
            Err(e) => {
                eprintln!(
                    "inboxtop: {e} (judging the {} observations before it)",
                    monitor.observations
                );
                break;
            }
        }
    }
    Ok((monitor, export::recording_context(path, &header)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Verdict;

    #[test]
    fn could_not_run_is_unknown() {
        assert_eq!(EXIT_COULD_NOT_RUN, Verdict::Unknown.exit_code());
    }
}
