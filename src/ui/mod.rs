//! The views: pure functions of the model and the view state. Every server-provided string goes
//! through `sanitize` before it reaches a widget.

pub(crate) mod filter;
mod findings;
pub(crate) mod fleet;
mod footer;
mod header;
mod inbox;
mod json;
pub(crate) mod keys;
mod log;
mod popup;
mod rate;
mod sessions;
pub(crate) mod time;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use std::time::Duration;

use crate::monitor::verdict::judge_with;
use crate::monitor::{Monitor, Severity};
use crate::view::{Drawn, Pane, Popup, ViewState};

pub use inbox::inbox_rows;
pub use log::log_rows;

/// What is being watched, for the header.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub base_url: String,
    pub agent: String,
    pub key_masked: String,
    pub mode: String,
    pub expected_heartbeat: (Duration, Duration),
    /// The proxy requests go through (credentials masked), when one applies.
    pub proxy: Option<String>,
    /// The recorder's count of observations it could not keep up with (live), when recording.
    pub recorder_lost: Option<crate::record::LostCounter>,
}

/// What a frame learned, for scrolling and clicks: each pane as drawn (in [`Pane::ALL`] order),
/// the height of a page, and how far the open popup can scroll.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrawInfo {
    pub panes: [Drawn; 4],
    pub page: usize,
    pub popup_scroll_max: u16,
    /// The rows of the fleet view, when it was drawn.
    pub fleet_rows: usize,
}

/// Colours, or none at all under `NO_COLOR`.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn severity(&self, s: Severity) -> Style {
        let style = match s {
            Severity::Error => self.fg(Color::Red),
            Severity::Warning => self.fg(Color::Yellow),
            Severity::Info => self.fg(Color::Cyan),
        };
        style.add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    fn border(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.dim()
        }
    }
}

/// A bordered block titled `title`, highlighted when focused.
pub(crate) fn pane_block(title: Line<'_>, focused: bool, theme: Theme) -> Block<'_> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(theme.border(focused))
        .title(title)
}

/// From this height on, the rate pane shows all its figures.
const TALL: u16 = 30;
/// From this width on, the log and the inbox sit side by side.
const WIDE: u16 = 100;

/// Draws one frame.
pub fn draw(
    frame: &mut Frame,
    m: &Monitor,
    view: &ViewState,
    target: &Target,
    theme: Theme,
) -> DrawInfo {
    let area = frame.area();
    if area.width < 20 || area.height < 8 {
        frame.render_widget(Paragraph::new("inboxtop: terminal too small"), area);
        return DrawInfo::default();
    }
    let judgement = judge_with(m, m.findings());
    let findings = &judgement.findings;
    let findings_height = (findings.len().clamp(1, 4) + 2) as u16;
    // A short terminal gives the rows to the log and inbox; the rate pane keeps its sparkline and
    // the expected-against-seen figures.
    let rate_height = if area.height >= TALL { 6 } else { 4 };
    let [header_area, findings_area, rate_area, body, footer_area] = Layout::vertical([
        Constraint::Length(header::HEIGHT),
        Constraint::Length(findings_height),
        Constraint::Length(rate_height),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    let [heartbeat_area, sessions_area] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(sessions_width(area.width)),
    ])
    .areas(rate_area);
    header::render(frame, header_area, m, &judgement, view, target, theme);
    let findings_len = findings::render(frame, findings_area, findings, view, theme);
    rate::render(frame, heartbeat_area, m, target, theme);
    let sessions_len = sessions::render(frame, sessions_area, m, view, theme);
    let [log_area, inbox_area] = if area.width >= WIDE {
        Layout::horizontal([Constraint::Percentage(50); 2]).areas(body)
    } else {
        // Stacked, the inbox takes the rows its messages need, up to half; the log the rest.
        let rows = u16::try_from(inbox_rows(m, view).count()).unwrap_or(u16::MAX);
        let inbox_height = rows.saturating_add(2).max(3).min(body.height / 2);
        Layout::vertical([Constraint::Min(0), Constraint::Length(inbox_height)]).areas(body)
    };
    let log_len = log::render(frame, log_area, m, view, theme);
    let inbox_len = inbox::render(frame, inbox_area, m, view, theme);
    footer::render(frame, footer_area, view, theme);
    let popup_scroll_max = match view.popup {
        Some(Popup::Help) => popup::help(frame, area, view, theme),
        Some(Popup::Detail) => popup::detail(frame, area, m, view, findings, theme),
        None => 0,
    };
    let drawn = |rows, area| Drawn { rows, area };
    DrawInfo {
        panes: [
            drawn(findings_len, findings_area),
            drawn(sessions_len, sessions_area),
            drawn(log_len, log_area),
            drawn(inbox_len, inbox_area),
        ],
        page: log_area.height.saturating_sub(3) as usize,
        popup_scroll_max,
        fleet_rows: 0,
    }
}

/// The session timeline's share of the heartbeat row: a third, within reason.
fn sessions_width(width: u16) -> u16 {
    (width / 3).clamp(24, 64)
}

/// Whether `pane` has the focus (and no popup hides it).
pub(crate) fn focused(view: &ViewState, pane: Pane) -> bool {
    view.focus == pane && view.popup.is_none()
}

/// `1m05s`, `12.3s`, `850ms`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if d >= Duration::from_secs(10) {
        format!("{s}s")
    } else if d >= Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A duration precise enough to compare: `850 ms`, `15.1 s`, then as [`human`] from 100 s on.
pub fn short_duration(d: Duration) -> String {
    let tenths = (d.as_millis() + 50) / 100;
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if tenths < 1000 {
        format!("{}.{} s", tenths / 10, tenths % 10)
    } else {
        human(d)
    }
}

/// The rows `selected` (from the newest) and `height` put on screen: how many of the newest rows
/// to skip so the selection is visible.
pub(crate) fn skip_for(selected: usize, height: usize) -> usize {
    selected.saturating_sub(height.saturating_sub(1))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn short_durations_keep_a_tenth_of_a_second_below_100_s() {
        let ms = Duration::from_millis;
        assert_eq!(short_duration(ms(0)), "0 ms");
        assert_eq!(short_duration(ms(999)), "999 ms");
        assert_eq!(short_duration(ms(1000)), "1.0 s");
        assert_eq!(short_duration(ms(15_049)), "15.0 s");
        assert_eq!(short_duration(ms(15_050)), "15.1 s");
        assert_eq!(short_duration(ms(99_949)), "99.9 s");
        assert_eq!(short_duration(ms(99_950)), "1m39s", "never `100.0 s`");
        assert_eq!(short_duration(ms(125_000)), "2m05s");
    }
}
