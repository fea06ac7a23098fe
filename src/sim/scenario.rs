//! The simulator's scenarios: named, documented server behaviours (DESIGN §4).

use std::fmt;
use std::str::FromStr;

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
];

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
            Scenario::Stall => "connected, then silence: no bytes, no close",
            Scenario::AuthFailure => "every request answered 401 E_AUTH_UNAUTHORIZED",
            Scenario::Flaky => {
                "~30% of streams get 502/503 with Retry-After; streams reset mid-frame"
            }
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Scenario::Healthy => {
                "Heartbeats every --heartbeat-interval; each peer message is streamed within ~50 ms.\n\
                 Expect: no warning; delivery latency figures."
            }
            Scenario::HeartbeatFlood => {
                "`connected`, 20-30 heartbeats within ~1.5 s (payload timestamps spread across it), then a\n\
                 clean close, on every connection. Messages land in the inbox but are never streamed.\n\
                 Expect: heartbeat-flood, short-sessions, delivery-gap."
            }
            Scenario::SilentDrop => {
                "`connected` and heartbeats forever, but messages are never streamed.\n\
                 Expect: delivery-gap (N messages only reachable by polling, oldest age)."
            }
            Scenario::IdleTimeout => {
                "An intermediary resets every connection at a constant age of 100 s; the server's\n\
                 heartbeats (every 120 s) never get through. Messages are streamed while connected.\n\
                 Expect: proxy-idle-timeout, heartbeat-stale."
            }
            Scenario::ProxyBuffering => {
                "Heartbeats and messages are produced on time, but an intermediary holds the frames and\n\
                 flushes them together every ~30 s: payload timestamps spread, receive times bunched.\n\
                 Expect: proxy-buffering (not a flood)."
            }
            Scenario::Stall => {
                "`connected`, then nothing at all: no bytes, no keep-alive, no close.\n\
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
        }
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
                let names: Vec<_> = ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario {s:?}; one of: {}", names.join(", "))
            })
    }
}
