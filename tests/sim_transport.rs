//! The simulator as the real `SignalDock` transport, over loopback HTTP: one stream per agent id,
//! heartbeat tasks that outlive their connection, the adapter's exact frames, `Last-Event-ID`
//! replay, and the answers of the transport scenarios. Time runs compressed (`time_scale`).

#[path = "support/sim_client.rs"]
mod sim_client;

use std::time::Duration;

use chrono::{DateTime, Utc};
use inboxtop::sim::{Scenario, SimConfig};
use serde_json::Value;
use sim_client::{End, Frame, adapter_frame, config, get, open, peek, start};
use tokio::time::{Instant, sleep};

fn in_secs(s: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(s)
}

#[tokio::test]
async fn a_second_connection_with_the_same_agent_id_ends_the_first_stream() {
    let sim = start(config(Scenario::Healthy, 1.0)).await;
    let mut first = open(&sim, None).await;
    let mut second = open(&sim, None).await;
    assert_eq!(
        first.end_within(Duration::from_secs(2)).await,
        Some(End::Eof),
        "the first stream ends cleanly, as when the adapter drops its sender"
    );
    assert_eq!(
        second.end_within(Duration::from_millis(300)).await,
        None,
        "the second stays open"
    );
    let stats = sim.stats();
    assert_eq!((stats.connections, stats.replaced), (2, 1));
    sim.shutdown().await;
}

/// Heartbeat payload times chained into series of one period each (a gap within 30 % of it).
fn series(times: &[DateTime<Utc>], period: f64) -> Vec<Vec<DateTime<Utc>>> {
    let mut chains: Vec<Vec<DateTime<Utc>>> = Vec::new();
    for &t in times {
        let next_of = chains.iter_mut().find(|chain| {
            let gap = (t - *chain.last().unwrap()).as_seconds_f64();
            (gap - period).abs() < 0.3 * period
        });
        match next_of {
            Some(chain) => chain.push(t),
            None => chains.push(vec![t]),
        }
    }
    chains
}

#[tokio::test]
async fn heartbeat_tasks_outlive_their_connection_and_stack_on_the_current_stream() {
    // A heartbeat every 0.5 s; no peer message during the test.
    let sim = start(SimConfig {
        peer_interval: Duration::from_secs(3600),
        ..config(Scenario::Healthy, 30.0)
    })
    .await;
    let period = 0.5;
    let first = open(&sim, None).await;
    sleep(Duration::from_secs_f64(period / 2.0)).await;
    let mut second = open(&sim, None).await;
    drop(first);
    let mut times = Vec::new();
    for frame in second.frames_until(in_secs(3.2)).await {
        match adapter_frame(&frame) {
            Some(Frame::Heartbeat { timestamp }) => times.push(timestamp.parse().unwrap()),
            other => panic!("unexpected frame {other:?}: {frame:?}"),
        }
    }
    let chains = series(&times, period);
    let lengths: Vec<usize> = chains.iter().map(Vec::len).collect();
    assert_eq!(chains.len(), 2, "two interleaved series: {times:?}");
    assert_eq!(
        lengths[0], 4,
        "the first connection's task fires 4 more beats into the second stream, then stops"
    );
    assert!(
        lengths[1] >= 5,
        "the second's own task keeps beating: {lengths:?}"
    );
    let offset = (chains[1][0] - chains[0][0])
        .as_seconds_f64()
        .rem_euclid(period);
    assert!(
        (offset - period / 2.0).abs() < 0.15,
        "the series are half a period apart: {offset}"
    );
    assert!(sim.stats().heartbeat_tasks_live >= 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn healthy_frames_are_byte_for_byte_the_adapters() {
    let sim = start(config(Scenario::Healthy, 30.0)).await;
    let mut stream = open(&sim, None).await;
    let (mut heartbeats, mut messages) = (Vec::new(), 0);
    let deadline = in_secs(5.0);
    while heartbeats.len() < 3 || messages < 3 {
        let frame = stream
            .next_frame(deadline)
            .await
            .expect("3 heartbeats and 3 messages in time");
        match adapter_frame(&frame) {
            Some(Frame::Heartbeat { timestamp }) => heartbeats.push(timestamp),
            Some(Frame::Message { data, .. }) => {
                messages += 1;
                let json: Value = serde_json::from_str(&data).unwrap();
                assert!(json["from"].as_str().unwrap().starts_with("agent-"));
            }
            None => panic!("not an adapter frame (no connected event, no comments): {frame:?}"),
        }
    }
    // `Utc::now().to_rfc3339()` shows nanoseconds (fewer digits only when they are zeros).
    assert!(
        heartbeats
            .iter()
            .any(|t| t.len() == "2026-11-25T14:34:17.698693673+00:00".len()),
        "{heartbeats:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn last_event_id_replays_the_pending_messages_missed_in_between() {
    let sim = start(SimConfig {
        heartbeat_interval: Duration::from_secs(3600),
        ..config(Scenario::Healthy, 30.0)
    })
    .await;
    let mut first = open(&sim, None).await;
    let last = loop {
        let frame = first.next_frame(in_secs(3.0)).await.expect("a message");
        if let Some(Frame::Message { id, .. }) = adapter_frame(&frame) {
            break id;
        }
    };
    drop(first);
    sleep(Duration::from_millis(800)).await;
    let mut records = peek(&sim).await;
    records.reverse();
    let after = records
        .iter()
        .position(|r| r["id"] == last.as_str())
        .unwrap()
        + 1;
    let missed: Vec<String> = records[after..]
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "pending", "no stream took it");
            r["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(missed.len() >= 2, "messages landed while disconnected");

    let mut second = open(&sim, Some(&last)).await;
    let mut replayed = Vec::new();
    while replayed.len() < missed.len() {
        let frame = second.next_frame(in_secs(2.0)).await.expect("the replay");
        if let Some(Frame::Message { id, .. }) = adapter_frame(&frame) {
            replayed.push(id);
        }
    }
    assert_eq!(replayed, missed, "the missed messages, oldest first");
    let now_delivered = peek(&sim).await;
    assert!(
        now_delivered
            .iter()
            .filter(|r| missed.iter().any(|id| r["id"] == id.as_str()))
            .all(|r| r["status"] == "delivered")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn moved_answers_307_to_v2_paths_that_are_healthy() {
    let sim = start(config(Scenario::Moved, 30.0)).await;
    for (path, to) in [
        ("/messages/stream", "/v2/messages/stream"),
        (
            "/messages/peek?limit=5&mentioned=demo",
            "/v2/messages/peek?limit=5&mentioned=demo",
        ),
    ] {
        let response = get(&sim, path, None).await;
        assert_eq!(response.status(), 307, "{path}");
        assert_eq!(response.headers()["location"], to);
    }
    let peeked = get(&sim, "/v2/messages/peek?limit=5", None).await;
    assert_eq!(peeked.status(), 200);
    let response = get(&sim, "/v2/messages/stream", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(sim.stats().connections, 1);
    sim.shutdown().await;

    let healthy = start(config(Scenario::Healthy, 30.0)).await;
    let response = get(&healthy, "/v2/messages/stream", None).await;
    assert_eq!(response.status(), 404, "only `moved` serves the v2 paths");
    healthy.shutdown().await;
}

#[tokio::test]
async fn gone_answers_204_on_the_stream_and_peek_still_works() {
    let sim = start(config(Scenario::Gone, 30.0)).await;
    let response = get(&sim, "/messages/stream", None).await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(get(&sim, "/messages/peek", None).await.status(), 200);
    assert_eq!(sim.stats().connections, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn rejected_answers_400_with_the_error_envelope_on_stream_and_peek() {
    let sim = start(config(Scenario::Rejected, 30.0)).await;
    for path in ["/messages/stream", "/messages/peek?limit=50"] {
        let response = get(&sim, path, None).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "E_VALIDATION_SCHEMA");
        assert_eq!(body["error"]["category"], "VALIDATION");
        assert_eq!(body["error"]["retryable"], false);
        assert!(body["error"]["message"].is_string());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn double_framed_events_carry_the_adapters_frames_as_data_lines() {
    let sim = start(SimConfig {
        heartbeat_interval: Duration::from_secs(3),
        ..config(Scenario::DoubleFramed, 30.0)
    })
    .await;
    let mut stream = open(&sim, None).await;
    let (mut heartbeats, mut messages) = (0, 0);
    let deadline = in_secs(5.0);
    while heartbeats < 2 || messages < 2 {
        let outer = stream.next_frame(deadline).await.expect("frames in time");
        let lines: Vec<&str> = outer.strip_suffix("\n\n").unwrap().split('\n').collect();
        let data: Vec<&str> = lines
            .iter()
            .map(|l| l.strip_prefix("data: ").expect("only data lines"))
            .collect();
        // The outer event's data, as an SSE client assembles it, is the adapter's frame.
        let inner = data.join("\n");
        match adapter_frame(&inner) {
            Some(Frame::Heartbeat { .. }) => heartbeats += 1,
            Some(Frame::Message { .. }) => messages += 1,
            None => panic!("inner frame not the adapter's: {inner:?}"),
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn takeover_ends_the_monitors_stream_again_and_again_and_takes_messages() {
    // The other client reconnects every 0.1-0.4 s; a peer message every ~0.1 s.
    let sim = start(SimConfig {
        peer_interval: Duration::from_secs(1),
        ..config(Scenario::Takeover, 10.0)
    })
    .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut stream = open(&sim, None).await;
        let deadline = in_secs(1.0);
        while let Some(frame) = stream.next_frame(deadline).await {
            if let Some(Frame::Message { id, .. }) = adapter_frame(&frame) {
                seen.push(id);
            }
        }
        assert_eq!(
            stream.end_within(Duration::ZERO).await,
            Some(End::Eof),
            "the other client's connect ends our stream cleanly within 4 s (simulated)"
        );
        // A reconnect delay, as any client's backoff: the other client holds the stream meanwhile.
        sleep(Duration::from_millis(300)).await;
    }
    let stats = sim.stats();
    assert!(stats.replaced >= 3, "{stats:?}");
    assert!(
        stats.connections > 3,
        "the other client connects too: {stats:?}"
    );
    assert!(
        stats.heartbeat_tasks_live >= 3,
        "heartbeat tasks outlive their connections: {stats:?}"
    );
    let taken = peek(&sim)
        .await
        .into_iter()
        .filter(|r| r["status"] == "delivered" && !seen.iter().any(|id| r["id"] == id.as_str()))
        .count();
    assert!(
        taken >= 1,
        "some messages went to the other client's stream"
    );
    sim.shutdown().await;
}
