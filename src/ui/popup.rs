//! Popups: the key help, and the selected event, message or finding in full.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{Theme, inbox_rows, log_rows, pane_block};
use crate::monitor::{Finding, Monitor};
use crate::sanitize;
use crate::view::{Pane, ViewState};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2)).max(1);
    let h = height.min(area.height.saturating_sub(2)).max(1);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub const HELP: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit"),
    ("Tab, Shift-Tab", "move focus: findings, event log, inbox"),
    ("↑↓ j k", "scroll the focused pane"),
    (
        "PgUp PgDn Home End",
        "page, oldest, newest (End follows again)",
    ),
    ("Enter", "the selected event, message or finding in full"),
    ("p", "pause/resume the view (data keeps arriving, counted)"),
    ("r", "reconnect now"),
    ("/", "filter the event log (type, id, data)"),
    ("c", "clear the event log view"),
    ("s", "send a probe message"),
    ("e", "export the report (markdown + JSON) to this directory"),
    ("Space n ]", "replay only: play/pause, step, jump 30 s"),
    ("?", "this help; Esc closes"),
];

pub fn help(frame: &mut Frame, area: Rect, _view: &ViewState, theme: Theme) {
    let rect = centered(area, 72, HELP.len() as u16 + 4);
    let mut lines = vec![Line::from(" Keys"), Line::from("")];
    lines.extend(
        HELP.iter()
            .map(|(k, what)| Line::from(format!(" {k:<20} {what}"))),
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(Line::from(" Help "), true, theme)),
        rect,
    );
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
                        "id            {}\nconversation  {}\nfrom          {} ({})\nto            {}\ncreated       {}\npolled        {}\nstreamed      {}\nmark          {}\n\n{}",
                        opt(&msg.id),
                        opt(&msg.conversation_id),
                        opt(&msg.from_name),
                        opt(&msg.from),
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

pub fn detail(
    frame: &mut Frame,
    area: Rect,
    m: &Monitor,
    view: &ViewState,
    findings: &[Finding],
    theme: Theme,
) {
    let (title, text) = detail_text(m, view, findings);
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    frame.render_widget(Clear, rect);
    let title = Line::from(format!("{title}— Esc closes, ↑↓ scroll "));
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .scroll((view.popup_scroll, 0))
            .block(pane_block(title, true, theme)),
        rect,
    );
}
