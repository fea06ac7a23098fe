//! The simulator against the official crates: the real `SseAdapter` of `signaldock-transport`
//! 2026.5.0 and the records and errors of `signaldock-protocol` (`signaldock-core`). Frames are
//! read from the running simulator over loopback and compared byte for byte with what the real
//! code writes for the same values; only the heartbeat's "now" differs and is normalised, after
//! both are shown to be chrono's `to_rfc3339()` form. Also shows the adapter's one-stream-per-agent
//! rule, so the simulator models a fact, not a guess.

#[path = "support/sim_client.rs"]
mod sim_client;

use std::convert::Infallible;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use inboxtop::sim::{Scenario, SimConfig, SimHandle};
use serde_json::{Value, json};
use signaldock_protocol::error::StructuredError;
use signaldock_protocol::message::{DeliveryEvent, Message};
use signaldock_transport::adapters::sse::SseAdapter;
use signaldock_transport::traits::{DeliveryTarget, TransportAdapter};
use sim_client::{
    Frame, RawStream, adapter_frame, assert_rfc3339, client, config, get, open, peek, start,
};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, sleep};
use uuid::Uuid;

const AGENT: &str = "demo";

fn in_secs(s: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(s)
}

/// The next frame of `stream` that `pick` accepts.
async fn next_of<T>(stream: &mut RawStream, pick: impl Fn(&str) -> Option<T>) -> T {
    let deadline = in_secs(5.0);
    loop {
        let frame = stream.next_frame(deadline).await.expect("a frame in time");
        if let Some(found) = pick(&frame) {
            return found;
        }
    }
}

fn heartbeat_frame(frame: &str) -> Option<String> {
    matches!(adapter_frame(frame), Some(Frame::Heartbeat { .. })).then(|| frame.to_owned())
}

fn message_frame(frame: &str) -> Option<(String, String)> {
    match adapter_frame(frame) {
        Some(Frame::Message { id, .. }) => Some((id, frame.to_owned())),
        _ => None,
    }
}

/// The one frame the real adapter has queued for a receiver.
fn queued(rx: &mut UnboundedReceiver<String>) -> String {
    rx.try_recv().expect("the adapter queued a frame")
}

/// The heartbeat's timestamp replaced by a marker, after checking it is `to_rfc3339()` text.
fn normalise_heartbeat(frame: &str) -> String {
    let value = frame
        .split("\"timestamp\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a timestamp");
    assert_rfc3339(value);
    frame.replace(value, "<to_rfc3339>")
}

#[tokio::test]
async fn the_real_adapter_keeps_one_stream_per_agent_id() {
    let adapter = SseAdapter::new();
    let mut first = adapter.connect(AGENT.into());
    let mut other_agent = adapter.connect("other".into());
    let mut second = adapter.connect(AGENT.into());
    // The first connection's sender was replaced and dropped: its stream has ended.
    assert_eq!(first.recv().await, None);
    assert_eq!(adapter.connected_count(), 2);
    // A heartbeat for the agent id (whichever connection's task fires it) reaches the current
    // stream only.
    assert!(adapter.send_heartbeat(AGENT));
    assert!(queued(&mut second).starts_with("event: heartbeat\n"));
    assert!(other_agent.try_recv().is_err());
    drop(second);
    assert!(
        !adapter.send_heartbeat(AGENT),
        "no current stream: nothing to fire into"
    );
}

#[tokio::test]
async fn heartbeat_frames_are_the_adapters() {
    let sim = start(config(Scenario::Healthy, 30.0)).await;
    let mut stream = open(&sim, None).await;
    let ours = next_of(&mut stream, heartbeat_frame).await;
    let adapter = SseAdapter::new();
    let mut rx = adapter.connect(AGENT.into());
    adapter.send_heartbeat(AGENT);
    let theirs = queued(&mut rx);
    assert_eq!(normalise_heartbeat(&ours), normalise_heartbeat(&theirs));
    sim.shutdown().await;
}

/// The delivery event the server would hand the adapter for a message frame's values.
fn delivery_event(data: &Value) -> DeliveryEvent {
    let uuid = |key: &str| Uuid::parse_str(data[key].as_str().unwrap()).unwrap();
    DeliveryEvent {
        message_id: uuid("messageId"),
        conversation_id: uuid("conversationId"),
        from_agent_id: data["from"].as_str().unwrap().into(),
        from_agent_name: "not on the wire".into(),
        to_agent_id: AGENT.into(),
        content: data["content"].as_str().unwrap().into(),
        content_type: serde_json::from_value(data["contentType"].clone()).unwrap(),
        created_at: data["createdAt"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        attachments: serde_json::from_value(data["attachments"].clone()).unwrap(),
    }
}

#[tokio::test]
async fn message_frames_are_the_adapters_byte_for_byte() {
    let sim = start(config(Scenario::Healthy, 30.0)).await;
    let mut stream = open(&sim, None).await;
    let adapter = SseAdapter::new();
    let mut rx = adapter.connect(AGENT.into());
    let target = DeliveryTarget {
        agent_id: AGENT.into(),
        endpoint: None,
        webhook_secret: None,
    };
    for _ in 0..3 {
        let (_, ours) = next_of(&mut stream, message_frame).await;
        let data_line = ours.lines().nth(2).unwrap();
        let data: Value = serde_json::from_str(data_line.strip_prefix("data: ").unwrap()).unwrap();
        let result = adapter
            .deliver(&delivery_event(&data), &target)
            .await
            .unwrap();
        assert!(result.success);
        assert_eq!(ours, queued(&mut rx));
    }
    sim.shutdown().await;
}

/// `records` (peek, newest first) after the one with id `last`, oldest first, as the core type.
fn pending_after(records: &[Value], last: &str) -> Vec<Message> {
    let mut oldest_first: Vec<&Value> = records.iter().rev().collect();
    let after = oldest_first.iter().position(|r| r["id"] == last).unwrap() + 1;
    oldest_first
        .drain(after..)
        .filter(|r| r["status"] == "pending")
        .map(|r| serde_json::from_value(r.clone()).unwrap())
        .collect()
}

#[tokio::test]
async fn replayed_frames_are_replay_messages_of_the_peeked_records() {
    let sim = start(SimConfig {
        heartbeat_interval: Duration::from_secs(3600),
        ..config(Scenario::Healthy, 30.0)
    })
    .await;
    let mut first = open(&sim, None).await;
    let (last, _) = next_of(&mut first, message_frame).await;
    drop(first);
    sleep(Duration::from_millis(800)).await;
    let missed = pending_after(&peek(&sim).await, &last);
    assert!(missed.len() >= 2, "messages landed while disconnected");

    let adapter = SseAdapter::new();
    let mut rx = adapter.connect(AGENT.into());
    adapter.replay_messages(AGENT, &missed);
    let mut second = open(&sim, Some(&last)).await;
    for message in &missed {
        let (_, ours) = next_of(&mut second, message_frame).await;
        assert_eq!(ours, queued(&mut rx), "replay of {}", message.id);
    }
    sim.shutdown().await;
}

/// Reads `record` as the core `Message` and writes it back: nothing may be lost or added.
fn assert_core_message(record: &Value) {
    let message: Message = serde_json::from_value(record.clone()).unwrap();
    assert_eq!(&serde_json::to_value(&message).unwrap(), record);
}

#[tokio::test]
async fn peek_and_post_records_are_core_messages() {
    let sim = start(config(Scenario::Healthy, 30.0)).await;
    let mut stream = open(&sim, None).await;
    next_of(&mut stream, message_frame).await;
    let posted: Value = client()
        .post(format!("{}/messages", sim.base_url()))
        .bearer_auth("demo")
        .header("X-Agent-Id", AGENT)
        .json(&json!({"toAgentId": AGENT, "content": "probe", "contentType": "text"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["success"], true);
    assert_core_message(&posted["data"]["message"]);
    drop(stream);
    sleep(Duration::from_millis(300)).await;
    let records = peek(&sim).await;
    let statuses: Vec<&str> = records
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"delivered") && statuses.contains(&"pending"));
    for record in &records {
        assert_core_message(record);
    }
    sim.shutdown().await;
}

/// The `error` object read as the protocol's `StructuredError`, consistent with its code.
async fn assert_protocol_error(response: reqwest::Response) -> StructuredError {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    let error: StructuredError = serde_json::from_value(body["error"].clone()).unwrap();
    assert_eq!(error.category, error.code.category());
    assert_eq!(error.retryable, error.code.retryable());
    assert_eq!(status, error.category.http_status());
    error
}

async fn started(scenario: Scenario) -> SimHandle {
    start(config(scenario, 30.0)).await
}

#[tokio::test]
async fn error_envelopes_carry_the_protocols_codes_and_categories() {
    let healthy = started(Scenario::Healthy).await;
    let wrong_key = client()
        .get(format!("{}/messages/peek", healthy.base_url()))
        .bearer_auth("wrong")
        .header("X-Agent-Id", AGENT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_protocol_error(wrong_key).await.code.as_str(),
        "E_AUTH_UNAUTHORIZED"
    );
    let missing = get(&healthy, "/nowhere", None).await;
    assert_eq!(
        assert_protocol_error(missing).await.code.as_str(),
        "E_NOT_FOUND_RESOURCE"
    );
    let incomplete = client()
        .post(format!("{}/messages", healthy.base_url()))
        .bearer_auth("demo")
        .header("X-Agent-Id", AGENT)
        .json(&json!({"content": "no recipient"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_protocol_error(incomplete).await.code.as_str(),
        "E_VALIDATION_MISSING_FIELD"
    );
    healthy.shutdown().await;

    let rejected = started(Scenario::Rejected).await;
    for path in ["/messages/stream", "/messages/peek"] {
        let response = get(&rejected, path, None).await;
        assert_eq!(
            assert_protocol_error(response).await.code.as_str(),
            "E_VALIDATION_SCHEMA"
        );
    }
    rejected.shutdown().await;
}

/// The bytes axum writes for `event` in an `Sse` response.
async fn axum_bytes(event: Event) -> String {
    let sse = Sse::new(futures_util::stream::iter([Ok::<_, Infallible>(event)]));
    let body = axum::body::to_bytes(sse.into_response().into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn double_framing_is_axums_event_data_around_the_adapters_frame() {
    let sim = start(SimConfig {
        heartbeat_interval: Duration::from_secs(3),
        ..config(Scenario::DoubleFramed, 30.0)
    })
    .await;
    let mut stream = open(&sim, None).await;
    let deadline = in_secs(5.0);
    let mut kinds = Vec::new();
    while kinds.len() < 4 {
        let outer = stream.next_frame(deadline).await.expect("frames in time");
        let inner: Vec<&str> = outer
            .strip_suffix('\n')
            .unwrap()
            .lines()
            .map(|l| l.strip_prefix("data: ").unwrap())
            .collect();
        let inner = inner.join("\n");
        kinds.push(adapter_frame(&inner).expect("an adapter frame inside"));
        assert_eq!(outer, axum_bytes(Event::default().data(&inner)).await);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn keep_alive_comments_are_axums() {
    // No peer messages, so the route's keep-alive comes after 15 s (0.5 s real) of silence.
    let sim = start(SimConfig {
        peer_interval: Duration::from_secs(3600),
        ..config(Scenario::IdleTimeout, 30.0)
    })
    .await;
    let mut stream = open(&sim, None).await;
    let ours = stream.next_frame(in_secs(3.0)).await.expect("a keep-alive");
    let sse = Sse::new(futures_util::stream::pending::<Result<Event, Infallible>>())
        .keep_alive(KeepAlive::new().interval(Duration::from_millis(5)));
    let mut body = sse.into_response().into_body().into_data_stream();
    let theirs = body.next().await.unwrap().unwrap();
    assert_eq!(ours.as_bytes(), &theirs[..]);
    sim.shutdown().await;
}
