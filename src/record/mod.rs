//! Recordings: a header line, then one [`Observation`] per line (NDJSON).
//!
//! The writer is a task fed through a bounded channel with `try_send`, so neither the sources nor
//! the UI ever wait on the disk; if it falls behind, what it could not take is counted (never
//! dropped silently). It flushes at least once a second and when the channel closes. The API key is
//! never in an observation, and the header carries the base URL without any userinfo.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

use crate::observation::Observation;

pub mod checkpoint;

/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Observations the writer may be behind before new ones are counted as lost.
pub const WRITER_QUEUE: usize = 65_536;

/// The first line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always `"inboxtop-recording"`: tells a recording from any other JSON file.
    pub format: String,
    pub version: u32,
    pub client_version: String,
    pub base_url: String,
    pub agent: String,
    pub started: DateTime<Utc>,
    /// Settings that affect the diagnosis, so `check --from` judges with the same thresholds.
    pub expect_heartbeat_ms: (u64, u64),
    pub delivery_grace_ms: u64,
    /// Sessions younger than this are short (scaled with a simulator's time scale).
    #[serde(default)]
    pub short_session_ms: Option<u64>,
    /// What was watched: "live", "demo healthy", …
    pub source: String,
    /// Simulated seconds per real second of a scaled simulator (1 for a real server), so a
    /// replay or `check --from` reports in the seconds the watched system counted.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub time_scale: f64,
    /// The agents of a fleet recording, by index (an observation's `agent`); empty for one agent
    /// (then `agent` is it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    /// Watched by peek alone (`--no-stream`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peek_only: bool,
}

fn one() -> f64 {
    1.0
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_one(x: &f64) -> bool {
    (*x - 1.0).abs() < f64::EPSILON
}

pub const FORMAT_NAME: &str = "inboxtop-recording";

impl Header {
    pub fn new(
        base_url: &str,
        agent: &str,
        source: &str,
        thresholds: &crate::monitor::Thresholds,
    ) -> Header {
        Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            client_version: env!("CARGO_PKG_VERSION").into(),
            base_url: without_userinfo(base_url),
            agent: agent.into(),
            started: Utc::now(),
            expect_heartbeat_ms: (
                thresholds.heartbeat_min.as_millis() as u64,
                thresholds.heartbeat_max.as_millis() as u64,
            ),
            delivery_grace_ms: thresholds.delivery_grace.as_millis() as u64,
            short_session_ms: Some(thresholds.short_session.as_millis() as u64),
            source: source.into(),
            time_scale: thresholds.time_scale,
            agents: Vec::new(),
            peek_only: !thresholds.expect_stream,
        }
    }

    /// The header of a fleet recording: observations of agent `i` are `agents[i]`'s.
    pub fn with_agents(mut self, agents: Vec<String>) -> Header {
        if agents.len() > 1 {
            self.agents = agents;
        }
        self
    }

    /// The agents' ids by index (one agent: the header's `agent`).
    pub fn agent_ids(&self) -> Vec<String> {
        if self.agents.is_empty() {
            vec![self.agent.clone()]
        } else {
            self.agents.clone()
        }
    }

    /// The recorded thresholds applied over `base` (the detectors' other defaults).
    pub fn thresholds(&self, base: &crate::monitor::Thresholds) -> crate::monitor::Thresholds {
        let mut t = base.clone();
        t.heartbeat_min = Duration::from_millis(self.expect_heartbeat_ms.0);
        t.heartbeat_max = Duration::from_millis(self.expect_heartbeat_ms.1);
        t.delivery_grace = Duration::from_millis(self.delivery_grace_ms);
        if let Some(ms) = self.short_session_ms {
            t.short_session = Duration::from_millis(ms);
        }
        if self.time_scale.is_finite() && self.time_scale > 0.0 {
            t.time_scale = self.time_scale;
        }
        t.expect_stream = !self.peek_only;
        t
    }
}

/// `http://user:secret@host:8080/x` → `http://host:8080/x`.
pub fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// The recorder's live count of lost observations, for the header.
#[derive(Debug, Clone, Default)]
pub struct LostCounter(Arc<AtomicU64>);

impl LostCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The sending side of a recording: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Observation>,
    lost: Arc<AtomicU64>,
}

impl Recorder {
    /// Hands an observation to the writer; counts it as lost if the writer is too far behind.
    pub fn offer(&self, obs: &Observation) {
        if self.tx.try_send(obs.clone()).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Observations the writer could not keep up with.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// The same count, to read live elsewhere.
    pub fn lost_counter(&self) -> LostCounter {
        LostCounter(self.lost.clone())
    }
}

/// Creates the file, writes the header, and spawns the writer task. The task ends (after a final
/// flush) when every `Recorder` clone is dropped; await the handle to be sure it is on disk.
/// Checkpoints are written beside it ([`checkpoint`]) unless they cannot be.
pub fn start(
    path: &Path,
    header: &Header,
) -> Result<(Recorder, tokio::task::JoinHandle<std::io::Result<u64>>), String> {
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create recording {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
    let mut line = serde_json::to_vec(header).map_err(|e| e.to_string())?;
    line.push(b'\n');
    let write_header = out.write_all(&line).and_then(|()| out.flush());
    write_header.map_err(|e| format!("cannot write recording {}: {e}", path.display()))?;
    let checkpoints = checkpoint::Writer::create(path, header, line.len() as u64)
        .inspect_err(|e| tracing::warn!("recording without checkpoints: {e}"))
        .ok()
        .flatten();
    let (tx, rx) = mpsc::channel(WRITER_QUEUE);
    let handle = tokio::task::spawn_blocking(move || write_loop(out, checkpoints, rx));
    Ok((
        Recorder {
            tx,
            lost: Arc::new(AtomicU64::new(0)),
        },
        handle,
    ))
}

/// Writes observations as they come, flushing whenever the queue runs dry and at least once a
/// second under a steady flow. Returns the number of observations written. A checkpoint that
/// cannot be written ends the checkpoints, never the recording.
fn write_loop(
    mut out: std::io::BufWriter<std::fs::File>,
    mut checkpoints: Option<checkpoint::Writer>,
    mut rx: mpsc::Receiver<Observation>,
) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut last_flush = std::time::Instant::now();
    let mut line = Vec::new();
    while let Some(obs) = rx.blocking_recv() {
        line.clear();
        serde_json::to_writer(&mut line, &obs).map_err(std::io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
        written += 1;
        if let Some(writer) = &mut checkpoints
            && let Err(e) = writer.written(&obs, line.len() as u64)
        {
            tracing::warn!("recording checkpoints stopped: {e}");
            checkpoints = None;
        }
        if rx.is_empty() || last_flush.elapsed() >= Duration::from_secs(1) {
            out.flush()?;
            last_flush = std::time::Instant::now();
        }
    }
    out.flush()?;
    Ok(written)
}

/// What went wrong reading a recording, with the 1-based line it happened on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: line {}: {}",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

impl std::error::Error for ReadError {}

/// Longest line accepted in a recording (an observation holds at most one bounded event).
const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Bytes read from the file at once: large reads keep system calls rare on long recordings.
const READ_BUFFER: usize = 1 << 20;

/// A recording being read, line by line (memory stays bounded for any file size).
pub struct Reader {
    path: PathBuf,
    file: BufReader<std::fs::File>,
    /// The current line, reused: reading allocates nothing per line but the observation.
    line: Vec<u8>,
    line_no: u64,
    pub header: Header,
    done: bool,
}

impl Reader {
    /// Opens a recording and reads its header. A file that is not a recording, or one from a
    /// newer inboxtop, is an error naming line 1.
    pub fn open(path: &Path) -> Result<Reader, ReadError> {
        let err = |line, message: String| ReadError {
            path: path.to_owned(),
            line,
            message,
        };
        let file = std::fs::File::open(path).map_err(|e| err(0, format!("cannot open: {e}")))?;
        let mut file = BufReader::with_capacity(READ_BUFFER, file);
        let mut line = Vec::new();
        if !read_line(&mut file, &mut line).map_err(|m| err(1, m))? {
            return Err(err(1, "empty file: not an inboxtop recording".into()));
        }
        let value: serde_json::Value =
            serde_json::from_slice(line.trim_ascii_end()).map_err(|_| {
                err(
                    1,
                    "not an inboxtop recording (the first line is not a JSON header)".into(),
                )
            })?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
            return Err(err(
                1,
                "not an inboxtop recording (no inboxtop-recording header)".into(),
            ));
        }
        let version = value
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if version > u64::from(FORMAT_VERSION) {
            return Err(err(
                1,
                format!(
                    "recording format version {version} is newer than this inboxtop reads \
                     ({FORMAT_VERSION}): upgrade inboxtop"
                ),
            ));
        }
        let header = serde_json::from_value(value)
            .map_err(|e| err(1, format!("invalid recording header: {e}")))?;
        Ok(Reader {
            path: path.to_owned(),
            file,
            line,
            line_no: 1,
            header,
            done: false,
        })
    }

    /// The recording's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a recording to read on from a checkpoint's `mark`: the observations after it.
    pub fn resume(path: &Path, mark: &checkpoint::Mark) -> Result<Reader, ReadError> {
        let mut reader = Reader::open(path)?;
        reader
            .file
            .seek(std::io::SeekFrom::Start(mark.offset))
            .map_err(|e| ReadError {
                path: path.to_owned(),
                line: mark.line + 1,
                message: format!("cannot seek: {e}"),
            })?;
        reader.line_no = mark.line;
        Ok(reader)
    }

    /// The next line's observation (`Ok(None)` at the end of the file), or what is wrong with
    /// the line. Blank lines are skipped.
    fn read_observation(&mut self) -> Result<Option<Observation>, String> {
        loop {
            self.line_no += 1;
            if !read_line(&mut self.file, &mut self.line)? {
                return Ok(None);
            }
            let complete = self.line.last() == Some(&b'\n');
            let text = self.line.trim_ascii_end();
            if text.is_empty() && complete {
                continue;
            }
            return match parse_observation(text) {
                Ok(obs) => Ok(Some(obs)),
                Err(_) if !complete => {
                    Err("truncated: the last line is incomplete (the recording was cut off)".into())
                }
                Err(e) => Err(e),
            };
        }
    }
}

/// One line's observation. The line's UTF-8 is checked once, as a whole: `from_str` then skips
/// `serde_json`'s check of each string, which `from_slice` makes (a tenth of the reading).
fn parse_observation(line: &[u8]) -> Result<Observation, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 text: {e}"))?;
    Observation::from_line(text).map_err(|e| format!("not a valid observation: {e}"))
}

/// Reads one line into `buf` (replacing what it held), never more than [`MAX_LINE_BYTES`] of
/// it. `Ok(false)` at EOF.
fn read_line(r: &mut BufReader<std::fs::File>, buf: &mut Vec<u8>) -> Result<bool, String> {
    buf.clear();
    loop {
        let available = r.fill_buf().map_err(|e| format!("read error: {e}"))?;
        if available.is_empty() {
            return Ok(!buf.is_empty());
        }
        let room = MAX_LINE_BYTES + 1 - buf.len();
        let (taken, ended) = match memchr::memchr(b'\n', available) {
            Some(at) if at < room => (at + 1, true),
            _ => (available.len().min(room), false),
        };
        buf.extend_from_slice(&available[..taken]);
        r.consume(taken);
        if buf.len() > MAX_LINE_BYTES {
            return Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
        }
        if ended {
            return Ok(true);
        }
    }
}

impl Iterator for Reader {
    /// An observation, or the error that ends the readable part of the file.
    type Item = Result<Observation, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let read = self.read_observation();
        self.done = !matches!(read, Ok(Some(_)));
        read.map_err(|message| ReadError {
            path: self.path.clone(),
            line: self.line_no,
            message,
        })
        .transpose()
    }
}

/// Observations handed from the parse thread to the consumer at once: enough that the hand-over
/// costs nothing per observation.
const BATCH: usize = 1024;
/// Batches parsed ahead of the consumer, at most (memory stays bounded).
const BATCHES_AHEAD: usize = 4;

/// One item of a recording read: an observation, or the error that ends the readable part.
type Entry = Result<Observation, ReadError>;

/// A [`Reader`] parsing on a thread of its own, ahead of its consumer, so that on two cores
/// parsing a recording and folding it into the model overlap. It lends what the reader yields,
/// one entry at a time, and hands each finished batch back to the reading thread to be dropped
/// there: glibc's allocator frees a string allocated on another thread under a lock, which cost
/// the folding thread more than a fifth of its time.
pub struct ReadAhead {
    batches: std::sync::mpsc::Receiver<Vec<Entry>>,
    /// Finished batches, back to the reading thread.
    spent: std::sync::mpsc::SyncSender<Vec<Entry>>,
    batch: Vec<Entry>,
    /// Entries of `batch` already lent.
    lent: usize,
}

impl Reader {
    /// This reader on its own thread, which ends at the end of the file, after an error, or
    /// when the returned `ReadAhead` is dropped.
    pub fn read_ahead(mut self) -> Result<ReadAhead, ReadError> {
        let (tx, batches) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
        let (spent, spent_rx) = std::sync::mpsc::sync_channel::<Vec<Entry>>(BATCHES_AHEAD);
        let path = self.path.clone();
        std::thread::Builder::new()
            .name("inboxtop-read".into())
            .spawn(move || {
                loop {
                    // A spent batch is emptied (its observations freed) here, and refilled.
                    let mut batch = spent_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                    batch.clear();
                    batch.extend(self.by_ref().take(BATCH));
                    if batch.is_empty() || tx.send(batch).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| ReadError {
                path,
                line: 2,
                message: format!("cannot start reading: {e}"),
            })?;
        Ok(ReadAhead {
            batches,
            spent,
            batch: Vec::new(),
            lent: 0,
        })
    }
}

impl ReadAhead {
    /// The next observation, or the error that ends the readable part of the recording; `None`
    /// at its end. Lent until the next call.
    pub fn next_entry(&mut self) -> Option<&Entry> {
        if self.lent == self.batch.len() {
            let next = self.batches.recv().ok()?;
            let spent = std::mem::replace(&mut self.batch, next);
            // When the reading thread has ended or is behind, the batch is dropped here.
            let _ = self.spent.try_send(spent);
            self.lent = 0;
        }
        self.lent += 1;
        self.batch.get(self.lent - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{Kind, Mono};

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("inboxtop-rec-{}-{name}", std::process::id()))
    }

    /// Everything a read-ahead lends, copied.
    fn lent(mut ahead: ReadAhead) -> Vec<Entry> {
        std::iter::from_fn(|| ahead.next_entry().cloned()).collect()
    }

    fn obs(i: u64) -> Observation {
        Observation::new(
            Mono::from_millis(i * 10),
            "2026-11-25T03:00:00Z".parse().unwrap(),
            Kind::SseEvent {
                session: 1,
                event: "heartbeat".into(),
                id: None,
                data: format!("{{\"n\":{i}}}"),
                retry_ms: None,
            },
        )
    }

    fn header() -> Header {
        Header::new(
            "http://u:hunter2@h:1/",
            "demo",
            "test",
            &crate::monitor::Thresholds::default(),
        )
    }

    #[tokio::test]
    async fn writes_a_header_and_every_observation() {
        let path = tmp("roundtrip.ndjson");
        let (rec, task) = start(&path, &header()).unwrap();
        for i in 0..3000 {
            rec.offer(&obs(i));
        }
        drop(rec);
        assert_eq!(task.await.unwrap().unwrap(), 3000);
        let reader = Reader::open(&path).unwrap();
        assert_eq!(reader.header.base_url, "http://h:1/");
        let back: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(back.len(), 3000);
        assert_eq!(back[2999], obs(2999));
        // Read ahead on its own thread, in batches: the same observations in the same order.
        let ahead = lent(Reader::open(&path).unwrap().read_ahead().unwrap());
        assert_eq!(ahead, back.into_iter().map(Ok).collect::<Vec<_>>());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2"));
        let checkpoints = std::fs::read_to_string(checkpoint::path_for(&path)).unwrap();
        assert!(!checkpoints.contains("hunter2"));
        std::fs::remove_file(&path).ok();
        std::fs::remove_file(checkpoint::path_for(&path)).ok();
    }

    #[test]
    fn bad_files_name_their_line_and_keep_what_was_valid() {
        let good = |i| serde_json::to_string(&obs(i)).unwrap();
        let head = serde_json::to_string(&header()).unwrap();
        let comment =
            r#"{"t":12,"wall":"2026-11-25T03:00:00Z","type":"sse-comment","session":1,"text":"a"#;
        let not_utf8 = [
            format!("{head}\n{}\n{comment}", good(0)).as_bytes(),
            b"\xff",
            b"b\"}\n",
        ]
        .concat();
        let cases = [
            (
                "truncated",
                format!("{head}\n{}\n{}\n{{\"t\":12,\"wa", good(0), good(1)).into_bytes(),
                2,
                4,
                "truncated",
            ),
            (
                "corrupt",
                format!("{head}\n{}\nnot json\n{}\n", good(0), good(1)).into_bytes(),
                1,
                3,
                "not a valid",
            ),
            ("not-utf8", not_utf8, 1, 3, "not UTF-8 text"),
            (
                "oversized",
                format!(
                    "{head}\n{}\n{}\n{}\n",
                    good(0),
                    "x".repeat(MAX_LINE_BYTES),
                    good(1)
                )
                .into_bytes(),
                1,
                3,
                "line longer than",
            ),
            (
                "longest",
                format!("{head}\n{}\n{}\n", good(0), "x".repeat(MAX_LINE_BYTES - 1)).into_bytes(),
                1,
                3,
                "not a valid observation",
            ),
        ];
        for (name, text, valid, line, msg) in cases {
            let path = tmp(name);
            std::fs::write(&path, text).unwrap();
            let results: Vec<_> = Reader::open(&path).unwrap().collect();
            let ahead = lent(Reader::open(&path).unwrap().read_ahead().unwrap());
            assert_eq!(ahead, results, "{name}");
            assert_eq!(
                results.iter().filter(|r| r.is_ok()).count(),
                valid,
                "{name}"
            );
            let err = results.last().unwrap().as_ref().unwrap_err();
            assert_eq!(err.line, line, "{name}: {err}");
            assert!(err.message.contains(msg), "{name}: {err}");
            std::fs::remove_file(&path).ok();
        }
    }

    #[test]
    fn blank_lines_are_skipped_however_many() {
        let path = tmp("blank");
        let good = serde_json::to_string(&obs(1)).unwrap();
        let head = serde_json::to_string(&header()).unwrap();
        std::fs::write(&path, format!("{head}\n{}{good}\n", "\n".repeat(200_000))).unwrap();
        let results: Vec<_> = Reader::open(&path).unwrap().collect();
        assert_eq!(results, vec![Ok(obs(1))]);
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn foreign_and_newer_files_are_refused_on_line_1() {
        let newer = serde_json::to_string(&Header {
            version: FORMAT_VERSION + 1,
            ..header()
        })
        .unwrap();
        for (name, text, msg) in [
            ("empty", String::new(), "empty"),
            (
                "foreign",
                "hello world\n".to_string(),
                "not an inboxtop recording",
            ),
            (
                "json",
                "{\"a\":1}\n".to_string(),
                "not an inboxtop recording",
            ),
            ("newer", format!("{newer}\n"), "newer"),
        ] {
            let path = tmp(name);
            std::fs::write(&path, text).unwrap();
            let err = Reader::open(&path).err().unwrap();
            assert_eq!(err.line, 1, "{name}");
            assert!(err.to_string().contains(msg), "{name}: {err}");
            std::fs::remove_file(&path).ok();
        }
    }

    #[test]
    fn a_scaled_demo_keeps_its_time_scale_and_a_real_server_writes_none() {
        use crate::monitor::Thresholds;
        let scaled = Thresholds::default().scaled(20.0);
        let text =
            serde_json::to_string(&Header::new("http://h:1", "demo", "demo: stall", &scaled))
                .unwrap();
        let back: Header = serde_json::from_str(&text).unwrap();
        assert!((back.thresholds(&Thresholds::default()).time_scale - 20.0).abs() < f64::EPSILON);
        let live = serde_json::to_string(&header()).unwrap();
        assert!(!live.contains("time_scale"), "{live}");
    }

    #[test]
    fn userinfo_is_stripped() {
        assert_eq!(
            without_userinfo("https://a:b@api.example.com/v1"),
            "https://api.example.com/v1"
        );
        assert_eq!(
            without_userinfo("http://127.0.0.1:8765"),
            "http://127.0.0.1:8765"
        );
    }

    #[test]
    fn a_scaled_fleet_header_keeps_its_scale_and_agents() {
        let scaled = crate::monitor::Thresholds::default().scaled(20.0);
        let h = Header::new("http://h:1", "a", "demo", &scaled)
            .with_agents(vec!["a".into(), "b".into()]);
        let line = serde_json::to_string(&h).unwrap();
        let back: Header = serde_json::from_str(&line).unwrap();
        assert_eq!(back.agent_ids(), ["a", "b"]);
        let t = back.thresholds(&crate::monitor::Thresholds::default());
        assert!((t.time_scale - 20.0).abs() < 1e-9, "{line}");
        assert_eq!(t.shown(t.heartbeat_min), std::time::Duration::from_secs(15));
        let single = Header::new(
            "http://h:1",
            "a",
            "live",
            &crate::monitor::Thresholds::default(),
        );
        let line = serde_json::to_string(&single).unwrap();
        assert!(
            !line.contains("time_scale") && !line.contains("agents"),
            "{line}"
        );
        assert_eq!(single.with_agents(vec!["a".into()]).agent_ids(), ["a"]);
    }
}
