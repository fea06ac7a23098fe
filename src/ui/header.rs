//! The header: what is watched, the live verdict with its headline, the connection state, and
//! the counters.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::fmt::Write as _;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{Target, Theme, human};
use crate::monitor::connection::ConnState;
use crate::monitor::{Judgement, Monitor, Verdict};
use crate::sanitize;
use crate::view::ViewState;

/// Rows the header takes.
pub const HEIGHT: u16 = 3;

pub fn render(
    frame: &mut Frame,
    area: Rect,
    m: &Monitor,
    judgement: &Judgement,
    view: &ViewState,
    target: &Target,
    theme: Theme,
) {
    let bold = |s: String| {
        Span::styled(
            s,
            ratatui::style::Style::default().add_modifier(Modifier::BOLD),
        )
    };
    let first = Line::from(vec![
        Span::styled(
            " inboxtop ",
            theme
                .fg(Color::Black)
                .bg_if(theme, Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" {} │ agent ", sanitize::line(&target.mode))),
        bold(sanitize::line(&target.agent).into_owned()),
        Span::raw(format!(
            " @ {} │ key {}{}",
            sanitize::line(&target.base_url),
            target.key_masked,
            target
                .proxy
                .as_deref()
                .map(|p| format!(" │ via proxy {}", sanitize::line(p)))
                .unwrap_or_default()
        )),
    ]);
    let width = area.width as usize;
    let second = verdict_line(judgement, theme, width);
    let third = status_line(m, view, target, theme, width);
    frame.render_widget(Paragraph::new(vec![first, second, third]), area);
}

/// The verdict word on its colour, then the headline, cut with an ellipsis to fit `width`. The
/// word is the same as in every report; without colours it stands out reversed.
fn verdict_line(judgement: &Judgement, theme: Theme, width: usize) -> Line<'static> {
    let verdict = judgement.verdict;
    let (fg, bg) = verdict_colors(verdict);
    let word = Span::styled(
        format!(" {} ", verdict.upper()),
        theme.fg(fg).bg_if(theme, bg).add_modifier(Modifier::BOLD),
    );
    let room = width.saturating_sub(word.width() + 1);
    let headline = fit(&sanitize::line(&judgement.headline), room);
    Line::from(vec![word, Span::raw(format!(" {headline}"))])
}

/// Text and background of a verdict's badge: OK green, WARNING yellow, CRITICAL red, UNKNOWN grey.
fn verdict_colors(verdict: Verdict) -> (Color, Color) {
    match verdict {
        Verdict::Ok => (Color::Black, Color::Green),
        Verdict::Warning => (Color::Black, Color::Yellow),
        Verdict::Critical => (Color::White, Color::Red),
        Verdict::Unknown => (Color::Black, Color::Gray),
    }
}

/// `text` in at most `width` columns, ending in `…` when it was cut.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut used = "…".width();
    let mut out = String::new();
    for c in text.chars() {
        used += c.width().unwrap_or(0);
        if used > width {
            break;
        }
        out.push(c);
    }
    out + "…"
}

/// Between two items of the status line.
const SEP: &str = " │ ";

/// The connection state, then alarms, then counters, as many whole items as fit in `width`: an
/// alarm is never the one cut off, and no item is cut mid-word.
fn status_line(
    m: &Monitor,
    view: &ViewState,
    target: &Target,
    theme: Theme,
    width: usize,
) -> Line<'static> {
    let (state, reason, color) = state_text(m);
    let counts = m.stats();
    let mut items = Vec::new();
    let lost = target
        .recorder_lost
        .as_ref()
        .map_or(0, super::super::record::LostCounter::get);
    if lost > 0 {
        items.push(Span::styled(
            format!("recorder lost {lost}"),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    if let Some((log_at, _)) = view.paused_at {
        let new = m.log.total().saturating_sub(log_at);
        items.push(Span::styled(
            format!("PAUSED +{new} new"),
            theme.fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ));
    }
    if counts.messages_only_polled > 0 {
        items.push(Span::styled(
            format!("only-polled {}", counts.messages_only_polled),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    // The state's reason comes after the alarms and is the one item cut to the room left.
    let reason_at = reason.map(|reason| {
        items.push(Span::raw(reason));
        items.len() - 1
    });
    items.extend(
        [
            format!(
                "sessions {} (reconnects {})",
                counts.sessions, counts.reconnects
            ),
            format!("heartbeats {}", counts.heartbeats),
            format!("events {}", counts.events),
            format!(
                "msgs streamed {} polled {}",
                counts.messages_streamed, counts.messages_polled
            ),
        ]
        .map(Span::raw),
    );
    let first = Span::styled(
        format!(" ● {state}"),
        theme.fg(color).add_modifier(Modifier::BOLD),
    );
    let mut used = first.width();
    let mut spans = vec![first];
    for (i, item) in items.into_iter().enumerate() {
        let needed = SEP.width() + item.width();
        if used + needed > width {
            let room = width.saturating_sub(used + SEP.width());
            if reason_at == Some(i) && room >= MIN_REASON {
                spans.extend([Span::raw(SEP), Span::raw(fit(&item.content, room))]);
            }
            break;
        }
        used += needed;
        spans.extend([Span::raw(SEP), item]);
    }
    Line::from(spans)
}

/// Fewer columns than this and a cut reason says nothing: leave it out.
const MIN_REASON: usize = 12;

/// The connection state as a short headline, the reason behind it (cut first when the line is
/// narrow), and its colour.
fn state_text(m: &Monitor) -> (String, Option<String>, Color) {
    let now = m.now;
    match &m.connection.state {
        ConnState::Idle => ("idle".into(), None, Color::Gray),
        ConnState::Connecting { session, since } => (
            format!(
                "connecting (session {session}, {})",
                human(now.since(*since))
            ),
            None,
            Color::Yellow,
        ),
        ConnState::Open { session, since } => {
            let mut s = format!("open {} (session {session})", human(now.since(*since)));
            if let Some(prev) = m.connection.previous_open_for {
                let _ = write!(s, ", previous lasted {}", human(prev));
            }
            (s, None, Color::Green)
        }
        ConnState::Closed { why, .. } => (
            "closed".into(),
            Some(sanitize::line(why).into_owned()),
            Color::Red,
        ),
        ConnState::WaitingToRetry { until, why } => {
            let left = until.since(now);
            (
                format!("waiting to retry: retry in {:.1}s", left.as_secs_f64()),
                Some(sanitize::line(why).into_owned()),
                Color::Yellow,
            )
        }
    }
}

/// A background colour only when colours are on.
trait BgIf {
    fn bg_if(self, theme: Theme, c: Color) -> Self;
}

impl BgIf for ratatui::style::Style {
    fn bg_if(self, theme: Theme, c: Color) -> Self {
        if theme.color {
            self.bg(c)
        } else {
            self.add_modifier(Modifier::REVERSED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::verdict::judge;
    use crate::testkit::Timeline;

    /// A timeline judged `verdict`.
    fn judged(verdict: Verdict) -> Judgement {
        let mut t = Timeline::new();
        t.open(0, 1);
        match verdict {
            Verdict::Ok => {
                t.message(20_000, 1, "m-1", 19_990)
                    .poll(21_000, &[("m-1", 19_990)]);
                for s in [15, 30, 45, 60] {
                    t.heartbeat(s * 1000, 1, s * 1000);
                }
            }
            // The same message twice on the stream.
            Verdict::Warning => {
                t.message(1_000, 1, "m-1", 990)
                    .message(2_000, 1, "m-1", 990);
            }
            Verdict::Critical => {
                for i in 0..25 {
                    t.heartbeat(1_000 + i * 60, 1, 1_000 + i * 60);
                }
            }
            Verdict::Unknown => {
                t.poll(1_000, &[]).tick(10_000);
            }
        }
        let j = judge(&t.m);
        assert_eq!(j.verdict, verdict, "{j:#?}");
        j
    }

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn the_verdict_word_stands_on_its_colour_then_the_headline() {
        let theme = Theme { color: true };
        for (verdict, bg) in [
            (Verdict::Ok, Color::Green),
            (Verdict::Warning, Color::Yellow),
            (Verdict::Critical, Color::Red),
            (Verdict::Unknown, Color::Gray),
        ] {
            let j = judged(verdict);
            let line = verdict_line(&j, theme, 400);
            assert_eq!(line.spans[0].content, format!(" {} ", verdict.upper()));
            assert_eq!(line.spans[0].style.bg, Some(bg), "{verdict:?}");
            assert_eq!(text(&line), format!(" {}  {}", verdict.upper(), j.headline));
        }
    }

    #[test]
    fn unknown_says_what_it_waits_for() {
        let line = verdict_line(&judged(Verdict::Unknown), Theme { color: true }, 200);
        assert!(
            text(&line).starts_with(" UNKNOWN  unknown yet: ")
                && text(&line).contains("waiting for a first heartbeat, 15 s–30 s"),
            "{}",
            text(&line)
        );
    }

    #[test]
    fn without_colour_the_word_is_reversed() {
        let line = verdict_line(&judged(Verdict::Critical), Theme { color: false }, 80);
        let badge = line.spans[0].style;
        assert_eq!((badge.fg, badge.bg), (None, None));
        assert!(badge.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn a_long_headline_is_cut_to_the_width_with_an_ellipsis() {
        let line = verdict_line(&judged(Verdict::Unknown), Theme { color: true }, 40);
        assert_eq!(line.width(), 40, "{}", text(&line));
        assert!(text(&line).ends_with('…'), "{}", text(&line));
        assert_eq!(fit("short", 40), "short");
        assert_eq!(fit("abcdef", 4), "abc…");
    }
}

#[cfg(test)]
mod status_line_tests {
    use super::*;
    use crate::observation::{CloseReason, Kind};
    use crate::testkit::{Timeline, ui_target};

    fn text(line: &Line<'_>) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn a_narrow_line_keeps_the_state_whole_and_cuts_only_its_reason() {
        let mut t = Timeline::new();
        t.open(0, 1).close(1_600, 1, CloseReason::Eof);
        let why = "server closed the stream after 1.6 s; attempt 3 (backoff up to 15.0 s)";
        t.at(
            1_600,
            Kind::RetryScheduled {
                delay_ms: 1_400,
                reason: why.into(),
            },
        );
        let mut target = ui_target("demo");
        let counter = crate::record::LostCounter::default();
        target.recorder_lost = Some(counter.clone());
        let theme = Theme { color: false };
        let line = text(&status_line(
            &t.m,
            &ViewState::default(),
            &target,
            theme,
            80,
        ));
        assert!(
            line.starts_with(" ● waiting to retry: retry in 1.4s │ server closed"),
            "{line}"
        );
        assert!(line.ends_with('…') && line.chars().count() <= 80, "{line}");
        let wide = text(&status_line(
            &t.m,
            &ViewState::default(),
            &target,
            theme,
            200,
        ));
        assert!(wide.contains(why) && wide.contains("sessions 1"), "{wide}");
        assert!(!wide.contains("recorder lost"), "{wide}");
    }
}
