//! Fleet: 1 000 agents in one `inboxtop exporter` (the release binary) at real speed — heartbeats
//! every 15 s, no peer messages — against the same binary watching one agent, the baseline of the
//! same run. A second 1 000-agent exporter peeks every 15 s instead of every 5 s, which shows what
//! the peeks cost. The simulators run in a process of their own (`inboxtop serve --agents N`), so
//! their cost is not the exporters'; each exporter watches agents of its own, as a simulated agent
//! (like a real one) keeps one stream per id and a second client would take it over.
//!
//! The exporters start with the open-files soft limit lowered to 1 024, which 1 000 agents × 2
//! connections exceed: they run only if the exporter raises it, and the bench reads the raised
//! limit and the open sockets back from `/proc`.
//!
//! An exporter's rings fill over a day, so the bench also fills models in-process and measures
//! what one agent holds then: with the TUI's caps and with the exporter's.

use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inboxtop::monitor::{Monitor, Thresholds};
use inboxtop::observation::{Kind, Mono, Observation};

use super::{cpu_seconds, median, rss_kib, wall};

const AGENTS: usize = 1000;
/// After every stream is up: the first peeks and heartbeats, the allocator settling.
const WARM_UP: Duration = Duration::from_secs(20);
const IDLE_WINDOW: Duration = Duration::from_secs(60);
const SCRAPES: usize = 20;
/// The soft limit the exporters start with: below what 1 000 agents need.
const LOW_SOFT_LIMIT: u32 = 1024;
/// Models filled in-process for the steady-state figure.
const FILLED: usize = 200;

/// A child process, killed when dropped.
struct Process(Child);

impl Process {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Reads stdout lines until `done` says the text so far is complete.
    fn read_until(&mut self, done: impl Fn(&str) -> bool) -> String {
        let stdout = self.0.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut text = String::new();
        while !done(&text) {
            let line = lines
                .next()
                .expect("the process ended early")
                .expect("stdout");
            text += &line;
            text.push('\n');
        }
        // Keep reading in the background, so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        text
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `count` simulated agents, and the `[[agents]]` config `serve` printed for them.
fn simulators(bin: &Path, count: usize) -> (Process, String) {
    let child = Command::new(bin)
        .args(["serve", "--agents", &count.to_string(), "--port", "0"])
        .args(["--heartbeat-interval", "15s", "--peer-interval", "100000s"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("inboxtop serve");
    let mut sims = Process(child);
    let config = sims.read_until(|text| text.matches("base_url").count() == count);
    (sims, config)
}

/// The config for the agents `range` of `config`: its comment lines, then those tables.
fn some_agents(config: &str, range: Range<usize>) -> String {
    let mut tables = config.split("\n[[agents]]");
    let head = tables.next().unwrap_or_default().to_owned();
    tables
        .skip(range.start)
        .take(range.len())
        .fold(head, |text, table| text + "\n[[agents]]" + table)
}

/// One exporter and what was measured of it.
struct Exporter {
    name: &'static str,
    process: Process,
    metrics: String,
    agents: usize,
}

impl Exporter {
    fn start(
        bin: &Path,
        dir: &Path,
        name: &'static str,
        config: &str,
        agents: usize,
        flags: &[&str],
    ) -> Exporter {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, config).expect("write config");
        let child = Command::new("sh")
            .args([
                "-c",
                &format!("ulimit -Sn {LOW_SOFT_LIMIT} && exec \"$0\" \"$@\""),
            ])
            .arg(bin)
            .args(["exporter", "--listen", "127.0.0.1:0"])
            .args(flags)
            .arg("--config")
            .arg(&file)
            .arg("--log-file")
            .arg(dir.join(format!("{name}.log")))
            .env("INBOXTOP_API_KEY", "demo")
            .stdout(Stdio::piped())
            .spawn()
            .expect("inboxtop exporter");
        let mut process = Process(child);
        let banner = process.read_until(|text| text.contains("/metrics"));
        let metrics = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("the metrics address")
            .to_owned();
        Exporter {
            name,
            process,
            metrics,
            agents,
        }
    }

    async fn scrape(&self, client: &reqwest::Client) -> String {
        let response = client.get(&self.metrics).send().await.expect("scrape");
        response.text().await.expect("exposition")
    }

    /// Waits until every agent's stream is up.
    async fn wait_until_up(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let up = samples(&self.scrape(client).await, "inboxtop_stream_up{", "1");
            if up == self.agents {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: only {up} of {} streams came up",
                self.name,
                self.agents
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// `SCRAPES` scrapes one after the other: the median and max in ms, the size of the last.
    async fn scrapes(&self, client: &reqwest::Client) -> Scrapes {
        let mut times = Vec::with_capacity(SCRAPES);
        let mut bytes = 0;
        for _ in 0..SCRAPES {
            let t = Instant::now();
            bytes = self.scrape(client).await.len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let max_ms = times.iter().copied().fold(0.0, f64::max);
        Scrapes {
            median_ms: median(times),
            max_ms,
            bytes,
        }
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The soft open-files limit the process runs with.
    fn open_files_limit(&self) -> String {
        let limits =
            std::fs::read_to_string(format!("/proc/{}/limits", self.pid())).unwrap_or_default();
        limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .unwrap_or("?")
            .to_owned()
    }

    /// Open file descriptors that are sockets (the connections and the listener).
    fn sockets(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |fds| {
            fds.filter_map(Result::ok)
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter(|target| target.to_string_lossy().starts_with("socket:"))
                .count()
        })
    }
}

struct Scrapes {
    median_ms: f64,
    max_ms: f64,
    bytes: usize,
}

/// How many samples of the family `prefix` (name and `{`) have the value `value`.
fn samples(exposition: &str, prefix: &str, value: &str) -> usize {
    exposition
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter(|l| l.rsplit(' ').next() == Some(value))
        .count()
}

/// CPU used by each of `pids` over `window`, as a share of one core.
async fn cpu_over(pids: &[u32], window: Duration) -> Vec<f64> {
    let before: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect();
    let t = Instant::now();
    tokio::time::sleep(window).await;
    let wall = t.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(&p, c0)| (cpu_seconds(p) - c0) / wall)
        .collect()
}

/// The floor of the peeks: reqwest alone, in this process, asking for the peek of each agent of
/// `config`'s first 1 000 every 5 s, all at once as the exporter's sources do, reading each body
/// and nothing more. Its CPU over `window`, as a share of one core.
async fn peek_floor(config: &str, window: Duration) -> f64 {
    let value = |line: &str| line.split('"').nth(1).unwrap_or_default().to_owned();
    let ids = config.lines().filter(|l| l.starts_with("id = ")).map(value);
    let bases = config
        .lines()
        .filter(|l| l.starts_with("base_url = "))
        .map(value);
    let peeks: Vec<(String, String)> = ids
        .zip(bases)
        .take(AGENTS)
        .map(|(id, base)| (format!("{base}/messages/peek?limit=50&mentioned={id}"), id))
        .collect();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let peek = |(url, id): &(String, String)| {
        client
            .get(url)
            .bearer_auth("demo")
            .header("X-Agent-Id", id)
            .send()
    };
    let me = std::process::id();
    let (c0, t) = (cpu_seconds(me), Instant::now());
    let mut every = tokio::time::interval(Duration::from_secs(5));
    while t.elapsed() < window {
        every.tick().await;
        futures_util::future::join_all(peeks.iter().map(|p| async move {
            let body = peek(p).await.expect("peek").bytes().await.expect("body");
            assert!(!body.is_empty());
        }))
        .await;
    }
    (cpu_seconds(me) - c0) / t.elapsed().as_secs_f64()
}

pub async fn run(bin: &Path) {
    let dir = scratch_dir();
    let (sims, config) = simulators(bin, 2 * AGENTS + 1);
    let exporters = start_exporters(bin, &dir, &config);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("client");
    let t = Instant::now();
    for e in &exporters {
        e.wait_until_up(&client).await;
    }
    let up_after = t.elapsed();
    tokio::time::sleep(WARM_UP).await;

    let mut pids: Vec<u32> = exporters.iter().map(Exporter::pid).collect();
    pids.push(sims.pid());
    let (cpu, floor) = tokio::join!(
        cpu_over(&pids, IDLE_WINDOW),
        peek_floor(&config, IDLE_WINDOW)
    );
    let rss: Vec<u64> = exporters
        .iter()
        .map(|e| rss_kib(&e.pid().to_string(), "VmRSS:"))
        .collect();
    let fleet = &exporters[1];
    let (sockets, limit) = (fleet.sockets(), fleet.open_files_limit());
    let exposition = fleet.scrape(&client).await;
    let mut scrapes = Vec::with_capacity(exporters.len());
    for e in &exporters {
        scrapes.push(e.scrapes(&client).await);
    }

    println!(
        "\n== fleet: {AGENTS} agents in one exporter (release binary), real speed: heartbeat every 15 s, no messages"
    );
    println!(
        "open files: soft limit started at {LOW_SOFT_LIMIT}, the exporter runs with {limit}; {sockets} sockets open"
    );
    println!(
        "streams up in {:.1} s; verdicts {} ok, {} unknown (no message delivered: none sent); {} findings raised",
        up_after.as_secs_f64(),
        samples(&exposition, "inboxtop_verdict{", "0"),
        samples(&exposition, "inboxtop_verdict{", "3"),
        samples(&exposition, "inboxtop_finding{", "1"),
    );
    row("", exporters.iter().map(|e| e.name.to_owned()), "target");
    row(
        &format!("idle CPU over {} s (one core)", IDLE_WINDOW.as_secs()),
        cpu.iter()
            .take(exporters.len())
            .map(|c| format!("{:.2} %", c * 100.0)),
        "≤ 2 %",
    );
    row(
        "VmRSS",
        rss.iter()
            .map(|&kib| format!("{:.1} MiB", kib as f64 / 1024.0)),
        "",
    );
    row(
        &format!("RSS per agent (− 1 agent) / {}", AGENTS - 1),
        rss.iter().enumerate().map(|(i, &kib)| match i {
            0 => "–".to_owned(),
            _ => format!(
                "{:.1} KiB",
                (kib as f64 - rss[0] as f64) / (AGENTS - 1) as f64
            ),
        }),
        "≤ 256 KiB",
    );
    row(
        &format!("/metrics median of {SCRAPES}"),
        scrapes.iter().map(|s| format!("{:.1} ms", s.median_ms)),
        "≤ 100 ms",
    );
    row(
        &format!("/metrics max of {SCRAPES}"),
        scrapes.iter().map(|s| format!("{:.1} ms", s.max_ms)),
        "≤ 100 ms",
    );
    row(
        "exposition size",
        scrapes.iter().map(|s| format!("{} B", s.bytes)),
        "",
    );
    println!(
        "floor: reqwest alone peeking {AGENTS} agents every 5 s, over the same {} s: {:.2} % CPU",
        IDLE_WINDOW.as_secs(),
        floor * 100.0
    );
    println!(
        "(the simulators' process, not counted: {:.2} % CPU)",
        cpu[exporters.len()] * 100.0
    );
    drop((exporters, sims));
    let _ = std::fs::remove_dir_all(&dir);
    steady_state();
}

/// The baseline exporter (the last agent alone), the default one on agents 1–1 000, and one that
/// peeks every 15 s on agents 1 001–2 000.
fn start_exporters(bin: &Path, dir: &Path, config: &str) -> [Exporter; 3] {
    [
        ("1 agent", 2 * AGENTS..2 * AGENTS + 1, &[][..]),
        ("1000, peek 5 s", 0..AGENTS, &[][..]),
        (
            "1000, peek 15 s",
            AGENTS..2 * AGENTS,
            &["--poll-interval", "15s"][..],
        ),
    ]
    .map(|(name, agents, flags)| {
        let config = some_agents(config, agents.clone());
        Exporter::start(bin, dir, name, &config, agents.len(), flags)
    })
}

/// One line of the table: what, a cell per exporter, the target.
fn row(what: &str, cells: impl Iterator<Item = String>, target: &str) {
    print!("{what:<34}");
    for cell in cells {
        print!("{cell:>17}");
    }
    println!("   {target}");
}

/// Makes `FILLED` things with `make` and keeps them: the RSS each one holds, in KiB.
fn held<T>(make: impl FnMut() -> T) -> (f64, Vec<T>) {
    let before = rss_kib("self", "VmRSS:");
    let things: Vec<T> = std::iter::repeat_with(make).take(FILLED).collect();
    let grown = rss_kib("self", "VmRSS:").saturating_sub(before);
    (grown as f64 / FILLED as f64, things)
}

/// `model` after a day of idle traffic: its rings as full as 15 s heartbeats and a peek every
/// 5 s make them.
fn a_day_of(model: fn(Thresholds) -> Monitor) -> Monitor {
    idle_for(86_400_000, model)
}

/// `model` after `span_ms` of idle traffic (15 s heartbeats, a peek every 5 s).
fn idle_for(span_ms: u64, model: fn(Thresholds) -> Monitor) -> Monitor {
    let at = |ms: u64, kind| Observation::new(Mono::from_millis(ms), wall(ms), kind);
    let mut m = model(Thresholds::default());
    super::open_stream(&mut m);
    for ms in (15_000..=span_ms).step_by(15_000) {
        m.apply(&at(
            ms,
            Kind::SseEvent {
                session: 1,
                event: "heartbeat".into(),
                id: None,
                data: format!("{{\"timestamp\":\"{}\"}}", wall(ms).to_rfc3339()),
                retry_ms: None,
            },
        ));
        for peek in 0..3 {
            m.apply(&at(
                ms + peek * 5_000,
                Kind::PollOk {
                    elapsed_ms: 1,
                    messages: vec![],
                    unreadable: 0,
                },
            ));
        }
    }
    m
}

/// What one agent holds once its rings are full: its model with the TUI's caps and with the
/// exporter's, and what the TLS roots of its endpoint add (once shared by all, nothing).
fn steady_state() {
    // The OS store is read once per process: not a cost of the first agent measured.
    let _roots = inboxtop::source::Trust::new(None).expect("trust");
    let (tui, _tui_models) = held(|| a_day_of(Monitor::new));
    let (exporter, _exporter_models) = held(|| a_day_of(inboxtop::exporter::monitor));
    // As old as the exporters' models when their RSS was read: what that RSS already holds.
    let young_ms = (WARM_UP + IDLE_WINDOW).as_millis() as u64;
    let (young, _young_models) = held(|| idle_for(young_ms, inboxtop::exporter::monitor));
    let (trust, _copies) = held(|| inboxtop::source::Trust::new(None).expect("trust"));
    println!(
        "\n== fleet, steady state: one agent after a day of 15 s heartbeats and 5 s peeks ({FILLED} in-process)"
    );
    println!("model with the TUI's caps (log 5 000)              {tui:>8.1} KiB");
    println!(
        "model with the exporter's (log {})                 {exporter:>8.1} KiB",
        inboxtop::exporter::LOG_CAPACITY
    );
    println!(
        "model with the exporter's, {} s old (in the RSS above) {young:>8.1} KiB",
        young_ms / 1000
    );
    println!("TLS roots its endpoint holds (Trust::new, shared)  {trust:>8.1} KiB");
}

/// A fresh directory for the configs and logs of this run.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inboxtop-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
