//! The log file, from the outside: the binary is run against the simulator and its log read back.
//! Each run gets its own environment (no test changes this process's).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use inboxtop::sim::{self, Scenario, SimConfig};

/// A key the simulator accepts, which must never reach the log.
const MARKER_KEY: &str = "sk_live_MARKER_7f3a9c_DO_NOT_LOG";

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("inboxtop-logging-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// `inboxtop ARGS` with the key in the environment and no `RUST_LOG` unless `env` sets one.
async fn inboxtop(args: &[&str], env: &[(&str, &Path)], rust_log: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_inboxtop"));
    command
        .args(args)
        .env("INBOXTOP_API_KEY", MARKER_KEY)
        .env_remove("RUST_LOG");
    command.envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    // Exit 3 is also an UNKNOWN verdict (a short window): what must not happen is "could not run".
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some() && !stderr.contains("could not run"),
        "{stderr}"
    );
    out
}

/// Nothing of the log on the terminal.
fn assert_quiet_terminal(out: &Output) {
    for text in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(text);
        assert!(
            !text.contains("inboxtop::source") && !text.contains("inboxtop::config"),
            "log lines on the terminal:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_logs_connects_closes_retries_and_settings_but_never_the_key() {
    let sim = sim::start(
        SimConfig {
            scenario: Scenario::HeartbeatFlood,
            api_key: MARKER_KEY.into(),
            time_scale: 20.0,
            ..SimConfig::default()
        },
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let dir = Scratch::new("live");
    let log_file = dir.0.join("inboxtop.log");
    let base_url = sim.base_url();
    let log_arg = log_file.to_str().unwrap();
    let args = [
        "check",
        "--base-url",
        &base_url,
        "--agent",
        "demo",
        "--duration",
        "1s",
        "-vvv",
        "--log-file",
        log_arg,
    ];
    let out = inboxtop(&args, &[], None).await;
    assert_quiet_terminal(&out);

    let log = std::fs::read_to_string(&log_file).unwrap();
    for expected in [
        "START inboxtop ",
        "log filter \"warn,inboxtop=trace\" (flag)",
        "setting api_key = ••••",
        "(env INBOXTOP_API_KEY)",
        "stream: connecting to http://127.0.0.1:",
        "stream: HTTP 200 (text/event-stream)",
        "stream: event \"heartbeat\"",
        "stream: closed: server closed (EOF)",
        "stream: reconnecting in ",
        "peek: ",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} is not in the log:\n{log}"
        );
    }
    assert!(
        !log.contains("MARKER_7f3a9c"),
        "the key is in the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_log_is_in_the_state_dir_and_rust_log_sets_its_filter() {
    let dir = Scratch::new("default");
    let env = [
        ("XDG_STATE_HOME", dir.0.as_path()),
        ("HOME", dir.0.as_path()),
    ];
    let args = [
        "check",
        "--scenario",
        "healthy",
        "--time-scale",
        "50",
        "--duration",
        "5s",
        "-v",
    ];
    let out = inboxtop(&args, &env, Some("warn,inboxtop::source=debug")).await;
    assert_quiet_terminal(&out);

    let log_file = dir.0.join("inboxtop").join("inboxtop.log");
    let log = std::fs::read_to_string(&log_file)
        .unwrap_or_else(|e| panic!("no log at {}: {e}", log_file.display()));
    assert!(
        log.contains("log filter \"warn,inboxtop::source=debug\" (env RUST_LOG)"),
        "{log}"
    );
    assert!(log.contains("DEBUG inboxtop::source: peek: "), "{log}");
    // RUST_LOG replaced -v: the settings (info, inboxtop::config) are not logged.
    assert!(!log.contains("setting base_url"), "{log}");
    assert!(!log.contains("MARKER_7f3a9c"), "{log}");
}
