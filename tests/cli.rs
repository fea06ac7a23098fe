//! The binary as users run it: `check` verdicts and exit codes for every scenario, every report
//! format, reports without secrets, recordings that survive SIGTERM and judge the same as live,
//! and clear errors (exit 3, UNKNOWN) for bad input.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use inboxtop::record::Reader;

mod common;
use common::inboxtop;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inboxtop-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// (kind, severity) of every warning or error.
fn problems(report: &serde_json::Value) -> Vec<String> {
    let mut kinds: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

/// The exit code of each verdict word (the Monitoring Plugins convention).
fn exit_code_of(verdict: &str) -> i32 {
    match verdict {
        "ok" => 0,
        "warning" => 1,
        "critical" => 2,
        "unknown" => 3,
        other => panic!("not a verdict: {other:?}"),
    }
}

/// `check --scenario SCENARIO --time-scale SCALE --duration DURATION --format json` (plus
/// `extra`), started in the background so several scenarios play side by side.
fn spawn_json_check(
    scenario: &str,
    scale: &str,
    duration: &str,
    extra: &[&str],
) -> std::process::Child {
    inboxtop()
        .args(["check", "--scenario", scenario, "--time-scale", scale])
        .args(["--duration", duration, "--format", "json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn every_scenario_gets_exactly_its_verdict() {
    let expected: &[(&str, &[&str], &str, &str)] = &[
        ("healthy", &[], "900s", "ok"),
        (
            "heartbeat-flood",
            &["delivery-gap", "heartbeat-flood", "short-sessions"],
            "400s",
            "critical",
        ),
        ("silent-drop", &["delivery-gap"], "400s", "critical"),
        (
            "idle-timeout",
            &["no-heartbeat", "proxy-idle-timeout"],
            "500s",
            "critical",
        ),
        ("proxy-buffering", &["proxy-buffering"], "400s", "warning"),
        (
            "stall",
            &["delivery-gap", "stream-stalled"],
            "400s",
            "critical",
        ),
        ("auth-failure", &["auth-failed"], "200s", "critical"),
        ("flaky", &["server-errors"], "500s", "warning"),
    ];
    // The scenarios mostly wait on simulated time: run them side by side.
    let runs: Vec<_> = expected
        .iter()
        .map(|&(scenario, kinds, duration, verdict)| {
            let child = spawn_json_check(scenario, "50", duration, &[]);
            (scenario, kinds, verdict, child)
        })
        .collect();
    for (scenario, kinds, verdict, child) in runs {
        let out = child.wait_with_output().unwrap();
        let report = json_of(&out);
        if matches!(scenario, "flaky" | "idle-timeout")
            && problems(&report).contains(&"delivery-gap".to_owned())
        {
            // A mid-stream reset (or a proxy's cut) can end the stream while a message is in
            // flight: the server counts it delivered and does not replay it (the transport
            // replays pending messages only), so the cuts sometimes make a real delivery gap.
            let mut with_the_gap = vec!["delivery-gap".to_owned()];
            with_the_gap.extend(kinds.iter().map(|k| (*k).to_owned()));
            with_the_gap.sort();
            assert_eq!(problems(&report), with_the_gap, "{scenario}");
            assert_eq!(report["verdict"], "critical");
            assert_eq!(out.status.code(), Some(exit_code_of("critical")));
            continue;
        }
        assert_eq!(
            problems(&report),
            kinds.to_vec(),
            "{scenario}: {}",
            serde_json::to_string_pretty(&report["findings"]).unwrap()
        );
        assert_eq!(
            report["verdict"], verdict,
            "{scenario}: {}",
            report["headline"]
        );
        assert_eq!(
            out.status.code(),
            Some(exit_code_of(verdict)),
            "{scenario} exit code"
        );
        assert_eq!(report["exit_code"], exit_code_of(verdict));
        if scenario == "healthy" {
            assert!(
                report["stats"]["messages_streamed"].as_u64().unwrap() >= 100,
                "a long run with many messages"
            );
            assert_eq!(report["stats"]["sessions"], 1);
        }
    }
}

/// A simulator process, killed when dropped: a failing test does not leave it running (holding
/// the test harness's output pipe open).
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `inboxtop serve` on a free port; returns the server and its base URL from the banner.
fn serve(args: &[&str]) -> (Server, String) {
    let mut child = inboxtop()
        .arg("serve")
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    let banner: Vec<String> = lines.take(6).map(|l| l.unwrap()).collect();
    assert!(
        banner.iter().any(|l| l.contains("curl -N")),
        "the banner shows a ready curl: {banner:?}"
    );
    (Server(child), url)
}

/// The command of a markdown report's "Steps to reproduce".
fn reproduce_command(md: &str) -> &str {
    let start = md.find("```sh\n").expect("a sh block") + "```sh\n".len();
    md[start..].lines().next().unwrap()
}

/// Runs a reproduce command in `sh` as a person pasting it would, with the real key for the
/// placeholder and this build for `inboxtop`.
fn run_in_shell(command: &str, key: &str) -> Output {
    let command = command
        .replacen("INBOXTOP_API_KEY=…", &format!("INBOXTOP_API_KEY={key}"), 1)
        .replacen(
            "inboxtop check",
            &format!("{} check", env!("CARGO_BIN_EXE_inboxtop")),
            1,
        );
    let mut sh = Command::new("sh");
    sh.args(["-c", &command])
        .env("XDG_CONFIG_HOME", "/nonexistent-inboxtop-test")
        .env_remove("INBOXTOP_API_KEY")
        .env_remove("INBOXTOP_BASE_URL")
        .env_remove("INBOXTOP_AGENT")
        .env_remove("INBOXTOP_CONFIG");
    sh.output().unwrap()
}

#[test]
fn markdown_report_has_the_evidence_never_the_key_and_reproduces_as_written() {
    const KEY: &str = "sk_live_TOPSECRET_0123456789";
    let (server, url) = serve(&[
        "--scenario",
        "heartbeat-flood",
        "--api-key",
        KEY,
        "--time-scale",
        "5",
    ]);
    let recording = tmp("secret.ndjson");
    let out = inboxtop()
        .env("INBOXTOP_API_KEY", KEY)
        .args([
            "check",
            "--base-url",
            &url,
            "--agent",
            "demo",
            "--duration",
            "3s",
            "--format",
            "markdown",
            "--expect-heartbeat",
            "1s..6s",
        ])
        .arg("--record")
        .arg(&recording)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{md}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "# inboxtop CRITICAL: ",
        "**Verdict: CRITICAL** (exit code 2)",
        "## What the window showed",
        "| ✓ | stream-opened |",
        "## Findings",
        "| raised at | ",
        "first seen",
        "## Environment",
        "| settings | --expect-heartbeat 1s..6s |",
        "## Steps to reproduce",
        "## Expected vs actual",
    ] {
        assert!(md.contains(needle), "markdown lacks {needle:?}:\n{md}");
    }
    assert!(names_the_flood(&md), "{md}");
    let year = chrono::Utc::now().format("%Y-").to_string();
    assert!(md.contains(&year), "real timestamps in the evidence");
    let command = reproduce_command(&md);
    assert_eq!(
        command,
        format!(
            "INBOXTOP_API_KEY=… inboxtop check --base-url {url} --agent demo \
             --expect-heartbeat 1s..6s --duration 3s --format markdown"
        )
    );
    let recorded = std::fs::read_to_string(&recording).unwrap();
    // Its checkpoints beside it (none taken in so short a recording: the file names it).
    let checkpoints =
        std::fs::read_to_string(recording.with_extension("ndjson.checkpoints")).unwrap();
    assert!(
        checkpoints.starts_with(r#"{"format":"inboxtop-checkpoints","version":1,"recording":{"#),
        "{checkpoints}"
    );
    for (what, text) in [
        ("report", md.as_ref()),
        ("stderr", &String::from_utf8_lossy(&out.stderr)),
        ("recording", recorded.as_str()),
        ("checkpoints", checkpoints.as_str()),
    ] {
        assert!(
            !text.contains("TOPSECRET"),
            "the key leaked into the {what}"
        );
    }
    assert!(recorded.lines().count() > 10);

    // Pasted into a shell (with the key filled in), it watches the same server the same way.
    let again = run_in_shell(command, KEY);
    drop(server);
    let md_again = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(2), "{md_again}");
    assert!(names_the_flood(&md_again), "{md_again}");
    assert_eq!(reproduce_command(&md_again), command, "a fixed point");
}

/// The flood scenario's finding, with its evidence. Named `heartbeat-flood` — or, once the
/// reconnects have left several of the adapter's outliving heartbeat timers ticking side by side
/// and the detector tells them apart (on a loaded machine that can come first), `stacked-heartbeats`,
/// the flood's cause, which then explains the flood away.
fn names_the_flood(md: &str) -> bool {
    (md.contains("### heartbeat-flood (error)") && md.contains("heartbeats_in_burst"))
        || (md.contains("### stacked-heartbeats (") && md.contains("timers"))
}

#[test]
fn a_demo_report_speaks_simulated_seconds_and_reproduces_as_a_demo() {
    let out = inboxtop()
        .args(["check", "--scenario", "stall", "--time-scale", "50"])
        .args(["--duration", "100s", "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{md}");
    assert!(
        md.contains("demo: stall, 50× real time (durations in simulated seconds)"),
        "{md}"
    );
    assert!(
        md.contains("a heartbeat every 15 s–30 s"),
        "the band in simulated seconds: {md}"
    );
    let command = reproduce_command(&md);
    assert_eq!(
        command,
        "inboxtop check --scenario stall --time-scale 50 --duration 100s --format markdown"
    );
    let again = run_in_shell(command, "unused");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stdout).contains("### stream-stalled (error)"));
}

/// `check --format plugin` against the simulator playing `scenario` at 50×.
fn plugin_line(scenario: &str, duration: &str) -> (String, Option<i32>) {
    let out = inboxtop()
        .args(["check", "--scenario", scenario, "--time-scale", "50"])
        .args(["--duration", duration, "--format", "plugin"])
        .output()
        .unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.code())
}

#[test]
fn the_plugin_line_is_one_line_with_the_state_the_headline_and_perfdata() {
    let (flood, code) = plugin_line("heartbeat-flood", "100s");
    assert_eq!(code, Some(2), "{flood}");
    assert_eq!(flood.lines().count(), 1, "{flood}");
    let (text, perfdata) = flood.trim_end().split_once(" | ").unwrap();
    assert!(text.starts_with("INBOXTOP CRITICAL - "), "{flood}");
    for kind in ["heartbeat-flood", "short-sessions"] {
        assert!(text.contains(kind), "{flood}");
    }
    let labels: Vec<&str> = perfdata
        .split(' ')
        .map(|datum| {
            let (label, rest) = datum.split_once('=').unwrap();
            assert!(rest.ends_with(";;;0"), "{datum}");
            label
        })
        .collect();
    assert_eq!(
        labels,
        [
            "observed",
            "sessions",
            "reconnects",
            "heartbeats",
            "streamed",
            "polled",
            "only_polled",
            "http_errors",
            "network_errors"
        ]
    );
    let observed: f64 = perfdata
        .strip_prefix("observed=")
        .and_then(|rest| rest.split_once("s;;;0 "))
        .and_then(|(seconds, _)| seconds.parse().ok())
        .unwrap_or_else(|| panic!("seconds with their unit: {perfdata}"));
    assert!(
        (90.0..=110.0).contains(&observed),
        "simulated seconds: {perfdata}"
    );

    let (healthy, code) = plugin_line("healthy", "120s");
    assert_eq!(code, Some(0), "{healthy}");
    assert!(
        healthy.starts_with(
            "INBOXTOP OK - stream up, heartbeats in band, peek answering, messages delivered | \
             observed="
        ),
        "{healthy}"
    );
    assert!(
        healthy.contains(";;;0 sessions=1;;;0 reconnects=0;;;0 "),
        "{healthy}"
    );
}

#[test]
fn a_recording_judges_the_same_as_the_live_run() {
    let recording = tmp("roundtrip.ndjson");
    let live = inboxtop()
        .args([
            "check",
            "--scenario",
            "heartbeat-flood",
            "--time-scale",
            "50",
            "--duration",
            "200s",
            "--format",
            "json",
            "--record",
        ])
        .arg(&recording)
        .output()
        .unwrap();
    let replayed = inboxtop()
        .args(["check", "--format", "json", "--from"])
        .arg(&recording)
        .output()
        .unwrap();
    let (a, b) = (json_of(&live), json_of(&replayed));
    assert_eq!(a["stats"], b["stats"], "in the same simulated seconds");
    let elapsed = a["stats"]["elapsed_s"].as_f64().unwrap();
    assert!(
        (180.0..=210.0).contains(&elapsed),
        "simulated seconds, not the 4 real ones: {elapsed}"
    );
    assert_eq!(a["verdict"], b["verdict"]);
    assert_eq!(problems(&a), problems(&b));
    assert_eq!(
        problems(&a),
        vec!["delivery-gap", "heartbeat-flood", "short-sessions"]
    );
    assert_eq!(live.status.code(), replayed.status.code());
}

#[test]
fn sigterm_mid_recording_leaves_a_file_that_reads_to_its_last_line() {
    let recording = tmp("sigterm.ndjson");
    let mut child = inboxtop()
        .args([
            "check",
            "--scenario",
            "healthy",
            "--time-scale",
            "20",
            "--duration",
            "600s",
            "--record",
        ])
        .arg(&recording)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&recording).map_or(0, |m| m.len()) < 20_000 {
        assert!(Instant::now() < deadline, "the recording did not grow");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(
        status.code().is_some(),
        "inboxtop handles SIGTERM and exits by itself: {status:?}"
    );
    let reader = Reader::open(&recording).unwrap();
    let all: Vec<_> = reader.collect();
    assert!(
        all.iter().all(Result::is_ok),
        "every line parses after SIGTERM: {:?}",
        all.iter().find(|r| r.is_err())
    );
    assert!(all.len() >= 5, "{} observations", all.len());
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn bad_recordings_get_errors_that_name_the_line() {
    let good = tmp("good.ndjson");
    let out = inboxtop()
        .args([
            "check",
            "--scenario",
            "silent-drop",
            "--time-scale",
            "50",
            "--duration",
            "100s",
            "--record",
        ])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.code().is_some());
    let text = std::fs::read_to_string(&good).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    let foreign = tmp("foreign.txt");
    write(&foreign, "hello, I am not a recording\n");
    let out = inboxtop()
        .args(["check", "--from"])
        .arg(&foreign)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "an unreadable recording could not run"
    );
    assert!(
        err.contains("line 1") && err.contains("not an inboxtop recording"),
        "{err}"
    );

    let newer = tmp("newer.ndjson");
    write(
        &newer,
        &(lines[0].replace("\"version\":1", "\"version\":99") + "\n"),
    );
    let out = inboxtop()
        .args(["check", "--from"])
        .arg(&newer)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("newer"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let corrupt = tmp("corrupt.ndjson");
    write(
        &corrupt,
        &format!(
            "{}\n{}\n{}\n{{oops\n{}\n",
            lines[0], lines[1], lines[2], lines[3]
        ),
    );
    let out = inboxtop()
        .args(["check", "--format", "json", "--from"])
        .arg(&corrupt)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4"), "{err}");
    let report = json_of(&out);
    assert!(
        report["duration_s"].is_number(),
        "what was valid before the bad line is still judged"
    );

    let truncated = tmp("truncated.ndjson");
    write(
        &truncated,
        &format!(
            "{}\n{}\n{}",
            lines[0],
            lines[1],
            &lines[2][..lines[2].len() / 2]
        ),
    );
    let out = inboxtop()
        .args(["check", "--from"])
        .arg(&truncated)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("truncated"), "{err}");
}

#[test]
fn bad_arguments_and_unreachable_servers_exit_3_unknown_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["watch", "--base-url", "ftp://example.com", "--agent", "a"],
            "http",
        ),
        (
            &[
                "check",
                "--base-url",
                "http://127.0.0.1:9",
                "--agent",
                "a",
                "--duration",
                "2s",
            ],
            "never answered",
        ),
        (&["check", "--duration", "soon"], "examples"),
        (&["check", "--format", "yaml"], "plugin"),
        (&["demo", "--scenario", "nope"], "unknown scenario"),
        (&["watch", "--base-url", "http://127.0.0.1:9"], "no agent"),
    ];
    for (args, message) in cases {
        let out = inboxtop()
            .env("INBOXTOP_API_KEY", "k")
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains(message),
            "{args:?} should say {message:?}: {err}"
        );
    }
}

#[test]
fn a_plugin_that_could_not_run_still_prints_its_unknown_line() {
    let out = inboxtop()
        .env("INBOXTOP_API_KEY", "k")
        .args(["check", "--base-url", "http://127.0.0.1:9", "--agent", "a"])
        .args(["--duration", "2s", "--format", "plugin"])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{line}");
    assert!(
        line.starts_with("INBOXTOP UNKNOWN - could not run: the server never answered"),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1);
}

#[test]
fn list_scenarios_names_all_eight() {
    let out = inboxtop()
        .args(["serve", "--list-scenarios"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "healthy",
        "heartbeat-flood",
        "silent-drop",
        "idle-timeout",
        "proxy-buffering",
        "stall",
        "auth-failure",
        "flaky",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert!(
        text.contains("Expect:"),
        "each scenario says what inboxtop should conclude"
    );
}

#[test]
fn help_never_shows_a_key_from_the_environment() {
    let out = inboxtop()
        .env("INBOXTOP_API_KEY", "sk_env_SHOULD_NOT_APPEAR")
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "--help is not an error");
    assert!(text.contains("Usage"));
    assert!(!text.contains("SHOULD_NOT_APPEAR"));
}

/// `inboxtop config`'s line for one setting: (value and source), the name stripped.
fn config_line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {name} line in:\n{text}"))
}

#[test]
fn config_shows_every_setting_with_its_source_and_never_the_key() {
    let path = tmp("provenance.toml");
    write(
        &path,
        "base_url = \"http://file.example\"\nagent = \"file-agent\"\n\
         api_key = \"sk_file_TOPSECRET_0123\"\npoll_interval = \"2s\"\n",
    );
    let out = inboxtop()
        .env("INBOXTOP_CONFIG", &path)
        .env("INBOXTOP_AGENT", "env-agent")
        .args(["config", "--backoff-cap", "10s"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let in_file = format!("file {}", path.display());
    let expected = [
        (
            "config",
            format!("{} (read)", path.display()),
            "env INBOXTOP_CONFIG".to_owned(),
        ),
        ("base_url", "http://file.example".into(), in_file.clone()),
        ("agents", "env-agent".into(), "env INBOXTOP_AGENT".into()),
        ("api_key", "••••••23".into(), in_file.clone()),
        ("poll_interval", "2s".into(), in_file),
        ("backoff_cap", "10s".into(), "flag".into()),
        ("stream_path", "/messages/stream".into(), "default".into()),
    ];
    for (name, value, source) in expected {
        let line = config_line(&text, name);
        let words: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        assert_eq!(words, [value.as_str(), source.as_str()], "{name}: {text}");
    }
    assert!(
        !text.contains("TOPSECRET") && !String::from_utf8_lossy(&out.stderr).contains("TOPSECRET"),
        "the key leaked: {text}"
    );

    // A flag beats the environment; the default config file is looked for even when missing.
    let out = inboxtop()
        .env("INBOXTOP_AGENT", "env-agent")
        .args(["config", "--agent", "flag-agent"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let agents = config_line(&text, "agents");
    assert!(
        agents.trim_start().starts_with("flag-agent ") && agents.ends_with("  flag"),
        "{text}"
    );
    let config = config_line(&text, "config");
    assert!(
        config.contains("config.toml (not found)") && config.ends_with("  default"),
        "{text}"
    );
}

/// The expected heartbeat band (ms) a `check --scenario healthy` run recorded with these
/// extra arguments.
fn recorded_heartbeat_band(name: &str, extra: &[&str]) -> (u64, u64) {
    let recording = tmp(name);
    let out = inboxtop()
        .args(["check", "--scenario", "healthy", "--time-scale", "50"])
        .args(["--duration", "10s", "--record"])
        .arg(&recording)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Reader::open(&recording).unwrap().header.expect_heartbeat_ms
}

#[test]
fn a_heartbeat_band_from_the_config_file_is_kept_against_the_simulator() {
    // The simulator beats every 15 s; at 50× the default band is fitted to it: 15 s..30 s → 300..600 ms.
    assert_eq!(recorded_heartbeat_band("fitted.ndjson", &[]), (300, 600));
    let config = tmp("heartbeat.toml");
    write(&config, "expect_heartbeat = \"20s..40s\"\n");
    let config = config.to_str().unwrap();
    assert_eq!(
        recorded_heartbeat_band("from-file.ndjson", &["--config", config]),
        (400, 800),
        "the config file's band, not the simulator's"
    );
    assert_eq!(
        recorded_heartbeat_band(
            "from-flag.ndjson",
            &["--config", config, "--expect-heartbeat", "10s..20s"]
        ),
        (200, 400),
        "the flag beats the file"
    );
}

#[test]
fn bash_completions_know_the_commands_and_their_flags() {
    let out = inboxtop().args(["completions", "bash"]).output().unwrap();
    let script = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    for word in ["demo", "check", "--scenario", "config"] {
        assert!(script.contains(word), "{word} missing from the completions");
    }
}

#[test]
fn the_man_page_opens_with_a_title_header_naming_inboxtop() {
    let out = inboxtop().arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    // Before the title, roff may only define strings (`.ie`/`.el`), never print anything.
    let title = page
        .lines()
        .find(|line| !line.starts_with(".ie ") && !line.starts_with(".el "))
        .unwrap_or_default();
    assert!(title.starts_with(".TH inboxtop 1"), "{title:?}");
    assert!(page.contains(".SH NAME") && page.contains("demo"));
}

/// `check --probe 3`: on a healthy simulator the probes come back with their round trips; where
/// the stream silently drops messages they are named lost.
#[test]
fn probes_round_trip_on_a_healthy_stream_and_are_lost_on_a_silent_drop() {
    let run = |scenario: &str| spawn_json_check(scenario, "20", "60s", &["--probe", "3"]);
    let (healthy, dropped) = (run("healthy"), run("silent-drop"));
    let healthy = json_of(&healthy.wait_with_output().unwrap());
    assert_eq!(healthy["stats"]["probes_sent"], 3, "{}", healthy["stats"]);
    assert_eq!(healthy["stats"]["probe_stream_round_trips"]["count"], 3);
    assert!(healthy["stats"]["probe_stream_round_trips"]["p95_ms"].is_u64());
    let kinds: Vec<_> = healthy["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"probe-round-trips".to_owned()), "{kinds:?}");
    assert!(!kinds.contains(&"probe-lost".to_owned()), "{kinds:?}");
    let dropped = json_of(&dropped.wait_with_output().unwrap());
    assert!(
        problems(&dropped).contains(&"probe-lost".to_owned()),
        "{}",
        dropped["findings"]
    );
    assert_eq!(dropped["stats"]["probe_stream_round_trips"]["count"], 0);
}

/// The scenarios of the real transport's failure modes each name their own kind (others may come
/// with it: a takeover also floods and loops) and give the verdict's exit code.
#[test]
fn the_transport_scenarios_name_their_kind() {
    let expected: &[(&str, &str, &str)] = &[
        ("takeover", "session-takeover", "critical"),
        ("double-framed", "nested-frame", "critical"),
        ("moved", "redirected", "warning"),
        ("gone", "server-said-stop", "critical"),
        ("rejected", "stream-rejected", "critical"),
    ];
    let runs: Vec<_> = expected
        .iter()
        .map(|&(scenario, kind, verdict)| {
            let child = spawn_json_check(scenario, "50", "400s", &[]);
            (scenario, kind, verdict, child)
        })
        .collect();
    for (scenario, kind, verdict, child) in runs {
        let out = child.wait_with_output().unwrap();
        let report = json_of(&out);
        assert!(
            problems(&report).contains(&kind.to_owned()),
            "{scenario} names {kind}: {:?}",
            problems(&report)
        );
        assert_eq!(
            report["verdict"], verdict,
            "{scenario}: {}",
            report["headline"]
        );
        assert_eq!(out.status.code(), Some(exit_code_of(verdict)), "{scenario}");
    }
}

#[test]
fn config_shows_a_fleet_and_a_missing_key_variable_is_named() {
    let path = tmp("fleet.toml");
    write(
        &path,
        "base_url = \"http://file.example\"\n\
         [[agents]]\nid = \"alpha\"\n\
         [[agents]]\nid = \"beta\"\nbase_url = \"http://beta.example\"\napi_key_env = \"INBOXTOP_TEST_BETA_KEY\"\n",
    );
    let out = inboxtop()
        .env("INBOXTOP_CONFIG", &path)
        .env("INBOXTOP_TEST_BETA_KEY", "beta_TOPSECRET_key_99")
        .arg("config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        config_line(&text, "agents").trim_start().starts_with(
            "alpha, beta (base_url http://beta.example, key ••••••99 from env INBOXTOP_TEST_BETA_KEY)"
        ),
        "{text}"
    );
    assert!(!text.contains("TOPSECRET"), "the key leaked: {text}");

    let out = inboxtop()
        .env("INBOXTOP_CONFIG", &path)
        .env_remove("INBOXTOP_TEST_BETA_KEY")
        .arg("config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("INBOXTOP_TEST_BETA_KEY") && stderr.contains("beta"),
        "{stderr}"
    );
}
