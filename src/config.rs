//! Configuration, lowest to highest precedence: built-in defaults < `config.toml` in the platform
//! config directory < environment (`INBOXTOP_*`) < flags.
//!
//! clap already folds the environment into the flags it owns (`env = …`), so the merge here is
//! `flag-or-env`, then the file, then the default. The API key is the exception: it is read from
//! `INBOXTOP_API_KEY` here, never through clap, so it cannot appear in `--help` or a parse error.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{MonitorArgs, ServerArgs, parse_duration, parse_range};
use crate::monitor::Thresholds;
use crate::secret::ApiKey;

pub const DEFAULT_AGENT_HEADER: &str = "X-Agent-Id";
pub const DEFAULT_STREAM_PATH: &str = "/messages/stream";
pub const DEFAULT_PEEK_PATH: &str = "/messages/peek";
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;
pub const API_KEY_ENV: &str = "INBOXTOP_API_KEY";

/// `config.toml`. Every key is optional; unknown keys are an error (a typo must not be ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub base_url: Option<String>,
    pub agent: Option<String>,
    pub api_key: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub agent_header: Option<String>,
    pub stream_path: Option<String>,
    pub peek_path: Option<String>,
    pub poll_interval: Option<String>,
    pub backoff_cap: Option<String>,
    pub expect_heartbeat: Option<String>,
    pub delivery_grace: Option<String>,
    pub max_event_bytes: Option<usize>,
}

/// Everything a monitoring command needs, merged from all layers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_url: Option<String>,
    pub agent: Option<String>,
    pub api_key: Option<ApiKey>,
    pub agent_header: String,
    pub stream_path: String,
    pub peek_path: String,
    pub poll_interval: Duration,
    pub backoff_cap: Duration,
    pub max_event_bytes: usize,
    pub thresholds: Thresholds,
    pub record: Option<PathBuf>,
    /// Things the user should know before the TUI takes the screen (printed to stderr).
    pub warnings: Vec<String>,
}

impl Settings {
    /// Whether a server is configured (otherwise `inboxtop` plays the demo).
    pub fn has_server(&self) -> bool {
        self.base_url.is_some()
    }
}

/// The platform's config file: e.g. `~/.config/inboxtop/config.toml` on Linux.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "inboxtop").map(|d| d.config_dir().join("config.toml"))
}

/// Reads `config.toml`. A missing default file is not an error; a missing explicit one is.
pub fn read_file(path: &Path, explicit: bool) -> Result<Option<FileConfig>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => return Err(format!("cannot read config file {}: {e}", path.display())),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| format!("invalid config file {}: {e}", path.display()))
}

/// Merges flags/env, the config file and the defaults.
pub fn load(monitor: &MonitorArgs, server: &ServerArgs) -> Result<Settings, String> {
    let (path, explicit) = match &monitor.config {
        Some(p) => (Some(p.clone()), true),
        None => (default_config_path(), false),
    };
    let file = match &path {
        Some(p) => read_file(p, explicit)?,
        None => None,
    };
    let env_key = std::env::var(API_KEY_ENV)
        .ok()
        .filter(|k| !k.trim().is_empty());
    merge(
        monitor,
        server,
        file.unwrap_or_default(),
        path.as_deref(),
        env_key,
    )
}

/// The merge itself, with every input explicit (testable without touching the environment).
pub fn merge(
    monitor: &MonitorArgs,
    server: &ServerArgs,
    file: FileConfig,
    file_path: Option<&Path>,
    env_key: Option<String>,
) -> Result<Settings, String> {
    let mut warnings = Vec::new();
    let api_key = resolve_key(server, &file, file_path, env_key, &mut warnings)?;
    let file_duration = |name: &str, v: &Option<String>| -> Result<Option<Duration>, String> {
        v.as_deref()
            .map(|s| parse_duration(s).map_err(|e| format!("config {name}: {e}")))
            .transpose()
    };
    let defaults = Thresholds::default();
    let (heartbeat_min, heartbeat_max) = match monitor.expect_heartbeat {
        Some(range) => range,
        None => match &file.expect_heartbeat {
            Some(s) => parse_range(s).map_err(|e| format!("config expect_heartbeat: {e}"))?,
            None => (defaults.heartbeat_min, defaults.heartbeat_max),
        },
    };
    let delivery_grace = monitor
        .delivery_grace
        .or(file_duration("delivery_grace", &file.delivery_grace)?)
        .unwrap_or(defaults.delivery_grace);
    let poll_interval = monitor
        .poll_interval
        .or(file_duration("poll_interval", &file.poll_interval)?)
        .unwrap_or(DEFAULT_POLL_INTERVAL);
    if poll_interval < Duration::from_millis(100) {
        return Err(format!(
            "poll interval {poll_interval:?} is too short (at least 100ms)"
        ));
    }
    let backoff_cap = monitor
        .backoff_cap
        .or(file_duration("backoff_cap", &file.backoff_cap)?)
        .unwrap_or(DEFAULT_BACKOFF_CAP);
    let max_event_bytes = monitor
        .max_event_bytes
        .or(file.max_event_bytes)
        .unwrap_or(DEFAULT_MAX_EVENT_BYTES);
    if max_event_bytes < 1024 {
        return Err(format!(
            "max event size {max_event_bytes} bytes is too small (at least 1024)"
        ));
    }
    Ok(Settings {
        base_url: server.base_url.clone().or(file.base_url),
        agent: server.agent.clone().or(file.agent),
        api_key,
        agent_header: monitor
            .agent_header
            .clone()
            .or(file.agent_header)
            .unwrap_or_else(|| DEFAULT_AGENT_HEADER.into()),
        stream_path: monitor
            .stream_path
            .clone()
            .or(file.stream_path)
            .unwrap_or_else(|| DEFAULT_STREAM_PATH.into()),
        peek_path: monitor
            .peek_path
            .clone()
            .or(file.peek_path)
            .unwrap_or_else(|| DEFAULT_PEEK_PATH.into()),
        poll_interval,
        backoff_cap,
        max_event_bytes,
        thresholds: Thresholds {
            heartbeat_min,
            heartbeat_max,
            delivery_grace,
            ..defaults
        },
        record: monitor.record.clone(),
        warnings,
    })
}

/// The key, highest precedence first: `--api-key`, `--api-key-file`, `INBOXTOP_API_KEY`, the config
/// file's `api_key_file`, its `api_key`.
fn resolve_key(
    server: &ServerArgs,
    file: &FileConfig,
    file_path: Option<&Path>,
    env_key: Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<ApiKey>, String> {
    if let Some(key) = &server.api_key {
        warnings.push(
            "--api-key puts the key on the command line, where `ps` shows it to every user: \
             prefer INBOXTOP_API_KEY or --api-key-file"
                .into(),
        );
        return Ok(Some(ApiKey::new(key.as_str())));
    }
    if let Some(path) = &server.api_key_file {
        return read_key_file(path).map(Some);
    }
    if let Some(key) = env_key {
        return Ok(Some(ApiKey::new(key)));
    }
    if let Some(path) = &file.api_key_file {
        return read_key_file(path).map(Some);
    }
    if let Some(key) = &file.api_key {
        if let Some(path) = file_path
            && readable_by_others(path)
        {
            warnings.push(format!(
                "config file {} holds the API key and is readable by other users: chmod 600 it",
                path.display()
            ));
        }
        return Ok(Some(ApiKey::new(key.as_str())));
    }
    Ok(None)
}

fn read_key_file(path: &Path) -> Result<ApiKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read API key file {}: {e}", path.display()))?;
    let key = ApiKey::new(text.lines().next().unwrap_or_default());
    if key.is_empty() {
        return Err(format!("API key file {} is empty", path.display()));
    }
    Ok(key)
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml_text: &str) -> FileConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn flags_beat_file_beat_defaults() {
        let f =
            file("base_url = \"http://file\"\nagent = \"file-agent\"\npoll_interval = \"2s\"\n");
        let server = ServerArgs {
            agent: Some("flag-agent".into()),
            ..ServerArgs::default()
        };
        let s = merge(&MonitorArgs::default(), &server, f, None, None).unwrap();
        assert_eq!(s.base_url.as_deref(), Some("http://file"));
        assert_eq!(s.agent.as_deref(), Some("flag-agent"));
        assert_eq!(s.poll_interval, Duration::from_secs(2));
        assert_eq!(s.backoff_cap, DEFAULT_BACKOFF_CAP);
        assert_eq!(s.stream_path, DEFAULT_STREAM_PATH);
        assert!(!s.has_server() || s.base_url.is_some());
    }

    #[test]
    fn key_precedence_and_the_ps_warning() {
        let f = file("api_key = \"from-file-0000\"");
        let s = merge(
            &MonitorArgs::default(),
            &ServerArgs::default(),
            f,
            None,
            Some("from-env-0000".into()),
        )
        .unwrap();
        assert_eq!(s.api_key.unwrap().expose(), "from-env-0000");
        let flag = ServerArgs {
            api_key: Some("from-flag-000".into()),
            ..ServerArgs::default()
        };
        let s = merge(
            &MonitorArgs::default(),
            &flag,
            FileConfig::default(),
            None,
            Some("env".into()),
        )
        .unwrap();
        assert_eq!(s.api_key.unwrap().expose(), "from-flag-000");
        assert!(s.warnings.iter().any(|w| w.contains("ps")));
    }

    #[test]
    fn a_world_readable_config_with_a_key_warns() {
        let dir = std::env::temp_dir().join(format!("inboxtop-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "api_key = \"k-123456789\"").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let f = read_file(&path, true).unwrap().unwrap();
        let s = merge(
            &MonitorArgs::default(),
            &ServerArgs::default(),
            f,
            Some(&path),
            None,
        )
        .unwrap();
        #[cfg(unix)]
        assert!(
            s.warnings.iter().any(|w| w.contains("chmod 600")),
            "{:?}",
            s.warnings
        );
        assert!(s.warnings.iter().all(|w| !w.contains("k-123456789")));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_files_and_values_get_clear_errors() {
        let dir = std::env::temp_dir().join(format!("inboxtop-cfg-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "base_url = \n").unwrap();
        assert!(
            read_file(&path, true)
                .unwrap_err()
                .contains("invalid config file")
        );
        std::fs::write(&path, "base_ur = \"x\"").unwrap();
        assert!(read_file(&path, true).unwrap_err().contains("base_ur"));
        assert!(
            read_file(&dir.join("missing.toml"), false)
                .unwrap()
                .is_none()
        );
        assert!(read_file(&dir.join("missing.toml"), true).is_err());
        let f = file("poll_interval = \"often\"");
        let err = merge(
            &MonitorArgs::default(),
            &ServerArgs::default(),
            f,
            None,
            None,
        )
        .unwrap_err();
        assert!(err.contains("poll_interval"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
