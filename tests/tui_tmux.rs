//! The real binary in a real terminal: tmux runs `inboxtop demo` in a shell, keys are sent with
//! `send-keys`, and `capture-pane` shows what a person would see.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(name: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            // CI installs tmux; a developer machine without it skips, loudly.
            assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
            eprintln!("tmux not found: skipping the real-terminal test");
            return None;
        }
        let session = format!("inboxtop-test-{name}-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "40"])
            .args([
                "env",
                "-i",
                "PATH=/usr/bin:/bin",
                "TERM=xterm-256color",
                "HOME=/tmp",
            ])
            .args([
                "XDG_CONFIG_HOME=/nonexistent-inboxtop-config-dir",
                "bash",
                "--norc",
                "--noprofile",
            ])
            .status()
            .expect("tmux new-session")
            .success();
        assert!(ok, "tmux new-session failed");
        Some(Tmux { session })
    }

    fn keys(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("tmux send-keys")
            .success();
        assert!(ok);
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn alternate_screen_on(&self) -> bool {
        let out = Command::new("tmux")
            .args([
                "display-message",
                "-p",
                "-t",
                &self.session,
                "#{alternate_on}",
            ])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Waits until the screen satisfies `pred`, or fails with the last screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

#[test]
fn demo_runs_in_a_real_terminal_and_gives_it_back() {
    let Some(tmux) = Tmux::start("demo") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_inboxtop");
    // The marker is computed, so the echoed command line itself can never match it.
    let cmd = format!("{bin} demo --time-scale 10; echo inboxtop-exit=$((100 + $?))");
    tmux.keys(&[&cmd, "Enter"]);

    let screen = tmux.wait_for("the panes and an open stream", |s| {
        s.contains("open")
            && s.contains("Heartbeats")
            && s.contains("Event log")
            && s.contains("Inbox")
    });
    assert!(
        tmux.alternate_screen_on(),
        "the TUI should own the alternate screen:\n{screen}"
    );
    let screen = tmux.wait_for("a streamed message in the inbox", |s| {
        s.contains("✓ stream")
    });
    assert!(
        screen.contains("Findings") && screen.contains("no problems found"),
        "{screen}"
    );

    tmux.keys(&["?"]);
    tmux.wait_for("the help popup", |s| {
        s.contains("Keys") && s.contains("reconnect")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help popup to close", |s| !s.contains("reconnect now"));

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the shell to get its terminal back", |s| {
        s.contains("inboxtop-exit=1")
    });
    assert!(
        screen.contains("inboxtop-exit=100"),
        "exit status should be 0:\n{screen}"
    );
    assert!(
        !tmux.alternate_screen_on(),
        "alternate screen left on after quit"
    );
}

#[test]
fn the_flood_shows_its_sessions_as_a_timeline_and_one_opens_in_full() {
    let Some(tmux) = Tmux::start("timeline") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_inboxtop");
    let cmd = format!(
        "{bin} demo --scenario heartbeat-flood --time-scale 5; echo timeline-exit=$((100 + $?))"
    );
    tmux.keys(&[&cmd, "Enter"]);
    // Several short sessions, each ended by the server: a row of EOF marks, one bar each.
    let screen = tmux.wait_for("several ended sessions in the timeline", |s| {
        s.contains("E EOF") && s.contains("E E E")
    });
    let rows: Vec<&str> = screen.lines().collect();
    let mark_row = rows.iter().position(|l| l.contains("E E E")).unwrap();
    let marks_from = rows[mark_row][..rows[mark_row].find("E E E").unwrap()]
        .chars()
        .count();
    let bars = rows[mark_row - 1]
        .chars()
        .skip(marks_from)
        .filter(|c| "▁▂▃▄▅▆▇█".contains(*c))
        .count();
    assert!(bars >= 3, "a bar above each ended session:\n{screen}");
    assert!(
        screen.contains("p50") && screen.contains("below"),
        "the flood's intervals are below the band:\n{screen}"
    );
    // Log → inbox → findings → sessions, then the newest session in full.
    tmux.keys(&["Tab", "Tab", "Tab", "Enter"]);
    tmux.wait_for("a session in full", |s| {
        s.contains("how it ended") && s.contains("heartbeats")
    });
    tmux.keys(&["Escape", "q"]);
    let screen = tmux.wait_for("the shell", |s| s.contains("timeline-exit=1"));
    assert!(screen.contains("timeline-exit=100"), "{screen}");
}

#[test]
fn a_fleet_opens_its_worst_agent_on_enter_and_comes_back_on_esc() {
    let Some(tmux) = Tmux::start("fleet") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_inboxtop");
    let cmd = format!(
        "{bin} demo --agents 4 --scenario healthy,heartbeat-flood --time-scale 10; echo fleet-exit=$((100 + $?))"
    );
    tmux.keys(&[&cmd, "Enter"]);
    let screen = tmux.wait_for("four agents, the two floods critical and first", |s| {
        let rows = fleet_rows(s);
        let mut ids: Vec<&str> = rows.iter().map(|(_, id)| id.as_str()).collect();
        ids.sort_unstable();
        ids == [
            "healthy-1",
            "healthy-3",
            "heartbeat-flood-2",
            "heartbeat-flood-4",
        ] && rows[..2]
            .iter()
            .all(|(v, id)| v == "CRITICAL" && id.starts_with("heartbeat-flood-"))
    });
    assert!(screen.contains("fleet of 4 agents"), "{screen}");
    let first = fleet_rows(&screen)[0].1.clone();

    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the single-agent view of the first row", |s| {
        s.contains(&format!("agent {first} @"))
            && s.contains("Findings")
            && s.contains("Heartbeats")
            && s.contains("Event log")
    });
    assert!(!screen.contains("fleet of 4 agents"), "{screen}");

    tmux.keys(&["Escape"]);
    tmux.wait_for("the fleet rows again", |s| {
        s.contains("fleet of 4 agents") && fleet_rows(s).len() == 4
    });

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the shell", |s| s.contains("fleet-exit=1"));
    assert!(screen.contains("fleet-exit=100"), "{screen}");
    assert!(
        !tmux.alternate_screen_on(),
        "alternate screen left on after quit"
    );
}

/// The (verdict, agent id) of each row of the fleet table on `screen`, top to bottom.
fn fleet_rows(screen: &str) -> Vec<(String, String)> {
    screen
        .lines()
        .filter_map(|line| {
            let mut words = line.trim_start_matches('┃').split_whitespace();
            let verdict = words.next()?;
            let id = words.next()?;
            ["CRITICAL", "WARNING", "UNKNOWN", "OK"]
                .contains(&verdict)
                .then(|| (verdict.to_owned(), id.to_owned()))
        })
        .collect()
}

/// Whether the shell printed `{tag}:<exit status>:` (the command line shows `{tag}:$?:`).
fn exited(screen: &str, tag: &str) -> bool {
    screen
        .match_indices(&format!("{tag}:"))
        .any(|(i, m)| screen[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Runs `stty` in the pane's shell and returns the screen once it answered. Markers are computed
/// (`$((1 + 1))`), so the echoed command line can never match them.
fn tty_is_sane(tmux: &Tmux, tag: &str) -> String {
    let cmd = format!(
        "stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | tr '\\n' ' '; echo {tag}:$((1 + 1)):"
    );
    tmux.keys(&[&cmd, "Enter"]);
    tmux.wait_for("stty", |s| s.contains(&format!("{tag}:2:")))
}

#[test]
fn a_panic_inside_a_draw_gives_the_terminal_back_with_the_message() {
    let Some(tmux) = Tmux::start("panic") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_inboxtop");
    let cmd = format!("INBOXTOP_DEBUG_PANIC_IN_DRAW=1 {bin} demo; echo panic-exit:$?:");
    tmux.keys(&[&cmd, "Enter"]);
    let screen = tmux.wait_for("the shell after the panic", |s| exited(s, "panic-exit"));
    assert!(
        screen.contains("deliberate panic inside a draw"),
        "the panic message is readable:\n{screen}"
    );
    assert!(
        !tmux.alternate_screen_on(),
        "alternate screen left on after a panic"
    );
    let screen = tty_is_sane(&tmux, "panic");
    assert!(
        screen.contains("icanon echo panic:2:"),
        "raw mode left on after a panic:\n{screen}"
    );
}

#[test]
fn sigterm_gives_the_terminal_back() {
    let Some(tmux) = Tmux::start("sigterm") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_inboxtop");
    // A seed no other test uses, so the process can be found.
    let cmd = format!("{bin} demo --seed 424242; echo term-exit:$?:");
    tmux.keys(&[&cmd, "Enter"]);
    tmux.wait_for("the TUI", |s| s.contains("Event log"));
    let killed = Command::new("pkill")
        .args(["-TERM", "-f", "inboxtop demo --seed 424242"])
        .status()
        .expect("pkill");
    assert!(killed.success(), "the demo process was found and signalled");
    let screen = tmux.wait_for("the shell after SIGTERM", |s| exited(s, "term-exit"));
    assert!(
        screen.contains("term-exit:0:"),
        "SIGTERM is a clean exit:\n{screen}"
    );
    assert!(!tmux.alternate_screen_on());
    let screen = tty_is_sane(&tmux, "term");
    assert!(
        screen.contains("icanon echo term:2:"),
        "raw mode left on after SIGTERM:\n{screen}"
    );
}

#[test]
fn an_error_at_startup_leaves_the_terminal_alone() {
    let Some(tmux) = Tmux::start("starterr") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_inboxtop");
    let cmd = format!(
        "INBOXTOP_API_KEY=k {bin} watch --base-url 'not a url' --agent a; echo start-exit:$?:"
    );
    tmux.keys(&[&cmd, "Enter"]);
    let screen = tmux.wait_for("the error", |s| exited(s, "start-exit"));
    assert!(
        screen.contains("start-exit:3:"),
        "exit 3, could not run:\n{screen}"
    );
    assert!(screen.contains("inboxtop:"), "a clear message:\n{screen}");
    assert!(!tmux.alternate_screen_on());
}
