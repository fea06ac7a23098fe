//! `inboxtop serve --agents N`: one simulator per agent, and the config it prints watches them all.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `serve` process, killed when the test ends however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_served_fleet_prints_the_config_that_watches_it() {
    let bin = env!("CARGO_BIN_EXE_inboxtop");
    let mut serve = Serve(
        Command::new(bin)
            .args(["serve", "--agents", "3", "--port", "0"])
            .args(["--scenario", "healthy,auth-failure"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("inboxtop serve"),
    );
    // Read on a thread, so a serve that never prints the config fails the test, not hangs it.
    let stdout = serve.0.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut config = String::new();
    while config.matches("base_url").count() < 3 {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("serve printed no config for 3 agents ({e}):\n{config}"));
        config += &(line + "\n");
    }
    let file =
        std::env::temp_dir().join(format!("inboxtop-served-fleet-{}.toml", std::process::id()));
    std::fs::write(&file, &config).expect("write the config");

    let out = Command::new(bin)
        .arg("check")
        .arg("--config")
        .arg(&file)
        .args(["--duration", "2s", "--format", "json", "--log-file"])
        .arg(file.with_extension("log"))
        .env("INBOXTOP_API_KEY", "demo")
        .output()
        .expect("inboxtop check");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(file.with_extension("log"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let agents = report["agents"].as_array().expect("an agents array");
    let seen: Vec<(&str, u64, Vec<&str>)> = agents
        .iter()
        .map(|a| {
            let kinds = a["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["kind"].as_str())
                .collect();
            (
                a["id"].as_str().unwrap_or("?"),
                a["stats"]["sessions_opened"].as_u64().unwrap_or(0),
                kinds,
            )
        })
        .collect();
    // Each agent its own simulator, the scenarios in turn: the second one refuses its key.
    assert_eq!(
        seen,
        [
            ("demo-1", 1, vec![]),
            ("demo-2", 0, vec!["auth-failed"]),
            ("demo-3", 1, vec![]),
        ],
        "{config}"
    );
    assert_eq!(out.status.code(), Some(2), "critical, for demo-2");
}
