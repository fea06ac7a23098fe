//! The pipeline every monitoring command shares: sources → observation channel → (recorder tee) →
//! consumer, plus the tick source, and what is being watched (the embedded simulator or a server).

use color_eyre::eyre::{Result, WrapErr, eyre};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::export;
use crate::cli::SimArgs;
use crate::config::{Settings, Source};
use crate::monitor::Thresholds;
use crate::observation::{Clock, Kind, Observation};
use crate::record::{self, Header, Recorder};
use crate::report::ReportContext;
use crate::secret::ApiKey;
use crate::sim::{self, SimConfig, SimHandle};
use crate::source::{self, Endpoint, PollSettings, StreamCommand, StreamSettings, Trust};

/// Observations in flight between the sources and the model. Sources wait when it is full
/// (backpressure onto TCP), they never drop.
pub(super) const CHANNEL: usize = 8192;

/// What is being watched, and how to label it.
pub(super) struct Watched {
    pub endpoint: Endpoint,
    pub mode: String,
    pub thresholds: Thresholds,
    /// Simulated seconds per real second (1 for a real server): source timings scale with it.
    time_scale: f64,
    /// Keeps the embedded simulator alive for as long as it is watched: dropping it stops it.
    _sim: Option<SimHandle>,
}

impl Watched {
    /// The embedded simulator on a free loopback port, with thresholds that fit it.
    pub async fn simulator(settings: &Settings, args: &SimArgs) -> Result<Watched> {
        let handle = sim::start(
            sim_config(args, "demo", "demo"),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        )
        .await
        .wrap_err("could not start the embedded simulator on loopback")?;
        Ok(Watched {
            endpoint: endpoint_for(&handle.base_url(), "demo", ApiKey::new("demo"), settings)?,
            mode: format!("demo: {}", args.scenario),
            thresholds: sim_thresholds(settings, args),
            time_scale: args.time_scale,
            _sim: Some(handle),
        })
    }

    /// The configured server; says which setting is missing if it cannot be reached.
    pub fn server(settings: &Settings) -> Result<Watched> {
        let base_url = settings.base_url.value.as_deref().ok_or_else(|| {
            eyre!(
                "no server: give --base-url (or INBOXTOP_BASE_URL, or base_url in the config file)"
            )
        })?;
        let agent = settings.agent.value.as_deref().ok_or_else(|| {
            eyre!("no agent: give --agent (or INBOXTOP_AGENT, or agent in the config file)")
        })?;
        let key = settings.api_key.value.clone().ok_or_else(|| {
            eyre!(
                "no API key: set INBOXTOP_API_KEY, or use --api-key-file, or api_key in the config file"
            )
        })?;
        Ok(Watched {
            endpoint: endpoint_for(base_url, agent, key, settings)?,
            mode: "live".into(),
            thresholds: settings.thresholds(),
            time_scale: 1.0,
            _sim: None,
        })
    }

    pub fn report_context(&self) -> ReportContext {
        export::report_context(&self.endpoint.base_url, &self.endpoint.agent, &self.mode)
    }

    fn recording_header(&self) -> Header {
        Header::new(
            &self.endpoint.base_url,
            &self.endpoint.agent,
            &self.mode,
            &self.thresholds,
        )
    }
}

/// The simulator's configuration from its flags.
pub(super) fn sim_config(args: &SimArgs, agent: &str, key: &str) -> SimConfig {
    SimConfig {
        scenario: args.scenario,
        agent: agent.into(),
        api_key: key.into(),
        heartbeat_interval: args.heartbeat_interval,
        peer_interval: args.peer_interval,
        time_scale: args.time_scale,
        seed: args.seed,
    }
}

/// Thresholds for watching the simulator: the expected heartbeat is the simulator's interval (up
/// to twice it) unless the user chose one — by flag or in the config file — and every threshold
/// runs at the simulator's pace.
fn sim_thresholds(settings: &Settings, args: &SimArgs) -> Thresholds {
    let mut thresholds = settings.thresholds();
    if settings.expect_heartbeat.source == Source::Default {
        thresholds.heartbeat_min = args.heartbeat_interval;
        thresholds.heartbeat_max = args.heartbeat_interval * 2;
    }
    thresholds.scaled(args.time_scale)
}

fn endpoint_for(base_url: &str, agent: &str, key: ApiKey, settings: &Settings) -> Result<Endpoint> {
    let mut endpoint = Endpoint::new(base_url, agent, key).map_err(|e| eyre!(e))?;
    endpoint.agent_header = settings.agent_header.value.clone();
    endpoint.stream_path = settings.stream_path.value.clone();
    endpoint.peek_path = settings.peek_path.value.clone();
    endpoint.trust = Trust::new(settings.ca_cert.value.as_deref()).map_err(|e| eyre!(e))?;
    Ok(endpoint)
}

/// The running sources and the channel their observations arrive on.
pub(super) struct Pipeline {
    pub observations: mpsc::Receiver<Observation>,
    /// For observations made outside the sources (a probe's result).
    pub inject: mpsc::Sender<Observation>,
    pub stream_commands: mpsc::Sender<StreamCommand>,
    recorder: Option<(Recorder, JoinHandle<std::io::Result<u64>>)>,
    /// The sources (stream, poll, tick).
    tasks: Vec<JoinHandle<()>>,
    /// Copies observations to the recorder; ends once every source has stopped.
    tee: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the stream, poll and tick sources against `watched`, and the recording if
    /// `--record` asks for one.
    pub async fn start(watched: &Watched, settings: &Settings) -> Result<Pipeline> {
        let clock = Clock::start();
        let (raw_tx, raw_rx) = mpsc::channel(CHANNEL);
        let (cmd_tx, cmd_rx) = mpsc::channel(8);
        let scale = |d: Duration| d.div_f64(watched.time_scale).max(Duration::from_millis(20));
        let defaults = StreamSettings::default();
        let stream_settings = StreamSettings {
            backoff_initial: scale(defaults.backoff_initial),
            backoff_cap: scale(settings.backoff_cap.value),
            stable_after: scale(defaults.stable_after),
            read_timeout: scale(defaults.read_timeout),
            max_line_bytes: settings.max_event_bytes.value,
            ..defaults
        };
        let poll_settings = PollSettings {
            interval: scale(settings.poll_interval.value).max(Duration::from_millis(100)),
            ..PollSettings::default()
        };
        let tick_every = (watched.thresholds.heartbeat_min / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        let tasks = vec![
            tokio::spawn(source::run_stream(
                watched.endpoint.clone(),
                stream_settings,
                clock,
                raw_tx.clone(),
                cmd_rx,
            )),
            tokio::spawn(source::run_poll(
                watched.endpoint.clone(),
                poll_settings,
                clock,
                raw_tx.clone(),
            )),
            tokio::spawn(tick(clock, tick_every, raw_tx.clone())),
        ];
        let (observations, recorder, tee) = match &settings.record.value {
            Some(path) => {
                let (recorder, writer) = record::start(path, &watched.recording_header())
                    .await
                    .map_err(|e| eyre!(e))?;
                let (observations, tee) = tee(raw_rx, recorder.clone());
                (observations, Some((recorder, writer)), Some(tee))
            }
            None => (raw_rx, None, None),
        };
        Ok(Pipeline {
            observations,
            inject: raw_tx,
            stream_commands: cmd_tx,
            recorder,
            tasks,
            tee,
        })
    }

    /// Stops the sources; what they had already sent is still delivered to `observations`, which
    /// then closes. The consumer drains it to the end, so a recording and the model agree.
    pub async fn stop_sources(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        // The last sender of the raw channel: without it the tee (or the channel) ends.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.inject, closed));
    }

    /// Stops everything and waits for the recording to be on disk; says on stderr if the
    /// recorder fell behind and lost observations.
    pub async fn finish(mut self) -> Result<()> {
        self.stop_sources().await;
        drop(self.observations);
        if let Some(mut tee) = self.tee.take() {
            // Normally done at once; a probe still in flight holds a sender, so do not wait long.
            if tokio::time::timeout(Duration::from_millis(500), &mut tee)
                .await
                .is_err()
            {
                tee.abort();
            }
        }
        let Some((recorder, writer)) = self.recorder else {
            return Ok(());
        };
        let lost = recorder.lost();
        drop(recorder);
        writer
            .await
            .wrap_err("recording writer")?
            .wrap_err("writing the recording")?;
        if lost > 0 {
            eprintln!("inboxtop: the recorder fell behind and lost {lost} observations");
        }
        Ok(())
    }
}

/// The slow tick: time passes for the model even when nothing arrives (a stalled stream).
async fn tick(clock: Clock, every: Duration, tx: mpsc::Sender<Observation>) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if tx.send(clock.stamp(Kind::Tick)).await.is_err() {
            return;
        }
    }
}

/// Copies every observation to the recorder (never waiting on it) on its way to the model.
fn tee(
    mut rx: mpsc::Receiver<Observation>,
    recorder: Recorder,
) -> (mpsc::Receiver<Observation>, JoinHandle<()>) {
    let (tx, out) = mpsc::channel(CHANNEL);
    let task = tokio::spawn(async move {
        while let Some(obs) = rx.recv().await {
            recorder.offer(&obs);
            if tx.send(obs).await.is_err() {
                return;
            }
        }
    });
    (out, task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{MonitorArgs, ServerArgs};
    use crate::config::{self, ConfigFile, Environment, FileConfig, Sourced};
    use std::path::PathBuf;

    fn settings(monitor: &MonitorArgs, toml_text: &str) -> Settings {
        let file: FileConfig = toml::from_str(toml_text).unwrap();
        let read = Sourced {
            value: ConfigFile::Read(PathBuf::from("config.toml")),
            source: Source::Default,
        };
        config::merge(
            monitor,
            &ServerArgs::default(),
            &Environment::default(),
            read,
            file,
        )
        .unwrap()
    }

    fn heartbeat_band(t: &Thresholds) -> (Duration, Duration) {
        (t.heartbeat_min, t.heartbeat_max)
    }

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_demo_fits_a_default_heartbeat_band_to_the_simulator() {
        let sim = SimArgs {
            heartbeat_interval: secs(40),
            time_scale: 2.0,
            ..SimArgs::default()
        };
        let t = sim_thresholds(&settings(&MonitorArgs::default(), ""), &sim);
        assert_eq!(heartbeat_band(&t), (secs(20), secs(40)));
    }

    #[test]
    fn the_demo_keeps_a_heartbeat_band_from_the_config_file_or_a_flag() {
        let sim = SimArgs {
            time_scale: 2.0,
            ..SimArgs::default()
        };
        let from_file = settings(&MonitorArgs::default(), "expect_heartbeat = \"50s..70s\"");
        assert_eq!(
            heartbeat_band(&sim_thresholds(&from_file, &sim)),
            (secs(25), secs(35))
        );
        let flag = MonitorArgs {
            expect_heartbeat: Some((secs(90), secs(110))),
            ..MonitorArgs::default()
        };
        let from_flag = settings(&flag, "expect_heartbeat = \"50s..70s\"");
        assert_eq!(
            heartbeat_band(&sim_thresholds(&from_flag, &sim)),
            (secs(45), secs(55))
        );
    }
}
