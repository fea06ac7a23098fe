//! The polled inbox: every message seen, with its stream mark.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};

use super::log::truncate;
use super::{Theme, focused, human, pane_block, short_duration, skip_for};
use crate::monitor::Monitor;
use crate::monitor::inbox::InboxEntry;
use crate::sanitize;
use crate::view::{Pane, ViewState};
use std::time::Duration;

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
            let line = row(m, e, view, theme, width);
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

/// The stream mark of a message, with its colour: which side saw it first and by how much, or
/// how long it has been reachable only by polling — words, never a signed number.
pub fn mark(m: &Monitor, e: &InboxEntry) -> (String, Color) {
    if let Some(probe) = m.probes.find(&e.key) {
        return match probe.stream_rtt {
            Some(rtt) => (
                format!("◆ probe back in {}", human(m.thresholds.shown(rtt))),
                Color::Cyan,
            ),
            None => (
                format!(
                    "◆ probe out {}",
                    human(m.thresholds.shown(m.now.since(probe.sent)))
                ),
                if m.now.since(probe.sent) > m.thresholds.delivery_grace {
                    Color::Red
                } else {
                    Color::Yellow
                },
            ),
        };
    }
    if let Some(lead_ms) = e.stream_lead() {
        let color = if lead_ms <= 0 {
            Color::Green
        } else {
            Color::Yellow
        };
        return (format!("✓ {}", lead_label(lead_ms)), color);
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
                format!("⚠ {}", poll_only_label(w)),
                if late { Color::Red } else { Color::Yellow },
            )
        }
        None => ("?".into(), Color::Gray),
    }
}

/// `stream first by 2.6 s` or `poll first by 1.2 s`, from stream arrival minus poll arrival.
pub fn lead_label(lead_ms: i64) -> String {
    let by = short_duration(Duration::from_millis(lead_ms.unsigned_abs()));
    match lead_ms.signum() {
        -1 => format!("stream first by {by}"),
        1 => format!("poll first by {by}"),
        _ => "stream and poll tied".into(),
    }
}

/// `poll only for 14s`: an age, written like the others (`open 2.5s`, `last 1.1s ago`).
pub fn poll_only_label(waiting: Duration) -> String {
    format!("poll only for {}", human(waiting))
}

/// The mark column: wide enough for `✓ stream first by 850 ms`.
const MARK_WIDTH: usize = 24;

fn row(m: &Monitor, e: &InboxEntry, view: &ViewState, theme: Theme, width: usize) -> Line<'static> {
    let when = e
        .message
        .created_at
        .or(e.polled.map(|p| p.wall))
        .or(e.streamed.map(|s| s.wall))
        .map_or_else(|| "--:--:--".into(), |t| view.zone.clock(t));
    let (mark, color) = mark(m, e);
    let mark = format!("{mark:<MARK_WIDTH$}");
    let from = format!("{:<12} ", truncate(&sanitize::line(e.message.sender()), 12));
    let room = width.saturating_sub(9 + MARK_WIDTH + 1 + 13);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leads_read_as_words_never_as_signed_numbers() {
        assert_eq!(lead_label(-2616), "stream first by 2.6 s");
        assert_eq!(lead_label(1200), "poll first by 1.2 s");
        assert_eq!(lead_label(-40), "stream first by 40 ms");
        assert_eq!(lead_label(0), "stream and poll tied");
        assert_eq!(lead_label(-125_000), "stream first by 2m05s");
        assert_eq!(
            poll_only_label(Duration::from_secs(14)),
            "poll only for 14s"
        );
        for lead in [-99_949, -999, -1, 0, 1, 999, 99_949, i64::MIN, i64::MAX] {
            let label = format!("✓ {}", lead_label(lead));
            assert!(!label.contains(['−', '-', '+']), "{label}");
            if lead.unsigned_abs() < 100_000 {
                assert!(
                    label.chars().count() <= MARK_WIDTH,
                    "{label} fits its column"
                );
            }
        }
    }

    #[test]
    fn probes_are_marked_with_their_round_trip_or_their_age() {
        use crate::observation::Kind;
        use crate::testkit::Timeline;
        let mut t = Timeline::new();
        t.open(0, 1);
        for (ms, id) in [(1_000, "p-back"), (2_000, "p-out")] {
            t.at(
                ms,
                Kind::ProbeSent {
                    id: Some(id.into()),
                    error: None,
                    post_ms: 0,
                },
            );
        }
        t.message(1_250, 1, "p-back", 1_000);
        t.poll(2_500, &[("p-back", 1_000), ("p-out", 2_000)]);
        t.tick(14_000);
        let marks: Vec<(String, Color)> = t.m.inbox.newest_first().map(|e| mark(&t.m, e)).collect();
        assert_eq!(
            marks,
            vec![
                ("◆ probe out 12s".to_owned(), Color::Red),
                ("◆ probe back in 250ms".to_owned(), Color::Cyan),
            ]
        );
    }
}
