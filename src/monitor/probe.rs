//! Probes: marked messages inboxtop sends to the agent itself (`s` in the TUI, `check --probe N`),
//! timed to their arrival on the stream and in peek.
//!
//! A probe is an ordinary message, so the inbox correlates it like any other; this only remembers
//! which messages were probes and when each left, and settles its round trips from the inbox as
//! soon as they can be read (the inbox may evict an entry later; a settled round trip stays). On a
//! quiet inbox, a probe that round-trips is the positive evidence of delivery.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::inbox::Inbox;
use super::ring::Ring;
use crate::observation::Mono;

/// Probes remembered in detail; the counters stay exact.
pub const PROBE_HISTORY: usize = 256;

/// One probe message.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    /// The message id the server gave it.
    pub id: String,
    /// When the `POST` left.
    pub sent: Mono,
    pub sent_wall: DateTime<Utc>,
    /// From sending to its arrival on the stream / its first listing by peek.
    pub stream_rtt: Option<Duration>,
    pub poll_rtt: Option<Duration>,
}

impl Probe {
    fn settled(&self) -> bool {
        self.stream_rtt.is_some() && self.poll_rtt.is_some()
    }
}

/// Every probe of the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Probes {
    pub recent: Ring<Probe>,
    /// `POST`s that failed (no id to follow).
    pub failed: u64,
    /// Probes not yet seen both on the stream and by peek (kept small: only these are looked up).
    unsettled: usize,
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            recent: Ring::new(PROBE_HISTORY),
            failed: 0,
            unsettled: 0,
        }
    }
}

/// Round-trip figures over the remembered probes.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RoundTrips {
    pub count: usize,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub max_ms: Option<u64>,
}

impl Probes {
    /// Probes sent (exact), failed ones not counted.
    pub fn sent(&self) -> u64 {
        self.recent.total()
    }

    /// A probe left at `sent` with message id `id`; settles at once what the inbox already holds
    /// (the stream can deliver it before the `POST` answers).
    pub fn on_sent(&mut self, id: &str, sent: Mono, sent_wall: DateTime<Utc>, inbox: &Inbox) {
        self.recent.push(Probe {
            id: id.to_owned(),
            sent,
            sent_wall,
            stream_rtt: None,
            poll_rtt: None,
        });
        self.unsettled = self.recent.iter().filter(|p| !p.settled()).count();
        self.settle(inbox);
    }

    /// Reads the round trips the inbox can now tell. Cheap when every probe is settled.
    pub fn settle(&mut self, inbox: &Inbox) {
        if self.unsettled == 0 {
            return;
        }
        let mut unsettled = 0;
        for probe in self.recent.iter_mut().filter(|p| !p.settled()) {
            if let Some(entry) = inbox.get(&probe.id) {
                probe.stream_rtt = probe
                    .stream_rtt
                    .or(entry.streamed.map(|s| s.t.since(probe.sent)));
                probe.poll_rtt = probe
                    .poll_rtt
                    .or(entry.polled.map(|s| s.t.since(probe.sent)));
            }
            unsettled += usize::from(!probe.settled());
        }
        self.unsettled = unsettled;
    }

    /// Whether message `key` is one of our probes.
    pub fn find(&self, key: &str) -> Option<&Probe> {
        self.recent.iter().rev().find(|p| p.id == key)
    }

    /// Probes that reached the stream.
    pub fn round_tripped(&self) -> usize {
        self.recent
            .iter()
            .filter(|p| p.stream_rtt.is_some())
            .count()
    }

    /// Probes sent at least `grace` before `now` that never reached the stream.
    pub fn lost(&self, now: Mono, grace: Duration) -> impl Iterator<Item = &Probe> {
        self.recent
            .iter()
            .filter(move |p| p.stream_rtt.is_none() && now.since(p.sent) >= grace)
    }

    pub fn stream_round_trips(&self) -> RoundTrips {
        figures(self.recent.iter().filter_map(|p| p.stream_rtt))
    }

    pub fn poll_round_trips(&self) -> RoundTrips {
        figures(self.recent.iter().filter_map(|p| p.poll_rtt))
    }
}

fn figures(rtts: impl Iterator<Item = Duration>) -> RoundTrips {
    let mut ms: Vec<u64> = rtts
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .collect();
    ms.sort_unstable();
    let at = |q: f64| {
        let last = ms.len().checked_sub(1)?;
        ms.get(((last as f64) * q).round() as usize).copied()
    };
    RoundTrips {
        count: ms.len(),
        p50_ms: at(0.5),
        p95_ms: at(0.95),
        max_ms: ms.last().copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Kind;
    use crate::testkit::Timeline;

    fn sent(t: &mut Timeline, ms: u64, id: &str, post_ms: u64) {
        t.at(
            ms,
            Kind::ProbeSent {
                id: Some(id.into()),
                error: None,
                post_ms,
            },
        );
    }

    #[test]
    fn a_probe_is_timed_to_the_stream_and_to_peek_from_when_it_left() {
        let mut t = Timeline::new();
        t.open(0, 1);
        // The stream delivers it before the POST answers (sent at 1000, answered at 1200).
        t.message(1_050, 1, "p-1", 1_000);
        sent(&mut t, 1_200, "p-1", 200);
        t.poll(3_000, &[("p-1", 1_000)]);
        let p = t.m.probes.find("p-1").unwrap();
        assert_eq!(p.stream_rtt, Some(Duration::from_millis(50)));
        assert_eq!(p.poll_rtt, Some(Duration::from_secs(2)));
        assert_eq!(t.m.probes.round_tripped(), 1);
        let rt = t.m.probes.stream_round_trips();
        assert_eq!((rt.count, rt.p50_ms, rt.max_ms), (1, Some(50), Some(50)));
    }

    #[test]
    fn a_probe_that_never_streams_is_lost_after_the_grace() {
        let mut t = Timeline::new();
        t.open(0, 1);
        sent(&mut t, 1_000, "p-2", 10);
        t.poll(2_000, &[("p-2", 990)]);
        let grace = t.m.thresholds.delivery_grace;
        assert_eq!(
            t.m.probes.lost(t.m.now, grace).count(),
            0,
            "within the grace"
        );
        t.tick(1_000 + 10_000);
        assert_eq!(t.m.probes.lost(t.m.now, grace).count(), 1);
        assert_eq!(
            t.m.probes.find("p-2").unwrap().poll_rtt,
            Some(Duration::from_millis(1_010))
        );
    }

    #[test]
    fn percentiles_over_several_probes() {
        let f = figures(
            [30, 10, 20, 40, 1000]
                .into_iter()
                .map(Duration::from_millis),
        );
        assert_eq!(
            (f.count, f.p50_ms, f.p95_ms, f.max_ms),
            (5, Some(30), Some(1000), Some(1000))
        );
        assert_eq!(figures(std::iter::empty()), RoundTrips::default());
    }
}
