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
use crate::observation::{AgentIx, Clock, Kind, Observation};
use crate::record::{self, Header, Recorder};
use crate::report::{Origin, ReportContext};
use crate::secret::ApiKey;
use crate::sim::{self, Scenario, SimConfig, SimHandle};
use crate::source::{self, Endpoint, PollSettings, StreamCommand, StreamSettings, Trust};

/// Observations in flight between the sources and the model. Sources wait when it is full
/// (backpressure onto TCP), they never drop.
pub(super) const CHANNEL: usize = 8192;

/// What is being watched, and how to label it.
pub(super) struct Watched {
    pub endpoint: Endpoint,
    pub origin: Origin,
    pub thresholds: Thresholds,
    /// Simulated seconds per real second (1 for a real server): source timings scale with it.
    time_scale: f64,
    /// Keeps the embedded simulator alive for as long as it is watched: dropping it stops it.
    _sim: Option<SimHandle>,
}

impl Watched {
    /// The embedded simulator on a free loopback port, with thresholds that fit it: one agent
    /// (`demo`), or with `--agents N` a fleet, each agent its own simulator playing the scenarios
    /// round-robin (ids like `heartbeat-flood-02`).
    pub async fn simulated(settings: &Settings, args: &SimArgs) -> Result<Vec<Watched>> {
        let count = args.agents.max(1) as usize;
        let trust = trust(settings)?;
        let mut fleet = Vec::with_capacity(count);
        for i in 0..count {
            let scenario = args.scenario_of(i);
            let agent = if count == 1 {
                "demo".to_owned()
            } else {
                format!("{scenario}-{:0width$}", i + 1, width = digits(count))
            };
            fleet.push(Watched::simulator(settings, args, scenario, &agent, &trust).await?);
        }
        Ok(fleet)
    }

    async fn simulator(
        settings: &Settings,
        args: &SimArgs,
        scenario: Scenario,
        agent: &str,
        trust: &Trust,
    ) -> Result<Watched> {
        let handle = sim::start(
            sim_config(args, scenario, agent, "demo"),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        )
        .await
        .wrap_err("could not start the embedded simulator on loopback")?;
        Ok(Watched {
            endpoint: endpoint_for(
                &handle.base_url(),
                agent,
                ApiKey::new("demo"),
                settings,
                trust,
            )?,
            origin: Origin::Demo { scenario },
            thresholds: sim_thresholds(settings, args),
            time_scale: args.time_scale,
            _sim: Some(handle),
        })
    }

    /// One per configured agent, each at its own server and key or the global ones; says which
    /// setting is missing (and for which agent) if one cannot be reached.
    pub fn server(settings: &Settings) -> Result<Vec<Watched>> {
        let agents = &settings.agents.value;
        if agents.is_empty() {
            return Err(eyre!(
                "no agent: give --agent (or INBOXTOP_AGENT, or agent or [[agents]] in the config file)"
            ));
        }
        let trust = trust(settings)?;
        agents
            .iter()
            .map(|agent| {
                let base_url = agent
                    .base_url
                    .as_deref()
                    .or(settings.base_url.value.as_deref())
                    .ok_or_else(|| {
                        eyre!(
                            "no server for agent {}: give --base-url (or INBOXTOP_BASE_URL, or base_url in the config file)",
                            agent.id
                        )
                    })?;
                let key = agent
                    .api_key
                    .as_ref()
                    .map(|(key, _)| key.clone())
                    .or_else(|| settings.api_key.value.clone())
                    .ok_or_else(|| {
                        eyre!(
                            "no API key for agent {}: set INBOXTOP_API_KEY, or use --api-key-file, or api_key in the config file",
                            agent.id
                        )
                    })?;
                Ok(Watched {
                    endpoint: endpoint_for(base_url, &agent.id, key, settings, &trust)?,
                    origin: Origin::Live,
                    thresholds: settings.thresholds(),
                    time_scale: 1.0,
                    _sim: None,
                })
            })
            .collect()
    }

    /// What a report about this says of its source; `settings` are the ones it is watched with.
    pub fn report_context(&self, settings: &Settings) -> ReportContext {
        ReportContext::new(
            self.origin.clone(),
            &self.endpoint.base_url,
            &self.endpoint.agent,
            export::chosen_settings(settings),
        )
    }
}

/// The recording's first line: the first agent's server and thresholds, and every agent's id.
fn recording_header(watched: &[Watched]) -> Header {
    let Some(first) = watched.first() else {
        return Header::new("", "", "nothing watched", &Thresholds::default());
    };
    Header::new(
        &first.endpoint.base_url,
        &first.endpoint.agent,
        &first.origin.to_string(),
        &first.thresholds,
    )
    .with_agents(watched.iter().map(|w| w.endpoint.agent.clone()).collect())
}

/// The stream and poll timings for one watched agent: a simulator's run at its pace.
fn source_settings(watched: &Watched, settings: &Settings) -> (StreamSettings, PollSettings) {
    let scale = |d: Duration| d.div_f64(watched.time_scale).max(Duration::from_millis(20));
    let defaults = StreamSettings::default();
    let stream = StreamSettings {
        backoff_initial: scale(defaults.backoff_initial),
        backoff_cap: scale(settings.backoff_cap.value),
        stable_after: scale(defaults.stable_after),
        read_timeout: scale(defaults.read_timeout),
        max_line_bytes: settings.max_event_bytes.value,
        ..defaults
    };
    let poll = PollSettings {
        interval: scale(settings.poll_interval.value).max(Duration::from_millis(100)),
        ..PollSettings::default()
    };
    (stream, poll)
}

/// Decimal digits of `n`, so fleet ids sort as numbers.
fn digits(n: usize) -> usize {
    n.to_string().len()
}

/// The simulator's configuration from its flags, playing `scenario` for `agent`.
pub(super) fn sim_config(args: &SimArgs, scenario: Scenario, agent: &str, key: &str) -> SimConfig {
    SimConfig {
        scenario,
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

/// What every watched agent's TLS trusts: one for the whole fleet (the `--ca-cert` file is read once).
fn trust(settings: &Settings) -> Result<Trust> {
    Trust::new(settings.ca_cert.value.as_deref()).map_err(|e| eyre!(e))
}

fn endpoint_for(
    base_url: &str,
    agent: &str,
    key: ApiKey,
    settings: &Settings,
    trust: &Trust,
) -> Result<Endpoint> {
    let mut endpoint = Endpoint::new(base_url, agent, key).map_err(|e| eyre!(e))?;
    endpoint
        .agent_header
        .clone_from(&settings.agent_header.value);
    endpoint.stream_path.clone_from(&settings.stream_path.value);
    endpoint.peek_path.clone_from(&settings.peek_path.value);
    endpoint.trust = trust.clone();
    Ok(endpoint)
}

/// The running sources and the channel their observations arrive on.
pub(super) struct Pipeline {
    pub observations: mpsc::Receiver<Observation>,
    /// For observations made outside the sources (a probe's result).
    pub inject: mpsc::Sender<Observation>,
    /// One per watched agent, by index.
    pub stream_commands: Vec<mpsc::Sender<StreamCommand>>,
    /// The clock every source stamps with (tag it with an agent for that agent's observations).
    pub clock: Clock,
    recorder: Option<(Recorder, JoinHandle<std::io::Result<u64>>)>,
    /// The sources (a stream and a poll per agent, and the tick).
    tasks: Vec<JoinHandle<()>>,
    /// Copies observations to the recorder; ends once every source has stopped.
    tee: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts a stream and a poll source per watched agent (agent `i` of `watched` tags its
    /// observations `i`), the tick, and the recording if `--record` asks for one.
    pub fn start(watched: &[Watched], settings: &Settings) -> Result<Pipeline> {
        let clock = Clock::start();
        let (raw_tx, raw_rx) = mpsc::channel(CHANNEL);
        let mut tasks = Vec::with_capacity(watched.len() * 2 + 1);
        let mut stream_commands = Vec::with_capacity(watched.len());
        for (ix, agent) in watched.iter().enumerate() {
            let agent_clock = clock.for_agent(AgentIx::try_from(ix).unwrap_or(AgentIx::MAX));
            let (cmd_tx, cmd_rx) = mpsc::channel(8);
            stream_commands.push(cmd_tx);
            let (stream, mut poll) = source_settings(agent, settings);
            poll.phase = source::peek_phase(ix, poll.interval);
            // `--no-stream`: the agent's own stream is never opened, so never taken over.
            if !settings.no_stream.value {
                tasks.push(tokio::spawn(source::run_stream(
                    agent.endpoint.clone(),
                    stream,
                    agent_clock,
                    raw_tx.clone(),
                    cmd_rx,
                )));
            }
            tasks.push(tokio::spawn(source::run_poll(
                agent.endpoint.clone(),
                poll,
                agent_clock,
                raw_tx.clone(),
            )));
        }
        let tick_every = watched
            .iter()
            .map(|w| w.thresholds.heartbeat_min / 4)
            .min()
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        tasks.push(tokio::spawn(tick(clock, tick_every, raw_tx.clone())));
        let (observations, recorder, tee) = match &settings.record.value {
            Some(path) => {
                let (recorder, writer) =
                    record::start(path, &recording_header(watched)).map_err(|e| eyre!(e))?;
                let (observations, tee) = tee(raw_rx, recorder.clone());
                (observations, Some((recorder, writer)), Some(tee))
            }
            None => (raw_rx, None, None),
        };
        Ok(Pipeline {
            observations,
            inject: raw_tx,
            stream_commands,
            clock,
            recorder,
            tasks,
            tee,
        })
    }

    /// The recorder's live lost count, when recording.
    pub fn recorder_lost(&self) -> Option<crate::record::LostCounter> {
        self.recorder.as_ref().map(|(r, _)| r.lost_counter())
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
