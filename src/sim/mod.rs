//! The embedded `SignalDock` simulator: an axum server on loopback that speaks the wire contract
//! (DESIGN §3) and plays one scenario (DESIGN §4). The monitor talks to it only over HTTP,
//! exactly as to a real server.
//!
//! It models the official `signaldock-transport` SSE adapter rather than imitating a stream: one
//! current stream per agent id, a heartbeat task per connection that outlives it (`hub.rs`), and
//! frames byte for byte as the adapter writes them (`frames.rs`); `tests/conformance.rs` checks
//! both against the real crate.

mod envelope;
mod frames;
mod hub;
mod inbox;
mod peers;
mod scenario;
mod stream;
mod takeover;

pub use hub::{HEARTBEAT_TASKS_PER_AGENT, SimStats};
pub use scenario::Scenario;

use axum::Router;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

use envelope::{ApiError, Code};
use hub::{Connection, Heartbeat, Hub};
use inbox::{Inbox, Msg};

/// Where the `moved` scenario sends the stream and the peek.
const MOVED_STREAM: &str = "/v2/messages/stream";
const MOVED_PEEK: &str = "/v2/messages/peek";

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub scenario: Scenario,
    pub agent: String,
    pub api_key: String,
    /// Heartbeat interval, in simulated time.
    pub heartbeat_interval: Duration,
    /// Mean gap between peer messages, in simulated time.
    pub peer_interval: Duration,
    /// Simulated seconds played per real second.
    pub time_scale: f64,
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            scenario: Scenario::Healthy,
            agent: "demo".into(),
            api_key: "demo".into(),
            heartbeat_interval: Duration::from_secs(15),
            peer_interval: Duration::from_secs(4),
            time_scale: 1.0,
            seed: 7,
        }
    }
}

impl SimConfig {
    /// The real duration of a simulated one (never below 1 ms).
    pub fn real(&self, simulated: Duration) -> Duration {
        let scale = if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale
        } else {
            1.0
        };
        simulated.div_f64(scale).max(Duration::from_millis(1))
    }
}

/// The state the handlers and the simulated clients share.
struct Sim {
    config: SimConfig,
    inbox: Mutex<Inbox>,
    hub: Arc<Hub>,
    /// The stream side's draws (refusals, session ages, resets), seeded.
    rng: Mutex<fastrand::Rng>,
    /// The peeks' draws, apart: otherwise how often a client peeks would decide which draws its
    /// stream requests get, and a seeded run would turn out differently with the peek timing.
    peek_rng: Mutex<fastrand::Rng>,
    shutdown: watch::Receiver<bool>,
    /// The conversation of messages the agent sends itself (probes).
    own_conversation: Uuid,
}

impl Sim {
    fn chance(&self, p: f64) -> bool {
        self.rng.lock().is_ok_and(|mut r| r.f64() < p)
    }

    fn peek_chance(&self, p: f64) -> bool {
        self.peek_rng.lock().is_ok_and(|mut r| r.f64() < p)
    }

    fn between(&self, lo: f64, hi: f64) -> f64 {
        self.rng.lock().map_or(lo, |mut r| lo + (hi - lo) * r.f64())
    }

    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new message: dispatched to the agent's current stream if the scenario streams messages
    /// (then `delivered`, else `pending`), and kept in the inbox. Returns it as stored.
    fn land(&self, mut msg: Msg) -> Msg {
        if self.config.scenario.delivers_messages() && self.hub.send(&msg.to, frames::message(&msg))
        {
            msg.delivered_at = Some(Utc::now());
        }
        self.inbox().push(msg.clone());
        msg
    }

    /// A stream connection for the simulated agent, with the scenario's heartbeat task.
    fn connect(&self) -> Connection {
        let scenario = self.config.scenario;
        let heartbeat = Heartbeat {
            every: self
                .config
                .real(scenario.heartbeat_interval(self.config.heartbeat_interval)),
            after_close: scenario.heartbeats_after_close(),
        };
        self.hub.connect(&self.config.agent, heartbeat)
    }

    /// `replay_messages` after a reconnect with `Last-Event-ID: last`: into the current stream.
    fn replay(&self, last: &str) {
        if !self.config.scenario.delivers_messages() {
            return;
        }
        let missed = self.inbox().take_missed(last, Utc::now());
        for msg in &missed {
            self.hub.send(&self.config.agent, frames::message(msg));
        }
    }

    /// The 401 answer when the credentials are wrong (or the scenario refuses all).
    fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let bearer = format!("Bearer {}", self.config.api_key);
        let key_ok = headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == bearer.as_bytes());
        let agent_ok = headers
            .get("x-agent-id")
            .is_some_and(|v| v.as_bytes() == self.config.agent.as_bytes());
        if self.config.scenario == Scenario::AuthFailure || !key_ok || !agent_ok {
            return Some(ApiError::unauthorized().into_response());
        }
        None
    }
}

/// 307 to `path`, keeping the query.
fn moved_to(path: &str, uri: &Uri) -> Response {
    let location = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    Redirect::temporary(&location).into_response()
}

pub struct SimHandle {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    hub: Arc<Hub>,
}

impl SimHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The transport's counters: connections, takeovers, heartbeat tasks, dropped frames.
    pub fn stats(&self) -> SimStats {
        self.hub.stats()
    }

    /// Stops the peers, the heartbeat tasks and every open stream, then the server.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.server).await;
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Binds `addr` (port 0 = any free port) and serves in the background.
pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, shutdown) = watch::channel(false);
    let hub = Arc::new(Hub::new(shutdown.clone()));
    let scenario = config.scenario;
    let sim = Arc::new(Sim {
        rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
        peek_rng: Mutex::new(fastrand::Rng::with_seed(!config.seed)),
        config,
        inbox: Mutex::new(Inbox::default()),
        hub: Arc::clone(&hub),
        shutdown: shutdown.clone(),
        own_conversation: Uuid::new_v4(),
    });
    tokio::spawn(peers::run(Arc::clone(&sim)));
    if scenario == Scenario::Takeover {
        tokio::spawn(takeover::other_client(Arc::clone(&sim)));
    }
    let mut app = Router::new()
        .route("/messages/stream", get(stream::stream))
        .route("/messages/peek", get(inbox::peek))
        .route("/messages", post(inbox::post_message));
    if scenario == Scenario::Moved {
        app = app
            .route(MOVED_STREAM, get(stream::serve))
            .route(MOVED_PEEK, get(inbox::serve_peek));
    }
    let app = app.fallback(not_found).with_state(sim);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stopped(shutdown))
            .await;
    });
    Ok(SimHandle {
        addr,
        stop,
        server,
        hub,
    })
}

/// What `inboxtop serve` prints on start.
pub fn banner(handle: &SimHandle, config: &SimConfig) -> String {
    let base = handle.base_url();
    format!(
        "inboxtop simulator listening on {base}\n\
         scenario: {} — {}\n\
         agent: {}   key: {}   time scale: {}×\n\n\
         stream:  curl -N -H 'Authorization: Bearer {}' -H 'X-Agent-Id: {}' {base}/messages/stream\n\
         peek:    curl -H 'Authorization: Bearer {}' -H 'X-Agent-Id: {}' '{base}/messages/peek?limit=50&mentioned={}'\n\
         monitor: INBOXTOP_API_KEY={} inboxtop watch --base-url {base} --agent {}\n\n\
         Ctrl-C stops it.",
        config.scenario,
        config.scenario.summary(),
        config.agent,
        config.api_key,
        config.time_scale,
        config.api_key,
        config.agent,
        config.api_key,
        config.agent,
        config.agent,
        config.api_key,
        config.agent,
    )
}

/// Resolves once the simulator is told to stop.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await.map(|_| ());
}

async fn not_found() -> Response {
    ApiError::new(Code::NotFoundResource, "no such endpoint").into_response()
}
