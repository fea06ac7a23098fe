//! The poll source: peeks the inbox at an interval. Peek never acknowledges, and neither do we.
//!
//! Each peek is observed as the redirects it followed (`Redirected`), then one `PollOk` or
//! `PollFailed`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::redirect::{self, Call, Failure};
use super::{
    ERROR_BODY_LIMIT, Endpoint, PollSettings, classify, error_chain, header_text, http_client,
    http_status_text, millis, read_prefix,
};
use crate::observation::{Clock, Kind, NetErrorClass, Observation, Route};
use crate::wire::{self, ApiError};

/// Shortest interval accepted (`tokio::time::interval` panics on zero).
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Spawned by the app: peeks now and then every `interval` until `tx` is closed.
pub async fn run_poll(
    endpoint: Endpoint,
    settings: PollSettings,
    clock: Clock,
    tx: mpsc::Sender<Observation>,
) {
    let client = http_client(&endpoint, settings.timeout);
    let mut ticks = tokio::time::interval(settings.interval.max(MIN_INTERVAL));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = tx.closed() => return,
            _ = ticks.tick() => {}
        }
        let mut observations = Vec::new();
        let kind = tokio::select! {
            biased;
            () = tx.closed() => return,
            kind = poll_once(&client, &endpoint, &settings, clock, &mut observations) => kind,
        };
        observations.push(clock.stamp(kind));
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
    let mut response = match peek(client, endpoint, settings, clock, hops).await {
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
    let max = settings.max_body_bytes;
    if let Some(len) = response.content_length().filter(|len| *len > max as u64) {
        return failed(
            None,
            Some(NetErrorClass::Body),
            format!("peek response over {max} bytes (Content-Length: {len})"),
            None,
        );
    }
    let content_type = response.headers().get(CONTENT_TYPE).map(header_text);
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return failed(
                        None,
                        Some(NetErrorClass::Body),
                        format!("peek response over {max} bytes"),
                        None,
                    );
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                let error = format!("reading the peek response: {}", error_chain(&e));
                return failed(None, Some(classify(&e)), error, None);
            }
        }
    }
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

/// The peek request, redirects followed.
async fn peek(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    settings: &PollSettings,
    clock: Clock,
    hops: &mut Vec<Observation>,
) -> Result<reqwest::Response, Failure> {
    let mut accept = HeaderMap::new();
    accept.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let limit = settings.limit.to_string();
    Call::new(endpoint, Route::Peek, Method::GET, &endpoint.peek_path)?
        .headers(accept)
        .query(&[("limit", &limit), ("mentioned", &endpoint.agent)])
        .timeout(settings.timeout)
        .send(client, endpoint, clock, hops)
        .await
}

/// Message text from the server, with the key masked (a message could quote it).
fn scrub_message(endpoint: &Endpoint, mut m: wire::WireMessage) -> wire::WireMessage {
    m.content = endpoint.scrub(&m.content);
    m
}
