//! The header: what is watched, the connection state, and the counters.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::{Target, Theme, human};
use crate::monitor::Monitor;
use crate::monitor::connection::ConnState;
use crate::sanitize;
use crate::view::ViewState;

pub fn render(
    frame: &mut Frame,
    area: Rect,
    m: &Monitor,
    view: &ViewState,
    target: &Target,
    theme: Theme,
) {
    let bold = |s: String| {
        Span::styled(
            s,
            ratatui::style::Style::default().add_modifier(Modifier::BOLD),
        )
    };
    let first = Line::from(vec![
        Span::styled(
            " inboxtop ",
            theme
                .fg(Color::Black)
                .bg_if(theme, Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" {} │ agent ", sanitize::line(&target.mode))),
        bold(sanitize::line(&target.agent).into_owned()),
        Span::raw(format!(
            " @ {} │ key {}",
            sanitize::line(&target.base_url),
            target.key_masked
        )),
    ]);
    let second = status_line(m, view, theme, area.width as usize);
    frame.render_widget(Paragraph::new(vec![first, second]), area);
}

/// Between two items of the status line.
const SEP: &str = " │ ";

/// The connection state, then alarms, then counters, as many whole items as fit in `width`: an
/// alarm is never the one cut off, and no item is cut mid-word.
fn status_line(m: &Monitor, view: &ViewState, theme: Theme, width: usize) -> Line<'static> {
    let (state, color) = state_text(m);
    let stats = m.stats();
    let mut items = Vec::new();
    if let Some((log_at, _)) = view.paused_at {
        let new = m.log.total().saturating_sub(log_at);
        items.push(Span::styled(
            format!("PAUSED +{new} new"),
            theme.fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ));
    }
    if stats.messages_only_polled > 0 {
        items.push(Span::styled(
            format!("only-polled {}", stats.messages_only_polled),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    items.extend(
        [
            format!(
                "sessions {} (reconnects {})",
                stats.sessions, stats.reconnects
            ),
            format!("heartbeats {}", stats.heartbeats),
            format!("events {}", stats.events),
            format!(
                "msgs streamed {} polled {}",
                stats.messages_streamed, stats.messages_polled
            ),
        ]
        .map(Span::raw),
    );
    let first = Span::styled(
        format!(" ● {state}"),
        theme.fg(color).add_modifier(Modifier::BOLD),
    );
    let mut used = first.width();
    let mut spans = vec![first];
    for item in items {
        let needed = SEP.width() + item.width();
        if used + needed > width {
            break;
        }
        used += needed;
        spans.extend([Span::raw(SEP), item]);
    }
    Line::from(spans)
}

/// The connection state as words, with its colour.
fn state_text(m: &Monitor) -> (String, Color) {
    let now = m.now;
    match &m.connection.state {
        ConnState::Idle => ("idle".into(), Color::Gray),
        ConnState::Connecting { session, since } => (
            format!(
                "connecting (session {session}, {})",
                human(now.since(*since))
            ),
            Color::Yellow,
        ),
        ConnState::Open { session, since } => {
            let mut s = format!("open {} (session {session})", human(now.since(*since)));
            if let Some(prev) = m.connection.previous_open_for {
                s.push_str(&format!(", previous lasted {}", human(prev)));
            }
            (s, Color::Green)
        }
        ConnState::Closed { why, .. } => (format!("closed: {}", sanitize::line(why)), Color::Red),
        ConnState::WaitingToRetry { until, why } => {
            let left = until.since(now);
            (
                format!(
                    "waiting to retry: retry in {:.1}s ({})",
                    left.as_secs_f64(),
                    sanitize::line(why)
                ),
                Color::Yellow,
            )
        }
    }
}

/// A background colour only when colours are on.
trait BgIf {
    fn bg_if(self, theme: Theme, c: Color) -> Self;
}

impl BgIf for ratatui::style::Style {
    fn bg_if(self, theme: Theme, c: Color) -> Self {
        if theme.color {
            self.bg(c)
        } else {
            self.add_modifier(Modifier::REVERSED)
        }
    }
}
