//! Frames under a flood: the TUI loop's shape (fold every queued observation, then draw at most
//! 30 frames a second) with a producer thread feeding 10 000 events a second, each frame drawn
//! through `ui::draw` into a 200×60 `TestBackend`. Baseline: the same frames with no feed.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use inboxtop::monitor::Monitor;
use inboxtop::observation::{Kind, Mono, Observation};

const RATE: u64 = 10_000;
const SECONDS: u64 = 10;
/// The app loop's frame budget (30 fps) and its per-wake batch.
const FRAME: Duration = Duration::from_millis(33);
const BATCH: usize = 4096;

fn event(i: u64, started: Instant) -> Observation {
    let ms = started.elapsed().as_millis() as u64;
    let wall = chrono::Utc::now();
    let kind = if i.is_multiple_of(10) {
        Kind::SseEvent {
            session: 1,
            event: "message".into(),
            id: Some(format!("m{i}")),
            data: format!(
                "{{\"messageId\":\"m{i}\",\"from\":\"agent-ops\",\"content\":\"deploy {i} finished\"}}"
            ),
            retry_ms: None,
        }
    } else {
        Kind::SseEvent {
            session: 1,
            event: "heartbeat".into(),
            id: None,
            data: format!("{{\"timestamp\":\"{}\"}}", wall.to_rfc3339()),
            retry_ms: None,
        }
    };
    Observation::new(Mono::from_millis(ms), wall, kind)
}

/// Sends `RATE` events a second for `SECONDS`, in 1 ms slices.
fn produce(tx: &mpsc::SyncSender<Observation>, started: Instant) {
    let per_ms = RATE / 1000;
    for slice in 0..SECONDS * 1000 {
        for k in 0..per_ms {
            if tx.send(event(slice * per_ms + k, started)).is_err() {
                return;
            }
        }
        let due = started + Duration::from_millis(slice + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Frames {
    p50_ms: f64,
    p99_ms: f64,
    count: usize,
}

fn summarize(mut draws: Vec<f64>) -> Frames {
    draws.sort_by(f64::total_cmp);
    Frames {
        p50_ms: percentile(&draws, 0.5) * 1e3,
        p99_ms: percentile(&draws, 0.99) * 1e3,
        count: draws.len(),
    }
}

/// Draws for `SECONDS` at 30 fps, folding what `rx` holds before each frame (nothing when
/// `rx` is None). Returns each draw's duration and the events folded.
fn draw_loop(monitor: &mut Monitor, rx: Option<&mpsc::Receiver<Observation>>) -> (Vec<f64>, u64) {
    let view = inboxtop::view::ViewState::default();
    let target = inboxtop::ui::Target {
        base_url: "http://127.0.0.1:8765".into(),
        agent: "bench".into(),
        key_masked: "••••".into(),
        mode: "bench".into(),
        expected_heartbeat: (Duration::from_secs(15), Duration::from_secs(30)),
        ..inboxtop::ui::Target::default()
    };
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let (mut draws, mut folded) = (Vec::new(), 0u64);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(SECONDS) {
        let frame_start = Instant::now();
        if let Some(rx) = rx {
            for obs in rx.try_iter().take(BATCH) {
                monitor.apply(&obs);
                folded += 1;
            }
        }
        let t = Instant::now();
        terminal
            .draw(|f| {
                inboxtop::ui::draw(
                    f,
                    monitor,
                    &view,
                    &target,
                    inboxtop::ui::Theme { color: true },
                );
            })
            .expect("draw");
        draws.push(t.elapsed().as_secs_f64());
        std::thread::sleep((frame_start + FRAME).saturating_duration_since(Instant::now()));
    }
    (draws, folded)
}

pub fn run(full_monitor: impl Fn() -> Monitor) {
    println!(
        "\n== frames: the TUI loop at 30 fps, 200×60 TestBackend, {SECONDS} s each, log and inbox full"
    );
    let (still, _) = draw_loop(&mut full_monitor(), None);
    let still = summarize(still);
    let mut monitor = full_monitor();
    let (tx, rx) = mpsc::sync_channel(65_536);
    let started = Instant::now();
    let producer = std::thread::spawn(move || produce(&tx, started));
    let (flooded, folded) = draw_loop(&mut monitor, Some(&rx));
    drop(rx);
    producer.join().expect("producer");
    let flooded = summarize(flooded);
    println!(
        "no feed (baseline): {} frames, draw p50 {:.3} ms, p99 {:.3} ms",
        still.count, still.p50_ms, still.p99_ms
    );
    println!(
        "fed {RATE}/s ({folded} folded): {} frames, draw p50 {:.3} ms, p99 {:.3} ms   (frame budget 33 ms)",
        flooded.count, flooded.p50_ms, flooded.p99_ms
    );
    println!(
        "ratio fed/baseline: p50 {:.2}, p99 {:.2}",
        flooded.p50_ms / still.p50_ms,
        flooded.p99_ms / still.p99_ms
    );
}
