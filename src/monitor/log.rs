//! The raw event log: what arrived on the stream, in order, with connection lifecycle lines in
//! between so the log reads as a story. Bounded; the total is exact.

use chrono::{DateTime, Utc};

use super::ring::Ring;
use crate::observation::Mono;
use crate::wire::truncated;

/// Entries kept.
pub const LOG_CAPACITY: usize = 5000;
/// Characters of an event's data kept for display (the length is kept exactly).
pub const MAX_DATA_CHARS: usize = 4096;
/// Characters of an event name or id kept.
pub const MAX_FIELD_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EntryKind {
    /// A dispatched SSE event.
    Event,
    /// An SSE comment line (keep-alive).
    Comment,
    /// A connection lifecycle line written by inboxtop (attempt, response, close, retry).
    Lifecycle,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogEntry {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub session: u64,
    pub kind: EntryKind,
    /// Event type (`message`, `heartbeat`, …), `:` for a comment, or a lifecycle tag.
    pub name: String,
    pub id: Option<String>,
    /// Data (cut to [`MAX_DATA_CHARS`]); untrusted, sanitize before display.
    pub data: String,
    /// The true length of the data in bytes.
    pub data_len: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventLog {
    pub entries: Ring<LogEntry>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog::with_capacity(LOG_CAPACITY)
    }
}

impl EventLog {
    pub fn with_capacity(capacity: usize) -> Self {
        EventLog {
            entries: Ring::new(capacity),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        t: Mono,
        wall: DateTime<Utc>,
        session: u64,
        kind: EntryKind,
        name: &str,
        id: Option<&str>,
        data: &str,
    ) {
        // Under a flood the ring is full: the entry leaving lends its strings to the new one, so
        // logging an event allocates nothing.
        self.entries.push_with(|leaving| {
            let (mut name_buf, mut id_buf, mut data_buf) =
                leaving.map(|e| (e.name, e.id, e.data)).unwrap_or_default();
            refill(&mut name_buf, truncated(name, MAX_FIELD_CHARS));
            refill(&mut data_buf, truncated(data, MAX_DATA_CHARS));
            let id = id.map(|id| {
                let mut buf = id_buf.take().unwrap_or_default();
                refill(&mut buf, truncated(id, MAX_FIELD_CHARS));
                buf
            });
            LogEntry {
                t,
                wall,
                session,
                kind,
                name: name_buf,
                id,
                data: data_buf,
                data_len: data.len(),
            }
        });
    }

    /// Every entry ever logged (held or dropped).
    pub fn total(&self) -> u64 {
        self.entries.total()
    }
}

/// A reused buffer keeps its allocation up to this size; a larger one (from a rare big event) is
/// cut to fit, so the held memory follows what the log holds now.
const REUSE_CAPACITY: usize = 1024;

/// Makes `buf` hold `text`, reusing its allocation.
fn refill(buf: &mut String, text: &str) {
    buf.clear();
    if buf.capacity() > REUSE_CAPACITY {
        buf.shrink_to(text.len());
    }
    buf.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_data_is_cut_for_display_but_measured() {
        let mut log = EventLog::with_capacity(2);
        let big = "x".repeat(MAX_DATA_CHARS * 3);
        for _ in 0..3 {
            log.push(
                Mono::ZERO,
                DateTime::UNIX_EPOCH,
                1,
                EntryKind::Event,
                "message",
                Some("a"),
                &big,
            );
        }
        let e = log.entries.last().unwrap();
        assert_eq!(e.data.len(), MAX_DATA_CHARS);
        assert_eq!(e.data_len, big.len());
        assert_eq!((log.entries.len(), log.total()), (2, 3));
    }

    #[test]
    fn reused_entries_hold_only_their_own_text() {
        let mut log = EventLog::with_capacity(1);
        let big = "y".repeat(MAX_DATA_CHARS);
        let at = (Mono::ZERO, DateTime::UNIX_EPOCH, 1, EntryKind::Event);
        log.push(at.0, at.1, at.2, at.3, "message", Some("m-1"), &big);
        log.push(at.0, at.1, at.2, at.3, "hb", None, "{}");
        let e = log.entries.last().unwrap();
        assert_eq!((e.name.as_str(), e.id.as_deref()), ("hb", None));
        assert_eq!((e.data.as_str(), e.data_len), ("{}", 2));
        assert!(
            e.data.capacity() <= REUSE_CAPACITY,
            "the big buffer was cut"
        );
        log.push(at.0, at.1, at.2, at.3, "message", Some("m-2"), "x");
        let e = log.entries.last().unwrap();
        assert_eq!((e.id.as_deref(), e.data.as_str()), (Some("m-2"), "x"));
        assert_eq!(log.total(), 3);
    }
}
