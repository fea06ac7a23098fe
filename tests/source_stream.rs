//! The stream source against small servers on loopback that play simple or hostile roles.
//!
//! Real HTTP, no mocked client. Settings use short timeouts and backoffs so the whole file runs
//! in a couple of seconds (the `Retry-After: 1` and `retry: 400` tests wait on purpose).

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
use inboxtop::observation::{Clock, CloseReason, Kind, NetErrorClass, Observation, Route};
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
#[expect(
    clippy::too_many_lines,
    reason = "one scripted server and the whole sequence it must produce, kept in one place"
)]
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

/// A response redirecting to `location` with `status`.
fn redirect(status: StatusCode, location: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::LOCATION, location)
        .body(Body::empty())
        .unwrap()
}

fn redirects(obs: &[Observation]) -> Vec<&Kind> {
    kinds(obs)
        .into_iter()
        .filter(|k| matches!(k, Kind::Redirected { .. }))
        .collect()
}

#[tokio::test]
async fn a_307_is_followed_observed_and_the_events_arrive() {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/messages/stream",
            get(|| async { redirect(StatusCode::TEMPORARY_REDIRECT, "/v2/stream") }),
        )
        .route(
            "/v2/stream",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                seen.lock().unwrap().push(headers);
                sse(vec![b"data: followed\n\n".to_vec()], false)
            }),
        )
        .with_state(seen.clone());
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    let k = kinds(&obs);
    assert!(matches!(k[0], Kind::ConnectAttempt { session: 1, .. }));
    assert_eq!(
        k[1],
        &Kind::Redirected {
            route: Route::Stream,
            session: Some(1),
            status: 307,
            from: format!("{base}/messages/stream"),
            to: format!("{base}/v2/stream"),
            cross_origin: false,
        }
    );
    assert!(matches!(
        k[2],
        Kind::StreamResponse {
            session: 1,
            status: 200,
            ..
        }
    ));
    assert_eq!(events(&obs), [("message".into(), None, "followed".into())]);
    assert_eq!(closed_reason(&obs), &CloseReason::Eof);
    // Same origin: the credentials went along.
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0]["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(seen[0]["x-agent-id"], AGENT);
    assert_eq!(seen[0]["accept"], "text/event-stream");
}

#[tokio::test]
async fn credentials_go_to_the_base_origin_only_along_a_redirect_chain() {
    // The base origin ("home") sends the stream to another origin (another port, "away"), which
    // sends it back home, with userinfo and the key in its Location.
    let home_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let home = format!("http://{}", home_listener.local_addr().unwrap());
    let back = format!(
        "{}/final?echo={KEY}",
        home.replacen("http://", "http://user:pw@", 1)
    );
    let away_seen: Seen = Arc::default();
    let away_app = Router::new()
        .route(
            "/bounce",
            get(
                move |State(seen): State<Seen>, headers: HeaderMap| async move {
                    seen.lock().unwrap().push(headers);
                    redirect(StatusCode::FOUND, &back)
                },
            ),
        )
        .with_state(away_seen.clone());
    let away = serve(away_app).await;
    let home_seen: Seen = Arc::default();
    let to_away = format!("{away}/bounce");
    let home_app = Router::new()
        .route(
            "/messages/stream",
            get(move || async move { redirect(StatusCode::TEMPORARY_REDIRECT, &to_away) }),
        )
        .route(
            "/final",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                seen.lock().unwrap().push(headers);
                sse(vec![b"data: home again\n\n".to_vec()], false)
            }),
        )
        .with_state(home_seen.clone());
    tokio::spawn(async move { axum::serve(home_listener, home_app).await.unwrap() });

    let mut run = Run::start(endpoint(&home), fast());
    let obs = run.until(is_retry).await;
    assert_eq!(
        events(&obs),
        [("message".into(), None, "home again".into())]
    );
    let masked = ApiKey::new(KEY).masked();
    assert_eq!(
        redirects(&obs),
        [
            &Kind::Redirected {
                route: Route::Stream,
                session: Some(1),
                status: 307,
                from: format!("{home}/messages/stream"),
                to: format!("{away}/bounce"),
                cross_origin: true,
            },
            // Shown without userinfo and with the key masked.
            &Kind::Redirected {
                route: Route::Stream,
                session: Some(1),
                status: 302,
                from: format!("{away}/bounce"),
                to: format!("{home}/final?echo={masked}"),
                cross_origin: false,
            },
        ]
    );

    let away_headers = &away_seen.lock().unwrap()[0];
    assert!(
        away_headers.get("authorization").is_none(),
        "{away_headers:?}"
    );
    assert!(away_headers.get("x-agent-id").is_none(), "{away_headers:?}");
    assert_eq!(away_headers["accept"], "text/event-stream");
    let home_headers = &home_seen.lock().unwrap()[0];
    // The Bearer key, not a Basic header made from the Location's userinfo.
    assert_eq!(
        home_headers["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(home_headers["x-agent-id"], AGENT);
}

/// `/hop/n` redirects to `/hop/{n+1}` until `/hop/{last}`, which serves the stream; the statuses
/// cycle through all five followed redirects.
fn hop_chain(last: u32) -> Router {
    let statuses = [301, 302, 303, 307, 308];
    Router::new()
        .route(
            "/messages/stream",
            get(|| async { redirect(StatusCode::MOVED_PERMANENTLY, "/hop/1") }),
        )
        .route(
            "/hop/{n}",
            get(
                move |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                    if n == last {
                        sse(vec![b"data: end of the chain\n\n".to_vec()], false)
                    } else {
                        let status = StatusCode::from_u16(statuses[n as usize % 5]).unwrap();
                        redirect(status, &format!("/hop/{}", n + 1))
                    }
                },
            ),
        )
}

#[tokio::test]
async fn ten_redirects_are_followed_an_eleventh_is_an_error() {
    let base = serve(hop_chain(10)).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    assert_eq!(redirects(&obs).len(), 10);
    assert_eq!(
        events(&obs),
        [("message".into(), None, "end of the chain".into())]
    );

    let base = serve(hop_chain(11)).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    assert_eq!(redirects(&obs).len(), 10);
    match &obs[obs.len() - 2].kind {
        Kind::ConnectFailed {
            session: 1,
            class: NetErrorClass::Redirect,
            error,
        } => assert!(
            error.contains("more than 10 redirects") && error.contains("/hop/11"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&obs.last().unwrap().kind, Kind::RetryScheduled { reason, .. } if reason.contains("redirect")),
        "{:?}",
        obs.last()
    );
}

#[tokio::test]
async fn a_redirect_loop_ends_the_attempt() {
    let app = Router::new()
        .route(
            "/messages/stream",
            get(|| async { redirect(StatusCode::FOUND, "/elsewhere") }),
        )
        .route(
            "/elsewhere",
            get(|| async { redirect(StatusCode::FOUND, "/messages/stream") }),
        );
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    assert_eq!(redirects(&obs).len(), 1);
    match &obs[obs.len() - 2].kind {
        Kind::ConnectFailed {
            class: NetErrorClass::Redirect,
            error,
            ..
        } => assert!(error.contains("loop"), "{error}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_redirect_without_location_is_the_answer() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async {
            Response::builder()
                .status(StatusCode::FOUND)
                .body(Body::empty())
                .unwrap()
        }),
    );
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run.until(is_retry).await;
    assert!(matches!(
        &obs[1].kind,
        Kind::StreamResponse { status: 302, .. }
    ));
    match closed_reason(&obs) {
        CloseReason::Rejected { detail } => {
            assert!(detail.contains("without a Location"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_204_stops_reconnecting_until_asked() {
    let hits = Arc::new(Mutex::new(0u32));
    let app = Router::new()
        .route(
            "/messages/stream",
            get(|State(hits): State<Arc<Mutex<u32>>>| async move {
                *hits.lock().unwrap() += 1;
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(hits.clone());
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run
        .until(|k| matches!(k, Kind::ReconnectStopped { .. }))
        .await;
    let k = kinds(&obs);
    assert_eq!(k.len(), 4, "{k:?}");
    assert!(matches!(k[1], Kind::StreamResponse { status: 204, .. }));
    assert!(matches!(
        k[2],
        Kind::StreamClosed { session: 1, reason: CloseReason::Rejected { detail } } if detail.contains("204")
    ));
    assert!(
        matches!(k[3], Kind::ReconnectStopped { session: 1, reason } if reason.contains("stop")),
        "{k:?}"
    );
    // With a 20 ms backoff, a retry would have come many times over.
    let quiet = tokio::time::timeout(Duration::from_millis(600), run.rx.recv()).await;
    assert!(quiet.is_err(), "nothing after a 204: {quiet:?}");
    assert_eq!(*hits.lock().unwrap(), 1);

    run.commands
        .send(StreamCommand::ReconnectNow)
        .await
        .unwrap();
    let obs = run
        .until(|k| matches!(k, Kind::ReconnectStopped { .. }))
        .await;
    assert!(matches!(
        kinds(&obs)[..],
        [
            Kind::ConnectAttempt { session: 2, .. },
            Kind::StreamResponse {
                session: 2,
                status: 204,
                ..
            },
            Kind::StreamClosed { session: 2, .. },
            Kind::ReconnectStopped { session: 2, .. },
        ]
    ));
    assert_eq!(*hits.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_server_retry_is_the_least_wait_even_above_the_cap() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async { sse(vec![b"retry: 400\ndata: bye\n\n".to_vec()], false) }),
    );
    let base = serve(app).await;
    // The cap (200 ms) is below the server's retry: it must not cut it.
    let mut run = Run::start(endpoint(&base), fast());
    for session in 1..=3u64 {
        let obs = run
            .until(|k| matches!(k, Kind::ConnectAttempt { session: s, .. } if *s == session + 1))
            .await;
        let closed = obs
            .iter()
            .find(|o| matches!(o.kind, Kind::StreamClosed { .. }))
            .unwrap();
        match &obs.iter().find(|o| is_retry(&o.kind)).unwrap().kind {
            Kind::RetryScheduled { delay_ms, reason } => {
                assert!(*delay_ms >= 400, "{delay_ms}");
                assert!(reason.contains("server retry: 400 ms"), "{reason}");
            }
            _ => unreachable!(),
        }
        let waited = obs.last().unwrap().t.since(closed.t);
        assert!(waited >= Duration::from_millis(400), "{waited:?}");
    }
}

#[tokio::test]
async fn an_id_a_header_cannot_carry_is_reported_unsent() {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/messages/stream",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                let mut seen = seen.lock().unwrap();
                seen.push(headers);
                // A NUL id is ignored (WHATWG), so `ok1` stays; then a bell in an id.
                let body: &[u8] = match seen.len() {
                    1 => b"id: ok1\ndata: a\n\nid: b\0ad\ndata: b\n\n",
                    _ => b"id: r\x07ng\ndata: c\n\n",
                };
                sse(vec![body.to_vec()], false)
            }),
        )
        .with_state(seen.clone());
    let base = serve(app).await;
    let mut run = Run::start(endpoint(&base), fast());
    let obs = run
        .until(|k| matches!(k, Kind::StreamResponse { session: 3, .. }))
        .await;
    let attempts: Vec<&Kind> = kinds(&obs)
        .into_iter()
        .filter(|k| {
            matches!(
                k,
                Kind::ConnectAttempt { .. } | Kind::LastEventIdUnsent { .. }
            )
        })
        .collect();
    assert!(
        matches!(
            attempts[..],
            [
                Kind::ConnectAttempt {
                    session: 1,
                    last_event_id: None
                },
                Kind::ConnectAttempt { session: 2, last_event_id: Some(ok) },
                Kind::ConnectAttempt {
                    session: 3,
                    last_event_id: None
                },
                Kind::LastEventIdUnsent { session: 3, id },
            ] if ok == "ok1" && id == "r\u{7}ng"
        ),
        "{attempts:?}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen[1]["last-event-id"], "ok1");
    assert!(seen[2].get("last-event-id").is_none());
}

#[tokio::test]
async fn keep_alive_comments_hold_a_quiet_session_open() {
    let app = Router::new().route(
        "/messages/stream",
        get(|| async {
            let comments = stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok::<_, Infallible>(Bytes::from_static(b":\n")), ()))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(comments))
                .unwrap()
        }),
    );
    let base = serve(app).await;
    let mut settings = fast();
    settings.read_timeout = Duration::from_millis(300);
    let mut run = Run::start(endpoint(&base), settings);
    run.until(|k| matches!(k, Kind::StreamResponse { .. }))
        .await;
    let watch = Instant::now();
    let mut comments = 0;
    while watch.elapsed() < Duration::from_millis(1200) {
        match run.next().await.kind {
            Kind::SseComment { session: 1, .. } => comments += 1,
            other => panic!("the session should stay open: {other:?}"),
        }
    }
    assert!(comments >= 8, "{comments}");
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
