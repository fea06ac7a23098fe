//! The poll source and the probe against small servers on loopback. Real HTTP, no mocks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{any, get, post};
use futures_util::stream;
use inboxtop::observation::{Clock, Kind, NetErrorClass, Observation, Route};
use inboxtop::secret::ApiKey;
use inboxtop::source::{Endpoint, PollSettings, run_poll, send_probe};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const KEY: &str = "sk_test_SECRET_0123456789";
const AGENT: &str = "agent-7";

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn endpoint(base: &str) -> Endpoint {
    Endpoint::new(base, AGENT, ApiKey::new(KEY)).unwrap()
}

fn settings() -> PollSettings {
    PollSettings {
        // Long: the first poll must not wait for it.
        interval: Duration::from_secs(3),
        phase: Duration::ZERO,
        timeout: Duration::from_secs(2),
        limit: 50,
        max_body_bytes: 1000,
    }
}

fn no_key(obs: &Observation) {
    let json = serde_json::to_string(obs).unwrap();
    assert!(
        !json.contains(KEY) && !json.contains("SECRET_0123"),
        "key leaked: {json}"
    );
}

/// Runs the poll source for its first peek, which must come at once: the redirects it followed,
/// then its result.
async fn first_round(base: &str, settings: PollSettings) -> Vec<Observation> {
    let (tx, mut rx) = mpsc::channel(4);
    let started = Instant::now();
    let task = tokio::spawn(run_poll(endpoint(base), settings, Clock::start(), tx));
    let mut round = Vec::new();
    loop {
        let obs = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("first poll right away, not after the interval")
            .unwrap();
        no_key(&obs);
        let done = matches!(obs.kind, Kind::PollOk { .. } | Kind::PollFailed { .. });
        round.push(obs);
        if done {
            break;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(rx);
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("run_poll returns once tx is closed")
        .unwrap();
    round
}

/// The result of the first peek.
async fn first_poll(base: &str, settings: PollSettings) -> Kind {
    first_round(base, settings).await.pop().unwrap().kind
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[derive(Default)]
struct Seen {
    requests: Vec<(Method, String)>,
    query: Vec<HashMap<String, String>>,
    headers: Vec<HeaderMap>,
}

#[tokio::test]
async fn peek_envelope_is_parsed_and_nothing_is_acknowledged() {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let peek = |State(seen): State<Arc<Mutex<Seen>>>,
                Query(q): Query<HashMap<String, String>>,
                headers: HeaderMap| async move {
        let mut s = seen.lock().unwrap();
        s.query.push(q);
        s.headers.push(headers);
        json_response(
            StatusCode::OK,
            &json!({"success": true, "data": {"messages": [
                {"id": "m1", "conversationId": "c1", "fromAgentId": "peer", "fromAgentName": "Peer",
                 "toAgentId": AGENT, "content": "hello", "contentType": "text", "status": "delivered",
                 "createdAt": "2026-11-25T03:00:00Z", "metadata": {}},
                {"messageId": "m2", "from": "peer", "content": "again"},
                "junk"
            ]}}),
        )
    };
    let app = Router::new()
        .route("/messages/peek", get(peek))
        .fallback(any(
            |State(seen): State<Arc<Mutex<Seen>>>, method: Method, uri: Uri| async move {
                seen.lock()
                    .unwrap()
                    .requests
                    .push((method, uri.to_string()));
                StatusCode::NOT_FOUND
            },
        ))
        .with_state(seen.clone());
    let base = serve(app).await;
    match first_poll(&base, settings()).await {
        Kind::PollOk {
            messages,
            unreadable,
            ..
        } => {
            assert_eq!(unreadable, 1);
            let ids: Vec<_> = messages.iter().map(|m| m.id.clone().unwrap()).collect();
            assert_eq!(ids, ["m1", "m2"]);
            assert_eq!(messages[0].from_name.as_deref(), Some("Peer"));
            assert_eq!(messages[1].content, "again");
        }
        other => panic!("{other:?}"),
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.query[0]["limit"], "50");
    assert_eq!(seen.query[0]["mentioned"], AGENT);
    assert_eq!(
        seen.headers[0]["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(seen.headers[0]["x-agent-id"], AGENT);
    assert!(seen.requests.is_empty(), "only peeks: {:?}", seen.requests);
}

#[tokio::test]
async fn polls_repeat_at_the_interval() {
    let count = Arc::new(Mutex::new(0u32));
    let app = Router::new()
        .route(
            "/messages/peek",
            get(|State(c): State<Arc<Mutex<u32>>>| async move {
                *c.lock().unwrap() += 1;
                json_response(
                    StatusCode::OK,
                    &json!({"success": true, "data": {"messages": []}}),
                )
            }),
        )
        .with_state(count.clone());
    let base = serve(app).await;
    let (tx, mut rx) = mpsc::channel(4);
    let mut s = settings();
    s.interval = Duration::from_millis(100);
    let _task = tokio::spawn(run_poll(endpoint(&base), s, Clock::start(), tx));
    let mut times = Vec::new();
    for _ in 0..3 {
        let obs = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(obs.kind, Kind::PollOk { .. }), "{obs:?}");
        times.push(obs.t);
    }
    let gap = times[2].since(times[1]);
    assert!(gap >= Duration::from_millis(80), "{gap:?}");
    assert_eq!(*count.lock().unwrap(), 3);
}

#[tokio::test]
async fn server_error_is_a_poll_failure_with_status_and_code() {
    let app = Router::new().route(
        "/messages/peek",
        get(|| async {
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"success": false, "error": {"code": "E_INTERNAL", "message": "boom", "retryable": true}}),
            )
        }),
    );
    let base = serve(app).await;
    match first_poll(&base, settings()).await {
        Kind::PollFailed {
            status: Some(500),
            class: None,
            error,
            api_error: Some(e),
            ..
        } => {
            assert_eq!(e.code.as_deref(), Some("E_INTERNAL"));
            assert!(
                error.contains("HTTP 500") && error.contains("E_INTERNAL: boom"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_non_json_body_is_a_clear_failure() {
    let app = Router::new().route(
        "/messages/peek",
        get(|| async {
            Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from("<html>maintenance</html>"))
                .unwrap()
        }),
    );
    let base = serve(app).await;
    match first_poll(&base, settings()).await {
        Kind::PollFailed {
            status: None,
            error,
            ..
        } => {
            assert!(error.starts_with("peek response is not JSON: "), "{error}");
            assert!(
                error.contains("text/html") && error.contains("maintenance"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn json_without_a_message_list_is_a_clear_failure() {
    let app = Router::new().route(
        "/messages/peek",
        get(|| async { json_response(StatusCode::OK, &json!({"success": true, "data": {}})) }),
    );
    let base = serve(app).await;
    match first_poll(&base, settings()).await {
        Kind::PollFailed { error, .. } => assert!(error.contains("no message list"), "{error}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_or_without_content_length() {
    let big =
        json!({"success": true, "data": {"messages": [{"id": "x", "content": "y".repeat(5000)}]}})
            .to_string();
    let chunked = big.clone();
    let app = Router::new()
        .route(
            "/sized/messages/peek",
            get(move || {
                let big = big.clone();
                async move { json_response(StatusCode::OK, &serde_json::from_str(&big).unwrap()) }
            }),
        )
        .route(
            "/chunked/messages/peek",
            get(move || {
                let chunks: Vec<Result<Bytes, Infallible>> = chunked
                    .as_bytes()
                    .chunks(300)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect();
                async move {
                    Response::builder()
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from_stream(stream::iter(chunks)))
                        .unwrap()
                }
            }),
        );
    let base = serve(app).await;
    for prefix in ["/sized", "/chunked"] {
        match first_poll(&format!("{base}{prefix}"), settings()).await {
            Kind::PollFailed { error, .. } => {
                assert!(
                    error.starts_with("peek response over 1000 bytes"),
                    "{prefix}: {error}"
                );
            }
            other => panic!("{prefix}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn connection_refused_is_classified() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    match first_poll(&format!("http://{addr}"), settings()).await {
        Kind::PollFailed {
            status: None,
            class: Some(NetErrorClass::Refused),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
}

/// The one observation of a probe that met no redirect.
fn single(mut observations: Vec<Observation>) -> Observation {
    assert_eq!(observations.len(), 1, "{observations:?}");
    observations.pop().unwrap()
}

/// The headers and JSON body of the request a server received.
type Captured = Arc<Mutex<Option<(HeaderMap, Value)>>>;

#[tokio::test]
async fn a_probe_posts_to_the_agent_and_returns_the_message_id() {
    let body: Captured = Arc::default();
    let app = Router::new()
        .route(
            "/messages",
            post(
                |State(b): State<Captured>,
                 headers: HeaderMap,
                 axum::Json(v): axum::Json<Value>| async move {
                    *b.lock().unwrap() = Some((headers, v));
                    json_response(
                        StatusCode::CREATED,
                        &json!({"success": true, "data": {"message": {"id": "p-1"}}}),
                    )
                },
            ),
        )
        .with_state(body.clone());
    let base = serve(app).await;
    let obs = single(send_probe(&endpoint(&base), Clock::start()).await);
    no_key(&obs);
    assert!(
        matches!(&obs.kind, Kind::ProbeSent { id: Some(id), error: None, .. } if id == "p-1"),
        "{obs:?}"
    );
    let (headers, v) = body.lock().unwrap().take().unwrap();
    assert_eq!(headers["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(headers["x-agent-id"], AGENT);
    assert_eq!(v["toAgentId"], AGENT);
    assert_eq!(v["contentType"], "text");
    let content = v["content"].as_str().unwrap();
    let uuid = content.strip_prefix("inboxtop probe ").expect(content);
    assert_eq!(uuid.len(), 36, "{uuid}");
}

#[tokio::test]
async fn a_refused_probe_says_why() {
    let app = Router::new().route(
        "/messages",
        post(|| async {
            json_response(
                StatusCode::FORBIDDEN,
                &json!({"success": false, "error": {"code": "E_FORBIDDEN", "message": "cannot send to self"}}),
            )
        }),
    );
    let base = serve(app).await;
    let obs = single(send_probe(&endpoint(&base), Clock::start()).await);
    no_key(&obs);
    match obs.kind {
        Kind::ProbeSent {
            id: None,
            error: Some(e),
            ..
        } => {
            assert!(e.contains("403") && e.contains("E_FORBIDDEN"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

fn redirect(status: StatusCode, location: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::LOCATION, location)
        .body(Body::empty())
        .unwrap()
}

fn moved_inbox() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"success": true, "data": {"messages": [{"id": "m1", "content": "moved"}]}}),
    )
}

#[tokio::test]
async fn a_peek_redirect_is_followed_with_its_query_and_the_credentials() {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let app = Router::new()
        .route(
            "/messages/peek",
            get(|uri: Uri| async move {
                let query = uri.query().unwrap_or_default().to_owned();
                redirect(
                    StatusCode::PERMANENT_REDIRECT,
                    &format!("/v2/messages/peek?{query}"),
                )
            }),
        )
        .route(
            "/v2/messages/peek",
            get(
                |State(seen): State<Arc<Mutex<Seen>>>,
                 Query(q): Query<HashMap<String, String>>,
                 headers: HeaderMap| async move {
                    let mut s = seen.lock().unwrap();
                    s.query.push(q);
                    s.headers.push(headers);
                    moved_inbox()
                },
            ),
        )
        .with_state(seen.clone());
    let base = serve(app).await;
    let round = first_round(&base, settings()).await;
    assert_eq!(round.len(), 2, "{round:?}");
    assert_eq!(
        round[0].kind,
        Kind::Redirected {
            route: Route::Peek,
            session: None,
            status: 308,
            from: format!("{base}/messages/peek?limit=50&mentioned={AGENT}"),
            to: format!("{base}/v2/messages/peek?limit=50&mentioned={AGENT}"),
            cross_origin: false,
        }
    );
    assert!(
        matches!(&round[1].kind, Kind::PollOk { messages, .. } if messages[0].content == "moved")
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.query[0]["mentioned"], AGENT);
    assert_eq!(
        seen.headers[0]["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(seen.headers[0]["x-agent-id"], AGENT);
    assert_eq!(seen.headers[0]["accept"], "application/json");
}

#[tokio::test]
async fn a_peek_redirected_to_another_origin_goes_without_credentials() {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let away = serve(
        Router::new()
            .route(
                "/peek",
                get(
                    |State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap| async move {
                        seen.lock().unwrap().headers.push(headers);
                        moved_inbox()
                    },
                ),
            )
            .with_state(seen.clone()),
    )
    .await;
    let to = format!("{away}/peek");
    let base = serve(Router::new().route(
        "/messages/peek",
        get(move || async move { redirect(StatusCode::FOUND, &to) }),
    ))
    .await;
    let round = first_round(&base, settings()).await;
    assert!(
        matches!(
            &round[0].kind,
            Kind::Redirected {
                route: Route::Peek,
                status: 302,
                cross_origin: true,
                ..
            }
        ),
        "{round:?}"
    );
    assert!(matches!(round[1].kind, Kind::PollOk { .. }), "{round:?}");
    let seen = seen.lock().unwrap();
    assert!(seen.headers[0].get("authorization").is_none());
    assert!(seen.headers[0].get("x-agent-id").is_none());
}

#[tokio::test]
async fn an_endless_peek_redirect_chain_fails_the_poll() {
    let app = Router::new()
        .route(
            "/messages/peek",
            get(|| async { redirect(StatusCode::FOUND, "/p/1") }),
        )
        .route(
            "/p/{n}",
            get(
                |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                    redirect(StatusCode::FOUND, &format!("/p/{}", n + 1))
                },
            ),
        );
    let base = serve(app).await;
    let round = first_round(&base, settings()).await;
    assert_eq!(round.len(), 11, "ten hops, then the failure: {round:?}");
    match &round[10].kind {
        Kind::PollFailed {
            status: None,
            class: Some(NetErrorClass::Redirect),
            error,
            ..
        } => assert!(error.contains("more than 10 redirects"), "{error}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_probe_redirected_with_307_is_posted_again_with_its_body() {
    let body: Captured = Arc::default();
    let app = Router::new()
        .route(
            "/messages",
            post(|| async { redirect(StatusCode::TEMPORARY_REDIRECT, "/v2/messages") }),
        )
        .route(
            "/v2/messages",
            post(
                |State(b): State<Captured>,
                 headers: HeaderMap,
                 axum::Json(v): axum::Json<Value>| async move {
                    *b.lock().unwrap() = Some((headers, v));
                    json_response(
                        StatusCode::CREATED,
                        &json!({"success": true, "data": {"message": {"id": "p-2"}}}),
                    )
                },
            ),
        )
        .with_state(body.clone());
    let base = serve(app).await;
    let obs = send_probe(&endpoint(&base), Clock::start()).await;
    obs.iter().for_each(no_key);
    assert!(
        matches!(
            &obs[..],
            [
                Observation { kind: Kind::Redirected { route: Route::Probe, session: None, status: 307, cross_origin: false, .. }, .. },
                Observation { kind: Kind::ProbeSent { id: Some(id), error: None, .. }, .. },
            ] if id == "p-2"
        ),
        "{obs:?}"
    );
    let (headers, v) = body.lock().unwrap().take().unwrap();
    assert_eq!(headers["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(v["toAgentId"], AGENT);
}

#[tokio::test]
async fn a_probe_answered_with_303_fetches_the_result_with_a_get() {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let app = Router::new()
        .route(
            "/messages",
            post(|| async { redirect(StatusCode::SEE_OTHER, "/messages/p-3") }),
        )
        .route(
            "/messages/p-3",
            any(
                |State(seen): State<Arc<Mutex<Seen>>>,
                 method: Method,
                 uri: Uri,
                 headers: HeaderMap| async move {
                    let mut s = seen.lock().unwrap();
                    s.requests.push((method, uri.to_string()));
                    s.headers.push(headers);
                    json_response(
                        StatusCode::OK,
                        &json!({"success": true, "data": {"message": {"id": "p-3"}}}),
                    )
                },
            ),
        )
        .with_state(seen.clone());
    let base = serve(app).await;
    let obs = send_probe(&endpoint(&base), Clock::start()).await;
    assert!(
        matches!(&obs[1].kind, Kind::ProbeSent { id: Some(id), .. } if id == "p-3"),
        "{obs:?}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.requests, [(Method::GET, "/messages/p-3".to_owned())]);
    assert!(seen.headers[0].get("content-type").is_none());
}
