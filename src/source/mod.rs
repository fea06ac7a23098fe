//! Sources: the async tasks that talk HTTP to the server and turn everything they see into
//! [`Observation`]s. They only observe and send (through a bounded channel, awaiting: never
//! dropping); they never touch UI state.
//!
//! - [`run_stream`] holds the SSE stream open, reconnecting with backoff ([`backoff`]), and reads
//!   the body through its own WHATWG parser with bounded memory ([`lines`]).
//! - [`run_poll`] peeks the inbox at an interval (never acknowledging).
//! - [`send_probe`] posts one probe message.
//! - [`replay`] plays a recording back, paced.
//!
//! All three calls follow redirects by hand (`redirect`), observing each hop and sending the
//! credentials to the base URL's origin only. TLS trusts the OS store plus `--ca-cert` ([`tls`]);
//! proxies come from the environment as curl reads them ([`proxy_for`] says which applies). What
//! the sources observe is also written to the log ([`log`]).
//!
//! The API key leaves this module only in the `Authorization` header: every text that goes into
//! an observation (errors, headers, server-sent text) is passed through [`ApiKey::scrub`] first.

pub mod backoff;
pub mod lines;
mod poll;
mod redirect;
pub mod replay;
mod stream;
pub(crate) mod tls;

pub use poll::{peek_phase, run_poll};
pub use redirect::MAX_REDIRECTS;
pub use stream::run_stream;
pub use tls::Trust;

use std::error::Error as StdError;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::observation::{Clock, CloseReason, Kind, NetErrorClass, Observation, Route};
use crate::secret::ApiKey;
use crate::wire::ApiError;

/// What both sources need to reach the server.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Validated by [`Endpoint::new`], without a trailing slash (e.g. `http://127.0.0.1:8080`).
    pub base_url: String,
    pub agent: String,
    pub api_key: ApiKey,
    /// The header naming the agent (default `X-Agent-Id`).
    pub agent_header: String,
    pub stream_path: String,
    pub peek_path: String,
    pub send_path: String,
    /// What TLS trusts: the OS store, plus `--ca-cert` when set (see [`Trust::new`]).
    pub trust: Trust,
}

impl Endpoint {
    /// Checks the base URL (http or https, a host, no credentials, query or fragment), the agent
    /// id and the key (both must fit in an HTTP header), with the `SignalDock` default paths.
    pub fn new(base_url: &str, agent: &str, api_key: ApiKey) -> Result<Endpoint, String> {
        let raw = base_url.trim();
        let shown = api_key.scrub(raw);
        if raw.is_empty() {
            return Err("the base URL is empty (expected e.g. https://api.example.com)".into());
        }
        let url = reqwest::Url::parse(raw).map_err(|e| {
            let hint = if raw.contains("://") || raw.contains(char::is_whitespace) {
                String::new()
            } else {
                format!(" — did you mean http://{shown} ?")
            };
            format!("invalid base URL {shown:?}: {e}{hint}")
        })?;
        match url.scheme() {
            "http" | "https" => {}
            // `localhost:8080` parses with `localhost` as the scheme.
            _ if !raw.contains("://") => {
                return Err(format!(
                    "invalid base URL {shown:?}: no scheme — did you mean http://{shown} ?"
                ));
            }
            other => {
                return Err(format!(
                    "invalid base URL {shown:?}: scheme {other:?} is not supported, use http:// or https://"
                ));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("invalid base URL {shown:?}: it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "invalid base URL: it contains credentials; give the key with INBOXTOP_API_KEY or --api-key-file instead"
                    .into(),
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "invalid base URL {shown:?}: it must not have a query (?…) or fragment (#…)"
            ));
        }
        let agent = agent.trim();
        if agent.is_empty() {
            return Err("the agent id is empty".into());
        }
        if HeaderValue::from_str(agent).is_err() {
            return Err(format!(
                "the agent id {agent:?} has characters an HTTP header cannot carry"
            ));
        }
        if !api_key.is_empty() && bearer(&api_key).is_err() {
            return Err(
                "the API key has characters an HTTP header cannot carry (a stray newline?)".into(),
            );
        }
        Ok(Endpoint {
            base_url: url.as_str().trim_end_matches('/').to_owned(),
            agent: agent.to_owned(),
            api_key,
            agent_header: "X-Agent-Id".into(),
            stream_path: "/messages/stream".into(),
            peek_path: "/messages/peek".into(),
            send_path: "/messages".into(),
            trust: Trust::new(None)?,
        })
    }

    /// `base_url` joined with `path` (which may or may not start with `/`).
    pub fn url(&self, path: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        if path.starts_with('/') {
            format!("{base}{path}")
        } else {
            format!("{base}/{path}")
        }
    }

    /// The auth headers of every call: `Authorization: Bearer <key>` (omitted when there is no
    /// key, marked sensitive) and the agent header.
    pub(crate) fn auth_headers(&self) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        if !self.api_key.is_empty() {
            let value = bearer(&self.api_key).map_err(|_| {
                "the API key has characters an HTTP header cannot carry".to_string()
            })?;
            headers.insert(AUTHORIZATION, value);
        }
        let name = HeaderName::from_bytes(self.agent_header.trim().as_bytes())
            .map_err(|_| format!("invalid agent header name {:?}", self.agent_header))?;
        let value = HeaderValue::from_str(&self.agent)
            .map_err(|_| format!("the agent id {:?} cannot be sent in a header", self.agent))?;
        headers.insert(name, value);
        Ok(headers)
    }

    /// Text from the network or from an error, with the key masked.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.api_key.scrub(text)
    }

    /// [`Endpoint::scrub`] of text already owned: handed back as it is, without a copy, when the
    /// key is not in it (every event of a healthy stream).
    pub(crate) fn scrub_owned(&self, text: String) -> String {
        if text.contains(self.api_key.expose()) {
            self.scrub(&text)
        } else {
            text
        }
    }

    pub(crate) fn scrub_api_error(&self, e: ApiError) -> ApiError {
        ApiError {
            code: e.code.map(|s| self.scrub(&s)),
            message: e.message.map(|s| self.scrub(&s)),
            body_excerpt: e.body_excerpt.map(|s| self.scrub(&s)),
            ..e
        }
    }
}

fn bearer(key: &ApiKey) -> Result<HeaderValue, reqwest::header::InvalidHeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Settings of the stream source.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// First reconnect delay ceiling (500 ms).
    pub backoff_initial: Duration,
    /// Largest reconnect delay of our own backoff (30 s). A server's `retry:` or `Retry-After`
    /// may ask for longer, and is honoured up to its own maximum (see [`backoff`]).
    pub backoff_cap: Duration,
    /// A session open at least this long resets the backoff (60 s).
    pub stable_after: Duration,
    /// No byte for this long ends the session with `Timeout` (90 s). Also bounds the wait for
    /// the response head.
    pub read_timeout: Duration,
    /// TCP (and TLS) connect timeout (10 s).
    pub connect_timeout: Duration,
    /// Longest line, and largest event data, kept (1 MiB). Longer ones are skipped and reported.
    pub max_line_bytes: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            backoff_initial: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            read_timeout: Duration::from_secs(90),
            connect_timeout: Duration::from_secs(10),
            max_line_bytes: 1024 * 1024,
        }
    }
}

/// Settings of the poll source.
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Time between peeks (5 s); the first is immediate.
    pub interval: Duration,
    /// Where in each interval this agent's peeks fall ([`poll::peek_phase`]): 0 for the first
    /// agent; a fleet's agents are spread over the interval.
    pub phase: Duration,
    /// Whole-request timeout (10 s).
    pub timeout: Duration,
    /// `limit=` of the peek (50).
    pub limit: u32,
    /// Largest response body read (8 MiB).
    pub max_body_bytes: usize,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            interval: Duration::from_secs(5),
            phase: Duration::ZERO,
            timeout: Duration::from_secs(10),
            limit: 50,
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Commands the app may send to the stream source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCommand {
    /// Close the current session (or cut the backoff sleep short, or end a stop the server asked
    /// for with a 204) and connect again now.
    ReconnectNow,
}

/// The HTTP client of the sources: rustls trusting `endpoint.trust`, no automatic redirects (they
/// are followed by hand, see `redirect`), no automatic decompression (a compressed stream is
/// observed as such), and the proxies of the environment (`HTTPS_PROXY`, `HTTP_PROXY`,
/// `ALL_PROXY`, `NO_PROXY`, lower case too), which reqwest reads unless told not to.
pub fn http_client(endpoint: &Endpoint, connect_timeout: Duration) -> reqwest::Client {
    let builder = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd()
            .tcp_nodelay(true)
            .connect_timeout(connect_timeout)
            .user_agent(concat!("inboxtop/", env!("CARGO_PKG_VERSION")))
    };
    match builder()
        .use_preconfigured_tls(endpoint.trust.client_config())
        .build()
    {
        Ok(client) => client,
        // Only fails when the TLS backend cannot initialise; plain HTTP still works then.
        Err(e) => {
            tracing::error!("cannot set up TLS, https will fail: {}", error_chain(&e));
            builder().build().unwrap_or_default()
        }
    }
}

/// The proxy a request to `url` goes through, from the environment — the same rules reqwest
/// applies (`NO_PROXY` included) — as `scheme://host:port`, any credentials shown as `•••`.
/// `None`: a direct connection.
pub fn proxy_for(url: &str) -> Option<String> {
    proxy_in(
        &hyper_util::client::proxy::matcher::Matcher::from_system(),
        url,
    )
}

fn proxy_in(matcher: &hyper_util::client::proxy::matcher::Matcher, url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let proxy = matcher.intercept(&uri)?;
    let scheme = proxy.uri().scheme_str().unwrap_or("http");
    let authority = proxy.uri().authority()?;
    let credentials = proxy.basic_auth().is_some() || proxy.raw_auth().is_some();
    let userinfo = if credentials { "•••@" } else { "" };
    Some(format!("{scheme}://{userinfo}{authority}"))
}

/// Sends one probe message (`POST send_path`) to the agent itself. Returns its observations in
/// order: the redirects followed, then `ProbeSent` (the new message's id, or why it could not be
/// sent).
pub async fn send_probe(endpoint: &Endpoint, clock: Clock) -> Vec<Observation> {
    let client = http_client(endpoint, PROBE_TIMEOUT);
    let mut observations = Vec::new();
    let started = std::time::Instant::now();
    let result = probe(&client, endpoint, clock, &mut observations).await;
    let post_ms = millis(started.elapsed());
    let kind = match result {
        Ok(id) => Kind::ProbeSent {
            id,
            error: None,
            post_ms,
        },
        Err(error) => Kind::ProbeSent {
            id: None,
            error: Some(endpoint.scrub(&error)),
            post_ms,
        },
    };
    observations.push(clock.stamp(kind));
    for obs in &observations {
        log(endpoint, obs);
    }
    observations
}

/// Connect and whole-request timeout of a probe (per request of a redirect chain).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

async fn probe(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    clock: Clock,
    hops: &mut Vec<Observation>,
) -> Result<Option<String>, String> {
    let body = json!({
        "toAgentId": endpoint.agent,
        "content": format!("inboxtop probe {}", uuid::Uuid::new_v4()),
        "contentType": "text",
    });
    let failed = |f: redirect::Failure| format!("{}: {}", f.class.label(), f.error);
    let mut resp = redirect::Call::new(endpoint, Route::Probe, Method::POST, &endpoint.send_path)
        .map_err(failed)?
        .json(&body)
        .timeout(PROBE_TIMEOUT)
        .send(client, endpoint, clock, hops)
        .await
        .map_err(failed)?;
    let status = resp.status();
    let body = read_prefix(&mut resp, ERROR_BODY_LIMIT).await;
    if !status.is_success() {
        let mut error = http_status_text(status);
        if let Some(e) = ApiError::from_body(&body) {
            error = format!("{error}: {}", e.summary());
        }
        return Err(error);
    }
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = [
        "/data/message/id",
        "/data/message/messageId",
        "/data/id",
        "/data/messageId",
        "/message/id",
        "/id",
        "/messageId",
    ]
    .iter()
    .find_map(|p| match value.pointer(p)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    Ok(id)
}

/// Most bytes of an error response body read (into [`ApiError::from_body`]).
pub(crate) const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Reads at most `max` bytes of the body; stops quietly at the limit or at an error.
pub(crate) async fn read_prefix(resp: &mut reqwest::Response, max: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < max {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// `HTTP 503 Service Unavailable`.
pub(crate) fn http_status_text(status: reqwest::StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// Response headers worth showing in an observation.
const SHOWN_HEADERS: &[&str] = &[
    "server",
    "via",
    "cf-ray",
    "x-request-id",
    "cache-control",
    "transfer-encoding",
    "connection",
    "content-encoding",
    "x-accel-buffering",
    "retry-after",
    "location",
    "content-length",
];
const MAX_SHOWN_HEADERS: usize = 12;
const MAX_HEADER_VALUE_CHARS: usize = 200;

/// The selection of [`SHOWN_HEADERS`] present, at most 12, values cut to 200 characters.
pub(crate) fn shown_headers(endpoint: &Endpoint, headers: &HeaderMap) -> Vec<(String, String)> {
    SHOWN_HEADERS
        .iter()
        .flat_map(|name| {
            headers
                .get_all(*name)
                .iter()
                .map(move |v| (*name, header_text(v)))
        })
        .take(MAX_SHOWN_HEADERS)
        .map(|(name, value)| {
            let value = crate::wire::truncate_chars(&value, MAX_HEADER_VALUE_CHARS);
            (name.to_owned(), endpoint.scrub(&value))
        })
        .collect()
}

/// A header value as text (lossy: header values are bytes).
pub(crate) fn header_text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// `Retry-After` as a delay from `now`: delta-seconds or an HTTP date (IMF-fixdate, and the
/// obsolete RFC 850 and asctime forms). A date in the past means "now".
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let date = DateTime::parse_from_rfc2822(value)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
                .map(|d| d.and_utc())
        })?;
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

/// Which kind of network failure `err` is, from the whole `source()` chain.
pub fn classify(err: &reqwest::Error) -> NetErrorClass {
    if err.is_redirect() {
        return NetErrorClass::Redirect;
    }
    if tls::rustls_error(err).is_some() {
        return NetErrorClass::Tls;
    }
    let chain = || std::iter::successors(Some(err as &(dyn StdError + 'static)), |e| (*e).source());
    if err.is_builder() {
        let text = error_chain(err).to_ascii_lowercase();
        return if ["url", "uri", "scheme", "host"]
            .iter()
            .any(|w| text.contains(w))
        {
            NetErrorClass::InvalidUrl
        } else {
            NetErrorClass::Other
        };
    }
    for e in chain() {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return NetErrorClass::Refused,
                std::io::ErrorKind::TimedOut => return NetErrorClass::Timeout,
                _ => {}
            }
        }
        let text = e.to_string().to_ascii_lowercase();
        if [
            "dns error",
            "failed to lookup address",
            "name or service not known",
            "nodename nor servname",
            "no address associated",
            "temporary failure in name resolution",
        ]
        .iter()
        .any(|w| text.contains(w))
        {
            return NetErrorClass::Dns;
        }
        if text.contains("connection refused") {
            return NetErrorClass::Refused;
        }
        if [
            "certificate",
            "tls",
            "handshake",
            "corrupt message",
            "invalidcontenttype",
            "received fatal alert",
        ]
        .iter()
        .any(|w| text.contains(w))
        {
            return NetErrorClass::Tls;
        }
    }
    if err.is_timeout() {
        NetErrorClass::Timeout
    } else if err.is_body() || err.is_decode() {
        NetErrorClass::Body
    } else {
        NetErrorClass::Other
    }
}

/// What went wrong with a request, for an observation: the cause of a TLS failure in words (see
/// [`tls::cause`]), otherwise the whole error chain.
pub fn describe(err: &reqwest::Error) -> String {
    match tls::rustls_error(err) {
        Some(e) => tls::cause(e),
        None => error_chain(err),
    }
}

/// `err` and its sources, joined with `: `, skipping repeats.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Writes what a source observed to the log (`crate::logging`): failures at warn; connects,
/// answers, closes, retries, redirects and probes at info; peeks at debug; SSE events and comments
/// at trace (their names, ids and sizes, not their data). The texts are the observation's, the key
/// already scrubbed; the log file makes them terminal-safe.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per observation kind: the log's wording for each, read as a table"
)]
pub(crate) fn log(endpoint: &Endpoint, obs: &Observation) {
    use tracing::{debug, info, trace, warn};
    match &obs.kind {
        Kind::ConnectAttempt {
            session,
            last_event_id,
        } => {
            let url = endpoint.url(&endpoint.stream_path);
            let via = proxy_for(&url).map_or_else(|| "direct".into(), |p| format!("via proxy {p}"));
            if let Some(id) = last_event_id {
                info!(
                    session,
                    "stream: connecting to {url} ({via}), resuming after id {id:?}"
                );
            } else {
                info!(session, "stream: connecting to {url} ({via})");
            }
        }
        Kind::LastEventIdUnsent { session, id } => {
            warn!(
                session,
                "stream: last event id {id:?} cannot go in a header; not resuming"
            );
        }
        Kind::Redirected {
            route,
            status,
            from,
            to,
            cross_origin,
            ..
        } => {
            let origin = if *cross_origin {
                " (another origin: no credentials)"
            } else {
                ""
            };
            info!(
                "{}: HTTP {status} redirect from {from} to {to}{origin}",
                route.label()
            );
        }
        Kind::StreamResponse {
            session,
            status,
            content_type,
            ttfb_ms,
            error,
            ..
        } => {
            let ct = content_type.as_deref().unwrap_or("no content-type");
            if (200..300).contains(status) {
                info!(session, "stream: HTTP {status} ({ct}) after {ttfb_ms} ms");
            } else {
                let why = error
                    .as_ref()
                    .map(|e| format!(": {}", e.summary()))
                    .unwrap_or_default();
                warn!(
                    session,
                    "stream: HTTP {status} ({ct}) after {ttfb_ms} ms{why}"
                );
            }
        }
        Kind::ConnectFailed {
            session,
            class,
            error,
        } => warn!(session, "stream: {}: {error}", class.label()),
        Kind::SseEvent {
            session,
            event,
            id,
            data,
            ..
        } => trace!(
            session,
            "stream: event {event:?} id {id:?}, {} bytes of data",
            data.len()
        ),
        Kind::SseComment { session, text } => trace!(session, "stream: comment {text:?}"),
        Kind::OversizedEvent {
            session,
            bytes,
            limit,
        } => warn!(
            session,
            "stream: skipped a {bytes}-byte line (limit {limit})"
        ),
        Kind::StreamClosed { session, reason } => match reason {
            CloseReason::Eof | CloseReason::Cancelled => {
                info!(session, "stream: closed: {}", reason.label());
            }
            _ => warn!(session, "stream: closed: {}", reason.label()),
        },
        Kind::RetryScheduled { delay_ms, reason } => info!(
            "stream: reconnecting in {}: {reason}",
            fmt_duration(Duration::from_millis(*delay_ms))
        ),
        Kind::ReconnectStopped { session, reason } => warn!(session, "stream: {reason}"),
        Kind::PollOk {
            elapsed_ms,
            messages,
            unreadable,
        } => debug!(
            "peek: {} messages ({unreadable} unreadable) in {elapsed_ms} ms",
            messages.len()
        ),
        Kind::PollFailed {
            elapsed_ms,
            class,
            error,
            ..
        } => {
            let class = class.map_or("HTTP error", NetErrorClass::label);
            warn!("peek failed after {elapsed_ms} ms: {class}: {error}");
        }
        Kind::ProbeSent {
            id, error: None, ..
        } => info!("probe sent: message id {id:?}"),
        Kind::ProbeSent { error: Some(e), .. } => warn!("probe not sent: {e}"),
        Kind::Tick => {}
    }
}

/// `1.5 s`, `250 ms`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new("sk_test_0123456789")
    }

    #[test]
    fn endpoint_accepts_http_and_https_and_normalizes() {
        let e = Endpoint::new(" http://127.0.0.1:8080/ ", "demo", key()).unwrap();
        assert_eq!(e.base_url, "http://127.0.0.1:8080");
        assert_eq!(
            e.url(&e.stream_path),
            "http://127.0.0.1:8080/messages/stream"
        );
        let e = Endpoint::new("https://api.example.com/v1", "demo", key()).unwrap();
        assert_eq!(
            e.url("messages/peek"),
            "https://api.example.com/v1/messages/peek"
        );
        assert_eq!(e.agent_header, "X-Agent-Id");
        assert_eq!(e.send_path, "/messages");
    }

    #[test]
    fn scrub_owned_masks_like_scrub() {
        for k in [key(), ApiKey::new("short"), ApiKey::new("")] {
            let e = Endpoint::new("http://127.0.0.1:8080", "demo", k).unwrap();
            for text in [
                "",
                "plain data",
                "a sk_test_0123456789 b short sk_test_0123456789",
            ] {
                assert_eq!(e.scrub_owned(text.to_owned()), e.scrub(text), "{text}");
            }
        }
        let e = Endpoint::new("http://127.0.0.1:8080", "demo", key()).unwrap();
        assert!(
            !e.scrub_owned("key=sk_test_0123456789".into())
                .contains("0123456789")
        );
    }

    #[test]
    fn endpoint_rejects_bad_input_with_a_clear_message() {
        let err = |url: &str| Endpoint::new(url, "demo", key()).unwrap_err();
        assert!(err("").contains("empty"));
        assert!(
            err("ftp://example.com").contains("scheme \"ftp\""),
            "{}",
            err("ftp://x")
        );
        assert!(err("not a url").contains("invalid base URL"));
        assert!(err("localhost:8080").contains("did you mean http://localhost:8080"));
        assert!(err("http://").contains("invalid base URL"));
        assert!(err("http://u:p@example.com").contains("credentials"));
        assert!(err("http://example.com/?x=1").contains("query"));
        assert!(
            Endpoint::new("http://x", " ", key())
                .unwrap_err()
                .contains("agent id")
        );
        assert!(
            Endpoint::new("http://x", "a\nb", key())
                .unwrap_err()
                .contains("agent id")
        );
        let bad_key = Endpoint::new("http://x", "a", ApiKey::new("sk\u{7}bell_12345")).unwrap_err();
        assert!(
            bad_key.contains("API key") && !bad_key.contains("bell"),
            "{bad_key}"
        );
    }

    #[test]
    fn retry_after_seconds_and_http_dates() {
        let now: DateTime<Utc> = "2026-11-25T03:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let in_10s = Some(Duration::from_secs(10));
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 03:00:10 GMT", now),
            in_10s
        );
        assert_eq!(
            parse_retry_after("Wednesday, 25-Nov-26 03:00:10 GMT", now),
            in_10s
        );
        assert_eq!(parse_retry_after("Wed Nov 25 03:00:10 2026", now), in_10s);
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 02:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for junk in ["", "-1", "1.5", "soon", "+3"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn the_proxy_for_a_url_follows_the_scheme_and_no_proxy_and_masks_credentials() {
        use hyper_util::client::proxy::matcher::Matcher;
        let matcher = Matcher::builder()
            .http("http://proxy.corp:3128")
            .https("http://alice:s3cret@secure.corp:8080")
            .no("internal.example, 10.0.0.0/8")
            .build();
        let proxy = |url| proxy_in(&matcher, url);
        assert_eq!(
            proxy("http://api.example.com/messages/stream").as_deref(),
            Some("http://proxy.corp:3128")
        );
        assert_eq!(
            proxy("https://api.example.com").as_deref(),
            Some("http://•••@secure.corp:8080")
        );
        assert_eq!(proxy("https://api.internal.example/v1"), None);
        assert_eq!(proxy("http://10.1.2.3:8080"), None);
        assert_eq!(proxy_in(&Matcher::builder().build(), "http://x"), None);
    }

    #[test]
    fn shown_headers_are_bounded() {
        let e = Endpoint::new("http://x", "a", key()).unwrap();
        let mut h = HeaderMap::new();
        for i in 0..30 {
            h.append("via", HeaderValue::from_str(&format!("proxy-{i}")).unwrap());
        }
        h.insert("server", HeaderValue::from_str(&"s".repeat(1000)).unwrap());
        h.insert("x-secret", HeaderValue::from_static("nope"));
        h.insert(
            "x-request-id",
            HeaderValue::from_static("has sk_test_0123456789 in it"),
        );
        let shown = shown_headers(&e, &h);
        assert_eq!(shown.len(), MAX_SHOWN_HEADERS);
        assert_eq!(shown[0].0, "server");
        assert_eq!(shown[0].1.chars().count(), MAX_HEADER_VALUE_CHARS);
        assert!(shown.iter().all(|(n, _)| n != "x-secret"));
        let all = shown_headers(&e, &{
            let mut h2 = HeaderMap::new();
            h2.insert(
                "x-request-id",
                HeaderValue::from_static("has sk_test_0123456789 in it"),
            );
            h2
        });
        assert!(!all[0].1.contains("0123456789"), "{all:?}");
    }
}
