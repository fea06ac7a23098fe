//! Long recordings: a generated recording of 10 M observations judged by `check --from` (the
//! release binary, its peak RSS from `/usr/bin/time -v`), and a replay landing late in it and
//! jumping ahead with `]` (the replay source API: landing as `replay --from` does, then feeding
//! the model as the TUI loop does).

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use inboxtop::monitor::{Monitor, Thresholds};
use inboxtop::observation::{AgentIx, CloseReason, Kind, Mono, NetErrorClass, Observation, Route};
use inboxtop::record::{Header, Reader, checkpoint};
use inboxtop::source::replay::{ReplayCommand, land_fleet, run_replay};
use inboxtop::wire::{ApiError, WireMessage};

/// The derived `Observation` as it was before the one-pass line reader: the baseline (b0)
/// decodes with it, so that b/b0 compares the two decoders in the same run.
#[path = "../../src/observation/oracle.rs"]
mod oracle;

/// Observations in the generated recording: 10 M, or `INBOXTOP_BENCH_OBSERVATIONS` for a quicker
/// run (say 1 000 000 while iterating).
fn observation_count() -> u64 {
    std::env::var("INBOXTOP_BENCH_OBSERVATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000_000)
}
/// Recorded time between two observations: a busy agent, compressed (10 M span ~28 h).
const SPACING_MS: u64 = 10;
/// Observations per stream session (ten sessions in all).
const SESSION_LEN: u64 = 1_000_000;

/// The thresholds the recording claims it was made with: heartbeats every ~11 ms are in band.
fn thresholds() -> Thresholds {
    Thresholds {
        heartbeat_min: Duration::from_millis(8),
        heartbeat_max: Duration::from_millis(40),
        ..Thresholds::default()
    }
}

/// The observation at index `i`: per session a connect and a response, then heartbeats with a
/// message every 10th observation, a tick every second and a peek (listing the latest streamed
/// messages) every 5 s; the session closes cleanly at its end.
fn observation(i: u64) -> Observation {
    let ms = i * SPACING_MS;
    let wall = chrono::DateTime::UNIX_EPOCH
        + chrono::Duration::milliseconds(1_764_000_000_000 + ms as i64);
    let session = i / SESSION_LEN + 1;
    let kind = match i % SESSION_LEN {
        0 => Kind::ConnectAttempt {
            session,
            last_event_id: None,
        },
        1 => Kind::StreamResponse {
            session,
            status: 200,
            content_type: Some("text/event-stream".into()),
            content_encoding: None,
            ttfb_ms: 4,
            retry_after_ms: None,
            headers: vec![],
            error: None,
        },
        n if n == SESSION_LEN - 1 => Kind::StreamClosed {
            session,
            reason: CloseReason::Eof,
        },
        n if n % 500 == 0 => Kind::PollOk {
            elapsed_ms: 3,
            messages: (1..=3)
                .map(|k| WireMessage {
                    id: Some(format!("m{}", i + 5 - k * 10)),
                    from: Some("agent-ops".into()),
                    content: "deploy finished".into(),
                    content_len: 15,
                    created_at: Some(wall),
                    ..WireMessage::default()
                })
                .collect(),
            unreadable: 0,
        },
        n if n % 100 == 50 => Kind::Tick,
        n if n % 10 == 5 => Kind::SseEvent {
            session,
            event: "message".into(),
            id: Some(format!("m{i}")),
            data: format!(
                "{{\"messageId\":\"m{i}\",\"from\":\"agent-ops\",\"content\":\"deploy {i} finished\",\"createdAt\":\"{}\"}}",
                wall.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            retry_ms: None,
        },
        _ => Kind::SseEvent {
            session,
            event: "heartbeat".into(),
            id: None,
            data: format!(
                "{{\"timestamp\":\"{}\"}}",
                wall.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            retry_ms: None,
        },
    };
    Observation::new(Mono::from_millis(ms), wall, kind)
}

fn generate(path: &Path, count: u64) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let header = Header::new(
        "http://127.0.0.1:8765",
        "bench",
        "bench: generated",
        &thresholds(),
    );
    let mut line = serde_json::to_vec(&header).expect("header");
    line.push(b'\n');
    out.write_all(&line).expect("write");
    // Checkpoints as the recorder writes them, so that the replay lands as it would on a
    // recording made by `--record`.
    let mut checkpoints = checkpoint::Writer::create(path, &header, line.len() as u64)
        .expect("checkpoints")
        .expect("one agent");
    for i in 0..count {
        let obs = observation(i);
        line.clear();
        serde_json::to_writer(&mut line, &obs).expect("observation");
        line.push(b'\n');
        out.write_all(&line).expect("write");
        checkpoints
            .written(&obs, line.len() as u64)
            .expect("checkpoint");
    }
    out.flush().expect("flush");
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The I/O floor: the file's lines read and counted, nothing parsed.
fn read_lines_only(path: &Path) -> u64 {
    let mut r =
        std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(path).expect("open"));
    let (mut buf, mut n) = (Vec::new(), 0u64);
    while r.read_until(b'\n', &mut buf).expect("read") > 0 {
        n += 1;
        buf.clear();
    }
    n - 1
}

/// The reader as it was (baseline in the same run): a `String` per line, 8 KiB reads, and serde's
/// derive (a flattened, internally tagged `Kind`) into the old `Observation`.
fn parse_string_lines(path: &Path) -> u64 {
    let mut r = std::io::BufReader::new(std::fs::File::open(path).expect("open"));
    r.read_line(&mut String::new()).expect("header");
    let mut n = 0;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).expect("read") == 0 {
            return n;
        }
        let obs: oracle::Observation = serde_json::from_str(line.trim_end()).expect("line");
        std::hint::black_box(obs);
        n += 1;
    }
}

/// Parsing without the model: the recording reader alone.
fn parse_only(path: &Path) -> u64 {
    let mut n = 0;
    for obs in Reader::open(path).expect("recording") {
        std::hint::black_box(obs.expect("line"));
        n += 1;
    }
    n
}

/// `inboxtop check --from FILE` under `/usr/bin/time -v`: wall seconds and peak RSS (KiB).
fn check_from(bin: &Path, path: &Path) -> (f64, u64, String) {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin)
        .env("XDG_CONFIG_HOME", "/nonexistent-inboxtop")
        .args(["check", "--format", "plugin", "--from"])
        .arg(path)
        .output()
        .expect("run check --from");
    let secs = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let verdict = String::from_utf8_lossy(&out.stdout)
        .split(" | ")
        .next()
        .unwrap_or("")
        .to_owned();
    (secs, peak, verdict)
}

/// Applies the replay's observations until the one just before `target` (recorded time): the
/// first one past it is paced at real speed, which is not landing time.
async fn land_at(target: Duration, rx: &mut mpsc::Receiver<Observation>, m: &mut Monitor) {
    let target = Mono::from_millis(target.as_millis() as u64 - SPACING_MS);
    while let Some(obs) = rx.recv().await {
        m.apply(&obs);
        if obs.t >= target {
            return;
        }
    }
    panic!("the replay ended before landing");
}

/// A replay from `from` into the recording, as `inboxtop replay --from` starts one: the time to
/// land (read ahead, every earlier observation folded into the model), then the time `]` (a
/// 30 s jump) takes to arrive through the replay source.
async fn replay_landing(path: &Path, from: Duration) -> (f64, f64) {
    let t = Instant::now();
    let reader = Reader::open(path).expect("recording");
    let thresholds = reader.header.thresholds(&Thresholds::default());
    let (fleet, landing, observations) = land_fleet(reader, &thresholds, from).expect("landing");
    let landed = t.elapsed().as_secs_f64();
    let mut monitor = fleet.agents()[0].monitor.clone();
    let (tx, mut rx) = mpsc::channel(8192);
    let (cmd, cmd_rx) = mpsc::channel(4);
    let task = tokio::spawn(run_replay(landing, observations, 1.0, tx, cmd_rx));
    let t = Instant::now();
    cmd.send(ReplayCommand::Jump(Duration::from_secs(30)))
        .await
        .expect("jump");
    land_at(from + Duration::from_secs(30), &mut rx, &mut monitor).await;
    let jumped = t.elapsed().as_secs_f64();
    task.abort();
    std::hint::black_box(monitor.findings());
    (landed, jumped)
}

/// Writes the generated recording to `path` and keeps it, for profiling a command on it.
pub fn keep(path: &Path) {
    let bytes = generate(path, observation_count());
    println!("{}: {bytes} bytes, and its checkpoints", path.display());
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

pub async fn run(bin: &Path, runs: usize) {
    let path: PathBuf =
        std::env::temp_dir().join(format!("inboxtop-bench-{}.ndjson", std::process::id()));
    let t = Instant::now();
    let count = observation_count();
    let bytes = generate(&path, count);
    println!(
        "\n== recording: {count} observations, {:.0} MiB, generated in {:.1} s",
        bytes as f64 / f64::from(1 << 20),
        t.elapsed().as_secs_f64()
    );
    let rate = |f: &dyn Fn() -> u64| {
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    assert_eq!(f(), count);
                    count as f64 / t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    let lines = rate(&|| read_lines_only(&path));
    let parsed_before = rate(&|| parse_string_lines(&path));
    let parsed = rate(&|| parse_only(&path));
    let mut checks: Vec<(f64, u64, String)> = (0..runs).map(|_| check_from(bin, &path)).collect();
    checks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (secs, _, verdict) = checks[checks.len() / 2].clone();
    let peak = checks.iter().map(|c| c.1).max().unwrap_or(0);
    let checked = count as f64 / secs;
    println!("(a) read lines only (I/O floor)                   {lines:>12.0} obs/s");
    println!("(b0) a String per line, the derived Observation  {parsed_before:>12.0} obs/s");
    println!("(b) recording reader: parse only, no model        {parsed:>12.0} obs/s");
    println!(
        "(c) `inboxtop check --from` (process, whole run)  {checked:>12.0} obs/s   (target ≥ 1 M/s)"
    );
    println!(
        "ratio b/b0 {:.2}, c/a {:.2}, c/b {:.2}; peak RSS of check {:.1} MiB; verdict: {verdict}",
        parsed / parsed_before,
        checked / lines,
        checked / parsed,
        peak as f64 / 1024.0
    );

    // Landing 90 % in (it fast-forwards 90 % of the observations): from the recording's latest
    // checkpoint before the start point, then, as the same-run baseline, with the checkpoints
    // moved away (every observation before the start point folded).
    let late = Duration::from_millis(count * SPACING_MS * 9 / 10);
    let checkpoints = checkpoint::path_for(&path);
    let checkpoint_bytes = std::fs::metadata(&checkpoints).map_or(0, |m| m.len());
    let (landed, jumped) = replay_landing(&path, late).await;
    let moved = path.with_extension("moved");
    std::fs::rename(&checkpoints, &moved).expect("move the checkpoints away");
    let (folded_all, _) = replay_landing(&path, late).await;
    println!(
        "replay --from {} s (90 %, {} observations before it): lands in {landed:.2} s from a \
         checkpoint ({:.1} MiB of checkpoints, {:.1} % of the recording), {folded_all:.2} s \
         folding from the start   (target ≤ 1 s)",
        late.as_secs(),
        count * 9 / 10,
        checkpoint_bytes as f64 / f64::from(1 << 20),
        checkpoint_bytes as f64 * 100.0 / bytes as f64,
    );
    println!(
        "then `]` (+30 s, {} observations): lands in {:.1} ms   (target ≤ 1 s)",
        30_000 / SPACING_MS,
        jumped * 1e3
    );
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(&moved).ok();
}
