//! The stream source: one SSE session after another, each fully observed.
//!
//! A session is one call: one HTTP request, or a few when redirects are followed. Its
//! observations, in order: `ConnectAttempt` (and `LastEventIdUnsent` when the last event id cannot
//! go in a header), a `Redirected` per hop followed, then either `ConnectFailed` or
//! `StreamResponse` followed by the events, comments and oversized reports of the body and a
//! `StreamClosed`; then `RetryScheduled` and a (cancellable) sleep — or, when the server answered
//! 204 No Content, `ReconnectStopped` and a wait for `StreamCommand::ReconnectNow` (WHATWG: 204
//! means "stop reconnecting").
//!
//! Any byte of the body, a keep-alive comment included, restarts the read timeout.
//!
//! The body goes through [`EventParser`] (see [`super::lines`]): memory stays bounded whatever the
//! server sends, and invalid UTF-8 is decoded lossily (U+FFFD) instead of ending the session —
//! a monitor must keep watching a server that misbehaves, and show what it sent.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue,
};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::mpsc;

use super::backoff::{Backoff, MAX_SERVER_RETRY, RetryHint};
use super::lines::{EventParser, Item};
use super::redirect::{self, Call, Failure};
use super::{
    ERROR_BODY_LIMIT, Endpoint, StreamCommand, StreamSettings, error_chain, fmt_duration,
    header_text, http_client, http_status_text, millis, parse_retry_after, read_prefix,
    shown_headers,
};
use crate::observation::{Clock, CloseReason, Kind, Mono, NetErrorClass, Observation, Route};
use crate::wire::ApiError;

/// Spawned by the app: runs until `tx` is closed. Every observation goes through
/// `tx.send(..).await` (a bounded channel: backpressure, never drop).
pub async fn run_stream(
    endpoint: Endpoint,
    settings: StreamSettings,
    clock: Clock,
    tx: mpsc::Sender<Observation>,
    commands: mpsc::Receiver<StreamCommand>,
) {
    let mut source = StreamSource {
        client: http_client(&endpoint, settings.connect_timeout),
        backoff: Backoff::new(
            settings.backoff_initial,
            settings.backoff_cap,
            fastrand::Rng::new(),
        ),
        endpoint,
        settings,
        clock,
        tx,
        commands,
        commands_open: true,
        last_event_id: None,
        server_retry: None,
    };
    // `None` from any step: the receiver is gone, so is our purpose.
    let _ = source.run().await;
}

/// How a session ended, as far as the retry plan is concerned.
struct Outcome {
    /// For the `RetryScheduled` reason: what happened.
    what: String,
    /// The event stream was open this long (2xx `text/event-stream` only).
    open_for: Option<Duration>,
    retry_after: Option<Duration>,
    /// 401/403: the reason to give.
    auth: Option<String>,
    /// The server said stop (204): the reason to give; no reconnect until asked.
    stop: Option<String>,
    /// The user asked for it: reconnect at once.
    cancelled: bool,
}

impl Outcome {
    fn failed(what: String) -> Outcome {
        Outcome {
            what,
            open_for: None,
            retry_after: None,
            auth: None,
            stop: None,
            cancelled: false,
        }
    }
}

/// How waiting for the response head ended.
enum Head {
    Answer(Result<Response, Failure>),
    TimedOut,
    Cancelled,
}

struct StreamSource {
    client: reqwest::Client,
    backoff: Backoff,
    endpoint: Endpoint,
    settings: StreamSettings,
    clock: Clock,
    tx: mpsc::Sender<Observation>,
    commands: mpsc::Receiver<StreamCommand>,
    commands_open: bool,
    /// WHATWG's last event id string: survives sessions, sent as `Last-Event-ID`.
    last_event_id: Option<String>,
    /// The server's `retry:` (reconnection time), once it sent one.
    server_retry: Option<Duration>,
}

impl StreamSource {
    async fn run(&mut self) -> Option<()> {
        let mut session = 0u64;
        loop {
            session += 1;
            let outcome = self.session(session).await?;
            let delay = if let Some(reason) = outcome.stop {
                self.emit(Kind::ReconnectStopped { session, reason })
                    .await?;
                // A new start when the user asks for one.
                self.backoff.reset();
                None
            } else {
                let (delay, reason) = self.plan(&outcome);
                self.emit(Kind::RetryScheduled {
                    delay_ms: millis(delay),
                    reason,
                })
                .await?;
                Some(delay)
            };
            tokio::select! {
                biased;
                () = self.tx.closed() => return None,
                _ = next_command(&mut self.commands, &mut self.commands_open) => {}
                () = sleep_or_pend(delay) => {}
            }
            self.drain_commands();
        }
    }

    /// The delay before the next attempt and why.
    fn plan(&mut self, outcome: &Outcome) -> (Duration, String) {
        let stable = outcome
            .open_for
            .is_some_and(|d| d >= self.settings.stable_after);
        if outcome.cancelled {
            if stable {
                self.backoff.reset();
            }
            return (Duration::ZERO, "reconnect requested".into());
        }
        let hint = RetryHint {
            stable,
            server_retry: self.server_retry,
            retry_after: outcome.retry_after,
            auth_failure: outcome.auth.is_some(),
        };
        let d = self.backoff.next(hint);
        if let Some(auth) = &outcome.auth {
            return (d.delay, auth.clone());
        }
        let mut reason = format!(
            "{}; attempt {} (backoff up to {}",
            outcome.what,
            d.attempt,
            fmt_duration(d.ceiling)
        );
        if let Some(r) = self.server_retry {
            let _ = write!(reason, ", server retry: {}", fmt_duration(r));
            if d.server_retry_clipped {
                let _ = write!(
                    reason,
                    ", clipped to the {} maximum",
                    fmt_duration(MAX_SERVER_RETRY)
                );
            }
        }
        reason.push(')');
        if d.retry_after_applied
            && let Some(r) = outcome.retry_after
        {
            let _ = write!(reason, "; server asked to wait {}", fmt_duration(r));
        }
        (d.delay, reason)
    }

    /// One session. `None` when the receiver is gone.
    async fn session(&mut self, session: u64) -> Option<Outcome> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // WHATWG: the last event id goes back as `Last-Event-ID`. One with a byte a header cannot
        // carry (a control character) cannot: the session goes on without it, and says so.
        let resume = self.last_event_id.as_deref();
        let (sent, unsent) = match resume.map(|id| (id, HeaderValue::from_str(id))) {
            Some((id, Ok(value))) => {
                headers.insert("last-event-id", value);
                (Some(self.endpoint.scrub(id)), None)
            }
            Some((id, Err(_))) => (None, Some(self.endpoint.scrub(id))),
            None => (None, None),
        };
        self.emit(Kind::ConnectAttempt {
            session,
            last_event_id: sent,
        })
        .await?;
        if let Some(id) = unsent {
            self.emit(Kind::LastEventIdUnsent { session, id }).await?;
        }

        let mut hops = Vec::new();
        let started = Instant::now();
        let head = self.request_head(session, headers, &mut hops).await?;
        for hop in hops {
            super::log(&self.endpoint, &hop);
            self.tx.send(hop).await.ok()?;
        }
        match head {
            Head::Answer(Ok(response)) => self.response(session, response, started.elapsed()).await,
            Head::Answer(Err(Failure { class, error })) => {
                self.connect_failed(session, class, error).await
            }
            Head::TimedOut => {
                let wait = self.settings.read_timeout;
                let error = format!("no response within {}", fmt_duration(wait));
                self.connect_failed(session, NetErrorClass::Timeout, error)
                    .await
            }
            Head::Cancelled => {
                self.closed(session, CloseReason::Cancelled, None, true)
                    .await
            }
        }
    }

    /// Sends the stream request with `headers`, following redirects (each hop pushed to `hops`),
    /// until the final response head, the read timeout, a command, or the receiver leaving
    /// (`None`).
    async fn request_head(
        &mut self,
        session: u64,
        headers: HeaderMap,
        hops: &mut Vec<Observation>,
    ) -> Option<Head> {
        let endpoint = &self.endpoint;
        let call = match Call::new(endpoint, Route::Stream, Method::GET, &endpoint.stream_path) {
            Ok(call) => call.session(session).headers(headers),
            Err(failure) => return Some(Head::Answer(Err(failure))),
        };
        let request = call.send(&self.client, endpoint, self.clock, hops);
        Some(tokio::select! {
            biased;
            () = self.tx.closed() => return None,
            _ = next_command(&mut self.commands, &mut self.commands_open) => Head::Cancelled,
            r = tokio::time::timeout(self.settings.read_timeout, request) => {
                r.map_or(Head::TimedOut, Head::Answer)
            }
        })
    }

    async fn response(
        &mut self,
        session: u64,
        mut response: Response,
        ttfb: Duration,
    ) -> Option<Outcome> {
        let status = response.status();
        let headers = response.headers();
        let text = |name| headers.get(name).map(header_text);
        let content_type = text(CONTENT_TYPE).map(|s| self.endpoint.scrub(&s));
        let content_encoding = text(CONTENT_ENCODING).map(|s| self.endpoint.scrub(&s));
        let mut retry_after =
            text(reqwest::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, Utc::now()));
        let shown = shown_headers(&self.endpoint, headers);

        let mut error = None;
        if !status.is_success() {
            let body = tokio::time::timeout(
                self.settings.read_timeout,
                read_prefix(&mut response, ERROR_BODY_LIMIT),
            )
            .await
            .unwrap_or_default();
            error = ApiError::from_body(&body).map(|e| self.endpoint.scrub_api_error(e));
            if let Some(ms) = error.as_ref().and_then(|e| e.retry_after_ms) {
                retry_after = retry_after.max(Some(Duration::from_millis(ms)));
            }
        }
        self.emit(Kind::StreamResponse {
            session,
            status: status.as_u16(),
            content_type: content_type.clone(),
            content_encoding: content_encoding.clone(),
            ttfb_ms: millis(ttfb),
            retry_after_ms: retry_after.map(millis),
            headers: shown,
            error: error.clone(),
        })
        .await?;

        if !status.is_success() {
            let (detail, outcome) = refused(status, error.as_ref(), retry_after);
            return self
                .closed_with(session, CloseReason::Rejected { detail }, outcome)
                .await;
        }

        if status == StatusCode::NO_CONTENT {
            let detail = format!(
                "{}: the server said stop reconnecting",
                http_status_text(status)
            );
            let mut outcome = Outcome::failed(detail.clone());
            outcome.stop = Some(format!(
                "{detail} (WHATWG: a 204 ends an event stream); waiting until asked to reconnect"
            ));
            return self
                .closed_with(session, CloseReason::Rejected { detail }, outcome)
                .await;
        }
        let is_event_stream = content_type.as_deref().is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
        });
        if !is_event_stream {
            let ct = content_type.as_deref().unwrap_or("no content-type");
            let detail = format!(
                "{} with {ct}, not text/event-stream; body not read (a login or proxy page?)",
                http_status_text(status)
            );
            let mut outcome = Outcome::failed(detail.clone());
            outcome.retry_after = retry_after;
            return self
                .closed_with(session, CloseReason::Rejected { detail }, outcome)
                .await;
        }
        if let Some(enc) = content_encoding
            .as_deref()
            .filter(|e| !e.trim().eq_ignore_ascii_case("identity"))
        {
            let detail = format!(
                "the event stream is compressed (content-encoding: {enc}); an event stream must \
                 not be compressed — a proxy or the server compresses it; body not read"
            );
            let mut outcome = Outcome::failed(detail.clone());
            outcome.retry_after = retry_after;
            return self
                .closed_with(session, CloseReason::Rejected { detail }, outcome)
                .await;
        }
        self.read_body(session, response, retry_after).await
    }

    /// Reads an open event stream until it ends.
    async fn read_body(
        &mut self,
        session: u64,
        mut response: Response,
        retry_after: Option<Duration>,
    ) -> Option<Outcome> {
        let opened = Instant::now();
        let limit = self.settings.max_line_bytes;
        let mut parser = EventParser::new(limit).with_last_event_id(self.last_event_id.as_deref());
        let mut items = Vec::new();
        // Idle time counts from when we were last ready to read, so time spent waiting on a
        // full channel is not blamed on the server.
        let mut listening_since = Instant::now();
        let reason = loop {
            let deadline = listening_since + self.settings.read_timeout;
            tokio::select! {
                biased;
                () = self.tx.closed() => return None,
                _ = next_command(&mut self.commands, &mut self.commands_open) => {
                    break CloseReason::Cancelled;
                }
                chunk = response.chunk() => match chunk {
                    Ok(Some(bytes)) => {
                        // One receive time for everything this chunk completes.
                        let (t, wall) = (self.clock.now(), Utc::now());
                        parser.feed(&bytes, &mut items);
                        self.last_event_id = parser.last_event_id();
                        if let Some(ms) = parser.reconnection_ms() {
                            self.server_retry = Some(Duration::from_millis(ms));
                        }
                        self.emit_items(session, t, wall, &mut items).await?;
                        listening_since = Instant::now();
                    }
                    Ok(None) => break CloseReason::Eof,
                    Err(e) => {
                        break CloseReason::Reset {
                            detail: self.endpoint.scrub(&error_chain(&e)),
                        };
                    }
                },
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                    break CloseReason::Timeout {
                        idle_ms: millis(listening_since.elapsed()),
                    };
                }
            }
        };
        drop(response);
        parser.finish(&mut items);
        self.last_event_id = parser.last_event_id();
        let (t, wall) = (self.clock.now(), Utc::now());
        self.emit_items(session, t, wall, &mut items).await?;

        let open_for = opened.elapsed();
        let what = match &reason {
            CloseReason::Eof => {
                format!("server closed the stream after {}", fmt_duration(open_for))
            }
            CloseReason::Timeout { idle_ms } => format!(
                "no byte for {} (read timeout)",
                fmt_duration(Duration::from_millis(*idle_ms))
            ),
            other => format!("{} after {}", other.label(), fmt_duration(open_for)),
        };
        let outcome = Outcome {
            what,
            open_for: Some(open_for),
            retry_after,
            auth: None,
            stop: None,
            cancelled: reason == CloseReason::Cancelled,
        };
        self.closed_with(session, reason, outcome).await
    }

    async fn emit_items(
        &mut self,
        session: u64,
        t: Mono,
        wall: chrono::DateTime<Utc>,
        items: &mut Vec<Item>,
    ) -> Option<()> {
        let mut items = items.drain(..);
        while items.len() > 0 {
            // Room for the whole chunk's items is waited for once, not once per item.
            let room = items.len().min(self.tx.max_capacity());
            let permits = self.tx.reserve_many(room).await.ok()?;
            for (permit, item) in permits.zip(&mut items) {
                permit.send(self.observe(session, t, wall, item));
            }
        }
        Some(())
    }

    /// The observation of one parsed item, logged.
    fn observe(
        &self,
        session: u64,
        t: Mono,
        wall: chrono::DateTime<Utc>,
        item: Item,
    ) -> Observation {
        let kind = match item {
            Item::Event(f) => Kind::SseEvent {
                session,
                event: self.endpoint.scrub_owned(f.event),
                id: f.id.map(|id| self.endpoint.scrub_owned(id)),
                data: self.endpoint.scrub_owned(f.data),
                retry_ms: f.retry_ms,
            },
            Item::Comment(text) => Kind::SseComment {
                session,
                text: self.endpoint.scrub_owned(text),
            },
            Item::Oversized { bytes } => Kind::OversizedEvent {
                session,
                bytes,
                limit: self.settings.max_line_bytes as u64,
            },
        };
        let obs = self.clock.observation(t, wall, kind);
        super::log(&self.endpoint, &obs);
        obs
    }

    async fn connect_failed(
        &mut self,
        session: u64,
        class: NetErrorClass,
        error: String,
    ) -> Option<Outcome> {
        let what = format!("{}: {error}", class.label());
        self.emit(Kind::ConnectFailed {
            session,
            class,
            error,
        })
        .await?;
        Some(Outcome::failed(what))
    }

    async fn closed(
        &mut self,
        session: u64,
        reason: CloseReason,
        open_for: Option<Duration>,
        cancelled: bool,
    ) -> Option<Outcome> {
        let outcome = Outcome {
            what: reason.label(),
            open_for,
            retry_after: None,
            auth: None,
            stop: None,
            cancelled,
        };
        self.closed_with(session, reason, outcome).await
    }

    async fn closed_with(
        &mut self,
        session: u64,
        reason: CloseReason,
        outcome: Outcome,
    ) -> Option<Outcome> {
        self.emit(Kind::StreamClosed { session, reason }).await?;
        Some(outcome)
    }

    async fn emit(&self, kind: Kind) -> Option<()> {
        let obs = self.clock.stamp(kind);
        super::log(&self.endpoint, &obs);
        self.tx.send(obs).await.ok()
    }

    /// Several `r` presses while one reconnect is under way make one reconnect.
    fn drain_commands(&mut self) {
        while self.commands.try_recv().is_ok() {}
    }
}

/// Sleeps `delay`, or pends forever without one (until a command or the receiver ends the wait).
async fn sleep_or_pend(delay: Option<Duration>) {
    match delay {
        Some(delay) => tokio::time::sleep(delay).await,
        None => std::future::pending().await,
    }
}

/// The next command; pends forever once the app dropped its sender (so a `select!` does not
/// spin on a closed channel).
async fn next_command(
    commands: &mut mpsc::Receiver<StreamCommand>,
    open: &mut bool,
) -> StreamCommand {
    if *open {
        match commands.recv().await {
            Some(command) => return command,
            None => *open = false,
        }
    }
    std::future::pending().await
}

/// What a refused response (4xx/5xx) says: its status, why a redirect was not followed, the
/// server's own error summary, and for 401/403 what to check.
fn refused(
    status: StatusCode,
    error: Option<&ApiError>,
    retry_after: Option<Duration>,
) -> (String, Outcome) {
    let mut detail = http_status_text(status);
    if let Some(why) = redirect::not_followed(status) {
        let _ = write!(detail, " {why}");
    }
    if let Some(summary) = error.map(ApiError::summary)
        && !summary.is_empty()
    {
        let _ = write!(detail, ": {summary}");
    }
    let mut outcome = Outcome::failed(detail.clone());
    outcome.retry_after = retry_after;
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        let code = error
            .and_then(|e| e.code.clone())
            .or_else(|| status.canonical_reason().map(str::to_owned))
            .unwrap_or_default();
        outcome.auth = Some(format!(
            "{} {code}: check the API key / agent id",
            status.as_u16()
        ));
    }
    (detail, outcome)
}
