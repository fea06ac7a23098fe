//! The embedded SignalDock-like simulator: an axum server on loopback that speaks the wire
//! contract (DESIGN §3) and plays one scenario (DESIGN §4). The monitor talks to it only over HTTP,
//! exactly as to a real server.
//!
//! Stream bodies are written byte by byte through a channel rather than with axum's `Sse` helper,
//! so a scenario controls exactly what goes out: bursts, stalls, resets in the middle of a frame.

mod scenario;

pub use scenario::Scenario;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until};

/// Messages the simulated inbox keeps (the newest).
const INBOX_CAP: usize = 1000;
/// Messages replayed after a reconnect with `Last-Event-ID`.
const REPLAY_MAX: usize = 100;
const PEERS: &[(&str, &str)] = &[
    ("agent-ops", "Ops"),
    ("agent-billing", "Billing"),
    ("agent-search", "Search"),
];
const CONTENTS: &[&str] = &[
    "deploy {n} finished",
    "invoice {n} is ready for review",
    "index rebuild {n} done, 0 errors",
    "can you summarise ticket #{n}?",
    "nightly report {n} attached",
];

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

/// One message of the simulated inbox.
#[derive(Debug, Clone)]
struct Msg {
    id: String,
    conversation: String,
    from: String,
    from_name: String,
    to: String,
    content: String,
    created_at: String,
}

impl Msg {
    fn stream_json(&self) -> Value {
        json!({"messageId": self.id, "conversationId": self.conversation, "from": self.from,
            "fromName": self.from_name, "to": self.to, "content": self.content,
            "contentType": "text", "createdAt": self.created_at, "attachments": []})
    }

    fn peek_json(&self) -> Value {
        json!({"id": self.id, "conversationId": self.conversation, "fromAgentId": self.from,
            "fromAgentName": self.from_name, "toAgentId": self.to, "content": self.content,
            "contentType": "text", "status": "delivered", "createdAt": self.created_at, "metadata": {}})
    }
}

struct Shared {
    config: SimConfig,
    inbox: Mutex<VecDeque<Msg>>,
    new_messages: broadcast::Sender<Msg>,
    rng: Mutex<fastrand::Rng>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn chance(&self, p: f64) -> bool {
        self.rng.lock().map(|mut r| r.f64() < p).unwrap_or(false)
    }

    fn between(&self, lo: f64, hi: f64) -> f64 {
        self.rng
            .lock()
            .map(|mut r| lo + (hi - lo) * r.f64())
            .unwrap_or(lo)
    }

    fn land(&self, msg: Msg) {
        if let Ok(mut inbox) = self.inbox.lock() {
            if inbox.len() == INBOX_CAP {
                inbox.pop_front();
            }
            inbox.push_back(msg.clone());
        }
        let _ = self.new_messages.send(msg);
    }
}

pub struct SimHandle {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the peers and every open stream, then the server.
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
    let shared = Arc::new(Shared {
        rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
        config,
        inbox: Mutex::new(VecDeque::new()),
        new_messages: broadcast::channel(256).0,
        shutdown: shutdown.clone(),
    });
    tokio::spawn(peers(shared.clone()));
    let app = Router::new()
        .route("/messages/stream", get(stream))
        .route("/messages/peek", get(peek))
        .route("/messages", axum::routing::post(post_message))
        .fallback(not_found)
        .with_state(shared);
    let until = shutdown;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                stopped(until).await;
            })
            .await;
    });
    Ok(SimHandle { addr, stop, server })
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

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Simulated peers: a message to the agent every ~peer_interval (±50 %).
async fn peers(shared: Arc<Shared>) {
    let shutdown = shared.shutdown.clone();
    let mut n = 4500u64;
    loop {
        let gap = shared
            .config
            .peer_interval
            .mul_f64(shared.between(0.5, 1.5));
        tokio::select! {
            () = sleep(shared.config.real(gap)) => {}
            () = stopped(shutdown.clone()) => return,
        }
        n += 1;
        let (from, name) = PEERS[(n as usize) % PEERS.len()];
        let content = CONTENTS[(n as usize) % CONTENTS.len()].replace("{n}", &n.to_string());
        shared.land(Msg {
            id: uuid::Uuid::new_v4().to_string(),
            conversation: format!("conv-{from}"),
            from: from.into(),
            from_name: name.into(),
            to: shared.config.agent.clone(),
            content,
            created_at: now_rfc3339(),
        });
    }
}

fn error(status: StatusCode, code: &str, message: &str, retryable: bool) -> Response {
    (status, axum::Json(json!({"success": false, "error": {"code": code, "message": message, "retryable": retryable}})))
        .into_response()
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "E_AUTH_UNAUTHORIZED",
        "invalid API key or agent id",
        false,
    )
}

/// The 401 response when the credentials are wrong (or the scenario refuses all).
fn refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let bearer = format!("Bearer {}", shared.config.api_key);
    let key_ok = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == bearer.as_bytes());
    let agent_ok = headers
        .get("x-agent-id")
        .is_some_and(|v| v.as_bytes() == shared.config.agent.as_bytes());
    if shared.config.scenario == Scenario::AuthFailure || !key_ok || !agent_ok {
        return Some(unauthorized());
    }
    None
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "E_NOT_FOUND",
        "no such endpoint",
        false,
    )
}

async fn peek(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = refusal(&shared, &headers) {
        return resp;
    }
    if shared.config.scenario == Scenario::Flaky && shared.chance(0.1) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "E_UPSTREAM",
            "upstream unavailable",
            true,
        );
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 200);
    let messages: Vec<Value> = shared
        .inbox
        .lock()
        .map(|inbox| inbox.iter().rev().take(limit).map(Msg::peek_json).collect())
        .unwrap_or_default();
    axum::Json(json!({"success": true, "data": {"messages": messages}})).into_response()
}

async fn post_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(resp) = refusal(&shared, &headers) {
        return resp;
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "E_VALIDATION",
            "body is not JSON",
            false,
        );
    };
    let (Some(to), Some(content)) = (req["toAgentId"].as_str(), req["content"].as_str()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "E_VALIDATION",
            "toAgentId and content are required",
            false,
        );
    };
    let msg = Msg {
        id: uuid::Uuid::new_v4().to_string(),
        conversation: format!("conv-{}", shared.config.agent),
        from: shared.config.agent.clone(),
        from_name: "inboxtop".into(),
        to: to.into(),
        content: content.into(),
        created_at: now_rfc3339(),
    };
    let json = msg.peek_json();
    if to == shared.config.agent {
        shared.land(msg);
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"success": true, "data": {"message": json}})),
    )
        .into_response()
}

fn frame(event: &str, id: Option<&str>, data: &Value) -> Bytes {
    let id_line = id.map(|i| format!("id: {i}\n")).unwrap_or_default();
    Bytes::from(format!("{id_line}event: {event}\ndata: {data}\n\n"))
}

fn heartbeat() -> Bytes {
    frame("heartbeat", None, &json!({"timestamp": now_rfc3339()}))
}

type Chunk = Result<Bytes, std::io::Error>;

async fn stream(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(resp) = refusal(&shared, &headers) {
        return resp;
    }
    if shared.config.scenario == Scenario::Flaky && shared.chance(0.3) {
        let status = if shared.chance(0.5) {
            StatusCode::BAD_GATEWAY
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let body = json!({"success": false, "error": {"code": "E_UPSTREAM", "message": "upstream unavailable",
            "retryable": true, "retry_after_ms": 2000}});
        return (status, [(header::RETRY_AFTER, "2")], axum::Json(body)).into_response();
    }
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (tx, rx) = mpsc::channel::<Chunk>(64);
    tokio::spawn(produce(shared, tx, last_event_id));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Writes one stream's body as the scenario says, until the client goes away or the server stops.
async fn produce(shared: Arc<Shared>, tx: mpsc::Sender<Chunk>, last_event_id: Option<String>) {
    let config = &shared.config;
    let shutdown = shared.shutdown.clone();
    let connected = frame(
        "connected",
        None,
        &json!({"agentId": config.agent, "connectedAt": now_rfc3339()}),
    );
    if tx.send(Ok(connected)).await.is_err() {
        return;
    }
    match config.scenario {
        Scenario::HeartbeatFlood => {
            let count = 20 + (shared.between(0.0, 11.0) as u32).min(10);
            let spacing = config.real(Duration::from_millis(1500)) / count;
            for _ in 0..count {
                sleep(spacing).await;
                if tx.send(Ok(heartbeat())).await.is_err() {
                    return;
                }
            }
            // Returning ends the body: a clean close.
        }
        Scenario::Stall => {
            tokio::select! {
                () = tx.closed() => {}
                () = stopped(shutdown.clone()) => {}
            }
        }
        _ => run_live(&shared, &tx, last_event_id).await,
    }
}

/// The scenarios with a live stream: heartbeats, messages (or not), keep-alives, and the
/// intermediary's faults (idle cut, buffering, resets).
async fn run_live(shared: &Shared, tx: &mpsc::Sender<Chunk>, last_event_id: Option<String>) {
    let config = &shared.config;
    let scenario = config.scenario;
    let streams_messages = !matches!(scenario, Scenario::SilentDrop);
    let mut messages = shared.new_messages.subscribe();
    let shutdown = shared.shutdown.clone();
    let hb_every = config.real(match scenario {
        Scenario::IdleTimeout => Duration::from_secs(120),
        _ => config.heartbeat_interval,
    });
    let keepalive_after = config.real(Duration::from_secs(15));
    let start = Instant::now();
    let cut_at =
        (scenario == Scenario::IdleTimeout).then(|| start + config.real(Duration::from_secs(100)));
    let reset_at = (scenario == Scenario::Flaky)
        .then(|| start + config.real(Duration::from_secs_f64(shared.between(20.0, 40.0))));
    let buffering = scenario == Scenario::ProxyBuffering;
    let flush_every = config.real(Duration::from_secs(30));
    let mut held: Vec<u8> = Vec::new();
    let mut next_flush = start + flush_every;
    let mut next_beat = start + hb_every;
    let mut last_write = Instant::now();

    let mut pending: VecDeque<Bytes> = VecDeque::new();
    if streams_messages && let Some(last) = last_event_id {
        pending.extend(
            missed_since(shared, &last)
                .iter()
                .map(|m| frame("message", Some(&m.id), &m.stream_json())),
        );
    }
    let far = start + Duration::from_secs(86_400 * 365);
    loop {
        while let Some(chunk) = pending.pop_front() {
            if buffering {
                held.extend_from_slice(&chunk);
                if held.len() < 8 * 1024 {
                    continue;
                }
                next_flush = Instant::now() + flush_every;
                if tx
                    .send(Ok(Bytes::from(std::mem::take(&mut held))))
                    .await
                    .is_err()
                {
                    return;
                }
            } else if tx.send(Ok(chunk)).await.is_err() {
                return;
            }
            last_write = Instant::now();
        }
        let keepalive_at = if buffering {
            far
        } else {
            last_write + keepalive_after
        };
        tokio::select! {
            () = sleep_until(next_beat) => {
                next_beat += hb_every;
                pending.push_back(heartbeat());
            }
            msg = messages.recv(), if streams_messages => match msg {
                Ok(m) => pending.push_back(frame("message", Some(&m.id), &m.stream_json())),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = sleep_until(keepalive_at) => {
                pending.push_back(Bytes::from_static(b": keep-alive\n\n"));
            }
            () = sleep_until(next_flush), if buffering => {
                next_flush += flush_every;
                if !held.is_empty() && tx.send(Ok(Bytes::from(std::mem::take(&mut held)))).await.is_err() {
                    return;
                }
            }
            () = sleep_until(cut_at.unwrap_or(far)), if cut_at.is_some() => {
                let _ = tx.send(Err(std::io::Error::other("connection cut by the proxy"))).await;
                return;
            }
            () = sleep_until(reset_at.unwrap_or(far)), if reset_at.is_some() => {
                let half = heartbeat().slice(..20);
                let _ = tx.send(Ok(half)).await;
                let _ = tx.send(Err(std::io::Error::other("connection reset mid-frame"))).await;
                return;
            }
            () = tx.closed() => return,
            () = stopped(shutdown.clone()) => return,
        }
    }
}

/// Messages that landed after the one with id `last` (up to [`REPLAY_MAX`]).
fn missed_since(shared: &Shared, last: &str) -> Vec<Msg> {
    let Ok(inbox) = shared.inbox.lock() else {
        return Vec::new();
    };
    match inbox.iter().position(|m| m.id == last) {
        Some(i) => inbox.iter().skip(i + 1).take(REPLAY_MAX).cloned().collect(),
        None => Vec::new(),
    }
}
