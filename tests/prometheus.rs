//! The exporter as Prometheus sees it: the exposition of synthetic timelines, `promtool` on the
//! exposition and on the shipped rules, and a real Prometheus scraping the exporter over loopback.
//!
//! `promtool` and `prometheus` come from the Debian `prometheus` package (CI installs it); without
//! them these tests print `SKIPPED: …` and return.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inboxtop::exporter::{self, CONTENT_TYPE, Exposed, Shared};
use inboxtop::monitor::verdict::judge;
use inboxtop::monitor::{Severity, Verdict};
use inboxtop::observation::{CloseReason, Kind};
use inboxtop::testkit::Timeline;

const FLOOD_FINDING: &str = r#"inboxtop_finding{kind="heartbeat-flood"}"#;

/// The seed outage: sessions that each take 25 heartbeats in 1.5 s and close, over and over,
/// while polling sees messages the stream never delivers.
fn seed_outage() -> Timeline {
    let mut t = Timeline::new();
    t.poll(0, &[]);
    for session in 1..=4u64 {
        let start = (session - 1) * 3_500;
        t.open(start, session);
        for i in 0..25 {
            t.heartbeat(start + i * 60, session, start + i * 60);
        }
        t.close(start + 1_500, session, CloseReason::Eof);
    }
    t.poll(14_000, &[("m-1", 5_000), ("m-2", 9_000)]);
    t.tick(30_000);
    t
}

/// A healthy minute that shows every piece of evidence: open, in-band heartbeats, a peek, a
/// message on the stream before the peek lists it.
fn healthy_minute() -> Timeline {
    let mut t = Timeline::new();
    t.open(0, 1);
    t.message(20_000, 1, "m-1", 19_990);
    t.poll(21_000, &[("m-1", 19_990)]);
    for s in [15, 30, 45, 60] {
        t.heartbeat(s * 1000, 1, s * 1000);
    }
    t
}

fn fleet(agents: &[(&str, &Timeline)]) -> Shared {
    let mut fleet = Exposed::new();
    for (id, t) in agents {
        fleet.add(*id, t.m.clone());
    }
    fleet.shared()
}

fn expose(fleet: &Shared) -> String {
    exporter::exposition(fleet).expect("a String takes any exposition")
}

/// The value of the one sample named exactly `series` (name and labels as written).
fn sample<'a>(exposition: &'a str, series: &str) -> Option<&'a str> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
}

#[test]
fn the_seed_outage_exposes_an_active_flood_a_loop_and_a_delivery_gap() {
    let t = seed_outage();
    let out = expose(&fleet(&[("flood", &t)]));
    assert_eq!(
        sample(
            &out,
            r#"inboxtop_finding{agent="flood",kind="heartbeat-flood",severity="error"}"#
        ),
        Some("1"),
        "{out}"
    );
    assert_eq!(
        sample(&out, r#"inboxtop_reconnects_total{agent="flood"}"#),
        Some("3")
    );
    assert_eq!(
        sample(&out, r#"inboxtop_heartbeats_total{agent="flood"}"#),
        Some("100")
    );
    // 24 intervals of 60 ms in each of 4 sessions; none across a reconnect.
    assert_eq!(
        sample(
            &out,
            r#"inboxtop_heartbeat_interval_seconds_bucket{agent="flood",le="0.1"}"#
        ),
        Some("96")
    );
    assert_eq!(
        sample(
            &out,
            r#"inboxtop_heartbeat_interval_seconds_count{agent="flood"}"#
        ),
        Some("96")
    );
    assert_eq!(
        sample(&out, r#"inboxtop_messages_only_polled{agent="flood"}"#),
        Some("2")
    );
    assert_eq!(
        sample(&out, r#"inboxtop_stream_up{agent="flood"}"#),
        Some("0")
    );
    assert_eq!(
        sample(&out, r#"inboxtop_verdict{agent="flood"}"#),
        Some("2")
    );
}

#[test]
fn a_healthy_minute_is_verdict_ok_with_no_warning_finding() {
    let t = healthy_minute();
    let j = judge(&t.m);
    assert_eq!(
        j.verdict,
        Verdict::Ok,
        "every piece of evidence shown: {j:#?}"
    );
    let out = expose(&fleet(&[("healthy", &t)]));
    assert_eq!(
        sample(&out, r#"inboxtop_verdict{agent="healthy"}"#),
        Some("0")
    );
    for severity in [Severity::Warning, Severity::Error] {
        let label = format!(r#"severity="{}""#, severity.label());
        assert!(!out.contains(&label), "{label} in\n{out}");
    }
    assert_eq!(
        sample(
            &out,
            r#"inboxtop_heartbeat_interval_seconds_bucket{agent="healthy",le="15"}"#
        ),
        Some("3")
    );
    assert_eq!(
        sample(
            &out,
            r#"inboxtop_delivery_latency_seconds_bucket{agent="healthy",le="0.01"}"#
        ),
        Some("1")
    );
    assert_eq!(
        sample(&out, r#"inboxtop_messages_streamed_total{agent="healthy"}"#),
        Some("1")
    );
}

// ---- the exporter over HTTP ----

/// The exporter's router on a loopback port; the task ends with the test's runtime.
async fn start_exporter(fleet: Shared) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(exporter::serve(listener, fleet));
    addr
}

#[tokio::test]
async fn the_exporter_serves_metrics_and_health_over_http() {
    let t = seed_outage();
    let addr = start_exporter(fleet(&[("flood", &t)])).await;
    let client = reqwest::Client::new();

    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    let metrics = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics answers");
    assert_eq!(metrics.status(), 200);
    assert_eq!(
        metrics.headers()["content-type"].to_str().unwrap(),
        CONTENT_TYPE
    );
    let body = metrics.text().await.unwrap();
    assert_eq!(
        sample(&body, r#"inboxtop_verdict{agent="flood"}"#),
        Some("2")
    );

    let missing = client
        .get(format!("http://{addr}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

// ---- promtool ----

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/prometheus")
}

/// Whether `tool` runs; if not, says the test is skipped (never a silent pass).
fn installed(tool: &str, test: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("SKIPPED: {test}: `{tool}` is not installed (apt-get install prometheus)");
    }
    ok
}

/// Runs promtool with `args` (and `stdin`), asserting success and returning its output.
fn promtool(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(assets())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    let mut input = child.stdin.take().expect("piped stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("promtool reads stdin");
    drop(input);
    let out = child.wait_with_output().expect("promtool finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn promtool_accepts_the_exposition() {
    if !installed("promtool", "promtool_accepts_the_exposition") {
        return;
    }
    let (flood, healthy) = (seed_outage(), healthy_minute());
    let out = expose(&fleet(&[("flood", &flood), ("healthy", &healthy)]));
    // `check metrics` also lints names and help: any complaint fails it.
    promtool(&["check", "metrics"], Some(&out));
}

#[test]
fn promtool_accepts_the_shipped_config_and_rules() {
    if !installed("promtool", "promtool_accepts_the_shipped_config_and_rules") {
        return;
    }
    let rules = promtool(&["check", "rules", "inboxtop.rules.yml"], None);
    assert!(rules.contains("SUCCESS: 4 rules found"), "{rules}");
    let config = promtool(&["check", "config", "prometheus.yml"], None);
    assert!(config.contains("SUCCESS: 1 rule files found"), "{config}");
}

#[test]
fn promtool_rule_tests_pass() {
    if !installed("promtool", "promtool_rule_tests_pass") {
        return;
    }
    let out = promtool(&["test", "rules", "inboxtop.rules.test.yml"], None);
    assert!(out.contains("SUCCESS"), "{out}");
}

// ---- a real Prometheus ----

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("inboxtop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The Prometheus child, killed when the test ends however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free right now (Prometheus binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `(agent, value)` of each series an instant query returns.
async fn query(client: &reqwest::Client, prometheus: &str, promql: &str) -> Vec<(String, String)> {
    let answer: serde_json::Value = match client
        .get(format!("http://{prometheus}/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .await
    {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => return vec![], // not listening yet
    };
    let series = answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<(String, String)> = series
        .iter()
        .map(|s| {
            let agent = s["metric"]["agent"].as_str().unwrap_or_default().to_owned();
            let value = s["value"][1].as_str().unwrap_or_default().to_owned();
            (agent, value)
        })
        .collect();
    out.sort();
    out
}

/// Polls `promql` until `done` holds of its answer, for at most `limit`; returns the last answer.
async fn query_until(
    client: &reqwest::Client,
    prometheus: &str,
    promql: &str,
    limit: Duration,
    done: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + limit;
    loop {
        let answer = query(client, prometheus, promql).await;
        if done(&answer) || Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn pair(agent: &str, value: &str) -> (String, String) {
    (agent.to_owned(), value.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_flood_and_sees_it_clear() {
    if !installed(
        "prometheus",
        "a_real_prometheus_scrapes_the_flood_and_sees_it_clear",
    ) {
        return;
    }
    let started = Instant::now();
    let (flood, healthy) = (seed_outage(), healthy_minute());
    let fleet = fleet(&[("flood", &flood), ("healthy", &healthy)]);
    let exporter = start_exporter(fleet.clone()).await;

    let dir = TempDir::new("prometheus");
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: inboxtop\n    static_configs:\n      \
             - targets: [\"{exporter}\"]\n"
        ),
    )
    .expect("write prometheus.yml");
    let prometheus = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.0.join("prometheus.log")).expect("log file");
    let _prometheus = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address={prometheus}"))
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("prometheus starts"),
    );
    let log_tail = || {
        let log = std::fs::read_to_string(dir.0.join("prometheus.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    let client = reqwest::Client::new();
    let limit = Duration::from_secs(30);

    // Both agents scraped: every agent has a verdict.
    let verdicts = query_until(&client, &prometheus, "inboxtop_verdict", limit, |a| {
        a.len() == 2
    })
    .await;
    assert_eq!(
        verdicts,
        [pair("flood", "2"), pair("healthy", "0")],
        "prometheus log:\n{}",
        log_tail()
    );
    // By design a kind never raised has no series: the healthy agent is absent, not 0.
    let flood_scraped = query(&client, &prometheus, FLOOD_FINDING).await;
    assert_eq!(flood_scraped, [pair("flood", "1")]);

    // The flood ends: in-band heartbeats on a new session push it out of the model's window.
    let calm = Timeline::new();
    let (session, origin) = (99, 60_000);
    {
        let mut fleet = fleet.lock().unwrap();
        for kind in open(session) {
            fleet.apply(&calm.observation(origin, kind));
        }
        let beats = inboxtop::monitor::rate::HEARTBEAT_HISTORY as u64 + 1;
        for i in 1..=beats {
            let at = origin + i * 20_000;
            let data = format!("{{\"timestamp\":\"{}\"}}", calm.rfc3339(at));
            fleet.apply(&calm.observation(at, heartbeat(session, data)));
        }
    }
    let cleared = query_until(&client, &prometheus, FLOOD_FINDING, limit, |a| {
        a == [pair("flood", "0")]
    })
    .await;
    assert_eq!(
        cleared,
        [pair("flood", "0")],
        "a cleared finding reads 0, it does not go stale; prometheus log:\n{}",
        log_tail()
    );
    println!(
        "real Prometheus round trip (start, two scrapes, a clear) took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A connect attempt and its 200 text/event-stream answer.
fn open(session: u64) -> [Kind; 2] {
    [
        Kind::ConnectAttempt {
            session,
            last_event_id: None,
        },
        Kind::StreamResponse {
            session,
            status: 200,
            content_type: Some("text/event-stream".into()),
            content_encoding: None,
            ttfb_ms: 3,
            retry_after_ms: None,
            headers: vec![],
            error: None,
        },
    ]
}

fn heartbeat(session: u64, data: String) -> Kind {
    Kind::SseEvent {
        session,
        event: "heartbeat".into(),
        id: None,
        data,
        retry_ms: None,
    }
}
