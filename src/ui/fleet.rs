//! The fleet view: one row per agent, worst first — the verdict word in its colour, the id, the
//! stream's state, the session's age, reconnects, heartbeats a minute with a small sparkline, the
//! age of the last event, the messages only polling found, and the worst finding.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table};
use std::time::Duration;

use super::{DrawInfo, Theme, footer, human, pane_block, popup};
use crate::fleet::{Fleet, Row};
use crate::monitor::Verdict;
use crate::sanitize;
use crate::view::ViewState;

/// Sparkline columns: the last 60 s in buckets of 5 s.
const SPARK_BUCKETS: usize = 12;
const SPARK_LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The rows the fleet view shows: worst first, those the `/` filter keeps.
pub fn visible_rows(fleet: &Fleet, view: &ViewState) -> Vec<Row> {
    let filter = view.fleet.as_ref().map_or("", |f| f.filter.as_str());
    fleet
        .rows()
        .into_iter()
        .filter(|r| r.matches(filter))
        .collect()
}

/// Draws the fleet view; the info says how many rows it showed.
pub fn draw(frame: &mut Frame, fleet: &Fleet, view: &ViewState, theme: Theme) -> DrawInfo {
    let area = frame.area();
    let rows = visible_rows(fleet, view);
    let [title_area, table_area, footer_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title(fleet, &rows, theme)), title_area);
    let cursor = view.fleet.as_ref().map_or(0, |f| f.cursor);
    render_table(frame, table_area, &rows, cursor, theme);
    footer::render(frame, footer_area, view, theme);
    let popup_scroll_max = match view.popup {
        Some(crate::view::Popup::Help) => popup::help(frame, area, view, theme),
        _ => 0,
    };
    DrawInfo {
        fleet_rows: rows.len(),
        popup_scroll_max,
        ..DrawInfo::default()
    }
}

/// ` inboxtop  fleet of 3 agents  CRITICAL  1 critical · 1 warning · 1 ok`.
fn title(fleet: &Fleet, rows: &[Row], theme: Theme) -> Line<'static> {
    let worst = Fleet::worst(&fleet.judgements());
    let mut counts = Vec::new();
    for verdict in [
        Verdict::Critical,
        Verdict::Warning,
        Verdict::Unknown,
        Verdict::Ok,
    ] {
        let n = fleet.rows().iter().filter(|r| r.verdict == verdict).count();
        if n > 0 {
            counts.push(format!("{n} {}", verdict.word()));
        }
    }
    let shown = if rows.len() == fleet.len() {
        String::new()
    } else {
        format!("  ({} shown)", rows.len())
    };
    Line::from(vec![
        Span::styled(
            " inboxtop ",
            theme.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" fleet of {} agents  ", fleet.len())),
        Span::styled(format!(" {} ", worst.upper()), verdict_style(worst, theme)),
        Span::raw(format!("  {}{shown}", counts.join(" · "))),
    ])
}

/// Narrower than this, the table leaves out the session age, the sparkline and the only-polled
/// count, so the id and the worst finding keep room to be read.
const WIDE: u16 = 120;

fn render_table(frame: &mut Frame, area: Rect, rows: &[Row], cursor: usize, theme: Theme) {
    let wide = area.width >= WIDE;
    let columns: Vec<&Column> = COLUMNS.iter().filter(|c| wide || !c.wide_only).collect();
    let header = TableRow::new(columns.iter().map(|c| c.title))
        .style(theme.dim().add_modifier(Modifier::BOLD));
    let selected = cursor.min(rows.len().saturating_sub(1));
    let body = rows.iter().enumerate().map(|(i, row)| {
        let line = TableRow::new(columns.iter().map(|c| (c.cell)(row, theme)));
        if i == selected {
            line.style(theme.selected())
        } else {
            line
        }
    });
    let widths = columns.iter().map(|c| c.width);
    let block = pane_block(Line::from(" agents, worst first "), true, theme);
    let table = Table::new(body, widths).header(header).block(block);
    frame.render_widget(table, area);
}

/// One column of the table: its title, width, and what it shows of a row.
struct Column {
    title: &'static str,
    width: Constraint,
    /// Left out of narrow terminals.
    wide_only: bool,
    cell: fn(&Row, Theme) -> Cell<'static>,
}

const COLUMNS: [Column; 10] = [
    Column {
        title: "VERDICT",
        width: Constraint::Length(8),
        wide_only: false,
        cell: |row, theme| {
            Cell::from(row.verdict.word().to_uppercase()).style(verdict_style(row.verdict, theme))
        },
    },
    Column {
        title: "AGENT",
        width: Constraint::Min(12),
        wide_only: false,
        cell: |row, _| Cell::from(sanitize::line(&row.id).into_owned()),
    },
    Column {
        title: "STATE",
        width: Constraint::Length(12),
        wide_only: false,
        cell: |row, _| Cell::from(row.state),
    },
    Column {
        title: "SESSION",
        width: Constraint::Length(7),
        wide_only: true,
        cell: |row, _| Cell::from(age(row.session_age)),
    },
    Column {
        title: "RECONN",
        width: Constraint::Length(6),
        wide_only: false,
        cell: |row, _| Cell::from(row.reconnects.to_string()),
    },
    Column {
        title: "HB/MIN",
        width: Constraint::Length(6),
        wide_only: false,
        cell: |row, _| Cell::from(format!("{:.1}", row.heartbeats_per_min)),
    },
    Column {
        title: "LAST 60 S",
        width: Constraint::Length(SPARK_BUCKETS as u16),
        wide_only: true,
        cell: |row, theme| Cell::from(spark(&row.spark)).style(theme.fg(Color::Cyan)),
    },
    Column {
        title: "LAST EVENT",
        width: Constraint::Length(10),
        wide_only: false,
        cell: |row, _| Cell::from(age(row.last_event_age)),
    },
    Column {
        title: "ONLY POLLED",
        width: Constraint::Length(11),
        wide_only: true,
        cell: |row, _| Cell::from(row.only_polled.to_string()),
    },
    Column {
        title: "WORST FINDING",
        width: Constraint::Min(14),
        wide_only: false,
        cell: |row, _| {
            Cell::from(row.worst_finding.as_ref().map_or_else(
                || "–".to_owned(),
                |f| sanitize::line(&f.summary).into_owned(),
            ))
        },
    },
];

/// An age, or `–` when there is none.
fn age(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".to_owned(), human)
}

/// Heartbeats per second over the last minute, in [`SPARK_BUCKETS`] columns scaled to the busiest.
fn spark(per_second: &[u64]) -> String {
    let size = per_second.len().div_ceil(SPARK_BUCKETS).max(1);
    let buckets: Vec<u64> = per_second.chunks(size).map(|c| c.iter().sum()).collect();
    let max = buckets.iter().copied().max().unwrap_or(0);
    buckets
        .iter()
        .map(|&n| match n {
            0 => ' ',
            n => {
                let level = (n * (SPARK_LEVELS.len() as u64 - 1)).div_ceil(max.max(1));
                SPARK_LEVELS[level as usize]
            }
        })
        .collect()
}

fn verdict_style(verdict: Verdict, theme: Theme) -> ratatui::style::Style {
    let color = match verdict {
        Verdict::Ok => Color::Green,
        Verdict::Warning => Color::Yellow,
        Verdict::Critical => Color::Red,
        Verdict::Unknown => Color::Gray,
    };
    theme.fg(color).add_modifier(Modifier::BOLD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparkline_scales_to_the_busiest_bucket() {
        let mut per_second = vec![0; 60];
        per_second[0] = 1;
        per_second[59] = 8;
        let line = spark(&per_second);
        assert_eq!(line.chars().count(), SPARK_BUCKETS);
        assert_eq!(line.chars().next(), Some('▂'));
        assert_eq!(line.chars().last(), Some('█'));
        assert_eq!(line.chars().nth(5), Some(' '));
    }
}
