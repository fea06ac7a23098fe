//! A real nginx between inboxtop and the simulator: the buffering and the idle timeout the
//! simulator only scripts, caused here by nginx itself, must be named by `inboxtop check`.
//!
//! Each test starts `inboxtop serve` (the `healthy` scenario: the server does nothing wrong),
//! an nginx that proxies to it with one configuration under test, and `inboxtop check` against
//! nginx. nginx comes from the Debian `nginx` package (CI installs it); without it these tests
//! print `SKIPPED: …` and return.
//!
//! inboxtop cannot know the simulator's time scale through a proxy, so every duration given to
//! `check` is in real seconds.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// nginx's default upstream protocol and buffering, written out, with 4 KiB buffers. Over
/// HTTP/1.0 the simulator's body is not chunked (it ends when the connection closes), so nginx
/// cannot tell where an event ends and hands a buffer to the client only once it is full. At the
/// pace of `HOLDING_SERVER` a 4 KiB buffer fills every ~4.5 s with about nine heartbeats.
/// (Over HTTP/1.1 nginx forwards each chunk as it completes, even with `proxy_buffering on`.)
const BUFFERING: &str = "proxy_http_version 1.0;
      proxy_buffering on;
      proxy_buffer_size 4k;
      proxy_buffers 8 4k;";

/// [`BUFFERING`] with only `proxy_buffering` switched off: nginx forwards every read at once.
const NOT_BUFFERING: &str = "proxy_http_version 1.0;
      proxy_buffering off;
      proxy_buffer_size 4k;
      proxy_buffers 8 4k;";

/// nginx gives up on an upstream that sent nothing for 10.5 s, shorter than the 15 s between the
/// server's heartbeats (and its keep-alives after 15 s of silence).
const IDLE_TIMEOUT: &str = "proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 10500ms;";

/// 10× time: a heartbeat every 0.5 s, a peer message every ~0.4 s (the default 4 simulated s).
const HOLDING_SERVER: &[&str] = &["--time-scale", "10", "--heartbeat-interval", "5s"];

/// What `check` expects of `HOLDING_SERVER`: beats at least 0.5 s apart (five within that are a
/// flood) and at most 3 s apart, so a silence up to 6 s is not a stall. Between two of nginx's
/// flushes the stream is silent ~4.5 s: with a tighter maximum inboxtop would also call that gap
/// a stall, and this test is about the bursts.
const HOLDING_CHECK: &[&str] = &["--expect-heartbeat", "500ms..3s", "--duration", "12s"];

/// Real time (inboxtop calls a session under 10 s short, a reconnect loop, whatever cut it), no
/// heartbeat within the test, and peers that stay quiet for the whole test: every byte is a read
/// for nginx and would restart its timeout. (With heartbeats, the real transport's heartbeat task
/// outlives its connection: after the first cut two timers feed the next stream, and nginx's idle
/// timer keeps being reset — the sessions then end at irregular ages.)
const QUIET_SERVER: &[&str] = &[
    "--time-scale",
    "1",
    "--heartbeat-interval",
    "1h",
    "--peer-interval",
    "1h",
];

/// Three sessions cut at 10.5 s each, plus reconnect delays (up to 0.5 s, then 1 s).
const QUIET_CHECK: &[&str] = &["--expect-heartbeat", "15s..30s", "--duration", "36s"];

/// How long nginx may take to accept connections.
const NGINX_START_LIMIT: Duration = Duration::from_secs(5);

#[test]
fn nginx_buffering_the_stream_is_named_proxy_buffering_not_a_flood() {
    let Some(run) = through_nginx("buffering", BUFFERING, HOLDING_SERVER, HOLDING_CHECK) else {
        return;
    };
    // Each flush carries about nine heartbeats received within milliseconds: by receive times
    // alone more than the five that make a flood, but their payload timestamps are 0.5 s apart.
    // The buffering alone, then: no heartbeat-flood, and no stall between two flushes.
    assert_eq!(run.problems(), ["proxy-buffering"], "{run}");
    let held = run.evidence("proxy-buffering", "max_delay_s");
    assert!(
        held >= 2.0,
        "nginx held events for seconds, not {held} s: {run}"
    );
    assert_eq!(run.exit_code, Some(1), "a warning: {run}");
}

#[test]
fn nginx_cutting_quiet_streams_is_named_proxy_idle_timeout() {
    let Some(run) = through_nginx("idle", IDLE_TIMEOUT, QUIET_SERVER, QUIET_CHECK) else {
        return;
    };
    assert_eq!(run.problems(), ["proxy-idle-timeout"], "{run}");
    assert!(
        run.evidence("proxy-idle-timeout", "sessions") >= 3.0,
        "{run}"
    );
    let age = run.evidence("proxy-idle-timeout", "age_median_s");
    assert!(
        (10.4..11.0).contains(&age),
        "sessions end at nginx's 10.5 s, not at {age} s: {run}"
    );
    assert_eq!(run.exit_code, Some(1), "a warning: {run}");
}

#[test]
fn nginx_not_buffering_the_stream_raises_no_warning() {
    // The X-Accel-Buffering response header would switch nginx's buffering off as well, but the
    // simulator does not send it: only the configuration is tested.
    let Some(run) = through_nginx("unbuffered", NOT_BUFFERING, HOLDING_SERVER, HOLDING_CHECK)
    else {
        return;
    };
    assert_eq!(run.problems(), Vec::<String>::new(), "{run}");
    assert_eq!(
        run.exit_code,
        Some(0),
        "healthy, every evidence shown: {run}"
    );
    for shown in ["heartbeats", "messages_streamed", "polls"] {
        assert!(
            run.report["stats"][shown].as_u64() > Some(0),
            "{shown}: {run}"
        );
    }
    let latency = run.evidence("delivery-latency", "max_ms");
    assert!(
        latency < 1000.0,
        "streamed at once, not after {latency} ms: {run}"
    );
}

/// One `check` through nginx: its exit code, its JSON report, and what to show on a failure.
struct Run {
    exit_code: Option<i32>,
    report: Value,
    stderr: String,
    nginx_log: String,
}

impl Run {
    fn findings(&self) -> &[Value] {
        self.report["findings"]
            .as_array()
            .map_or(&[], Vec::as_slice)
    }

    /// The kinds of the warning and error findings, sorted.
    fn problems(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .findings()
            .iter()
            .filter(|f| f["severity"] == "warning" || f["severity"] == "error")
            .filter_map(|f| f["kind"].as_str().map(str::to_owned))
            .collect();
        kinds.sort();
        kinds
    }

    /// A number in the evidence of the finding of `kind`.
    fn evidence(&self, kind: &str, label: &str) -> f64 {
        self.findings()
            .iter()
            .find(|f| f["kind"] == kind)
            .and_then(|f| f["evidence"][label].as_f64())
            .unwrap_or_else(|| panic!("no {kind} finding with {label}: {self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let report = serde_json::to_string_pretty(&self.report).unwrap_or_default();
        write!(
            f,
            "\nexit code {:?}\n{report}\nstderr:\n{}\nnginx error log:\n{}",
            self.exit_code, self.stderr, self.nginx_log
        )
    }
}

/// The simulator with `serve_flags`, nginx in front of it with `directives`, and
/// `check --format json` with `check_flags` against nginx. `None` when nginx is not installed.
fn through_nginx(
    name: &str,
    directives: &str,
    serve_flags: &[&str],
    check_flags: &[&str],
) -> Option<Run> {
    let Some(binary) = nginx_binary() else {
        println!("SKIPPED: nginx is not installed (apt-get install nginx)");
        return None;
    };
    let server = Simulator::start(serve_flags);
    let nginx = Nginx::start(&binary, name, &server.authority, directives);
    let started = Instant::now();
    let out = inboxtop()
        .env("INBOXTOP_API_KEY", "demo")
        .args(["check", "--base-url", &nginx.base_url(), "--agent", "demo"])
        .args(["--format", "json"])
        .args(check_flags)
        .output()
        .expect("inboxtop check runs");
    println!(
        "{name}: check through nginx took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check printed no JSON ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Some(Run {
        exit_code: out.status.code(),
        report,
        stderr,
        nginx_log: nginx.error_log(),
    })
}

mod common;
use common::inboxtop;

/// nginx on the PATH, or where Debian puts it (`/usr/sbin` is often not on a user's PATH).
fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// A child process, killed when the test ends however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `inboxtop serve --scenario healthy` on a port of its choosing.
struct Simulator {
    _process: KillOnDrop,
    /// `127.0.0.1:PORT`, from the banner.
    authority: String,
}

impl Simulator {
    fn start(flags: &[&str]) -> Simulator {
        let mut child = inboxtop()
            .args(["serve", "--scenario", "healthy", "--port", "0"])
            .args(flags)
            .stdout(Stdio::piped())
            .spawn()
            .expect("inboxtop serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let process = KillOnDrop(child);
        // The banner is written at once; the first line ends with the base URL.
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("the banner");
        let authority = first
            .trim_end()
            .rsplit("http://")
            .next()
            .filter(|a| a.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("no loopback URL in the banner: {first:?}"))
            .to_owned();
        Simulator {
            _process: process,
            authority,
        }
    }
}

/// nginx in the foreground, one process, every path of its own in a temporary directory.
struct Nginx {
    process: KillOnDrop,
    port: u16,
    dir: TempDir,
}

impl Nginx {
    /// Proxies everything to `upstream` with `directives`; returns once nginx accepts.
    fn start(binary: &Path, name: &str, upstream: &str, directives: &str) -> Nginx {
        let dir = TempDir::new(&format!("nginx-{name}"));
        let port = free_port();
        let config = dir.0.join("nginx.conf");
        std::fs::write(&config, nginx_config(&dir.0, port, upstream, directives))
            .expect("write nginx.conf");
        let error_log = dir.0.join("error.log");
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(&config)
            // The log before the configuration is read, too: never /var/log.
            .arg("-e")
            .arg(&error_log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Nginx {
            process: KillOnDrop(child),
            port,
            dir,
        };
        nginx.wait_until_accepting();
        nginx
    }

    fn wait_until_accepting(&mut self) {
        let deadline = Instant::now() + NGINX_START_LIMIT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.process.0.try_wait() {
                panic!("nginx exited ({status}):\n{}", self.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx not accepting on port {} after {NGINX_START_LIMIT:?}:\n{}",
                self.port,
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

/// A whole nginx.conf: foreground, one process, pid, logs and temporary files under `dir`.
fn nginx_config(dir: &Path, port: u16, upstream: &str, directives: &str) -> String {
    let d = dir.display();
    format!(
        "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://{upstream};
      {directives}
    }}
  }}
}}
"
    )
}

/// A loopback port free right now (nginx binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("inboxtop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
