//! The footer: a status if there is one, the filter being typed, then the most important keys of
//! the binding table that fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::Theme;
use super::keys::{self, Binding, FooterEntry, Mode};
use crate::sanitize;
use crate::view::ViewState;

/// Between two keys in the footer.
const GAP: &str = "  ";

pub fn render(frame: &mut Frame, area: Rect, view: &ViewState, theme: Theme) {
    let key_style = theme.fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut spans = lead(view, theme, key_style);
    let room = (area.width as usize).saturating_sub(Line::from(spans.clone()).width());
    for (i, (binding, entry)) in fitting(view.key_mode(), room).into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(GAP));
        }
        spans.push(Span::styled(binding.footer_label(), key_style));
        spans.push(Span::raw(format!(" {}", entry.word)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// What comes before the keys: a status (e.g. where a report was written) first, so a narrow
/// footer never hides it, and the filter while it is typed.
fn lead(view: &ViewState, theme: Theme, key_style: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if let Some(status) = &view.status {
        spans.push(Span::styled(
            format!("{} ", sanitize::line(status)),
            theme.fg(Color::Green).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw("│ "));
    }
    if view.typing_filter {
        spans.push(Span::styled("filter: ", key_style));
        spans.push(Span::raw(sanitize::line(&view.filter).into_owned()));
        spans.push(Span::raw(format!("▏{GAP}")));
    }
    spans
}

/// The footer's bindings in `mode`: the most important (lowest rank) that fit in `width` columns,
/// shown in table order.
fn fitting(mode: Mode, width: usize) -> Vec<(&'static Binding, FooterEntry)> {
    let mut ranked: Vec<(usize, &Binding, FooterEntry)> = keys::active(mode)
        .enumerate()
        .filter_map(|(position, b)| b.footer.map(|entry| (position, b, entry)))
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
