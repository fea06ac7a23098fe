//! The polled inbox: every message seen, with its stream mark.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};

use super::log::truncate;
use super::{Theme, focused, human, pane_block, skip_for};
use crate::monitor::Monitor;
use crate::monitor::inbox::InboxEntry;
use crate::sanitize;
use crate::view::{Pane, ViewState};

/// The entries the view shows, newest first (holding still while paused).
pub fn inbox_rows<'a>(
    m: &'a Monitor,
    view: &ViewState,
) -> impl Iterator<Item = &'a InboxEntry> + 'a {
    let new_since_pause = view
        .paused_at
        .map_or(0, |(_, at)| m.inbox.created_total().saturating_sub(at));
    m.inbox.newest_first().skip(new_since_pause as usize)
}

pub fn render(frame: &mut Frame, area: Rect, m: &Monitor, view: &ViewState, theme: Theme) -> usize {
    let len = inbox_rows(m, view).count();
    let height = area.height.saturating_sub(2) as usize;
    let selected = view.inbox.selected(len);
    let skip = skip_for(selected, height);
    let is_focused = focused(view, Pane::Inbox);
    let width = area.width.saturating_sub(3) as usize;
    // Newest at the top here: an inbox reads like a mail list.
    let lines: Vec<Line> = inbox_rows(m, view)
        .enumerate()
        .skip(skip)
        .take(height)
        .map(|(i, e)| {
            let line = row(m, e, theme, width);
            if is_focused && !view.inbox.following() && i == selected {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    let title = format!(
        " Inbox — {} held, {} polled, {} streamed, {} only polled ",
        m.inbox.len(),
        m.inbox.polled_total,
        m.inbox.streamed_total,
        m.inbox.only_polled().count()
    );
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(Line::from(title), is_focused, theme)),
        area,
    );
    // A scrollbar only when there is something to scroll to.
    if len > height {
        let mut bar = ScrollbarState::new(len).position(selected);
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight),
            area,
            &mut bar,
        );
    }
    len
}

/// The stream mark of a message, with its colour.
pub fn mark(m: &Monitor, e: &InboxEntry) -> (String, Color) {
    if let Some(lead) = e.stream_lead() {
        let sign = if lead <= 0 { "−" } else { "+" };
        return (
            format!("✓ stream {sign}{}ms", lead.unsigned_abs()),
            Color::Green,
        );
    }
    if e.streamed.is_some() {
        return ("✓ stream".into(), Color::Green);
    }
    if e.preexisting {
        return ("· before start".into(), Color::DarkGray);
    }
    match e.waiting(m.now) {
        Some(w) => {
            let late = w > m.thresholds.delivery_grace;
            (
                format!("⚠ poll only {}", human(w)),
                if late { Color::Red } else { Color::Yellow },
            )
        }
        None => ("?".into(), Color::Gray),
    }
}

fn row(m: &Monitor, e: &InboxEntry, theme: Theme, width: usize) -> Line<'static> {
    let when = e
        .message
        .created_at
        .or(e.polled.map(|p| p.wall))
        .or(e.streamed.map(|s| s.wall))
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".into());
    let (mark, color) = mark(m, e);
    let mark = format!("{mark:<18}");
    let from = format!("{:<12} ", truncate(&sanitize::line(e.message.sender()), 12));
    let room = width.saturating_sub(9 + 19 + 13);
    let preview = truncate(&sanitize::line(&e.message.content), room);
    Line::from(vec![
        Span::styled(format!("{when} "), theme.dim()),
        Span::styled(
            format!("{mark} "),
            theme.fg(color).add_modifier(Modifier::BOLD),
        ),
        Span::styled(from, theme.fg(Color::Cyan)),
        Span::raw(preview),
    ])
}
