//! The stream source against small servers on loopback that play simple or hostile roles.
//!
//! Real HTTP, no mocked client. Settings use short timeouts and backoffs so the whole file runs
//! in a couple of seconds (the `Retry-After: 1` test waits its second on purpose).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use futures_util::{StreamExt, stream};
use inboxtop::observation::{Clock, CloseReason, Kind, NetErrorClass, Observation};
use inboxtop::secret::ApiKey;
use inboxtop::source::{Endpoint, StreamCommand, StreamSettings, run_stream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const KEY: &str = "sk_test_SECRET_0123456789";
const AGENT: &str = "agent-7";

/// Starts `app` on 127.0.0.1:0 and returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn endpoint(base: &str) -> Endpoint {
    Endpoint::new(base, AGENT, ApiKey::new(KEY)).unwrap()
}

fn fast() -> StreamSettings {
    StreamSettings {
        backoff_initial: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
        stable_after: Duration::from_secs(60),
        read_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(1),
        max_line_bytes: 1024,
    }
}

/// An event-stream response whose body is `chunks`, then EOF (or a stall when `stall`).
fn sse(chunks: Vec<Vec<u8>>, stall: bool) -> Response {
    let body = stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, Infallible>(Bytes::from(c))),
    );
    let body = if stall {
        Body::from_stream(body.chain(stream::pending()))
    } else {
        Body::from_stream(body)
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap()
}

/// Request headers a server saw, one map per request.
type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// A running stream source and everything it observed.
struct Run {
    rx: mpsc::Receiver<Observation>,
    commands: mpsc::Sender<StreamCommand>,
    task: JoinHandle<()>,
    started: Instant,
}

impl Run {
    fn start(endpoint: Endpoint, settings: StreamSettings) -> Run {
        let (tx, rx) = mpsc::channel(16);
        let (commands, command_rx) = mpsc::channel(4);
        let task = tokio::spawn(run_stream(
            endpoint,
            settings,
            Clock::start(),
            tx,
            command_rx,
        ));
        Run {
            rx,
            commands,
            task,
            started: Instant::now(),
        }
    }

    /// The next observation; checks on every one that the key is not in its JSON.
    async fn next(&mut self) -> Observation {
        let obs = tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("an observation within 5 s")
            .expect("the source is running");
        let json = serde_json::to_string(&obs).unwrap();
        assert!(
            !json.contains(KEY) && !json.contains("SECRET_0123"),
            "key leaked: {json}"
        );
        obs
    }

    /// Observations up to and including the first that matches `stop`.
    async fn until(&mut self, stop: impl Fn(&Kind) -> bool) -> Vec<Observation> {
        let mut seen = Vec::new();
        loop {
            let obs = self.next().await;
            let done = stop(&obs.kind);
            seen.push(obs);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn kinds(obs: &[Observation]) -> Vec<&Kind> {
    obs.iter().map(|o| &o.kind).collect()
}

fn is_retry(k: &Kind) -> bool {
    matches!(k, Kind::RetryScheduled { .. })
}

fn closed_reason(obs: &[Observation]) -> &CloseReason {
    obs.iter()
        .find_map(|o| match &o.kind {
            Kind::StreamClosed { reason, .. } => Some(reason),
            _ => None,
        })
        .expect("a StreamClosed")
}

fn events(obs: &[Observation]) -> Vec<(String, Option<String>, String)> {
    obs.iter()
        .filter_map(|o| match &o.kind {
            Kind::SseEvent {
                event, id, data, ..
            } => Some((event.clone(), id.clone(), data.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn normal_session_is_observed_in_order_and_reconnects_with_last_event_id() {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/messages/stream",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                seen.lock().unwrap().push(headers);
                sse(
                    vec![
                        b"event: connected\ndata: {\"agent\":\"agent-7\"}\n\n".to_vec(),
                        b": keep-alive\n\n".to_vec(),
                        b"event: heartbeat\ndata: {\"timestamp\":\"2026-11-25T03:00:00Z\"}\n\n"
                            .to_vec(),
                        b"event: heartbeat\ndata: {\"timestamp\":\"2026-11-25T03:00:30Z\"}\n\n"
                            .to_vec(),
                        b"id: m1\nevent: message\ndata: {\"messageId\":\"m1\",\"content\":\"hi\"}\n\n"
                            .to_vec(),
                    ],
                    false,
                )
            }),
        )
        .with_state(seen.clone());
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let first = run.until(is_retry).await;
    let second = run
        .until(|k| matches!(k, Kind::StreamResponse { .. }))
        .await;

    let k = kinds(&first);
    assert!(
        matches!(
            k[0],
            Kind::ConnectAttempt {
                session: 1,
                last_event_id: None
            }
        ),
        "{k:?}"
    );
    match k[1] {
        Kind::StreamResponse {
            session: 1,
            status: 200,
            content_type,
            content_encoding: None,
            error: None,
            headers,
            ..
        } => {
            assert_eq!(content_type.as_deref(), Some("text/event-stream"));
            assert!(
                headers
                    .iter()
                    .any(|(n, v)| n == "cache-control" && v == "no-cache")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(k[2], Kind::SseEvent { session: 1, event, .. } if event == "connected"));
    assert!(matches!(k[3], Kind::SseComment { session: 1, text } if text == "keep-alive"));
    assert_eq!(
        events(&first),
        vec![
            ("connected".into(), None, r#"{"agent":"agent-7"}"#.into()),
            (
                "heartbeat".into(),
                None,
                r#"{"timestamp":"2026-11-25T03:00:00Z"}"#.into()
            ),
            (
                "heartbeat".into(),
                None,
                r#"{"timestamp":"2026-11-25T03:00:30Z"}"#.into()
            ),
            (
                "message".into(),
                Some("m1".into()),
                r#"{"messageId":"m1","content":"hi"}"#.into()
            ),
        ]
    );
    let n = k.len();
    assert!(matches!(
        k[n - 2],
        Kind::StreamClosed {
            session: 1,
            reason: CloseReason::Eof
        }
    ));
    match k[n - 1] {
        Kind::RetryScheduled { delay_ms, reason } => {
            assert!(*delay_ms <= 20, "{delay_ms}");
            assert!(reason.contains("server closed the stream"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        first.windows(2).all(|w| w[0].t <= w[1].t),
        "monotonic timestamps"
    );
    assert!(matches!(
        &second[0].kind,
        Kind::ConnectAttempt { session: 2, last_event_id: Some(id) } if id == "m1"
    ));

    let seen = seen.lock().unwrap();
    let h = &seen[0];
    assert_eq!(h["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(h["x-agent-id"], AGENT);
    assert_eq!(h["accept"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache");
    assert!(h.get("last-event-id").is_none());
    assert_eq!(seen[1]["last-event-id"], "m1");
}

#[tokio::test]
async fn unauthorized_backs_off_to_the_cap_and_says_why_without_leaking_the_key() {
    // A careless server echoes the Authorization header in its error and in a header.
    let app = Router::new().route(
        "/messages/stream",
        get(|headers: HeaderMap| async move {
            let auth = headers["authorization"].to_str().unwrap().to_owned();
            let body = format!(
                r#"{{"success":false,"error":{{"code":"E_AUTH_UNAUTHORIZED","message":"invalid key in '{auth}'","retryable":false}}}}"#
            );
            Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-request-id", auth)
                .body(Body::from(body))
                .unwrap()
        }),
    );
    let base = serve(app).await;
    let settings = fast();
    let cap = settings.backoff_cap;
    let mut run = Run::start(endpoint(&base), settings);
    let obs = run.until(is_retry).await;
    match &obs[1].kind {
        Kind::StreamResponse {
            status: 401,
            error: Some(e),
            headers,
            ..
        } => {
            assert_eq!(e.code.as_deref(), Some("E_AUTH_UNAUTHORIZED"));
            assert_eq!(e.retryable, Some(false));
            assert!(e.message.as_deref().unwrap().contains("invalid key"));
            assert!(headers.iter().any(|(n, _)| n == "x-request-id"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(closed_reason(&obs), CloseReason::Rejected { detail } if detail.contains("401"))
    );
    match &obs.last().unwrap().kind {
        Kind::RetryScheduled { delay_ms, reason } => {
            assert_eq!(*delay_ms, cap.as_millis() as u64);
            assert_eq!(
                reason,
                "401 E_AUTH_UNAUTHORIZED: check the API key / agent id"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn html_page_with_200_is_rejected_unread() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async {
            Response::builder()
                .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
                .body(Body::from(
                    "<html><body>data: fake\n\nPlease log in</body></html>",
                ))
                .unwrap()
        }),
    );
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    assert!(
        matches!(&obs[1].kind, Kind::StreamResponse { status: 200, content_type: Some(ct), .. } if ct.starts_with("text/html"))
    );
    match closed_reason(&obs) {
        CloseReason::Rejected { detail } => {
            assert!(detail.contains("text/html"), "{detail}");
            assert!(detail.contains("not text/event-stream"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(events(&obs).is_empty(), "the page must not be parsed");
}

#[tokio::test]
async fn compressed_event_stream_is_rejected() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async {
            let mut r = sse(
                vec![vec![0x1f, 0x8b, 0x08, 0x00], b"data: x\n\n".to_vec()],
                false,
            );
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
            r
        }),
    );
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    assert!(
        matches!(&obs[1].kind, Kind::StreamResponse { status: 200, content_encoding: Some(e), .. } if e == "gzip")
    );
    match closed_reason(&obs) {
        CloseReason::Rejected { detail } => {
            assert!(detail.contains("compressed"), "{detail}");
            assert!(detail.contains("gzip"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(events(&obs).is_empty());
}

#[tokio::test]
async fn retry_after_is_honoured_even_with_a_tiny_backoff() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async {
            Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header(header::RETRY_AFTER, "1")
                .body(Body::from("busy"))
                .unwrap()
        }),
    );
    let base = serve(app).await;
    let mut settings = fast();
    settings.backoff_initial = Duration::from_millis(5);
    settings.backoff_cap = Duration::from_millis(10);
    let mut run = Run::start(endpoint(&base), settings);
    let obs = run
        .until(|k| matches!(k, Kind::ConnectAttempt { session: 2, .. }))
        .await;
    let response = obs
        .iter()
        .find(|o| matches!(o.kind, Kind::StreamResponse { .. }))
        .unwrap();
    assert!(matches!(
        &response.kind,
        Kind::StreamResponse { status: 503, retry_after_ms: Some(1000), error: Some(e), .. }
            if e.body_excerpt.as_deref() == Some("busy")
    ));
    match &obs.iter().find(|o| is_retry(&o.kind)).unwrap().kind {
        Kind::RetryScheduled { delay_ms, reason } => {
            assert!(*delay_ms >= 1000, "{delay_ms}");
            assert!(
                reason.contains("503") && reason.contains("wait 1.0 s"),
                "{reason}"
            );
        }
        _ => unreachable!(),
    }
    let next_attempt = obs.last().unwrap();
    let waited = next_attempt.t.since(response.t);
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async { sse(vec![b":".to_vec()], true) }),
    );
    let base = serve(app).await;
    let mut settings = fast();
    settings.read_timeout = Duration::from_millis(300);
    let mut run = Run::start(endpoint(&base), settings);
    let obs = run.until(is_retry).await;
    match closed_reason(&obs) {
        CloseReason::Timeout { idle_ms } => assert!(*idle_ms >= 300, "{idle_ms}"),
        other => panic!("{other:?}"),
    }
    let open = obs
        .iter()
        .find(|o| matches!(o.kind, Kind::StreamResponse { .. }))
        .unwrap()
        .t;
    let closed = obs
        .iter()
        .find(|o| matches!(o.kind, Kind::StreamClosed { .. }))
        .unwrap()
        .t;
    let took = closed.since(open);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn an_oversized_line_is_reported_and_the_next_event_still_arrives() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async {
            let long = format!("data: {}\n\n", "x".repeat(5000));
            // Split the long line over several chunks, as a network would.
            let chunks = long
                .as_bytes()
                .chunks(700)
                .map(<[u8]>::to_vec)
                .chain([b"event: after\ndata: ok\n\n".to_vec()])
                .collect();
            sse(chunks, false)
        }),
    );
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    let k = kinds(&obs);
    let over = k
        .iter()
        .position(|k| matches!(k, Kind::OversizedEvent { .. }))
        .expect("OversizedEvent");
    assert!(matches!(
        k[over],
        Kind::OversizedEvent {
            session: 1,
            bytes: 5006,
            limit: 1024
        }
    ));
    assert_eq!(events(&obs), vec![("after".into(), None, "ok".into())]);
    assert!(matches!(k[over + 1], Kind::SseEvent { .. }));
}

#[tokio::test]
async fn invalid_utf8_does_not_kill_the_session() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async {
            sse(
                vec![
                    b"data: caf\xff\xfe!\n\n".to_vec(),
                    b"data: next\n\n".to_vec(),
                ],
                false,
            )
        }),
    );
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    assert_eq!(
        events(&obs),
        vec![
            ("message".into(), None, "caf\u{FFFD}\u{FFFD}!".into()),
            ("message".into(), None, "next".into())
        ]
    );
    assert_eq!(closed_reason(&obs), &CloseReason::Eof);
}

#[tokio::test]
async fn reconnect_now_cancels_and_resumes_with_last_event_id() {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/messages/stream",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                seen.lock().unwrap().push(headers);
                sse(vec![b"id: e1\ndata: hello\n\n".to_vec()], true)
            }),
        )
        .with_state(seen.clone());
    let base = serve(app).await;
    let mut settings = fast();
    // Without the command, the next attempt would be far away.
    settings.read_timeout = Duration::from_secs(30);
    let mut run = Run::start(endpoint(&base), settings);
    run.until(|k| matches!(k, Kind::SseEvent { .. })).await;
    run.commands
        .send(StreamCommand::ReconnectNow)
        .await
        .unwrap();
    let obs = run
        .until(|k| matches!(k, Kind::StreamResponse { session: 2, .. }))
        .await;
    let k = kinds(&obs);
    assert!(matches!(
        k[0],
        Kind::StreamClosed {
            session: 1,
            reason: CloseReason::Cancelled
        }
    ));
    assert!(matches!(k[1], Kind::RetryScheduled { delay_ms: 0, .. }));
    assert!(matches!(
        k[2],
        Kind::ConnectAttempt { session: 2, last_event_id: Some(id) } if id == "e1"
    ));
    assert!(run.started.elapsed() < Duration::from_secs(5));
    assert_eq!(seen.lock().unwrap()[1]["last-event-id"], "e1");
}

#[tokio::test]
async fn connection_refused_is_classified() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut run = Run::start(endpoint(&format!("http://{addr}")), fast());
    let obs = run.until(is_retry).await;
    match &obs[1].kind {
        Kind::ConnectFailed {
            session: 1,
            class,
            error,
        } => {
            assert_eq!(*class, NetErrorClass::Refused, "{error}");
            assert!(!error.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&obs[2].kind, Kind::RetryScheduled { reason, .. } if reason.contains("connection refused"))
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_before_the_head() {
    // Accepts the connection, reads nothing, answers nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut settings = fast();
    settings.read_timeout = Duration::from_millis(300);
    let mut run = Run::start(endpoint(&format!("http://{addr}")), settings);
    let obs = run.until(is_retry).await;
    assert!(matches!(
        &obs[1].kind,
        Kind::ConnectFailed {
            class: NetErrorClass::Timeout,
            ..
        }
    ));
}

#[test]
fn invalid_urls_are_refused_up_front() {
    for bad in [
        "",
        "ftp://example.com",
        "example.com:8080",
        "http://",
        "not a url",
    ] {
        let err = Endpoint::new(bad, AGENT, ApiKey::new(KEY)).unwrap_err();
        assert!(
            err.contains("URL") || err.contains("http"),
            "{bad:?}: {err}"
        );
        assert!(!err.contains(KEY));
    }
}

#[tokio::test]
async fn a_redirect_is_observed_not_followed() {
    let hits = Arc::new(Mutex::new(0u32));
    let app = Router::new()
        .route(
            "/messages/stream",
            get(|| async {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, "/elsewhere")
                    .body(Body::empty())
                    .unwrap()
            }),
        )
        .route(
            "/elsewhere",
            get(|State(hits): State<Arc<Mutex<u32>>>| async move {
                *hits.lock().unwrap() += 1;
                sse(vec![b"data: followed\n\n".to_vec()], false)
            }),
        )
        .with_state(hits.clone());
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run
        .until(|k| matches!(k, Kind::RetryScheduled { .. }))
        .await;
    match &obs[1].kind {
        Kind::StreamResponse {
            status: 302,
            headers,
            ..
        } => assert!(headers.contains(&("location".into(), "/elsewhere".into()))),
        other => panic!("{other:?}"),
    }
    match closed_reason(&obs) {
        CloseReason::Rejected { detail } => {
            assert!(
                detail.contains("/elsewhere") && detail.contains("not followed"),
                "{detail}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A second attempt is redirected too, and never followed.
    run.until(|k| matches!(k, Kind::StreamClosed { session: 2, .. }))
        .await;
    assert_eq!(*hits.lock().unwrap(), 0);
}

#[tokio::test]
async fn the_source_stops_when_the_receiver_is_dropped() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async { sse(vec![b"data: hi\n\n".to_vec()], true) }),
    );
    let base = serve(app).await;
    let (tx, mut rx) = mpsc::channel(16);
    let (_commands, command_rx) = mpsc::channel(1);
    let task = tokio::spawn(run_stream(
        endpoint(&base),
        fast(),
        Clock::start(),
        tx,
        command_rx,
    ));
    // Wait until the session is open and idle, then walk away.
    while !matches!(rx.recv().await.unwrap().kind, Kind::SseEvent { .. }) {}
    drop(rx);
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("run_stream returns once tx is closed")
        .unwrap();
}

#[tokio::test]
async fn a_body_cut_mid_stream_is_a_reset() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async {
            // The first event, a pause so it is flushed, then the body fails: hyper aborts the
            // chunked response without its terminating chunk.
            let first = stream::iter([Ok(Bytes::from_static(b"data: before\n\n"))]);
            let cut = stream::once(async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err(std::io::Error::other("upstream went away"))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(first.chain(cut)))
                .unwrap()
        }),
    );
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    assert_eq!(
        events(&obs),
        vec![("message".into(), None, "before".into())]
    );
    match closed_reason(&obs) {
        CloseReason::Reset { detail } => assert!(!detail.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_url_broken_after_validation_fails_as_invalid_url() {
    let mut e = endpoint("http://127.0.0.1:1");
    e.base_url = "not a url".into();
    let mut run = Run::start(e, fast());
    let obs = run.until(is_retry).await;
    assert!(
        matches!(
            &obs[1].kind,
            Kind::ConnectFailed {
                class: NetErrorClass::InvalidUrl,
                ..
            }
        ),
        "{:?}",
        obs[1].kind
    );
}

#[tokio::test]
async fn an_unknown_host_fails_as_dns() {
    // `.invalid` never resolves (RFC 6761). Where the resolver is too slow to say so within
    // the connect timeout, the class is Timeout and this test has nothing to check.
    let mut settings = fast();
    settings.connect_timeout = Duration::from_secs(3);
    let mut run = Run::start(endpoint("http://inboxtop-test.invalid"), settings);
    let obs = run.until(is_retry).await;
    match &obs[1].kind {
        Kind::ConnectFailed { class, error, .. } => {
            if *class != NetErrorClass::Timeout {
                assert_eq!(*class, NetErrorClass::Dns, "{error}");
            }
        }
        other => panic!("{other:?}"),
    }
}
