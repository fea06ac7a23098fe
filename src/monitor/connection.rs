//! The stream connection state machine and the history of its sessions.
//!
//! idle → connecting → open → closed → waiting-to-retry(deadline) → connecting → …
//! A session is one HTTP request of the stream; its record keeps what a diagnosis needs to judge
//! it (status, how long it lived, what it carried, how it ended).

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::ring::Ring;
use crate::observation::{CloseReason, Mono, NetErrorClass};

/// Sessions remembered in detail; older ones only count.
pub const SESSION_HISTORY: usize = 512;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ConnState {
    /// Nothing attempted yet.
    Idle,
    Connecting {
        session: u64,
        since: Mono,
    },
    Open {
        session: u64,
        since: Mono,
    },
    /// The last session ended and no retry is scheduled (yet).
    Closed {
        since: Mono,
        why: String,
    },
    WaitingToRetry {
        until: Mono,
        why: String,
    },
}

impl ConnState {
    pub fn label(&self) -> &'static str {
        match self {
            ConnState::Idle => "idle",
            ConnState::Connecting { .. } => "connecting",
            ConnState::Open { .. } => "open",
            ConnState::Closed { .. } => "closed",
            ConnState::WaitingToRetry { .. } => "waiting to retry",
        }
    }
}

/// One stream session, from its attempt to its end.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub id: u64,
    pub attempted: Mono,
    pub attempted_wall: DateTime<Utc>,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub ttfb_ms: Option<u64>,
    /// When the response was accepted as an event stream.
    pub opened: Option<Mono>,
    pub ended: Option<Mono>,
    pub ended_wall: Option<DateTime<Utc>>,
    pub end: Option<SessionEnd>,
    pub events: u64,
    pub heartbeats: u64,
    pub messages: u64,
    pub comments: u64,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SessionEnd {
    Closed(CloseReason),
    Failed { class: NetErrorClass, error: String },
}

impl SessionEnd {
    pub fn label(&self) -> String {
        match self {
            SessionEnd::Closed(reason) => reason.label(),
            SessionEnd::Failed { class, error } => format!("{}: {error}", class.label()),
        }
    }
}

impl Session {
    /// How long the stream was open: from acceptance to end (or to `now` while open).
    pub fn open_for(&self, now: Mono) -> Option<Duration> {
        let opened = self.opened?;
        Some(self.ended.unwrap_or(now).since(opened))
    }
}

/// Whether a response is an event stream the source will read.
pub fn is_event_stream(status: u16, content_type: Option<&str>) -> bool {
    (200..300).contains(&status)
        && content_type.is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Connection {
    pub state: ConnState,
    pub sessions: Ring<Session>,
    /// Sessions that reached `open`.
    pub opened_total: u64,
    /// The last session that ended, kept even when the history ring has moved on.
    pub previous_open_for: Option<Duration>,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            state: ConnState::Idle,
            sessions: Ring::new(SESSION_HISTORY),
            opened_total: 0,
            previous_open_for: None,
        }
    }
}

impl Connection {
    /// Attempts so far (every session, including those that never opened).
    pub fn attempts(&self) -> u64 {
        self.sessions.total()
    }

    /// Attempts after the first.
    pub fn reconnects(&self) -> u64 {
        self.attempts().saturating_sub(1)
    }

    pub fn current(&self) -> Option<&Session> {
        self.sessions.last()
    }

    /// The session `id`, if it is the current one (observations about older sessions are late
    /// and change nothing).
    fn current_mut(&mut self, id: u64) -> Option<&mut Session> {
        self.sessions.last_mut().filter(|s| s.id == id)
    }

    pub fn attempt(&mut self, id: u64, t: Mono, wall: DateTime<Utc>) {
        self.sessions.push(Session {
            id,
            attempted: t,
            attempted_wall: wall,
            status: None,
            content_type: None,
            content_encoding: None,
            ttfb_ms: None,
            opened: None,
            ended: None,
            ended_wall: None,
            end: None,
            events: 0,
            heartbeats: 0,
            messages: 0,
            comments: 0,
        });
        self.state = ConnState::Connecting {
            session: id,
            since: t,
        };
    }

    pub fn response(
        &mut self,
        id: u64,
        t: Mono,
        status: u16,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        ttfb_ms: u64,
    ) {
        let Some(s) = self.current_mut(id) else {
            return;
        };
        s.status = Some(status);
        s.content_type = content_type.map(str::to_owned);
        s.content_encoding = content_encoding.map(str::to_owned);
        s.ttfb_ms = Some(ttfb_ms);
        if is_event_stream(status, content_type) {
            s.opened = Some(t);
            self.opened_total += 1;
            self.state = ConnState::Open {
                session: id,
                since: t,
            };
        }
    }

    /// Counts an event (or comment) against its session; returns whether it was current.
    pub fn count(&mut self, id: u64, heartbeat: bool, message: bool, comment: bool) {
        if let Some(s) = self.current_mut(id) {
            if comment {
                s.comments += 1;
            } else {
                s.events += 1;
                s.heartbeats += u64::from(heartbeat);
                s.messages += u64::from(message);
            }
        }
    }

    pub fn end(&mut self, id: u64, t: Mono, wall: DateTime<Utc>, end: SessionEnd) {
        let why = end.label();
        let Some(s) = self.current_mut(id) else {
            return;
        };
        if s.end.is_some() {
            return;
        }
        s.ended = Some(t);
        s.ended_wall = Some(wall);
        s.end = Some(end);
        if let Some(open_for) = s.open_for(t) {
            self.previous_open_for = Some(open_for);
        }
        self.state = ConnState::Closed { since: t, why };
    }

    pub fn retry_scheduled(&mut self, t: Mono, delay: Duration, why: String) {
        self.state = ConnState::WaitingToRetry {
            until: t.plus(delay),
            why,
        };
    }

    /// The source stopped reconnecting (the server said stop): closed, for `why`, until a new
    /// attempt.
    pub fn stopped(&mut self, t: Mono, why: String) {
        let since = match self.state {
            ConnState::Closed { since, .. } => since,
            _ => t,
        };
        self.state = ConnState::Closed { since, why };
    }

    /// How long the current session has been open, if it is.
    pub fn uptime(&self, now: Mono) -> Option<Duration> {
        match self.state {
            ConnState::Open { since, .. } => Some(now.since(since)),
            _ => None,
        }
    }

    /// Sessions that ended, oldest first (within the history).
    pub fn ended_sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.iter().filter(|s| s.end.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall() -> DateTime<Utc> {
        "2026-11-25T03:00:00Z".parse().unwrap()
    }

    #[test]
    fn walks_through_a_session_and_a_retry() {
        let mut c = Connection::default();
        assert_eq!(c.state, ConnState::Idle);
        c.attempt(1, Mono::from_millis(0), wall());
        assert_eq!(c.state.label(), "connecting");
        c.response(
            1,
            Mono::from_millis(40),
            200,
            Some("text/event-stream; charset=utf-8"),
            None,
            40,
        );
        assert_eq!(c.state.label(), "open");
        assert_eq!(
            c.uptime(Mono::from_millis(1040)),
            Some(Duration::from_secs(1))
        );
        c.count(1, true, false, false);
        c.end(
            1,
            Mono::from_millis(1540),
            wall(),
            SessionEnd::Closed(CloseReason::Eof),
        );
        assert_eq!(c.previous_open_for, Some(Duration::from_millis(1500)));
        c.retry_scheduled(
            Mono::from_millis(1540),
            Duration::from_secs(2),
            "backoff".into(),
        );
        assert_eq!(
            c.state,
            ConnState::WaitingToRetry {
                until: Mono::from_millis(3540),
                why: "backoff".into()
            }
        );
        c.attempt(2, Mono::from_millis(3540), wall());
        assert_eq!((c.attempts(), c.reconnects(), c.opened_total), (2, 1, 1));
        assert_eq!(c.sessions.get(0).unwrap().heartbeats, 1);
    }

    #[test]
    fn a_401_does_not_open_and_late_observations_are_ignored() {
        let mut c = Connection::default();
        c.attempt(1, Mono::ZERO, wall());
        c.response(
            1,
            Mono::from_millis(5),
            401,
            Some("application/json"),
            None,
            5,
        );
        assert_eq!(c.state.label(), "connecting");
        c.attempt(2, Mono::from_millis(10), wall());
        c.count(1, true, false, false); // late event of session 1
        c.end(
            1,
            Mono::from_millis(11),
            wall(),
            SessionEnd::Closed(CloseReason::Eof),
        );
        assert_eq!(c.current().unwrap().events, 0);
        assert_eq!(c.state.label(), "connecting");
        assert_eq!(c.opened_total, 0);
    }

    #[test]
    fn only_event_stream_content_types_open() {
        assert!(is_event_stream(200, Some("text/event-stream")));
        assert!(is_event_stream(
            200,
            Some("Text/Event-Stream;charset=utf-8")
        ));
        assert!(!is_event_stream(200, Some("text/html")));
        assert!(!is_event_stream(200, None));
        assert!(!is_event_stream(503, Some("text/event-stream")));
    }
}
