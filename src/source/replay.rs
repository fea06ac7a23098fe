//! Replay: a recording as a source. It sends the recorded observations unchanged (same monotonic
//! and wall times), so the model sees exactly what it saw live; only the pacing is real time,
//! scaled by the speed. Starting late in a recording first [`land`]s there: the model folds every
//! earlier observation at once, and the replay goes on from the start point.

use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::fleet::Fleet;
use crate::monitor::Thresholds;
use crate::observation::{Mono, Observation};
use crate::record::{ReadAhead, ReadError, Reader, checkpoint};

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

/// Where a replay starts: every observation before the start point already folded into the
/// model, in one tight loop (no channel, no redraw), so landing late in a long recording costs
/// what `check --from` costs for that part of it.
#[derive(Debug)]
pub struct Landing {
    /// Recorded time the replay starts at (`None`: nothing to replay).
    at: Option<Mono>,
    /// Observations folded in.
    folded: u64,
    /// The first item not folded: the observation at or after the start point, or the error
    /// that ends the readable part of the recording.
    next: Option<Result<Observation, ReadError>>,
}

/// Opens the replay of the recording `reader` reads, landed `from` its first observation, every
/// earlier observation folded into one model per recorded agent (with `thresholds`): from the
/// latest usable checkpoint of the recording ([`checkpoint`]) when it has one, else from the
/// start. The models, where the replay goes on from, and the rest of the recording.
pub fn land_fleet(
    reader: Reader,
    thresholds: &Thresholds,
    from: Duration,
) -> Result<(Fleet, Landing, ReadAhead), ReadError> {
    let mut fleet = checkpoint::fresh_fleet(&reader.header, thresholds);
    let (reader, mark) =
        match checkpoint::latest_before(reader.path(), &reader.header, from, &fleet) {
            Some((mark, models)) => {
                fleet = models;
                (Reader::resume(reader.path(), &mark)?, Some(mark))
            }
            None => (reader, None),
        };
    let mut recorded = reader.read_ahead()?;
    let landing = land(&mut recorded, mark.as_ref(), from, |obs| {
        fleet.apply(obs);
    });
    Ok((fleet, landing, recorded))
}

/// Folds the recording's observations earlier than `from` after its first one into the model
/// (`fold`), and says where the replay goes on from. `observations` go on after `mark` if the
/// model was resumed from a checkpoint, else they are the whole recording.
pub fn land(
    observations: &mut ReadAhead,
    mark: Option<&checkpoint::Mark>,
    from: Duration,
    mut fold: impl FnMut(&Observation),
) -> Landing {
    let mut landing = Landing {
        at: mark.map(|m| m.first_t.plus(from)),
        folded: mark.map_or(0, |m| m.folded),
        next: None,
    };
    while let Some(entry) = observations.next_entry() {
        let Ok(obs) = entry else {
            landing.next = Some(entry.clone());
            break;
        };
        let at = *landing.at.get_or_insert(obs.t.plus(from));
        if obs.t >= at {
            landing.next = Some(entry.clone());
            break;
        }
        fold(obs);
        landing.folded += 1;
    }
    landing
}

/// Sends the rest of the recording to `tx` from where it `landed`, paced by `speed`
/// (0 = as fast as possible).
pub async fn run_replay(
    landed: Landing,
    mut rest: ReadAhead,
    speed: f64,
    tx: mpsc::Sender<Observation>,
    mut commands: mpsc::Receiver<ReplayCommand>,
) -> ReplayEnd {
    let mut sent = landed.folded;
    let Some(start) = landed.at else {
        return ReplayEnd::Finished { sent };
    };
    let mut p = Pace {
        speed,
        anchor_rec: start,
        anchor_real: Instant::now(),
        paused: false,
    };
    let mut skip_until: Option<Mono> = None;
    let mut step_credit = 0u32;
    let rest = std::iter::from_fn(move || rest.next_entry().cloned());
    for item in landed.next.into_iter().chain(rest) {
        let obs = match item {
            Ok(obs) => obs,
            Err(error) => return ReplayEnd::Broken { sent, error },
        };
        let fast_forward = skip_until.is_some_and(|s| obs.t <= s);
        // Wait until the observation is due (or stepped to); skipped ones go out at once.
        while !fast_forward && !due_now(&mut p, obs.t, &mut step_credit) {
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
    use crate::monitor::{Monitor, Thresholds};
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

    /// A replay of `path` landed `from` in: the one agent's model, the landing and the rest.
    fn landed(path: &std::path::Path, from: Duration) -> (Monitor, Landing, ReadAhead) {
        let mut recorded = Reader::open(path).unwrap().read_ahead().unwrap();
        let mut monitor = Monitor::new(Thresholds::default());
        let landing = land(&mut recorded, None, from, |obs| monitor.apply(obs));
        (monitor, landing, recorded)
    }

    /// The sent observations' times, how much (tokio) time the replay took, and how many
    /// observations the landing folded into the model.
    async fn collect(
        path: &std::path::Path,
        speed: f64,
        from: Duration,
    ) -> (Vec<Mono>, Duration, u64) {
        let (tx, mut rx) = mpsc::channel(16);
        let (_cmd_tx, cmd_rx) = mpsc::channel(4);
        let started = Instant::now();
        let (monitor, landing, rest) = landed(path, from);
        let task = tokio::spawn(run_replay(landing, rest, speed, tx, cmd_rx));
        let mut got = Vec::new();
        while let Some(obs) = rx.recv().await {
            got.push(obs.t);
        }
        let total = got.len() as u64 + monitor.observations;
        assert!(matches!(task.await.unwrap(), ReplayEnd::Finished { sent } if sent == total));
        let folded = monitor.observations;
        (got, Instant::now().duration_since(started), folded)
    }

    /// What a replay of `path` landed `from_ms` in starts with: the models, the
    /// landing's start point and count, and the times of everything it goes on to replay.
    fn land_all(path: &std::path::Path, from_ms: u64) -> (Fleet, Option<Mono>, u64, Vec<Mono>) {
        let reader = Reader::open(path).unwrap();
        let thresholds = reader.header.thresholds(&Thresholds::default());
        let (fleet, landing, mut rest) =
            land_fleet(reader, &thresholds, Duration::from_millis(from_ms)).unwrap();
        let next = landing.next.map(|obs| obs.unwrap().t);
        let rest = std::iter::from_fn(|| rest.next_entry().map(|obs| obs.as_ref().unwrap().t));
        let rest = next.into_iter().chain(rest);
        (fleet, landing.at, landing.folded, rest.collect())
    }

    /// A recording made by the recorder, with its checkpoints (one every 100 observations in
    /// unit tests): landing late in it from the latest checkpoint before the start point gives
    /// the same models, the same start and the same rest as folding everything from the start.
    #[tokio::test]
    async fn landing_from_a_checkpoint_is_landing_from_the_start() {
        use crate::record::checkpoint::{self, tests::observation};
        let path = std::env::temp_dir().join(format!("inboxtop-replay-{}-cp", std::process::id()));
        let header = checkpoint::tests::header();
        let (recorder, writer) = crate::record::start(&path, &header).unwrap();
        for i in 0..1050 {
            recorder.offer(&observation(i));
        }
        drop(recorder);
        assert_eq!(writer.await.unwrap().unwrap(), 1050);
        let away = path.with_extension("away");
        for from_ms in [0, 5, 995, 1000, 1001, 4321, 10_490, 10_500, 60_000] {
            let expected = fresh_fleet_for(&header);
            let mark = checkpoint::latest_before(
                &path,
                &header,
                Duration::from_millis(from_ms),
                &expected,
            )
            .map(|(mark, _)| mark.folded);
            assert_eq!(mark.is_some(), from_ms > 990, "from {from_ms} ms: {mark:?}");
            let with = land_all(&path, from_ms);
            std::fs::rename(checkpoint::path_for(&path), &away).unwrap();
            let without = land_all(&path, from_ms);
            std::fs::rename(&away, checkpoint::path_for(&path)).unwrap();
            assert!(with == without, "from {from_ms} ms, checkpoint {mark:?}");
        }
        std::fs::remove_file(checkpoint::path_for(&path)).ok();
        std::fs::remove_file(&path).ok();
    }

    fn fresh_fleet_for(header: &crate::record::Header) -> Fleet {
        checkpoint::fresh_fleet(header, &header.thresholds(&Thresholds::default()))
    }

    #[tokio::test(start_paused = true)]
    async fn pacing_follows_recorded_time_scaled_by_speed() {
        let path = recording("pace", &[1000, 2000, 5000]);
        let (got, took, _) = collect(&path, 2.0, Duration::ZERO).await;
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
        let (_, instant, _) = collect(&path, 0.0, Duration::ZERO).await;
        assert_eq!(instant, Duration::ZERO);
        std::fs::remove_file(&path).ok();
    }

    #[tokio::test(start_paused = true)]
    async fn from_lands_with_the_earlier_observations_in_the_model_and_sends_the_rest() {
        let path = recording("from", &[0, 1000, 9000, 10_000]);
        let (got, took, folded) = collect(&path, 1.0, Duration::from_secs(9)).await;
        assert_eq!(folded, 2);
        assert_eq!(
            got,
            vec![Mono::from_millis(9000), Mono::from_millis(10_000)]
        );
        assert_eq!(took, Duration::from_secs(1));
        // Landing mid-gap: the next observation comes when its time is due, not at once.
        let (got, took, folded) = collect(&path, 1.0, Duration::from_millis(8500)).await;
        assert_eq!((got.len(), folded), (2, 2));
        assert_eq!(took, Duration::from_millis(1500));
        std::fs::remove_file(&path).ok();
    }

    #[tokio::test(start_paused = true)]
    async fn pause_step_and_jump() {
        let path = recording("ctl", &[0, 10_000, 20_000, 60_000, 61_000]);
        let (tx, mut rx) = mpsc::channel(16);
        let (cmd, cmd_rx) = mpsc::channel(4);
        let (_, landing, rest) = landed(&path, Duration::ZERO);
        let task = tokio::spawn(run_replay(landing, rest, 1.0, tx, cmd_rx));
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
        // Broken after the start point (sent), and before it (folded while landing).
        for (from, sent_live) in [(Duration::ZERO, 2), (Duration::from_secs(60), 0)] {
            let (tx, mut rx) = mpsc::channel(16);
            let (_c, cmd_rx) = mpsc::channel(1);
            let (_, landing, rest) = landed(&path, from);
            let end = run_replay(landing, rest, 0.0, tx, cmd_rx).await;
            let mut n = 0;
            while rx.recv().await.is_some() {
                n += 1;
            }
            assert_eq!(n, sent_live, "{from:?}");
            match end {
                ReplayEnd::Broken { sent: 2, error } => assert_eq!(error.line, 4),
                other => panic!("{other:?}"),
            }
        }
        std::fs::remove_file(&path).ok();
    }
}
