//! The views rendered into ratatui's `TestBackend`, asserted on the buffer.

use chrono::{DateTime, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use std::time::Duration;

use super::{Target, Theme, draw};
use crate::monitor::{Monitor, Thresholds};
use crate::observation::{CloseReason, Kind, Mono, Observation};
use crate::view::{Pane, Popup, ViewState};
use crate::wire::WireMessage;

fn wall(ms: u64) -> DateTime<Utc> {
    "2026-11-25T03:00:00Z".parse::<DateTime<Utc>>().unwrap()
        + chrono::Duration::milliseconds(ms as i64)
}

fn at(m: &mut Monitor, ms: u64, kind: Kind) {
    m.apply(&Observation::new(Mono::from_millis(ms), wall(ms), kind));
}

fn open(m: &mut Monitor, ms: u64, session: u64) {
    at(
        m,
        ms,
        Kind::ConnectAttempt {
            session,
            last_event_id: None,
        },
    );
    at(
        m,
        ms + 5,
        Kind::StreamResponse {
            session,
            status: 200,
            content_type: Some("text/event-stream".into()),
            content_encoding: None,
            ttfb_ms: 5,
            retry_after_ms: None,
            headers: vec![],
            error: None,
        },
    );
}

fn beat(m: &mut Monitor, ms: u64, session: u64) {
    let data = format!("{{\"timestamp\":\"{}\"}}", wall(ms).to_rfc3339());
    at(
        m,
        ms,
        Kind::SseEvent {
            session,
            event: "heartbeat".into(),
            id: None,
            data,
            retry_ms: None,
        },
    );
}

fn message(id: &str, from: &str, content: &str, created: u64) -> WireMessage {
    WireMessage {
        id: Some(id.into()),
        from: Some(from.into()),
        content: content.into(),
        content_len: content.len(),
        created_at: Some(wall(created)),
        ..WireMessage::default()
    }
}

fn stream(m: &mut Monitor, ms: u64, msg: &WireMessage) {
    let data = serde_json::json!({"messageId": msg.id, "from": msg.from, "content": msg.content, "createdAt": msg.created_at}).to_string();
    at(
        m,
        ms,
        Kind::SseEvent {
            session: 1,
            event: "message".into(),
            id: msg.id.clone(),
            data,
            retry_ms: None,
        },
    );
}

fn target() -> Target {
    Target {
        base_url: "http://127.0.0.1:8765".into(),
        agent: "demo".into(),
        key_masked: "••••••ef".into(),
        mode: "demo: healthy".into(),
        expected_heartbeat: (Duration::from_secs(15), Duration::from_secs(30)),
    }
}

fn render(
    m: &Monitor,
    view: &ViewState,
    w: u16,
    h: u16,
    theme: Theme,
) -> (String, ratatui::buffer::Buffer) {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| {
            draw(f, m, view, &target(), theme);
        })
        .unwrap();
    let buffer = terminal.backend().buffer().clone();
    let text = (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (text, buffer)
}

fn color() -> Theme {
    Theme { color: true }
}

/// A healthy minute: one session, heartbeats, messages streamed then polled, one only polled.
fn healthy() -> Monitor {
    let mut m = Monitor::new(Thresholds::default());
    at(
        &mut m,
        0,
        Kind::PollOk {
            elapsed_ms: 1,
            messages: vec![message("old-1", "agent-ops", "from before", 0)],
            unreadable: 0,
        },
    );
    open(&mut m, 10, 1);
    for s in [15, 30, 45, 60] {
        beat(&mut m, s * 1000, 1);
    }
    let streamed = message("msg-streamed", "agent-billing", "invoice 42 ready", 20_000);
    stream(&mut m, 20_000, &streamed);
    let waiting = message("msg-waiting", "agent-search", "index rebuilt", 40_000);
    at(
        &mut m,
        40_100,
        Kind::PollOk {
            elapsed_ms: 1,
            messages: vec![streamed, waiting],
            unreadable: 0,
        },
    );
    at(&mut m, 61_000, Kind::Tick);
    m
}

#[test]
fn the_panes_show_state_counters_and_marks() {
    let m = healthy();
    let (text, _) = render(&m, &ViewState::default(), 140, 40, color());
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
    let mut m = Monitor::new(Thresholds::default());
    open(&mut m, 0, 1);
    for i in 0..6000u64 {
        beat(&mut m, 10 + i, 1);
    }
    at(
        &mut m,
        7000,
        Kind::StreamClosed {
            session: 1,
            reason: CloseReason::Eof,
        },
    );
    at(
        &mut m,
        7000,
        Kind::RetryScheduled {
            delay_ms: 4200,
            reason: "backoff".into(),
        },
    );
    let (text, _) = render(&m, &ViewState::default(), 140, 40, color());
    assert!(text.contains("waiting to retry: retry in 4.2s"), "{text}");
    assert!(
        text.contains(&format!("of {}", m.log.total())),
        "exact total in the log title:\n{text}"
    );
    assert!(m.log.total() > m.log.entries.len() as u64);
    assert!(
        text.contains("heartbeat-flood"),
        "6000 heartbeats in 6 s:\n{text}"
    );
}

#[test]
fn hostile_text_is_escaped_and_never_reaches_the_terminal_raw() {
    let mut m = Monitor::new(Thresholds::default());
    open(&mut m, 0, 1);
    let evil = message(
        "\u{1b}]0;pwned\u{7}",
        "\u{202e}evil",
        "\u{1b}[2J\u{1b}]8;;http://x\u{7}click\u{200b}",
        10,
    );
    stream(&mut m, 10, &evil);
    at(
        &mut m,
        20,
        Kind::PollOk {
            elapsed_ms: 1,
            messages: vec![evil],
            unreadable: 0,
        },
    );
    for focus in [Pane::Log, Pane::Inbox] {
        let view = ViewState {
            focus,
            popup: Some(Popup::Detail),
            ..ViewState::default()
        };
        let mut view = view;
        view.set_len(focus, 5);
        let (text, buffer) = render(&m, &view, 140, 40, color());
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
    let m = healthy();
    let help = ViewState {
        popup: Some(Popup::Help),
        ..ViewState::default()
    };
    let (text, _) = render(&m, &help, 120, 40, color());
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
    let (text, _) = render(&m, &detail, 120, 40, color());
    assert!(
        text.contains("msg-waiting")
            && text.contains("index rebuilt")
            && text.contains("streamed      never"),
        "{text}"
    );
}

#[test]
fn no_color_means_no_colour_and_any_size_renders() {
    let m = healthy();
    let (_, buffer) = render(&m, &ViewState::default(), 120, 40, Theme { color: false });
    assert!(
        buffer
            .content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
    let (_, coloured) = render(&m, &ViewState::default(), 120, 40, color());
    assert!(
        coloured.content().iter().any(|c| c.fg != Color::Reset),
        "colours are on by default"
    );
    for (w, h) in [
        (200, 60),
        (80, 24),
        (40, 12),
        (20, 8),
        (19, 7),
        (1, 1),
        (0, 0),
    ] {
        let _ = render(&m, &ViewState::default(), w, h, color());
    }
    let (narrow, _) = render(&m, &ViewState::default(), 80, 30, color());
    assert!(
        narrow.contains("Event log") && narrow.contains("Inbox"),
        "stacked on narrow terminals:\n{narrow}"
    );
}

#[test]
fn pause_holds_the_log_while_counting() {
    let mut m = healthy();
    let mut view = ViewState::default();
    view.toggle_pause(m.log.total(), m.inbox.created_total());
    let (before, _) = render(&m, &view, 140, 40, color());
    for i in 0..5 {
        beat(&mut m, 62_000 + i, 1);
    }
    let (after, _) = render(&m, &view, 140, 40, color());
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
