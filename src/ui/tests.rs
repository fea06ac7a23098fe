//! The views rendered into ratatui's `TestBackend`: whole screens as insta snapshots (a pane moved
//! or cut fails a test), and assertions on the buffer for what a snapshot cannot say.

use crossterm::event::{KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use super::keys::{BINDINGS, Binding, Context, Mode};
use super::{Theme, draw};
use crate::observation::{CloseReason, Kind};
use crate::testkit::{Timeline, ui_target};
use crate::view::{Pane, Popup, ViewState};

/// The buffer's text, one line per row.
fn text_of(buffer: &Buffer) -> String {
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A timeline and the mode the header names for it.
struct Scene {
    t: Timeline,
    mode: &'static str,
}

impl Scene {
    fn render(&self, view: &ViewState, w: u16, h: u16, theme: Theme) -> (String, Buffer) {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|f| {
                draw(f, &self.t.m, view, &ui_target(self.mode), theme);
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        (text_of(&buffer), buffer)
    }

    fn screen(&self, view: &ViewState, w: u16, h: u16) -> String {
        self.render(view, w, h, color()).0
    }
}

fn color() -> Theme {
    Theme { color: true }
}

/// A healthy minute: one session, heartbeats, a message streamed then polled, one only polled.
fn healthy() -> Scene {
    let mut t = Timeline::new();
    let old = t.wire_message("old-1", "agent-ops", "from before", 0);
    let streamed = t.wire_message("msg-streamed", "agent-billing", "invoice 42 ready", 20_000);
    let waiting = t.wire_message("msg-waiting", "agent-search", "index rebuilt", 40_000);
    t.poll_messages(0, vec![old])
        .open(10, 1)
        .heartbeat(15_000, 1, 15_000)
        .stream_message(20_000, 1, &streamed)
        .heartbeat(30_000, 1, 30_000)
        .poll_messages(40_100, vec![streamed, waiting])
        .heartbeat(45_000, 1, 45_000)
        .heartbeat(60_000, 1, 60_000)
        .tick(61_000);
    Scene {
        t,
        mode: "demo: healthy",
    }
}

/// The outage: every session opens, takes 25 heartbeats in 1.5 s and closes; a message waits in the
/// inbox, polled every 6 s, and is never streamed.
fn flood() -> Scene {
    let mut t = Timeline::new();
    let stuck = t.wire_message("msg-stuck", "agent-billing", "invoice 43 ready", 5000);
    for session in 1..=7u64 {
        let start = (session - 1) * 3000;
        t.open(start, session)
            .event(start + 5, session, "connected", None, "{}".into());
        for beat in 0..25 {
            let at = start + 10 + beat * 60;
            t.heartbeat(at, session, at);
        }
        if session < 7 {
            t.close(start + 1600, session, CloseReason::Eof).at(
                start + 1600,
                Kind::RetryScheduled {
                    delay_ms: 1400,
                    reason: "backoff".into(),
                },
            );
        }
        if session % 2 == 1 {
            let listed = if start + 2000 > 5000 {
                vec![stuck.clone()]
            } else {
                vec![]
            };
            t.poll_messages(start + 2000, listed);
        }
    }
    t.tick(20_500);
    Scene {
        t,
        mode: "demo: heartbeat-flood",
    }
}

// --- whole screens ---

#[test]
fn snapshot_healthy_160x45() {
    insta::assert_snapshot!(
        "healthy_160x45",
        healthy().screen(&ViewState::default(), 160, 45)
    );
}

#[test]
fn snapshot_healthy_80x24() {
    insta::assert_snapshot!(
        "healthy_80x24",
        healthy().screen(&ViewState::default(), 80, 24)
    );
}

#[test]
fn snapshot_flood_160x45() {
    insta::assert_snapshot!(
        "flood_160x45",
        flood().screen(&ViewState::default(), 160, 45)
    );
}

#[test]
fn snapshot_flood_80x24() {
    insta::assert_snapshot!("flood_80x24", flood().screen(&ViewState::default(), 80, 24));
}

#[test]
fn snapshot_help_160x45() {
    let help = ViewState {
        popup: Some(Popup::Help),
        ..ViewState::default()
    };
    insta::assert_snapshot!("help_160x45", healthy().screen(&help, 160, 45));
}

#[test]
fn snapshot_help_80x24() {
    let help = ViewState {
        popup: Some(Popup::Help),
        ..ViewState::default()
    };
    insta::assert_snapshot!("help_80x24", healthy().screen(&help, 80, 24));
}

#[test]
fn snapshot_detail_160x45() {
    let detail = ViewState {
        focus: Pane::Inbox,
        popup: Some(Popup::Detail),
        ..ViewState::default()
    };
    insta::assert_snapshot!("detail_160x45", healthy().screen(&detail, 160, 45));
}

#[test]
fn snapshot_detail_80x24() {
    let detail = ViewState {
        focus: Pane::Findings,
        popup: Some(Popup::Detail),
        ..ViewState::default()
    };
    insta::assert_snapshot!("detail_80x24", flood().screen(&detail, 80, 24));
}

/// Under `NO_COLOR` emphasis is carried by modifiers alone: one letter a cell, `C` for a colour
/// (there must be none), else `R`eversed, `B`old, `D`im, `I`talic, or `.` plain.
fn style_map(buffer: &Buffer) -> String {
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| {
                    let cell = &buffer[(x, y)];
                    let m = cell.modifier;
                    if cell.fg != Color::Reset || cell.bg != Color::Reset {
                        'C'
                    } else if m.contains(Modifier::REVERSED) {
                        'R'
                    } else if m.contains(Modifier::BOLD) {
                        'B'
                    } else if m.contains(Modifier::DIM) {
                        'D'
                    } else if m.contains(Modifier::ITALIC) {
                        'I'
                    } else {
                        '.'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn snapshot_no_color_text_and_styles() {
    let mut view = ViewState {
        focus: Pane::Inbox,
        ..ViewState::default()
    };
    view.set_len(Pane::Inbox, 3);
    view.inbox.selected_from_newest = Some(1);
    let (text, buffer) = healthy().render(&view, 100, 30, Theme { color: false });
    assert!(
        buffer
            .content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset),
        "a colour under NO_COLOR:\n{}",
        style_map(&buffer)
    );
    insta::assert_snapshot!("no_color_text", text);
    insta::assert_snapshot!("no_color_styles", style_map(&buffer));
}

// --- what a snapshot cannot say ---

#[test]
fn the_panes_show_state_counters_and_marks() {
    let scene = healthy();
    let (text, _) = scene.render(&ViewState::default(), 140, 40, color());
    for needle in [
        "inboxtop",
        "demo: healthy",
        "agent demo",
        "http://127.0.0.1:8765",
        "••••••ef",
        "open 1m00s (session 1)",
        "Heartbeats/s",
        "expected: 1 every 15s..30s",
        "Event log",
        "heartbeat",
        "msg-streamed",
        "connect",
        "response",
        "Inbox",
        "✓ stream",
        "⚠ poll only 20s",
        "· before start",
        "Findings",
        "q quit",
    ] {
        assert!(text.contains(needle), "missing {needle:?}:\n{text}");
    }
    assert!(
        text.contains("delivery-gap"),
        "a message only polled for 20 s is a gap:\n{text}"
    );
    assert!(
        text.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c)),
        "the sparkline shows the heartbeats"
    );
}

#[test]
fn retry_countdown_and_exact_totals_beyond_the_ring() {
    let mut t = Timeline::new();
    t.open(0, 1);
    for i in 0..6000u64 {
        t.heartbeat(10 + i, 1, 10 + i);
    }
    t.close(7000, 1, CloseReason::Eof).at(
        7000,
        Kind::RetryScheduled {
            delay_ms: 4200,
            reason: "backoff".into(),
        },
    );
    let scene = Scene { t, mode: "test" };
    let (text, _) = scene.render(&ViewState::default(), 140, 40, color());
    let t = &scene.t;
    assert!(text.contains("waiting to retry: retry in 4.2s"), "{text}");
    assert!(
        text.contains(&format!("of {}", t.m.log.total())),
        "exact total in the log title:\n{text}"
    );
    assert!(t.m.log.total() > t.m.log.entries.len() as u64);
    assert!(
        text.contains("heartbeat-flood"),
        "6000 heartbeats in 6 s:\n{text}"
    );
}

#[test]
fn hostile_text_is_escaped_and_never_reaches_the_terminal_raw() {
    let mut t = Timeline::new();
    t.open(0, 1);
    let evil = t.wire_message(
        "\u{1b}]0;pwned\u{7}",
        "\u{202e}evil",
        "\u{1b}[2J\u{1b}]8;;http://x\u{7}click\u{200b}",
        10,
    );
    t.stream_message(10, 1, &evil).poll_messages(20, vec![evil]);
    let scene = Scene { t, mode: "test" };
    for focus in [Pane::Log, Pane::Inbox] {
        let mut view = ViewState {
            focus,
            popup: Some(Popup::Detail),
            ..ViewState::default()
        };
        view.set_len(focus, 5);
        let (text, buffer) = scene.render(&view, 140, 40, color());
        assert!(
            text.contains("\\e]0;pwned") || text.contains("\\\\e]0;pwned"),
            "{text}"
        );
        for cell in buffer.content() {
            let s = cell.symbol();
            assert!(
                !s.contains('\u{1b}')
                    && !s.contains('\u{7}')
                    && !s.contains('\u{202e}')
                    && !s.contains('\u{200b}'),
                "raw control in a cell: {s:?}"
            );
        }
    }
}

#[test]
fn help_and_detail_popups() {
    let scene = healthy();
    let help = ViewState {
        popup: Some(Popup::Help),
        ..ViewState::default()
    };
    let (text, _) = scene.render(&help, 120, 40, color());
    assert!(
        text.contains("Keys")
            && text.contains("reconnect now")
            && text.contains("export the report"),
        "{text}"
    );
    let detail = ViewState {
        focus: Pane::Inbox,
        popup: Some(Popup::Detail),
        ..ViewState::default()
    };
    let (text, _) = scene.render(&detail, 120, 40, color());
    assert!(
        text.contains("msg-waiting")
            && text.contains("index rebuilt")
            && text.contains("streamed      never"),
        "{text}"
    );
}

#[test]
fn no_color_means_no_colour_and_any_size_renders() {
    let scene = healthy();
    let (_, buffer) = scene.render(&ViewState::default(), 120, 40, Theme { color: false });
    assert!(
        buffer
            .content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
    let (_, coloured) = scene.render(&ViewState::default(), 120, 40, color());
    assert!(
        coloured.content().iter().any(|c| c.fg != Color::Reset),
        "colours are on by default"
    );
    for popup in [None, Some(Popup::Help), Some(Popup::Detail)] {
        let view = ViewState {
            popup,
            ..ViewState::default()
        };
        for (w, h) in [
            (200, 60),
            (80, 24),
            (40, 12),
            (20, 8),
            (19, 7),
            (1, 1),
            (0, 0),
        ] {
            let _ = scene.render(&view, w, h, color());
        }
    }
    let (narrow, _) = scene.render(&ViewState::default(), 80, 30, color());
    assert!(
        narrow.contains("Event log") && narrow.contains("Inbox"),
        "stacked on narrow terminals:\n{narrow}"
    );
}

#[test]
fn pause_holds_the_log_while_counting() {
    let mut scene = healthy();
    let mut view = ViewState::default();
    view.toggle_pause(scene.t.m.log.total(), scene.t.m.inbox.created_total());
    let (before, _) = scene.render(&view, 140, 40, color());
    for i in 0..5 {
        scene.t.heartbeat(62_000 + i, 1, 62_000 + i);
    }
    let (after, _) = scene.render(&view, 140, 40, color());
    assert!(after.contains("PAUSED +5 new"), "{after}");
    let log_rows = |t: &str| {
        t.lines()
            .filter(|l| l.contains(" s1 "))
            .map(|l| l.chars().take(60).collect::<String>())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        log_rows(&before),
        log_rows(&after),
        "the paused log does not move"
    );
}

// --- the key table, as help and footer show it ---

/// A view in which `context`'s bindings apply.
fn view_for(context: Context) -> ViewState {
    ViewState {
        replay: context == Context::Replay,
        typing_filter: context == Context::Filter,
        ..ViewState::default()
    }
}

fn footer_line(text: &str) -> &str {
    text.lines().last().unwrap()
}

#[test]
fn every_binding_is_in_the_help_of_its_mode() {
    for binding in BINDINGS {
        // The filter keys are listed under their own heading in every mode's help.
        let mut view = view_for(match binding.context {
            Context::Filter => Context::Live,
            other => other,
        });
        view.popup = Some(Popup::Help);
        let text = healthy().screen(&view, 160, 45);
        let label = format!(" {} ", binding.label());
        let listed = text.lines().any(|row| {
            row.find(&label).is_some_and(|at| {
                row[at + label.len()..]
                    .trim_start()
                    .starts_with(binding.help)
            })
        });
        assert!(
            listed,
            "{label:?} {:?} is not in the help:\n{text}",
            binding.help
        );
    }
}

#[test]
fn help_shows_the_keys_of_its_mode_only() {
    let help = |replay| ViewState {
        replay,
        popup: Some(Popup::Help),
        ..ViewState::default()
    };
    let live = healthy().screen(&help(false), 160, 45);
    let replay = healthy().screen(&help(true), 160, 45);
    assert!(live.contains("reconnect now") && !live.contains("play/pause the recording"));
    assert!(replay.contains("play/pause the recording") && !replay.contains("reconnect now"));
}

#[test]
fn the_footer_at_80_columns_keeps_quit_and_help() {
    for replay in [false, true] {
        for status in [
            None,
            Some("report written to ./inboxtop-report.md".to_string()),
        ] {
            let view = ViewState {
                replay,
                status: status.clone(),
                ..ViewState::default()
            };
            let text = healthy().screen(&view, 80, 24);
            let footer = footer_line(&text);
            assert!(
                footer.contains("q quit") && footer.contains("? help"),
                "replay {replay}, status {status:?}: {footer}"
            );
            if let Some(status) = status {
                assert!(
                    footer.starts_with(&status),
                    "the status comes first: {footer}"
                );
            }
        }
    }
}

#[test]
fn a_wide_footer_shows_every_footer_binding_in_table_order() {
    for context in [Context::Live, Context::Replay, Context::Filter] {
        let view = view_for(context);
        let text = healthy().screen(&view, 200, 45);
        let footer = footer_line(&text);
        let mode = view.key_mode();
        let mut from = 0;
        for binding in BINDINGS.iter().filter(|b| b.context.applies_in(mode)) {
            let Some(entry) = binding.footer else {
                continue;
            };
            let item = format!("{} {}", binding.footer_label(), entry.word);
            let at = footer[from..].find(&item).unwrap_or_else(|| {
                panic!("{item:?} missing or out of order in {mode:?}: {footer}")
            });
            from += at + item.len();
        }
    }
}

#[test]
fn a_narrow_footer_drops_the_least_important_keys_first() {
    let text = healthy().screen(&ViewState::default(), 40, 24);
    let footer = footer_line(&text);
    let shown = |b: &Binding, word| footer.contains(&format!("{} {word}", b.footer_label()));
    let ranked: Vec<_> = BINDINGS
        .iter()
        .filter(|b| b.context.applies_in(Mode::Live))
        .filter_map(|b| b.footer.map(|entry| (entry.rank, shown(b, entry.word))))
        .collect();
    assert!(
        ranked.iter().any(|(_, s)| !s),
        "40 columns cannot hold them all"
    );
    for (rank, is_shown) in &ranked {
        if *is_shown {
            assert!(
                ranked.iter().all(|(r, s)| r >= rank || *s),
                "a lower rank was dropped for rank {rank}: {footer}"
            );
        }
    }
}

#[test]
fn the_filter_being_typed_shows_in_the_footer_sanitized() {
    let mut view = ViewState::default();
    for key in [
        crossterm::event::KeyCode::Char('/'),
        crossterm::event::KeyCode::Char('m'),
        crossterm::event::KeyCode::Char('\u{1b}'),
    ] {
        view.on_key(KeyEvent::new(key, KeyModifiers::NONE), 0, 0);
    }
    let text = healthy().screen(&view, 80, 24);
    let footer = footer_line(&text);
    assert!(
        footer.starts_with("filter: m\\e▏  Enter done  Esc clear"),
        "{footer}"
    );
}
