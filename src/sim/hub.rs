//! The SSE adapter's registry as `signaldock-transport` keeps it, with the deployed route's
//! heartbeat tasks.
//!
//! - **One stream per agent id.** `connect` replaces the agent's sender; the previous
//!   connection's channel then ends, and so does its HTTP body: a clean close.
//! - **A heartbeat task per connection** that fires into whichever stream is *current* for the
//!   agent, and outlives its own connection: two clients on one agent id kick each other off and
//!   stack heartbeats. Bounded here: a task fires at most a scenario-given number of beats after its
//!   connection ended, stops with the simulator, and an agent keeps at most
//!   [`HEARTBEAT_TASKS_PER_AGENT`] of them (the oldest is retired first).
//! - Frames queue per connection up to [`FRAME_QUEUE`] (the adapter's channel is unbounded);
//!   frames beyond it are dropped and counted.
//!
//! Agents are keyed by the `X-Agent-Id` of authenticated requests only, so the map stays small.

use axum::body::Bytes;
use chrono::Utc;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use super::{frames, stopped};

/// Live heartbeat tasks one agent may have.
pub const HEARTBEAT_TASKS_PER_AGENT: usize = 32;
/// Frames waiting for one connection's reader.
const FRAME_QUEUE: usize = 256;

/// The simulator's transport counters, all exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Stream connections the adapter registered (the monitor's and any other client's).
    pub connections: u64,
    /// Open streams ended because a newer connection took their agent id.
    pub replaced: u64,
    pub heartbeat_tasks_started: u64,
    pub heartbeat_tasks_live: usize,
    /// Tasks stopped early because their agent already had [`HEARTBEAT_TASKS_PER_AGENT`].
    pub heartbeat_tasks_retired: u64,
    /// Frames dropped because a connection's queue was full.
    pub frames_dropped: u64,
}

/// How a connection's heartbeat task fires.
#[derive(Debug, Clone, Copy)]
pub(super) struct Heartbeat {
    /// Real time between beats.
    pub(super) every: Duration,
    /// Beats still fired after the connection ended.
    pub(super) after_close: u32,
}

/// One registered stream: the frames the adapter sends it.
pub(super) struct Connection {
    pub(super) frames: mpsc::Receiver<Bytes>,
    /// Dropped with the connection; its heartbeat task then fires its last beats.
    _open: oneshot::Sender<()>,
}

pub(super) struct Hub {
    state: Mutex<State>,
    shutdown: watch::Receiver<bool>,
}

#[derive(Default)]
struct State {
    agents: HashMap<String, Agent>,
    stats: SimStats,
}

#[derive(Default)]
struct Agent {
    current: Option<Current>,
    /// Live heartbeat tasks, oldest first, by connection id.
    beats: VecDeque<(u64, AbortHandle)>,
}

struct Current {
    tx: mpsc::Sender<Bytes>,
}

impl Hub {
    pub(super) fn new(shutdown: watch::Receiver<bool>) -> Hub {
        Hub {
            state: Mutex::new(State::default()),
            shutdown,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `SseAdapter::connect` plus the route's heartbeat task: `agent`'s stream is now this one.
    pub(super) fn connect(self: &Arc<Self>, agent: &str, heartbeat: Heartbeat) -> Connection {
        let (tx, frames) = mpsc::channel(FRAME_QUEUE);
        let (open, closed) = oneshot::channel();
        let mut state = self.lock();
        let State { agents, stats } = &mut *state;
        stats.connections += 1;
        let id = stats.connections;
        let entry = agents.entry(agent.to_owned()).or_default();
        if let Some(previous) = entry.current.replace(Current { tx })
            && !previous.tx.is_closed()
        {
            stats.replaced += 1;
        }
        let task = Registered {
            hub: Arc::clone(self),
            agent: agent.to_owned(),
            id,
        };
        // Spawned under the lock, so the task cannot leave the list before it is on it.
        let handle = tokio::spawn(task.beat(heartbeat, closed));
        entry.beats.push_back((id, handle.abort_handle()));
        stats.heartbeat_tasks_started += 1;
        if entry.beats.len() > HEARTBEAT_TASKS_PER_AGENT
            && let Some((_, oldest)) = entry.beats.pop_front()
        {
            oldest.abort();
            stats.heartbeat_tasks_retired += 1;
        }
        Connection {
            frames,
            _open: open,
        }
    }

    /// `send_raw`: into `agent`'s current stream; `false` when there is none or it is gone (then
    /// forgotten, as the adapter cleans up a stale entry) or its queue is full.
    pub(super) fn send(&self, agent: &str, frame: Bytes) -> bool {
        let mut state = self.lock();
        let State { agents, stats } = &mut *state;
        let Some(entry) = agents.get_mut(agent) else {
            return false;
        };
        let Some(current) = &entry.current else {
            return false;
        };
        match current.tx.try_send(frame) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                stats.frames_dropped += 1;
                false
            }
            Err(TrySendError::Closed(_)) => {
                entry.current = None;
                false
            }
        }
    }

    pub(super) fn stats(&self) -> SimStats {
        let state = self.lock();
        SimStats {
            heartbeat_tasks_live: state.agents.values().map(|a| a.beats.len()).sum(),
            ..state.stats
        }
    }
}

/// A connection's heartbeat task: its agent, and its place in the agent's list (by connection id).
struct Registered {
    hub: Arc<Hub>,
    agent: String,
    id: u64,
}

impl Registered {
    /// Fires until its beats after close run out or the simulator stops, then leaves the list.
    /// (A retired task is aborted after `connect` took it off the list.)
    async fn beat(self, heartbeat: Heartbeat, closed: oneshot::Receiver<()>) {
        self.fire(heartbeat, closed).await;
        let mut state = self.hub.lock();
        if let Some(agent) = state.agents.get_mut(&self.agent) {
            agent.beats.retain(|(id, _)| *id != self.id);
        }
    }

    async fn fire(&self, heartbeat: Heartbeat, mut closed: oneshot::Receiver<()>) {
        let mut ticks = interval_at(Instant::now() + heartbeat.every, heartbeat.every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut left_after_close: Option<u32> = None;
        while left_after_close != Some(0) {
            tokio::select! {
                _ = ticks.tick() => {
                    self.hub.send(&self.agent, frames::heartbeat(Utc::now()));
                    if let Some(left) = &mut left_after_close {
                        *left -= 1;
                    }
                }
                _ = &mut closed, if left_after_close.is_none() => {
                    left_after_close = Some(heartbeat.after_close);
                }
                () = stopped(self.hub.shutdown.clone()) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::sleep;

    const EVERY: Duration = Duration::from_secs(10);

    fn hub() -> (Arc<Hub>, watch::Sender<bool>) {
        let (stop, shutdown) = watch::channel(false);
        (Arc::new(Hub::new(shutdown)), stop)
    }

    fn beats(after_close: u32) -> Heartbeat {
        Heartbeat {
            every: EVERY,
            after_close,
        }
    }

    /// Receive times (since `start`) of the frames `connection` gets until `until`.
    async fn arrivals(connection: &mut Connection, start: Instant, until: Instant) -> Vec<u64> {
        let mut seen = Vec::new();
        while let Ok(Some(_)) = tokio::time::timeout_at(until, connection.frames.recv()).await {
            seen.push((Instant::now() - start).as_secs());
        }
        seen
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_connect_for_the_same_agent_ends_the_first_stream() {
        let (hub, _stop) = hub();
        let mut first = hub.connect("a", beats(0));
        let mut other_agent = hub.connect("b", beats(0));
        let mut second = hub.connect("a", beats(0));
        assert_eq!(first.frames.recv().await, None, "the first stream ended");
        assert!(hub.send("a", Bytes::from_static(b"x")));
        assert_eq!(second.frames.recv().await.as_deref(), Some(&b"x"[..]));
        assert!(
            other_agent.frames.try_recv().is_err(),
            "agent b is untouched"
        );
        let stats = hub.stats();
        assert_eq!((stats.connections, stats.replaced), (3, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeat_tasks_outlive_their_connection_for_a_bounded_number_of_beats() {
        let (hub, _stop) = hub();
        let start = Instant::now();
        let first = hub.connect("a", beats(2));
        sleep(Duration::from_secs(5)).await;
        let mut second = hub.connect("a", beats(2));
        drop(first);
        let seen = arrivals(&mut second, start, start + Duration::from_secs(46)).await;
        // The first task's two beats after close (10, 20), stacked on the second's own.
        assert_eq!(seen, vec![10, 15, 20, 25, 35, 45]);
        assert_eq!(hub.stats().heartbeat_tasks_live, 1);
        drop(second);
        sleep(EVERY * 3).await;
        let stats = hub.stats();
        assert_eq!(
            (stats.heartbeat_tasks_started, stats.heartbeat_tasks_live),
            (2, 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn live_heartbeat_tasks_per_agent_are_capped_oldest_first() {
        let (hub, _stop) = hub();
        let extra = 8;
        let connections: Vec<Connection> = (0..HEARTBEAT_TASKS_PER_AGENT + extra)
            .map(|_| hub.connect("a", beats(u32::MAX)))
            .collect();
        let stats = hub.stats();
        assert_eq!(stats.heartbeat_tasks_live, HEARTBEAT_TASKS_PER_AGENT);
        assert_eq!(stats.heartbeat_tasks_retired, extra as u64);
        assert_eq!(
            stats.heartbeat_tasks_started,
            (HEARTBEAT_TASKS_PER_AGENT + extra) as u64
        );
        // The retired ones are the oldest: the newest connection's own task still beats.
        let mut newest = connections.into_iter().last().unwrap();
        let start = Instant::now();
        let seen = arrivals(&mut newest, start, start + EVERY + Duration::from_secs(1)).await;
        assert_eq!(seen.len(), HEARTBEAT_TASKS_PER_AGENT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_drops_frames_and_counts_them_and_a_gone_reader_is_forgotten() {
        let (hub, _stop) = hub();
        let connection = hub.connect("a", beats(0));
        let sent = (0..FRAME_QUEUE + 5)
            .filter(|_| hub.send("a", Bytes::from_static(b"x")))
            .count();
        assert_eq!(sent, FRAME_QUEUE);
        assert_eq!(hub.stats().frames_dropped, 5);
        drop(connection);
        assert!(!hub.send("a", Bytes::from_static(b"x")));
        assert!(!hub.send("nobody", Bytes::from_static(b"x")));
        assert_eq!(
            hub.stats().frames_dropped,
            5,
            "a closed stream is not a full one"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_the_simulator_stops_every_heartbeat_task() {
        let (hub, stop) = hub();
        let _connections: Vec<Connection> =
            (0..3).map(|_| hub.connect("a", beats(u32::MAX))).collect();
        assert_eq!(hub.stats().heartbeat_tasks_live, 3);
        stop.send(true).unwrap();
        sleep(Duration::from_millis(1)).await;
        assert_eq!(hub.stats().heartbeat_tasks_live, 0);
    }
}
