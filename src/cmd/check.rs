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
use crate::fleet::Fleet;
use crate::monitor::Monitor;
use crate::record::{Reader, checkpoint};
use crate::report::{self, Format, Member, ReportContext};

/// The exit code of a command that could not run: UNKNOWN in the Monitoring Plugins convention
/// (`Verdict::Unknown.exit_code()`), for `check` and every other command alike.
pub const EXIT_COULD_NOT_RUN: u8 = 3;

pub(super) async fn run(settings: Settings, args: CheckArgs) -> Result<ExitCode> {
    let observed = match observe(&settings, &args).await {
        Ok(observed) => observed,
        Err(reason) => return Ok(could_not_run(&reason, args.format)),
    };
    let judgements = observed.fleet.judgements();
    let members: Vec<Member> = observed
        .fleet
        .agents()
        .iter()
        .zip(&judgements)
        .zip(&observed.contexts)
        .map(|((agent, judgement), ctx)| Member {
            monitor: &agent.monitor,
            judgement,
            ctx,
        })
        .collect();
    let text = report::render_fleet(&members, args.format);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).wrap_err_with(|| format!("writing {}", path.display()))?;
        }
        None => super::print_out(&text),
    }
    Ok(ExitCode::from(Fleet::worst(&judgements).exit_code()))
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

/// Every agent's model of the window (or the recording), and where each was watched (by index).
struct Observed {
    fleet: Fleet,
    contexts: Vec<ReportContext>,
}

/// The models of the window (or the recording); an error when there is nothing a verdict could
/// be about: nothing observed, or no agent's server ever answered.
async fn observe(settings: &Settings, args: &CheckArgs) -> Result<Observed> {
    let observed = match &args.from {
        Some(path) => judge_recording(path, settings)?,
        None => watch_headless(settings, args).await?,
    };
    let monitors = || observed.fleet.agents().iter().map(|a| &a.monitor);
    if monitors().all(|m| m.observations == 0) {
        bail!("nothing was observed");
    }
    if args.from.is_none() && monitors().all(unreachable_throughout) {
        let first = monitors()
            .next()
            .map(first_network_error)
            .unwrap_or_default();
        bail!("the server never answered ({first})");
    }
    Ok(observed)
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

/// The configured agents (or the simulated fleet with `--scenario`) through their models for
/// `--duration`, or until Ctrl-C or SIGTERM.
async fn watch_headless(settings: &Settings, args: &CheckArgs) -> Result<Observed> {
    let (watched, real_duration) = if args.scenarios.is_empty() {
        (Watched::server(settings)?, args.duration)
    } else {
        let sim = SimArgs {
            scenarios: args.scenarios.clone(),
            agents: args.agents,
            time_scale: args.time_scale,
            ..SimArgs::default()
        };
        let fleet = Watched::simulated(settings, &sim).await?;
        (fleet, args.duration.div_f64(args.time_scale))
    };
    let mut pipeline = Pipeline::start(&watched, settings)?;
    let mut fleet = Fleet::new();
    for w in &watched {
        fleet.add(w.endpoint.agent.clone(), Monitor::new(w.thresholds.clone()));
    }
    let probes = send_probes(args.probe, real_duration, &watched, &pipeline);
    let deadline = tokio::time::sleep(real_duration);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            obs = pipeline.observations.recv() => match obs {
                Some(obs) => { fleet.apply(&obs); }
                None => break,
            },
            () = &mut deadline => break,
            _ = tokio::signal::ctrl_c() => break,
            () = super::terminated() => break,
        }
    }
    probes.abort();
    // Whatever the sources had observed by now is judged too (and is what the recording holds).
    pipeline.stop_sources().await;
    while let Some(obs) = pipeline.observations.recv().await {
        fleet.apply(&obs);
    }
    pipeline.finish().await?;
    let contexts = watched
        .iter()
        .map(|w| w.report_context(settings).asked_for(args.duration))
        .collect();
    drop(watched);
    Ok(Observed { fleet, contexts })
}

/// `--probe N`: N probes spread over the first half of the window, so each has the second half
/// (at least the delivery grace, for any window worth judging) to come back.
/// Each agent of a fleet gets its own probes, stamped as its own observations.
fn send_probes(
    count: u32,
    window: std::time::Duration,
    watched: &[Watched],
    pipeline: &Pipeline,
) -> tokio::task::JoinHandle<()> {
    let agents: Vec<_> = watched
        .iter()
        .enumerate()
        .map(|(ix, w)| {
            let ix = crate::observation::AgentIx::try_from(ix).unwrap_or(u32::MAX);
            (w.endpoint.clone(), pipeline.clock.for_agent(ix))
        })
        .collect();
    let inject = pipeline.inject.clone();
    tokio::spawn(async move {
        let gap = window.div_f64(2.0 * f64::from(count.max(1)));
        for _ in 0..count {
            tokio::time::sleep(gap).await;
            for (endpoint, clock) in &agents {
                for obs in crate::source::send_probe(endpoint, *clock).await {
                    if inject.send(obs).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// `check --from FILE`: the recording through one model per recorded agent, with the recorded
/// thresholds. A bad line is reported, and the valid part before it is judged.
fn judge_recording(path: &Path, settings: &Settings) -> Result<Observed> {
    let reader = Reader::open(path).map_err(|e| eyre!("{e}"))?;
    let header = reader.header.clone();
    let thresholds = header.thresholds(&settings.thresholds());
    let mut fleet = checkpoint::fresh_fleet(&header, &thresholds);
    let contexts = header
        .agent_ids()
        .iter()
        .map(|id| export::recording_context(path, &header).for_agent(id))
        .collect();
    let mut read = 0u64;
    let mut recorded = reader.read_ahead().map_err(|e| eyre!("{e}"))?;
    while let Some(entry) = recorded.next_entry() {
        match entry {
            Ok(obs) => {
                fleet.apply(obs);
                read += 1;
            }
            Err(e) => {
                eprintln!("inboxtop: {e} (judging the {read} observations before it)");
                break;
            }
        }
    }
    Ok(Observed { fleet, contexts })
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
