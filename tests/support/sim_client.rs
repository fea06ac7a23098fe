//! A raw HTTP client for the simulator, shared by `sim_transport.rs` and `conformance.rs`: real
//! requests over loopback, bodies read as bytes and cut into SSE frames, frames checked against
//! the adapter's exact layout.

#![allow(dead_code)] // each test file uses its own part

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

use chrono::DateTime;
use inboxtop::sim::{self, Scenario, SimConfig, SimHandle};
use regex::Regex;
use tokio::time::{Instant, timeout_at};

pub fn config(scenario: Scenario, time_scale: f64) -> SimConfig {
    SimConfig {
        scenario,
        time_scale,
        ..SimConfig::default()
    }
}

pub async fn start(config: SimConfig) -> SimHandle {
    sim::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("simulator on loopback")
}

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET path` with the default simulator's credentials.
pub async fn get(sim: &SimHandle, path: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth("demo")
        .header("X-Agent-Id", "demo")
        .header("Accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    request.send().await.unwrap()
}

/// `GET /messages/stream`, which must answer 200 with an event stream.
pub async fn open(sim: &SimHandle, last_event_id: Option<&str>) -> RawStream {
    let response = get(sim, "/messages/stream", last_event_id).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    RawStream {
        response,
        buffer: Vec::new(),
        ended: None,
    }
}

/// The newest messages of `/messages/peek`, as JSON records.
pub async fn peek(sim: &SimHandle) -> Vec<serde_json::Value> {
    let body: serde_json::Value = get(sim, "/messages/peek?limit=200", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["success"], true);
    body["data"]["messages"].as_array().unwrap().clone()
}

/// How a stream body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Clean end of the body.
    Eof,
    /// The connection broke mid-body.
    Broken,
}

/// A stream body read as raw bytes.
pub struct RawStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
    ended: Option<End>,
}

impl RawStream {
    /// The next complete frame (up to and including its blank line), or `None` at `deadline` or
    /// at the end of the body.
    pub async fn next_frame(&mut self, deadline: Instant) -> Option<String> {
        loop {
            if let Some(at) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..at + 2).collect();
                return Some(String::from_utf8(frame).expect("frames are UTF-8"));
            }
            if self.ended.is_some() {
                return None;
            }
            match timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
                Ok(Ok(None)) => self.ended = Some(End::Eof),
                Ok(Err(_)) => self.ended = Some(End::Broken),
            }
        }
    }

    /// Every frame until `deadline` or the end of the body.
    pub async fn frames_until(&mut self, deadline: Instant) -> Vec<String> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next_frame(deadline).await {
            frames.push(frame);
        }
        frames
    }

    /// Reads frames until the body ends (returning how) or `within` passes (`None`).
    pub async fn end_within(&mut self, within: Duration) -> Option<End> {
        let deadline = Instant::now() + within;
        while self.next_frame(deadline).await.is_some() {}
        self.ended
    }
}

const TIME: &str = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3}|\.\d{6}|\.\d{9})?\+00:00";
const UUID: &str = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

static HEARTBEAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"\Aevent: heartbeat\ndata: \{{"timestamp":"({TIME})"\}}\n\n\z"#
    ))
    .unwrap()
});

static MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"\Aid: ({UUID})\nevent: message\ndata: (\{{"attachments":\[\],"content":"(?:[^"\\]|\\.)*","contentType":"text","conversationId":"{UUID}","createdAt":"({TIME})","from":"[a-z-]+","messageId":"({UUID})"\}})\n\n\z"#
    ))
    .unwrap()
});

/// A frame in the adapter's exact layout.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Heartbeat { timestamp: String },
    Message { id: String, data: String },
}

/// The frame if it is byte for byte one the adapter writes: a heartbeat without `id:`, or a
/// message whose keys are in alphabetical order and whose `id:` is its `messageId`. Timestamps
/// must read back to the very same text through chrono's `to_rfc3339()`.
pub fn adapter_frame(frame: &str) -> Option<Frame> {
    if let Some(c) = HEARTBEAT.captures(frame) {
        let timestamp = c[1].to_owned();
        assert_rfc3339(&timestamp);
        return Some(Frame::Heartbeat { timestamp });
    }
    let c = MESSAGE.captures(frame)?;
    assert_eq!(&c[1], &c[4], "id: is the messageId");
    assert_rfc3339(&c[3]);
    Some(Frame::Message {
        id: c[1].to_owned(),
        data: c[2].to_owned(),
    })
}

/// `s` is what chrono's `to_rfc3339()` writes for the instant it names.
pub fn assert_rfc3339(s: &str) {
    let parsed = DateTime::parse_from_rfc3339(s).unwrap();
    assert_eq!(parsed.to_rfc3339(), s, "to_rfc3339 form");
}
