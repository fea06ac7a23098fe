//! View state: what the user is looking at (focus, scroll, pause, filter, popups) and how keys
//! change it. Pure: `on_key` returns an [`Action`] for the app loop to carry out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

/// The panes that take focus, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    Findings,
    #[default]
    Log,
    Inbox,
}

impl Pane {
    fn next(self) -> Pane {
        match self {
            Pane::Findings => Pane::Log,
            Pane::Log => Pane::Inbox,
            Pane::Inbox => Pane::Findings,
        }
    }

    fn prev(self) -> Pane {
        self.next().next()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popup {
    Help,
    /// The selected row of the focused pane, in full.
    Detail,
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
    Export,
    /// Replay only: pause/resume the recording, step one observation, jump ahead.
    ReplayPause,
    ReplayStep,
    ReplayJump,
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

#[derive(Debug, Clone, Default)]
pub struct ViewState {
    pub focus: Pane,
    pub log: Scroll,
    pub inbox: Scroll,
    pub findings: Scroll,
    pub popup: Option<Popup>,
    /// Scroll offset inside the detail popup.
    pub popup_scroll: u16,
    /// Paused: the panes keep showing what they showed; `paused_at` is the log total then.
    pub paused_at: Option<(u64, u64)>,
    /// Case-insensitive log filter; `typing` while the user edits it.
    pub filter: String,
    pub typing_filter: bool,
    /// Log entries with a total index below this were cleared from view.
    pub cleared_before: u64,
    /// Replay mode shows and accepts the replay keys.
    pub replay: bool,
    /// A short message for the footer (e.g. where a report was written).
    pub status: Option<String>,
    /// Rows in each list pane as last drawn (for PgUp/PgDn and clamping).
    pub lens: [usize; 3],
    pub page: usize,
}

fn pane_index(p: Pane) -> usize {
    match p {
        Pane::Findings => 0,
        Pane::Log => 1,
        Pane::Inbox => 2,
    }
}

impl ViewState {
    pub fn paused(&self) -> bool {
        self.paused_at.is_some()
    }

    fn scroll_mut(&mut self, p: Pane) -> &mut Scroll {
        match p {
            Pane::Findings => &mut self.findings,
            Pane::Log => &mut self.log,
            Pane::Inbox => &mut self.inbox,
        }
    }

    /// Pauses or resumes; pausing remembers the log and inbox totals so the view can hold still.
    pub fn toggle_pause(&mut self, log_total: u64, inbox_total: u64) {
        self.paused_at = match self.paused_at {
            Some(_) => None,
            None => Some((log_total, inbox_total)),
        };
    }

    pub fn on_key(&mut self, key: KeyEvent, log_total: u64, inbox_total: u64) -> Action {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c')) {
            return Action::Quit;
        }
        if self.typing_filter {
            match key.code {
                KeyCode::Enter => self.typing_filter = false,
                KeyCode::Esc => {
                    self.typing_filter = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) if self.filter.chars().count() < 64 => self.filter.push(c),
                _ => return Action::None,
            }
            self.log = Scroll::default();
            return Action::Redraw;
        }
        if let Some(popup) = self.popup {
            return self.on_popup_key(popup, key);
        }
        let len = self.lens[pane_index(self.focus)];
        let page = self.page.max(1) as isize;
        let focus = self.focus;
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Tab => self.focus = self.focus.next(),
            KeyCode::BackTab => self.focus = self.focus.prev(),
            KeyCode::Up | KeyCode::Char('k') => self.scroll_mut(focus).by(1, len),
            KeyCode::Down | KeyCode::Char('j') => self.scroll_mut(focus).by(-1, len),
            KeyCode::PageUp => self.scroll_mut(focus).by(page, len),
            KeyCode::PageDown => self.scroll_mut(focus).by(-page, len),
            KeyCode::Home | KeyCode::Char('g') => self.scroll_mut(focus).by(len as isize, len),
            KeyCode::End | KeyCode::Char('G') => *self.scroll_mut(focus) = Scroll::default(),
            KeyCode::Enter if len > 0 => {
                self.popup = Some(Popup::Detail);
                self.popup_scroll = 0;
            }
            KeyCode::Char('?') => self.popup = Some(Popup::Help),
            KeyCode::Char('p') => self.toggle_pause(log_total, inbox_total),
            KeyCode::Char('/') => {
                self.typing_filter = true;
                self.focus = Pane::Log;
            }
            KeyCode::Esc if !self.filter.is_empty() => self.filter.clear(),
            KeyCode::Char('c') => {
                self.cleared_before = log_total;
                self.log = Scroll::default();
            }
            KeyCode::Char('r') => return Action::Reconnect,
            KeyCode::Char('s') => return Action::Probe,
            KeyCode::Char('e') => return Action::Export,
            KeyCode::Char(' ') if self.replay => return Action::ReplayPause,
            KeyCode::Char('n') if self.replay => return Action::ReplayStep,
            KeyCode::Char(']') if self.replay => return Action::ReplayJump,
            _ => return Action::None,
        }
        Action::Redraw
    }

    fn on_popup_key(&mut self, popup: Popup, key: KeyEvent) -> Action {
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?') if popup == Popup::Help => {
                self.popup = None
            }
            KeyCode::Esc | KeyCode::Enter => self.popup = None,
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Up | KeyCode::Char('k') => {
                self.popup_scroll = self.popup_scroll.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.popup_scroll = self.popup_scroll.saturating_add(1)
            }
            KeyCode::PageUp => self.popup_scroll = self.popup_scroll.saturating_sub(10),
            KeyCode::PageDown => self.popup_scroll = self.popup_scroll.saturating_add(10),
            _ => return Action::None,
        }
        Action::Redraw
    }

    /// Mouse wheel scrolls the focused pane (or the popup).
    pub fn on_mouse(&mut self, mouse: MouseEvent) -> Action {
        let delta = match mouse.kind {
            MouseEventKind::ScrollUp => 3,
            MouseEventKind::ScrollDown => -3,
            _ => return Action::None,
        };
        if self.popup.is_some() {
            self.popup_scroll = if delta > 0 {
                self.popup_scroll.saturating_sub(3)
            } else {
                self.popup_scroll.saturating_add(3)
            };
        } else {
            let len = self.lens[pane_index(self.focus)];
            let focus = self.focus;
            self.scroll_mut(focus).by(delta, len);
        }
        Action::Redraw
    }

    /// Records how many rows each pane has, so scrolling clamps to what exists.
    pub fn set_len(&mut self, pane: Pane, len: usize) {
        self.lens[pane_index(pane)] = len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(v.on_key(key(KeyCode::Char('e')), 0, 0), Action::Export);
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
        assert_eq!(v.filter, "msg q", "q types, it does not quit");
        v.on_key(key(KeyCode::Backspace), 0, 0);
        v.on_key(key(KeyCode::Enter), 0, 0);
        assert!(!v.typing_filter);
        assert_eq!(v.filter, "msg ");
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
    }
}
