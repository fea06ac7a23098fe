//! Popups: the key help, and the selected event, message or finding in full.

use ratatui::Frame;
use ratatui::layout::{Constraint, Margin, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState, Wrap};

use unicode_width::UnicodeWidthStr;

use super::keys::{self, BINDINGS, Binding, Context, Effect, Mode};
use super::{Theme, inbox_rows, log_rows, pane_block};
use crate::monitor::{Finding, Monitor};
use crate::sanitize;
use crate::view::{Pane, ViewState};
use crate::wire::WireMessage;

/// Wide enough for the longest help line.
const HELP_WIDTH: u16 = 72;

/// The help: every binding that works in the view's mode, then those for typing a filter. It
/// scrolls when the terminal is too short for it.
pub fn help(frame: &mut Frame, area: Rect, view: &ViewState, theme: Theme) {
    let mode = view.key_mode();
    let lines = help_lines(mode);
    let rect = area.inner(Margin::new(1, 1)).centered(
        Constraint::Length(HELP_WIDTH),
        Constraint::Length(lines.len() as u16 + 2),
    );
    let heading = match mode {
        Mode::Replay => "Keys in replay",
        Mode::Live | Mode::TypingFilter => "Keys",
    };
    let title = Line::from(format!(" {heading} — {} ", scroll_hint(view)));
    let hidden = lines
        .len()
        .saturating_sub(rect.height.saturating_sub(2) as usize);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((view.popup_scroll, 0))
            .block(pane_block(title, true, theme)),
        rect,
    );
    if hidden > 0 {
        let mut bar = ScrollbarState::new(hidden + 1).position(view.popup_scroll as usize);
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight),
            rect,
            &mut bar,
        );
    }
}

/// The help text for `mode`, generated from the binding table.
fn help_lines(mode: Mode) -> Vec<Line<'static>> {
    let label_width = BINDINGS
        .iter()
        .map(|b| b.label().width())
        .max()
        .unwrap_or(0);
    let row = |b: &Binding| {
        let label = b.label();
        let pad = label_width - label.width();
        Line::from(format!(" {label}{:pad$}  {}", "", b.help))
    };
    let mut lines: Vec<Line> = keys::active(mode).map(row).collect();
    lines.push(Line::from(""));
    lines.push(Line::from(" While typing a filter"));
    lines.extend(
        BINDINGS
            .iter()
            .filter(|b| b.context == Context::Filter)
            .map(row),
    );
    lines
}

/// "Esc closes, ↑↓ scroll", from the bindings that do that in a popup.
fn scroll_hint(view: &ViewState) -> String {
    let mode = view.key_mode();
    let first_key = |effect| keys::for_effect(effect, mode).map(Binding::footer_label);
    format!(
        "{} closes, {}{} scroll",
        first_key(Effect::Back).unwrap_or_default(),
        first_key(Effect::Older).unwrap_or_default(),
        first_key(Effect::Newer).unwrap_or_default(),
    )
}

/// The full text of what is selected in the focused pane.
pub fn detail_text(m: &Monitor, view: &ViewState, findings: &[Finding]) -> (String, String) {
    match view.focus {
        Pane::Log => match log_rows(m, view).nth(view.log.selected(usize::MAX)) {
            Some(e) => {
                let data = match serde_json::from_str::<serde_json::Value>(&e.data) {
                    Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| e.data.clone()),
                    Err(_) => e.data.clone(),
                };
                let cut = if e.data_len > e.data.len() {
                    format!("\n… ({} bytes in all)", e.data_len)
                } else {
                    String::new()
                };
                (
                    format!(" {} ", sanitize::line(&e.name)),
                    format!(
                        "received  {}\nsession   {}\nid        {}\nbytes     {}\n\n{}{}",
                        e.wall.to_rfc3339(),
                        e.session,
                        e.id.as_deref().map(sanitize::line).unwrap_or_default(),
                        e.data_len,
                        sanitize::multiline(&data),
                        cut
                    ),
                )
            }
            None => (" Event ".into(), "nothing selected".into()),
        },
        Pane::Inbox => match inbox_rows(m, view).nth(view.inbox.selected(usize::MAX)) {
            Some(e) => {
                let msg = &e.message;
                let opt = |o: &Option<String>| {
                    o.as_deref()
                        .map(sanitize::line)
                        .unwrap_or_default()
                        .into_owned()
                };
                let (mark, _) = super::inbox::mark(m, e);
                (
                    " Message ".into(),
                    format!(
                        "id            {}\nconversation  {}\nfrom          {}\nto            {}\ncreated       {}\npolled        {}\nstreamed      {}\nmark          {}\n\n{}",
                        opt(&msg.id),
                        opt(&msg.conversation_id),
                        sender(msg),
                        opt(&msg.to),
                        msg.created_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        e.polled
                            .map(|p| p.wall.to_rfc3339())
                            .unwrap_or_else(|| "never".into()),
                        e.streamed
                            .map(|s| s.wall.to_rfc3339())
                            .unwrap_or_else(|| "never".into()),
                        mark,
                        sanitize::multiline(&msg.content)
                    ),
                )
            }
            None => (" Message ".into(), "nothing selected".into()),
        },
        Pane::Findings => match findings.get(view.findings.selected(findings.len())) {
            Some(f) => {
                let mut text = format!(
                    "{} ({})\n\n{}\n\n",
                    f.kind.name(),
                    f.severity.label(),
                    sanitize::line(&f.summary)
                );
                for (label, value) in &f.evidence {
                    let v = match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    text.push_str(&format!("{label:<22} {}\n", sanitize::line(&v)));
                }
                (" Finding ".into(), text)
            }
            None => (" Finding ".into(), "no problems found".into()),
        },
    }
}

/// `name (id)` when the message names its sender, else the id alone.
fn sender(msg: &WireMessage) -> String {
    let id = msg.from.as_deref().map(sanitize::line).unwrap_or_default();
    match msg.from_name.as_deref() {
        Some(name) => format!("{} ({id})", sanitize::line(name)),
        None => id.into_owned(),
    }
}

pub fn detail(
    frame: &mut Frame,
    area: Rect,
    m: &Monitor,
    view: &ViewState,
    findings: &[Finding],
    theme: Theme,
) {
    let (title, text) = detail_text(m, view, findings);
    let rect = area.inner(Margin::new(4, 2));
    frame.render_widget(Clear, rect);
    let title = Line::from(format!("{title}— {} ", scroll_hint(view)));
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .scroll((view.popup_scroll, 0))
            .block(pane_block(title, true, theme)),
        rect,
    );
}
