//! The raw SSE event log, newest at the bottom, with lifecycle lines between the events.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};
use std::fmt::Write as _;

use super::{Theme, focused, pane_block, skip_for};
use crate::monitor::Monitor;
use crate::monitor::log::{EntryKind, LogEntry};
use crate::sanitize;
use crate::view::{Pane, ViewState};

/// The log entries the view shows, newest first: not cleared, not newer than a pause, matching
/// the filter.
pub fn log_rows<'a>(
    m: &'a Monitor,
    view: &'a ViewState,
) -> impl Iterator<Item = &'a LogEntry> + 'a {
    let total = m.log.total();
    let held = m.log.entries.len() as u64;
    let upper = view.paused_at.map_or(total, |(at, _)| at);
    m.log
        .entries
        .iter()
        .enumerate()
        .rev()
        .filter(move |(i, _)| {
            let abs = total - held + *i as u64;
            abs < upper && abs >= view.cleared_before
        })
        .map(|(_, e)| e)
        .filter(|e| view.filter.matches(e))
}

/// Draws the pane; returns how many rows it has.
pub fn render(frame: &mut Frame, area: Rect, m: &Monitor, view: &ViewState, theme: Theme) -> usize {
    let len = log_rows(m, view).count();
    let height = area.height.saturating_sub(2) as usize;
    let selected = view.log.selected(len);
    let skip = skip_for(selected, height);
    let is_focused = focused(view, Pane::Log);
    let width = area.width.saturating_sub(3) as usize;
    let mut lines: Vec<Line> = log_rows(m, view)
        .enumerate()
        .skip(skip)
        .take(height)
        .map(|(i, e)| {
            let line = row(e, view, theme, width);
            if is_focused && !view.log.following() && i == selected {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    lines.reverse();
    let mut title = format!(" Event log — {} of {} ", len, m.log.total());
    if !view.filter.is_empty() {
        let invalid = if view.filter.error().is_some() {
            " (invalid, not applied)"
        } else {
            ""
        };
        let _ = write!(
            title,
            "[filter: {}{invalid}] ",
            sanitize::line(view.filter.text())
        );
    }
    if view.log.following() {
        title.push_str("▼ following ");
    }
    let block = pane_block(Line::from(title), is_focused, theme);
    frame.render_widget(Paragraph::new(lines).block(block), area);
    // A scrollbar only when there is something to scroll to.
    if len > height {
        let mut bar =
            ScrollbarState::new(len).position(len.saturating_sub(1).saturating_sub(selected));
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight),
            area,
            &mut bar,
        );
    }
    len
}

fn row(e: &LogEntry, view: &ViewState, theme: Theme, width: usize) -> Line<'static> {
    let time = view.zone.clock_ms(e.wall);
    let (name_style, data_style) = match e.kind {
        EntryKind::Lifecycle => (
            theme.fg(Color::Magenta).add_modifier(Modifier::ITALIC),
            theme.dim().add_modifier(Modifier::ITALIC),
        ),
        EntryKind::Comment => (theme.dim(), theme.dim()),
        EntryKind::Event => {
            let c = match e.name.as_str() {
                "heartbeat" => Color::Green,
                "message" => Color::Cyan,
                "connected" => Color::Blue,
                _ => Color::Yellow,
            };
            (
                theme.fg(c).add_modifier(Modifier::BOLD),
                ratatui::style::Style::default(),
            )
        }
    };
    let id =
        e.id.as_deref()
            .map(|i| sanitize::line(i).chars().take(12).collect::<String>())
            .unwrap_or_default();
    let prefix = format!("{time} s{:<3} ", e.session);
    let name = format!("{:<10} {:<12} ", truncate(&sanitize::line(&e.name), 10), id);
    let room = width.saturating_sub(prefix.chars().count() + name.chars().count());
    let data = truncate(&sanitize::line(&e.data), room);
    Line::from(vec![
        Span::styled(prefix, theme.dim()),
        Span::styled(name, name_style),
        Span::styled(data, data_style),
    ])
}

/// At most `max` characters (display cells for ASCII; wide characters are cut conservatively).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max {
            if max > 0 {
                out.pop();
                out.push('…');
            }
            break;
        }
        used += w;
        out.push(c);
    }
    out
}
