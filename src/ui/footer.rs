//! The footer: a status if there is one, the filter being typed (or why it is invalid), then the
//! most important keys of the binding table that fit. The keys that must always be there (rank 0:
//! quit and help) keep their room: a long status is cut, not them.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::Theme;
use super::keys::{self, Binding, FooterEntry, Mode};
use super::log::truncate;
use crate::monitor::Severity;
use crate::sanitize;
use crate::view::ViewState;

/// Between two keys in the footer.
const GAP: &str = "  ";
/// After the status and the filter error.
const SEPARATOR: &str = "│ ";

pub fn render(frame: &mut Frame, area: Rect, view: &ViewState, theme: Theme) {
    let key_style = theme.fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mode = view.key_mode();
    let width = usize::from(area.width);
    let essential = keys_width(&fitting(mode, usize::MAX, 0));
    let mut spans = lead(view, theme, key_style, width.saturating_sub(essential));
    let room = width.saturating_sub(Line::from(spans.clone()).width());
    for (i, (binding, entry)) in fitting(mode, room, u8::MAX).into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(GAP));
        }
        spans.push(Span::styled(binding.footer_label(), key_style));
        spans.push(Span::raw(format!(" {}", entry.word)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// What comes before the keys, in at most `width` columns: a status (e.g. where a report was
/// written) first, so a narrow footer never hides it; the filter while it is typed; and why a
/// filter is invalid, while it is. Cut short, it still ends with a separator.
fn lead(view: &ViewState, theme: Theme, key_style: Style, width: usize) -> Vec<Span<'static>> {
    let mut items: Vec<(String, Style)> = Vec::new();
    if let Some(status) = &view.status {
        let style = theme.fg(Color::Green).add_modifier(Modifier::BOLD);
        items.push((format!("{} ", sanitize::line(status)), style));
        items.push((SEPARATOR.into(), Style::default()));
    }
    if view.typing_filter {
        items.push(("filter: ".into(), key_style));
        items.push((
            sanitize::line(view.typed_filter()).into_owned(),
            Style::default(),
        ));
        items.push((format!("▏{GAP}"), Style::default()));
    }
    if let Some(error) = view.filter.error() {
        let style = theme.severity(Severity::Error);
        items.push((format!("{} ", sanitize::line(error)), style));
        items.push((SEPARATOR.into(), Style::default()));
    }
    let needed: usize = items.iter().map(|(text, _)| text.width()).sum();
    if needed <= width {
        return items
            .into_iter()
            .map(|(text, style)| Span::styled(text, style))
            .collect();
    }
    let mut left = width.saturating_sub(SEPARATOR.width());
    let mut spans: Vec<Span> = items
        .into_iter()
        .filter_map(|(text, style)| {
            let text = if text.width() <= left {
                text
            } else {
                truncate(&text, left)
            };
            left -= text.width();
            (!text.is_empty()).then(|| Span::styled(text, style))
        })
        .collect();
    spans.push(Span::raw(SEPARATOR));
    spans
}

/// Columns the given footer keys take.
fn keys_width(keys: &[(&'static Binding, FooterEntry)]) -> usize {
    keys.iter()
        .map(|(b, entry)| b.footer_label().width() + 1 + entry.word.width())
        .sum::<usize>()
        + GAP.len() * keys.len().saturating_sub(1)
}

/// The footer's bindings in `mode` of rank at most `max_rank`: the most important (lowest rank)
/// that fit in `width` columns, shown in table order.
fn fitting(mode: Mode, width: usize, max_rank: u8) -> Vec<(&'static Binding, FooterEntry)> {
    let mut ranked: Vec<(usize, &Binding, FooterEntry)> = keys::active(mode)
        .enumerate()
        .filter_map(|(position, b)| b.footer.map(|entry| (position, b, entry)))
        .filter(|(_, _, entry)| entry.rank <= max_rank)
        .collect();
    // Stable: within a rank, table order decides.
    ranked.sort_by_key(|(_, _, entry)| entry.rank);
    let mut used = 0;
    let mut chosen = Vec::new();
    for (position, binding, entry) in ranked {
        let gap = if chosen.is_empty() { 0 } else { GAP.len() };
        let needed = gap + binding.footer_label().width() + 1 + entry.word.width();
        if used + needed > width {
            break;
        }
        used += needed;
        chosen.push((position, binding, entry));
    }
    chosen.sort_by_key(|(position, _, _)| *position);
    chosen
        .into_iter()
        .map(|(_, binding, entry)| (binding, entry))
        .collect()
}
