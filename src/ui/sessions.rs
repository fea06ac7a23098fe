//! The session timeline: one bar per stream session, newest on the right, as tall as the session
//! was open — on a log scale, so 1.5 s and 30 min both read — and coloured and marked by how it
//! ended. The marks alone tell the endings apart (under `NO_COLOR` too); the title is the legend.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use std::time::Duration;

use super::{Theme, focused, pane_block, short_duration, skip_for};
use crate::monitor::Monitor;
use crate::monitor::connection::{Session, SessionEnd};
use crate::observation::CloseReason;
use crate::view::{Pane, ViewState};

/// Columns per session: its bar, and a gap.
const SLOT: u16 = 2;
/// The shortest and longest time the bars tell apart: a bar is empty at or below the floor (one
/// eighth if the session opened at all) and full at the ceiling.
pub const SCALE_FLOOR: Duration = Duration::from_millis(100);
pub const SCALE_CEILING: Duration = Duration::from_secs(3600);
/// A bar's eighths, one cell.
const EIGHTHS: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

/// How a session ended (or that it has not), as the timeline marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ending {
    Open,
    Connecting,
    Eof,
    Reset,
    Timeout,
    Decode,
    /// Answered, but not with an event stream (an HTTP error status, a wrong content type).
    Rejected,
    /// No HTTP answer at all.
    Failed,
    Cancelled,
}

impl Ending {
    pub fn of(s: &Session) -> Ending {
        match &s.end {
            None if s.opened.is_some() => Ending::Open,
            None => Ending::Connecting,
            Some(SessionEnd::Failed { .. }) => Ending::Failed,
            Some(SessionEnd::Closed(reason)) => match reason {
                CloseReason::Eof => Ending::Eof,
                CloseReason::Reset { .. } => Ending::Reset,
                CloseReason::Timeout { .. } => Ending::Timeout,
                CloseReason::Decode { .. } => Ending::Decode,
                CloseReason::Rejected { .. } => Ending::Rejected,
                CloseReason::Cancelled => Ending::Cancelled,
            },
        }
    }

    /// One cell, distinct for every ending.
    pub fn mark(self) -> &'static str {
        match self {
            Ending::Open => "●",
            Ending::Connecting => "○",
            Ending::Eof => "E",
            Ending::Reset => "R",
            Ending::Timeout => "T",
            Ending::Decode => "D",
            Ending::Rejected => "H",
            Ending::Failed => "N",
            Ending::Cancelled => "C",
        }
    }

    /// The legend's word.
    pub fn word(self) -> &'static str {
        match self {
            Ending::Open => "open",
            Ending::Connecting => "connecting",
            Ending::Eof => "EOF",
            Ending::Reset => "reset",
            Ending::Timeout => "timeout",
            Ending::Decode => "decode",
            Ending::Rejected => "HTTP/rejected",
            Ending::Failed => "network",
            Ending::Cancelled => "cancelled",
        }
    }

    fn color(self) -> Color {
        match self {
            Ending::Open => Color::Green,
            Ending::Connecting | Ending::Eof => Color::Yellow,
            Ending::Timeout => Color::Magenta,
            Ending::Reset | Ending::Decode | Ending::Rejected | Ending::Failed => Color::Red,
            Ending::Cancelled => Color::Gray,
        }
    }
}

/// The bar of a session open for `open_for` (None: it never opened), in eighths of a cell, out
/// of `rows` cells.
pub fn bar_eighths(open_for: Option<Duration>, rows: u16) -> u16 {
    let Some(d) = open_for else {
        return 0;
    };
    let levels = rows * 8;
    let span = (SCALE_CEILING.as_secs_f64() / SCALE_FLOOR.as_secs_f64()).ln();
    let at = (d.as_secs_f64() / SCALE_FLOOR.as_secs_f64()).max(1.0).ln() / span;
    ((at * f64::from(levels)).ceil() as u16).clamp(1, levels)
}

/// Draws the timeline; returns how many sessions it holds.
pub fn render(frame: &mut Frame, area: Rect, m: &Monitor, view: &ViewState, theme: Theme) -> usize {
    let sessions = &m.connection.sessions;
    let len = sessions.len();
    let is_focused = focused(view, Pane::Sessions);
    let block = pane_block(title(m, area.width, theme), is_focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width < SLOT || inner.height == 0 {
        return len;
    }
    let slots = usize::from(inner.width / SLOT);
    let selected = view.sessions.selected(len);
    let skip = skip_for(selected, slots);
    let bar_rows = inner.height - 1;
    let buffer = frame.buffer_mut();
    for (k, s) in sessions.iter().rev().enumerate().skip(skip).take(slots) {
        let x = inner.right() - SLOT * (k - skip + 1) as u16;
        let ending = Ending::of(s);
        let style = theme.fg(ending.color());
        let mut mark_style = style.add_modifier(Modifier::BOLD);
        if is_focused && !view.sessions.following() && k == selected {
            mark_style = mark_style.add_modifier(Modifier::REVERSED);
        }
        buffer[(x, inner.bottom() - 1)]
            .set_symbol(ending.mark())
            .set_style(mark_style);
        let eighths = bar_eighths(s.open_for(m.now), bar_rows);
        for row in 0..bar_rows {
            let filled = eighths.saturating_sub(row * 8).min(8);
            if filled > 0 {
                buffer[(x, inner.bottom() - 2 - row)]
                    .set_symbol(EIGHTHS[usize::from(filled)])
                    .set_style(style);
            }
        }
    }
    len
}

/// ` Sessions 7 ● open 1 E EOF 6 · log 100 ms–1h00m `: the count, a legend of the endings held
/// and the bars' scale, as many whole items as fit in `width`.
fn title(m: &Monitor, width: u16, theme: Theme) -> Line<'static> {
    let mut counts: Vec<(Ending, usize)> = Vec::new();
    for s in m.connection.sessions.iter() {
        let ending = Ending::of(s);
        match counts.iter_mut().find(|(e, _)| *e == ending) {
            Some((_, n)) => *n += 1,
            None => counts.push((ending, 1)),
        }
    }
    counts.sort();
    let head = format!(" Sessions {} ", m.connection.attempts());
    let mut used = head.chars().count() + 2;
    let mut spans = vec![Span::raw(head)];
    for (ending, n) in counts {
        let word = format!(" {} {n} ", ending.word());
        let needed = ending.mark().chars().count() + word.chars().count();
        if used + needed > usize::from(width) {
            break;
        }
        used += needed;
        spans.push(Span::styled(
            ending.mark(),
            theme.fg(ending.color()).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(word));
    }
    let scale = format!(
        "· log {}–{} ",
        short_duration(SCALE_FLOOR),
        short_duration(SCALE_CEILING)
    );
    if used + scale.chars().count() <= usize::from(width) {
        spans.push(Span::styled(scale, theme.dim()));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_log_scaled_between_floor_and_ceiling() {
        let secs = |s: f64| Some(Duration::from_secs_f64(s));
        assert_eq!(bar_eighths(None, 3), 0, "never opened: no bar");
        assert_eq!(bar_eighths(secs(0.0), 3), 1, "opened: at least an eighth");
        assert_eq!(bar_eighths(secs(0.1), 3), 1);
        assert_eq!(bar_eighths(secs(3600.0), 3), 24);
        assert_eq!(bar_eighths(secs(86_400.0), 3), 24, "capped at full");
        // ln(16) / ln(36000) of 24 eighths is 6.3: a 1.6 s session is a third of a cell row …
        assert_eq!(bar_eighths(secs(1.6), 3), 7);
        // … and a 30-minute one nearly full: both read on one scale.
        assert_eq!(bar_eighths(secs(1800.0), 3), 23);
        assert_eq!(bar_eighths(secs(1.6), 1), 3);
        let mut last = 0;
        for s in [0.5, 2.0, 10.0, 60.0, 600.0, 3000.0] {
            let b = bar_eighths(secs(s), 3);
            assert!(b > last, "{s} s is taller than shorter sessions");
            last = b;
        }
    }

    #[test]
    fn every_ending_has_its_own_mark() {
        let all = [
            Ending::Open,
            Ending::Connecting,
            Ending::Eof,
            Ending::Reset,
            Ending::Timeout,
            Ending::Decode,
            Ending::Rejected,
            Ending::Failed,
            Ending::Cancelled,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.mark(), b.mark(), "{a:?} and {b:?}");
            }
        }
    }
}
