//! The byte-level line guard and the `text/event-stream` parser.
//!
//! # Why not `eventsource-stream`
//!
//! The crate is in the dependency list and was the first choice, but reading its 0.2.3 source
//! against the WHATWG "event stream interpretation" rules shows gaps that matter for a monitor
//! whose job is to survive hostile servers, so the field parsing lives here (about a hundred lines)
//! and the crate is only used, in the tests below, as a differential oracle on inputs where it is
//! right:
//!
//! - **Invalid UTF-8 stalls it for good.** Its `Utf8Stream` keeps the bytes from the first invalid
//!   sequence onwards in its buffer and waits for them to become valid, which they never do: every
//!   later event is silently lost (and the buffer grows without bound). Here each complete line is
//!   decoded lossily (U+FFFD), which is what the WHATWG "UTF-8 decode" step does anyway.
//! - **Unbounded memory.** Its line buffer is a `String` that grows with an endless line; here a
//!   line longer than the limit is counted and skipped, never buffered.
//! - **CR-only line endings are held back.** Its streaming `nom` grammar cannot decide whether a
//!   CR at the end of a chunk is a line ending before the next byte arrives, so the last line of a
//!   CR-terminated event waits for the next chunk (a heartbeat 30 s later). Here a CR ends the line
//!   at once and a LF directly after it (even in the next chunk) is swallowed.
//! - **`retry:` leniency.** It uses `u64::from_str`, which accepts `+123`; WHATWG requires the value
//!   to consist of ASCII digits only.
//! - **Comments are dropped**, but keep-alive comments are evidence inboxtop must show.
//!
//! # The rules, as implemented
//!
//! - The stream is split into lines at LF, CRLF or a lone CR (also across chunk boundaries).
//! - One leading UTF-8 BOM (`EF BB BF`) is stripped, once, at the start of the stream (a session).
//! - Each complete line is decoded lossily as UTF-8 (invalid bytes → U+FFFD) — the session goes on.
//! - An empty line dispatches the event; a line starting with `:` is a comment; otherwise the field
//!   name runs up to the first `:` (the whole line when there is none, with an empty value) and one
//!   leading space of the value is removed.
//! - `event` sets the type buffer, `data` appends the value and a LF, `id` sets the last-event-id
//!   buffer unless the value contains NUL, `retry` sets the reconnection time when the value is
//!   only ASCII digits; other fields are ignored.
//! - Dispatch: the last event id (which persists across events and, through
//!   [`EventParser::with_last_event_id`], across sessions) is committed; an empty data buffer
//!   dispatches nothing; otherwise one trailing LF is removed and the event is emitted with the type
//!   (default `message`). Type and data buffers are reset, the id buffer is not.
//! - At end of stream, a partial line and an undispatched event are discarded.
//!
//! # inboxtop's additions (not in WHATWG, which has no limits)
//!
//! - A line over `limit` bytes is skipped without buffering and reported as
//!   [`Item::Oversized`] when it ends (or when the stream ends). An event that lost a field line
//!   this way is not dispatched with a hole in it; it is dropped (the report already happened).
//! - An event whose accumulated `data` would exceed `limit` is likewise dropped and reported once
//!   with its full size. Every buffer (line, data, type, id) is therefore bounded by `limit`.
//! - [`Frame::id`] is the id set *in this event's own block*, not the persisted last event id:
//!   a heartbeat after a message must not look like a second copy of that message. The persisted
//!   value (what a browser's `lastEventId` shows, and what `Last-Event-ID` carries on reconnect)
//!   is [`EventParser::last_event_id`].
//! - `retry:` is applied to the reconnection time at once ([`EventParser::reconnection_ms`]) and
//!   also reported on the next dispatched event, so a recording shows it.

/// The UTF-8 byte order mark.
pub const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Buffers whose capacity grew past this are released after use rather than kept.
const KEEP_CAPACITY: usize = 64 * 1024;

/// How many first bytes of a skipped line are kept, to tell which field it was.
pub const HEAD_BYTES: usize = 8;

/// What the line guard hands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line, without its terminator.
    Complete(&'a [u8]),
    /// A line over the limit ended (or the stream ended inside it). It was not buffered.
    Oversized {
        /// Its length in bytes, without the terminator.
        bytes: u64,
        /// Its first [`HEAD_BYTES`] bytes (fewer if it was shorter): enough for a field name.
        head: &'a [u8],
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Skip {
    bytes: u64,
    head: [u8; HEAD_BYTES],
    head_len: usize,
}

impl Skip {
    fn new() -> Skip {
        Skip {
            bytes: 0,
            head: [0; HEAD_BYTES],
            head_len: 0,
        }
    }

    fn absorb(&mut self, seg: &[u8]) {
        self.bytes = self.bytes.saturating_add(seg.len() as u64);
        let n = seg.len().min(HEAD_BYTES - self.head_len);
        self.head[self.head_len..self.head_len + n].copy_from_slice(&seg[..n]);
        self.head_len += n;
    }

    fn line(&self) -> Line<'_> {
        Line::Oversized {
            bytes: self.bytes,
            head: &self.head[..self.head_len],
        }
    }
}

/// Splits a byte stream into lines (LF, CRLF, CR), strips one leading BOM and keeps memory
/// bounded: a line longer than `limit` bytes is counted and skipped, never buffered.
#[derive(Debug, Clone)]
pub struct LineGuard {
    limit: usize,
    buf: Vec<u8>,
    skipping: Option<Skip>,
    /// The last byte seen was a CR: a LF right after it belongs to the same line ending.
    after_cr: bool,
    /// `Some(n)`: the first `n` bytes of the stream matched the BOM so far; `None`: decided.
    bom_matched: Option<usize>,
}

impl LineGuard {
    pub fn new(limit: usize) -> LineGuard {
        LineGuard {
            limit,
            buf: Vec::new(),
            skipping: None,
            after_cr: false,
            bom_matched: Some(0),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes currently held for an unfinished line (never more than the limit, nor is the
    /// allocation).
    pub fn buffered(&self) -> usize {
        self.buf.capacity().max(self.buf.len())
    }

    /// Feeds one chunk; `f` gets every line it completes, in order.
    pub fn feed(&mut self, chunk: &[u8], f: &mut impl FnMut(Line<'_>)) {
        let Some(matched) = self.bom_matched else {
            return self.process(chunk, f);
        };
        let mut n = matched;
        let mut i = 0;
        while n < UTF8_BOM.len() && i < chunk.len() && chunk[i] == UTF8_BOM[n] {
            n += 1;
            i += 1;
        }
        if n == UTF8_BOM.len() {
            self.bom_matched = None;
            self.process(&chunk[i..], f);
        } else if i == chunk.len() {
            // Still a possible BOM: hold the (at most two) bytes until the next chunk decides.
            self.bom_matched = Some(n);
        } else {
            // Not a BOM after all: the bytes that looked like one are content.
            self.bom_matched = None;
            self.process(&UTF8_BOM[..n], f);
            self.process(&chunk[i..], f);
        }
    }

    /// The stream ended: a skipped line in progress is reported; a partial line is discarded.
    pub fn finish(&mut self, f: &mut impl FnMut(Line<'_>)) {
        if let Some(skip) = self.skipping.take() {
            f(skip.line());
        }
        self.buf = Vec::new();
        self.after_cr = false;
    }

    fn process(&mut self, bytes: &[u8], f: &mut impl FnMut(Line<'_>)) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', rest) {
                None => {
                    self.append(rest);
                    return;
                }
                Some(p) => {
                    self.end_line(&rest[..p], f);
                    self.after_cr = rest[p] == b'\r';
                    rest = &rest[p + 1..];
                }
            }
        }
    }

    /// Adds the middle of a line. Past the limit, the line is only counted from then on.
    fn append(&mut self, seg: &[u8]) {
        if self.skipping.is_none() && self.buf.len() + seg.len() > self.limit {
            self.start_skipping();
        }
        match &mut self.skipping {
            Some(skip) => skip.absorb(seg),
            None => push_bounded(&mut self.buf, seg, self.limit),
        }
    }

    /// The line ends with `seg`.
    fn end_line(&mut self, seg: &[u8], f: &mut impl FnMut(Line<'_>)) {
        if self.skipping.is_none() && self.buf.len() + seg.len() > self.limit {
            self.start_skipping();
        }
        if let Some(mut skip) = self.skipping.take() {
            skip.absorb(seg);
            return f(skip.line());
        }
        if self.buf.is_empty() {
            return f(Line::Complete(seg));
        }
        push_bounded(&mut self.buf, seg, self.limit);
        f(Line::Complete(&self.buf));
        self.release();
    }

    /// The current line is over the limit: what is buffered of it moves into the counter.
    fn start_skipping(&mut self) {
        let mut skip = Skip::new();
        skip.absorb(&self.buf);
        self.skipping = Some(skip);
        self.release();
    }

    fn release(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }
}

/// Appends `bytes` to `buf`, growing the allocation geometrically but never past `limit`.
/// The caller has checked that `buf.len() + bytes.len() <= limit`.
fn push_bounded(buf: &mut Vec<u8>, bytes: &[u8], limit: usize) {
    let need = buf.len() + bytes.len();
    debug_assert!(need <= limit);
    if buf.capacity() < need {
        let target = (buf.capacity() * 2).max(need).max(64).min(limit);
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(bytes);
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The event type (`message` when the block set none).
    pub event: String,
    /// The id set in this event's own block (non-empty, without NUL), if any.
    pub id: Option<String>,
    pub data: String,
    /// A `retry:` value received since the previous dispatched event.
    pub retry_ms: Option<u64>,
}

/// What the parser yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Event(Frame),
    /// A comment line, without the colon and one leading space.
    Comment(String),
    /// A line, or an event's data, over the limit was skipped. `bytes` is its full size.
    Oversized {
        bytes: u64,
    },
}

/// A `text/event-stream` parser for one session (one HTTP response), per WHATWG, with bounded
/// memory. See the module documentation for the rules and the additions.
#[derive(Debug, Clone)]
pub struct EventParser {
    lines: LineGuard,
    limit: usize,
    data: Vec<u8>,
    /// Size the data buffer would have (exact even when it is over the limit).
    data_bytes: u64,
    data_over: bool,
    event_type: Vec<u8>,
    /// The id set in the current block.
    block_id: Option<Vec<u8>>,
    /// WHATWG's "last event ID buffer" (set by `id:`) and "last event ID string" (committed at
    /// dispatch).
    id_buffer: Vec<u8>,
    last_event_id: Vec<u8>,
    /// A field line of the current block was skipped for size.
    damaged: bool,
    reconnection_ms: Option<u64>,
    pending_retry: Option<u64>,
}

impl EventParser {
    pub fn new(limit: usize) -> EventParser {
        EventParser {
            lines: LineGuard::new(limit),
            limit,
            data: Vec::new(),
            data_bytes: 0,
            data_over: false,
            event_type: Vec::new(),
            block_id: None,
            id_buffer: Vec::new(),
            last_event_id: Vec::new(),
            damaged: false,
            reconnection_ms: None,
            pending_retry: None,
        }
    }

    /// Starts from the last event id of a previous session (WHATWG: it survives reconnects).
    pub fn with_last_event_id(mut self, id: Option<&str>) -> EventParser {
        let id = id.unwrap_or_default().as_bytes();
        if !id.contains(&0) && id.len() <= self.limit() {
            self.id_buffer = id.to_vec();
            self.last_event_id = id.to_vec();
        }
        self
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The committed last event id, `None` when empty (then no `Last-Event-ID` is sent).
    pub fn last_event_id(&self) -> Option<String> {
        (!self.last_event_id.is_empty()).then(|| lossy(&self.last_event_id))
    }

    /// The reconnection time the server asked for with `retry:`, if it did.
    pub fn reconnection_ms(&self) -> Option<u64> {
        self.reconnection_ms
    }

    /// The largest single buffer held now (each is bounded by the limit).
    pub fn buffered(&self) -> usize {
        [
            self.lines.buffered(),
            self.data.capacity(),
            self.event_type.capacity(),
            self.id_buffer.capacity(),
            self.block_id.as_ref().map_or(0, Vec::capacity),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Feeds one chunk of the body; completed items are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Item>) {
        // The guard is taken out for the call so that the callback may borrow the parser.
        let mut lines = std::mem::replace(&mut self.lines, LineGuard::new(0));
        lines.feed(chunk, &mut |line| self.on_line(line, out));
        self.lines = lines;
    }

    /// The body ended (or the session did). Reports a pending oversized line or event; an
    /// incomplete event is discarded, as WHATWG says.
    pub fn finish(&mut self, out: &mut Vec<Item>) {
        let mut lines = std::mem::replace(&mut self.lines, LineGuard::new(0));
        lines.finish(&mut |line| self.on_line(line, out));
        self.lines = lines;
        if self.data_over {
            out.push(Item::Oversized {
                bytes: self.data_bytes,
            });
        }
        self.reset_block();
    }

    fn on_line(&mut self, line: Line<'_>, out: &mut Vec<Item>) {
        let line = match line {
            Line::Oversized { bytes, head } => {
                self.damaged |= may_change_an_event(head, bytes);
                out.push(Item::Oversized { bytes });
                return;
            }
            Line::Complete(line) => line,
        };
        if line.is_empty() {
            return self.dispatch(out);
        }
        if line[0] == b':' {
            out.push(Item::Comment(lossy(strip_one_space(&line[1..]))));
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(p) => (&line[..p], strip_one_space(&line[p + 1..])),
            None => (line, &[][..]),
        };
        let limit = self.limit();
        match name {
            b"event" => {
                self.event_type.clear();
                push_bounded(&mut self.event_type, value, limit);
            }
            b"data" => {
                let add = value.len() as u64 + 1;
                self.data_bytes = self.data_bytes.saturating_add(add);
                if self.data_over || self.data.len() + value.len() + 1 > limit {
                    self.data_over = true;
                    self.data = Vec::new();
                } else {
                    push_bounded(&mut self.data, value, limit);
                    push_bounded(&mut self.data, b"\n", limit);
                }
            }
            b"id" if !value.contains(&0) => {
                self.id_buffer.clear();
                push_bounded(&mut self.id_buffer, value, limit);
                self.block_id = Some(value.to_vec());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Only digits, so the only failure is overflow: such a value is ignored.
                if let Ok(ms) = std::str::from_utf8(value).unwrap_or("x").parse::<u64>() {
                    self.reconnection_ms = Some(ms);
                    self.pending_retry = Some(ms);
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Item>) {
        self.last_event_id.clone_from(&self.id_buffer);
        if self.data_over {
            out.push(Item::Oversized {
                bytes: self.data_bytes,
            });
        } else if !self.damaged && !self.data.is_empty() {
            let mut data = &self.data[..];
            if data.last() == Some(&b'\n') {
                data = &data[..data.len() - 1];
            }
            let event = if self.event_type.is_empty() {
                "message".to_owned()
            } else {
                lossy(&self.event_type)
            };
            out.push(Item::Event(Frame {
                event,
                id: self
                    .block_id
                    .as_deref()
                    .filter(|id| !id.is_empty())
                    .map(lossy),
                data: lossy(data),
                retry_ms: self.pending_retry.take(),
            }));
        }
        self.reset_block();
    }

    fn reset_block(&mut self) {
        self.data.clear();
        if self.data.capacity() > KEEP_CAPACITY {
            self.data = Vec::new();
        }
        self.data_bytes = 0;
        self.data_over = false;
        self.event_type.clear();
        self.block_id = None;
        self.damaged = false;
    }
}

/// Whether a skipped line, of which `head` are the first bytes, may have been a `data`, `event` or
/// `id` field (so the event it belongs to is incomplete). A comment or a field whose name is
/// surely none of these (an unknown field, or `retry`) is harmless. When the head holds no colon
/// the name may go on past it, so any prefix of a known name counts.
fn may_change_an_event(head: &[u8], bytes: u64) -> bool {
    const FIELDS: [&[u8]; 3] = [b"data", b"event", b"id"];
    if head.first() == Some(&b':') {
        return false;
    }
    match head.iter().position(|&b| b == b':') {
        Some(p) => FIELDS.contains(&&head[..p]),
        // The whole line is in the head: its name is exact.
        None if bytes == head.len() as u64 => FIELDS.contains(&head),
        None => FIELDS.iter().any(|f| f.starts_with(head)),
    }
}

fn strip_one_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// Lossy UTF-8: invalid sequences become U+FFFD, the rest is kept.
fn lossy(bytes: &[u8]) -> String {
    // Checking for valid UTF-8 first is several times faster than the chunked lossy walk, and
    // nearly every line is valid.
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1024;

    fn parse_chunks(chunks: &[&[u8]]) -> (Vec<Item>, EventParser) {
        let mut p = EventParser::new(LIMIT);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out);
        }
        p.finish(&mut out);
        (out, p)
    }

    fn parse(input: &str) -> Vec<Item> {
        parse_chunks(&[input.as_bytes()]).0
    }

    fn ev(event: &str, data: &str) -> Item {
        Item::Event(Frame {
            event: event.into(),
            id: None,
            data: data.into(),
            retry_ms: None,
        })
    }

    fn events(items: &[Item]) -> Vec<Frame> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Event(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn lossy_keeps_valid_text_and_replaces_only_invalid_bytes() {
        assert_eq!(lossy("héllo ✓".as_bytes()), "héllo ✓");
        assert_eq!(lossy(b"a\xFFb"), "a\u{FFFD}b");
        assert_eq!(lossy(b"cut \xE2\x9C"), "cut \u{FFFD}");
        assert_eq!(lossy(b""), "");
    }

    #[test]
    fn lf_crlf_and_cr_line_endings() {
        let want = vec![ev("ping", "a"), ev("message", "b")];
        assert_eq!(parse("event: ping\ndata: a\n\ndata: b\n\n"), want);
        assert_eq!(parse("event: ping\r\ndata: a\r\n\r\ndata: b\r\n\r\n"), want);
        assert_eq!(parse("event: ping\rdata: a\r\rdata: b\r\r"), want);
        // Mixed in one stream.
        assert_eq!(parse("event: ping\r\ndata: a\r\n\ndata: b\r\r"), want);
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_ending() {
        // CR at the end of one chunk, LF at the start of the next: one line ending. Were the LF
        // taken as an empty line, `a` and `b` would be two events.
        let (items, _) = parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(items, vec![ev("message", "a\nb")]);
    }

    #[test]
    fn cr_only_dispatches_without_waiting_for_the_next_byte() {
        let mut p = EventParser::new(LIMIT);
        let mut out = Vec::new();
        p.feed(b"data: now\r\r", &mut out);
        assert_eq!(
            out,
            vec![ev("message", "now")],
            "must not wait for more bytes"
        );
        // And a following LF is swallowed, not taken as another (empty) line.
        p.feed(b"\ndata: next\r\r", &mut out);
        assert_eq!(events(&out).len(), 2);
    }

    #[test]
    fn every_byte_split_gives_the_same_events() {
        let input = b"\xEF\xBB\xBF: hi\r\nevent: a\rdata: 1\r\n\r\nid: 7\ndata: 2\n\n";
        let whole = parse_chunks(&[&input[..]]).0;
        let one_by_one: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_chunks(&one_by_one).0, whole);
        assert_eq!(events(&whole).len(), 2);
    }

    #[test]
    fn leading_bom_is_stripped_once() {
        let items = parse("\u{FEFF}data: x\n\n");
        assert_eq!(items, vec![ev("message", "x")]);
        // A BOM split across chunks.
        let (items, _) = parse_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]);
        assert_eq!(items, vec![ev("message", "x")]);
        // A second BOM is content: it becomes part of the field name `\u{FEFF}data`, ignored.
        assert_eq!(parse("\u{FEFF}\u{FEFF}data: x\n\n"), vec![]);
        // A BOM later in the stream is not stripped.
        assert_eq!(
            parse("data: x\n\n\u{FEFF}data: y\n\n"),
            vec![ev("message", "x")]
        );
        // Bytes that start like a BOM but are not one are kept.
        let (items, _) = parse_chunks(&[b"\xEF", b"\xBBdata: x\n\n"]);
        assert_eq!(items.len(), 0, "field name is \\xEF\\xBBdata, unknown");
        // `\xEF:c` is then a field named `\xEF`, not a comment.
        let (items, _) = parse_chunks(&[b"\xEF", b":c\n"]);
        assert_eq!(items, vec![]);
    }

    #[test]
    fn comments_are_reported_and_do_not_dispatch() {
        let items = parse(": keep-alive\n:\n:  two spaces\ndata: x\n\n");
        assert_eq!(
            items,
            vec![
                Item::Comment("keep-alive".into()),
                Item::Comment(String::new()),
                Item::Comment(" two spaces".into()),
                ev("message", "x"),
            ]
        );
        // A block of comments only dispatches nothing.
        assert_eq!(events(&parse(":a\n\n:b\n\n")), vec![]);
    }

    #[test]
    fn field_without_colon_has_empty_value() {
        // `data` alone appends an empty line: the event is dispatched with empty data.
        assert_eq!(parse("data\n\n"), vec![ev("message", "")]);
        assert_eq!(parse("data\ndata\n\n"), vec![ev("message", "\n")]);
        // `event` alone resets the type to the default.
        assert_eq!(parse("event\ndata: x\n\n"), vec![ev("message", "x")]);
    }

    #[test]
    fn only_one_leading_space_is_stripped() {
        assert_eq!(parse("data:  two\n\n"), vec![ev("message", " two")]);
        assert_eq!(parse("data:none\n\n"), vec![ev("message", "none")]);
        assert_eq!(parse("data: \n\n"), vec![ev("message", "")]);
        assert_eq!(parse("data:\ttab\n\n"), vec![ev("message", "\ttab")]);
        // Only the first colon separates: the rest is value.
        assert_eq!(parse("data: a: b\n\n"), vec![ev("message", "a: b")]);
    }

    #[test]
    fn multi_line_data_is_joined_with_lf() {
        assert_eq!(
            parse("data: one\ndata: two\ndata: three\n\n"),
            vec![ev("message", "one\ntwo\nthree")]
        );
        assert_eq!(parse("data: a\ndata:\n\n"), vec![ev("message", "a\n")]);
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        assert_eq!(parse("event: ping\n\n"), vec![]);
        assert_eq!(parse("id: 1\n\n"), vec![]);
        // And the type does not leak into the next event.
        assert_eq!(
            parse("event: ping\n\ndata: x\n\n"),
            vec![ev("message", "x")]
        );
    }

    #[test]
    fn event_type_resets_after_dispatch() {
        assert_eq!(
            parse("event: heartbeat\ndata: 1\n\ndata: 2\n\n"),
            vec![ev("heartbeat", "1"), ev("message", "2")]
        );
        // The last `event` line of a block wins.
        assert_eq!(parse("event: a\nevent: b\ndata: 1\n\n"), vec![ev("b", "1")]);
    }

    #[test]
    fn id_persists_and_is_reported_only_on_its_own_event() {
        let (items, p) = parse_chunks(&[b"id: m1\ndata: a\n\ndata: b\n\n"]);
        let f = events(&items);
        assert_eq!(f[0].id.as_deref(), Some("m1"));
        assert_eq!(f[1].id, None, "block-local id: b set none");
        assert_eq!(p.last_event_id().as_deref(), Some("m1"), "persists");
        // An id in a block without data still becomes the last event id.
        let (_, p) = parse_chunks(&[b"id: m1\ndata: a\n\nid: m2\n\n"]);
        assert_eq!(p.last_event_id().as_deref(), Some("m2"));
        // An empty id resets it: no Last-Event-ID then.
        let (_, p) = parse_chunks(&[b"id: m1\ndata: a\n\nid\n\n"]);
        assert_eq!(p.last_event_id(), None);
        // An id in an unfinished block is not committed.
        let (_, p) = parse_chunks(&[b"id: m1\ndata: a\n\nid: m2\ndata: b\n"]);
        assert_eq!(p.last_event_id().as_deref(), Some("m1"));
        // It carries over from the previous session.
        let mut p = EventParser::new(LIMIT).with_last_event_id(Some("old"));
        let mut out = Vec::new();
        p.feed(b"data: x\n\n", &mut out);
        assert_eq!(p.last_event_id().as_deref(), Some("old"));
    }

    #[test]
    fn id_containing_nul_is_ignored() {
        let (items, p) = parse_chunks(&[b"id: good\ndata: a\n\nid: b\0ad\ndata: b\n\n"]);
        let f = events(&items);
        assert_eq!(f[1].id, None);
        assert_eq!(p.last_event_id().as_deref(), Some("good"));
    }

    #[test]
    fn retry_only_when_all_ascii_digits() {
        let retry_of = |s: &str| parse_chunks(&[s.as_bytes()]).1.reconnection_ms();
        assert_eq!(retry_of("retry: 1500\n\n"), Some(1500));
        assert_eq!(retry_of("retry:0\n\n"), Some(0));
        for junk in [
            "retry: +15\n\n",
            "retry: -1\n\n",
            "retry: 1.5\n\n",
            "retry: 15ms\n\n",
            "retry:  15\n\n",
            "retry: 15 \n\n",
            "retry:\n\n",
            "retry: ١٢\n\n",
            "retry: 99999999999999999999999\n\n",
        ] {
            assert_eq!(retry_of(junk), None, "{junk:?}");
        }
        // A later junk value leaves the earlier valid one in force.
        assert_eq!(retry_of("retry: 10\nretry: x\n\n"), Some(10));
        // It is reported on the next dispatched event, once.
        let f = events(&parse("retry: 250\n\ndata: a\n\ndata: b\n\n"));
        assert_eq!(f[0].retry_ms, Some(250));
        assert_eq!(f[1].retry_ms, None);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert_eq!(
            parse("foo: bar\nData: no\ndata: yes\n DATA: x\n\n"),
            vec![ev("message", "yes")]
        );
    }

    #[test]
    fn final_event_without_blank_line_is_not_dispatched() {
        assert_eq!(parse("data: a\n\ndata: b\n"), vec![ev("message", "a")]);
        assert_eq!(parse("data: a\n\ndata: b"), vec![ev("message", "a")]);
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily_and_parsing_goes_on() {
        let (items, _) = parse_chunks(&[b"data: caf\xC3", b"\xA9 \xFF\xFE!\n\ndata: next\n\n"]);
        let f = events(&items);
        assert_eq!(f[0].data, "café \u{FFFD}\u{FFFD}!");
        assert_eq!(f[1].data, "next");
        // Invalid bytes in field names make unknown fields, nothing worse.
        let (items, _) = parse_chunks(&[b"d\xFFta: x\ndata: y\n\n"]);
        assert_eq!(items, vec![ev("message", "y")]);
    }

    #[test]
    fn oversized_line_is_skipped_with_a_count_and_the_next_line_parses() {
        let long = "x".repeat(LIMIT * 3);
        let input = format!("data: {long}\n\nevent: after\ndata: ok\n\n");
        let items = parse(&input);
        assert_eq!(
            items,
            vec![
                Item::Oversized {
                    bytes: (LIMIT * 3 + 6) as u64
                },
                ev("after", "ok")
            ]
        );
        // Same when it arrives in small chunks.
        let chunks: Vec<&[u8]> = input.as_bytes().chunks(7).collect();
        assert_eq!(parse_chunks(&chunks).0, items);
        // A line of exactly the limit is fine.
        let exact = format!("data:{}\n\n", "y".repeat(LIMIT - 5));
        assert_eq!(events(&parse(&exact)).len(), 1);
        let over = format!("data:{}\n\n", "y".repeat(LIMIT - 4));
        assert_eq!(events(&parse(&over)).len(), 0);
    }

    #[test]
    fn an_event_missing_a_skipped_line_is_dropped_not_truncated() {
        let long = "x".repeat(LIMIT + 1);
        let items = parse(&format!("data: a\ndata: {long}\ndata: c\n\ndata: next\n\n"));
        assert_eq!(
            items,
            vec![
                Item::Oversized {
                    bytes: (LIMIT + 7) as u64
                },
                ev("message", "next")
            ]
        );
        // So does one that lost its `id` or its `event` line.
        for field in ["id", "event"] {
            let items = parse(&format!("{field}: {long}\ndata: a\n\n"));
            assert_eq!(events(&items), vec![], "{field}");
        }
        // A long comment or unknown field does not damage the event around it.
        for line in [
            format!(":{long}"),
            format!("x-{long}"),
            format!("retry: {long}"),
        ] {
            let items = parse(&format!("data: a\n{line}\n\n"));
            assert_eq!(events(&items), events(&[ev("message", "a")]), "{line:.10}");
        }
    }

    #[test]
    fn event_data_over_the_limit_is_reported_once_with_its_size() {
        let line = format!("data: {}\n", "z".repeat(LIMIT / 2));
        let input = format!("{}\ndata: next\n\n", line.repeat(5));
        let items = parse(&input);
        assert_eq!(
            items,
            vec![
                Item::Oversized {
                    bytes: 5 * (LIMIT / 2 + 1) as u64
                },
                ev("message", "next")
            ]
        );
        // At end of stream, a pending over-limit event is still reported.
        let items = parse(&line.repeat(5));
        assert!(matches!(items[..], [Item::Oversized { .. }]), "{items:?}");
    }

    #[test]
    fn oversized_line_at_end_of_stream_is_reported() {
        let items = parse(&format!("data: ok\n\n{}", "q".repeat(LIMIT + 10)));
        assert_eq!(
            items,
            vec![
                ev("message", "ok"),
                Item::Oversized {
                    bytes: (LIMIT + 10) as u64
                }
            ]
        );
    }

    #[test]
    fn endless_line_never_grows_memory_beyond_the_limit() {
        let mut p = EventParser::new(LIMIT);
        let mut out = Vec::new();
        let chunk = vec![b'a'; 4096];
        for _ in 0..10_000 {
            // 40 MB of one line.
            p.feed(&chunk, &mut out);
            assert!(p.buffered() <= LIMIT, "{}", p.buffered());
        }
        assert!(out.is_empty());
        p.feed(b"\ndata: after\n\n", &mut out);
        assert_eq!(
            out,
            vec![
                Item::Oversized {
                    bytes: 4096 * 10_000
                },
                ev("message", "after")
            ]
        );
        // Many data lines that never end the event are bounded too.
        let mut p = EventParser::new(LIMIT);
        for _ in 0..10_000 {
            p.feed(b"data: 0123456789\n", &mut out);
            assert!(p.buffered() <= LIMIT);
        }
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// Bytes biased towards the interesting ones.
        fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
            let byte = prop_oneof![
                4 => prop::sample::select(b"\n\r: ".to_vec()),
                4 => prop::sample::select(b"dataeventidretry0123456789".to_vec()),
                1 => prop::sample::select(vec![0u8, 0xEF, 0xBB, 0xBF, 0xFF, 0xC3, 0xA9]),
                1 => any::<u8>(),
            ];
            prop::collection::vec(byte, 0..600)
        }

        fn run(input: &[u8], cuts: &[usize], limit: usize) -> (Vec<Item>, Option<String>) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            cuts.sort_unstable();
            let mut p = EventParser::new(limit);
            let mut out = Vec::new();
            let mut start = 0;
            for c in cuts.into_iter().chain([input.len()]) {
                p.feed(&input[start..c], &mut out);
                assert!(p.buffered() <= limit, "{} > {limit}", p.buffered());
                start = c;
            }
            p.finish(&mut out);
            for item in &out {
                if let Item::Event(f) = item {
                    assert!(f.data.len() <= 3 * limit && f.event.len() <= 3 * limit);
                }
            }
            (out, p.last_event_id())
        }

        proptest! {
            // No regression files outside src/source: a failure prints its minimal input, which
            // then belongs in a named unit test above.
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_split_gives_the_same_items_within_the_limit(
                input in stream_bytes(),
                cuts_a in prop::collection::vec(any::<usize>(), 0..12),
                cuts_b in prop::collection::vec(any::<usize>(), 0..12),
                limit in 0usize..64,
            ) {
                let a = run(&input, &cuts_a, limit);
                let b = run(&input, &cuts_b, limit);
                let whole = run(&input, &[], limit);
                prop_assert_eq!(&a, &whole);
                prop_assert_eq!(&b, &whole);
            }

            /// On the inputs where `eventsource-stream` is right (valid UTF-8, LF endings, no
            /// `retry`, lines within the limit), both parsers dispatch the same events.
            #[test]
            fn agrees_with_eventsource_stream_where_it_is_right(
                lines in prop::collection::vec(
                    prop_oneof![
                        Just(String::new()),
                        "data(: ?[a-z é]{0,8})?",
                        "event(: ?[a-z]{0,5})?",
                        "id(: ?[a-z0-9]{0,4})?",
                        ":[ a-z]{0,6}",
                        "[a-z]{1,5}(:[a-z ]{0,4})?",
                    ],
                    0..30,
                ),
            ) {
                let input = lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect::<String>();
                let ours: Vec<(String, String)> = events(&parse(&input))
                    .into_iter()
                    .map(|f| (f.event, f.data))
                    .collect();
                let theirs: Vec<(String, String)> = reference(&input)
                    .into_iter()
                    .map(|e| (e.event, e.data))
                    .collect();
                prop_assert_eq!(ours, theirs);
            }
        }

        fn reference(input: &str) -> Vec<eventsource_stream::Event> {
            use eventsource_stream::Eventsource;
            use futures_util::StreamExt;
            let chunks = vec![Ok::<_, std::convert::Infallible>(input.as_bytes().to_vec())];
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(
                futures_util::stream::iter(chunks)
                    .eventsource()
                    .map(|r| r.expect("valid input"))
                    .collect(),
            )
        }
    }
}
