//! Terminal-safe text.
//!
//! Everything a server sends is untrusted. Before any of it reaches the terminal or a report, control
//! characters (C0, DEL, C1 — which is where ESC/CSI/OSC sequences start), bidi overrides and
//! zero-width characters are replaced by visible escapes such as `\e`, `\x07` or `\u{202e}`, so a
//! message body can never move the cursor, set the window title, hide text or reorder a line.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must never be written to a terminal as it is.
fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c,
            '\u{200b}'..='\u{200f}'   // zero-width space/joiners, LRM/RLM
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{061c}'              // arabic letter mark
            | '\u{feff}'              // BOM / zero-width no-break space
            | '\u{fff9}'..='\u{fffb}' // interlinear annotations
        )
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// One line of untrusted text made safe: every unsafe character, newlines included, becomes a
/// visible escape. Borrows when there is nothing to escape (the common case).
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Untrusted text for a multi-line view: newlines kept, tabs as four spaces, CRLF as a newline,
/// every other unsafe character escaped.
pub fn multiline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\t' => out.push_str("    "),
            c if is_unsafe(c) => escape_into(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_untouched() {
        assert!(matches!(
            line("héllo 世界 👋"),
            Cow::Borrowed("héllo 世界 👋")
        ));
    }

    #[test]
    fn escape_sequences_become_visible() {
        let title = "\u{1b}]0;pwned\u{7}";
        assert_eq!(line(title), "\\e]0;pwned\\x07");
        let csi = "a\u{1b}[2J\u{1b}[Hb";
        assert_eq!(line(csi), "a\\e[2J\\e[Hb");
        // C1 CSI (U+009B) is an escape sequence introducer on some terminals.
        assert_eq!(line("\u{9b}31m"), "\\x9b31m");
        assert!(!line("x\u{7f}y").contains('\u{7f}'));
    }

    #[test]
    fn bidi_and_zero_width_tricks_are_shown() {
        assert_eq!(line("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(line("pay\u{200b}pal"), "pay\\u{200b}pal");
        assert_eq!(line("\u{feff}x"), "\\u{feff}x");
        assert_eq!(line("\u{2067}x\u{2069}"), "\\u{2067}x\\u{2069}");
    }

    #[test]
    fn multiline_keeps_lines_but_not_controls() {
        assert_eq!(multiline("a\r\nb\tc\u{1b}[1m"), "a\nb    c\\e[1m");
        assert_eq!(line("a\nb"), "a\\nb");
    }

    #[test]
    fn output_never_contains_an_unsafe_character() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        assert!(!line(&all).chars().any(is_unsafe));
        assert!(!multiline(&all).chars().any(|c| c != '\n' && is_unsafe(c)));
    }
}
