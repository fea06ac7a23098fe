//! `exporter`: headless; every watched agent's model exposed for Prometheus on `/metrics`, and
//! `/healthz`. Past one machine, shard agents over exporters and federate in Prometheus.

use color_eyre::eyre::{Result, WrapErr};
use std::process::ExitCode;
use std::sync::{PoisonError, TryLockError};
use tokio::sync::mpsc;

use super::pipeline::{Pipeline, Watched};
use crate::cli::{ExporterArgs, SimArgs};
use crate::config::Settings;
use crate::exporter::{self, Exposed, Shared};
use crate::observation::Observation;

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
        () = fold(&mut pipeline.observations, &shared) => {}
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

/// Every observation into the shared models, a batch per lock. The exporter's runtime is one
/// thread (see `main`), which must not wait behind a scrape holding the lock (tens of
/// milliseconds at 1 000 agents): while one does, observations queue up in the batch (folded with
/// the next one to arrive, at the latest the next tick), and only a full batch waits for the lock.
async fn fold(observations: &mut mpsc::Receiver<Observation>, shared: &Shared) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let room = BATCH - batch.len();
        if observations.recv_many(&mut batch, room).await == 0 {
            break;
        }
        let mut exposed = match shared.try_lock() {
            Ok(exposed) => exposed,
            Err(TryLockError::WouldBlock) if batch.len() < BATCH => continue,
            Err(TryLockError::WouldBlock) => shared.lock().unwrap_or_else(PoisonError::into_inner),
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
        };
        fold_in(&mut exposed, &mut batch);
    }
    fold_in(
        &mut shared.lock().unwrap_or_else(PoisonError::into_inner),
        &mut batch,
    );
}

fn fold_in(exposed: &mut Exposed, batch: &mut Vec<Observation>) {
    for obs in batch.drain(..) {
        exposed.apply(&obs);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Thresholds;
    use crate::observation::{Kind, Mono};
    use std::time::Duration;

    fn tick(ms: u64) -> Observation {
        Observation::new(Mono::from_millis(ms), chrono::Utc::now(), Kind::Tick)
    }

    /// The test's runtime is one thread, as the exporter's: were the fold to wait for the lock,
    /// this test could not let the scrape go, and the scrape would give up on its own.
    #[tokio::test]
    async fn a_scrape_holding_the_lock_does_not_stop_the_runtime() {
        let mut exposed = Exposed::new();
        exposed.add("a", exporter::monitor(Thresholds::default()));
        let shared = exposed.shared();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let scraped = shared.clone();
        let scrape = std::thread::spawn(move || {
            let _guard = scraped.lock().unwrap();
            locked.send(()).unwrap();
            released.recv_timeout(Duration::from_secs(5)).is_ok()
        });
        is_locked.recv().unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let folded = shared.clone();
        let folding = tokio::spawn(async move { fold(&mut rx, &folded).await });
        for ms in 1..=3 {
            tx.send(tick(ms)).await.unwrap();
            tokio::task::yield_now().await;
        }
        // Fails once the scrape gave up waiting: the assertion below says why.
        let _ = release.send(());
        assert!(
            scrape.join().unwrap(),
            "the runtime waited for the scrape's lock"
        );
        tx.send(tick(4)).await.unwrap();
        drop(tx);
        folding.await.unwrap();
        let exposed = shared.lock().unwrap();
        let model = &exposed.fleet().get(0).unwrap().monitor;
        assert_eq!(
            model.elapsed(),
            Duration::from_millis(4),
            "every tick folded in"
        );
    }
}
