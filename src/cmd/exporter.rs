//! `exporter`: headless; every watched agent's model exposed for Prometheus on `/metrics`, and
//! `/healthz`. Past one machine, shard agents over exporters and federate in Prometheus.

use color_eyre::eyre::{Result, WrapErr};
use std::process::ExitCode;
use std::sync::PoisonError;

use super::pipeline::{Pipeline, Watched};
use crate::cli::{ExporterArgs, SimArgs};
use crate::config::Settings;
use crate::exporter::{self, Exposed, Shared};

/// Observations folded in per lock of the shared models: a flood does not take the lock once per
/// event, and a scrape never waits behind more than one batch.
const BATCH: usize = 1024;

pub(super) async fn run(settings: Settings, args: ExporterArgs) -> Result<ExitCode> {
    raise_open_files_limit();
    let watched = watched(&settings, &args).await?;
    let mut exposed = Exposed::new();
    for w in &watched {
        exposed.add(
            w.endpoint.agent.clone(),
            exporter::monitor(w.thresholds.clone()),
        );
    }
    let shared = exposed.shared();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .wrap_err_with(|| format!("could not listen on {}", args.listen))?;
    let address = listener.local_addr().unwrap_or(args.listen);
    super::print_out(format!(
        "inboxtop exporter: {} agent(s), metrics on http://{address}/metrics\n",
        watched.len()
    ));
    let server = tokio::spawn(exporter::serve(listener, shared.clone()));
    let mut pipeline = Pipeline::start(&watched, &settings)?;
    tokio::select! {
        () = fold(&mut pipeline, &shared) => {}
        _ = tokio::signal::ctrl_c() => {}
        () = super::terminated() => {}
    }
    server.abort();
    pipeline.finish().await?;
    drop(watched);
    Ok(ExitCode::SUCCESS)
}

/// The simulated fleet of `--scenario`/`--agents`, or the configured server.
async fn watched(settings: &Settings, args: &ExporterArgs) -> Result<Vec<Watched>> {
    if args.scenarios.is_empty() {
        return Watched::server(settings);
    }
    let sim = SimArgs {
        scenarios: args.scenarios.clone(),
        agents: args.agents,
        time_scale: args.time_scale,
        heartbeat_interval: args.heartbeat_interval,
        ..SimArgs::default()
    };
    Watched::simulated(settings, &sim).await
}

/// Every observation into the shared models, a batch per lock.
async fn fold(pipeline: &mut Pipeline, shared: &Shared) {
    let mut batch = Vec::with_capacity(BATCH);
    while pipeline.observations.recv_many(&mut batch, BATCH).await > 0 {
        let mut exposed = shared.lock().unwrap_or_else(PoisonError::into_inner);
        for obs in batch.drain(..) {
            exposed.apply(&obs);
        }
    }
}

/// A fleet needs two connections and, simulated, a listener per agent: raise the soft limit on
/// open files to the hard limit, and say so when even that is too low for the fleet.
pub(super) fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => warn_if_too_few_open_files(limit),
        Err(e) => eprintln!("inboxtop: could not raise the open-files limit: {e}"),
    }
}

/// Below this many open files a large fleet will fail to connect; say so up front.
const FEW_OPEN_FILES: u64 = 4096;

fn warn_if_too_few_open_files(limit: u64) {
    if limit < FEW_OPEN_FILES {
        eprintln!(
            "inboxtop: the open-files limit is {limit} (the hard limit): a fleet needs about 3 per \
             simulated agent and 2 per real one; raise it with `ulimit -Hn` or LimitNOFILE="
        );
    }
}
