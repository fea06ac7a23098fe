//! The real parts over loopback: the simulator ↔ the stream and poll sources ↔ the model.
//! No mocks: HTTP goes through the sockets, and time runs faster through `--time-scale`.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::sync::mpsc;

use inboxtop::monitor::{FindingKind, Monitor, Severity, Thresholds};
use inboxtop::observation::{Clock, CloseReason, Kind, Observation};
use inboxtop::secret::ApiKey;
use inboxtop::sim::{self, Scenario, SimConfig, SimHandle};
use inboxtop::source::{self, Endpoint, PollSettings, StreamCommand, StreamSettings};
use support::fault_proxy::{Fault, FaultProxy};

const SCALE: f64 = 20.0;

async fn start_sim(scenario: Scenario) -> SimHandle {
    let config = SimConfig {
        scenario,
        time_scale: SCALE,
        ..SimConfig::default()
    };
    sim::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("simulator")
}

struct Run {
    monitor: Monitor,
    observations: Vec<Observation>,
    rx: mpsc::Receiver<Observation>,
    commands: mpsc::Sender<StreamCommand>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Stream and poll sources against `base_url`, with timings scaled like the simulator.
fn watch(base_url: &str, key: &str) -> Run {
    let endpoint = Endpoint::new(base_url, "demo", ApiKey::new(key)).expect("endpoint");
    let clock = Clock::start();
    let (tx, rx) = mpsc::channel(4096);
    let (commands, cmd_rx) = mpsc::channel(4);
    let stream = StreamSettings {
        backoff_initial: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(300),
        read_timeout: Duration::from_millis(600),
        ..StreamSettings::default()
    };
    let poll = PollSettings {
        interval: Duration::from_millis(100),
        ..PollSettings::default()
    };
    let tasks = vec![
        tokio::spawn(source::run_stream(
            endpoint.clone(),
            stream,
            clock,
            tx.clone(),
            cmd_rx,
        )),
        tokio::spawn(source::run_poll(endpoint, poll, clock, tx)),
    ];
    Run {
        monitor: Monitor::new(Thresholds::default().scaled(SCALE)),
        observations: Vec::new(),
        rx,
        commands,
        tasks,
    }
}

impl Run {
    /// Feeds observations to the model until `done` holds or `limit` passes; returns whether it held.
    async fn until(&mut self, limit: Duration, done: impl Fn(&Monitor) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(&self.monitor) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(obs)) => {
                    self.monitor.apply(&obs);
                    self.observations.push(obs);
                }
                _ => return false,
            }
        }
        true
    }

    fn kinds(&self, at_least: Severity) -> Vec<FindingKind> {
        self.monitor
            .findings()
            .into_iter()
            .filter(|f| f.severity >= at_least)
            .map(|f| f.kind)
            .collect()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[tokio::test]
async fn healthy_streams_the_messages_that_polling_also_sees() {
    let sim = start_sim(Scenario::Healthy).await;
    let mut run = watch(&sim.base_url(), "demo");
    let both = |m: &Monitor| {
        m.inbox
            .newest_first()
            .filter(|e| e.stream_lead().is_some())
            .count()
            >= 5
    };
    assert!(
        run.until(Duration::from_secs(15), both).await,
        "stats: {:?}",
        run.monitor.stats()
    );
    let m = &run.monitor;
    assert_eq!(m.connection.state.label(), "open");
    assert_eq!(m.connection.attempts(), 1, "a healthy stream stays up");
    assert!(m.heartbeats.total() >= 1);
    assert_eq!(
        m.inbox
            .only_polled()
            .filter(|e| e.waiting(m.now) > Some(m.thresholds.delivery_grace))
            .count(),
        0
    );
    assert!(
        run.kinds(Severity::Warning).is_empty(),
        "false alarm: {:?}",
        m.findings()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn heartbeat_flood_is_many_short_sessions_and_messages_only_polling_sees() {
    let sim = start_sim(Scenario::HeartbeatFlood).await;
    let mut run = watch(&sim.base_url(), "demo");
    let enough = |m: &Monitor| {
        m.connection.attempts() >= 4
            && m.findings()
                .iter()
                .any(|f| f.kind == FindingKind::DeliveryGap)
    };
    assert!(
        run.until(Duration::from_secs(15), enough).await,
        "stats: {:?}",
        run.monitor.stats()
    );
    let m = &run.monitor;
    let per_session: Vec<u64> = m
        .connection
        .ended_sessions()
        .map(|s| s.heartbeats)
        .collect();
    assert!(
        per_session.iter().all(|&n| (20..=30).contains(&n)),
        "heartbeats per session {per_session:?}"
    );
    assert!(m.connection.ended_sessions().all(|s| matches!(
        s.end,
        Some(inboxtop::monitor::connection::SessionEnd::Closed(
            CloseReason::Eof
        ))
    )));
    assert_eq!(m.inbox.streamed_total, 0);
    let kinds = run.kinds(Severity::Error);
    for expected in [
        FindingKind::HeartbeatFlood,
        FindingKind::ShortSessions,
        FindingKind::DeliveryGap,
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected:?} missing from {kinds:?}"
        );
    }
    assert!(!kinds.contains(&FindingKind::ProxyBuffering));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_is_a_401_with_the_error_code() {
    let sim = start_sim(Scenario::Healthy).await;
    let mut run = watch(&sim.base_url(), "not-the-key");
    assert!(
        run.until(Duration::from_secs(5), |m| m.http_errors.total() >= 2)
            .await
    );
    let stream_401 = run.observations.iter().find_map(|o| match &o.kind {
        Kind::StreamResponse {
            status: 401, error, ..
        } => error.clone(),
        _ => None,
    });
    assert_eq!(
        stream_401.and_then(|e| e.code).as_deref(),
        Some("E_AUTH_UNAUTHORIZED")
    );
    assert!(
        run.kinds(Severity::Error)
            .contains(&FindingKind::AuthFailed)
    );
    let json: String = run
        .observations
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    assert!(
        !json.contains("not-the-key"),
        "the key leaked into an observation"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn reconnect_now_starts_a_new_session_that_resumes_from_the_last_id() {
    let sim = start_sim(Scenario::Healthy).await;
    let mut run = watch(&sim.base_url(), "demo");
    assert!(
        run.until(Duration::from_secs(10), |m| m.inbox.streamed_total >= 1)
            .await
    );
    run.commands
        .send(StreamCommand::ReconnectNow)
        .await
        .unwrap();
    assert!(
        run.until(Duration::from_secs(5), |m| m.connection.opened_total >= 2)
            .await
    );
    let resumed = run.observations.iter().any(|o| {
        matches!(
            &o.kind,
            Kind::ConnectAttempt {
                session: 2,
                last_event_id: Some(_)
            }
        )
    });
    assert!(resumed, "the second attempt should send Last-Event-ID");
    assert!(run.observations.iter().any(|o| matches!(
        &o.kind,
        Kind::StreamClosed {
            session: 1,
            reason: CloseReason::Cancelled
        }
    )));
    sim.shutdown().await;
}

/// The fault proxy between the sources and the simulator: inboxtop reconnects as configured,
/// keeps every observation it received, and shows the true state.
#[tokio::test]
async fn faults_between_client_and_server_are_survived_and_shown_truly() {
    let sim = start_sim(Scenario::Healthy).await;
    let proxy = FaultProxy::start(sim.addr, Fault::ResetAfter(400)).await;
    let mut run = watch(&proxy.base_url(), "demo");
    let reset = |m: &Monitor| {
        m.connection.ended_sessions().any(|s| {
            matches!(
                &s.end,
                Some(inboxtop::monitor::connection::SessionEnd::Closed(
                    CloseReason::Reset { .. }
                ))
            )
        })
    };
    assert!(
        run.until(Duration::from_secs(5), reset).await,
        "a mid-frame reset is observed as a reset"
    );
    // Every event the source reported is in the model's log and counts.
    let events = run
        .observations
        .iter()
        .filter(|o| matches!(o.kind, Kind::SseEvent { .. }))
        .count() as u64;
    assert_eq!(run.monitor.events_total, events);

    proxy.set(Fault::StallAfter(300));
    let timed_out = |m: &Monitor| {
        m.connection.ended_sessions().any(|s| {
            matches!(
                &s.end,
                Some(inboxtop::monitor::connection::SessionEnd::Closed(
                    CloseReason::Timeout { .. }
                ))
            )
        })
    };
    assert!(
        run.until(Duration::from_secs(8), timed_out).await,
        "a half-open stall ends in a read timeout"
    );

    proxy.set(Fault::TruncateAfter(250));
    // The body is chunked, so a response cut short is a protocol error, shown as such.
    let ended_before = run.monitor.connection.ended_sessions().count();
    let cut = |m: &Monitor| m.connection.ended_sessions().count() >= ended_before + 2;
    assert!(
        run.until(Duration::from_secs(5), cut).await,
        "truncated responses end their sessions"
    );
    let partial = run
        .observations
        .iter()
        .any(|o| matches!(&o.kind, Kind::SseEvent { data, .. } if !data.ends_with('}')));
    assert!(!partial, "a frame cut in half must not be dispatched");

    proxy.set(Fault::Refuse);
    let before = run.monitor.connection.attempts();
    assert!(
        run.until(Duration::from_secs(5), |m| m.connection.attempts()
            >= before + 2)
            .await,
        "refused connections are retried"
    );
    assert_ne!(
        run.monitor.connection.state.label(),
        "open",
        "a refused stream is not shown as open"
    );

    proxy.set(Fault::Delay(Duration::from_millis(150)));
    let opened = run.monitor.connection.opened_total;
    assert!(
        run.until(Duration::from_secs(8), |m| m.connection.opened_total
            > opened
            && m.connection.state.label() == "open")
            .await
    );

    proxy.set(Fault::Pass);
    assert!(
        run.until(Duration::from_secs(8), |m| m.connection.state.label()
            == "open"
            && m.connection.uptime(m.now) > Some(Duration::from_millis(700)))
            .await,
        "back to a stable stream once the faults stop"
    );
    assert!(proxy.accepted() >= 5);
    sim.shutdown().await;
}
