//! Prometheus exposition of the per-agent models (`inboxtop exporter`).
//!
//! The caller owns a [`Fleet`] behind a [`SharedFleet`] and feeds every observation through
//! [`Fleet::apply`]; [`serve::serve`] answers `GET /metrics` by reading the models at scrape time.
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

pub mod metrics;
pub mod series;
pub mod serve;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::monitor::Monitor;
use crate::observation::Observation;
use series::AgentSeries;

pub use metrics::{CONTENT_TYPE, exposition};
pub use serve::{router, serve};

/// The fleet as the exporter's tasks share it: sources apply, scrapes read.
pub type SharedFleet = Arc<Mutex<Fleet>>;

/// One watched agent: its model, and what the exposition remembers of it between scrapes.
#[derive(Debug)]
pub struct Agent {
    id: String,
    monitor: Monitor,
    series: AgentSeries,
}

impl Agent {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    pub fn series(&self) -> &AgentSeries {
        &self.series
    }
}

/// The agents one exporter exposes, in the order they were added.
#[derive(Debug, Default)]
pub struct Fleet {
    agents: Vec<Agent>,
}

impl Fleet {
    pub fn new() -> Self {
        Fleet::default()
    }

    /// Adds agent `id` watched by `monitor` (fresh, or already fed: what its rings still hold
    /// seeds the histograms) and returns its index for [`Fleet::apply`].
    pub fn add(&mut self, id: impl Into<String>, monitor: Monitor) -> usize {
        let mut series = AgentSeries::new();
        series.fold(&monitor);
        self.agents.push(Agent {
            id: id.into(),
            monitor,
            series,
        });
        self.agents.len() - 1
    }

    /// Folds one observation into agent `index`'s model, and its new samples into the
    /// histograms. An index that was never returned by [`Fleet::add`] is a caller bug.
    pub fn apply(&mut self, index: usize, obs: &Observation) {
        let agent = &mut self.agents[index];
        agent.monitor.apply(obs);
        agent.series.fold(&agent.monitor);
    }

    /// A probe's round trip for agent `index`. The seam for the probe work: once the model records
    /// round trips itself, [`AgentSeries::fold`] reads them like heartbeats and this goes away.
    pub fn observe_probe_round_trip(&mut self, index: usize, rtt: Duration) {
        self.agents[index].series.observe_probe_round_trip(rtt);
    }

    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    pub(crate) fn agents_mut(&mut self) -> &mut [Agent] {
        &mut self.agents
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// The fleet, ready to share with [`serve::serve`].
    pub fn shared(self) -> SharedFleet {
        Arc::new(Mutex::new(self))
    }
}
