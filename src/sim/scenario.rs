//! The simulator's scenarios: named, documented server behaviours (DESIGN §4).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    Healthy,
    HeartbeatFlood,
    SilentDrop,
    IdleTimeout,
    ProxyBuffering,
    Stall,
    AuthFailure,
    Flaky,
    Takeover,
    DoubleFramed,
    Moved,
    Gone,
    Rejected,
}

const ALL: &[Scenario] = &[
    Scenario::Healthy,
    Scenario::HeartbeatFlood,
    Scenario::SilentDrop,
    Scenario::IdleTimeout,
    Scenario::ProxyBuffering,
    Scenario::Stall,
    Scenario::AuthFailure,
    Scenario::Flaky,
    Scenario::Takeover,
    Scenario::DoubleFramed,
    Scenario::Moved,
    Scenario::Gone,
    Scenario::Rejected,
];

/// Heartbeats a connection's heartbeat task still fires after its connection ended, into
/// whichever stream is then current for the agent: bounded, so stacked timers fade out.
const HEARTBEATS_AFTER_CLOSE: u32 = 4;

impl Scenario {
    pub fn all() -> &'static [Scenario] {
        ALL
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Healthy => "healthy",
            Scenario::HeartbeatFlood => "heartbeat-flood",
            Scenario::SilentDrop => "silent-drop",
            Scenario::IdleTimeout => "idle-timeout",
            Scenario::ProxyBuffering => "proxy-buffering",
            Scenario::Stall => "stall",
            Scenario::AuthFailure => "auth-failure",
            Scenario::Flaky => "flaky",
            Scenario::Takeover => "takeover",
            Scenario::DoubleFramed => "double-framed",
            Scenario::Moved => "moved",
            Scenario::Gone => "gone",
            Scenario::Rejected => "rejected",
        }
    }

    pub fn summary(&self) -> &'static str {
        match self {
            Scenario::Healthy => "heartbeats on time, every message streamed within ~50 ms",
            Scenario::HeartbeatFlood => {
                "the outage: 20-30 heartbeats in ~1.5 s, close, repeat; messages never streamed"
            }
            Scenario::SilentDrop => "stream up with normal heartbeats, but messages never streamed",
            Scenario::IdleTimeout => {
                "a proxy cuts every connection at 100 s; heartbeats every 120 s"
            }
            Scenario::ProxyBuffering => {
                "a proxy holds events and flushes them in bursts every ~30 s"
            }
            Scenario::Stall => "response headers, then silence: no bytes, no close",
            Scenario::AuthFailure => "every request answered 401 E_AUTH_UNAUTHORIZED",
            Scenario::Flaky => {
                "~30% of streams get 502/503 with Retry-After; streams reset mid-frame"
            }
            Scenario::Takeover => {
                "another client holds the same agent id: each connect ends the other's stream"
            }
            Scenario::DoubleFramed => {
                "the adapter's frames wrapped again as the data of outer SSE events"
            }
            Scenario::Moved => "stream and peek answer 307 to /v2/…, which is healthy",
            Scenario::Gone => "the stream answers 204 No Content; peek works",
            Scenario::Rejected => "stream and peek answer 400 E_VALIDATION_SCHEMA",
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Scenario::Healthy => {
                "The SignalDock SSE adapter as deployed: one stream per agent id, a heartbeat every\n\
                 --heartbeat-interval from a task per connection, each peer message streamed within\n\
                 ~50 ms, frames byte for byte as the adapter writes them.\n\
                 Expect: no warning; delivery latency figures."
            }
            Scenario::HeartbeatFlood => {
                "The seed outage's server: `connected`, 20-30 heartbeats within ~1.5 s (payload\n\
                 timestamps spread across it), then a clean close, on every connection. Messages land\n\
                 in the inbox but are never streamed.\n\
                 Expect: heartbeat-flood, short-sessions, delivery-gap."
            }
            Scenario::SilentDrop => {
                "Heartbeats forever, but the server never dispatches messages to the stream.\n\
                 Expect: delivery-gap (N messages only reachable by polling, oldest age)."
            }
            Scenario::IdleTimeout => {
                "An intermediary resets every connection at a constant age of 100 s; the server's\n\
                 heartbeats (every 120 s) never get through, only the route's `:` keep-alive comments\n\
                 (axum KeepAlive, after 15 s without a frame). Messages are streamed while connected.\n\
                 Expect: proxy-idle-timeout, heartbeat-stale."
            }
            Scenario::ProxyBuffering => {
                "Heartbeats and messages are produced on time, but an intermediary holds the frames and\n\
                 flushes them together every ~30 s: payload timestamps spread, receive times bunched.\n\
                 Expect: proxy-buffering (not a flood)."
            }
            Scenario::Stall => {
                "200 and `text/event-stream`, then nothing at all: no bytes, no keep-alive, no close.\n\
                 Expect: stream-stalled; messages only reachable by polling."
            }
            Scenario::AuthFailure => {
                "Every endpoint answers 401 with the E_AUTH_UNAUTHORIZED envelope, whatever the key.\n\
                 Expect: auth-failed; the client backs off instead of hammering."
            }
            Scenario::Flaky => {
                "~30% of stream requests get 502/503 with Retry-After: 2; accepted streams are reset\n\
                 mid-frame every 20-40 s; ~10% of peeks get 503.\n\
                 Expect: server-errors; backoff honoured."
            }
            Scenario::Takeover => {
                "A second simulated client connects with the same agent id every 1-4 s (irregular).\n\
                 The adapter keeps one stream per agent, so each connect ends the other's stream with a\n\
                 clean close, and every connection's heartbeat task keeps firing into whichever stream\n\
                 is current: heartbeats stack. Messages go to whoever holds the stream at the time.\n\
                 Expect: session takeover and stacked heartbeat timers (not just a flood); messages\n\
                 only reachable by polling."
            }
            Scenario::DoubleFramed => {
                "The route passes the adapter's already framed text to axum's `Event::data`: every\n\
                 event arrives as `data: id: …` / `data: event: …` / `data: data: {…}` lines.\n\
                 Expect: nested SSE framing."
            }
            Scenario::Moved => {
                "/messages/stream and /messages/peek answer 307 Temporary Redirect to\n\
                 /v2/messages/stream and /v2/messages/peek, which behave as `healthy`.\n\
                 Expect: redirected (update the base URL); healthy after following."
            }
            Scenario::Gone => {
                "The stream answers 204 No Content: the server says stop. Peek works.\n\
                 Expect: the server said stop; no reconnect loop."
            }
            Scenario::Rejected => {
                "Stream and peek answer 400 with the E_VALIDATION_SCHEMA error envelope.\n\
                 Expect: stream rejected, poll failed; critical, never OK."
            }
        }
    }

    /// How often the server's heartbeat task fires, given the configured interval.
    pub(super) fn heartbeat_interval(self, configured: Duration) -> Duration {
        match self {
            Scenario::IdleTimeout => Duration::from_secs(120),
            _ => configured,
        }
    }

    /// Heartbeats a connection's task fires after its connection ended. The scenarios about an
    /// intermediary or transient errors stop the task with its connection, so each keeps its one
    /// documented symptom; the others show the deployed route's stacking on every reconnect.
    pub(super) fn heartbeats_after_close(self) -> u32 {
        match self {
            Scenario::IdleTimeout | Scenario::Flaky => 0,
            _ => HEARTBEATS_AFTER_CLOSE,
        }
    }

    /// Whether the server dispatches new messages to the agent's stream.
    pub(super) fn delivers_messages(self) -> bool {
        self != Scenario::SilentDrop
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .copied()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = ALL.iter().map(Scenario::name).collect();
                format!("unknown scenario {s:?}; one of: {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_round_trips_by_name_and_says_what_to_expect() {
        for &s in Scenario::all() {
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
            assert!(s.description().contains("Expect:"), "{s}");
            assert!(!s.summary().is_empty(), "{s}");
        }
        assert_eq!(Scenario::all().len(), 13);
        assert!("nope".parse::<Scenario>().unwrap_err().contains("takeover"));
    }
}
