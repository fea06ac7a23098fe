//! The heartbeat pane: a sparkline of heartbeats per second, the current rate, and the expected
//! rate beside it so a flood (20/s against 1 every 15 s) is obvious.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use std::time::Duration;

use super::{Target, Theme, human, pane_block};
use crate::monitor::Monitor;

pub fn render(frame: &mut Frame, area: Rect, m: &Monitor, target: &Target, theme: Theme) {
    let (lo, hi) = target.expected_heartbeat;
    let rate = m.heartbeats.per_second(Duration::from_secs(10));
    let expected_max = 1.0 / lo.as_secs_f64().max(0.001);
    let flooding = rate > expected_max * 3.0 && rate >= 0.5;
    let title = Line::from(vec![
        Span::raw(" Heartbeats/s "),
        Span::styled(
            format!("now {rate:.2}/s "),
            if flooding {
                theme.severity(crate::monitor::Severity::Error)
            } else {
                theme.fg(Color::Green)
            },
        ),
    ]);
    let block = pane_block(title, false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [spark_area, figures_area] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(34)]).areas(inner);
    let width = spark_area.width as usize;
    let data: Vec<u64> = m.heartbeats.last_seconds(width).collect();
    let peak = data.iter().copied().max().unwrap_or(0);
    // The scale never drops below 1 per second, so a normal heartbeat is a small bar and a
    // flood fills the pane.
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .max(peak.max(1))
            .style(theme.fg(if flooding { Color::Red } else { Color::Green })),
        spark_area,
    );
    let last = m.heartbeats.last().map_or("never".to_string(), |b| {
        format!("{} ago", human(m.now.since(b.t)))
    });
    let every = if rate > 0.0 {
        format!("1 every {}", human(Duration::from_secs_f64(1.0 / rate)))
    } else {
        "none".into()
    };
    // Expected against seen first: a short pane shows only those two lines.
    let lines = vec![
        Line::from(format!(" expected: 1 every {}..{}", human(lo), human(hi))),
        Line::from(format!(" last 10 s: {every}")),
        Line::from(format!(" peak {peak}/s, last {last}")),
        Line::from(format!(" expected at most {expected_max:.2}/s")),
    ];
    frame.render_widget(Paragraph::new(lines), figures_area);
}
