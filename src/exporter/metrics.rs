//! The exposition: one family per metric, one series per agent, written by `prometheus-client`
//! from a collector that reads the fleet at scrape time (see the parent module for why each kind
//! of series is correct).

use std::borrow::Cow;
use std::fmt;
use std::sync::PoisonError;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, prometheus_text,
};
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::series::AgentSeries;
use super::{Exposed, Shared};
use crate::monitor::connection::ConnState;
use crate::monitor::verdict::judge_with;
use crate::monitor::{FindingKind, Monitor, Severity, Stats, Verdict};
use crate::sanitize;

/// The content type of [`exposition`]: the Prometheus text format 0.0.4, which every scraper,
/// `curl` reader and `promtool check metrics` understands (`promtool` misreads `OpenMetrics`
/// counters).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Every metric name starts with this.
pub const PREFIX: &str = "inboxtop";

/// The exposition of every agent in `fleet`, as of now.
pub fn exposition(fleet: &Shared) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(ExposedCollector(fleet.clone())));
    let mut out = String::new();
    prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

/// Reads the fleet on each scrape.
#[derive(Debug)]
struct ExposedCollector(Shared);

impl Collector for ExposedCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        // A panic elsewhere while holding the lock leaves a model that is still worth exposing.
        let mut exposed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let agents = scrape(&mut exposed);
        encode_families(&agents, &mut encoder)
    }
}

/// One agent as of this scrape: everything computed once, then written family by family.
struct Scraped<'a> {
    agent: Cow<'a, str>,
    monitor: &'a Monitor,
    stats: Stats,
    verdict: Verdict,
    /// Every (kind, severity) the agent ever raised, and whether it is raised now.
    raised: Vec<(FindingKind, Severity, bool)>,
    series: &'a AgentSeries,
}

fn scrape(exposed: &mut Exposed) -> Vec<Scraped<'_>> {
    exposed
        .agents_mut()
        .map(|(agent, series)| {
            let findings = agent.monitor.findings();
            let raised = series.raised(&findings);
            let series: &AgentSeries = series;
            Scraped {
                agent: sanitize::line(&agent.id),
                monitor: &agent.monitor,
                stats: agent.monitor.stats(),
                verdict: judge_with(&agent.monitor, findings).verdict,
                raised,
                series,
            }
        })
        .collect()
}

/// The `agent` label of one series.
fn agent_label<'a>(a: &'a Scraped<'_>) -> [(&'static str, &'a str); 1] {
    [("agent", a.agent.as_ref())]
}

/// A gauge per agent.
fn gauges<'a, N: 'a>(
    agents: &'a [Scraped<'_>],
    value: fn(&Scraped<'_>) -> N,
) -> impl Iterator<Item = ([(&'static str, &'a str); 1], ConstGauge<N>)> {
    agents
        .iter()
        .map(move |a| (agent_label(a), ConstGauge::new(value(a))))
}

/// A counter per agent.
fn counters<'a>(
    agents: &'a [Scraped<'_>],
    value: fn(&Scraped<'_>) -> u64,
) -> impl Iterator<Item = ([(&'static str, &'a str); 1], ConstCounter<u64>)> {
    agents
        .iter()
        .map(move |a| (agent_label(a), ConstCounter::new(value(a))))
}

/// A histogram per agent.
fn histograms<'a>(
    agents: &'a [Scraped<'_>],
    which: fn(&AgentSeries) -> &Histogram,
) -> impl Iterator<Item = ([(&'static str, &'a str); 1], Histogram)> {
    agents
        .iter()
        .map(move |a| (agent_label(a), which(a.series).clone()))
}

#[expect(
    clippy::too_many_lines,
    reason = "one call per metric family, in the order of the exposition: a table, read whole"
)]
fn encode_families(agents: &[Scraped<'_>], enc: &mut DescriptorEncoder) -> fmt::Result {
    let seconds = Some(&Unit::Seconds);

    family(
        enc,
        "stream_up",
        "1 while the stream is open (2xx and text/event-stream), 0 otherwise",
        None,
        gauges(agents, |a| {
            i64::from(matches!(a.monitor.connection.state, ConnState::Open { .. }))
        }),
    )?;
    family(
        enc,
        "session_age",
        "How long the current stream session has been open; 0 while it is not",
        seconds,
        gauges(agents, |a| {
            a.monitor
                .connection
                .uptime(a.monitor.now)
                .unwrap_or_default()
                .as_secs_f64()
        }),
    )?;
    family(
        enc,
        "sessions",
        "Stream sessions attempted, whether they opened or not",
        None,
        counters(agents, |a| a.stats.sessions),
    )?;
    family(
        enc,
        "reconnects",
        "Stream sessions attempted after the first",
        None,
        counters(agents, |a| a.stats.reconnects),
    )?;
    family(
        enc,
        "heartbeats",
        "Heartbeat events received on the stream",
        None,
        counters(agents, |a| a.stats.heartbeats),
    )?;
    family(
        enc,
        "heartbeat_interval",
        "Time between consecutive heartbeats of one stream session",
        seconds,
        histograms(agents, |s| &s.heartbeat_interval),
    )?;
    family(
        enc,
        "events",
        "SSE events received, by type: heartbeat, message or other (any other event name)",
        None,
        agents.iter().flat_map(|a| {
            EventType::ALL.map(|t| {
                let labels = [("agent", a.agent.as_ref()), ("type", t.label())];
                (labels, ConstCounter::new(t.count(a)))
            })
        }),
    )?;
    family(
        enc,
        "messages_streamed",
        "Distinct messages that reached the stream",
        None,
        counters(agents, |a| a.stats.messages_streamed),
    )?;
    family(
        enc,
        "messages_only_polled",
        "Messages the inbox holds that polling sees but the stream has not delivered",
        None,
        gauges(agents, |a| a.stats.messages_only_polled),
    )?;
    family(
        enc,
        "delivery_latency",
        "Stream receive time minus the message's createdAt (clock skew counts as 0)",
        seconds,
        histograms(agents, |s| &s.delivery_latency),
    )?;
    family(
        enc,
        "probe_rtt",
        "Probe round trips: sent with POST /messages until seen on the stream",
        seconds,
        histograms(agents, |s| &s.probe_rtt),
    )?;
    family(
        enc,
        "finding",
        "1 while a finding of this kind and severity is raised, 0 after it cleared",
        None,
        agents.iter().flat_map(|a| {
            a.raised.iter().map(|&(kind, severity, now)| {
                let labels = [
                    ("agent", a.agent.as_ref()),
                    ("kind", kind.name()),
                    ("severity", severity.label()),
                ];
                (labels, ConstGauge::new(i64::from(now)))
            })
        }),
    )?;
    family(
        enc,
        "verdict",
        "The verdict: 0 ok, 1 warning, 2 critical, 3 unknown (the check's exit codes)",
        None,
        gauges(agents, |a| u64::from(a.verdict.metric())),
    )
}

/// One metric family: its descriptor, then one sample (or histogram) per label set.
fn family<L, M>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: impl Iterator<Item = (L, M)>,
) -> fmt::Result
where
    L: EncodeLabelSet,
    M: EncodeMetric + TypedMetric,
{
    let mut family = enc.encode_descriptor(name, help, unit, M::TYPE)?;
    for (labels, metric) in series {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// The bounded `type` label of `inboxtop_events_total`: never the event name a server sent.
#[derive(Debug, Clone, Copy)]
enum EventType {
    Heartbeat,
    Message,
    Other,
}

impl EventType {
    const ALL: [EventType; 3] = [EventType::Heartbeat, EventType::Message, EventType::Other];

    fn label(self) -> &'static str {
        match self {
            EventType::Heartbeat => "heartbeat",
            EventType::Message => "message",
            EventType::Other => "other",
        }
    }

    /// Exact from the model: every `message` event is either read into the inbox or counted as
    /// malformed, and the rest of all events are neither heartbeats nor messages.
    fn count(self, a: &Scraped<'_>) -> u64 {
        let m = a.monitor;
        let heartbeats = m.heartbeats.total();
        let messages = m.inbox.stream_events + m.malformed.total();
        match self {
            EventType::Heartbeat => heartbeats,
            EventType::Message => messages,
            EventType::Other => m.events_total.saturating_sub(heartbeats + messages),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{CloseReason, Kind};
    use crate::testkit::Timeline;
    use std::time::Duration;

    fn expose(fleet: &Shared) -> String {
        exposition(fleet).expect("a String takes any exposition")
    }

    /// The value of the one sample named exactly `series` (name and labels as written).
    fn sample<'a>(exposition: &'a str, series: &str) -> Option<&'a str> {
        exposition
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
    }

    fn one(id: &str, t: &Timeline) -> Shared {
        let mut exposed = Exposed::new();
        exposed.add(id, t.m.clone());
        exposed.shared()
    }

    fn heartbeat(t: &Timeline, ms: u64, session: u64) -> crate::observation::Observation {
        let data = format!("{{\"timestamp\":\"{}\"}}", t.rfc3339(ms));
        t.observation(
            ms,
            Kind::SseEvent {
                session,
                event: "heartbeat".into(),
                id: None,
                data,
                retry_ms: None,
            },
        )
    }

    #[test]
    fn every_family_is_described_in_a_stable_order() {
        let out = expose(&one("a", &Timeline::new()));
        let families: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .collect();
        assert_eq!(
            families,
            [
                "inboxtop_stream_up gauge",
                "inboxtop_session_age_seconds gauge",
                "inboxtop_sessions_total counter",
                "inboxtop_reconnects_total counter",
                "inboxtop_heartbeats_total counter",
                "inboxtop_heartbeat_interval_seconds histogram",
                "inboxtop_events_total counter",
                "inboxtop_messages_streamed_total counter",
                "inboxtop_messages_only_polled gauge",
                "inboxtop_delivery_latency_seconds histogram",
                "inboxtop_probe_rtt_seconds histogram",
                "inboxtop_finding gauge",
                "inboxtop_verdict gauge",
            ]
        );
        assert_eq!(sample(&out, r#"inboxtop_verdict{agent="a"}"#), Some("3"));
    }

    #[test]
    fn the_connection_gives_stream_up_session_age_and_session_counters() {
        let mut t = Timeline::new();
        t.open(0, 1).tick(5_000);
        let out = expose(&one("a", &t));
        assert_eq!(sample(&out, r#"inboxtop_stream_up{agent="a"}"#), Some("1"));
        assert_eq!(
            sample(&out, r#"inboxtop_session_age_seconds{agent="a"}"#),
            Some("5.0")
        );
        t.close(6_000, 1, CloseReason::Eof).open(8_000, 2);
        t.close(9_000, 2, CloseReason::Eof);
        let out = expose(&one("a", &t));
        assert_eq!(sample(&out, r#"inboxtop_stream_up{agent="a"}"#), Some("0"));
        assert_eq!(
            sample(&out, r#"inboxtop_session_age_seconds{agent="a"}"#),
            Some("0.0")
        );
        assert_eq!(
            sample(&out, r#"inboxtop_sessions_total{agent="a"}"#),
            Some("2")
        );
        assert_eq!(
            sample(&out, r#"inboxtop_reconnects_total{agent="a"}"#),
            Some("1")
        );
    }

    #[test]
    fn events_are_counted_by_a_bounded_type_never_by_the_name_sent() {
        let mut t = Timeline::new();
        t.open(0, 1)
            .heartbeat(1_000, 1, 1_000)
            .message(2_000, 1, "m-1", 1_990)
            .event(3_000, 1, "message", None, "not json".into())
            .event(4_000, 1, "x-free-text-name", None, "{}".into());
        let out = expose(&one("a", &t));
        let events = |ty: &str| {
            sample(
                &out,
                &format!(r#"inboxtop_events_total{{agent="a",type="{ty}"}}"#),
            )
        };
        assert_eq!(events("heartbeat"), Some("1"));
        assert_eq!(
            events("message"),
            Some("2"),
            "a malformed message is still a message event"
        );
        assert_eq!(events("other"), Some("1"));
        assert!(!out.contains("x-free-text-name"), "{out}");
        assert_eq!(
            sample(&out, r#"inboxtop_messages_streamed_total{agent="a"}"#),
            Some("1")
        );
    }

    #[test]
    fn a_cleared_finding_reads_zero_and_a_kind_never_raised_has_no_series() {
        let mut t = Timeline::new();
        t.open(0, 1).heartbeat(15_000, 1, 15_000).tick(80_000);
        let stalled = t
            .find(crate::monitor::FindingKind::StreamStalled)
            .expect("stalled");
        let series = format!(
            r#"inboxtop_finding{{agent="a",kind="stream-stalled",severity="{}"}}"#,
            stalled.severity.label()
        );
        let fleet = one("a", &t);
        assert_eq!(sample(&expose(&fleet), &series), Some("1"));
        fleet.lock().unwrap().apply(&heartbeat(&t, 81_000, 1));
        let out = expose(&fleet);
        assert_eq!(sample(&out, &series), Some("0"));
        assert!(!out.contains("heartbeat-flood"), "{out}");
    }

    #[test]
    fn counters_and_histograms_grow_through_apply() {
        let mut t = Timeline::new();
        t.open(0, 1).heartbeat(15_000, 1, 15_000);
        let fleet = one("a", &t);
        for s in [35, 55] {
            fleet.lock().unwrap().apply(&heartbeat(&t, s * 1000, 1));
        }
        let out = expose(&fleet);
        assert_eq!(
            sample(&out, r#"inboxtop_heartbeats_total{agent="a"}"#),
            Some("3")
        );
        assert_eq!(
            sample(
                &out,
                r#"inboxtop_heartbeat_interval_seconds_count{agent="a"}"#
            ),
            Some("2")
        );
        assert_eq!(
            sample(
                &out,
                r#"inboxtop_heartbeat_interval_seconds_bucket{agent="a",le="20"}"#
            ),
            Some("2")
        );
        assert_eq!(
            sample(
                &out,
                r#"inboxtop_heartbeat_interval_seconds_bucket{agent="a",le="15"}"#
            ),
            Some("0")
        );
    }

    #[test]
    fn probe_round_trips_enter_through_the_seam() {
        let fleet = one("a", &Timeline::new());
        let count = r#"inboxtop_probe_rtt_seconds_count{agent="a"}"#;
        assert_eq!(sample(&expose(&fleet), count), Some("0"));
        fleet
            .lock()
            .unwrap()
            .observe_probe_round_trip(0, Duration::from_millis(400));
        let out = expose(&fleet);
        assert_eq!(sample(&out, count), Some("1"));
        assert_eq!(
            sample(
                &out,
                r#"inboxtop_probe_rtt_seconds_bucket{agent="a",le="0.5"}"#
            ),
            Some("1")
        );
    }

    #[test]
    fn the_agent_label_is_made_terminal_safe_and_escaped() {
        let out = expose(&one("evil\u{1b}[2J\"x", &Timeline::new()));
        assert!(!out.contains('\u{1b}'));
        assert_eq!(
            sample(&out, r#"inboxtop_verdict{agent="evil\\e[2J\"x"}"#),
            Some("3"),
            "{out}"
        );
    }
}
