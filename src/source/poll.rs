//! The poll source: peeks the inbox at an interval. Peek never acknowledges, and neither do we.
//!
//! Each peek is observed as the redirects it followed (`Redirected`), then one `PollOk` or
//! `PollFailed`.
//!
//! The first peek is at once; then each agent peeks in its own slot of the interval
//! ([`peek_phase`]). A fleet's peeks are so spread over the interval, and the agents of a slot
//! share one wake-up: a thousand agents that each woke on their own timer cost the exporter a
//! quarter more CPU.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;
use tokio::sync::mpsc;

use super::redirect::{self, Call, Failure};
use super::{
    ERROR_BODY_LIMIT, Endpoint, PollSettings, classify, error_chain, header_text, http_client,
    http_status_text, millis, read_prefix,
};
use crate::observation::{Clock, Kind, NetErrorClass, Observation, Route};
use crate::wire::{self, ApiError};

/// Shortest interval accepted.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The slots a fleet's peeks are spread over: agent `i` peeks `i` slots into each interval
/// (wrapping around). Peeks 100 ms apart reach the server evenly spread; those of one slot
/// (20 of a thousand agents at 5 s) go out together.
const PEEK_SLOT: Duration = Duration::from_millis(100);

/// Where in each interval the peeks of the `agent`-th watched agent fall.
pub fn peek_phase(agent: usize, interval: Duration) -> Duration {
    let slots = (interval.as_micros() / PEEK_SLOT.as_micros()).max(1);
    PEEK_SLOT * u32::try_from(agent as u128 % slots).unwrap_or(0)
}

/// How long after `now` the next peek is due: at the next time that is `phase` past a multiple
/// of `interval`, and at least half an interval from now, so peeks stay about an interval apart
/// (once in step, exactly; the first step takes half to one and a half intervals).
///
/// `now` is wall-clock time since the Unix epoch: the multiples are common to every agent of the
/// process without a shared start, and a clock step only moves one wait within that range.
fn until_next_peek(now: Duration, interval: Duration, phase: Duration) -> Duration {
    let interval = interval.max(MIN_INTERVAL).as_micros();
    let earliest = now.as_micros() + interval / 2;
    let past_slot = (earliest + interval - phase.as_micros() % interval) % interval;
    let wait = interval / 2 + (interval - past_slot) % interval;
    Duration::from_micros(u64::try_from(wait).unwrap_or(u64::MAX))
}

fn since_unix_epoch() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Spawned by the app: peeks now and then every `interval` until `tx` is closed.
pub async fn run_poll(
    endpoint: Endpoint,
    settings: PollSettings,
    clock: Clock,
    tx: mpsc::Sender<Observation>,
) {
    let client = http_client(&endpoint, settings.timeout);
    // Built once: a peek is the same request every time, and the fleet sends hundreds a second.
    let call = peek_call(&endpoint, &settings);
    let mut due = tokio::time::Instant::now();
    loop {
        tokio::select! {
            biased;
            () = tx.closed() => return,
            () = tokio::time::sleep_until(due) => {}
        }
        let mut observations = Vec::new();
        let kind = tokio::select! {
            biased;
            () = tx.closed() => return,
            kind = poll_once(&client, &endpoint, &call, &settings, clock, &mut observations) => kind,
        };
        observations.push(clock.stamp(kind));
        due = tokio::time::Instant::now()
            + until_next_peek(since_unix_epoch(), settings.interval, settings.phase);
        for obs in observations {
            super::log(&endpoint, &obs);
            if tx.send(obs).await.is_err() {
                return;
            }
        }
    }
}

/// One peek, as a `PollOk` or `PollFailed`; the redirects it followed are pushed to `hops`.
async fn poll_once(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    call: &Result<Call, Failure>,
    settings: &PollSettings,
    clock: Clock,
    hops: &mut Vec<Observation>,
) -> Kind {
    let started = Instant::now();
    let failed = |status: Option<u16>,
                  class: Option<NetErrorClass>,
                  error: String,
                  api_error: Option<ApiError>| Kind::PollFailed {
        elapsed_ms: millis(started.elapsed()),
        status,
        class,
        error: endpoint.scrub(&error),
        api_error: api_error.map(|e| endpoint.scrub_api_error(e)),
    };
    let sent = match call {
        Ok(call) => call.clone().send(client, endpoint, clock, hops).await,
        Err(f) => Err(f.clone()),
    };
    let mut response = match sent {
        Ok(r) => r,
        Err(f) => return failed(None, Some(f.class), f.error, None),
    };
    let status = response.status();
    if !status.is_success() {
        let body = read_prefix(&mut response, ERROR_BODY_LIMIT).await;
        let api_error = ApiError::from_body(&body);
        let mut error = http_status_text(status);
        if let Some(why) = redirect::not_followed(status) {
            let _ = write!(error, " {why}");
        }
        if let Some(summary) = api_error.as_ref().map(ApiError::summary)
            && !summary.is_empty()
        {
            let _ = write!(error, ": {summary}");
        }
        return failed(Some(status.as_u16()), None, error, api_error);
    }
    let content_type = response.headers().get(CONTENT_TYPE).map(header_text);
    let body = match read_body(&mut response, settings.max_body_bytes).await {
        Ok(body) => body,
        Err((class, error)) => return failed(None, Some(class), error, None),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let ct = content_type.as_deref().unwrap_or("no content-type");
            let start = wire::truncate_chars(String::from_utf8_lossy(&body).trim(), 80);
            let error = format!("peek response is not JSON: {e} ({ct}; starts with {start:?})");
            return failed(None, Some(NetErrorClass::Body), error, None);
        }
    };
    if let Some((messages, unreadable)) = wire::peek_messages(&value) {
        Kind::PollOk {
            elapsed_ms: millis(started.elapsed()),
            messages: messages
                .into_iter()
                .map(|m| scrub_message(endpoint, m))
                .collect(),
            unreadable,
        }
    } else {
        // A 200 carrying an error envelope (`"success": false`), or another shape.
        let api_error = value
            .get("error")
            .and_then(|_| ApiError::from_body(&body))
            .filter(|e| e.code.is_some() || e.message.is_some());
        let error = match &api_error {
            Some(e) => format!("peek answered {status} with an error: {}", e.summary()),
            None => "peek response has no message list (expected data.messages)".into(),
        };
        failed(
            Some(status.as_u16()).filter(|_| api_error.is_some()),
            Some(NetErrorClass::Body).filter(|_| api_error.is_none()),
            error,
            api_error,
        )
    }
}

/// The peek request (its redirects are followed when it is sent), or why none can be made — then
/// every peek fails with that.
fn peek_call(endpoint: &Endpoint, settings: &PollSettings) -> Result<Call, Failure> {
    let mut accept = HeaderMap::new();
    accept.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let limit = settings.limit.to_string();
    Ok(
        Call::new(endpoint, Route::Peek, Method::GET, &endpoint.peek_path)?
            .headers(accept)
            .query(&[("limit", &limit), ("mentioned", &endpoint.agent)])
            .timeout(settings.timeout),
    )
}

/// The whole body of a peek's answer, refused past `max` bytes.
async fn read_body(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, (NetErrorClass, String)> {
    let too_long = |why: String| {
        (
            NetErrorClass::Body,
            format!("peek response over {max} bytes{why}"),
        )
    };
    if let Some(len) = response.content_length().filter(|len| *len > max as u64) {
        return Err(too_long(format!(" (Content-Length: {len})")));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > max => {
                return Err(too_long(String::new()));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(e) => {
                let error = format!("reading the peek response: {}", error_chain(&e));
                return Err((classify(&e), error));
            }
        }
    }
}

/// Message text from the server, with the key masked (a message could quote it).
fn scrub_message(endpoint: &Endpoint, mut m: wire::WireMessage) -> wire::WireMessage {
    m.content = endpoint.scrub(&m.content);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_fleet_is_spread_over_the_interval_in_slots() {
        let phases: Vec<Duration> = (0..4).map(|i| peek_phase(i, 5 * SECOND)).collect();
        assert_eq!(phases, [ms(0), ms(100), ms(200), ms(300)]);
        // Fifty slots in 5 s: the fifty-first agent shares the first one's.
        assert_eq!(peek_phase(50, 5 * SECOND), ms(0));
        assert_eq!(peek_phase(51, 5 * SECOND), ms(100));
        // An interval shorter than a slot has one slot.
        assert_eq!(peek_phase(7, ms(50)), ms(0));
    }

    #[test]
    fn in_step_a_peek_waits_until_its_slot_of_the_next_interval() {
        let (interval, phase) = (5 * SECOND, ms(300));
        // A peek of the slot at 1 000 000.3 s, answered 40 ms later.
        let now = Duration::from_secs(1_000_000) + ms(340);
        let wait = until_next_peek(now, interval, phase);
        assert_eq!(now + wait, Duration::from_secs(1_000_005) + ms(300));
        // Slots of different agents differ by their phases, at every time.
        let other = until_next_peek(now, interval, ms(500));
        assert_eq!(wait + ms(200), other);
    }

    #[test]
    fn peeks_stay_half_an_interval_to_one_and_a_half_apart() {
        let interval = 5 * SECOND;
        for offset_ms in (0..10_000).step_by(7) {
            let now = Duration::from_secs(1_700_000_000) + ms(offset_ms);
            let wait = until_next_peek(now, interval, ms(1_200));
            assert!(wait >= interval / 2 && wait < interval * 3 / 2, "{wait:?}");
            let due = (now + wait).as_millis();
            assert_eq!(due % 5_000, 1_200, "{offset_ms}: due at {due}");
        }
    }

    #[test]
    fn a_tiny_interval_still_waits() {
        let wait = until_next_peek(Duration::from_secs(42), Duration::ZERO, Duration::ZERO);
        assert!(wait >= MIN_INTERVAL / 2, "{wait:?}");
    }
}
