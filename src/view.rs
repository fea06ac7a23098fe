//! View state: what the user is looking at (focus, scroll, pause, filter, popups, clock) and how
//! keys and the mouse change it. Pure: `on_key` returns an [`Action`] for the app loop to carry out.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::ui::filter::LogFilter;
use crate::ui::keys::{self, Effect, Mode};
use crate::ui::time::Zone;

/// Rows a page key scrolls a popup.
const POPUP_PAGE: u16 = 10;
/// Rows the mouse wheel scrolls.
const WHEEL: u16 = 3;
/// The longest filter a user can type.
const MAX_FILTER_CHARS: usize = 64;

/// The panes that take focus, in Tab order (top to bottom, left to right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    Findings,
    /// The session timeline.
    Sessions,
    #[default]
    Log,
    Inbox,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Findings, Pane::Sessions, Pane::Log, Pane::Inbox];

    fn index(self) -> usize {
        match self {
            Pane::Findings => 0,
            Pane::Sessions => 1,
            Pane::Log => 2,
            Pane::Inbox => 3,
        }
    }

    fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popup {
    Help,
    /// The selected row of the focused pane, in full.
    Detail,
}

/// What `e` and `E` write to the current directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// The report, markdown and JSON.
    Report,
    /// The event log, NDJSON and CSV.
    EventLog,
}

/// What the app loop should do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    /// The view changed: redraw.
    Redraw,
    Quit,
    Reconnect,
    Probe,
    Export(Export),
    /// Replay only: pause/resume the recording, step one observation, jump ahead.
    ReplayPause,
    ReplayStep,
    ReplayJump,
    /// Show the agent of the fleet view's selected row.
    OpenAgent,
}

/// The fleet view: whether it is on screen, the selected row, and the `/` filter of the agents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetView {
    pub shown: bool,
    /// The selected row among the rows the filter keeps (0 = the worst agent).
    pub cursor: usize,
    pub filter: String,
    /// How many rows the last frame showed.
    pub rows: usize,
}

/// Scroll position of a list pane: `None` follows the newest row; `Some(i)` selects row `i`
/// counted from the newest (0 = newest), which stays put as rows arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scroll {
    pub selected_from_newest: Option<usize>,
}

impl Scroll {
    pub fn following(&self) -> bool {
        self.selected_from_newest.is_none()
    }

    /// Moves the selection `delta` rows towards older (+) or newer (−), within `len` rows.
    fn by(&mut self, delta: isize, len: usize) {
        let current = self.selected_from_newest.unwrap_or(0) as isize;
        let max = len.saturating_sub(1) as isize;
        let next = (current + delta).clamp(0, max);
        self.selected_from_newest = if next == 0 && delta < 0 {
            None
        } else {
            Some(next as usize)
        };
    }

    /// The selected row, from the newest (0 when following).
    pub fn selected(&self, len: usize) -> usize {
        self.selected_from_newest
            .unwrap_or(0)
            .min(len.saturating_sub(1))
    }
}

/// A pane as last drawn: its rows (for PgUp/PgDn and clamping) and where it is (for clicks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drawn {
    pub rows: usize,
    pub area: Rect,
}

#[derive(Debug, Clone, Default)]
pub struct ViewState {
    pub focus: Pane,
    pub findings: Scroll,
    pub sessions: Scroll,
    pub log: Scroll,
    pub inbox: Scroll,
    pub popup: Option<Popup>,
    /// Scroll offset inside the popup, and the largest that shows something (as last drawn).
    pub popup_scroll: u16,
    pub popup_scroll_max: u16,
    /// Paused: the panes keep showing what they showed; `paused_at` is the log total then.
    pub paused_at: Option<(u64, u64)>,
    /// The log filter; `typing` while the user edits it.
    pub filter: LogFilter,
    pub typing_filter: bool,
    /// Log entries with a total index below this were cleared from view.
    pub cleared_before: u64,
    /// Replay mode shows and accepts the replay keys.
    pub replay: bool,
    /// A short message for the footer (e.g. where a report was written).
    pub status: Option<String>,
    /// The clock times are shown on.
    pub zone: Zone,
    /// Each pane as last drawn, in [`Pane::ALL`] order.
    pub panes: [Drawn; 4],
    pub page: usize,
    /// With more than one agent, the fleet view (and Esc returns to it).
    pub fleet: Option<FleetView>,
}

impl ViewState {
    pub fn paused(&self) -> bool {
        self.paused_at.is_some()
    }

    fn scroll_mut(&mut self, p: Pane) -> &mut Scroll {
        match p {
            Pane::Findings => &mut self.findings,
            Pane::Sessions => &mut self.sessions,
            Pane::Log => &mut self.log,
            Pane::Inbox => &mut self.inbox,
        }
    }

    fn rows(&self, p: Pane) -> usize {
        self.panes[p.index()].rows
    }

    /// Pauses or resumes; pausing remembers the log and inbox totals so the view can hold still.
    pub fn toggle_pause(&mut self, log_total: u64, inbox_total: u64) {
        self.paused_at = match self.paused_at {
            Some(_) => None,
            None => Some((log_total, inbox_total)),
        };
    }

    /// What the keys drive right now.
    /// The fleet view, when it is on screen.
    pub fn fleet_shown(&self) -> Option<&FleetView> {
        self.fleet.as_ref().filter(|f| f.shown)
    }

    /// The filter being typed: the agents' on the fleet view, the log's otherwise.
    pub fn typed_filter(&self) -> &str {
        match self.fleet_shown() {
            Some(fleet) => &fleet.filter,
            None => self.filter.text(),
        }
    }

    /// A fresh view of another agent of the fleet; the fleet view, the zone and the mode stay.
    pub fn for_another_agent(&self) -> ViewState {
        ViewState {
            replay: self.replay,
            zone: self.zone,
            fleet: self.fleet.clone(),
            ..ViewState::default()
        }
    }

    pub fn key_mode(&self) -> Mode {
        if self.typing_filter {
            Mode::TypingFilter
        } else if self.fleet_shown().is_some() {
            Mode::Fleet
        } else if self.replay {
            Mode::Replay
        } else {
            Mode::Live
        }
    }

    /// Handles a key through the one binding table; while typing a filter, unbound keys type.
    pub fn on_key(&mut self, key: KeyEvent, log_total: u64, inbox_total: u64) -> Action {
        let mode = self.key_mode();
        match (keys::binding_for(&key, mode), self.popup) {
            (Some(binding), Some(popup)) => self.in_popup(popup, binding.effect),
            (Some(binding), None) if mode == Mode::Fleet => self.apply_in_fleet(binding.effect),
            (Some(binding), None) => self.apply(binding.effect, log_total, inbox_total),
            (None, _) if mode == Mode::TypingFilter => self.type_into_filter(key),
            (None, _) => Action::None,
        }
    }

    fn apply(&mut self, effect: Effect, log_total: u64, inbox_total: u64) -> Action {
        let len = self.rows(self.focus);
        let page = self.page.max(1) as isize;
        let focused = self.scroll_mut(self.focus);
        match effect {
            Effect::Quit => return Action::Quit,
            Effect::Reconnect => return Action::Reconnect,
            Effect::Probe => return Action::Probe,
            Effect::Export => return Action::Export(Export::Report),
            Effect::ExportLog => return Action::Export(Export::EventLog),
            Effect::ReplayPause => return Action::ReplayPause,
            Effect::ReplayStep => return Action::ReplayStep,
            Effect::ReplayJump => return Action::ReplayJump,
            Effect::Older => focused.by(1, len),
            Effect::Newer => focused.by(-1, len),
            Effect::PageOlder => focused.by(page, len),
            Effect::PageNewer => focused.by(-page, len),
            Effect::Oldest => focused.by(len as isize, len),
            Effect::Newest => *focused = Scroll::default(),
            Effect::FocusNext => self.focus = self.focus.next(),
            Effect::FocusPrev => self.focus = self.focus.prev(),
            Effect::Detail if len > 0 => self.open(Popup::Detail),
            Effect::Help => self.open(Popup::Help),
            Effect::Back if !self.filter.is_empty() => self.filter = LogFilter::default(),
            Effect::Back => match &mut self.fleet {
                Some(fleet) => fleet.shown = true,
                None => return Action::None,
            },
            Effect::Pause => self.toggle_pause(log_total, inbox_total),
            Effect::StartFilter => {
                self.typing_filter = true;
                self.focus = Pane::Log;
            }
            Effect::ClearLog => {
                self.cleared_before = log_total;
                self.log = Scroll::default();
            }
            Effect::FilterDone => self.edit_filter(|_| {}, false),
            Effect::FilterClear => self.edit_filter(String::clear, false),
            Effect::FilterDeleteChar => self.edit_filter(
                |f| {
                    f.pop();
                },
                true,
            ),
            Effect::Detail | Effect::OpenAgent => return Action::None,
        }
        Action::Redraw
    }

    /// A key on the fleet view: move the selection, open the agent, filter the agents.
    fn apply_in_fleet(&mut self, effect: Effect) -> Action {
        let Some(fleet) = self.fleet.as_mut() else {
            return Action::None;
        };
        match effect {
            Effect::Quit => return Action::Quit,
            Effect::Older => fleet.cursor = fleet.cursor.saturating_sub(1),
            Effect::Newer => fleet.cursor = (fleet.cursor + 1).min(fleet.rows.saturating_sub(1)),
            Effect::OpenAgent if fleet.rows > 0 => {
                fleet.shown = false;
                return Action::OpenAgent;
            }
            Effect::StartFilter => self.typing_filter = true,
            Effect::Back if !fleet.filter.is_empty() => fleet.filter.clear(),
            Effect::Help => self.open(Popup::Help),
            _ => return Action::None,
        }
        Action::Redraw
    }

    fn open(&mut self, popup: Popup) {
        self.popup = Some(popup);
        self.popup_scroll = 0;
        // Unknown until the popup is drawn.
        self.popup_scroll_max = u16::MAX;
    }

    /// A popup takes the keys while it is open: it scrolls, closes, or lets the user quit.
    fn in_popup(&mut self, popup: Popup, effect: Effect) -> Action {
        match effect {
            Effect::Quit => return Action::Quit,
            Effect::Back | Effect::Detail => self.popup = None,
            Effect::Help if popup == Popup::Help => self.popup = None,
            Effect::Older => self.scroll_popup(-1),
            Effect::Newer => self.scroll_popup(1),
            Effect::PageOlder => self.scroll_popup(-i32::from(POPUP_PAGE)),
            Effect::PageNewer => self.scroll_popup(i32::from(POPUP_PAGE)),
            Effect::Oldest => self.popup_scroll = 0,
            Effect::Newest => self.popup_scroll = self.popup_scroll_max,
            _ => return Action::None,
        }
        Action::Redraw
    }

    /// Scrolls the popup `rows` down (+) or up (−), within what it has to show.
    fn scroll_popup(&mut self, rows: i32) {
        let next = i32::from(self.popup_scroll) + rows;
        self.popup_scroll = next.clamp(0, i32::from(self.popup_scroll_max)) as u16;
    }

    /// Changes the filter being typed (compiling it anew if it changed); `keep_typing` false ends
    /// the typing. The log follows again, since what it shows has changed.
    fn edit_filter(&mut self, edit: impl FnOnce(&mut String), keep_typing: bool) {
        if let Some(fleet) = self.fleet.as_mut().filter(|f| f.shown) {
            edit(&mut fleet.filter);
            fleet.cursor = 0;
            self.typing_filter = keep_typing;
            return;
        }
        let mut text = self.filter.text().to_owned();
        edit(&mut text);
        if text != self.filter.text() {
            self.filter = LogFilter::new(&text);
        }
        self.typing_filter = keep_typing;
        self.log = Scroll::default();
    }

    fn type_into_filter(&mut self, key: KeyEvent) -> Action {
        match key.code {
            KeyCode::Char(c) if self.typed_filter().chars().count() < MAX_FILTER_CHARS => {
                self.edit_filter(|f| f.push(c), true);
                Action::Redraw
            }
            _ => Action::None,
        }
    }

    /// The wheel scrolls the focused pane (or the popup); a click on a pane focuses it.
    pub fn on_mouse(&mut self, mouse: MouseEvent) -> Action {
        let rows: i16 = match mouse.kind {
            MouseEventKind::ScrollUp => -(WHEEL as i16),
            MouseEventKind::ScrollDown => WHEEL as i16,
            MouseEventKind::Down(MouseButton::Left) => {
                return self.click(Position::new(mouse.column, mouse.row));
            }
            _ => return Action::None,
        };
        if self.popup.is_some() {
            self.scroll_popup(i32::from(rows));
        } else {
            let len = self.rows(self.focus);
            let focus = self.focus;
            // Up the screen is older in every pane.
            self.scroll_mut(focus).by(-isize::from(rows), len);
        }
        Action::Redraw
    }

    /// Focuses the pane under `at`, unless a popup covers the panes.
    fn click(&mut self, at: Position) -> Action {
        if self.popup.is_some() {
            return Action::None;
        }
        match Pane::ALL
            .into_iter()
            .find(|p| self.panes[p.index()].area.contains(at))
        {
            Some(pane) if pane != self.focus => {
                self.focus = pane;
                Action::Redraw
            }
            _ => Action::None,
        }
    }

    /// Records how each pane was drawn, so scrolling clamps to what exists and clicks land.
    pub fn set_drawn(&mut self, pane: Pane, drawn: Drawn) {
        self.panes[pane.index()] = drawn;
    }

    /// Records only a pane's rows (tests that draw nothing).
    #[cfg(test)]
    pub fn set_len(&mut self, pane: Pane, rows: usize) {
        self.panes[pane.index()].rows = rows;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::keys::{BINDINGS, Context, Key};
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn tab_cycles_focus_both_ways() {
        let mut v = ViewState::default();
        assert_eq!(v.focus, Pane::Log);
        v.on_key(key(KeyCode::Tab), 0, 0);
        assert_eq!(v.focus, Pane::Inbox);
        v.on_key(key(KeyCode::Tab), 0, 0);
        assert_eq!(v.focus, Pane::Findings);
        v.on_key(key(KeyCode::Tab), 0, 0);
        assert_eq!(v.focus, Pane::Sessions);
        v.on_key(key(KeyCode::BackTab), 0, 0);
        v.on_key(key(KeyCode::BackTab), 0, 0);
        assert_eq!(v.focus, Pane::Inbox);
    }

    #[test]
    fn scrolling_unfollows_clamps_and_end_follows_again() {
        let mut v = ViewState {
            page: 10,
            ..ViewState::default()
        };
        v.set_len(Pane::Log, 5);
        assert!(v.log.following());
        v.on_key(key(KeyCode::Up), 0, 0);
        assert_eq!(v.log.selected_from_newest, Some(1));
        v.on_key(key(KeyCode::PageUp), 0, 0);
        assert_eq!(v.log.selected_from_newest, Some(4));
        v.on_key(key(KeyCode::Down), 0, 0);
        assert_eq!(v.log.selected_from_newest, Some(3));
        v.on_key(key(KeyCode::End), 0, 0);
        assert!(v.log.following());
    }

    #[test]
    fn quit_pause_clear_and_commands() {
        let mut v = ViewState::default();
        assert_eq!(v.on_key(key(KeyCode::Char('q')), 0, 0), Action::Quit);
        assert_eq!(
            v.on_key(
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                0,
                0
            ),
            Action::Quit
        );
        v.on_key(key(KeyCode::Char('p')), 42, 7);
        assert_eq!(v.paused_at, Some((42, 7)));
        v.on_key(key(KeyCode::Char('p')), 50, 9);
        assert!(!v.paused());
        v.on_key(key(KeyCode::Char('c')), 99, 0);
        assert_eq!(v.cleared_before, 99);
        assert_eq!(v.on_key(key(KeyCode::Char('r')), 0, 0), Action::Reconnect);
        assert_eq!(v.on_key(key(KeyCode::Char('s')), 0, 0), Action::Probe);
        assert_eq!(
            v.on_key(key(KeyCode::Char('e')), 0, 0),
            Action::Export(Export::Report)
        );
        assert_eq!(
            v.on_key(key(KeyCode::Char('E')), 0, 0),
            Action::Export(Export::EventLog)
        );
        assert_eq!(
            v.on_key(key(KeyCode::Char(' ')), 0, 0),
            Action::None,
            "replay keys only in replay"
        );
    }

    #[test]
    fn filter_typing_takes_every_key_until_enter() {
        let mut v = ViewState::default();
        v.on_key(key(KeyCode::Char('/')), 0, 0);
        for c in "msg q".chars() {
            v.on_key(key(KeyCode::Char(c)), 0, 0);
        }
        assert_eq!(v.filter.text(), "msg q", "q types, it does not quit");
        v.on_key(key(KeyCode::Backspace), 0, 0);
        v.on_key(key(KeyCode::Enter), 0, 0);
        assert!(!v.typing_filter);
        assert_eq!(v.filter.text(), "msg ");
        v.on_key(key(KeyCode::Esc), 0, 0);
        assert!(v.filter.is_empty());
    }

    #[test]
    fn popups_open_and_close() {
        let mut v = ViewState::default();
        v.on_key(key(KeyCode::Char('?')), 0, 0);
        assert_eq!(v.popup, Some(Popup::Help));
        v.on_key(key(KeyCode::Esc), 0, 0);
        assert_eq!(v.popup, None);
        v.on_key(key(KeyCode::Enter), 0, 0);
        assert_eq!(v.popup, None, "nothing to open in an empty pane");
        v.set_len(Pane::Log, 3);
        v.on_key(key(KeyCode::Enter), 0, 0);
        assert_eq!(v.popup, Some(Popup::Detail));
        v.on_key(key(KeyCode::Down), 0, 0);
        assert_eq!(v.popup_scroll, 1);
        assert_eq!(
            v.on_key(key(KeyCode::Char('p')), 0, 0),
            Action::None,
            "a popup holds the view still"
        );
        assert!(!v.paused());
        v.on_key(key(KeyCode::Char('?')), 0, 0);
        assert_eq!(v.popup, Some(Popup::Detail), "? closes only the help");
        assert_eq!(v.on_key(key(KeyCode::Char('q')), 0, 0), Action::Quit);
    }

    #[test]
    fn popup_scrolling_stops_at_what_the_popup_has_to_show() {
        let mut v = ViewState::default();
        v.set_len(Pane::Log, 3);
        v.on_key(key(KeyCode::Enter), 0, 0);
        v.popup_scroll_max = 4; // as the popup's draw sets it
        for _ in 0..3 {
            v.on_key(key(KeyCode::PageDown), 0, 0);
        }
        assert_eq!(v.popup_scroll, 4);
        v.on_key(key(KeyCode::Up), 0, 0);
        assert_eq!(v.popup_scroll, 3);
        v.on_key(key(KeyCode::Home), 0, 0);
        assert_eq!(v.popup_scroll, 0);
        v.on_mouse(mouse(MouseEventKind::ScrollUp, 0, 0));
        assert_eq!(v.popup_scroll, 0);
        v.on_key(key(KeyCode::End), 0, 0);
        assert_eq!(v.popup_scroll, 4);
        v.on_mouse(mouse(MouseEventKind::ScrollDown, 0, 0));
        assert_eq!(v.popup_scroll, 4);
    }

    fn mouse(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
        MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }
    }

    #[test]
    fn a_click_focuses_the_pane_under_it_and_the_wheel_scrolls_the_focused_one() {
        let mut v = ViewState::default();
        for (pane, y) in Pane::ALL.into_iter().zip([0, 5, 10, 20]) {
            let area = Rect::new(0, y, 80, 5);
            v.set_drawn(pane, Drawn { rows: 10, area });
        }
        let click = |column, row| mouse(MouseEventKind::Down(MouseButton::Left), column, row);
        assert_eq!(v.on_mouse(click(3, 6)), Action::Redraw);
        assert_eq!(v.focus, Pane::Sessions);
        assert_eq!(v.on_mouse(click(3, 6)), Action::None, "already focused");
        assert_eq!(v.on_mouse(click(3, 16)), Action::None, "no pane there");
        assert_eq!(v.focus, Pane::Sessions);
        v.on_mouse(mouse(MouseEventKind::ScrollUp, 50, 22));
        assert_eq!(v.sessions.selected_from_newest, Some(3), "up is older");
        assert!(v.inbox.following(), "the wheel scrolls the focused pane");
        v.on_mouse(click(79, 24));
        assert_eq!(v.focus, Pane::Inbox);
        v.popup = Some(Popup::Help);
        assert_eq!(
            v.on_mouse(click(3, 1)),
            Action::None,
            "a popup covers the panes"
        );
        assert_eq!(v.focus, Pane::Inbox);
    }

    #[test]
    fn a_filter_is_compiled_as_it_is_typed_and_an_invalid_one_says_so() {
        let mut v = ViewState::default();
        for c in "/re:(".chars() {
            v.on_key(key(KeyCode::Char(c)), 0, 0);
        }
        assert_eq!(v.filter.error(), Some("invalid regex: unclosed group"));
        v.on_key(key(KeyCode::Char(')')), 0, 0);
        assert_eq!(v.filter.error(), None);
        v.on_key(key(KeyCode::Enter), 0, 0);
        assert_eq!(v.filter.text(), "re:()");
        v.on_key(key(KeyCode::Esc), 0, 0);
        assert!(v.filter.is_empty(), "Esc clears a kept filter");
    }

    #[test]
    fn replay_keys_only_in_replay_and_live_keys_only_live() {
        let mut v = ViewState {
            replay: true,
            ..ViewState::default()
        };
        assert_eq!(v.on_key(key(KeyCode::Char(' ')), 0, 0), Action::ReplayPause);
        assert_eq!(v.on_key(key(KeyCode::Char('n')), 0, 0), Action::ReplayStep);
        assert_eq!(v.on_key(key(KeyCode::Char(']')), 0, 0), Action::ReplayJump);
        assert_eq!(v.on_key(key(KeyCode::Char('r')), 0, 0), Action::None);
        assert_eq!(v.on_key(key(KeyCode::Char('s')), 0, 0), Action::None);
    }

    fn event_of(key: Key) -> KeyEvent {
        let modifiers = if key.ctrl {
            KeyModifiers::CONTROL
        } else {
            KeyModifiers::NONE
        };
        KeyEvent::new(key.code, modifiers)
    }

    fn modes_of(context: Context) -> &'static [Mode] {
        match context {
            Context::Always => &[Mode::Live, Mode::Replay, Mode::TypingFilter, Mode::Fleet],
            Context::Everywhere => &[Mode::Live, Mode::Replay],
            Context::Live => &[Mode::Live],
            Context::Replay => &[Mode::Replay],
            Context::Filter => &[Mode::TypingFilter],
            Context::Fleet => &[Mode::Fleet],
        }
    }

    /// A view in `mode` where every binding has something to act on: rows to scroll and open, a
    /// page, a filter to clear.
    fn ready(mode: Mode) -> ViewState {
        ViewState {
            replay: mode == Mode::Replay,
            typing_filter: mode == Mode::TypingFilter,
            filter: LogFilter::new("x"),
            panes: [Drawn {
                rows: 3,
                area: Rect::default(),
            }; 4],
            page: 2,
            fleet: (mode == Mode::Fleet).then(|| FleetView {
                shown: true,
                filter: "x".into(),
                rows: 3,
                ..FleetView::default()
            }),
            ..ViewState::default()
        }
    }

    #[test]
    fn every_binding_is_reachable_by_each_of_its_keys() {
        for binding in BINDINGS {
            for &mode in modes_of(binding.context) {
                for &k in binding.keys {
                    let found = keys::binding_for(&event_of(k), mode);
                    assert_eq!(found, Some(binding), "{} in {mode:?}", k.name());
                    let expected = match binding.effect {
                        Effect::Quit => Action::Quit,
                        Effect::Reconnect => Action::Reconnect,
                        Effect::Probe => Action::Probe,
                        Effect::Export => Action::Export(Export::Report),
                        Effect::ExportLog => Action::Export(Export::EventLog),
                        Effect::ReplayPause => Action::ReplayPause,
                        Effect::ReplayStep => Action::ReplayStep,
                        Effect::ReplayJump => Action::ReplayJump,
                        Effect::OpenAgent => Action::OpenAgent,
                        _ => Action::Redraw,
                    };
                    let got = ready(mode).on_key(event_of(k), 10, 10);
                    assert_eq!(got, expected, "{} in {mode:?}", k.name());
                }
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_mode() {
        for mode in [Mode::Live, Mode::Replay, Mode::TypingFilter, Mode::Fleet] {
            let bound: Vec<Key> = keys::active(mode)
                .flat_map(|b| b.keys.iter().copied())
                .collect();
            for (i, k) in bound.iter().enumerate() {
                assert!(
                    !bound[i + 1..].contains(k),
                    "{} twice in {mode:?}",
                    k.name()
                );
            }
        }
    }

    #[test]
    fn the_keys_design_names_are_bound() {
        let bound = |code: KeyCode, ctrl: bool, mode: Mode| {
            let k = Key { code, ctrl };
            keys::binding_for(&event_of(k), mode).is_some()
        };
        let everywhere = [
            KeyCode::Char('q'),
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Char('j'),
            KeyCode::Char('k'),
            KeyCode::PageUp,
            KeyCode::PageDown,
            KeyCode::Home,
            KeyCode::End,
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Char('p'),
            KeyCode::Char('/'),
            KeyCode::Char('c'),
            KeyCode::Char('e'),
            KeyCode::Char('E'),
            KeyCode::Char('?'),
        ];
        for mode in [Mode::Live, Mode::Replay] {
            assert!(bound(KeyCode::Char('c'), true, mode), "Ctrl-C in {mode:?}");
            for code in everywhere {
                assert!(bound(code, false, mode), "{code:?} in {mode:?}");
            }
        }
        for code in [KeyCode::Char('r'), KeyCode::Char('s')] {
            assert!(bound(code, false, Mode::Live), "{code:?} live");
        }
        for code in [KeyCode::Char(' '), KeyCode::Char('n'), KeyCode::Char(']')] {
            assert!(bound(code, false, Mode::Replay), "{code:?} in replay");
        }
        assert!(bound(KeyCode::Char('c'), true, Mode::TypingFilter));
    }
}
