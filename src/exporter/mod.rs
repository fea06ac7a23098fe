//! Prometheus exposition of the per-agent models (`inboxtop exporter`).
//!
//! The caller owns an [`Exposed`] (the fleet's models) behind a [`Shared`] and feeds every
//! observation through [`Exposed::apply`]; [`serve::serve`] answers `GET /metrics` by reading the models at scrape time.
//!
//! How each kind of series stays correct and bounded:
//!
//! - **Counters** are the model's exact totals (sessions, heartbeats, events, messages streamed),
//!   read at scrape time. The model only ever adds to them, so they are monotonic across scrapes
//!   without the exporter mirroring anything.
//! - **Gauges** (stream up, session age, messages only polled, verdict) are the model's current
//!   state, read at scrape time.
//! - **Histograms** cannot be read from the model at scrape time: its heartbeats and inbox are
//!   bounded rings, so samples fall out and a histogram derived from them would shrink. Instead
//!   each agent's [`series::AgentSeries`] folds every new sample into fixed buckets as it is
//!   applied, behind a cursor on the model's exact totals (heartbeats ever received, messages ever
//!   streamed). Fixed buckets keep the memory constant; folding per observation means no sample is
//!   ever missed, whatever the flood.
//! - **`inboxtop_finding{kind,severity}`** is 1 while a finding is raised and 0 once it has
//!   cleared, so an alert resolves instead of its series going stale. That needs memory of what was
//!   raised: each agent remembers the (kind, severity) pairs it ever raised, a set bounded by the
//!   finite kinds × three severities. A kind never raised has no series.
//!
//! Labels are bounded: `agent` (configured, sanitized), `kind` and `severity` (fixed names), and
//! `type` (`heartbeat`, `message` or `other` — never the event name a server sent). Durations are
//! real seconds as the model measured them (the monotonic clock; delivery latency from wall
//! clocks), the seconds Prometheus' own `rate()` counts in: a time-scaled simulator is not rescaled.

pub(crate) mod metrics;
pub(crate) mod series;
pub(crate) mod serve;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fleet::{Applied, Fleet};
use crate::monitor::log::EventLog;
use crate::monitor::rate::HeartbeatRate;
use crate::monitor::{Monitor, Thresholds};
use crate::observation::Observation;
use series::AgentSeries;

pub use metrics::{CONTENT_TYPE, exposition};
pub use serve::{router, serve};

/// Event-log entries each exposed agent keeps. The exposition never shows the log, and the
/// detectors read only its newest entries (the current session's last activity): a fleet need not
/// pay for the TUI's 5 000-entry pane, about 1.2 MiB an agent once full (a day of 15 s heartbeats).
pub const LOG_CAPACITY: usize = 256;

/// Heartbeats each exposed agent remembers one by one: the most any detector reads (the
/// stacked-timers window), where the TUI keeps 2 048 for its interval pane. A day of 15 s
/// heartbeats fills 2 048 (96 KiB an agent); the histograms fold each heartbeat as it comes.
pub const HEARTBEAT_CAPACITY: usize = 256;

/// A fresh model for one exposed agent: the monitor's, with the event log cut to
/// [`LOG_CAPACITY`] and the heartbeat history to [`HEARTBEAT_CAPACITY`].
pub fn monitor(thresholds: Thresholds) -> Monitor {
    Monitor {
        log: EventLog::with_capacity(LOG_CAPACITY),
        heartbeats: HeartbeatRate::with_capacity(HEARTBEAT_CAPACITY),
        ..Monitor::new(thresholds)
    }
}

/// The exporter's state as its tasks share it: sources apply, scrapes read.
pub type Shared = Arc<Mutex<Exposed>>;

/// The fleet's models and, per agent, what the exposition remembers of it between scrapes.
#[derive(Debug, Default)]
pub struct Exposed {
    fleet: Fleet,
    series: Vec<AgentSeries>,
}

impl Exposed {
    pub fn new() -> Self {
        Exposed::default()
    }

    /// Adds agent `id` watched by `monitor` (fresh, or already fed: what its rings still hold
    /// seeds the histograms) and returns its index (the `agent` of its observations).
    pub fn add(&mut self, id: impl Into<String>, monitor: Monitor) -> usize {
        let mut series = AgentSeries::new();
        series.fold(&monitor);
        self.series.push(series);
        self.fleet.add(id, monitor) as usize
    }

    /// Folds one observation into its agent's model, and the new samples into the histograms.
    pub fn apply(&mut self, obs: &Observation) {
        match self.fleet.apply(obs) {
            Applied::One(ix) => self.fold(ix),
            Applied::All => (0..self.series.len()).for_each(|ix| self.fold(ix)),
            Applied::Unknown => {}
        }
    }

    fn fold(&mut self, ix: usize) {
        if let (Some(series), Some(agent)) = (self.series.get_mut(ix), self.fleet.get(ix)) {
            series.fold(&agent.monitor);
        }
    }

    /// A probe's round trip for agent `index`. The seam for the probe work: once the model records
    /// round trips itself, [`AgentSeries::fold`] reads them like heartbeats and this goes away.
    pub fn observe_probe_round_trip(&mut self, index: usize, rtt: Duration) {
        if let Some(series) = self.series.get_mut(index) {
            series.observe_probe_round_trip(rtt);
        }
    }

    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Each agent's model with its series, for a scrape.
    pub(crate) fn agents_mut(
        &mut self,
    ) -> impl Iterator<Item = (&crate::fleet::Agent, &mut AgentSeries)> {
        self.fleet.agents().iter().zip(self.series.iter_mut())
    }

    pub fn len(&self) -> usize {
        self.fleet.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fleet.is_empty()
    }

    /// The state, ready to share with [`serve::serve`].
    pub fn shared(self) -> Shared {
        Arc::new(Mutex::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::FindingKind;
    use crate::monitor::verdict::judge;
    use crate::observation::Route;
    use crate::testkit::Timeline;

    /// Four logs' worth of 15 s heartbeats in one session, then a silence that stalls it, logged
    /// over by the redirects a moved peek follows every 5 s.
    fn long_session_then_silence(t: &mut Timeline) {
        let beats = LOG_CAPACITY as u64 * 4;
        t.open(0, 1);
        for i in 1..=beats {
            t.heartbeat(i * 15_000, 1, i * 15_000);
        }
        let silent_from = beats * 15_000;
        for ms in (silent_from + 5_000..silent_from + 80_000).step_by(5_000) {
            let (from, to) = ("http://h/messages/peek", "http://h/v2/messages/peek");
            t.redirect(ms, Route::Peek, None, 307, from, to, false);
        }
        t.tick(silent_from + 80_000);
    }

    /// `play` into the TUI's model and into the exporter's capped one.
    fn played_full_and_capped(play: fn(&mut Timeline)) -> (Timeline, Timeline) {
        let mut full = Timeline::new();
        let mut capped = Timeline::new();
        capped.m = monitor(capped.m.thresholds.clone());
        play(&mut full);
        play(&mut capped);
        (full, capped)
    }

    #[test]
    fn the_capped_log_keeps_what_the_detectors_read() {
        let (full, capped) = played_full_and_capped(long_session_then_silence);
        assert_eq!(capped.m.log.entries.len(), LOG_CAPACITY);
        assert!(full.m.log.entries.len() > LOG_CAPACITY);
        assert_eq!(
            capped.m.log.total(),
            full.m.log.total(),
            "the count stays exact"
        );
        assert!(full.has(FindingKind::StreamStalled), "{:?}", full.summary());
        assert_eq!(capped.m.heartbeats.recent.len(), HEARTBEAT_CAPACITY);
        assert!(full.m.heartbeats.recent.len() > HEARTBEAT_CAPACITY);
        assert_eq!(capped.m.heartbeats.total(), full.m.heartbeats.total());
        assert_eq!(capped.findings(), full.findings());
    }

    /// A flood three capped histories long, still going.
    fn long_flood(t: &mut Timeline) {
        t.open(0, 1);
        let flood = HEARTBEAT_CAPACITY as u64 * 3;
        for i in 1..=flood {
            t.heartbeat(i * 50, 1, i * 50);
        }
        t.tick(flood * 50 + 20);
    }

    #[test]
    fn the_capped_heartbeats_keep_what_the_detectors_read() {
        let (full, capped) = played_full_and_capped(long_flood);
        assert!(
            full.has(FindingKind::HeartbeatFlood),
            "{:?}",
            full.summary()
        );
        assert_eq!(capped.m.heartbeats.recent.len(), HEARTBEAT_CAPACITY);
        // What the exposition shows: each finding's kind and severity, and the verdict. (The
        // evidence is of the newest 256 heartbeats: a flood of 20 a second fills that in 13 s.)
        let shown = |t: &Timeline| {
            let kinds: Vec<_> = t.findings().iter().map(|f| (f.kind, f.severity)).collect();
            (kinds, judge(&t.m).verdict)
        };
        assert_eq!(shown(&capped), shown(&full));
    }
}
