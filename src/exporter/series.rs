//! What the exposition remembers of one agent: histograms fed incrementally from the model, and
//! the findings ever raised (so a cleared one reads 0 instead of vanishing).

use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;

use crate::monitor::inbox::InboxEntry;
use crate::monitor::rate::Heartbeat;
use crate::monitor::{Finding, FindingKind, Monitor, Severity};
use crate::observation::Mono;

/// Heartbeat intervals: a flood sits at tens of milliseconds, a healthy server in its 15–30 s band.
pub const HEARTBEAT_INTERVAL_BUCKETS: [f64; 15] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0, 120.0,
];
/// Stream delivery latency: tens of milliseconds when healthy, seconds when something holds it.
pub const DELIVERY_LATENCY_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Probe round trips: a POST, then the message back on the stream.
pub const PROBE_RTT_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// One agent's incremental series.
#[derive(Debug)]
pub struct AgentSeries {
    pub heartbeat_interval: Histogram,
    pub delivery_latency: Histogram,
    pub probe_rtt: Histogram,
    /// The model's heartbeat total when last folded.
    beats_folded: u64,
    /// The last heartbeat folded: an interval is measured to the next beat of the same session.
    last_beat: Option<(u64, Mono)>,
    /// The model's streamed-message total when last folded.
    streamed_folded: u64,
    streamed_mark: StreamedMark,
    /// Every (kind, severity) ever raised, in the order first raised.
    raised: Vec<(FindingKind, Severity)>,
}

impl Default for AgentSeries {
    fn default() -> Self {
        AgentSeries::new()
    }
}

impl AgentSeries {
    pub fn new() -> Self {
        AgentSeries {
            heartbeat_interval: Histogram::new(HEARTBEAT_INTERVAL_BUCKETS),
            delivery_latency: Histogram::new(DELIVERY_LATENCY_BUCKETS),
            probe_rtt: Histogram::new(PROBE_RTT_BUCKETS),
            beats_folded: 0,
            last_beat: None,
            streamed_folded: 0,
            streamed_mark: StreamedMark::default(),
            raised: Vec::new(),
        }
    }

    /// Folds what the model gained since the last fold into the histograms. Called after every
    /// observation, each fold sees at most a few new samples, all still held by the model's rings.
    pub fn fold(&mut self, m: &Monitor) {
        self.fold_heartbeats(m);
        self.fold_latencies(m);
    }

    fn fold_heartbeats(&mut self, m: &Monitor) {
        let total = m.heartbeats.total();
        let new = total - self.beats_folded;
        let recent = &m.heartbeats.recent;
        let skip = recent
            .len()
            .saturating_sub(usize::try_from(new).unwrap_or(usize::MAX));
        for beat in recent.iter().skip(skip) {
            self.observe_heartbeat(beat);
        }
        self.beats_folded = total;
    }

    fn observe_heartbeat(&mut self, beat: &Heartbeat) {
        if let Some((session, t)) = self.last_beat
            && session == beat.session
        {
            self.heartbeat_interval
                .observe(beat.t.since(t).as_secs_f64());
        }
        self.last_beat = Some((beat.session, beat.t));
    }

    /// Messages newly streamed: only when the model's total moved, so heartbeats cost nothing.
    fn fold_latencies(&mut self, m: &Monitor) {
        if m.inbox.streamed_total == self.streamed_folded {
            return;
        }
        self.streamed_folded = m.inbox.streamed_total;
        let fresh: Vec<&InboxEntry> = m
            .inbox
            .newest_first()
            .filter(|e| self.streamed_mark.is_fresh(e))
            .collect();
        for entry in &fresh {
            if let Some(latency) = entry.delivery_latency() {
                // A message streamed "before" it was created is clock skew, not negative latency.
                let latency = latency.to_std().unwrap_or(Duration::ZERO);
                self.delivery_latency.observe(latency.as_secs_f64());
            }
        }
        self.streamed_mark
            .advance(&fresh, |key| m.inbox.get(key).is_some());
    }

    /// See [`super::Exposed::observe_probe_round_trip`].
    pub fn observe_probe_round_trip(&mut self, rtt: Duration) {
        self.probe_rtt.observe(rtt.as_secs_f64());
    }

    /// Remembers the (kind, severity) pairs of `findings` and returns every pair ever raised with
    /// whether it is raised now.
    pub fn raised(&mut self, findings: &[Finding]) -> Vec<(FindingKind, Severity, bool)> {
        for f in findings {
            if !self.raised.contains(&(f.kind, f.severity)) {
                self.raised.push((f.kind, f.severity));
            }
        }
        self.raised
            .iter()
            .map(|&(kind, severity)| {
                let now = findings
                    .iter()
                    .any(|f| f.kind == kind && f.severity == severity);
                (kind, severity, now)
            })
            .collect()
    }
}

/// Which streamed messages have been folded: all streamed up to `at`, and of those streamed at
/// exactly `at`, the keys listed (several messages can share one receive time).
#[derive(Debug, Default)]
struct StreamedMark {
    at: Option<Mono>,
    keys_at: Vec<String>,
}

impl StreamedMark {
    fn is_fresh(&self, entry: &InboxEntry) -> bool {
        let Some(streamed) = entry.streamed else {
            return false;
        };
        match self.at {
            None => true,
            Some(at) => streamed.t > at || (streamed.t == at && !self.keys_at.contains(&entry.key)),
        }
    }

    /// Moves the mark past `fresh`. Keys no longer `held` by the inbox are dropped, which bounds
    /// the list by the inbox's capacity.
    fn advance(&mut self, fresh: &[&InboxEntry], held: impl Fn(&str) -> bool) {
        let newest = fresh.iter().filter_map(|e| e.streamed.map(|s| s.t)).max();
        let Some(newest) = newest.filter(|&t| self.at.is_none_or(|at| t >= at)) else {
            return;
        };
        if self.at != Some(newest) {
            self.keys_at.clear();
            self.at = Some(newest);
        }
        let at_newest = fresh
            .iter()
            .filter(|e| e.streamed.is_some_and(|s| s.t == newest))
            .map(|e| e.key.clone());
        self.keys_at.extend(at_newest);
        self.keys_at.retain(|k| held(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Timeline;

    /// (count, sum) of a histogram.
    fn tally(h: &Histogram) -> (u64, f64) {
        (h.count(), h.sum())
    }

    fn fed(t: &Timeline) -> AgentSeries {
        let mut s = AgentSeries::new();
        s.fold(&t.m);
        s
    }

    #[test]
    fn heartbeat_intervals_are_measured_within_a_session_only() {
        let mut t = Timeline::new();
        t.open(0, 1)
            .heartbeat(15_000, 1, 15_000)
            .heartbeat(35_000, 1, 35_000);
        t.close(36_000, 1, crate::observation::CloseReason::Eof)
            .open(40_000, 2)
            .heartbeat(41_000, 2, 41_000)
            .heartbeat(71_000, 2, 71_000);
        let s = fed(&t);
        assert_eq!(tally(&s.heartbeat_interval), (2, 50.0));
    }

    #[test]
    fn folding_after_every_observation_equals_folding_once() {
        let mut t = Timeline::new();
        let mut step = AgentSeries::new();
        t.open(0, 1);
        for i in 1..=40u64 {
            t.heartbeat(i * 50, 1, i * 50);
            step.fold(&t.m);
            step.fold(&t.m); // a second fold with nothing new adds nothing
        }
        let once = fed(&t);
        let (count, sum) = tally(&step.heartbeat_interval);
        assert_eq!(count, 39);
        assert!((sum - 39.0 * 0.05).abs() < 1e-9, "{sum}");
        assert_eq!(tally(&once.heartbeat_interval), (count, sum));
    }

    #[test]
    fn a_flood_longer_than_the_ring_loses_no_interval_when_folded_per_observation() {
        let ring = crate::monitor::rate::HEARTBEAT_HISTORY as u64;
        let mut t = Timeline::new();
        let mut s = AgentSeries::new();
        t.open(0, 1);
        for i in 0..ring * 2 {
            t.heartbeat(i * 10, 1, i * 10);
            s.fold(&t.m);
        }
        assert_eq!(s.heartbeat_interval.count(), ring * 2 - 1);
    }

    #[test]
    fn latencies_are_folded_once_each_and_ties_in_receive_time_are_kept_apart() {
        let mut t = Timeline::new();
        let mut s = AgentSeries::new();
        t.open(0, 1).message(1_000, 1, "a", 900);
        s.fold(&t.m);
        t.message(1_000, 1, "b", 500); // same receive time as "a"
        s.fold(&t.m);
        t.message(1_000, 1, "a", 900); // a duplicate: not a new delivery
        s.fold(&t.m);
        t.message(3_000, 1, "c", 2_950);
        s.fold(&t.m);
        let (count, sum) = tally(&s.delivery_latency);
        assert_eq!(count, 3);
        assert!((sum - (0.1 + 0.5 + 0.05)).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn clock_skew_counts_as_zero_latency_not_negative() {
        let mut t = Timeline::new();
        t.open(0, 1).message(1_000, 1, "early", 4_000);
        let s = fed(&t);
        assert_eq!(tally(&s.delivery_latency), (1, 0.0));
    }

    #[test]
    fn a_message_only_polled_has_no_latency_until_it_is_streamed() {
        let mut t = Timeline::new();
        let mut s = AgentSeries::new();
        t.open(0, 1).poll(500, &[]).poll(2_000, &[("late", 1_500)]);
        s.fold(&t.m);
        assert_eq!(s.delivery_latency.count(), 0);
        t.message(4_500, 1, "late", 1_500);
        s.fold(&t.m);
        assert_eq!(tally(&s.delivery_latency), (1, 3.0));
    }

    #[test]
    fn raised_findings_are_remembered_and_read_zero_once_cleared() {
        let mut s = AgentSeries::new();
        let flood = Finding {
            kind: FindingKind::HeartbeatFlood,
            severity: Severity::Error,
            first_seen: None,
            last_seen: None,
            raised_at: None,
            summary: String::new(),
            evidence: vec![],
        };
        let gap = Finding {
            kind: FindingKind::DeliveryGap,
            severity: Severity::Warning,
            ..flood.clone()
        };
        assert_eq!(s.raised(&[]), vec![]);
        assert_eq!(
            s.raised(std::slice::from_ref(&flood)),
            vec![(FindingKind::HeartbeatFlood, Severity::Error, true)]
        );
        assert_eq!(
            s.raised(&[gap]),
            vec![
                (FindingKind::HeartbeatFlood, Severity::Error, false),
                (FindingKind::DeliveryGap, Severity::Warning, true),
            ]
        );
        let escalated = Finding {
            severity: Severity::Warning,
            ..flood
        };
        assert_eq!(
            s.raised(&[escalated]),
            vec![
                (FindingKind::HeartbeatFlood, Severity::Error, false),
                (FindingKind::DeliveryGap, Severity::Warning, false),
                (FindingKind::HeartbeatFlood, Severity::Warning, true),
            ]
        );
    }

    #[test]
    fn probe_round_trips_land_in_their_histogram() {
        let mut s = AgentSeries::new();
        assert_eq!(s.probe_rtt.count(), 0);
        s.observe_probe_round_trip(Duration::from_millis(250));
        assert_eq!(tally(&s.probe_rtt), (1, 0.25));
    }
}
