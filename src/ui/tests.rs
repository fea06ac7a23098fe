//! The views rendered into ratatui's `TestBackend`: whole screens as insta snapshots (a pane moved
//! or cut fails a test), and assertions on the buffer for what a snapshot cannot say.

use crossterm::event::{KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use super::keys::{BINDINGS, Binding, Context, Mode};
use super::{DrawInfo, Theme, draw};
use crate::fleet::Fleet;
use crate::observation::{CloseReason, Kind, NetErrorClass};
use crate::testkit::{Timeline, ui_target};
use crate::ui::filter::LogFilter;
use crate::view::{FleetView, Pane, Popup, ViewState};

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
        let (text, buffer, _) = self.draw(view, w, h, theme);
        (text, buffer)
    }

    /// The screen, and what the draw tells the app.
    fn draw(&self, view: &ViewState, w: u16, h: u16, theme: Theme) -> (String, Buffer, DrawInfo) {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut info = DrawInfo::default();
        terminal
            .draw(|f| {
                info = draw(f, &self.t.m, view, &ui_target(self.mode), theme);
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        (text_of(&buffer), buffer, info)
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

/// A message event whose data is deep, long and hostile JSON, with a few heartbeats after it.
fn payload() -> Scene {
    let mut t = Timeline::new();
    let data = serde_json::json!({
        "attachments": (0..40).collect::<Vec<u32>>(),
        "content": "invoice 44 ready\u{1b}]0;pwned\u{7}",
        "createdAt": t.rfc3339(1000),
        "from": "agent-billing",
        "messageId": "msg-44",
        "metadata": {"mentions": ["demo"], "tags": [], "trace": {"hops": {"edge": {"id": 7}}}},
    })
    .to_string();
    t.open(0, 1)
        .event(1000, 1, "message", Some("msg-44"), data)
        .heartbeat(15_000, 1, 15_000)
        .heartbeat(30_000, 1, 30_000);
    Scene {
        t,
        mode: "demo: healthy",
    }
}

/// The payload's message event, selected in the log and opened.
fn payload_detail() -> ViewState {
    let mut view = ViewState {
        focus: Pane::Log,
        popup: Some(Popup::Detail),
        ..ViewState::default()
    };
    view.set_len(Pane::Log, 5);
    view.log.selected_from_newest = Some(2);
    view
}

/// The reconnect loop's timeline, a session selected and opened.
fn session_detail() -> ViewState {
    let mut view = ViewState {
        focus: Pane::Sessions,
        popup: Some(Popup::Detail),
        ..ViewState::default()
    };
    view.set_len(Pane::Sessions, 7);
    view.sessions.selected_from_newest = Some(1);
    view
}

// --- whole screens ---

#[test]
fn snapshot_session_detail_160x45() {
    insta::assert_snapshot!(
        "session_detail_160x45",
        flood().screen(&session_detail(), 160, 45)
    );
}

#[test]
fn snapshot_session_detail_80x24() {
    insta::assert_snapshot!(
        "session_detail_80x24",
        flood().screen(&session_detail(), 80, 24)
    );
}

#[test]
fn snapshot_payload_detail_160x45() {
    insta::assert_snapshot!(
        "payload_detail_160x45",
        payload().screen(&payload_detail(), 160, 45)
    );
}

#[test]
fn snapshot_payload_detail_80x24() {
    insta::assert_snapshot!(
        "payload_detail_80x24",
        payload().screen(&payload_detail(), 80, 24)
    );
}

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
        "last 15.0 s · p50 15.0 s · p95 15.0 s",
        "band 15–30 s · ✓ p50 within",
        "Sessions 1 ● open 1",
        "Event log",
        "heartbeat",
        "msg-streamed",
        "connect",
        "response",
        "Inbox",
        "✓ stream",
        "⚠ poll only for 20s",
        "✓ stream first by 20.1 s",
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
        fleet: (context == Context::Fleet).then(|| FleetView {
            shown: true,
            ..FleetView::default()
        }),
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

// --- the session timeline, intervals, labels, filter, status lines ---

/// The sessions pane's rows (inside its border), at 160 columns.
fn sessions_pane(scene: &Scene, view: &ViewState, theme: Theme) -> Vec<String> {
    let (text, _, info) = scene.draw(view, 160, 45, theme);
    let area = info.panes[1].area;
    text.lines()
        .skip(usize::from(area.y))
        .take(usize::from(area.height))
        .map(|l| {
            l.chars()
                .skip(usize::from(area.x))
                .take(usize::from(area.width))
                .collect()
        })
        .collect()
}

#[test]
fn every_ending_has_its_mark_in_the_timeline_even_without_colour() {
    let mut t = Timeline::new();
    t.open(0, 1)
        .close(1000, 1, CloseReason::Eof)
        .open(2000, 2)
        .close(
            62_000,
            2,
            CloseReason::Reset {
                detail: "connection reset".into(),
            },
        )
        .open(63_000, 3)
        .close(108_000, 3, CloseReason::Timeout { idle_ms: 45_000 })
        .http(109_000, 4, 401, "E_AUTH_UNAUTHORIZED")
        .close(
            109_000,
            4,
            CloseReason::Rejected {
                detail: "401".into(),
            },
        )
        .net_error(110_000, 5, NetErrorClass::Refused)
        .open(111_000, 6)
        .close(
            112_000,
            6,
            CloseReason::Decode {
                detail: "bad UTF-8".into(),
            },
        )
        .open(113_000, 7)
        .close(2_000_000, 7, CloseReason::Cancelled)
        .attempt(2_001_000, 8)
        .tick(2_002_000);
    let scene = Scene { t, mode: "test" };
    let rows = sessions_pane(&scene, &ViewState::default(), Theme { color: false });
    let marks = rows[rows.len() - 2].trim_matches(['│', ' ']);
    assert_eq!(marks, "E R T H N D C ○");
    assert!(
        rows[0].contains("Sessions 8 ○ connecting 1 E EOF 1 R reset 1"),
        "the title counts them: {}",
        rows[0]
    );
    // Taller bars for longer sessions: EOF after 1 s, reset after 60 s, cancelled after 31 min;
    // the rejected and refused ones never opened.
    let height = |col: usize| {
        rows[1..rows.len() - 2]
            .iter()
            .filter(|r| r.chars().nth(col).is_some_and(|c| c != ' ' && c != '│'))
            .count()
    };
    let col = |mark| {
        rows[rows.len() - 2]
            .chars()
            .position(|c| c == mark)
            .unwrap()
    };
    assert!(height(col('E')) < height(col('R')));
    assert!(height(col('R')) < height(col('C')));
    assert_eq!(height(col('H')) + height(col('N')), 0);
}

#[test]
fn the_sessions_pane_scrolls_to_keep_the_selection_and_the_newest_is_on_the_right() {
    let mut t = Timeline::new();
    for s in 1..=60 {
        t.open(s * 3000, s)
            .close(s * 3000 + 1500, s, CloseReason::Eof);
    }
    let scene = Scene { t, mode: "test" };
    let mut view = ViewState {
        focus: Pane::Sessions,
        ..ViewState::default()
    };
    let follow = sessions_pane(&scene, &view, Theme { color: false });
    let marks = |rows: &[String]| rows[rows.len() - 2].matches('E').count();
    assert!(marks(&follow) < 60, "not all 60 fit");
    view.set_len(Pane::Sessions, 60);
    view.sessions.selected_from_newest = Some(59);
    let (text, buffer, _) = scene.draw(&view, 160, 45, Theme { color: false });
    let reversed: Vec<(u16, u16)> = buffer
        .content()
        .iter()
        .enumerate()
        .filter(|(_, c)| c.modifier.contains(Modifier::REVERSED) && c.symbol() == "E")
        .map(|(i, _)| buffer.pos_of(i))
        .collect();
    assert_eq!(reversed.len(), 1, "the selection is shown:\n{text}");
    let detail = ViewState {
        popup: Some(Popup::Detail),
        ..view
    };
    let (text, _) = scene.render(&detail, 160, 45, color());
    assert!(text.contains("Session 1 "), "the oldest, selected:\n{text}");
}

#[test]
fn intervals_are_judged_against_the_band() {
    let flood = flood().screen(&ViewState::default(), 160, 45);
    assert!(
        flood.contains("last 60 ms · p50 60 ms · p95 60 ms"),
        "{flood}"
    );
    assert!(flood.contains("band 15–30 s · ▼ p50 below"), "{flood}");
    let mut t = Timeline::new();
    t.open(0, 1);
    for i in 1..=4 {
        t.heartbeat(i * 45_000, 1, i * 45_000);
    }
    let sparse = Scene { t, mode: "test" };
    let (text, buffer) = sparse.render(&ViewState::default(), 160, 45, color());
    assert!(text.contains("band 15–30 s · ▲ p50 above"), "{text}");
    let at = text.find("p50 45.0 s").expect("the p50 figure");
    let (x, y) = {
        let row = text[..at].matches('\n').count();
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let col = text[line_start..at + 4].chars().count();
        (col as u16, row as u16)
    };
    assert_eq!(
        buffer[(x, y)].fg,
        Color::Red,
        "a figure outside the band is highlighted"
    );
    let none = healthy_without_heartbeats();
    assert!(none.contains("intervals: none yet"), "{none}");
}

fn healthy_without_heartbeats() -> String {
    let mut t = Timeline::new();
    t.open(0, 1).tick(5000);
    Scene { t, mode: "test" }.screen(&ViewState::default(), 120, 40)
}

#[test]
fn the_log_filter_by_type_and_regex_and_an_invalid_regex_in_the_footer() {
    let scene = flood();
    let with = |filter: &str| ViewState {
        filter: LogFilter::new(filter),
        ..ViewState::default()
    };
    let text = scene.screen(&with("type:retry"), 160, 45);
    assert!(
        text.contains("Event log — 6 of 208 [filter: type:retry]"),
        "{text}"
    );
    let text = scene.screen(&with("re:^(connect|connected)$"), 160, 45);
    assert!(text.contains("Event log — 14 of 208"), "{text}");
    let text = scene.screen(&with("re:(unclosed"), 80, 24);
    assert!(text.contains("(invalid, not applied)"), "{text}");
    let footer = footer_line(&text);
    assert!(
        footer.starts_with("invalid regex: unclosed group │") && footer.contains("q quit"),
        "{footer}"
    );
}

#[test]
fn the_footer_keeps_quit_and_help_beside_a_long_status_at_every_width() {
    let status = "report written to ./a/long/directory/name/inboxtop-report-20261125T030020Z.md";
    for width in 80..=200 {
        let view = ViewState {
            status: Some(status.into()),
            filter: LogFilter::new("re:("),
            ..ViewState::default()
        };
        let text = flood().screen(&view, width, 24);
        let footer = footer_line(&text);
        assert!(
            footer.contains("│ q quit") && footer.contains("? help"),
            "{width}: {footer}"
        );
        assert!(footer.starts_with("report written to"), "{width}: {footer}");
        if width >= 130 {
            assert!(
                footer.contains(&format!("{status} │ invalid regex: unclosed group │ ")),
                "{width}: {footer}"
            );
        }
    }
}

#[test]
fn the_header_status_line_keeps_whole_items_at_every_width() {
    let full = |scene: &Scene| {
        let text = scene.screen(&ViewState::default(), 400, 45);
        text.lines().nth(2).unwrap().trim_end().to_owned()
    };
    for scene in [flood(), healthy()] {
        let whole: Vec<String> = full(&scene).split(" │ ").map(str::to_owned).collect();
        for width in 80..=200 {
            let text = scene.screen(&ViewState::default(), width, 45);
            let line = text.lines().nth(2).unwrap().trim_end();
            let items: Vec<&str> = line.split(" │ ").collect();
            assert_eq!(items[0], whole[0], "{width}: the state is never cut");
            for item in &items {
                assert!(
                    whole.iter().any(|w| w == item),
                    "{width}: {item:?} cut in {line:?}"
                );
            }
        }
    }
}

#[test]
fn a_long_payload_scrolls_in_its_popup_to_the_end() {
    let scene = payload();
    let view = payload_detail();
    let (_, _, info) = scene.draw(&view, 80, 24, color());
    assert!(
        info.popup_scroll_max > 0,
        "the payload is longer than 24 rows"
    );
    let end = ViewState {
        popup_scroll: info.popup_scroll_max,
        ..payload_detail()
    };
    let (text, _) = scene.render(&end, 80, 24, color());
    assert!(text.contains("\"messageId\": \"msg-44\""), "{text}");
    let past = ViewState {
        popup_scroll: u16::MAX,
        ..payload_detail()
    };
    assert_eq!(
        scene.render(&past, 80, 24, color()).0,
        text,
        "clamped at the end"
    );
    let (start, _) = scene.render(&payload_detail(), 80, 24, color());
    assert!(start.contains("\"attachments\": [… 40 items]"), "{start}");
    assert!(start.contains("\\e]0;pwned\\x07"), "sanitized:\n{start}");
}

#[test]
fn a_click_on_a_pane_as_drawn_focuses_it() {
    let scene = flood();
    let mut view = ViewState::default();
    let (text, _, info) = scene.draw(&view, 160, 45, color());
    for (pane, drawn) in Pane::ALL.into_iter().zip(info.panes) {
        view.set_drawn(pane, drawn);
    }
    let row = text.lines().position(|l| l.contains("Sessions 7")).unwrap();
    let col = text
        .lines()
        .nth(row)
        .unwrap()
        .chars()
        .position(|c| c == 'S')
        .unwrap();
    let click = crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
        column: col as u16,
        row: row as u16,
        modifiers: KeyModifiers::NONE,
    };
    view.on_mouse(click);
    assert_eq!(view.focus, Pane::Sessions);
}

#[test]
fn times_are_shown_on_the_views_clock() {
    let scene = healthy();
    let text = scene.screen(&ViewState::default(), 160, 45);
    assert!(
        text.contains("03:00:15.000 s1   heartbeat"),
        "UTC in tests:\n{text}"
    );
    let detail = ViewState {
        focus: Pane::Inbox,
        popup: Some(Popup::Detail),
        ..ViewState::default()
    };
    let text = scene.screen(&detail, 160, 45);
    assert!(
        text.contains("created       2026-11-25T03:00:40.000Z"),
        "{text}"
    );
}

/// Heartbeats for 20 s, then nothing for a minute: the stream is open and silent.
fn stall() -> Scene {
    let mut t = Timeline::new();
    t.open(0, 1);
    for s in [5, 10, 15, 20] {
        t.heartbeat(s * 1000, 1, s * 1000);
    }
    t.tick(80_000);
    Scene {
        t,
        mode: "demo: stall",
    }
}

/// Three agents: one healthy, one flooded, one stalled.
fn fleet_of_three() -> Fleet {
    let mut fleet = Fleet::new();
    fleet.add("healthy-1", crate::testkit::healthy_minute().m);
    fleet.add("heartbeat-flood-2", flood().t.m);
    fleet.add("stall-3", stall().t.m);
    fleet
}

fn fleet_view(filter: &str) -> ViewState {
    view_for(Context::Fleet).tap_fleet(|f| f.filter = filter.into())
}

trait TapFleet {
    fn tap_fleet(self, change: impl FnOnce(&mut FleetView)) -> Self;
}

impl TapFleet for ViewState {
    fn tap_fleet(mut self, change: impl FnOnce(&mut FleetView)) -> Self {
        if let Some(fleet) = self.fleet.as_mut() {
            change(fleet);
        }
        self
    }
}

fn fleet_screen(fleet: &Fleet, view: &ViewState, w: u16, h: u16) -> (String, DrawInfo) {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut info = DrawInfo::default();
    terminal
        .draw(|f| info = super::fleet::draw(f, fleet, view, color()))
        .unwrap();
    (text_of(terminal.backend().buffer()), info)
}

#[test]
fn snapshot_fleet_160x45() {
    let (text, info) = fleet_screen(&fleet_of_three(), &fleet_view(""), 160, 45);
    assert_eq!(info.fleet_rows, 3);
    insta::assert_snapshot!(text);
}

#[test]
fn snapshot_fleet_80x24() {
    let (text, _) = fleet_screen(&fleet_of_three(), &fleet_view(""), 80, 24);
    insta::assert_snapshot!(text);
}

#[test]
fn the_fleet_view_puts_the_worst_first_and_filters_its_rows() {
    let fleet = fleet_of_three();
    let (text, _) = fleet_screen(&fleet, &fleet_view(""), 160, 45);
    let at = |id: &str| {
        text.find(id)
            .unwrap_or_else(|| panic!("no {id} in\n{text}"))
    };
    assert!(at("heartbeat-flood-2") < at("healthy-1"), "{text}");
    assert!(text.contains("CRITICAL"), "{text}");
    let (text, info) = fleet_screen(&fleet, &fleet_view("stall"), 160, 45);
    assert_eq!(info.fleet_rows, 1);
    assert!(
        text.contains("stall-3") && !text.contains("healthy-1"),
        "{text}"
    );
    assert!(text.contains("(1 shown)"), "{text}");
}
