//! `Observation`: the one currency of the program.
//!
//! Every fact that enters inboxtop — a connect attempt, a response, an SSE event, a poll result, the
//! passing of time — is an [`Observation`] stamped with a monotonic and a wall-clock time. The model
//! only ever sees observations, which is what makes it pure, testable with synthetic timelines, and
//! what makes a recording (one observation per line) replay exactly like the live run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::wire::{ApiError, WireMessage};

mod layout;
mod line;
#[cfg(test)]
mod oracle;
pub mod wall;

/// Monotonic time since the monitor started, in microseconds.
///
/// Never read from a clock inside the model: it only arrives inside observations.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Mono(pub u64);

impl Mono {
    pub const ZERO: Mono = Mono(0);

    pub fn from_duration(d: Duration) -> Mono {
        Mono(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    pub fn from_millis(ms: u64) -> Mono {
        Mono(ms.saturating_mul(1000))
    }

    pub fn from_secs_f64(s: f64) -> Mono {
        Mono((s.max(0.0) * 1_000_000.0) as u64)
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Mono) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    pub fn plus(self, d: Duration) -> Mono {
        Mono(self.0.saturating_add(Mono::from_duration(d).0))
    }

    pub fn saturating_sub(self, d: Duration) -> Mono {
        Mono(self.0.saturating_sub(Mono::from_duration(d).0))
    }

    pub fn whole_seconds(self) -> u64 {
        self.0 / 1_000_000
    }
}

/// Which agent of the run an observation is about: its index in the run's agent list (the
/// recording header lists the ids). A single-agent run is all agent 0.
pub type AgentIx = u32;

/// The one clock of a run: sources stamp their observations with it, so monotonic times of all
/// sources share one origin. (The model never reads it.) Each agent's sources hold a copy tagged
/// with that agent, so every observation says whose it is without any further hop.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: std::time::Instant,
    agent: AgentIx,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: std::time::Instant::now(),
            agent: 0,
        }
    }

    /// The same clock, stamping observations of `agent`.
    pub fn for_agent(self, agent: AgentIx) -> Clock {
        Clock { agent, ..self }
    }

    pub fn now(&self) -> Mono {
        Mono::from_duration(self.start.elapsed())
    }

    /// `kind`, observed now.
    pub fn stamp(&self, kind: Kind) -> Observation {
        self.observation(self.now(), Utc::now(), kind)
    }

    /// `kind`, observed at `t` / `wall` (several facts completed by one read share its time).
    pub fn observation(&self, t: Mono, wall: DateTime<Utc>, kind: Kind) -> Observation {
        Observation {
            agent: self.agent,
            ..Observation::new(t, wall, kind)
        }
    }
}

/// One fact, with when it was observed. One recording line: `t`, `wall`, `agent` (omitted for
/// agent 0), then the kind's `type` and fields, all in one JSON object (see `line`).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Monotonic receive time (microseconds since the monitor started).
    pub t: Mono,
    /// Wall-clock receive time.
    pub wall: DateTime<Utc>,
    /// Whose observation this is (omitted for agent 0, so single-agent recordings stay as they were).
    pub agent: AgentIx,
    pub kind: Kind,
}

impl Observation {
    /// An observation of agent 0 (the only agent of a single-agent run).
    pub fn new(t: Mono, wall: DateTime<Utc>, kind: Kind) -> Self {
        Observation {
            t,
            wall,
            agent: 0,
            kind,
        }
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// What was observed. Its kebab-case variant names and fields are a recording format: an
/// observation's line carries the name as `type`, its fields beside it. (The derive is externally
/// tagged so that `line` can read a line without buffering it; `Kind` alone is never a line.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The stream source is about to open session `session` (1-based, one per session; a session
    /// may take several HTTP requests when redirects are followed).
    ConnectAttempt {
        session: u64,
        /// The `Last-Event-ID` header sent with it: the last event id seen, when a header can
        /// carry it (else see [`Kind::LastEventIdUnsent`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_event_id: Option<String>,
    },
    /// Right after a `ConnectAttempt`: the last event id seen has a byte an HTTP header cannot
    /// carry (a control character), so it is not sent and the server cannot resume from it
    /// (missed messages are not replayed). The session goes ahead without it.
    LastEventIdUnsent { session: u64, id: String },
    /// A redirect (301, 302, 303, 307 or 308 with a `Location`) was followed: the next request of
    /// the same call goes to `to`. `cross_origin`: `to` is not on the base URL's origin (scheme,
    /// host, port), so the API key and the agent header were not sent to it. URLs are shown
    /// without userinfo and with the key masked.
    Redirected {
        route: Route,
        /// The stream session (stream redirects only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<u64>,
        status: u16,
        from: String,
        to: String,
        cross_origin: bool,
    },
    /// The server answered the stream request, whatever the status.
    StreamResponse {
        session: u64,
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_encoding: Option<String>,
        /// Time from the first request to the final response head (redirects included).
        ttfb_ms: u64,
        /// `Retry-After` of the response, in milliseconds, when present and valid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// Response headers worth showing (bounded, values untrusted).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
        /// The error envelope (or a bounded body excerpt) of a non-2xx answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ApiError>,
    },
    /// The request could not be made or got no answer.
    ConnectFailed {
        session: u64,
        class: NetErrorClass,
        error: String,
    },
    /// One dispatched SSE event.
    SseEvent {
        session: u64,
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_ms: Option<u64>,
    },
    /// An SSE comment line (`:` …), typically a keep-alive.
    SseComment { session: u64, text: String },
    /// A line longer than the configured limit was skipped without being buffered.
    OversizedEvent {
        session: u64,
        bytes: u64,
        limit: u64,
    },
    /// The session ended.
    StreamClosed { session: u64, reason: CloseReason },
    /// The stream source will try again after `delay_ms`.
    RetryScheduled { delay_ms: u64, reason: String },
    /// The server said stop (an HTTP 204 to the stream request, per the WHATWG reconnection
    /// rules): instead of a `RetryScheduled`, the stream source waits until asked to reconnect
    /// (`StreamCommand::ReconnectNow`, `r` in the TUI). Follows the session's `StreamClosed`.
    ReconnectStopped { session: u64, reason: String },
    /// A successful peek: the inbox as the server lists it now.
    PollOk {
        elapsed_ms: u64,
        messages: Vec<WireMessage>,
        /// Entries of the response that could not be read as a message.
        #[serde(default, skip_serializing_if = "is_zero")]
        unreadable: u32,
    },
    /// A peek that failed (network, HTTP status, or an unreadable body).
    PollFailed {
        elapsed_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<NetErrorClass>,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_error: Option<ApiError>,
    },
    /// A probe message was sent (or failed to be sent) with `POST /messages`.
    ProbeSent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// How long the `POST` took: the probe left `post_ms` before this observation, which is
        /// where its round trips start (it may even arrive on the stream before the answer).
        #[serde(default, skip_serializing_if = "is_zero_u64")]
        post_ms: u64,
    },
    /// Time passed. Sources of time (the app's slow tick, a replay) send these so that
    /// time-based findings (a stalled stream) appear without any other input.
    Tick,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Why a stream session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum CloseReason {
    /// The server finished the response cleanly.
    Eof,
    /// The connection broke (reset, aborted body, protocol error).
    Reset { detail: String },
    /// No byte arrived within the read timeout.
    Timeout { idle_ms: u64 },
    /// The body could not be decoded as an event stream.
    Decode { detail: String },
    /// The response was not an event stream (status or content type), so it was not read.
    Rejected { detail: String },
    /// inboxtop closed it (user reconnect, shutdown).
    Cancelled,
}

impl CloseReason {
    pub fn label(&self) -> String {
        match self {
            CloseReason::Eof => "server closed (EOF)".into(),
            CloseReason::Reset { detail } => format!("reset: {detail}"),
            CloseReason::Timeout { idle_ms } => format!("read timeout after {idle_ms} ms idle"),
            CloseReason::Decode { detail } => format!("decode error: {detail}"),
            CloseReason::Rejected { detail } => format!("rejected: {detail}"),
            CloseReason::Cancelled => "closed by inboxtop".into(),
        }
    }
}

/// Which call a redirect answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// `GET` of the event stream.
    Stream,
    /// `GET` of the inbox peek.
    Peek,
    /// `POST` of a probe message.
    Probe,
}

impl Route {
    pub fn label(self) -> &'static str {
        match self {
            Route::Stream => "stream",
            Route::Peek => "peek",
            Route::Probe => "probe",
        }
    }
}

/// What kind of network failure prevented an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetErrorClass {
    InvalidUrl,
    Dns,
    Refused,
    Tls,
    Timeout,
    /// A redirect that cannot be followed: a loop, more than ten hops, a bad `Location`.
    Redirect,
    Body,
    Other,
}

impl NetErrorClass {
    pub fn label(self) -> &'static str {
        match self {
            NetErrorClass::InvalidUrl => "invalid URL",
            NetErrorClass::Dns => "DNS lookup failed",
            NetErrorClass::Refused => "connection refused",
            NetErrorClass::Tls => "TLS failure",
            NetErrorClass::Timeout => "timed out",
            NetErrorClass::Redirect => "redirect",
            NetErrorClass::Body => "unreadable body",
            NetErrorClass::Other => "network error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observation_round_trips_through_one_json_line() {
        let obs = Observation::new(
            Mono(1_500_000),
            "2026-11-25T03:00:00Z".parse().unwrap(),
            Kind::SseEvent {
                session: 3,
                event: "heartbeat".into(),
                id: None,
                data: r#"{"timestamp":"2026-11-25T03:00:00Z"}"#.into(),
                retry_ms: None,
            },
        );
        let line = serde_json::to_string(&obs).unwrap();
        assert!(!line.contains('\n'));
        assert!(line.contains(r#""type":"sse-event""#), "{line}");
        let back: Observation = serde_json::from_str(&line).unwrap();
        assert_eq!(back, obs);
    }

    /// The recording lines of the reconnection observations, pinned byte for byte.
    #[test]
    fn reconnection_kinds_have_a_stable_json_shape() {
        let cases = [
            (
                Kind::Redirected {
                    route: Route::Stream,
                    session: Some(2),
                    status: 307,
                    from: "http://a/messages/stream".into(),
                    to: "http://b/messages/stream".into(),
                    cross_origin: true,
                },
                r#"{"type":"redirected","route":"stream","session":2,"status":307,"from":"http://a/messages/stream","to":"http://b/messages/stream","cross_origin":true}"#,
            ),
            (
                Kind::Redirected {
                    route: Route::Peek,
                    session: None,
                    status: 308,
                    from: "http://a/p".into(),
                    to: "http://a/q".into(),
                    cross_origin: false,
                },
                r#"{"type":"redirected","route":"peek","status":308,"from":"http://a/p","to":"http://a/q","cross_origin":false}"#,
            ),
            (
                Kind::ReconnectStopped {
                    session: 4,
                    reason: "204".into(),
                },
                r#"{"type":"reconnect-stopped","session":4,"reason":"204"}"#,
            ),
            (
                Kind::LastEventIdUnsent {
                    session: 5,
                    id: "a\u{7}b".into(),
                },
                r#"{"type":"last-event-id-unsent","session":5,"id":"a\u0007b"}"#,
            ),
        ];
        let wall = "2026-11-25T03:00:00Z".parse().unwrap();
        for (kind, json) in cases {
            let obs = Observation::new(Mono(7), wall, kind);
            let line = format!(r#"{{"t":7,"wall":"2026-11-25T03:00:00Z",{}"#, &json[1..]);
            assert_eq!(serde_json::to_string(&obs).unwrap(), line);
            assert_eq!(serde_json::from_str::<Observation>(&line).unwrap(), obs);
        }
        assert_eq!(serde_json::to_string(&Route::Probe).unwrap(), r#""probe""#);
    }

    #[test]
    fn mono_arithmetic_saturates() {
        assert_eq!(Mono(5).since(Mono(9)), Duration::ZERO);
        assert_eq!(
            Mono::from_millis(1500).since(Mono::from_millis(500)),
            Duration::from_secs(1)
        );
        assert_eq!(Mono(3).saturating_sub(Duration::from_secs(1)), Mono::ZERO);
    }
}
