//! Each failure end to end: a small loopback server with exactly one behaviour, `inboxtop check`
//! run as the real binary against it for a short window, and the kind the report must name and
//! the exit code (Monitoring Plugins: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) it must give.
//!
//! The servers speak the `SignalDock` wire format byte for byte where they are healthy, so a
//! finding is about the one behaviour each was built to show.

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::{StreamExt, stream};
use inboxtop::observation::Kind;
use inboxtop::record::Reader;
use serde_json::{Value, json};

const KEY: &str = "sk_test_failures_0123456789";
const AGENT: &str = "agent-under-test";
const STREAM: &str = "/messages/stream";
const PEEK: &str = "/messages/peek";

/// Starts `app` on 127.0.0.1:0 on a runtime of its own (the test blocks on the binary); it
/// serves until the test process ends.
fn serve(app: Router) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{addr}")
}

/// What one `inboxtop check --format json` run gave.
struct Checked {
    report: Value,
    code: Option<i32>,
    stderr: String,
}

impl Checked {
    /// Every finding's kind, whatever its severity.
    fn kinds(&self) -> Vec<&str> {
        self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap())
            .collect()
    }

    /// Findings of warning or error severity.
    fn alarms(&self) -> Vec<&str> {
        self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] != "info")
            .map(|f| f["kind"].as_str().unwrap())
            .collect()
    }

    fn severity_of(&self, kind: &str) -> Option<&str> {
        self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind)
            .and_then(|f| f["severity"].as_str())
    }

    fn verdict(&self) -> &str {
        self.report["verdict"].as_str().unwrap()
    }

    fn stat(&self, name: &str) -> u64 {
        self.report["stats"][name].as_u64().unwrap()
    }

    /// The exit code is the verdict's, the same in the report and from the process.
    fn assert_exit(&self, expected: i32) {
        assert_eq!(
            self.code,
            Some(expected),
            "exit code for {} ({}): {}\n{}",
            self.verdict(),
            self.report["headline"],
            serde_json::to_string_pretty(&self.report["findings"]).unwrap(),
            self.stderr
        );
        assert_eq!(self.report["exit_code"], expected);
        assert_eq!(exit_code_of(self.verdict()), expected);
    }

    fn assert_names(&self, kind: &str) {
        assert!(
            self.kinds().contains(&kind),
            "{kind} not named; findings {:?}, headline {}",
            self.kinds(),
            self.report["headline"]
        );
    }
}

fn exit_code_of(verdict: &str) -> i32 {
    match verdict {
        "ok" => 0,
        "warning" => 1,
        "critical" => 2,
        "unknown" => 3,
        other => panic!("not a verdict: {other:?}"),
    }
}

/// `inboxtop check` against `base` as the agent under test, reporting in JSON.
fn check(base: &str, args: &[&str]) -> Checked {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_inboxtop"))
        .env("XDG_CONFIG_HOME", "/nonexistent-inboxtop-test")
        .env_remove("INBOXTOP_BASE_URL")
        .env_remove("INBOXTOP_AGENT")
        .env_remove("INBOXTOP_CONFIG")
        .env("INBOXTOP_API_KEY", KEY)
        .args(["check", "--base-url", base, "--agent", AGENT])
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Checked {
        report,
        code: out.status.code(),
        stderr,
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inboxtop-failures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

// --- the wire, as the SignalDock adapter writes it ---

fn frame(event: Option<&str>, id: Option<&str>, data: &Value) -> Bytes {
    let id = id.map(|i| format!("id: {i}\n")).unwrap_or_default();
    let event = event.map(|e| format!("event: {e}\n")).unwrap_or_default();
    Bytes::from(format!("{id}{event}data: {data}\n\n"))
}

fn heartbeat() -> Bytes {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false);
    frame(Some("heartbeat"), None, &json!({ "timestamp": now }))
}

/// The one message in the inbox of the healthy servers.
struct Message {
    id: &'static str,
    created_at: String,
}

impl Message {
    fn new() -> Arc<Message> {
        Arc::new(Message {
            id: "msg-0001",
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    }

    fn on_stream(&self) -> Bytes {
        let data = json!({"attachments": [], "content": "hello", "contentType": "text",
            "conversationId": "conv-1", "createdAt": self.created_at, "from": "agent-peer",
            "messageId": self.id});
        frame(Some("message"), Some(self.id), &data)
    }

    fn in_peek(&self) -> Value {
        json!({"id": self.id, "conversationId": "conv-1", "fromAgentId": "agent-peer",
            "toAgentId": AGENT, "content": "hello", "contentType": "text", "status": "pending",
            "createdAt": self.created_at, "attachments": [], "metadata": {}})
    }
}

fn event_stream(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap()
}

/// A body of `chunks`, then EOF: the server closes the stream.
fn closing_stream(chunks: &[&[u8]]) -> Response {
    let chunks: Vec<Result<Bytes, Infallible>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    event_stream(Body::from_stream(stream::iter(chunks)))
}

/// The message at once, then a heartbeat every second, for as long as the client listens.
fn healthy_stream(message: &Message) -> Response {
    let beats = stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Some((Ok::<_, Infallible>(heartbeat()), ()))
    });
    let body = stream::once(std::future::ready(Ok(message.on_stream()))).chain(beats);
    event_stream(Body::from_stream(body))
}

fn peek_answer(messages: &[Value]) -> Response {
    Json(json!({"success": true, "data": {"messages": messages}})).into_response()
}

fn empty_peek() -> Router {
    Router::new().route(PEEK, get(|| async { peek_answer(&[]) }))
}

/// The stream and the peek of a working server, the stream at `stream_path`.
fn healthy(stream_path: &str) -> Router {
    let message = Message::new();
    let on_stream = message.clone();
    Router::new()
        .route(
            stream_path,
            get(move || std::future::ready(healthy_stream(&on_stream))),
        )
        .route(
            PEEK,
            get(move || std::future::ready(peek_answer(&[message.in_peek()]))),
        )
}

/// The band the healthy servers keep (a heartbeat every second), and a poll to match.
const FAST_BAND: &[&str] = &["--expect-heartbeat", "1s..2s", "--poll-interval", "1s"];

// --- the failures ---

#[test]
fn a_healthy_server_is_ok_with_no_warning() {
    let base = serve(healthy(STREAM));
    let run = check(&base, &[FAST_BAND, &["--duration", "5s"]].concat());
    assert_eq!(run.verdict(), "ok", "{}", run.report["checks"]);
    run.assert_exit(0);
    assert_eq!(run.alarms(), Vec::<&str>::new());
    assert_eq!(run.stat("sessions"), 1);
    assert!(run.stat("heartbeats") >= 3, "{}", run.report["stats"]);
    assert_eq!(run.stat("messages_streamed"), 1);
    assert_eq!(run.stat("messages_only_polled"), 0);
}

#[test]
fn a_window_too_short_for_the_band_is_unknown_and_says_what_is_missing() {
    let base = serve(healthy(STREAM));
    let run = check(&base, &[FAST_BAND, &["--duration", "1s"]].concat());
    run.assert_exit(3);
    let checks = run.report["checks"].as_array().unwrap();
    let stayed_up = checks
        .iter()
        .find(|c| c["evidence"] == "stream-stayed-up")
        .unwrap();
    assert_eq!(stayed_up["shown"], false, "{stayed_up}");
    assert!(
        stayed_up["watch_for"].as_f64().unwrap() > 0.0,
        "{stayed_up}"
    );
    let headline = run.report["headline"].as_str().unwrap();
    assert!(
        headline.starts_with("unknown yet: ") && headline.contains("less than the 2 s band"),
        "{headline}"
    );
}

#[test]
fn every_request_rejected_with_400_is_critical_stream_rejected_and_poll_failed() {
    let app = Router::new().fallback(|| async {
        let envelope = json!({"success": false, "error": {"code": "E_VALIDATION",
            "message": "agent id is malformed", "category": "VALIDATION", "retryable": false}});
        (StatusCode::BAD_REQUEST, Json(envelope))
    });
    let run = check(&serve(app), &["--duration", "3s"]);
    run.assert_exit(2);
    run.assert_names("stream-rejected");
    run.assert_names("poll-failed");
}

#[test]
fn a_stream_that_opens_and_never_says_a_byte_is_critical() {
    let silent = || async {
        event_stream(Body::from_stream(stream::pending::<
            Result<Bytes, Infallible>,
        >()))
    };
    let app = empty_peek().route(STREAM, get(silent));
    let run = check(
        &serve(app),
        &["--expect-heartbeat", "1s..2s", "--duration", "6s"],
    );
    run.assert_exit(2);
    assert!(
        run.kinds().contains(&"no-heartbeat") || run.kinds().contains(&"stream-stalled"),
        "{:?}",
        run.kinds()
    );
    assert_eq!(run.stat("heartbeats"), 0);
}

#[test]
fn a_204_is_critical_server_said_stop_after_exactly_one_stream_request() {
    let hits = Arc::new(AtomicU32::new(0));
    let counted = hits.clone();
    let app = empty_peek().route(
        STREAM,
        get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            std::future::ready(StatusCode::NO_CONTENT)
        }),
    );
    let run = check(&serve(app), &["--duration", "2s"]);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "no reconnect after a 204");
    run.assert_exit(2);
    run.assert_names("server-said-stop");
}

#[test]
fn a_307_to_a_healthy_path_is_followed_and_named() {
    let app = healthy("/v2/messages/stream").route(
        STREAM,
        get(|| async { Redirect::temporary("/v2/messages/stream") }),
    );
    let run = check(&serve(app), &[FAST_BAND, &["--duration", "5s"]].concat());
    run.assert_names("redirected");
    assert!(
        run.stat("heartbeats") >= 3,
        "followed: {}",
        run.report["stats"]
    );
    assert_eq!(run.stat("messages_streamed"), 1);
    // Healthy after following: the redirect itself is the only thing to say.
    assert_eq!(
        run.alarms()
            .into_iter()
            .filter(|k| *k != "redirected")
            .count(),
        0,
        "{:?}",
        run.kinds()
    );
    let expected = match run.severity_of("redirected") {
        Some("warning") => 1,
        _ => 0,
    };
    run.assert_exit(expected);
}

#[test]
fn a_server_retry_of_400_ms_spaces_every_reconnect_at_least_that_far() {
    let app = empty_peek().route(
        STREAM,
        get(|| async { closing_stream(&[b"retry: 400\ndata: bye\n\n"]) }),
    );
    let recording = tmp("retry.ndjson");
    let run = check(
        &serve(app),
        &["--duration", "3s", "--record", recording.to_str().unwrap()],
    );
    assert_ne!(run.verdict(), "ok", "a stream that keeps closing is not OK");
    run.assert_exit(exit_code_of(run.verdict()));
    let observations: Vec<_> = Reader::open(&recording)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut closed_at = None;
    let mut gaps = Vec::new();
    for obs in &observations {
        match &obs.kind {
            Kind::StreamClosed { .. } => closed_at = Some(obs.t),
            Kind::ConnectAttempt { .. } => {
                if let Some(closed) = closed_at.take() {
                    gaps.push(obs.t.since(closed));
                }
            }
            _ => {}
        }
    }
    assert!(gaps.len() >= 2, "several reconnects in 3 s: {gaps:?}");
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(400)),
        "{gaps:?}"
    );
}

#[test]
fn an_id_with_a_control_byte_is_a_lost_resume_id() {
    let app = empty_peek().route(
        STREAM,
        get(|| async { closing_stream(&[b"id: m\x07001\nevent: ping\ndata: {}\n\n"]) }),
    );
    let run = check(&serve(app), &["--duration", "2s"]);
    run.assert_names("lost-resume-id");
    assert_ne!(run.verdict(), "ok");
    run.assert_exit(exit_code_of(run.verdict()));
}
