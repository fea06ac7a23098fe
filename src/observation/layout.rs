//! The lines that fill long recordings, read by position in the layout the writer gives them.
//!
//! A long recording is nearly all SSE events and ticks, and the writer always gives those the
//! same keys in the same order: `{"t":…,"wall":"…",["agent":…,]"type":"sse-event","session":…,
//! "event":"…",["id":"…",]"data":"…"[,"retry_ms":…]}`. Reading that one layout by position skips
//! serde's key dispatch and its per-line scratch buffer, most of what a line cost. Anything else —
//! another kind, keys in another order, a `\u` escape, a number that is not a plain `u64` — is
//! left to serde (`None`), so what is accepted, and its value, is serde's answer (property-tested
//! against it in `line.rs`).

use super::{Kind, Mono, Observation, wall};

/// The observation in `line` if it is an SSE event or a tick in the writer's layout, else `None`.
pub(super) fn read(line: &str) -> Option<Observation> {
    let mut at = Cursor { line, pos: 0 };
    at.expect("{\"t\":")?;
    let t = Mono(at.number()?);
    at.expect(",\"wall\":")?;
    let wall = wall::parse_fixed(at.plain_string()?.as_bytes())?;
    let agent = if at.expect(",\"agent\":").is_some() {
        u32::try_from(at.number()?).ok()?
    } else {
        0
    };
    at.expect(",\"type\":")?;
    let kind = match at.plain_string()? {
        "tick" => Kind::Tick,
        "sse-event" => at.sse_event()?,
        _ => return None,
    };
    at.expect("}")?;
    at.rest().bytes().all(is_json_space).then_some(Observation {
        t,
        wall,
        agent,
        kind,
    })
}

/// JSON's four whitespace bytes (serde accepts them after the object; nothing else).
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// A read position in a line.
struct Cursor<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.line[self.pos..]
    }

    /// Steps over `text` if the line goes on with it.
    fn expect(&mut self, text: &str) -> Option<()> {
        self.rest()
            .starts_with(text)
            .then(|| self.pos += text.len())
    }

    /// The fields of `Kind::SseEvent`, after its `type`.
    fn sse_event(&mut self) -> Option<Kind> {
        self.expect(",\"session\":")?;
        let session = self.number()?;
        self.expect(",\"event\":")?;
        let event = self.string()?;
        let id = match self.expect(",\"id\":") {
            Some(()) => Some(self.string()?),
            None => None,
        };
        self.expect(",\"data\":")?;
        let data = self.string()?;
        let retry_ms = match self.expect(",\"retry_ms\":") {
            Some(()) => Some(self.number()?),
            None => None,
        };
        Some(Kind::SseEvent {
            session,
            event,
            id,
            data,
            retry_ms,
        })
    }

    /// A JSON integer that fits a `u64`: `0`, or digits without a leading zero.
    fn number(&mut self) -> Option<u64> {
        let digits = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        let text = &self.rest()[..digits];
        if digits == 0 || (digits > 1 && text.starts_with('0')) {
            return None;
        }
        let n = text.bytes().try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        self.pos += digits;
        Some(n)
    }

    /// A JSON string without escapes, borrowed from the line.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect("\"")?;
        let (text, escaped) = self.quoted()?;
        self.pos += text.len() + 1;
        (!escaped).then_some(text)
    }

    /// A JSON string, its escapes decoded; a `\u` escape is left to serde (surrogate pairs).
    fn string(&mut self) -> Option<String> {
        self.expect("\"")?;
        let (raw, escaped) = self.quoted()?;
        self.pos += raw.len() + 1;
        if escaped {
            unescape(raw)
        } else {
            Some(raw.to_owned())
        }
    }

    /// The text from here to the closing quote, escapes as written, and whether it has any.
    /// One pass over bytes: strings here are short, shorter than a SIMD search pays for.
    /// `None` for a control character (which JSON does not allow unescaped) or no closing quote.
    fn quoted(&self) -> Option<(&'a str, bool)> {
        let rest = self.rest();
        let (mut i, mut escaped) = (0, false);
        loop {
            match *rest.as_bytes().get(i)? {
                b'"' => return Some((&rest[..i], escaped)),
                b'\\' => (i, escaped) = (i + 2, true),
                0..0x20 => return None,
                _ => i += 1,
            }
        }
    }
}

/// A string's text between its quotes with its escapes decoded, or `None` for a `\u` escape
/// or one JSON does not have.
fn unescape(raw: &str) -> Option<String> {
    let (bytes, mut out) = (raw.as_bytes(), String::with_capacity(raw.len()));
    let (mut i, mut run) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&raw[run..i]);
        out.push(match bytes.get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => return None,
        });
        i += 2;
        run = i;
    }
    out.push_str(&raw[run..]);
    Some(out)
}
