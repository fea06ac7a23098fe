//! Every key binding, in one table. The key handling in `view.rs` dispatches through it, and the
//! `?` help and the footer are generated from it, so the three can never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key as matched: its code, and whether Control is held. Shift is not compared, because
/// terminals differ on whether `G` or `?` arrive with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub fn matches(self, event: &KeyEvent) -> bool {
        event.code == self.code && event.modifiers.contains(KeyModifiers::CONTROL) == self.ctrl
    }

    /// The key as the help and footer write it. Spelled out here rather than with crossterm's
    /// `Display`, which names keys differently on macOS (and the snapshots must not).
    pub fn name(self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Backspace => "Backspace".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }
}

const fn ch(c: char) -> Key {
    code(KeyCode::Char(c))
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

/// When a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// At any time, even while typing a filter.
    Always,
    /// One agent's view, live and replay alike, but not while typing a filter (then every key
    /// types).
    Everywhere,
    /// Watching a server or the simulator as it happens.
    Live,
    /// Replaying a recording.
    Replay,
    /// While typing a filter.
    Filter,
    /// The fleet view: one row per agent.
    Fleet,
}

/// What the keys drive right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Replay,
    TypingFilter,
    Fleet,
}

impl Context {
    pub fn applies_in(self, mode: Mode) -> bool {
        match self {
            Context::Always => true,
            Context::Everywhere => matches!(mode, Mode::Live | Mode::Replay),
            Context::Live => mode == Mode::Live,
            Context::Replay => mode == Mode::Replay,
            Context::Filter => mode == Mode::TypingFilter,
            Context::Fleet => mode == Mode::Fleet,
        }
    }
}

/// What a binding does: a change to the view, or an [`Action`](crate::view::Action) for the app
/// loop. `view.rs` carries it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Quit,
    FocusNext,
    FocusPrev,
    /// Scroll the focused pane (or a popup) one row towards older / newer.
    Older,
    Newer,
    PageOlder,
    PageNewer,
    Oldest,
    /// The newest row, following again.
    Newest,
    Detail,
    /// Close a popup, or clear the filter.
    Back,
    Help,
    Pause,
    StartFilter,
    ClearLog,
    Reconnect,
    Probe,
    Export,
    ExportLog,
    ReplayPause,
    ReplayStep,
    ReplayJump,
    FilterDone,
    FilterClear,
    FilterDeleteChar,
    /// Open the selected agent of the fleet view.
    OpenAgent,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The keys that trigger it; the first is the one the footer names.
    pub keys: &'static [Key],
    pub context: Context,
    pub effect: Effect,
    /// A sentence for the help.
    pub help: &'static str,
    /// Its place in the footer, if it has one.
    pub footer: Option<FooterEntry>,
}

/// How a binding shows in the footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FooterEntry {
    /// Who stays when the footer is short of room: 0 first.
    pub rank: u8,
    /// A word or two: `quit`, `play/pause`.
    pub word: &'static str,
}

impl Binding {
    /// Its keys as the help writes them: `q`, `↑ k`, `Home g`.
    pub fn label(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Its first key as the footer writes it.
    pub fn footer_label(&self) -> String {
        self.keys.first().map(|k| k.name()).unwrap_or_default()
    }

    const fn footer(self, rank: u8, word: &'static str) -> Binding {
        Binding {
            footer: Some(FooterEntry { rank, word }),
            ..self
        }
    }
}

const fn bind(
    context: Context,
    keys: &'static [Key],
    effect: Effect,
    help: &'static str,
) -> Binding {
    Binding {
        keys,
        context,
        effect,
        help,
        footer: None,
    }
}

use Context::{Always, Everywhere, Filter, Fleet, Live, Replay};

/// Every key inboxtop answers to, in the order the help lists them.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind(Always, &[ctrl('c')], Effect::Quit, "quit, even while typing a filter"),
    bind(Everywhere, &[ch('q')], Effect::Quit, "quit").footer(0, "quit"),
    bind(Everywhere, &[code(KeyCode::Tab)], Effect::FocusNext, "focus the next pane: findings, sessions, log, inbox").footer(2, "focus"),
    bind(Everywhere, &[code(KeyCode::BackTab)], Effect::FocusPrev, "focus the previous pane"),
    bind(Everywhere, &[code(KeyCode::Up), ch('k'), code(KeyCode::Left)], Effect::Older, "older (up, or left in the sessions); stops following"),
    bind(Everywhere, &[code(KeyCode::Down), ch('j'), code(KeyCode::Right)], Effect::Newer, "newer (down, or right in the sessions)"),
    bind(Everywhere, &[code(KeyCode::PageUp)], Effect::PageOlder, "a page up"),
    bind(Everywhere, &[code(KeyCode::PageDown)], Effect::PageNewer, "a page down"),
    bind(Everywhere, &[code(KeyCode::Home), ch('g')], Effect::Oldest, "the oldest row"),
    bind(Everywhere, &[code(KeyCode::End), ch('G')], Effect::Newest, "the newest row, following again"),
    bind(Everywhere, &[code(KeyCode::Enter)], Effect::Detail, "the selected finding, session, event or message in full").footer(3, "detail"),
    bind(Everywhere, &[code(KeyCode::Esc)], Effect::Back, "back: close a popup, clear the filter, return to the fleet"),
    bind(Everywhere, &[ch('p')], Effect::Pause, "pause/resume the view (data keeps arriving, counted)").footer(1, "pause"),
    bind(Live, &[ch('r')], Effect::Reconnect, "reconnect now").footer(2, "reconnect"),
    bind(Live, &[ch('s')], Effect::Probe, "send a probe message").footer(4, "probe"),
    bind(Replay, &[ch(' ')], Effect::ReplayPause, "play/pause the recording").footer(1, "play/pause"),
    bind(Replay, &[ch('n')], Effect::ReplayStep, "step one observation").footer(2, "step"),
    bind(Replay, &[ch(']')], Effect::ReplayJump, "jump 30 s ahead").footer(2, "+30s"),
    bind(Everywhere, &[ch('/')], Effect::StartFilter, "filter the log: text, type:NAME, or re:REGEX").footer(3, "filter"),
    bind(Everywhere, &[ch('c')], Effect::ClearLog, "clear the event log view").footer(5, "clear"),
    bind(Everywhere, &[ch('e')], Effect::Export, "export the report (markdown + JSON) to this directory").footer(3, "export"),
    bind(Everywhere, &[ch('E')], Effect::ExportLog, "export the event log (NDJSON + CSV) to this directory").footer(5, "export log"),
    bind(Everywhere, &[ch('?')], Effect::Help, "this help; Esc closes").footer(0, "help"),
    bind(Filter, &[code(KeyCode::Enter)], Effect::FilterDone, "keep the filter and stop typing").footer(0, "done"),
    bind(Filter, &[code(KeyCode::Esc)], Effect::FilterClear, "clear the filter and stop typing").footer(0, "clear"),
    bind(Filter, &[code(KeyCode::Backspace)], Effect::FilterDeleteChar, "delete the last character"),
    bind(Fleet, &[ch('q')], Effect::Quit, "quit").footer(0, "quit"),
    bind(Fleet, &[code(KeyCode::Up), ch('k')], Effect::Older, "the agent above"),
    bind(Fleet, &[code(KeyCode::Down), ch('j')], Effect::Newer, "the agent below"),
    bind(Fleet, &[code(KeyCode::Enter)], Effect::OpenAgent, "open the selected agent (Esc comes back)").footer(1, "open"),
    bind(Fleet, &[ch('/')], Effect::StartFilter, "filter the agents: id, verdict, state or finding").footer(2, "filter"),
    bind(Fleet, &[code(KeyCode::Esc)], Effect::Back, "back: close a popup, clear the filter"),
    bind(Fleet, &[ch('?')], Effect::Help, "this help; Esc closes").footer(0, "help"),
];

/// The binding `event` triggers in `mode`, if any.
pub fn binding_for(event: &KeyEvent, mode: Mode) -> Option<&'static Binding> {
    active(mode).find(|b| b.keys.iter().any(|k| k.matches(event)))
}

/// The bindings that apply in `mode`, in table order.
pub fn active(mode: Mode) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.context.applies_in(mode))
}

/// The first binding for `effect` in `mode`: what a hint such as "Esc closes" should name.
pub fn for_effect(effect: Effect, mode: Mode) -> Option<&'static Binding> {
    active(mode).find(|b| b.effect == effect)
}
