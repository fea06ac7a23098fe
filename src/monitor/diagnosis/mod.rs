//! Diagnosis: detectors read the model and name what is wrong, with evidence.
//!
//! One file per family of detectors; [`DETECTORS`] lists every one of them. A new detector is a
//! function `fn(&Monitor) -> Option<Finding>` in its family's file plus one line in the registry.

mod content;
mod delivery;
mod heartbeat;
mod http;
mod reconnect;
mod sessions;
mod timers;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;

use super::Monitor;

/// Tunable limits of the detectors. Defaults fit `SignalDock` (heartbeat every 15–30 s).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thresholds {
    /// The heartbeat interval the server is expected to keep: shortest and longest.
    pub heartbeat_min: Duration,
    pub heartbeat_max: Duration,
    /// How long a message may be in the inbox without reaching the stream before it is a gap.
    pub delivery_grace: Duration,
    /// Heartbeats within one `heartbeat_min` window that make a flood.
    pub flood_beats: usize,
    /// Sessions that end this young are short; this many of them make a reconnect loop.
    pub short_session: Duration,
    pub short_sessions: usize,
    /// Sessions ending at ages within this fraction of each other look like an idle timeout.
    pub idle_spread: f64,
    /// Simulated seconds per real second of what is watched (1 for a real server). The limits
    /// above are in real time; reports multiply by this to speak in the simulator's seconds.
    pub time_scale: f64,
    /// Whether the stream is watched at all (`--no-stream` watches by peek alone): without it the
    /// verdict asks only for what peek can show.
    pub expect_stream: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            heartbeat_min: Duration::from_secs(15),
            heartbeat_max: Duration::from_secs(30),
            delivery_grace: Duration::from_secs(10),
            flood_beats: 5,
            short_session: Duration::from_secs(10),
            short_sessions: 3,
            idle_spread: 0.05,
            time_scale: 1.0,
            expect_stream: true,
        }
    }
}

impl Thresholds {
    /// A duration of real (monotonic) time as the watched system counts it: simulated seconds
    /// for a scaled simulator, itself otherwise. Every duration a person reads goes through here
    /// (or through [`Thresholds::shown_secs`]).
    pub fn shown(&self, real: Duration) -> Duration {
        real.mul_f64(self.watched_per_real())
    }

    /// [`Thresholds::shown`] for real seconds already reduced to a number (a median, a spread).
    pub fn shown_secs(&self, real_s: f64) -> f64 {
        real_s * self.watched_per_real()
    }

    /// The watched system's seconds per real second: the time scale, when it is a valid one.
    pub fn watched_per_real(&self) -> f64 {
        if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale
        } else {
            1.0
        }
    }

    /// The same thresholds for a simulator that plays `time_scale` simulated seconds per second.
    pub fn scaled(&self, time_scale: f64) -> Thresholds {
        let f = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        let s = |d: Duration| d.div_f64(f);
        Thresholds {
            heartbeat_min: s(self.heartbeat_min),
            heartbeat_max: s(self.heartbeat_max),
            delivery_grace: s(self.delivery_grace),
            short_session: s(self.short_session),
            time_scale: self.time_scale * f,
            ..self.clone()
        }
    }

    /// The longest silence of an open stream that is still normal: twice the longest heartbeat
    /// interval (one heartbeat may be late, not two).
    pub fn longest_normal_silence(&self) -> Duration {
        self.heartbeat_max * 2
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// What a finding is about. The kebab-case names are an interface (JSON, reports, scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    HeartbeatFlood,
    HeartbeatStale,
    ShortSessions,
    ProxyIdleTimeout,
    DeliveryGap,
    StreamStalled,
    ProxyBuffering,
    AuthFailed,
    NotFound,
    RateLimited,
    ServerErrors,
    BadContentType,
    DuplicateDelivery,
    MalformedEvent,
    OversizedEvent,
    NetworkErrors,
    DeliveryLatency,
    StreamRejected,
    PollFailed,
    ServerSaidStop,
    Redirected,
    NoHeartbeat,
    LostResumeId,
    NestedFrame,
    StackedHeartbeats,
    SessionTakeover,
    ProbeLost,
    ProbeRoundTrips,
}

/// One conclusion, with the facts that support it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// The first evidence.
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// When the detector concluded: the evidence first crossed its threshold (where the evidence
    /// cannot tell, the time of the newest observation).
    pub raised_at: Option<DateTime<Utc>>,
    /// One line.
    pub summary: String,
    /// Labelled facts, in the order a reader needs them.
    pub evidence: Vec<(String, serde_json::Value)>,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl FindingKind {
    /// The stable kebab-case name (the same as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::HeartbeatFlood => "heartbeat-flood",
            FindingKind::HeartbeatStale => "heartbeat-stale",
            FindingKind::ShortSessions => "short-sessions",
            FindingKind::ProxyIdleTimeout => "proxy-idle-timeout",
            FindingKind::DeliveryGap => "delivery-gap",
            FindingKind::StreamStalled => "stream-stalled",
            FindingKind::ProxyBuffering => "proxy-buffering",
            FindingKind::AuthFailed => "auth-failed",
            FindingKind::NotFound => "not-found",
            FindingKind::RateLimited => "rate-limited",
            FindingKind::ServerErrors => "server-errors",
            FindingKind::BadContentType => "bad-content-type",
            FindingKind::DuplicateDelivery => "duplicate-delivery",
            FindingKind::MalformedEvent => "malformed-event",
            FindingKind::OversizedEvent => "oversized-event",
            FindingKind::NetworkErrors => "network-errors",
            FindingKind::DeliveryLatency => "delivery-latency",
            FindingKind::StreamRejected => "stream-rejected",
            FindingKind::PollFailed => "poll-failed",
            FindingKind::ServerSaidStop => "server-said-stop",
            FindingKind::Redirected => "redirected",
            FindingKind::NoHeartbeat => "no-heartbeat",
            FindingKind::LostResumeId => "lost-resume-id",
            FindingKind::NestedFrame => "nested-frame",
            FindingKind::StackedHeartbeats => "stacked-heartbeats",
            FindingKind::SessionTakeover => "session-takeover",
            FindingKind::ProbeLost => "probe-lost",
            FindingKind::ProbeRoundTrips => "probe-round-trips",
        }
    }
}

/// A detector: reads the model, concludes at most one finding.
type Detect = fn(&Monitor) -> Option<Finding>;

/// One entry of the registry: a detector, and the findings that explain its symptoms away.
struct Detector {
    detect: Detect,
    /// Beside a finding of any of these kinds this detector's finding is a symptom, not a cause,
    /// and is left out.
    explained_by: &'static [FindingKind],
}

impl Detector {
    const fn new(detect: Detect) -> Self {
        Detector {
            detect,
            explained_by: &[],
        }
    }

    const fn explained_by(self, kinds: &'static [FindingKind]) -> Self {
        Detector {
            explained_by: kinds,
            ..self
        }
    }
}

/// Every detector. Among findings of one severity and first sighting, this order is kept.
const DETECTORS: &[Detector] = &[
    Detector::new(timers::stacked),
    // Stacked timers flood a stream once there are enough of them; a flood arrives bunched too,
    // which is not a buffer.
    Detector::new(heartbeat::flood).explained_by(&[FindingKind::StackedHeartbeats]),
    Detector::new(heartbeat::buffering).explained_by(&[FindingKind::HeartbeatFlood]),
    // Missing heartbeats, from the most specific cause to the least: not a byte at all (stalled),
    // heartbeats wrapped where no client sees them (nested frames), never a heartbeat, none lately.
    Detector::new(heartbeat::stalled),
    Detector::new(heartbeat::no_heartbeat)
        .explained_by(&[FindingKind::StreamStalled, FindingKind::NestedFrame]),
    Detector::new(heartbeat::stale).explained_by(&[
        FindingKind::StreamStalled,
        FindingKind::NestedFrame,
        FindingKind::NoHeartbeat,
    ]),
    // A takeover is the more specific cause of the short sessions it makes; both are shown, the
    // takeover first.
    Detector::new(sessions::takeover),
    Detector::new(sessions::short_sessions),
    Detector::new(sessions::proxy_idle_timeout),
    Detector::new(delivery::gap),
    Detector::new(reconnect::server_said_stop),
    Detector::new(delivery::probe_lost),
    Detector::new(http::auth_failed),
    Detector::new(http::not_found),
    Detector::new(http::rate_limited),
    Detector::new(http::server_errors),
    Detector::new(http::stream_rejected),
    Detector::new(http::poll_failed),
    Detector::new(http::network_errors),
    Detector::new(reconnect::redirected),
    Detector::new(reconnect::lost_resume_id),
    Detector::new(content::bad_content_type),
    Detector::new(delivery::duplicates),
    Detector::new(content::nested_frame),
    // Nested framing makes events unreadable as what their type promises.
    Detector::new(content::malformed).explained_by(&[FindingKind::NestedFrame]),
    Detector::new(content::oversized),
    Detector::new(delivery::latency),
    Detector::new(delivery::probe_round_trips),
];

/// Every finding the detectors make of `m`, most severe first.
pub fn diagnose(m: &Monitor) -> Vec<Finding> {
    let raised: Vec<(&Detector, Finding)> = DETECTORS
        .iter()
        .filter_map(|d| Some((d, (d.detect)(m)?)))
        .collect();
    let kinds: Vec<FindingKind> = raised.iter().map(|(_, f)| f.kind).collect();
    let mut out: Vec<Finding> = raised
        .into_iter()
        .filter(|(d, _)| !d.explained_by.iter().any(|k| kinds.contains(k)))
        .map(|(_, f)| f)
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
    });
    out
}

type Evidence = Vec<(String, Value)>;

fn ev(pairs: &[(&str, Value)]) -> Evidence {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A real duration as evidence: the watched system's seconds, to the millisecond.
fn secs(t: &Thresholds, real: Duration) -> Value {
    secs_of(t, real.as_secs_f64())
}

/// [`secs`] for real seconds already reduced to a number (a median, a spread).
fn secs_of(t: &Thresholds, real_s: f64) -> Value {
    json!((t.shown_secs(real_s) * 1000.0).round() / 1000.0)
}

/// A real duration as the watched system's seconds, for a summary.
fn shown_s(t: &Thresholds, real: Duration) -> f64 {
    t.shown(real).as_secs_f64()
}

/// The upper median (0 for none).
fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The smallest and the largest (∞ and −∞ for none).
fn min_max(xs: &[f64]) -> (f64, f64) {
    xs.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

#[cfg(test)]
mod tests {
    //! The registry as a whole: findings of several families side by side, what explains what,
    //! and runs that must raise nothing.
    use super::*;
    use crate::observation::{CloseReason, Kind};
    use crate::testkit::Timeline;

    #[test]
    fn faults_of_several_families_are_reported_side_by_side() {
        let mut t = Timeline::new();
        t.open(0, 1).message(10, 1, "a", 10).message(20, 1, "a", 10);
        t.event(30, 1, "message", None, "not json".into());
        t.at(
            40,
            Kind::OversizedEvent {
                session: 1,
                bytes: 5_000_000,
                limit: 1_048_576,
            },
        );
        let kinds = t.alarms();
        for kind in [
            FindingKind::DuplicateDelivery,
            FindingKind::MalformedEvent,
            FindingKind::OversizedEvent,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
        }
    }

    /// Both detectors find something in `t`, and only the cause's finding is reported.
    fn assert_explains(t: &Timeline, cause: Detect, symptom: Detect) {
        let cause = cause(&t.m).expect("the cause is found");
        let symptom = symptom(&t.m).expect("the symptom is found on its own");
        assert_eq!(t.alarms(), vec![cause.kind], "{symptom:?} is left out");
    }

    #[test]
    fn a_flood_explains_away_the_bunching_it_causes() {
        // Seven heartbeats 1 s apart; payloads mostly 1 s apart, twice 15 s: a flood whose
        // payload clock also jumps, which alone would read as buffering.
        let mut t = Timeline::new();
        t.open(0, 1);
        let sent = [1000, 2000, 3000, 18_000, 19_000, 20_000, 35_000];
        for (i, s) in sent.into_iter().enumerate() {
            t.heartbeat(1000 + i as u64 * 1000, 1, s);
        }
        assert_explains(&t, heartbeat::flood, heartbeat::buffering);
    }

    #[test]
    fn a_stall_explains_away_the_missing_heartbeat() {
        let mut t = Timeline::new();
        t.open(0, 1).tick(61_000);
        assert_explains(&t, heartbeat::stalled, heartbeat::stale);
    }

    #[test]
    fn never_a_heartbeat_explains_away_that_none_came_lately() {
        let mut t = Timeline::new();
        t.open(0, 1);
        for s in (15..=60).step_by(15) {
            t.comment(s * 1000, 1);
        }
        t.tick(61_000);
        assert_explains(&t, heartbeat::no_heartbeat, heartbeat::stale);
    }

    #[test]
    fn a_stall_explains_away_that_no_heartbeat_ever_came() {
        let mut t = Timeline::new();
        t.open(0, 1).tick(61_000);
        assert_explains(&t, heartbeat::stalled, heartbeat::no_heartbeat);
    }

    #[test]
    fn nested_frames_explain_away_the_heartbeats_and_messages_they_hide() {
        let mut t = Timeline::new();
        t.open(0, 1);
        for s in [15, 30] {
            let inner = format!(
                "event: heartbeat\ndata: {{\"timestamp\":\"{}\"}}",
                t.rfc3339(s * 1000)
            );
            t.event(s * 1000, 1, "message", None, inner);
        }
        t.tick(31_000);
        assert!(heartbeat::no_heartbeat(&t.m).is_some());
        assert!(content::malformed(&t.m).is_some());
        assert_eq!(t.alarms(), vec![FindingKind::NestedFrame]);
    }

    #[test]
    fn stacked_timers_explain_away_the_flood_they_make() {
        // Six timers of 15 s, a second apart: six heartbeats within every 15 s.
        let mut t = Timeline::new();
        t.open(0, 1);
        for k in 0..4 {
            for phase in [1000, 2000, 3000, 4500, 5000, 6000] {
                let sent = phase + k * 15_000;
                t.heartbeat(sent + 30, 1, sent);
            }
        }
        assert_explains(&t, timers::stacked, heartbeat::flood);
    }

    #[test]
    fn every_kind_is_named_as_it_is_serialized() {
        let kinds = [
            FindingKind::StreamRejected,
            FindingKind::PollFailed,
            FindingKind::ServerSaidStop,
            FindingKind::Redirected,
            FindingKind::NoHeartbeat,
            FindingKind::LostResumeId,
            FindingKind::NestedFrame,
            FindingKind::StackedHeartbeats,
            FindingKind::SessionTakeover,
            FindingKind::HeartbeatFlood,
        ];
        for kind in kinds {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
    }

    #[test]
    fn findings_are_listed_most_severe_first_then_by_first_sighting() {
        let mut t = Timeline::new();
        // The registry lists auth before not-found before server errors; time and severity win.
        t.http(1000, 1, 503, "E_BUSY").http(2000, 2, 404, "E_PATH");
        t.http(3000, 3, 401, "E_KEY");
        let order: Vec<_> = t.findings().into_iter().map(|f| f.kind).collect();
        assert_eq!(
            order,
            vec![
                FindingKind::NotFound,
                FindingKind::AuthFailed,
                FindingKind::ServerErrors
            ]
        );
    }

    /// A reconnect loop of four flooding sessions, in simulated ms played `scale` times faster;
    /// a message lands in the first and the stream never carries it.
    fn outage(scale: u64, thresholds: Thresholds) -> Timeline {
        let mut t = Timeline::with(thresholds, 1);
        t.poll(0, &[]);
        let mut now = 10;
        for session in 1..=4 {
            t.open(now, session);
            if session == 1 {
                t.poll(now + 1, &[("lost", now)]);
            }
            for i in 0..25 {
                let at = now + i * 60 / scale;
                t.heartbeat(at, session, at);
            }
            now += 1500 / scale;
            t.close(now, session, CloseReason::Eof);
            now += 2000 / scale;
        }
        t.tick(now + 20_000 / scale);
        t
    }

    #[test]
    fn scaled_thresholds_judge_a_compressed_timeline_the_same() {
        let real = outage(1, Thresholds::default()).alarms();
        assert_eq!(
            real,
            vec![
                FindingKind::DeliveryGap,
                FindingKind::HeartbeatFlood,
                FindingKind::ShortSessions
            ]
        );
        assert_eq!(
            outage(10, Thresholds::default().scaled(10.0)).alarms(),
            real
        );
    }

    /// Every duration of every finding's evidence, by finding and label.
    fn durations(t: &Timeline) -> Vec<(FindingKind, String, f64)> {
        t.findings()
            .into_iter()
            .flat_map(|f| {
                f.evidence
                    .into_iter()
                    .filter(|(label, _)| label.ends_with("_s") || label.ends_with("_ms"))
                    .filter_map(move |(label, v)| Some((f.kind, label, v.as_f64()?)))
            })
            .collect()
    }

    #[test]
    fn a_compressed_timeline_is_reported_in_the_watched_systems_seconds() {
        let real = outage(1, Thresholds::default());
        let fast = outage(10, Thresholds::default().scaled(10.0));
        let (real, fast) = (durations(&real), durations(&fast));
        assert!(real.len() >= 8, "{real:?}");
        assert_eq!(real.len(), fast.len());
        for (r, f) in real.iter().zip(&fast) {
            assert_eq!((r.0, &r.1), (f.0, &f.1));
            assert!((r.2 - f.2).abs() < 0.02, "{r:?} vs {f:?}");
        }
        let stalled = |scale: u64, thresholds: Thresholds| {
            let mut t = Timeline::with(thresholds, scale);
            t.open(0, 1).tick(90_000);
            t.find(FindingKind::StreamStalled).unwrap()
        };
        let f = stalled(20, Thresholds::default().scaled(20.0));
        assert_eq!(crate::testkit::evidence(&f, "silent_for_s"), 90.0);
        assert!(f.summary.contains("silent for 90.0 s"), "{}", f.summary);
    }

    #[test]
    fn every_finding_is_raised_between_its_first_sighting_and_now() {
        let t = outage(1, Thresholds::default());
        let findings = t.findings();
        assert!(findings.len() >= 3, "{findings:?}");
        for f in findings {
            let raised = f.raised_at.unwrap_or_else(|| panic!("no raised_at: {f:?}"));
            assert!(f.first_seen.is_none_or(|first| first <= raised), "{f:?}");
            assert!(raised <= t.m.now_wall, "{f:?}");
        }
    }

    #[test]
    fn raised_at_is_serialized_as_a_timestamp() {
        let t = outage(1, Thresholds::default());
        let flood = t.find(FindingKind::HeartbeatFlood).unwrap();
        let json = serde_json::to_value(&flood).unwrap();
        let raised: DateTime<Utc> = serde_json::from_value(json["raised_at"].clone()).unwrap();
        assert_eq!(Some(raised), flood.raised_at);
        assert_eq!(json["kind"], "heartbeat-flood");
    }
}
