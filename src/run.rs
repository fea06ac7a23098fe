//! Carrying out the commands: wiring sources, the model and a view together.
//!
//! Every monitoring command is the same pipeline — sources → observation channel → (recorder) →
//! `Monitor` — with a different end: the TUI, a headless verdict, or nothing but the simulator.

use color_eyre::eyre::{Result, WrapErr, eyre};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::{self, App, Command as AppCommand};
use crate::cli::{CheckArgs, Cli, Command, DemoArgs, ReplayArgs, ServeArgs, ServerArgs, SimArgs};
use crate::config::{self, Settings};
use crate::monitor::{Monitor, Severity, Thresholds};
use crate::observation::{Clock, Kind, Observation};
use crate::record::{self, Header, Reader, Recorder};
use crate::report::{self, Format, ReportContext};
use crate::secret::ApiKey;
use crate::sim::{self, SimConfig, SimHandle};
use crate::source::replay::{ReplayCommand, ReplayEnd, run_replay};
use crate::source::{self, Endpoint, PollSettings, StreamCommand, StreamSettings};
use crate::ui::Target;

/// Observations in flight between the sources and the model. Sources wait when it is full
/// (backpressure onto TCP), they never drop.
const CHANNEL: usize = 8192;

/// Exit codes of `check` (and of every command that could not run).
pub const EXIT_HEALTHY: u8 = 0;
pub const EXIT_PROBLEMS: u8 = 1;
pub const EXIT_COULD_NOT_RUN: u8 = 2;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let no_server = ServerArgs::default();
    let server = match &cli.command {
        Some(Command::Watch(w)) => &w.server,
        Some(Command::Check(c)) => &c.server,
        _ => &no_server,
    };
    let settings = config::load(&cli.monitor, server).map_err(|e| eyre!(e))?;
    for warning in &settings.warnings {
        eprintln!("inboxtop: warning: {warning}");
    }
    match cli.command {
        None if settings.has_server() => watch(settings).await,
        None => demo(settings, default_demo()).await,
        Some(Command::Demo(args)) => demo(settings, args).await,
        Some(Command::Watch(_)) => watch(settings).await,
        Some(Command::Check(args)) => check(settings, args).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Replay(args)) => replay(settings, args).await,
    }
}

fn default_demo() -> DemoArgs {
    use clap::Parser;
    match crate::cli::Cli::parse_from(["inboxtop", "demo"]).command {
        Some(Command::Demo(args)) => args,
        _ => unreachable!("`inboxtop demo` parses as the demo command"),
    }
}

fn list_scenarios() -> ExitCode {
    for s in sim::Scenario::all() {
        println!("{:<16} {}", s.name(), s.summary());
        for line in s.description().lines() {
            println!("{:<16} {}", "", line.trim());
        }
        println!();
    }
    ExitCode::SUCCESS
}

/// What is being watched, and how to label it.
struct Watched {
    endpoint: Endpoint,
    mode: String,
    thresholds: Thresholds,
    /// Simulated seconds per real second (1 for a real server): source timings scale with it.
    time_scale: f64,
    /// Keeps the embedded simulator alive for as long as it is watched.
    sim: Option<SimHandle>,
}

async fn start_sim(args: &SimArgs) -> Result<SimHandle> {
    let config = sim_config(args, "demo", "demo");
    sim::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .wrap_err("could not start the embedded simulator on loopback")
}

fn sim_config(args: &SimArgs, agent: &str, key: &str) -> SimConfig {
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

/// The simulator and thresholds that fit it: the expected heartbeat is the simulator's interval
/// (up to twice it) unless the user set one, and every threshold runs at the simulator's pace.
async fn watched_sim(
    settings: &Settings,
    args: &SimArgs,
    explicit_heartbeat: bool,
) -> Result<Watched> {
    let handle = start_sim(args).await?;
    let endpoint = endpoint_for(&handle.base_url(), "demo", ApiKey::new("demo"), settings)?;
    let mut thresholds = settings.thresholds.clone();
    if !explicit_heartbeat {
        thresholds.heartbeat_min = args.heartbeat_interval;
        thresholds.heartbeat_max = args.heartbeat_interval * 2;
    }
    Ok(Watched {
        endpoint,
        mode: format!("demo: {}", args.scenario),
        thresholds: thresholds.scaled(args.time_scale),
        time_scale: args.time_scale,
        sim: Some(handle),
    })
}

fn endpoint_for(base_url: &str, agent: &str, key: ApiKey, settings: &Settings) -> Result<Endpoint> {
    let mut endpoint = Endpoint::new(base_url, agent, key).map_err(|e| eyre!(e))?;
    endpoint.agent_header = settings.agent_header.clone();
    endpoint.stream_path = settings.stream_path.clone();
    endpoint.peek_path = settings.peek_path.clone();
    Ok(endpoint)
}

fn watched_server(settings: &Settings) -> Result<Watched> {
    let base_url = settings.base_url.as_deref().ok_or_else(|| {
        eyre!("no server: give --base-url (or INBOXTOP_BASE_URL, or base_url in the config file)")
    })?;
    let agent = settings.agent.as_deref().ok_or_else(|| {
        eyre!("no agent: give --agent (or INBOXTOP_AGENT, or agent in the config file)")
    })?;
    let key = settings.api_key.clone().ok_or_else(|| {
        eyre!(
            "no API key: set INBOXTOP_API_KEY, or use --api-key-file, or api_key in the config file"
        )
    })?;
    Ok(Watched {
        endpoint: endpoint_for(base_url, agent, key, settings)?,
        mode: "live".into(),
        thresholds: settings.thresholds.clone(),
        time_scale: 1.0,
        sim: None,
    })
}

/// The running sources and the channel their observations arrive on.
struct Pipeline {
    observations: mpsc::Receiver<Observation>,
    /// For observations made outside the sources (a probe's result).
    inject: mpsc::Sender<Observation>,
    stream_commands: mpsc::Sender<StreamCommand>,
    recorder: Option<(Recorder, JoinHandle<std::io::Result<u64>>)>,
    /// The sources (stream, poll, tick).
    tasks: Vec<JoinHandle<()>>,
    /// Copies observations to the recorder; ends once every source has stopped.
    tee: Option<JoinHandle<()>>,
}

impl Pipeline {
    async fn start(
        watched: &Watched,
        settings: &Settings,
        recording: Option<Header>,
    ) -> Result<Pipeline> {
        let clock = Clock::start();
        let (raw_tx, raw_rx) = mpsc::channel(CHANNEL);
        let (cmd_tx, cmd_rx) = mpsc::channel(8);
        let scale = |d: Duration| d.div_f64(watched.time_scale).max(Duration::from_millis(20));
        let defaults = StreamSettings::default();
        let stream_settings = StreamSettings {
            backoff_initial: scale(defaults.backoff_initial),
            backoff_cap: scale(settings.backoff_cap),
            stable_after: scale(defaults.stable_after),
            read_timeout: scale(defaults.read_timeout),
            max_line_bytes: settings.max_event_bytes,
            ..defaults
        };
        let poll_settings = PollSettings {
            interval: scale(settings.poll_interval).max(Duration::from_millis(100)),
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
        let mut tee_task = None;
        let (observations, recorder) = match (&settings.record, recording) {
            (Some(path), Some(header)) => {
                let (recorder, writer) =
                    record::start(path, &header).await.map_err(|e| eyre!(e))?;
                let (rx, tee) = tee(raw_rx, recorder.clone());
                tee_task = Some(tee);
                (rx, Some((recorder, writer)))
            }
            _ => (raw_rx, None),
        };
        Ok(Pipeline {
            observations,
            inject: raw_tx,
            stream_commands: cmd_tx,
            recorder,
            tasks,
            tee: tee_task,
        })
    }

    /// Stops the sources; what they had already sent is still delivered to `observations`, which
    /// then closes. The consumer drains it to the end, so a recording and the model agree.
    async fn stop_sources(&mut self) {
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

    /// Stops everything and waits for the recording to be on disk; returns what the recorder lost.
    async fn finish(mut self) -> Result<Option<u64>> {
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
            return Ok(None);
        };
        let lost = recorder.lost();
        drop(recorder);
        writer
            .await
            .wrap_err("recording writer")?
            .wrap_err("writing the recording")?;
        Ok(Some(lost))
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

fn header_for(watched: &Watched) -> Header {
    Header::new(
        &watched.endpoint.base_url,
        &watched.endpoint.agent,
        &watched.mode,
        &watched.thresholds,
    )
}

fn target_for(watched: &Watched) -> Target {
    Target {
        base_url: record::without_userinfo(&watched.endpoint.base_url),
        agent: watched.endpoint.agent.clone(),
        key_masked: watched.endpoint.api_key.masked(),
        mode: watched.mode.clone(),
        expected_heartbeat: (
            watched.thresholds.heartbeat_min,
            watched.thresholds.heartbeat_max,
        ),
    }
}

async fn demo(settings: Settings, args: DemoArgs) -> Result<ExitCode> {
    if args.sim.list_scenarios {
        return Ok(list_scenarios());
    }
    let explicit = settings_has_explicit_heartbeat();
    let watched = watched_sim(&settings, &args.sim, explicit).await?;
    monitor_in_tui(watched, settings).await
}

async fn watch(settings: Settings) -> Result<ExitCode> {
    let watched = watched_server(&settings)?;
    monitor_in_tui(watched, settings).await
}

/// Whether the user set the expected heartbeat explicitly (flag or config), in which case a
/// demo keeps it instead of fitting it to the simulator.
fn settings_has_explicit_heartbeat() -> bool {
    std::env::args().any(|a| a.starts_with("--expect-heartbeat"))
}

async fn monitor_in_tui(watched: Watched, settings: Settings) -> Result<ExitCode> {
    let mut pipeline = Pipeline::start(&watched, &settings, Some(header_for(&watched))).await?;
    let mut app = App::new(
        Monitor::new(watched.thresholds.clone()),
        target_for(&watched),
    );
    let context = report_context(&watched);
    let (commands, mut command_rx) = mpsc::channel(16);
    let stream_commands = pipeline.stream_commands.clone();
    let inject = pipeline.inject.clone();
    let endpoint = watched.endpoint.clone();
    let handler = tokio::spawn(async move {
        while let Some(cmd) = command_rx.recv().await {
            match cmd {
                AppCommand::Reconnect => {
                    let _ = stream_commands.try_send(StreamCommand::ReconnectNow);
                }
                AppCommand::Probe => {
                    let (endpoint, inject) = (endpoint.clone(), inject.clone());
                    tokio::spawn(async move {
                        for obs in source::send_probe(&endpoint, Clock::start()).await {
                            let _ = inject.send(obs).await;
                        }
                    });
                }
                AppCommand::ReplayPause | AppCommand::ReplayStep | AppCommand::ReplayJump(_) => {}
            }
        }
    });
    let observations = std::mem::replace(&mut pipeline.observations, mpsc::channel(1).1);
    let result = run_tui(&mut app, observations, commands, &context).await;
    handler.abort();
    let lost = pipeline.finish().await?;
    drop(watched.sim);
    result?;
    report_lost(lost.unwrap_or(0));
    Ok(ExitCode::SUCCESS)
}

/// The TUI over `observations` until the user quits or SIGTERM; the terminal is restored on
/// every path.
async fn run_tui(
    app: &mut App,
    observations: mpsc::Receiver<Observation>,
    commands: mpsc::Sender<AppCommand>,
    context: &ReportContext,
) -> Result<()> {
    let mut terminal = crate::terminal::enter().wrap_err("could not take over the terminal")?;
    let events = crossterm::event::EventStream::new();
    let outcome = tokio::select! {
        r = app::run(&mut terminal, app, observations, events, commands, |app| export_status(app, context)) => r,
        () = terminated() => Ok(()),
    };
    crate::terminal::restore();
    outcome
}

/// Writes to stdout; a reader that went away (a closed pipe) is not an error worth a panic.
fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn report_lost(lost: u64) {
    if lost > 0 {
        eprintln!("inboxtop: the recorder fell behind and lost {lost} observations");
    }
}

/// `e`: writes the markdown report and its JSON twin to the current directory; the footer says
/// where.
fn export_status(app: &App, context: &ReportContext) -> String {
    match export(&app.monitor, context, Path::new(".")) {
        Ok(path) => format!("report written to {path}"),
        Err(e) => format!("export failed: {e}"),
    }
}

/// Writes `inboxtop-report-<timestamp>.md` and `.json` into `dir`; returns the markdown path.
pub fn export(monitor: &Monitor, context: &ReportContext, dir: &Path) -> std::io::Result<String> {
    let stamp = monitor.now_wall.format("%Y%m%dT%H%M%SZ");
    let base = dir.join(format!("inboxtop-report-{stamp}"));
    let md = base.with_extension("md");
    std::fs::write(&md, report::render(monitor, context, Format::Markdown))?;
    std::fs::write(
        base.with_extension("json"),
        report::render(monitor, context, Format::Json),
    )?;
    Ok(md.display().to_string())
}

fn report_context(watched: &Watched) -> ReportContext {
    ReportContext {
        base_url: record::without_userinfo(&watched.endpoint.base_url),
        agent: watched.endpoint.agent.clone(),
        client_version: env!("CARGO_PKG_VERSION").into(),
        source: watched.mode.clone(),
    }
}

/// Resolves on SIGTERM (and SIGHUP), so every exit path restores the terminal and flushes.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}

async fn serve(args: ServeArgs) -> Result<ExitCode> {
    if args.sim.list_scenarios {
        return Ok(list_scenarios());
    }
    let config = sim_config(&args.sim, &args.agent, &args.api_key);
    let handle = sim::start(
        config.clone(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
    )
    .await
    .wrap_err_with(|| format!("could not listen on 127.0.0.1:{}", args.port))?;
    print_out(&format!("{}\n", sim::banner(&handle, &config)));
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated() => {}
    }
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn check(settings: Settings, args: CheckArgs) -> Result<ExitCode> {
    let format: Format = args.format.parse().map_err(|e: String| eyre!(e))?;
    let (monitor, context) = match &args.from {
        Some(path) => judge_recording(path, &settings)?,
        None => match watch_headless(&settings, &args).await {
            Ok(done) => done,
            Err(e) => {
                eprintln!("inboxtop: could not run: {e:#}");
                return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
            }
        },
    };
    if monitor.observations == 0 {
        eprintln!("inboxtop: nothing was observed");
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    }
    let findings = monitor.findings();
    if args.from.is_none() && unreachable_throughout(&monitor) {
        eprintln!(
            "inboxtop: could not run: the server never answered ({})",
            first_network_error(&monitor)
        );
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    }
    let text = report::render(&monitor, &context, format);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).wrap_err_with(|| format!("writing {}", path.display()))?
        }
        None => print_out(&text),
    }
    let problems = findings.iter().any(|f| f.severity >= Severity::Warning);
    Ok(ExitCode::from(if problems {
        EXIT_PROBLEMS
    } else {
        EXIT_HEALTHY
    }))
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

async fn watch_headless(settings: &Settings, args: &CheckArgs) -> Result<(Monitor, ReportContext)> {
    let (watched, real_duration) = match args.scenario {
        Some(scenario) => {
            let mut sim_args = default_demo().sim;
            sim_args.scenario = scenario;
            sim_args.time_scale = args.time_scale;
            let explicit = settings_has_explicit_heartbeat();
            let watched = watched_sim(settings, &sim_args, explicit).await?;
            (watched, args.duration.div_f64(args.time_scale))
        }
        None => (watched_server(settings)?, args.duration),
    };
    let mut pipeline = Pipeline::start(&watched, settings, Some(header_for(&watched))).await?;
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
            () = terminated() => break,
        }
    }
    // Whatever the sources had observed by now is judged too (and is what the recording holds).
    pipeline.stop_sources().await;
    while let Some(obs) = pipeline.observations.recv().await {
        monitor.apply(&obs);
    }
    let context = report_context(&watched);
    if let Some(lost) = pipeline.finish().await? {
        report_lost(lost);
    }
    drop(watched.sim);
    Ok((monitor, context))
}

/// `check --from FILE`: the recording through the model, with the recorded thresholds. A bad
/// line is reported, and the valid part before it is judged.
fn judge_recording(path: &Path, settings: &Settings) -> Result<(Monitor, ReportContext)> {
    let reader = Reader::open(path).map_err(|e| eyre!("{e}"))?;
    let header = reader.header.clone();
    let mut monitor = Monitor::new(header.thresholds(&settings.thresholds));
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
    let context = ReportContext {
        base_url: header.base_url.clone(),
        agent: header.agent.clone(),
        client_version: env!("CARGO_PKG_VERSION").into(),
        source: format!("recording {} ({})", path.display(), header.source),
    };
    Ok((monitor, context))
}

async fn replay(settings: Settings, args: ReplayArgs) -> Result<ExitCode> {
    let reader = Reader::open(&args.file).map_err(|e| eyre!("{e}"))?;
    let header = reader.header.clone();
    let thresholds = header.thresholds(&settings.thresholds);
    let target = Target {
        base_url: header.base_url.clone(),
        agent: header.agent.clone(),
        key_masked: "(not recorded)".into(),
        mode: match args.speed {
            0.0 => format!("replay: {} (max speed)", args.file.display()),
            speed => format!("replay: {} ({speed}×)", args.file.display()),
        },
        expected_heartbeat: (thresholds.heartbeat_min, thresholds.heartbeat_max),
    };
    let context = ReportContext {
        base_url: header.base_url.clone(),
        agent: header.agent.clone(),
        client_version: env!("CARGO_PKG_VERSION").into(),
        source: format!("recording {}", args.file.display()),
    };
    let mut app = App::new(Monitor::new(thresholds), target);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Mono;

    #[test]
    fn export_writes_the_markdown_report_and_its_json_twin() {
        let dir = std::env::temp_dir().join(format!("inboxtop-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut monitor = Monitor::new(Thresholds::default());
        let wall = "2026-11-25T03:04:05Z".parse().unwrap();
        monitor.apply(&Observation::new(
            Mono::ZERO,
            wall,
            Kind::ConnectAttempt {
                session: 1,
                last_event_id: None,
            },
        ));
        let context = ReportContext {
            base_url: "http://user:hunter2@api.example.com".into(),
            agent: "demo".into(),
            client_version: "test".into(),
            source: "live".into(),
        };
        let md = export(&monitor, &context, &dir).unwrap();
        assert!(md.ends_with("inboxtop-report-20261125T030405Z.md"), "{md}");
        let text = std::fs::read_to_string(&md).unwrap();
        assert!(text.contains("## Environment") && text.contains("api.example.com"));
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("inboxtop-report-20261125T030405Z.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["stats"]["sessions"], 1);
        assert!(!text.contains("hunter2") && !json.to_string().contains("hunter2"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
