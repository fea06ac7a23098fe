//! Proxies from the environment, through a real forward proxy: Debian's `tinyproxy`, run here as a
//! child process on loopback. The binary is run with `HTTP_PROXY` pointing at it (each run gets
//! its own environment, so no test changes this process's); the loopback server records the
//! `Via` header tinyproxy adds, which says whether a request went through it.
//!
//! Without tinyproxy (`apt-get install tinyproxy`; `.ci/run` installs it) each test prints
//! "SKIPPED: …" and returns.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const KEY: &str = "sk_test_SECRET_proxy_0123456789";
const AGENT: &str = "agent-proxy";
/// The name tinyproxy puts in its `Via` header.
const VIA_NAME: &str = "inboxtop-test-proxy";

/// The proxy variables reqwest reads, all cleared before a run sets its own.
const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("inboxtop-proxy-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// tinyproxy in the foreground on a free loopback port; killed on drop.
struct Tinyproxy {
    child: Child,
    port: u16,
}

impl Tinyproxy {
    /// Starts it, or says why it cannot run.
    fn start(dir: &Path) -> Result<Tinyproxy, String> {
        let port = free_port();
        let config = dir.join("tinyproxy.conf");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nViaProxyName \"{VIA_NAME}\"\n\
                 LogLevel Info\nMaxClients 20\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("tinyproxy.out")).unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("tinyproxy cannot be run ({e}); apt-get install tinyproxy"))?;
        let mut proxy = Tinyproxy { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = proxy.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let out = std::fs::read_to_string(dir.join("tinyproxy.out")).unwrap_or_default();
                return Err(format!("tinyproxy did not start ({exited:?}): {out}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(proxy)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Each request's path and `Via` header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn record(State(seen): State<Seen>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let via = request
        .headers()
        .get(header::VIA)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    seen.lock().unwrap().push((path.clone(), via));
    if path.ends_with("/stream") {
        let body = "retry: 50\nevent: heartbeat\ndata: {}\n\n";
        ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
    } else {
        let body = r#"{"success":true,"data":{"messages":[]}}"#;
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// A server of stream and peek on 127.0.0.1 that records every request.
async fn serve() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/messages/stream", get(record))
        .route("/messages/peek", get(record))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

/// `inboxtop check` against `addr` for a second with `proxy_env` as its only proxy variables;
/// returns its log.
async fn check_through(addr: SocketAddr, proxy_env: &[(&str, String)], dir: &Path) -> String {
    let log_file = dir.join("inboxtop.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_inboxtop"));
    command
        .args([
            "check",
            "--base-url",
            &format!("http://{addr}"),
            "--agent",
            AGENT,
        ])
        .args(["--duration", "1s", "-v", "--log-file"])
        .arg(&log_file)
        .env("INBOXTOP_API_KEY", KEY)
        .env_remove("RUST_LOG");
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command.envs(proxy_env.iter().map(|(k, v)| (k, v)));
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let could_not_run = i32::from(inboxtop::cmd::check::EXIT_COULD_NOT_RUN);
    assert_ne!(
        out.status.code(),
        Some(could_not_run),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        !log.contains("SECRET_proxy"),
        "the key is in the log:\n{log}"
    );
    log
}

/// The requests for `path` the server saw.
fn requests(seen: &Seen, path: &str) -> Vec<Option<String>> {
    let seen = seen.lock().unwrap();
    seen.iter()
        .filter(|(p, _)| p == path)
        .map(|(_, via)| via.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_proxy_carries_the_stream_and_the_peek() {
    let dir = Scratch::new("through");
    let proxy = match Tinyproxy::start(&dir.0) {
        Ok(proxy) => proxy,
        Err(why) => return println!("SKIPPED: {why}"),
    };
    let (addr, seen) = serve().await;
    let log = check_through(addr, &[("HTTP_PROXY", proxy.url())], &dir.0).await;

    for path in ["/messages/stream", "/messages/peek"] {
        let vias = requests(&seen, path);
        assert!(!vias.is_empty(), "no {path} request arrived; log:\n{log}");
        assert!(
            vias.iter()
                .all(|via| via.as_deref().is_some_and(|v| v.contains(VIA_NAME))),
            "{path} requests did not all come through the proxy: {vias:?}"
        );
    }
    let connecting = format!("(via proxy {})", proxy.url());
    assert!(
        log.contains(&connecting),
        "{connecting} not in the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_sends_a_host_direct() {
    let dir = Scratch::new("direct");
    let proxy = match Tinyproxy::start(&dir.0) {
        Ok(proxy) => proxy,
        Err(why) => return println!("SKIPPED: {why}"),
    };
    let (addr, seen) = serve().await;
    let env = [
        ("http_proxy", proxy.url()),
        ("no_proxy", "example.com,127.0.0.1".to_owned()),
    ];
    let log = check_through(addr, &env, &dir.0).await;

    let vias = requests(&seen, "/messages/stream");
    assert!(!vias.is_empty(), "no stream request arrived; log:\n{log}");
    assert!(vias.iter().all(Option::is_none), "{vias:?}");
    assert!(log.contains("(direct)"), "{log}");
}
