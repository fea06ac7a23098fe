//! The app loop: one `tokio::select!` merging observations, terminal events, notices from
//! whoever runs the sources, and a redraw deadline. The monitor has one writer (this loop); drawing happens only when something changed,
//! at most `MAX_FPS` times a second, after draining whatever observations are already queued.

use crossterm::event::{Event, KeyEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::io;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::fleet::{Agent, Fleet};
use crate::monitor::{Monitor, Thresholds};
use crate::observation::Observation;
use crate::ui::{self, Target, Theme};
use crate::view::{Action, Export, FleetView, Pane, ViewState};

const MAX_FPS: u64 = 30;
const FRAME: Duration = Duration::from_millis(1000 / MAX_FPS);
/// Observations folded per wake-up before the loop looks at keys again.
const DRAIN_BATCH: usize = 4096;
/// How long a footer status stays.
const STATUS_FOR: Duration = Duration::from_secs(6);

/// What the app asks of whoever runs the sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Reconnect this agent's stream (its index).
    Reconnect(usize),
    /// Send a probe as this agent.
    Probe(usize),
    ReplayPause,
    ReplayStep,
    ReplayJump(Duration),
}

pub struct App {
    pub fleet: Fleet,
    /// The agent the single-agent view shows (an index into the fleet).
    pub selected: usize,
    pub view: ViewState,
    /// What is watched, by agent.
    pub targets: Vec<Target>,
    pub theme: Theme,
    /// Frames drawn so far.
    pub frames: u64,
    status_until: Option<Instant>,
    /// What an app without agents shows (never in practice: every command watches one).
    empty: Monitor,
}

impl App {
    /// The app over `fleet`, `targets[i]` describing agent `i`. With more than one agent the
    /// fleet view comes first.
    pub fn new(fleet: Fleet, targets: Vec<Target>) -> App {
        let view = ViewState {
            fleet: (fleet.len() > 1).then(|| FleetView {
                shown: true,
                ..FleetView::default()
            }),
            ..ViewState::default()
        };
        App {
            fleet,
            selected: 0,
            view,
            targets,
            theme: Theme::from_env(),
            frames: 0,
            status_until: None,
            empty: Monitor::new(Thresholds::default()),
        }
    }

    /// The model of the agent the single-agent view shows.
    pub fn monitor(&self) -> &Monitor {
        self.agent().map_or(&self.empty, |a| &a.monitor)
    }

    /// The id of the agent the single-agent view shows.
    pub fn agent_id(&self) -> &str {
        self.agent().map_or("", |a| a.id.as_str())
    }

    fn agent(&self) -> Option<&Agent> {
        self.fleet.get(self.selected)
    }

    /// Shows the agent of the fleet view's selected row in the single-agent view.
    fn open_selected_agent(&mut self) {
        let cursor = self.view.fleet.as_ref().map_or(0, |f| f.cursor);
        if let Some(row) = ui::fleet::visible_rows(&self.fleet, &self.view).get(cursor) {
            self.selected = row.ix;
            self.view = self.view.for_another_agent();
        }
    }

    /// A footer message that goes away after a few seconds (where an export was written).
    pub fn set_status(&mut self, status: String) {
        self.view.status = Some(status);
        self.status_until = Some(Instant::now() + STATUS_FOR);
    }

    /// A footer message that stays until another replaces it (why a replay ended).
    pub fn set_notice(&mut self, notice: String) {
        self.view.status = Some(notice);
        self.status_until = None;
    }

    fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> io::Result<()> {
        if self.status_until.is_some_and(|t| Instant::now() >= t) {
            self.view.status = None;
            self.status_until = None;
        }
        // Debug builds only: lets the real-terminal test prove a panic inside a draw restores the
        // terminal. Release builds do not contain this.
        if cfg!(debug_assertions)
            && std::env::var_os("INBOXTOP_DEBUG_PANIC_IN_DRAW").is_some()
            && self.frames == 2
        {
            panic!("INBOXTOP_DEBUG_PANIC_IN_DRAW: a deliberate panic inside a draw");
        }
        let mut info = ui::DrawInfo::default();
        let fallback = Target::default();
        let target = self.targets.get(self.selected).unwrap_or(&fallback);
        terminal
            .draw(|f| {
                info = if self.view.fleet_shown().is_some() {
                    ui::fleet::draw(f, &self.fleet, &self.view, self.theme)
                } else {
                    ui::draw(f, self.monitor(), &self.view, target, self.theme)
                }
            })
            .map_err(|e| io::Error::other(e.to_string()))?;
        if let Some(fleet) = self.view.fleet.as_mut().filter(|f| f.shown) {
            fleet.rows = info.fleet_rows;
            fleet.cursor = fleet.cursor.min(info.fleet_rows.saturating_sub(1));
        }
        for (pane, drawn) in Pane::ALL.into_iter().zip(info.panes) {
            self.view.set_drawn(pane, drawn);
        }
        self.view.page = info.page;
        self.view.popup_scroll_max = info.popup_scroll_max;
        self.view.popup_scroll = self.view.popup_scroll.min(info.popup_scroll_max);
        self.frames += 1;
        Ok(())
    }

    /// Applies a key or mouse event; returns what the loop must do.
    fn on_event(&mut self, event: &Event) -> Action {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                let (log_total, inbox_total) = {
                    let m = self.monitor();
                    (m.log.total(), m.inbox.created_total())
                };
                self.view.on_key(*key, log_total, inbox_total)
            }
            Event::Mouse(mouse) => self.view.on_mouse(*mouse),
            Event::Resize(..) => Action::Redraw,
            _ => Action::None,
        }
    }
}

/// Runs until the user quits. `notices` are shown in the footer until replaced (a closed channel
/// is fine). `export` is called on `e` and `E` with the app and what to export, and returns the
/// status to show (e.g. where the report was written).
pub async fn run<B, E>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut observations: mpsc::Receiver<Observation>,
    mut notices: mpsc::Receiver<String>,
    mut events: E,
    commands: mpsc::Sender<Command>,
    mut export: impl FnMut(&App, Export) -> String,
) -> color_eyre::Result<()>
where
    B: Backend,
    E: Stream<Item = io::Result<Event>> + Unpin,
{
    let mut dirty = true;
    let mut next_frame = Instant::now();
    let mut sources_open = true;
    let mut notices_open = true;
    loop {
        if dirty && Instant::now() >= next_frame {
            app.draw(terminal)?;
            dirty = false;
            next_frame = Instant::now() + FRAME;
        }
        let wait_for_frame = async {
            if dirty {
                tokio::time::sleep_until(next_frame).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            event = events.next() => {
                let Some(event) = event else { return Ok(()) };
                let action = app.on_event(&event?);
                let command = match action {
                    Action::Quit => return Ok(()),
                    Action::None => None,
                    Action::Redraw => {
                        // A key press is shown at once, not at the next frame slot.
                        next_frame = Instant::now();
                        None
                    }
                    Action::Reconnect => Some(Command::Reconnect(app.selected)),
                    Action::Probe => Some(Command::Probe(app.selected)),
                    Action::OpenAgent => {
                        app.open_selected_agent();
                        next_frame = Instant::now();
                        None
                    }
                    Action::ReplayPause => Some(Command::ReplayPause),
                    Action::ReplayStep => Some(Command::ReplayStep),
                    Action::ReplayJump => Some(Command::ReplayJump(Duration::from_secs(30))),
                    Action::Export(what) => {
                        let status = export(app, what);
                        app.set_status(status);
                        next_frame = Instant::now();
                        None
                    }
                };
                if let Some(command) = command {
                    let _ = commands.try_send(command);
                }
                dirty = true;
            }
            obs = observations.recv(), if sources_open => {
                match obs {
                    Some(obs) => {
                        app.fleet.apply(&obs);
                        // Coalesce: fold what is already queued before the next draw.
                        for _ in 0..DRAIN_BATCH {
                            match observations.try_recv() {
                                Ok(obs) => {
                                    app.fleet.apply(&obs);
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    None => sources_open = false,
                }
                dirty = true;
            }
            notice = notices.recv(), if notices_open => {
                match notice {
                    Some(notice) => app.set_notice(notice),
                    None => notices_open = false,
                }
                dirty = true;
            }
            () = wait_for_frame => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Timeline, ui_target};
    use crate::ui::keys::Mode;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;

    fn key(c: char) -> Event {
        Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    #[tokio::test]
    async fn a_flood_is_coalesced_into_few_frames_and_keys_become_commands() {
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let mut app = App::new(
            Fleet::single("demo", Monitor::new(Thresholds::default())),
            vec![ui_target("test")],
        );
        let (obs_tx, obs_rx) = mpsc::channel(100_000);
        let flood = Timeline::new();
        for i in 0..50_000 {
            obs_tx
                .try_send(flood.heartbeat_observation(i, 1, i))
                .unwrap();
        }
        let (key_tx, key_rx) = mpsc::unbounded_channel::<io::Result<Event>>();
        let events = tokio_stream::wrappers::UnboundedReceiverStream::new(key_rx);
        let (cmd_tx, mut cmd_rx) = mpsc::channel(8);
        let (notice_tx, notice_rx) = mpsc::channel(1);
        let driver = tokio::spawn(async move {
            // Keys arrive while the flood is being folded in.
            for c in ['r', 's', 'e', 'E'] {
                key_tx.send(Ok(key(c))).unwrap();
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            key_tx.send(Ok(key('q'))).unwrap();
            (key_tx, obs_tx)
        });
        let mut exports = Vec::new();
        run(
            &mut terminal,
            &mut app,
            obs_rx,
            notice_rx,
            events,
            cmd_tx,
            |_, what| {
                exports.push(what);
                format!("{what:?} written")
            },
        )
        .await
        .unwrap();
        drop(notice_tx);
        let _keep_channels_open = driver.await.unwrap();
        assert_eq!(app.monitor().events_total, 50_000, "no observation lost");
        assert!(
            app.frames >= 1 && app.frames < 100,
            "{} frames for 50 000 observations",
            app.frames
        );
        assert_eq!(cmd_rx.try_recv().ok(), Some(Command::Reconnect(0)));
        assert_eq!(cmd_rx.try_recv().ok(), Some(Command::Probe(0)));
        assert_eq!(exports, [Export::Report, Export::EventLog]);
        assert_eq!(app.view.status.as_deref(), Some("EventLog written"));
        let screen: String = terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect();
        assert!(
            screen.contains("EventLog written"),
            "the export status shows in the footer"
        );
    }

    fn press(app: &mut App, code: KeyCode) -> Action {
        app.on_event(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    #[test]
    fn enter_opens_the_selected_agent_and_esc_returns_to_the_fleet() {
        let mut flooded = Timeline::new();
        flooded.open(0, 1);
        for i in 0..25 {
            flooded.heartbeat(1_000 + i * 60, 1, 1_000 + i * 60);
        }
        let mut fleet = Fleet::new();
        fleet.add("calm", Monitor::new(Thresholds::default()));
        fleet.add("flooded", flooded.m);
        let mut app = App::new(fleet, vec![ui_target("a"), ui_target("b")]);
        assert_eq!(
            app.view.key_mode(),
            Mode::Fleet,
            "the fleet view comes first"
        );
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
        app.draw(&mut terminal).unwrap();
        // The worst agent is the first row: Enter opens it.
        assert_eq!(press(&mut app, KeyCode::Enter), Action::OpenAgent);
        app.open_selected_agent();
        assert_eq!((app.selected, app.agent_id()), (1, "flooded"));
        assert_eq!(app.view.key_mode(), Mode::Live);
        assert_eq!(press(&mut app, KeyCode::Char('r')), Action::Reconnect);
        assert_eq!(press(&mut app, KeyCode::Esc), Action::Redraw);
        assert_eq!(app.view.key_mode(), Mode::Fleet);
        // Down to the second row, which is the calm agent.
        app.draw(&mut terminal).unwrap();
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Enter);
        app.open_selected_agent();
        assert_eq!(app.agent_id(), "calm");
    }

    #[tokio::test]
    async fn a_notice_stays_in_the_footer_and_the_view_learns_the_panes() {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let mut app = App::new(
            Fleet::single("demo", Monitor::new(Thresholds::default())),
            vec![ui_target("test")],
        );
        let (_obs_tx, obs_rx) = mpsc::channel(1);
        let (notice_tx, notice_rx) = mpsc::channel(1);
        notice_tx
            .send("recording line 4: not JSON".into())
            .await
            .unwrap();
        drop(notice_tx);
        let (key_tx, key_rx) = mpsc::unbounded_channel::<io::Result<Event>>();
        let events = tokio_stream::wrappers::UnboundedReceiverStream::new(key_rx);
        let (cmd_tx, _cmd_rx) = mpsc::channel(8);
        let driver = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            key_tx.send(Ok(key('q'))).unwrap();
            key_tx
        });
        run(
            &mut terminal,
            &mut app,
            obs_rx,
            notice_rx,
            events,
            cmd_tx,
            |_, _| String::new(),
        )
        .await
        .unwrap();
        let _keep_keys_open = driver.await.unwrap();
        let footer: String = (0..100)
            .map(|x| terminal.backend().buffer()[(x, 29)].symbol().to_owned())
            .collect();
        assert!(footer.starts_with("recording line 4: not JSON"), "{footer}");
        assert!(app.status_until.is_none(), "a notice does not expire");
        let log = app.view.panes[2].area;
        assert!(log.width > 0 && log.height > 0, "the log's area is known");
    }
}
