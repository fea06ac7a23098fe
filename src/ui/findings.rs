//! The findings strip: what is wrong, most severe first, visible at a glance.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, focused, pane_block, skip_for};
use crate::monitor::Finding;
use crate::sanitize;
use crate::view::{Pane, ViewState};

/// Draws the strip; returns how many findings there are.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    findings: &[Finding],
    view: &ViewState,
    theme: Theme,
) -> usize {
    let title = Line::from(format!(" Findings ({}) ", findings.len()));
    let block = pane_block(title, focused(view, Pane::Findings), theme);
    let height = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = if findings.is_empty() {
        vec![Line::from(Span::styled(
            " ✓ no problems found",
            theme.fg(Color::Green),
        ))]
    } else {
        // Most severe first, top to bottom; the selection counts from the top here.
        let selected = view.findings.selected(findings.len());
        let skip = skip_for(selected, height);
        findings
            .iter()
            .enumerate()
            .skip(skip)
            .take(height)
            .map(|(i, f)| {
                let mut line = Line::from(vec![
                    Span::styled(
                        format!(" {:<7} ", f.severity.label().to_uppercase()),
                        theme.severity(f.severity),
                    ),
                    Span::styled(
                        format!("{:<20} ", f.kind.name()),
                        theme.severity(f.severity),
                    ),
                    Span::raw(sanitize::line(&f.summary).into_owned()),
                ]);
                if focused(view, Pane::Findings) && i == selected {
                    line = line.style(theme.selected());
                }
                line
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
    findings.len()
}
