//! Command-line interface (clap derive). Only flags are parsed here — clap reads no environment
//! variable: `config` merges the flags with the environment and the config file (the one place
//! precedence is decided), and `cmd` carries the commands out.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

use crate::report::Format;
use crate::sim::{Scenario, SimConfig};

/// A terminal monitor for an agent's inbox: the live SSE stream and the polled inbox side by side,
/// and a diagnosis of what is wrong, with evidence.
///
/// With no command: monitors the server of the config file or environment if one is set,
/// otherwise plays the `healthy` demo against the embedded simulator (no network, no account).
#[derive(Debug, Parser)]
#[command(name = "inboxtop", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The TUI against the embedded simulator playing one scenario.
    Demo(DemoArgs),
    /// The TUI against a real server.
    Watch(WatchArgs),
    /// Headless: watch for a while, print a verdict with evidence. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (or could not run).
    Check(CheckArgs),
    /// Run the simulator alone, for curl, a browser or a real agent runtime.
    Serve(ServeArgs),
    /// The TUI over a recorded session.
    Replay(ReplayArgs),
    /// Headless: serve per-agent metrics for Prometheus on /metrics (and /healthz).
    Exporter(ExporterArgs),
    /// Print the effective settings and where each came from (the API key masked).
    Config(ConfigArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Man,
}

/// Where to find the server and who to be.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Base URL of the API [env: `INBOXTOP_BASE_URL`] [config: `base_url`]
    #[arg(long)]
    pub base_url: Option<String>,
    /// Agent id sent in the agent header; several (repeated or comma-separated) watch a fleet
    /// [env: `INBOXTOP_AGENT`] [config: agent, or [[agents]] tables]
    #[arg(long, value_name = "ID[,ID…]", value_delimiter = ',')]
    pub agent: Vec<String>,
    /// Read the API key from this file (first line). The key can also come from `INBOXTOP_API_KEY` or
    /// the config file (`api_key`).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// The API key itself. Visible to anyone who can list processes: prefer `INBOXTOP_API_KEY` or
    /// --api-key-file.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
}

/// Settings of the monitor itself, shared by every command that monitors.
#[derive(Debug, Clone, Default, Args)]
pub struct MonitorArgs {
    /// Config file to read instead of the platform default (see the README) [env: `INBOXTOP_CONFIG`]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Expected heartbeat interval, one duration or a range [default: 15s..30s]
    #[arg(long, global = true, value_name = "MIN..MAX", value_parser = parse_range)]
    pub expect_heartbeat: Option<(Duration, Duration)>,
    /// How long a polled message may miss the stream before it is a delivery gap [default: 10s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub delivery_grace: Option<Duration>,
    /// How often to peek at the inbox [default: 5s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,
    /// Longest wait between stream reconnects [default: 30s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub backoff_cap: Option<Duration>,
    /// Longest SSE line accepted, in bytes; longer ones are skipped and reported [default: 1048576]
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_event_bytes: Option<usize>,
    /// Name of the header that carries the agent id [default: X-Agent-Id]
    #[arg(long, global = true, value_name = "NAME")]
    pub agent_header: Option<String>,
    /// Path of the SSE stream [default: /messages/stream]
    #[arg(long, global = true, value_name = "PATH")]
    pub stream_path: Option<String>,
    /// Path of the inbox peek [default: /messages/peek]
    #[arg(long, global = true, value_name = "PATH")]
    pub peek_path: Option<String>,
    /// Append every observation to this NDJSON file as it happens
    #[arg(long, global = true, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Also trust the CA certificates of this PEM file (an internal CA, a TLS-inspecting proxy);
    /// the OS store is always trusted [config: `ca_cert`]
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Write the log to this file [default: inboxtop.log in the platform state directory]
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// More detail in the log file: -v info, -vv debug, -vvv trace [default: warnings and errors;
    /// `RUST_LOG` replaces it]
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Show the TUI's times in UTC instead of local time [config: utc]
    #[arg(long, global = true)]
    pub utc: bool,
    /// Watch by peek alone, never opening the agent's stream. On `SignalDock` a stream is one per
    /// agent id: connecting with a running agent's own id takes its stream over (and causes the
    /// very reconnect loop inboxtop diagnoses). Use this to watch an agent that is running
    /// [config: `no_stream`]
    #[arg(long, global = true)]
    pub no_stream: bool,
}

/// The simulator's knobs. Their defaults are the simulator's own (`SimConfig::default()`), for
/// the flags and for [`SimArgs::default`] alike.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct SimArgs {
    /// Scenario to play (see --list-scenarios); with --agents, several comma-separated ones are
    /// assigned to the simulated agents round-robin
    #[arg(long = "scenario", value_name = "NAME[,NAME…]", value_delimiter = ',', default_values_t = [SimConfig::default().scenario])]
    pub scenarios: Vec<Scenario>,
    /// Simulate a fleet of this many agents, each with its own simulator
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_SIMULATED_AGENTS))]
    pub agents: u32,
    /// List the scenarios and what inboxtop should conclude from each, then exit
    #[arg(long)]
    pub list_scenarios: bool,
    /// Play this many simulated seconds per real second
    #[arg(long, default_value_t = SimConfig::default().time_scale, value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// Heartbeat interval of the simulated server (simulated time)
    #[arg(long, default_value = duration_text(SimConfig::default().heartbeat_interval), value_parser = parse_duration)]
    pub heartbeat_interval: Duration,
    /// Mean gap between messages from simulated peers (simulated time)
    #[arg(long, default_value = duration_text(SimConfig::default().peer_interval), value_parser = parse_duration)]
    pub peer_interval: Duration,
    /// Seed of the simulator's randomness
    #[arg(long, default_value_t = SimConfig::default().seed)]
    pub seed: u64,
}

impl SimArgs {
    /// The scenario simulated agent `i` plays: the scenarios in turn.
    pub fn scenario_of(&self, i: usize) -> Scenario {
        if self.scenarios.is_empty() {
            SimConfig::default().scenario
        } else {
            self.scenarios[i % self.scenarios.len()]
        }
    }
}

impl Default for SimArgs {
    /// What `inboxtop demo` with no flags plays.
    fn default() -> Self {
        let sim = SimConfig::default();
        SimArgs {
            scenarios: vec![sim.scenario],
            agents: 1,
            list_scenarios: false,
            time_scale: sim.time_scale,
            heartbeat_interval: sim.heartbeat_interval,
            peer_interval: sim.peer_interval,
            seed: sim.seed,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub sim: SimArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// How long to watch before judging (simulated time with --scenario)
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Judge a recording instead of watching a server
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenarios", "base_url"])]
    pub from: Option<PathBuf>,
    /// Watch the embedded simulator playing this scenario instead of a server; with --agents,
    /// several comma-separated ones are assigned to the simulated agents round-robin
    #[arg(
        long = "scenario",
        value_name = "NAME[,NAME…]",
        value_delimiter = ',',
        conflicts_with = "base_url"
    )]
    pub scenarios: Vec<Scenario>,
    /// Simulate a fleet of this many agents (with --scenario)
    #[arg(long, default_value_t = 1, requires = "scenarios", value_parser = clap::value_parser!(u32).range(1..=MAX_SIMULATED_AGENTS))]
    pub agents: u32,
    /// Send N marked probe messages to the agent itself during the first half of the window and
    /// time their round trips to the stream and to peek. Opt-in: it WRITES to the agent's inbox
    /// (the probes stay there as ordinary messages)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub probe: u32,
    /// Play this many simulated seconds per real second (with --scenario)
    #[arg(long, default_value_t = SimConfig::default().time_scale, value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// Write the report to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The most simulated agents one process runs (each is a loopback server and two connections).
pub const MAX_SIMULATED_AGENTS: i64 = 5_000;

#[derive(Debug, Clone, Args)]
pub struct ExporterArgs {
    /// Address to serve /metrics and /healthz on
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Watch simulated agents playing these scenarios instead of a server (round-robin)
    #[arg(
        long = "scenario",
        value_name = "NAME[,NAME…]",
        value_delimiter = ',',
        conflicts_with = "base_url"
    )]
    pub scenarios: Vec<Scenario>,
    /// Simulate a fleet of this many agents (with --scenario)
    #[arg(long, default_value_t = 1, requires = "scenarios", value_parser = clap::value_parser!(u32).range(1..=MAX_SIMULATED_AGENTS))]
    pub agents: u32,
    /// Play this many simulated seconds per real second (with --scenario)
    #[arg(long, default_value_t = SimConfig::default().time_scale, value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// Heartbeat interval of the simulated servers (simulated time, with --scenario)
    #[arg(long, default_value = duration_text(SimConfig::default().heartbeat_interval), value_parser = parse_duration)]
    pub heartbeat_interval: Duration,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub sim: SimArgs,
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// Agent id the simulator accepts
    #[arg(long, default_value = "demo")]
    pub agent: String,
    /// API key the simulator accepts
    #[arg(long, default_value = "demo", hide_default_value = false)]
    pub api_key: String,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// A recording made with --record
    pub file: PathBuf,
    /// Replay speed: 2 plays twice as fast, 0 as fast as possible
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Start at this offset into the recording (e.g. 30s)
    #[arg(long, value_name = "OFFSET", value_parser = parse_duration)]
    pub from: Option<Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    pub shell: clap_complete::Shell,
}

/// `60s`, `1m30s`, `500ms`, `2h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (examples: 500ms, 15s, 2m)"))
}

/// A duration as `parse_duration` reads it back: `15s`, `1m 30s`, `500ms`.
pub fn duration_text(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `15s..30s` or a single `15s` (both ends equal).
pub fn parse_range(s: &str) -> Result<(Duration, Duration), String> {
    let (lo, hi) = if let Some((lo, hi)) = s.split_once("..") {
        (parse_duration(lo)?, parse_duration(hi)?)
    } else {
        let d = parse_duration(s)?;
        (d, d)
    };
    if lo.is_zero() || lo > hi {
        return Err(format!("expected MIN..MAX with 0 < MIN <= MAX, got {s:?}"));
    }
    Ok((lo, hi))
}

fn parse_time_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.01..=10_000.0).contains(&x) => Ok(x),
        _ => Err(format!(
            "expected a factor between 0.01 and 10000, got {s:?}"
        )),
    }
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=10_000.0).contains(&x) => Ok(x),
        _ => Err(format!(
            "expected a speed between 0 (as fast as possible) and 10000, got {s:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sim_args_default_to_what_the_flags_default_to() {
        let Some(Command::Demo(demo)) = Cli::parse_from(["inboxtop", "demo"]).command else {
            panic!("`inboxtop demo` parses as the demo command");
        };
        assert_eq!(demo.sim, SimArgs::default());
        let Some(Command::Serve(serve)) = Cli::parse_from(["inboxtop", "serve"]).command else {
            panic!("`inboxtop serve` parses as the serve command");
        };
        assert_eq!(serve.sim, SimArgs::default());
    }

    #[test]
    fn default_durations_read_back_as_themselves() {
        for d in [
            Duration::from_secs(15),
            Duration::from_secs(90),
            Duration::from_millis(1500),
        ] {
            assert_eq!(parse_duration(&duration_text(d)), Ok(d));
        }
    }

    #[test]
    fn ranges_and_durations() {
        let (lo, hi) = parse_range("15s..30s").unwrap();
        assert_eq!((lo.as_secs(), hi.as_secs()), (15, 30));
        assert_eq!(parse_range("20s").unwrap().0, Duration::from_secs(20));
        assert!(parse_range("30s..15s").is_err());
        assert!(parse_range("0s").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("examples"));
    }

    #[test]
    fn check_takes_a_scenario_or_a_server_not_both() {
        let ok = Cli::try_parse_from([
            "inboxtop",
            "check",
            "--scenario",
            "stall",
            "--duration",
            "5s",
        ]);
        assert!(ok.is_ok(), "{ok:?}");
        let both = Cli::try_parse_from([
            "inboxtop",
            "check",
            "--scenario",
            "stall",
            "--base-url",
            "http://x",
        ]);
        assert!(both.is_err());
        assert!(Cli::try_parse_from(["inboxtop", "check", "--format", "yaml"]).is_err());
    }
}
