//! Popups: the key help, and the selected finding, session, event or message in full. Each is
//! sized to its text (within the screen) and scrolls when the text is longer than it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Margin, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::keys::{self, BINDINGS, Binding, Context, Effect, Mode};
use super::sessions::Ending;
use super::{Theme, human, inbox_rows, json, log_rows, pane_block, short_duration};
use crate::monitor::Finding;
use crate::monitor::Monitor;
use crate::monitor::connection::Session;
use crate::monitor::inbox::InboxEntry;
use crate::monitor::log::LogEntry;
use crate::sanitize;
use crate::view::{Pane, ViewState};
use crate::wire::WireMessage;

/// A popup's title and its lines (untrusted parts already sanitized).
pub struct PopupText {
    pub title: String,
    pub lines: Vec<String>,
}

/// Draws the help; returns how far it can scroll.
pub fn help(frame: &mut Frame, area: Rect, view: &ViewState, theme: Theme) -> u16 {
    let mode = view.key_mode();
    let heading = match mode {
        Mode::Replay => "Keys in replay",
        Mode::Fleet => "Keys in the fleet view",
        Mode::Live | Mode::TypingFilter => "Keys",
    };
    let text = PopupText {
        title: format!(" {heading} — {} ", scroll_hint(view)),
        lines: help_lines(mode),
    };
    show(frame, area, &text, view.popup_scroll, theme)
}

/// Draws the detail of the focused pane's selection; returns how far it can scroll.
pub fn detail(
    frame: &mut Frame,
    area: Rect,
    m: &Monitor,
    view: &ViewState,
    findings: &[Finding],
    theme: Theme,
) -> u16 {
    let mut text = detail_text(m, view, findings);
    text.title = format!("{}— {} ", text.title, scroll_hint(view));
    show(frame, area, &text, view.popup_scroll, theme)
}

/// Draws `text` in a box sized to it, centred in `area`, scrolled `scroll` rows (at most to its
/// end, which it returns).
fn show(frame: &mut Frame, area: Rect, text: &PopupText, scroll: u16, theme: Theme) -> u16 {
    let bounds = area.inner(Margin::new(2, 1));
    // Borders and a column for the scrollbar.
    let chrome = 3;
    let widest = text.lines.iter().map(|l| l.width()).max().unwrap_or(0);
    let width = (widest.max(text.title.width()) + chrome).min(usize::from(bounds.width));
    let lines: Vec<Line> = text
        .lines
        .iter()
        .flat_map(|l| wrap(l, width.saturating_sub(chrome)))
        .map(Line::from)
        .collect();
    let height = (lines.len() + 2).min(usize::from(bounds.height));
    let rect = bounds.centered(
        Constraint::Length(width as u16),
        Constraint::Length(height as u16),
    );
    let hidden = lines.len().saturating_sub(height.saturating_sub(2));
    let max_scroll = u16::try_from(hidden).unwrap_or(u16::MAX);
    let scroll = scroll.min(max_scroll);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).scroll((scroll, 0)).block(pane_block(
            Line::from(text.title.clone()),
            true,
            theme,
        )),
        rect,
    );
    if hidden > 0 {
        let mut bar = ScrollbarState::new(hidden + 1).position(usize::from(scroll));
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight),
            rect,
            &mut bar,
        );
    }
    max_scroll
}

/// `line` cut into pieces at most `width` columns wide: at the last space that fits, else
/// anywhere (a wide character is never split). Pieces after the first keep the line's indent.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    if line.width() <= width {
        return vec![line.to_owned()];
    }
    let leading = line.len() - line.trim_start_matches(' ').len();
    let indent = " ".repeat(leading.clamp(1, width / 2));
    let mut pieces = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let prefix = if pieces.is_empty() {
            ""
        } else {
            indent.as_str()
        };
        let room = width - prefix.len();
        let fit = fitting_bytes(rest, room);
        if fit == rest.len() {
            pieces.push(format!("{prefix}{rest}"));
            break;
        }
        // Break at the space that ends the piece, else at the last space in it (not one of the
        // indent's), else anywhere; the space broken at is dropped.
        let (end, next) = if rest[fit..].starts_with(' ') {
            (fit, fit + 1)
        } else {
            match rest[..fit].rfind(' ') {
                Some(space) if !rest[..space].trim_start().is_empty() => (space, space + 1),
                _ => (fit, fit),
            }
        };
        pieces.push(format!("{prefix}{}", &rest[..end]));
        rest = &rest[next..];
    }
    pieces
}

/// The bytes of the longest start of `s` that fits in `room` columns (at least one character).
fn fitting_bytes(s: &str, room: usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.width().unwrap_or(0);
        if used > room {
            return if i == 0 { c.len_utf8() } else { i };
        }
    }
    s.len()
}

/// The help text for `mode`, generated from the binding table.
fn help_lines(mode: Mode) -> Vec<String> {
    let label_width = BINDINGS
        .iter()
        .map(|b| b.label().width())
        .max()
        .unwrap_or(0);
    let row = |b: &Binding| {
        let label = b.label();
        let pad = label_width - label.width();
        format!(" {label}{:pad$}  {} ", "", b.help)
    };
    let mut lines: Vec<String> = keys::active(mode).map(row).collect();
    lines.push(String::new());
    lines.push(" While typing a filter".into());
    lines.extend(
        BINDINGS
            .iter()
            .filter(|b| b.context == Context::Filter)
            .map(row),
    );
    lines
}

/// "Esc closes, ↑↓ scroll", from the bindings that do that in a popup.
fn scroll_hint(view: &ViewState) -> String {
    let mode = view.key_mode();
    let first_key = |effect| keys::for_effect(effect, mode).map(Binding::footer_label);
    format!(
        "{} closes, {}{} scroll",
        first_key(Effect::Back).unwrap_or_default(),
        first_key(Effect::Older).unwrap_or_default(),
        first_key(Effect::Newer).unwrap_or_default(),
    )
}

/// The full text of what is selected in the focused pane.
pub fn detail_text(m: &Monitor, view: &ViewState, findings: &[Finding]) -> PopupText {
    let (title, lines) = match view.focus {
        Pane::Findings => match findings.get(view.findings.selected(findings.len())) {
            Some(f) => (" Finding ".into(), finding_lines(f)),
            None => (" Finding ".into(), vec![" no problems found".into()]),
        },
        Pane::Sessions => {
            let selected = view.sessions.selected(usize::MAX);
            match m.connection.sessions.iter().rev().nth(selected) {
                Some(s) => (format!(" Session {} ", s.id), session_lines(m, view, s)),
                None => (" Session ".into(), vec![" no session yet".into()]),
            }
        }
        Pane::Log => match log_rows(m, view).nth(view.log.selected(usize::MAX)) {
            Some(e) => (
                format!(" {} ", sanitize::line(&e.name)),
                event_lines(view, e),
            ),
            None => (" Event ".into(), vec![" nothing selected".into()]),
        },
        Pane::Inbox => match inbox_rows(m, view).nth(view.inbox.selected(usize::MAX)) {
            Some(e) => (" Message ".into(), message_lines(m, view, e)),
            None => (" Message ".into(), vec![" nothing selected".into()]),
        },
    };
    PopupText { title, lines }
}

/// `label` padded to a column, then `value`.
fn field(label: &str, value: impl std::fmt::Display) -> String {
    format!(" {label:<13} {value}")
}

fn finding_lines(f: &Finding) -> Vec<String> {
    let mut lines = vec![
        format!(" {} ({})", f.kind.name(), f.severity.label()),
        String::new(),
        format!(" {}", sanitize::line(&f.summary)),
        String::new(),
    ];
    for (label, value) in &f.evidence {
        let v = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        lines.push(format!(
            " {:<22} {}",
            sanitize::line(label),
            sanitize::line(&v)
        ));
    }
    lines
}

fn session_lines(m: &Monitor, view: &ViewState, s: &Session) -> Vec<String> {
    let ending = Ending::of(s);
    let response = match (s.status, &s.content_type) {
        (Some(status), ct) => format!(
            "{status} {} in {} ms",
            ct.as_deref()
                .map_or("(no content-type)".into(), sanitize::line),
            s.ttfb_ms.unwrap_or(0)
        ),
        (None, _) => "no answer".into(),
    };
    let open_for = match (s.open_for(m.now), ending) {
        (Some(d), Ending::Open) => format!("{} so far", short_duration(d)),
        (Some(d), _) => short_duration(d),
        (None, _) => "never opened".into(),
    };
    let ended = match (s.ended_wall, &s.end) {
        (Some(wall), Some(end)) => format!(
            "{} — {}",
            view.zone.stamp(wall),
            sanitize::line(&end.label())
        ),
        _ => "not yet".into(),
    };
    let mut lines = vec![
        field(
            "how it ended",
            format!("{} {}", ending.mark(), ending.word()),
        ),
        field("attempted", view.zone.stamp(s.attempted_wall)),
        field("response", response),
    ];
    if let Some(enc) = &s.content_encoding {
        lines.push(field("encoding", sanitize::line(enc)));
    }
    lines.extend([
        field("open for", open_for),
        field("ended", ended),
        field("events", s.events),
        field("heartbeats", s.heartbeats),
        field("messages", s.messages),
        field("comments", s.comments),
    ]);
    if let Some(since) = s.ended.map(|t| m.now.since(t)) {
        lines.push(field("ended ago", human(since)));
    }
    lines
}

fn event_lines(view: &ViewState, e: &LogEntry) -> Vec<String> {
    let mut lines = vec![
        field("received", view.zone.stamp(e.wall)),
        field("session", e.session),
        field(
            "id",
            e.id.as_deref().map(sanitize::line).unwrap_or_default(),
        ),
        field("bytes", e.data_len),
        String::new(),
    ];
    let body = match serde_json::from_str::<serde_json::Value>(&e.data) {
        Ok(v) => json::pretty(&v),
        Err(_) => sanitize::multiline(&e.data)
            .lines()
            .map(str::to_owned)
            .collect(),
    };
    lines.extend(body.into_iter().map(|l| format!(" {l}")));
    if e.data_len > e.data.len() {
        lines.push(format!(" … ({} bytes in all)", e.data_len));
    }
    lines
}

fn message_lines(m: &Monitor, view: &ViewState, e: &InboxEntry) -> Vec<String> {
    let msg = &e.message;
    let opt = |o: &Option<String>| {
        o.as_deref()
            .map(sanitize::line)
            .unwrap_or_default()
            .into_owned()
    };
    let seen = |s: Option<crate::monitor::inbox::Sighting>| {
        s.map_or_else(|| "never".into(), |s| view.zone.stamp(s.wall))
    };
    let (mark, _) = super::inbox::mark(m, e);
    let mut lines = vec![
        field("id", opt(&msg.id)),
        field("conversation", opt(&msg.conversation_id)),
        field("from", sender(msg)),
        field("to", opt(&msg.to)),
        field(
            "created",
            msg.created_at
                .map(|t| view.zone.stamp(t))
                .unwrap_or_default(),
        ),
        field("polled", seen(e.polled)),
        field("streamed", seen(e.streamed)),
        field("mark", mark),
        String::new(),
    ];
    lines.extend(
        sanitize::multiline(&msg.content)
            .lines()
            .map(|l| format!(" {l}")),
    );
    lines
}

/// `name (id)` when the message names its sender, else the id alone.
fn sender(msg: &WireMessage) -> String {
    let id = msg.from.as_deref().map(sanitize::line).unwrap_or_default();
    match msg.from_name.as_deref() {
        Some(name) => format!("{} ({id})", sanitize::line(name)),
        None => id.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_at_spaces_keeps_the_indent_and_never_splits_a_wide_character() {
        assert_eq!(wrap("short", 10), ["short"]);
        assert_eq!(wrap("", 3), [""]);
        assert_eq!(
            wrap(" reconnect loop: 6 sessions lived", 16),
            [" reconnect loop:", " 6 sessions", " lived"]
        );
        assert_eq!(
            wrap("    \"data\": \"abcdefghijkl\"", 12),
            ["    \"data\":", "    \"abcdefg", "    hijkl\""]
        );
        assert_eq!(
            wrap("abcdefg", 3),
            ["abc", " de", " fg"],
            "no space: anywhere"
        );
        assert_eq!(wrap("世界世", 3), ["世", " 界", " 世"]);
        assert_eq!(wrap("ab世", 3), ["ab", " 世"]);
        assert_eq!(
            wrap("a世", 2),
            ["a", " 世"],
            "wider than the room, it still goes"
        );
    }
}
