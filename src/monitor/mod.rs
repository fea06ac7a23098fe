//! The model: everything inboxtop knows, built only from observations.
//!
//! `Monitor::apply` is pure — no IO, no clock reads: time is whatever the observations say. The same
//! sequence of observations (live, or from a recording) always yields the same state and findings.

use std::fmt::Write as _;
pub mod connection;
pub(crate) mod diagnosis;
pub(crate) mod inbox;
pub(crate) mod intervals;
pub(crate) mod log;
pub(crate) mod probe;
pub mod rate;
pub(crate) mod ring;
pub mod verdict;

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::observation::{CloseReason, Kind, Mono, NetErrorClass, Observation, Route};
use crate::wire::{self, ApiError, WireMessage, truncate_chars};
use connection::{Connection, SessionEnd, is_event_stream};
pub use diagnosis::{Finding, FindingKind, Severity, Thresholds};
use inbox::{Inbox, Sighting};
use log::{EntryKind, EventLog};
use rate::{Heartbeat, HeartbeatRate};
use ring::Ring;
pub use verdict::{Judgement, Verdict};

/// Incidents of each kind remembered in detail (counts stay exact).
pub const INCIDENT_HISTORY: usize = 256;

/// Which request an HTTP or network error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Channel {
    Stream,
    Poll,
}

impl Channel {
    pub fn label(self) -> &'static str {
        match self {
            Channel::Stream => "stream",
            Channel::Poll => "poll",
        }
    }
}

/// A non-2xx answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HttpError {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub channel: Channel,
    pub status: u16,
    pub error: Option<ApiError>,
    pub retry_after_ms: Option<u64>,
}

/// A request that got no HTTP answer at all.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetError {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub channel: Channel,
    pub class: NetErrorClass,
    pub error: String,
}

/// An event whose data could not be read as what its type promises.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Malformed {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub session: u64,
    pub event: String,
    pub reason: String,
}

/// A line skipped for being over the size limit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Oversized {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub session: u64,
    pub bytes: u64,
    pub limit: u64,
}

/// A redirect that was followed (one hop).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Redirect {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub route: Route,
    /// The stream session (stream redirects only).
    pub session: Option<u64>,
    pub status: u16,
    /// URLs as the source shows them (no userinfo, key masked); untrusted, cut to
    /// [`log::MAX_FIELD_CHARS`].
    pub from: String,
    pub to: String,
    /// The hop left the base URL's origin: the key and the agent header were not sent there.
    pub cross_origin: bool,
}

/// The server said stop (a 204 to the stream request) and the stream source stopped
/// reconnecting until asked to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stop {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub session: u64,
    pub reason: String,
}

/// A last event id that could not be sent back as `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnsentId {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub session: u64,
    /// Untrusted, cut to [`log::MAX_FIELD_CHARS`].
    pub id: String,
}

/// An event whose data is itself SSE framing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NestedFrame {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub session: u64,
    pub event: String,
    /// The start of the data (untrusted, cut to [`NESTED_EXAMPLE_CHARS`]).
    pub example: String,
}

/// Characters of a nested frame's data kept as an example.
pub const NESTED_EXAMPLE_CHARS: usize = 160;

/// A peek that failed, whatever the reason.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PollFailure {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub status: Option<u16>,
    pub class: Option<NetErrorClass>,
    pub error: String,
    pub api_error: Option<ApiError>,
}

impl PollFailure {
    /// The server answered, but not with an inbox that can be read: an error status, an error
    /// envelope, a body that is not JSON or not a message list.
    pub fn answered(&self) -> bool {
        self.status.is_some() || self.class == Some(NetErrorClass::Body)
    }
}

/// Everything known, built by [`Monitor::apply`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Monitor {
    pub thresholds: Thresholds,
    /// Time of the newest observation.
    pub now: Mono,
    pub now_wall: DateTime<Utc>,
    /// Wall time of the first observation.
    pub started_wall: Option<DateTime<Utc>>,
    pub connection: Connection,
    pub heartbeats: HeartbeatRate,
    pub log: EventLog,
    pub inbox: Inbox,
    /// When the first stream session opened: messages created before could not be streamed to us.
    pub first_open_wall: Option<DateTime<Utc>>,
    pub http_errors: Ring<HttpError>,
    pub net_errors: Ring<NetError>,
    pub malformed: Ring<Malformed>,
    pub oversized: Ring<Oversized>,
    pub redirects: Ring<Redirect>,
    pub stops: Ring<Stop>,
    pub unsent_ids: Ring<UnsentId>,
    pub nested_frames: Ring<NestedFrame>,
    /// Failed peeks (the total counts every one).
    pub poll_failures: Ring<PollFailure>,
    pub last_poll: Option<Sighting>,
    /// Probe messages sent to the agent itself, and their round trips.
    pub probes: probe::Probes,
    /// `retry:` values the server sent (the last one).
    pub server_retry_ms: Option<u64>,
    /// SSE events and comment lines ever received (exact).
    pub events_total: u64,
    pub comments_total: u64,
    pub observations: u64,
}

impl Monitor {
    pub fn new(thresholds: Thresholds) -> Self {
        Monitor {
            thresholds,
            now: Mono::ZERO,
            now_wall: DateTime::UNIX_EPOCH,
            started_wall: None,
            connection: Connection::default(),
            heartbeats: HeartbeatRate::default(),
            log: EventLog::default(),
            inbox: Inbox::default(),
            first_open_wall: None,
            http_errors: Ring::new(INCIDENT_HISTORY),
            net_errors: Ring::new(INCIDENT_HISTORY),
            malformed: Ring::new(INCIDENT_HISTORY),
            oversized: Ring::new(INCIDENT_HISTORY),
            redirects: Ring::new(INCIDENT_HISTORY),
            stops: Ring::new(INCIDENT_HISTORY),
            unsent_ids: Ring::new(INCIDENT_HISTORY),
            nested_frames: Ring::new(INCIDENT_HISTORY),
            poll_failures: Ring::new(INCIDENT_HISTORY),
            last_poll: None,
            probes: probe::Probes::default(),
            server_retry_ms: None,
            events_total: 0,
            comments_total: 0,
            observations: 0,
        }
    }

    /// How long the monitor has been observing.
    pub fn elapsed(&self) -> Duration {
        self.now.as_duration()
    }

    /// The wall time of monotonic instant `t` (at or before the newest observation), reckoned
    /// back from the newest observation's wall time.
    pub fn wall_at(&self, t: Mono) -> DateTime<Utc> {
        chrono::Duration::from_std(self.now.since(t))
            .ok()
            .and_then(|back| self.now_wall.checked_sub_signed(back))
            .unwrap_or(self.now_wall)
    }

    /// Folds one observation into the state.
    pub fn apply(&mut self, obs: &Observation) {
        self.advance_to(obs);
        let at = Sighting {
            t: obs.t,
            wall: obs.wall,
        };
        match &obs.kind {
            Kind::ConnectAttempt {
                session,
                last_event_id,
            } => self.on_connect_attempt(at, *session, last_event_id.as_deref()),
            Kind::StreamResponse {
                session,
                status,
                content_type,
                content_encoding,
                ttfb_ms,
                retry_after_ms,
                error,
                headers: _,
            } => self.on_stream_response(
                at,
                StreamAnswer {
                    session: *session,
                    status: *status,
                    content_type: content_type.as_deref(),
                    content_encoding: content_encoding.as_deref(),
                    ttfb_ms: *ttfb_ms,
                    retry_after_ms: *retry_after_ms,
                    error: error.as_ref(),
                },
            ),
            Kind::ConnectFailed {
                session,
                class,
                error,
            } => self.on_connect_failed(at, *session, *class, error),
            Kind::SseEvent {
                session,
                event,
                id,
                data,
                retry_ms,
            } => self.on_event(at, *session, event, id.as_deref(), data, *retry_ms),
            Kind::SseComment { session, text } => self.on_comment(at, *session, text),
            Kind::OversizedEvent {
                session,
                bytes,
                limit,
            } => self.on_oversized(at, *session, *bytes, *limit),
            Kind::StreamClosed { session, reason } => self.on_stream_closed(at, *session, reason),
            Kind::RetryScheduled { delay_ms, reason } => {
                self.on_retry_scheduled(at, Duration::from_millis(*delay_ms), reason);
            }
            Kind::PollOk { messages, .. } => self.on_poll_ok(at, messages),
            Kind::PollFailed {
                status,
                class,
                error,
                api_error,
                elapsed_ms: _,
            } => self.on_poll_failed(at, *status, *class, error, api_error.as_ref()),
            Kind::LastEventIdUnsent { session, id } => self.on_unsent_id(at, *session, id),
            Kind::Redirected {
                route,
                session,
                status,
                from,
                to,
                cross_origin,
            } => self.on_redirected(
                at,
                Redirect {
                    t: at.t,
                    wall: at.wall,
                    route: *route,
                    session: *session,
                    status: *status,
                    from: truncate_chars(from, log::MAX_FIELD_CHARS),
                    to: truncate_chars(to, log::MAX_FIELD_CHARS),
                    cross_origin: *cross_origin,
                },
            ),
            Kind::ReconnectStopped { session, reason } => {
                self.on_reconnect_stopped(at, *session, reason);
            }
            Kind::ProbeSent { id, post_ms, .. } => self.on_probe_sent(at, id.as_deref(), *post_ms),
            Kind::Tick => {}
        }
        self.probes.settle(&self.inbox);
    }

    /// A probe left `post_ms` before `at` (or could not be sent: no id to follow).
    fn on_probe_sent(&mut self, at: Sighting, id: Option<&str>, post_ms: u64) {
        let Some(id) = id else {
            self.probes.failed += 1;
            return;
        };
        let back = Duration::from_millis(post_ms);
        let sent = at.t.saturating_sub(back);
        let sent_wall = at.wall - chrono::Duration::from_std(back).unwrap_or_default();
        self.probes.on_sent(id, sent, sent_wall, &self.inbox);
    }

    /// Time is whatever the newest observation says; late observations never move it back.
    fn advance_to(&mut self, obs: &Observation) {
        self.observations += 1;
        self.now = self.now.max(obs.t);
        self.now_wall = self.now_wall.max(obs.wall);
        self.started_wall.get_or_insert(obs.wall);
        self.heartbeats.advance_to(self.now);
    }

    fn on_connect_attempt(&mut self, at: Sighting, session: u64, last_event_id: Option<&str>) {
        self.connection.attempt(session, at.t, at.wall);
        let detail = last_event_id
            .map(|id| format!("Last-Event-ID: {id}"))
            .unwrap_or_default();
        self.lifecycle(at, session, "connect", &detail);
    }

    fn on_stream_response(&mut self, at: Sighting, answer: StreamAnswer) {
        let (session, status) = (answer.session, answer.status);
        self.connection.response(
            session,
            at.t,
            status,
            answer.content_type,
            answer.content_encoding,
            answer.ttfb_ms,
        );
        if is_event_stream(status, answer.content_type) {
            self.first_open_wall.get_or_insert(at.wall);
        } else if !(200..300).contains(&status) {
            self.http_errors.push(HttpError {
                t: at.t,
                wall: at.wall,
                channel: Channel::Stream,
                status,
                error: answer.error.cloned(),
                retry_after_ms: answer.retry_after_ms,
            });
        }
        self.lifecycle(at, session, "response", &answer.describe());
    }

    fn on_connect_failed(&mut self, at: Sighting, session: u64, class: NetErrorClass, error: &str) {
        self.net_errors.push(NetError {
            t: at.t,
            wall: at.wall,
            channel: Channel::Stream,
            class,
            error: error.to_owned(),
        });
        let end = SessionEnd::Failed {
            class,
            error: error.to_owned(),
        };
        self.lifecycle(at, session, "failed", &end.label());
        self.connection.end(session, at.t, at.wall, end);
    }

    fn on_comment(&mut self, at: Sighting, session: u64, text: &str) {
        self.comments_total += 1;
        self.connection.count(session, false, false, true);
        self.log
            .push(at.t, at.wall, session, EntryKind::Comment, ":", None, text);
    }

    fn on_oversized(&mut self, at: Sighting, session: u64, bytes: u64, limit: u64) {
        self.oversized.push(Oversized {
            t: at.t,
            wall: at.wall,
            session,
            bytes,
            limit,
        });
        let detail = format!("skipped a {bytes}-byte line (limit {limit})");
        self.lifecycle(at, session, "oversized", &detail);
    }

    fn on_stream_closed(&mut self, at: Sighting, session: u64, reason: &CloseReason) {
        self.lifecycle(at, session, "closed", &reason.label());
        self.connection
            .end(session, at.t, at.wall, SessionEnd::Closed(reason.clone()));
    }

    fn on_retry_scheduled(&mut self, at: Sighting, delay: Duration, reason: &str) {
        let session = self.connection.current().map_or(0, |s| s.id);
        let detail = format!("retry in {:.1} s ({reason})", delay.as_secs_f64());
        self.lifecycle(at, session, "retry", &detail);
        self.connection
            .retry_scheduled(at.t, delay, reason.to_owned());
    }

    fn on_unsent_id(&mut self, at: Sighting, session: u64, id: &str) {
        let detail = format!("Last-Event-ID {id:?} not sendable in a header");
        self.lifecycle(at, session, "resume-lost", &detail);
        self.unsent_ids.push(UnsentId {
            t: at.t,
            wall: at.wall,
            session,
            id: truncate_chars(id, log::MAX_FIELD_CHARS),
        });
    }

    fn on_redirected(&mut self, at: Sighting, hop: Redirect) {
        let detail = format!(
            "{} {}: {} → {}",
            hop.route.label(),
            hop.status,
            hop.from,
            hop.to
        );
        self.lifecycle(at, hop.session.unwrap_or(0), "redirect", &detail);
        self.redirects.push(hop);
    }

    /// The source waits for a reconnect by hand: the state says so until it does.
    fn on_reconnect_stopped(&mut self, at: Sighting, session: u64, reason: &str) {
        self.lifecycle(at, session, "stopped", reason);
        self.connection.stopped(at.t, reason.to_owned());
        self.stops.push(Stop {
            t: at.t,
            wall: at.wall,
            session,
            reason: truncate_chars(reason, log::MAX_DATA_CHARS),
        });
    }

    fn on_poll_ok(&mut self, at: Sighting, messages: &[WireMessage]) {
        self.inbox.on_poll(messages, at, self.first_open_wall);
        self.last_poll = Some(at);
    }

    /// A failed peek: an HTTP error when the server answered with an error status, a network
    /// error when it did not answer at all (an unreadable answer is neither).
    fn on_poll_failed(
        &mut self,
        at: Sighting,
        status: Option<u16>,
        class: Option<NetErrorClass>,
        error: &str,
        api_error: Option<&ApiError>,
    ) {
        let failure = PollFailure {
            t: at.t,
            wall: at.wall,
            status,
            class,
            error: truncate_chars(error, log::MAX_DATA_CHARS),
            api_error: api_error.cloned(),
        };
        match status {
            Some(status) => self.http_errors.push(HttpError {
                t: at.t,
                wall: at.wall,
                channel: Channel::Poll,
                status,
                error: api_error.cloned(),
                retry_after_ms: api_error.and_then(|e| e.retry_after_ms),
            }),
            // Answered, but unreadable: a poll failure only, neither HTTP nor network error.
            None if failure.answered() => {}
            None => self.net_errors.push(NetError {
                t: at.t,
                wall: at.wall,
                channel: Channel::Poll,
                class: class.unwrap_or(NetErrorClass::Other),
                error: error.to_owned(),
            }),
        }
        self.poll_failures.push(failure);
    }

    fn lifecycle(&mut self, at: Sighting, session: u64, tag: &str, detail: &str) {
        self.log.push(
            at.t,
            at.wall,
            session,
            EntryKind::Lifecycle,
            tag,
            None,
            detail,
        );
    }

    fn on_event(
        &mut self,
        at: Sighting,
        session: u64,
        event: &str,
        id: Option<&str>,
        data: &str,
        retry_ms: Option<u64>,
    ) {
        if retry_ms.is_some() {
            self.server_retry_ms = retry_ms;
        }
        let heartbeat = event.eq_ignore_ascii_case("heartbeat");
        let message = event.eq_ignore_ascii_case("message");
        self.events_total += 1;
        self.connection.count(session, heartbeat, message, false);
        self.log
            .push(at.t, at.wall, session, EntryKind::Event, event, id, data);
        if is_nested_frame(data) {
            self.nested_frames.push(NestedFrame {
                t: at.t,
                wall: at.wall,
                session,
                event: truncate_chars(event, log::MAX_FIELD_CHARS),
                example: truncate_chars(data, NESTED_EXAMPLE_CHARS),
            });
        }
        if heartbeat {
            self.heartbeats.record(Heartbeat {
                t: at.t,
                wall: at.wall,
                session,
                sent: wire::heartbeat_timestamp(data),
            });
        } else if message {
            match read_stream_message(id, data) {
                Ok(m) => self.inbox.on_stream(&m, at, session),
                Err(reason) => self.malformed.push(Malformed {
                    t: at.t,
                    wall: at.wall,
                    session,
                    event: event.to_owned(),
                    reason,
                }),
            }
        }
    }

    /// Every finding the detectors make of the current state, most severe first.
    pub fn findings(&self) -> Vec<Finding> {
        diagnosis::diagnose(self)
    }

    /// The exact counters a report or the header shows.
    pub fn stats(&self) -> Stats {
        Stats {
            elapsed_s: self.elapsed().as_secs_f64(),
            sessions: self.connection.attempts(),
            sessions_opened: self.connection.opened_total,
            reconnects: self.connection.reconnects(),
            heartbeats: self.heartbeats.total(),
            events: self.events_total,
            comments: self.comments_total,
            messages_streamed: self.inbox.streamed_total,
            stream_duplicates: self.inbox.stream_duplicates,
            messages_polled: self.inbox.polled_total,
            messages_only_polled: self.inbox.only_polled().count() as u64,
            polls: self.inbox.polls,
            polls_failed: self.poll_failures.total(),
            http_errors: self.http_errors.total(),
            network_errors: self.net_errors.total(),
            malformed_events: self.malformed.total(),
            oversized_events: self.oversized.total(),
            probes_sent: self.probes.sent(),
            probe_stream_round_trips: self.probes.stream_round_trips(),
            probe_peek_round_trips: self.probes.poll_round_trips(),
        }
    }
}

/// Whether event data is itself SSE framing: a line of it starts with a field name, as when a
/// server wraps already-framed events in a second `data:` frame.
fn is_nested_frame(data: &str) -> bool {
    data.lines().any(|line| {
        ["data:", "event:", "id:"]
            .iter()
            .any(|field| line.starts_with(field))
    })
}

/// A stream `message` event read as a message. The SSE `id:` fills in a payload without an id.
fn read_stream_message(id: Option<&str>, data: &str) -> Result<WireMessage, String> {
    let mut m = WireMessage::from_json_text(data)
        .map_err(|e| format!("data is not JSON: {e}"))?
        .ok_or_else(|| "JSON is not a message (no id, no content)".to_string())?;
    if m.id.is_none() {
        m.id = id.map(str::to_owned);
    }
    Ok(m)
}

/// The stream's answer, borrowed from its observation.
#[derive(Clone, Copy)]
struct StreamAnswer<'a> {
    session: u64,
    status: u16,
    content_type: Option<&'a str>,
    content_encoding: Option<&'a str>,
    ttfb_ms: u64,
    retry_after_ms: Option<u64>,
    error: Option<&'a ApiError>,
}

impl StreamAnswer<'_> {
    /// The event log's line: status, content type, timing, and what an error said.
    fn describe(&self) -> String {
        let mut detail = format!(
            "{} {} in {} ms",
            self.status,
            self.content_type.unwrap_or("(no content-type)"),
            self.ttfb_ms
        );
        if let Some(enc) = self.content_encoding {
            let _ = write!(detail, ", content-encoding: {enc}");
        }
        if let Some(e) = self.error {
            let _ = write!(detail, " — {}", e.summary());
        }
        detail
    }
}

/// Exact counters over the whole run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    pub elapsed_s: f64,
    pub sessions: u64,
    pub sessions_opened: u64,
    pub reconnects: u64,
    pub heartbeats: u64,
    pub events: u64,
    pub comments: u64,
    pub messages_streamed: u64,
    pub stream_duplicates: u64,
    pub messages_polled: u64,
    pub messages_only_polled: u64,
    pub polls: u64,
    pub polls_failed: u64,
    pub http_errors: u64,
    pub network_errors: u64,
    pub malformed_events: u64,
    pub oversized_events: u64,
    pub probes_sent: u64,
    /// Probe round trips (real milliseconds as measured).
    pub probe_stream_round_trips: probe::RoundTrips,
    pub probe_peek_round_trips: probe::RoundTrips,
}
