//! The findings strip: what is wrong, most severe first, visible at a glance.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::log::truncate;
use super::{Theme, focused, pane_block, skip_for};
use crate::monitor::Finding;
use crate::sanitize;
use crate::view::{Pane, ViewState};

/// The severity column: a space, `WARNING`, a space.
const SEVERITY_WIDTH: usize = 1 + 7 + 1;

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
    // The kind column is as wide as the longest kind shown, leaving the summary the rest.
    let kind_width = findings
        .iter()
        .map(|f| f.kind.name().len())
        .max()
        .unwrap_or(0);
    let summary_room = (area.width as usize).saturating_sub(2 + SEVERITY_WIDTH + kind_width + 1);
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
                        format!("{:<kind_width$} ", f.kind.name()),
                        theme.severity(f.severity),
                    ),
                    Span::raw(truncate(&sanitize::line(&f.summary), summary_room)),
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
