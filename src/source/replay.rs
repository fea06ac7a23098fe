//! Replay: a recording as a source. It sends the recorded observations unchanged (same monotonic
//! and wall times), so the model sees exactly what it saw live; only the pacing is real time,
//! scaled by the speed.

use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::observation::{Mono, Observation};
use crate::record::{ReadError, Reader};

/// What the viewer can ask of a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplayCommand {
    /// Stop or resume the pacing clock.
    TogglePause,
    /// While paused: send the next observation.
    Step,
    /// Skip ahead this far in recorded time (observations in between are sent at once).
    Jump(Duration),
}

/// How a replay ended.
#[derive(Debug)]
pub enum ReplayEnd {
    /// Every observation was sent.
    Finished { sent: u64 },
    /// The viewer went away.
    Stopped { sent: u64 },
    /// The file went bad at some line; everything before it was sent.
    Broken { sent: u64, error: ReadError },
}

/// The pacing of a replay: where in recorded time we are, against real time.
#[derive(Debug)]
struct Pace {
    speed: f64,
    /// Recorded time that corresponds to `anchor_real`.
    anchor_rec: Mono,
    anchor_real: Instant,
    paused: bool,
}

impl Pace {
    /// Recorded time now.
    fn position(&self, now: Instant) -> Mono {
        if self.paused || self.speed == 0.0 {
            return self.anchor_rec;
        }
        self.anchor_rec
            .plus(now.duration_since(self.anchor_real).mul_f64(self.speed))
    }

    /// Real instant at which recorded time `t` is due (None: as fast as possible).
    fn due(&self, t: Mono) -> Option<Instant> {
        if self.speed == 0.0 {
            return None;
        }
        let ahead = t.since(self.anchor_rec).div_f64(self.speed);
        Some(self.anchor_real + ahead)
    }

    fn rebase(&mut self, rec: Mono, now: Instant) {
        self.anchor_rec = rec;
        self.anchor_real = now;
    }
}

/// Whether `t` may be sent now: it is due, or the viewer stepped to it while paused (which uses
/// up the step and moves the paused position there).
fn due_now(p: &mut Pace, t: Mono, step_credit: &mut u32) -> bool {
    if p.paused {
        if *step_credit == 0 {
            return false;
        }
        *step_credit -= 1;
        p.rebase(t, Instant::now());
        return true;
    }
    p.due(t).is_none_or(|due| due <= Instant::now())
}

/// Sends the recording's observations to `tx`, paced by `speed` (0 = as fast as possible),
/// starting `from` into the recording (earlier observations are sent at once, so the model
/// state at the start point is right).
pub async fn run_replay(
    reader: Reader,
    speed: f64,
    from: Duration,
    tx: mpsc::Sender<Observation>,
    mut commands: mpsc::Receiver<ReplayCommand>,
) -> ReplayEnd {
    let mut sent = 0u64;
    let mut pace: Option<Pace> = None;
    let mut start: Option<Mono> = None;
    let mut skip_until: Option<Mono> = None;
    let mut step_credit = 0u32;
    for item in reader {
        let obs = match item {
            Ok(obs) => obs,
            Err(error) => return ReplayEnd::Broken { sent, error },
        };
        let start = *start.get_or_insert(obs.t.plus(from));
        let p = pace.get_or_insert_with(|| Pace {
            speed,
            anchor_rec: start,
            anchor_real: Instant::now(),
            paused: false,
        });
        let fast_forward = obs.t < start || skip_until.is_some_and(|s| obs.t <= s);
        // Wait until the observation is due (or stepped to); skipped ones go out at once.
        while !fast_forward && !due_now(p, obs.t, &mut step_credit) {
            let wait = if p.paused { None } else { p.due(obs.t) };
            let sleep = async {
                match wait {
                    Some(due) => tokio::time::sleep_until(due).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                cmd = commands.recv() => {
                    let now = Instant::now();
                    match cmd {
                        Some(ReplayCommand::TogglePause) => {
                            let position = p.position(now);
                            p.paused = !p.paused;
                            p.rebase(position, now);
                        }
                        Some(ReplayCommand::Step) => step_credit = step_credit.saturating_add(1),
                        Some(ReplayCommand::Jump(d)) => {
                            let target = p.position(now).plus(d);
                            p.rebase(target, now);
                            skip_until = Some(target);
                        }
                        None => {}
                    }
                }
            }
        }
        if tx.send(obs).await.is_err() {
            return ReplayEnd::Stopped { sent };
        }
        sent += 1;
    }
    ReplayEnd::Finished { sent }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Kind;
    use crate::record::Header;

    fn recording(name: &str, times_ms: &[u64]) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("inboxtop-replay-{}-{name}", std::process::id()));
        let header = Header::new(
            "http://h",
            "demo",
            "test",
            &crate::monitor::Thresholds::default(),
        );
        let mut text = serde_json::to_string(&header).unwrap() + "\n";
        for &ms in times_ms {
            let obs = Observation::new(Mono::from_millis(ms), chrono::Utc::now(), Kind::Tick);
            text += &(serde_json::to_string(&obs).unwrap() + "\n");
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The observations' times, and how much (tokio) time the replay took.
    async fn collect(path: &std::path::Path, speed: f64, from: Duration) -> (Vec<Mono>, Duration) {
        let (tx, mut rx) = mpsc::channel(16);
        let (_cmd_tx, cmd_rx) = mpsc::channel(4);
        let started = Instant::now();
        let task = tokio::spawn(run_replay(
            Reader::open(path).unwrap(),
            speed,
            from,
            tx,
            cmd_rx,
        ));
        let mut got = Vec::new();
        while let Some(obs) = rx.recv().await {
            got.push(obs.t);
        }
        assert!(matches!(task.await.unwrap(), ReplayEnd::Finished { .. }));
        (got, Instant::now().duration_since(started))
    }

    #[tokio::test(start_paused = true)]
    async fn pacing_follows_recorded_time_scaled_by_speed() {
        let path = recording("pace", &[1000, 2000, 5000]);
        let (got, took) = collect(&path, 2.0, Duration::ZERO).await;
        assert_eq!(
            got,
            vec![
                Mono::from_millis(1000),
                Mono::from_millis(2000),
                Mono::from_millis(5000)
            ]
        );
        // The paused tokio clock only moves when the replay sleeps: 4 s recorded at 2× is 2 s.
        assert_eq!(took, Duration::from_secs(2));
        let (_, instant) = collect(&path, 0.0, Duration::ZERO).await;
        assert_eq!(instant, Duration::ZERO);
        std::fs::remove_file(&path).ok();
    }

    #[tokio::test(start_paused = true)]
    async fn from_skips_ahead_but_still_sends_the_earlier_observations() {
        let path = recording("from", &[0, 1000, 9000, 10_000]);
        let (got, took) = collect(&path, 1.0, Duration::from_secs(9)).await;
        assert_eq!(got.len(), 4);
        assert_eq!(took, Duration::from_secs(1));
        std::fs::remove_file(&path).ok();
    }

    #[tokio::test(start_paused = true)]
    async fn pause_step_and_jump() {
        let path = recording("ctl", &[0, 10_000, 20_000, 60_000, 61_000]);
        let (tx, mut rx) = mpsc::channel(16);
        let (cmd, cmd_rx) = mpsc::channel(4);
        let task = tokio::spawn(run_replay(
            Reader::open(&path).unwrap(),
            1.0,
            Duration::ZERO,
            tx,
            cmd_rx,
        ));
        assert_eq!(rx.recv().await.unwrap().t, Mono::ZERO);
        cmd.send(ReplayCommand::TogglePause).await.unwrap();
        // Paused: nothing arrives, however long we wait.
        let waited = tokio::time::timeout(Duration::from_secs(100), rx.recv()).await;
        assert!(waited.is_err());
        cmd.send(ReplayCommand::Step).await.unwrap();
        assert_eq!(rx.recv().await.unwrap().t, Mono::from_millis(10_000));
        cmd.send(ReplayCommand::TogglePause).await.unwrap();
        cmd.send(ReplayCommand::Jump(Duration::from_secs(45)))
            .await
            .unwrap();
        let t0 = Instant::now();
        assert_eq!(rx.recv().await.unwrap().t, Mono::from_millis(20_000));
        assert_eq!(rx.recv().await.unwrap().t, Mono::from_millis(60_000));
        assert!(Instant::now().duration_since(t0) < Duration::from_secs(6));
        assert_eq!(rx.recv().await.unwrap().t, Mono::from_millis(61_000));
        assert!(matches!(
            task.await.unwrap(),
            ReplayEnd::Finished { sent: 5 }
        ));
        std::fs::remove_file(&path).ok();
    }

    #[tokio::test]
    async fn a_broken_line_ends_the_replay_after_the_valid_prefix() {
        let path = recording("broken", &[0, 1]);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text += "garbage\n";
        std::fs::write(&path, text).unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let (_c, cmd_rx) = mpsc::channel(1);
        let end = run_replay(
            Reader::open(&path).unwrap(),
            0.0,
            Duration::ZERO,
            tx,
            cmd_rx,
        )
        .await;
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        assert_eq!(n, 2);
        match end {
            ReplayEnd::Broken { sent: 2, error } => assert_eq!(error.line, 4),
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(&path).ok();
    }
}
