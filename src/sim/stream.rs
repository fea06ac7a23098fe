//! `GET /messages/stream`: what each scenario answers, and the bytes of the stream body.
//!
//! Bodies are written chunk by chunk rather than with axum's `Sse` helper, so a scenario controls
//! exactly what goes out: the adapter's frames, an intermediary's bursts, stalls and resets in the
//! middle of a frame.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream;
use std::collections::VecDeque;
use std::future::{pending, ready};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use super::envelope::{ApiError, Code};
use super::hub::Connection;
use super::{Scenario, Sim, frames, moved_to, stopped};

type Chunk = Result<Bytes, std::io::Error>;

/// A proxy that buffers flushes once it holds this much.
const BUFFER_FLUSH_BYTES: usize = 8 * 1024;

/// `GET /messages/stream`: moved away in `moved`, else served.
pub(super) async fn stream(State(sim): State<Arc<Sim>>, headers: HeaderMap, uri: Uri) -> Response {
    if sim.config.scenario == Scenario::Moved {
        return moved_to(super::MOVED_STREAM, &uri);
    }
    serve(State(sim), headers).await
}

pub(super) async fn serve(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Some(refused) = sim.refusal(&headers) {
        return refused;
    }
    match sim.config.scenario {
        Scenario::Rejected => ApiError::rejected().into_response(),
        Scenario::Gone => StatusCode::NO_CONTENT.into_response(),
        Scenario::Flaky if sim.chance(0.3) => {
            let status = if sim.chance(0.5) {
                StatusCode::BAD_GATEWAY
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            ApiError::new(Code::InternalService, "upstream unavailable")
                .with_status(status)
                .retry_after(2)
                .into_response()
        }
        Scenario::HeartbeatFlood => event_stream(seed_outage(&sim)),
        Scenario::Stall => event_stream(stalled(sim.shutdown.clone())),
        _ => {
            let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
            event_stream(adapter_stream(&sim, last_event_id))
        }
    }
}

/// 200 with the headers of axum's `Sse` response.
fn event_stream(body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The seed outage's server: `connected`, 20-30 heartbeats spread over ~1.5 s, then a clean close.
fn seed_outage(sim: &Sim) -> Body {
    let count = 20 + (sim.between(0.0, 11.0) as u32).min(10);
    let spacing = sim.config.real(Duration::from_millis(1500)) / count;
    let shutdown = sim.shutdown.clone();
    let connected = frames::connected(&sim.config.agent, Utc::now());
    let beats = stream::unfold(count, move |left| {
        let shutdown = shutdown.clone();
        async move {
            if left == 0 {
                return None;
            }
            tokio::select! {
                () = sleep(spacing) => Some((Ok(frames::heartbeat(Utc::now())), left - 1)),
                () = stopped(shutdown) => None,
            }
        }
    });
    Body::from_stream(stream::once(ready(Ok::<_, std::io::Error>(connected))).chain(beats))
}

/// Headers, then not a byte until the simulator stops.
fn stalled(shutdown: watch::Receiver<bool>) -> Body {
    Body::from_stream(stream::once(stopped(shutdown)).filter_map(|()| ready(None::<Chunk>)))
}

/// The adapter's stream: registered as the agent's current one (ending the previous), the
/// messages a `Last-Event-ID` missed replayed into it, then relayed as the scenario's route and
/// intermediaries relay it.
fn adapter_stream(sim: &Sim, last_event_id: Option<&str>) -> Body {
    let connection = sim.connect();
    if let Some(last) = last_event_id {
        sim.replay(last);
    }
    let relay = Relay::for_scenario(sim);
    let pump = Pump::new(connection, relay, sim.shutdown.clone());
    Body::from_stream(stream::unfold(pump, |mut pump| async move {
        let chunk = pump.next_chunk().await?;
        Some((chunk, pump))
    }))
}

/// How a connection dies at a given age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// An intermediary resets it between frames.
    Cut,
    /// Reset after half a frame went out.
    MidFrame,
}

/// What stands between the adapter's channel and the client: the route and any intermediary.
#[derive(Debug, Clone, Copy, Default)]
struct Relay {
    /// The route adds axum's `KeepAlive` comment after this long without a frame.
    keep_alive: Option<Duration>,
    /// An intermediary holds the bytes and flushes them this often (or once it holds 8 KiB).
    flush_every: Option<Duration>,
    /// The connection dies at this age.
    end: Option<(Duration, Ending)>,
    /// The route frames the adapter's frames again.
    double_frame: bool,
}

impl Relay {
    fn for_scenario(sim: &Sim) -> Relay {
        let config = &sim.config;
        match config.scenario {
            Scenario::IdleTimeout => Relay {
                keep_alive: Some(config.real(Duration::from_secs(15))),
                end: Some((config.real(Duration::from_secs(100)), Ending::Cut)),
                ..Relay::default()
            },
            Scenario::ProxyBuffering => Relay {
                flush_every: Some(config.real(Duration::from_secs(30))),
                ..Relay::default()
            },
            Scenario::Flaky => {
                let age = Duration::from_secs_f64(sim.between(20.0, 40.0));
                Relay {
                    end: Some((config.real(age), Ending::MidFrame)),
                    ..Relay::default()
                }
            }
            Scenario::DoubleFramed => Relay {
                double_frame: true,
                ..Relay::default()
            },
            // The adapter's bytes as they are.
            _ => Relay::default(),
        }
    }
}

/// One stream body: pulls the adapter's frames through the relay.
struct Pump {
    connection: Connection,
    relay: Relay,
    shutdown: watch::Receiver<bool>,
    opened: Instant,
    last_write: Instant,
    next_flush: Option<Instant>,
    /// Bytes a buffering intermediary holds (less than [`BUFFER_FLUSH_BYTES`] between flushes).
    held: Vec<u8>,
    out: VecDeque<Chunk>,
    done: bool,
}

impl Pump {
    fn new(connection: Connection, relay: Relay, shutdown: watch::Receiver<bool>) -> Pump {
        let now = Instant::now();
        Pump {
            connection,
            relay,
            shutdown,
            opened: now,
            last_write: now,
            next_flush: relay.flush_every.map(|every| now + every),
            held: Vec::new(),
            out: VecDeque::new(),
            done: false,
        }
    }

    /// The next chunk of the body; `None` ends it cleanly.
    async fn next_chunk(&mut self) -> Option<Chunk> {
        loop {
            if let Some(chunk) = self.out.pop_front() {
                return Some(chunk);
            }
            if self.done {
                return None;
            }
            self.step().await;
        }
    }

    async fn step(&mut self) {
        let keep_alive_at = self.relay.keep_alive.map(|after| self.last_write + after);
        let end = self.relay.end.map(|(age, how)| (self.opened + age, how));
        tokio::select! {
            frame = self.connection.frames.recv() => {
                if let Some(frame) = frame {
                    self.write(frame);
                } else {
                    // A newer connection took the agent id: whatever is held goes out, then EOF.
                    self.flush();
                    self.done = true;
                }
            }
            () = at(keep_alive_at) => self.write(Bytes::from_static(frames::KEEP_ALIVE)),
            () = at(self.next_flush) => self.burst(),
            () = at(end.map(|(when, _)| when)) => {
                if end.is_some_and(|(_, how)| how == Ending::MidFrame) {
                    self.out.push_back(Ok(frames::heartbeat(Utc::now()).slice(..20)));
                }
                self.out.push_back(Err(std::io::Error::other("connection reset")));
                self.done = true;
            }
            () = stopped(self.shutdown.clone()) => self.done = true,
        }
    }

    fn write(&mut self, frame: Bytes) {
        self.last_write = Instant::now();
        let frame = if self.relay.double_frame {
            frames::double_framed(&frame)
        } else {
            frame
        };
        match self.relay.flush_every {
            Some(_) => {
                self.held.extend_from_slice(&frame);
                if self.held.len() >= BUFFER_FLUSH_BYTES {
                    self.burst();
                }
            }
            None => self.out.push_back(Ok(frame)),
        }
    }

    /// A buffering intermediary lets go of what it holds, and holds again for `flush_every`.
    fn burst(&mut self) {
        self.flush();
        self.next_flush = self.relay.flush_every.map(|every| Instant::now() + every);
    }

    fn flush(&mut self) {
        if !self.held.is_empty() {
            self.out
                .push_back(Ok(Bytes::from(std::mem::take(&mut self.held))));
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}
