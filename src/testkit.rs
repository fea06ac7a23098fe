//! The one kit for synthetic timelines: observations with made-up times fed to a [`Monitor`].
//!
//! Unit tests, the integration tests in `tests/` (through the `testkit` cargo feature) and the UI
//! tests all build their timelines here, so a detector, a pane and an edge case are all judged on
//! the same kind of input. No network and no sleeps: time is whatever the observations say.

use chrono::{DateTime, Utc};

use crate::monitor::{Finding, FindingKind, Monitor, Severity, Thresholds};
use crate::observation::{CloseReason, Kind, Mono, NetErrorClass, Observation, Route};
use crate::wire::{ApiError, WireMessage};

/// The wall-clock origin of every synthetic timeline.
pub const BASE_WALL: &str = "2026-11-25T03:00:00Z";

/// A synthetic timeline. Every time given to a method is in *simulated* milliseconds; `scale`
/// compresses them (simulated ms × 1000 / scale = monotonic µs), and wall = [`BASE_WALL`] + that.
pub struct Timeline {
    pub m: Monitor,
    base_wall: DateTime<Utc>,
    scale: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}

impl Timeline {
    pub fn new() -> Self {
        Timeline::with(Thresholds::default(), 1)
    }

    /// A timeline judged with `thresholds`, its times compressed `scale` times.
    pub fn with(thresholds: Thresholds, scale: u64) -> Self {
        Timeline {
            m: Monitor::new(thresholds),
            base_wall: BASE_WALL.parse().expect("BASE_WALL is RFC 3339"),
            scale: scale.max(1),
        }
    }

    /// The monotonic microseconds of simulated millisecond `ms`.
    pub fn us(&self, ms: u64) -> u64 {
        ms * 1000 / self.scale
    }

    pub fn wall(&self, ms: u64) -> DateTime<Utc> {
        self.base_wall + chrono::Duration::microseconds(self.us(ms) as i64)
    }

    pub fn rfc3339(&self, ms: u64) -> String {
        self.wall(ms).to_rfc3339()
    }

    /// The observation of `kind` at `ms`, without applying it (for feeding an app or a recorder).
    pub fn observation(&self, ms: u64, kind: Kind) -> Observation {
        Observation::new(Mono(self.us(ms)), self.wall(ms), kind)
    }

    pub fn at(&mut self, ms: u64, kind: Kind) -> &mut Self {
        let obs = self.observation(ms, kind);
        self.m.apply(&obs);
        self
    }

    pub fn attempt(&mut self, ms: u64, session: u64) -> &mut Self {
        self.at(
            ms,
            Kind::ConnectAttempt {
                session,
                last_event_id: None,
            },
        )
    }

    pub fn respond(
        &mut self,
        ms: u64,
        session: u64,
        status: u16,
        content_type: &str,
        encoding: Option<&str>,
        error: Option<ApiError>,
    ) -> &mut Self {
        self.at(
            ms,
            Kind::StreamResponse {
                session,
                status,
                content_type: Some(content_type.into()),
                content_encoding: encoding.map(Into::into),
                ttfb_ms: 3,
                retry_after_ms: None,
                headers: vec![],
                error,
            },
        )
    }

    /// A connect attempt answered 200 text/event-stream at the same instant.
    pub fn open(&mut self, ms: u64, session: u64) -> &mut Self {
        self.attempt(ms, session)
            .respond(ms, session, 200, "text/event-stream", None, None)
    }

    /// A connect attempt answered with a non-2xx status and an error envelope carrying `code`.
    pub fn http(&mut self, ms: u64, session: u64, status: u16, code: &str) -> &mut Self {
        let error = ApiError {
            code: Some(code.into()),
            message: Some("nope".into()),
            ..ApiError::default()
        };
        self.attempt(ms, session).respond(
            ms,
            session,
            status,
            "application/json",
            None,
            Some(error),
        )
    }

    /// A connect attempt answered 204 No Content: the session closes and the source stops
    /// reconnecting, as the stream source reports it.
    pub fn stop(&mut self, ms: u64, session: u64) -> &mut Self {
        self.attempt(ms, session)
            .at(
                ms,
                Kind::StreamResponse {
                    session,
                    status: 204,
                    content_type: None,
                    content_encoding: None,
                    ttfb_ms: 3,
                    retry_after_ms: None,
                    headers: vec![],
                    error: None,
                },
            )
            .close(
                ms,
                session,
                CloseReason::Rejected {
                    detail: "204 No Content".into(),
                },
            )
            .at(
                ms,
                Kind::ReconnectStopped {
                    session,
                    reason: "204 No Content: the server said stop reconnecting".into(),
                },
            )
    }

    /// A redirect of `route` followed from `from` to `to`.
    #[allow(clippy::too_many_arguments)]
    pub fn redirect(
        &mut self,
        ms: u64,
        route: Route,
        session: Option<u64>,
        status: u16,
        from: &str,
        to: &str,
        cross_origin: bool,
    ) -> &mut Self {
        self.at(
            ms,
            Kind::Redirected {
                route,
                session,
                status,
                from: from.into(),
                to: to.into(),
                cross_origin,
            },
        )
    }

    /// A failed peek: answered `status` with an envelope carrying `code`, or (no status) failed
    /// for `class`.
    pub fn poll_failed(
        &mut self,
        ms: u64,
        status: Option<u16>,
        class: Option<NetErrorClass>,
        code: &str,
    ) -> &mut Self {
        let api_error = status.map(|_| ApiError {
            code: Some(code.into()),
            message: Some("nope".into()),
            ..ApiError::default()
        });
        self.at(
            ms,
            Kind::PollFailed {
                elapsed_ms: 4,
                status,
                class,
                error: format!("peek failed: {code}"),
                api_error,
            },
        )
    }

    /// A connect attempt that got no HTTP answer.
    pub fn net_error(&mut self, ms: u64, session: u64, class: NetErrorClass) -> &mut Self {
        self.attempt(ms, session).at(
            ms,
            Kind::ConnectFailed {
                session,
                class,
                error: class.label().into(),
            },
        )
    }

    pub fn event(
        &mut self,
        ms: u64,
        session: u64,
        event: &str,
        id: Option<&str>,
        data: String,
    ) -> &mut Self {
        self.at(
            ms,
            Kind::SseEvent {
                session,
                event: event.into(),
                id: id.map(Into::into),
                data,
                retry_ms: None,
            },
        )
    }

    /// A heartbeat received at `ms` whose payload says it was sent at `sent_ms`.
    pub fn heartbeat(&mut self, ms: u64, session: u64, sent_ms: u64) -> &mut Self {
        let data = format!("{{\"timestamp\":\"{}\"}}", self.rfc3339(sent_ms));
        self.event(ms, session, "heartbeat", None, data)
    }

    /// A keep-alive comment line.
    pub fn comment(&mut self, ms: u64, session: u64) -> &mut Self {
        self.at(
            ms,
            Kind::SseComment {
                session,
                text: "keep-alive".into(),
            },
        )
    }

    /// A message event received at `ms`, created at `created_ms`.
    pub fn message(&mut self, ms: u64, session: u64, id: &str, created_ms: u64) -> &mut Self {
        let data = serde_json::json!({
            "messageId": id,
            "fromAgentId": "agent-a",
            "content": "hello",
            "createdAt": self.rfc3339(created_ms),
        })
        .to_string();
        self.event(ms, session, "message", Some(id), data)
    }

    /// `message` on the stream, with its sender and content.
    pub fn stream_message(&mut self, ms: u64, session: u64, message: &WireMessage) -> &mut Self {
        let data = serde_json::json!({
            "messageId": message.id,
            "from": message.from,
            "content": message.content,
            "createdAt": message.created_at,
        })
        .to_string();
        self.event(ms, session, "message", message.id.as_deref(), data)
    }

    /// A peek message `id` from `from`, created at simulated ms `created_ms`.
    pub fn wire_message(
        &self,
        id: &str,
        from: &str,
        content: &str,
        created_ms: u64,
    ) -> WireMessage {
        WireMessage {
            id: Some(id.into()),
            from: Some(from.into()),
            content: content.into(),
            content_len: content.len(),
            created_at: Some(self.wall(created_ms)),
            ..WireMessage::default()
        }
    }

    /// A successful peek listing `(id, created_ms)` messages.
    pub fn poll(&mut self, ms: u64, messages: &[(&str, u64)]) -> &mut Self {
        let messages = messages
            .iter()
            .map(|(id, created)| self.wire_message(id, "agent-a", "hello", *created))
            .collect();
        self.poll_messages(ms, messages)
    }

    /// A successful peek listing exactly `messages`.
    pub fn poll_messages(&mut self, ms: u64, messages: Vec<WireMessage>) -> &mut Self {
        self.at(
            ms,
            Kind::PollOk {
                elapsed_ms: 4,
                messages,
                unreadable: 0,
            },
        )
    }

    pub fn close(&mut self, ms: u64, session: u64, reason: CloseReason) -> &mut Self {
        self.at(ms, Kind::StreamClosed { session, reason })
    }

    pub fn tick(&mut self, ms: u64) -> &mut Self {
        self.at(ms, Kind::Tick)
    }

    pub fn findings(&self) -> Vec<Finding> {
        self.m.findings()
    }

    pub fn find(&self, kind: FindingKind) -> Option<Finding> {
        self.findings().into_iter().find(|f| f.kind == kind)
    }

    pub fn has(&self, kind: FindingKind) -> bool {
        self.find(kind).is_some()
    }

    pub fn severity(&self, kind: FindingKind) -> Option<Severity> {
        self.find(kind).map(|f| f.severity)
    }

    /// Warning-or-worse kinds, sorted by name.
    pub fn alarms(&self) -> Vec<FindingKind> {
        let mut k: Vec<_> = self
            .findings()
            .into_iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.kind)
            .collect();
        k.sort_by_key(|k| k.name());
        k
    }

    /// Every finding as (kind, severity), sorted by name.
    pub fn summary(&self) -> Vec<(FindingKind, Severity)> {
        let mut k: Vec<_> = self
            .findings()
            .into_iter()
            .map(|f| (f.kind, f.severity))
            .collect();
        k.sort_by_key(|(k, _)| k.name());
        k
    }
}

/// Everything a healthy minute shows: one session open, a heartbeat every 15 s, a message
/// streamed and then polled. Judged OK.
pub fn healthy_minute() -> Timeline {
    let mut t = Timeline::new();
    t.open(0, 1);
    t.message(20_000, 1, "m-1", 19_990);
    t.poll(21_000, &[("m-1", 19_990)]);
    for s in [15, 30, 45, 60] {
        t.heartbeat(s * 1000, 1, s * 1000);
    }
    t
}

/// One session taking 25 heartbeats in 1.5 s, really sent that fast: a heartbeat flood.
pub fn heartbeat_flood() -> Timeline {
    let mut t = Timeline::new();
    t.open(0, 1);
    for i in 0..25 {
        t.heartbeat(1_000 + i * 60, 1, 1_000 + i * 60);
    }
    t
}

/// The evidence labelled `key` of `f`; panics naming what is missing.
pub fn evidence<'a>(f: &'a Finding, key: &str) -> &'a serde_json::Value {
    &f.evidence
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no evidence {key} in {f:?}"))
        .1
}

/// Fixtures for the UI and app-loop tests, kept in a block of their own.
impl Timeline {
    /// The heartbeat [`Timeline::heartbeat`] would apply, as an observation to feed an app loop.
    pub fn heartbeat_observation(&self, ms: u64, session: u64, sent_ms: u64) -> Observation {
        let data = format!("{{\"timestamp\":\"{}\"}}", self.rfc3339(sent_ms));
        self.observation(
            ms,
            Kind::SseEvent {
                session,
                event: "heartbeat".into(),
                id: None,
                data,
                retry_ms: None,
            },
        )
    }
}

/// What the UI tests watch: agent `demo` on loopback, its key masked, in `mode`.
pub fn ui_target(mode: &str) -> crate::ui::Target {
    crate::ui::Target {
        base_url: "http://127.0.0.1:8765".into(),
        agent: "demo".into(),
        key_masked: "••••••ef".into(),
        mode: mode.into(),
        expected_heartbeat: (
            std::time::Duration::from_secs(15),
            std::time::Duration::from_secs(30),
        ),
        proxy: None,
        recorder_lost: None,
    }
}
