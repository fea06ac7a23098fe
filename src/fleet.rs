//! A fleet is many of the same: one pure [`Monitor`] per watched agent, fed by the observations
//! tagged with that agent. The TUI's fleet view, the fleet `check` and the exporter all read it;
//! nothing is shared between agents but the HTTP client and the clock.

use std::time::Duration;

use crate::monitor::log::EntryKind;
use crate::monitor::verdict::{Judgement, judge};
use crate::monitor::{Finding, Monitor, Severity, Verdict, connection::ConnState};
use crate::observation::{AgentIx, Kind, Mono, Observation};

/// One watched agent and its model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Agent {
    pub id: String,
    pub monitor: Monitor,
}

/// The agents of a run, in the order they were configured (an observation's `agent` is the index).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Fleet {
    agents: Vec<Agent>,
}

/// Which models an observation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    One(usize),
    /// Time passed for every agent (a tick).
    All,
    /// The observation names an agent this fleet does not have (a recording made with more).
    Unknown,
}

impl Fleet {
    pub fn new() -> Self {
        Fleet::default()
    }

    /// A fleet of one (the single-agent views).
    pub fn single(id: impl Into<String>, monitor: Monitor) -> Self {
        let mut fleet = Fleet::new();
        fleet.add(id, monitor);
        fleet
    }

    /// Adds agent `id` with its model; returns its index (the `agent` of its observations).
    pub fn add(&mut self, id: impl Into<String>, monitor: Monitor) -> AgentIx {
        self.agents.push(Agent {
            id: id.into(),
            monitor,
        });
        AgentIx::try_from(self.agents.len() - 1).unwrap_or(AgentIx::MAX)
    }

    /// Folds one observation into the model of its agent; a tick reaches every agent.
    pub fn apply(&mut self, obs: &Observation) -> Applied {
        if matches!(obs.kind, Kind::Tick) {
            for agent in &mut self.agents {
                agent.monitor.apply(obs);
            }
            return Applied::All;
        }
        let ix = obs.agent as usize;
        match self.agents.get_mut(ix) {
            Some(agent) => {
                agent.monitor.apply(obs);
                Applied::One(ix)
            }
            None => Applied::Unknown,
        }
    }

    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    pub fn get(&self, ix: usize) -> Option<&Agent> {
        self.agents.get(ix)
    }

    pub fn get_mut(&mut self, ix: usize) -> Option<&mut Agent> {
        self.agents.get_mut(ix)
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// Every agent judged, in configuration order.
    pub fn judgements(&self) -> Vec<Judgement> {
        self.agents.iter().map(|a| judge(&a.monitor)).collect()
    }

    /// The worst verdict of the fleet (critical > warning > unknown > ok); unknown when empty.
    pub fn worst(judgements: &[Judgement]) -> Verdict {
        judgements
            .iter()
            .map(|j| j.verdict)
            .reduce(Verdict::worst)
            .unwrap_or(Verdict::Unknown)
    }

    /// One row per agent for the fleet view, worst first (then by id).
    pub fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .agents
            .iter()
            .enumerate()
            .map(|(ix, a)| Row::of(ix, a))
            .collect();
        rows.sort_by(|a, b| {
            b.verdict
                .badness()
                .cmp(&a.verdict.badness())
                .then_with(|| a.id.cmp(&b.id))
        });
        rows
    }
}

/// What the fleet view shows of one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub ix: usize,
    pub id: String,
    pub verdict: Verdict,
    pub headline: String,
    pub state: &'static str,
    /// How long the current session has been open (in the watched system's seconds).
    pub session_age: Option<Duration>,
    pub reconnects: u64,
    /// Heartbeats in the last minute (of the watched system's time).
    pub heartbeats_per_min: f64,
    /// Heartbeats per second over the last 60 s, oldest first (the small sparkline).
    pub spark: Vec<u64>,
    /// Since the last SSE event or comment.
    pub last_event_age: Option<Duration>,
    pub only_polled: u64,
    /// The most severe finding (warning or worse), if any.
    pub worst_finding: Option<Finding>,
}

impl Row {
    fn of(ix: usize, agent: &Agent) -> Row {
        let m = &agent.monitor;
        let t = &m.thresholds;
        let judgement = judge(m);
        let worst_finding = judgement
            .findings
            .iter()
            .find(|f| f.severity >= Severity::Warning)
            .cloned();
        let session_age = match m.connection.state {
            ConnState::Open { since, .. } => Some(t.shown(m.now.since(since))),
            _ => None,
        };
        let minute = Duration::from_secs(60);
        Row {
            ix,
            id: agent.id.clone(),
            verdict: judgement.verdict,
            headline: judgement.headline,
            state: m.connection.state.label(),
            session_age,
            reconnects: m.connection.reconnects(),
            heartbeats_per_min: m
                .heartbeats
                .per_second(minute.div_f64(t.time_scale.max(1e-9)))
                * 60.0
                / t.time_scale.max(1e-9),
            spark: m.heartbeats.last_seconds(60).collect(),
            last_event_age: last_event_at(m).map(|at| t.shown(m.now.since(at))),
            only_polled: m.inbox.only_polled().count() as u64,
            worst_finding,
        }
    }

    /// Whether the `/` filter keeps this row: a substring of the id, the verdict word, the state
    /// or the worst finding's kind (case-insensitive).
    pub fn matches(&self, filter: &str) -> bool {
        let needle = filter.trim().to_lowercase();
        needle.is_empty()
            || self.id.to_lowercase().contains(&needle)
            || self.verdict.word().contains(&needle)
            || self.state.contains(&needle)
            || self
                .worst_finding
                .as_ref()
                .is_some_and(|f| f.kind.name().contains(&needle))
    }
}

/// When the newest SSE event or comment arrived (the log keeps them, newest last).
fn last_event_at(m: &Monitor) -> Option<Mono> {
    m.log
        .entries
        .iter()
        .rev()
        .find(|e| e.kind != EntryKind::Lifecycle)
        .map(|e| e.t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Thresholds;
    use crate::observation::Clock;
    use crate::testkit::{healthy_minute as healthy, heartbeat_flood as flood};

    #[test]
    fn observations_reach_their_own_agent_and_ticks_reach_all() {
        let mut fleet = Fleet::new();
        let a = fleet.add("a", Monitor::new(Thresholds::default()));
        let b = fleet.add("b", Monitor::new(Thresholds::default()));
        let clock = Clock::start();
        let of_b = clock.for_agent(b).observation(
            Mono::from_millis(5),
            chrono::Utc::now(),
            Kind::ProbeSent {
                id: None,
                error: None,
                post_ms: 0,
            },
        );
        assert_eq!(fleet.apply(&of_b), Applied::One(b as usize));
        assert_eq!(fleet.get(a as usize).unwrap().monitor.observations, 0);
        assert_eq!(fleet.get(b as usize).unwrap().monitor.observations, 1);
        let tick = clock.for_agent(a).stamp(Kind::Tick);
        assert_eq!(fleet.apply(&tick), Applied::All);
        assert!(fleet.agents().iter().all(|x| x.monitor.observations >= 1));
        let stray = clock.for_agent(7).stamp(Kind::ProbeSent {
            id: None,
            error: None,
            post_ms: 0,
        });
        assert_eq!(fleet.apply(&stray), Applied::Unknown);
    }

    #[test]
    fn rows_put_the_worst_first_and_the_worst_verdict_wins() {
        let mut fleet = Fleet::new();
        fleet.add("calm", healthy().m);
        fleet.add("flooded", flood().m);
        fleet.add("idle", Monitor::new(Thresholds::default()));
        let rows = fleet.rows();
        let order: Vec<_> = rows.iter().map(|r| (r.id.as_str(), r.verdict)).collect();
        assert_eq!(
            order,
            vec![
                ("flooded", Verdict::Critical),
                ("idle", Verdict::Unknown),
                ("calm", Verdict::Ok)
            ]
        );
        assert_eq!(
            rows[0].worst_finding.as_ref().map(|f| f.kind.name()),
            Some("heartbeat-flood")
        );
        assert_eq!(Fleet::worst(&fleet.judgements()), Verdict::Critical);
        assert_eq!(Fleet::worst(&[]), Verdict::Unknown);
    }

    #[test]
    fn a_row_shows_rates_ages_and_gaps() {
        let fleet = Fleet::single("calm", healthy().m);
        let row = &fleet.rows()[0];
        assert_eq!(row.state, "open");
        assert_eq!(row.session_age, Some(Duration::from_secs(60)));
        assert!((row.heartbeats_per_min - 4.0).abs() < 0.01, "{row:?}");
        assert_eq!(row.spark.len(), 60);
        assert_eq!(row.last_event_age, Some(Duration::ZERO));
        assert!(row.matches("CALM") && row.matches("ok") && !row.matches("flood"));
    }
}
