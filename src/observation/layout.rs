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
        let len = memchr::memchr2(b'"', b'\\', self.rest().as_bytes())?;
        let text = &self.rest()[..len];
        if self.rest().as_bytes()[len] == b'\\' || has_control(text) {
            return None;
        }
        self.pos += len + 1;
        Some(text)
    }

    /// How far the string goes on before its closing quote, escapes included: what its text
    /// needs at most, so that decoding it allocates once.
    fn quoted_len(&self) -> Option<usize> {
        let rest = self.rest().as_bytes();
        let mut len = 0;
        loop {
            len += memchr::memchr2(b'"', b'\\', rest.get(len..)?)?;
            if rest[len] == b'"' {
                return Some(len);
            }
            len += 2;
        }
    }

    /// A JSON string, its escapes decoded; a `\u` escape is left to serde (surrogate pairs).
    fn string(&mut self) -> Option<String> {
        self.expect("\"")?;
        let mut out = String::with_capacity(self.quoted_len()?);
        loop {
            let len = memchr::memchr2(b'"', b'\\', self.rest().as_bytes())?;
            let text = &self.rest()[..len];
            if has_control(text) {
                return None;
            }
            out.push_str(text);
            self.pos += len + 1;
            if self.line.as_bytes()[self.pos - 1] == b'"' {
                return Some(out);
            }
            out.push(match self.rest().as_bytes().first()? {
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
            self.pos += 1;
        }
    }
}

/// A control character, which JSON does not allow unescaped in a string (serde refuses it).
fn has_control(text: &str) -> bool {
    text.bytes().any(|b| b < 0x20)
}
