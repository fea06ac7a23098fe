//! Checkpoints beside a recording: the models as folded so far, saved every [`EVERY`]
//! observations, so that a replay lands late in a long recording without folding everything
//! before its start point.
//!
//! `<recording>.checkpoints` holds a header line naming the recording (its own header), then per
//! checkpoint two lines: a [`Mark`] saying where in the recording it was taken, and the fleet of
//! models, as JSON. A checkpoint is only a shortcut: it is used when the recording still has, just
//! before the mark's offset, the line it was taken after, and its models were made with the
//! thresholds the replay uses. Anything else — no file, another recording's, a cut or damaged
//! file, other thresholds — means folding from the start, exactly as without checkpoints.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::Header;
use crate::fleet::Fleet;
use crate::monitor::{Monitor, Thresholds};
use crate::observation::{Mono, Observation};

/// Observations between two checkpoints: landing folds fewer than this many (about a quarter
/// second), and the checkpoints take a few percent of the recording's size. Unit tests take one
/// every hundred, to have many in a short recording.
pub const EVERY: u64 = if cfg!(test) { 100 } else { 250_000 };
/// A recording of more agents gets no checkpoints: the writer would keep a second model of each.
pub const MAX_AGENTS: usize = 64;

const FORMAT_NAME: &str = "inboxtop-checkpoints";
const FORMAT_VERSION: u32 = 1;

/// Where `recording`'s checkpoints are kept: beside it, its name and `.checkpoints`.
pub fn path_for(recording: &Path) -> PathBuf {
    let mut name = recording.as_os_str().to_owned();
    name.push(".checkpoints");
    PathBuf::from(name)
}

/// The models a replay of a recording with `header` starts from, before any observation: one
/// per recorded agent, with `thresholds`.
pub fn fresh_fleet(header: &Header, thresholds: &Thresholds) -> Fleet {
    let mut fleet = Fleet::new();
    for id in header.agent_ids() {
        fleet.add(id, Monitor::new(thresholds.clone()));
    }
    fleet
}

/// The first line of a checkpoints file.
#[derive(Serialize, Deserialize)]
struct FileHeader {
    format: String,
    version: u32,
    /// The recording's header, which names one recording (it has its start time).
    recording: Header,
}

/// Where a checkpoint was taken: after `folded` observations, the last of them the line of
/// `last_line_bytes` bytes that ends at byte `offset` of the recording (line number `line`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub folded: u64,
    pub line: u64,
    pub offset: u64,
    pub last_line_bytes: u64,
    /// The first observation's time: a replay's start point is counted from it.
    pub first_t: Mono,
    /// The latest time of any observation folded: the checkpoint serves start points after it.
    pub latest_t: Mono,
    /// The last observation's time, to recognise its line in the recording.
    pub last_t: Mono,
    /// Length of the models' line that follows.
    pub bytes: u64,
}

/// Writes a recording's checkpoints as its lines are written: it folds its own models.
pub struct Writer {
    out: BufWriter<File>,
    fleet: Fleet,
    mark: Mark,
    /// Reused for each checkpoint's models.
    buf: Vec<u8>,
}

impl Writer {
    /// Starts the checkpoints of the recording at `recording`, whose header line (newline
    /// included) is `header_bytes` long. `Ok(None)` for a fleet too large to checkpoint.
    pub fn create(
        recording: &Path,
        header: &Header,
        header_bytes: u64,
    ) -> std::io::Result<Option<Writer>> {
        if header.agent_ids().len() > MAX_AGENTS {
            return Ok(None);
        }
        let mut out = BufWriter::new(File::create(path_for(recording))?);
        let file_header = FileHeader {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            recording: header.clone(),
        };
        serde_json::to_writer(&mut out, &file_header)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(Some(Writer {
            out,
            fleet: fresh_fleet(header, &header.thresholds(&Thresholds::default())),
            mark: Mark {
                folded: 0,
                line: 1,
                offset: header_bytes,
                last_line_bytes: 0,
                first_t: Mono::ZERO,
                latest_t: Mono::ZERO,
                last_t: Mono::ZERO,
                bytes: 0,
            },
            buf: Vec::new(),
        }))
    }

    /// `obs` was written to the recording as a line of `line_bytes` bytes (newline included).
    pub fn written(&mut self, obs: &Observation, line_bytes: u64) -> std::io::Result<()> {
        self.fleet.apply(obs);
        let mark = &mut self.mark;
        if mark.folded == 0 {
            mark.first_t = obs.t;
        }
        mark.folded += 1;
        mark.line += 1;
        mark.offset += line_bytes;
        mark.last_line_bytes = line_bytes;
        mark.latest_t = mark.latest_t.max(obs.t);
        mark.last_t = obs.t;
        if mark.folded.is_multiple_of(EVERY) {
            self.checkpoint()?;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> std::io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, &self.fleet)?;
        self.buf.push(b'\n');
        self.mark.bytes = self.buf.len() as u64;
        serde_json::to_writer(&mut self.out, &self.mark)?;
        self.out.write_all(b"\n")?;
        self.out.write_all(&self.buf)?;
        self.out.flush()
    }
}

/// The latest checkpoint of `recording` a replay starting `from` its first observation can
/// land from, with models equal to `expected`'s (same agents, same thresholds): the mark, and
/// the models as they were there. `None` when there is none to trust (then fold from the start).
pub fn latest_before(
    recording: &Path,
    header: &Header,
    from: std::time::Duration,
    expected: &Fleet,
) -> Option<(Mark, Fleet)> {
    let mut file = BufReader::new(File::open(path_for(recording)).ok()?);
    let mut line = Vec::new();
    file.read_until(b'\n', &mut line).ok()?;
    let file_header: FileHeader = serde_json::from_slice(&line).ok()?;
    if file_header.format != FORMAT_NAME
        || file_header.version != FORMAT_VERSION
        || file_header.recording != *header
    {
        return None;
    }
    let mut candidates = Vec::new();
    loop {
        line.clear();
        if file.read_until(b'\n', &mut line).ok()? == 0 {
            break;
        }
        let Ok(mark) = serde_json::from_slice::<Mark>(&line) else {
            break;
        };
        if mark.latest_t >= mark.first_t.plus(from) {
            break;
        }
        candidates.push((mark, file.stream_position().ok()?));
        file.seek_relative(i64::try_from(mark.bytes).ok()?).ok()?;
    }
    // The latest first; an earlier one still serves if the recording was cut since, or the
    // file is damaged past it.
    candidates.into_iter().rev().find_map(|(mark, models_at)| {
        if !recording_has(recording, &mark) {
            return None;
        }
        file.seek(SeekFrom::Start(models_at)).ok()?;
        let fleet: Fleet = serde_json::from_reader((&mut file).take(mark.bytes)).ok()?;
        same_models(&fleet, expected).then_some((mark, fleet))
    })
}

/// Whether the two fleets have the same agents, in order, with the same thresholds.
fn same_models(a: &Fleet, b: &Fleet) -> bool {
    let shape = |f: &Fleet| {
        f.agents()
            .iter()
            .map(|agent| (agent.id.clone(), agent.monitor.thresholds.clone()))
            .collect::<Vec<_>>()
    };
    shape(a) == shape(b)
}

/// Whether the recording's line ending at the mark's offset is the observation it was taken
/// after (the recording was not cut or rewritten since).
fn recording_has(recording: &Path, mark: &Mark) -> bool {
    let read = || -> Option<Observation> {
        let mut file = File::open(recording).ok()?;
        file.seek(SeekFrom::Start(
            mark.offset.checked_sub(mark.last_line_bytes)?,
        ))
        .ok()?;
        let mut line = vec![0; usize::try_from(mark.last_line_bytes).ok()?];
        file.read_exact(&mut line).ok()?;
        let text = std::str::from_utf8(line.strip_suffix(b"\n")?).ok()?;
        Observation::from_line(text).ok()
    };
    read().is_some_and(|obs| obs.t == mark.last_t)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::observation::{CloseReason, Kind, NetErrorClass};
    use crate::testkit::Timeline;
    use crate::wire::WireMessage;

    /// Observation `i` of a two-agent recording, 10 ms apart: sessions opening and ending,
    /// heartbeats, messages streamed and peeked, failed peeks and connects, and ticks.
    pub(crate) fn observation(i: u64) -> Observation {
        let t = Timeline::new();
        let (agent, session) = (u32::from(i % 7 == 3), i / 150 + 1);
        let kind = match i % 150 {
            0 => Kind::ConnectAttempt {
                session,
                last_event_id: None,
            },
            1 => Kind::StreamResponse {
                session,
                status: if session % 4 == 0 { 503 } else { 200 },
                content_type: Some("text/event-stream".into()),
                content_encoding: None,
                ttfb_ms: 4,
                retry_after_ms: None,
                headers: vec![],
                error: None,
            },
            149 => Kind::StreamClosed {
                session,
                reason: CloseReason::Eof,
            },
            n if n % 50 == 20 => Kind::PollOk {
                elapsed_ms: 3,
                messages: vec![WireMessage {
                    id: Some(format!("m{}", i - 10)),
                    content: "hello".into(),
                    created_at: Some(t.wall(i * 10 - 100)),
                    ..WireMessage::default()
                }],
                unreadable: 0,
            },
            n if n % 50 == 45 => Kind::ConnectFailed {
                session,
                class: NetErrorClass::Refused,
                error: "refused".into(),
            },
            n if n % 10 == 5 => Kind::SseEvent {
                session,
                event: "message".into(),
                id: Some(format!("m{i}")),
                data: format!(r#"{{"messageId":"m{i}","content":"hello"}}"#),
                retry_ms: None,
            },
            n if n % 10 == 7 => Kind::Tick,
            _ => Kind::SseEvent {
                session,
                event: "heartbeat".into(),
                id: None,
                data: format!(r#"{{"timestamp":"{}"}}"#, t.rfc3339(i * 10)),
                retry_ms: None,
            },
        };
        let mut obs = t.observation(i * 10, kind);
        obs.agent = agent;
        obs
    }

    pub(crate) fn header() -> Header {
        Header::new("http://h:1", "a", "test", &Thresholds::default())
            .with_agents(vec!["a".into(), "b".into()])
    }

    /// A recording of `n` observations at `path`, with its checkpoints, as the recorder writes.
    fn write(path: &Path, header: &Header, n: u64) {
        let mut out = Vec::new();
        serde_json::to_writer(&mut out, header).unwrap();
        out.push(b'\n');
        let mut writer = Writer::create(path, header, out.len() as u64)
            .unwrap()
            .unwrap();
        for i in 0..n {
            let before = out.len();
            serde_json::to_writer(&mut out, &observation(i)).unwrap();
            out.push(b'\n');
            writer
                .written(&observation(i), (out.len() - before) as u64)
                .unwrap();
        }
        std::fs::write(path, out).unwrap();
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("inboxtop-cp-{}-{name}", std::process::id()))
    }

    fn remove(path: &Path) {
        std::fs::remove_file(path).ok();
        std::fs::remove_file(path_for(path)).ok();
    }

    /// The checkpoint a replay `from_ms` into the recording would land from: how many
    /// observations it had folded.
    fn latest(path: &Path, header: &Header, from_ms: u64, thresholds: &Thresholds) -> Option<u64> {
        let expected = fresh_fleet(header, thresholds);
        let from = std::time::Duration::from_millis(from_ms);
        latest_before(path, header, from, &expected).map(|(mark, _)| mark.folded)
    }

    #[test]
    fn the_latest_checkpoint_before_the_start_point_is_chosen() {
        let (path, header) = (tmp("latest"), header());
        write(&path, &header, 450);
        let base = Thresholds::default();
        // Observation i is at i × 10 ms: the checkpoint after 100 has folded up to 990 ms.
        assert_eq!(latest(&path, &header, 990, &base), None);
        assert_eq!(latest(&path, &header, 1000, &base), Some(100));
        assert_eq!(latest(&path, &header, 2990, &base), Some(200));
        assert_eq!(latest(&path, &header, 2991, &base), Some(300));
        assert_eq!(latest(&path, &header, 1_000_000, &base), Some(400));
        remove(&path);
    }

    #[test]
    fn checkpoints_are_refused_for_other_thresholds_or_another_recording() {
        let (path, header) = (tmp("refused"), header());
        write(&path, &header, 250);
        let other = Thresholds {
            flood_beats: 9,
            ..Thresholds::default()
        };
        assert_eq!(latest(&path, &header, 5000, &other), None);
        let mut again = header.clone();
        again.started += chrono::Duration::seconds(1);
        assert_eq!(latest(&path, &again, 5000, &Thresholds::default()), None);
        // Cut after 150 observations: the checkpoint after 200 points past the end.
        let text = std::fs::read_to_string(&path).unwrap();
        let cut: String = text.split_inclusive('\n').take(151).collect();
        std::fs::write(&path, cut).unwrap();
        assert_eq!(
            latest(&path, &header, 5000, &Thresholds::default()),
            Some(100)
        );
        remove(&path);
    }

    #[test]
    fn a_damaged_checkpoints_file_is_read_up_to_the_damage_or_not_at_all() {
        let (path, header) = (tmp("damaged"), header());
        write(&path, &header, 350);
        let checkpoints = std::fs::read(path_for(&path)).unwrap();
        let base = Thresholds::default();
        // Cut inside the last checkpoint's models: the one before it is used.
        std::fs::write(path_for(&path), &checkpoints[..checkpoints.len() - 100]).unwrap();
        assert_eq!(latest(&path, &header, 5000, &base), Some(200));
        for damage in [&b""[..], b"{", b"not json\n", &checkpoints[..40]] {
            std::fs::write(path_for(&path), damage).unwrap();
            assert_eq!(latest(&path, &header, 5000, &base), None);
        }
        let mut wrong = checkpoints.clone();
        let at = wrong.iter().rposition(|&b| b == b'{').unwrap();
        wrong[at] = b'[';
        std::fs::write(path_for(&path), wrong).unwrap();
        assert_eq!(latest(&path, &header, 5000, &base), Some(200));
        remove(&path);
    }
}
