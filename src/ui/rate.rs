//! The heartbeat pane: a sparkline of heartbeats per second, and beside it the intervals between
//! heartbeats against the expected band — what a person compares — then the rate.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use std::time::Duration;

use super::{Target, Theme, human, pane_block, short_duration};
use crate::monitor::intervals::{BandFit, Intervals, recent_intervals};
use crate::monitor::{Monitor, Severity};

/// Columns of the figures beside the sparkline.
const FIGURES_WIDTH: u16 = 40;

pub fn render(frame: &mut Frame, area: Rect, m: &Monitor, target: &Target, theme: Theme) {
    let band = target.expected_heartbeat;
    let rate = m.heartbeats.per_second(Duration::from_secs(10));
    let expected_max = 1.0 / band.0.as_secs_f64().max(0.001);
    let flooding = rate > expected_max * 3.0 && rate >= 0.5;
    let title = Line::from(vec![
        Span::raw(" Heartbeats/s "),
        Span::styled(
            format!("now {rate:.2}/s "),
            if flooding {
                theme.severity(Severity::Error)
            } else {
                theme.fg(Color::Green)
            },
        ),
    ]);
    let block = pane_block(title, false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [spark_area, figures_area] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(FIGURES_WIDTH)]).areas(inner);
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
    let intervals = recent_intervals(&m.heartbeats.recent);
    let last_seen = m.heartbeats.last().map_or("never".to_string(), |b| {
        format!("{} ago", human(m.now.since(b.t)))
    });
    // The intervals against the band first: a short pane shows only those two lines.
    let mut lines = match intervals {
        Some(i) => interval_lines(&i, band, theme),
        None => vec![
            Line::from(" intervals: none yet"),
            Line::from(format!(" band {}", band_text(band))),
        ],
    };
    lines.push(Line::from(format!(" peak {peak}/s · last {last_seen}")));
    if let Some(i) = intervals {
        let plural = if i.count == 1 { "" } else { "s" };
        lines.push(Line::from(format!(
            " over {} interval{plural} of session {}",
            i.count, i.session
        )));
    }
    frame.render_widget(Paragraph::new(lines), figures_area);
}

/// `last 15.0 s · p50 15.0 s · p95 15.1 s`, each figure highlighted when outside the band, then
/// the band and where the typical (p50) interval falls: the arrow tells without colour.
fn interval_lines(i: &Intervals, band: (Duration, Duration), theme: Theme) -> Vec<Line<'static>> {
    let figure = |label: &str, d: Duration| {
        let style = match BandFit::of(d, band) {
            BandFit::Within => theme.fg(Color::Green),
            BandFit::Below | BandFit::Above => theme.severity(Severity::Error),
        };
        [
            Span::raw(format!("{label} ")),
            Span::styled(short_duration(d), style),
        ]
    };
    let mut first = vec![Span::raw(" ")];
    first.extend(figure("last", i.last));
    first.push(Span::raw(" · "));
    first.extend(figure("p50", i.p50));
    first.push(Span::raw(" · "));
    first.extend(figure("p95", i.p95));
    let (verdict, style): (&str, Style) = match BandFit::of(i.p50, band) {
        BandFit::Within => ("✓ p50 within", theme.fg(Color::Green)),
        BandFit::Below => ("▼ p50 below", theme.severity(Severity::Error)),
        BandFit::Above => ("▲ p50 above", theme.severity(Severity::Error)),
    };
    let second = Line::from(vec![
        Span::raw(format!(" band {} · ", band_text(band))),
        Span::styled(verdict, style),
    ]);
    vec![Line::from(first), second]
}

/// `15–30 s` when both ends are whole seconds, else each end as a short duration.
pub fn band_text((lo, hi): (Duration, Duration)) -> String {
    if lo.subsec_nanos() == 0 && hi.subsec_nanos() == 0 && lo >= Duration::from_secs(1) {
        format!("{}–{} s", lo.as_secs(), hi.as_secs())
    } else {
        format!("{}–{}", short_duration(lo), short_duration(hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_read_in_whole_seconds_when_they_can() {
        let s = Duration::from_secs;
        assert_eq!(band_text((s(15), s(30))), "15–30 s");
        assert_eq!(band_text((s(3), s(6))), "3–6 s");
        assert_eq!(
            band_text((Duration::from_millis(1500), s(3))),
            "1.5 s–3.0 s"
        );
        assert_eq!(
            band_text((Duration::from_millis(150), Duration::from_millis(300))),
            "150 ms–300 ms"
        );
    }
}
