//! Configuration, lowest to highest precedence: built-in defaults < `config.toml` in the platform
//! config directory < environment (`INBOXTOP_*`) < flags.
//!
//! This is the one place precedence is decided: clap parses flags only, the environment is read
//! here, and every setting keeps where its value came from ([`Source`]) — for `inboxtop config`,
//! and for the demo, which fits the expected heartbeat to the simulator only when nobody chose one.
//! The API key never passes through clap, so it cannot appear in `--help` or a parse error.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{MonitorArgs, ServerArgs, duration_text, parse_duration, parse_range};
use crate::monitor::Thresholds;
use crate::record::without_userinfo;
use crate::secret::ApiKey;

pub const DEFAULT_AGENT_HEADER: &str = "X-Agent-Id";
pub const DEFAULT_STREAM_PATH: &str = "/messages/stream";
pub const DEFAULT_PEEK_PATH: &str = "/messages/peek";
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;

pub const ENV_CONFIG: &str = "INBOXTOP_CONFIG";
pub const ENV_BASE_URL: &str = "INBOXTOP_BASE_URL";
pub const ENV_AGENT: &str = "INBOXTOP_AGENT";
pub const ENV_API_KEY: &str = "INBOXTOP_API_KEY";
/// The log filter, which replaces `-v` (target=level directives, e.g. `inboxtop=debug`).
pub const ENV_RUST_LOG: &str = "RUST_LOG";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Flag => f.write_str("flag"),
        }
    }
}

/// A setting's value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }

    fn default(value: T) -> Self {
        Sourced::new(value, Source::Default)
    }
}

/// A flag's value, if it was given.
fn from_flag<T>(value: Option<T>) -> Option<Sourced<T>> {
    value.map(|v| Sourced::new(v, Source::Flag))
}

/// An environment variable's value, if it was set.
fn from_env<T>(var: &'static str, value: Option<T>) -> Option<Sourced<T>> {
    value.map(|v| Sourced::new(v, Source::Env(var)))
}

/// A setting without a default: the layer that had it, or none at all.
fn optional<T>(found: Option<Sourced<T>>) -> Sourced<Option<T>> {
    match found {
        Some(Sourced { value, source }) => Sourced::new(Some(value), source),
        None => Sourced::default(None),
    }
}

/// The environment variables inboxtop reads, read once. Blank values count as unset.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub config: Option<PathBuf>,
    pub base_url: Option<String>,
    pub agent: Option<String>,
    pub api_key: Option<String>,
    pub rust_log: Option<String>,
    /// The variables `[[agents]]` tables name in `api_key_env`, read once the file is known.
    pub key_vars: BTreeMap<String, String>,
}

impl Environment {
    pub fn of_process() -> Environment {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Environment {
            config: var(ENV_CONFIG).map(PathBuf::from),
            base_url: var(ENV_BASE_URL),
            agent: var(ENV_AGENT),
            api_key: var(ENV_API_KEY),
            rust_log: var(ENV_RUST_LOG),
            key_vars: BTreeMap::new(),
        }
    }

    /// Reads the variables `file`'s agents take their keys from (blank ones count as unset).
    fn read_key_vars(&mut self, file: &FileConfig) {
        for name in file.agents.iter().filter_map(|a| a.api_key_env.as_deref()) {
            if let Some(value) = std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
                self.key_vars.insert(name.to_owned(), value);
            }
        }
    }
}

/// The config file that was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFile {
    /// The platform has no config directory (no home), and no file was named.
    Unavailable,
    /// The platform default was looked at and is not there (which is fine).
    Missing(PathBuf),
    Read(PathBuf),
}

impl ConfigFile {
    fn read_path(&self) -> Option<&Path> {
        match self {
            ConfigFile::Read(path) => Some(path),
            ConfigFile::Unavailable | ConfigFile::Missing(_) => None,
        }
    }
}

impl fmt::Display for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigFile::Unavailable => f.write_str("(no config directory on this platform)"),
            ConfigFile::Missing(path) => write!(f, "{} (not found)", path.display()),
            ConfigFile::Read(path) => write!(f, "{} (read)", path.display()),
        }
    }
}

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
    pub ca_cert: Option<PathBuf>,
    pub utc: Option<bool>,
    pub no_stream: Option<bool>,
    /// A fleet: one table per agent (instead of `agent`).
    #[serde(default)]
    pub agents: Vec<FileAgent>,
}

/// One `[[agents]]` table. Without its own `base_url` or key the agent uses the global ones.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAgent {
    pub id: String,
    pub base_url: Option<String>,
    /// The NAME of the environment variable that holds this agent's key (never the key itself).
    pub api_key_env: Option<String>,
    pub api_key_file: Option<PathBuf>,
}

/// One watched agent: its id, and its own server and key when its `[[agents]]` table has them.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    pub id: String,
    pub base_url: Option<String>,
    pub api_key: Option<(ApiKey, KeyOrigin)>,
}

impl AgentSettings {
    fn named(id: &str) -> Self {
        AgentSettings {
            id: id.to_owned(),
            base_url: None,
            api_key: None,
        }
    }

    /// `id`, or `id (base_url URL, key ••42 from env NAME)` for an agent with its own settings.
    fn describe(&self) -> String {
        let mut own = Vec::new();
        if let Some(url) = &self.base_url {
            own.push(format!("base_url {}", without_userinfo(url)));
        }
        if let Some((key, origin)) = &self.api_key {
            own.push(format!("key {} from {origin}", key.masked()));
        }
        if own.is_empty() {
            self.id.clone()
        } else {
            format!("{} ({})", self.id, own.join(", "))
        }
    }
}

/// Where an agent's own key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    EnvVar(String),
    File(PathBuf),
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::EnvVar(name) => write!(f, "env {name}"),
            KeyOrigin::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Everything a monitoring command needs, merged from all layers, each with its source.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_file: Sourced<ConfigFile>,
    pub base_url: Sourced<Option<String>>,
    /// The watched agents, in order (empty: none configured).
    pub agents: Sourced<Vec<AgentSettings>>,
    pub api_key: Sourced<Option<ApiKey>>,
    pub agent_header: Sourced<String>,
    pub stream_path: Sourced<String>,
    pub peek_path: Sourced<String>,
    pub poll_interval: Sourced<Duration>,
    pub backoff_cap: Sourced<Duration>,
    pub max_event_bytes: Sourced<usize>,
    /// The expected heartbeat interval, shortest and longest.
    pub expect_heartbeat: Sourced<(Duration, Duration)>,
    pub delivery_grace: Sourced<Duration>,
    pub record: Sourced<Option<PathBuf>>,
    /// A PEM file of CAs trusted besides the OS store.
    pub ca_cert: Sourced<Option<PathBuf>>,
    pub log: LogSettings,
    /// The TUI shows times in UTC rather than local time.
    pub utc: Sourced<bool>,
    /// Peek only: the agent's stream is never opened (so never taken over).
    pub no_stream: Sourced<bool>,
    /// Things the user should know before the TUI takes the screen (printed to stderr).
    pub warnings: Vec<String>,
}

/// How `inboxtop config` shows a setting that has no value.
const NONE: &str = "(none)";

/// One setting as `inboxtop config` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The config file's key (or the flag's name for settings only a flag sets).
    pub name: &'static str,
    pub value: String,
    pub source: Source,
}

impl Settings {
    /// Whether a server is configured, globally or for an agent (otherwise `inboxtop` plays the
    /// demo).
    pub fn has_server(&self) -> bool {
        self.base_url.value.is_some() || self.agents.value.iter().any(|a| a.base_url.is_some())
    }

    /// The detector thresholds these settings choose; the rest keep their defaults.
    pub fn thresholds(&self) -> Thresholds {
        let (heartbeat_min, heartbeat_max) = self.expect_heartbeat.value;
        Thresholds {
            heartbeat_min,
            heartbeat_max,
            delivery_grace: self.delivery_grace.value,
            expect_stream: !self.no_stream.value,
            ..Thresholds::default()
        }
    }

    /// Every setting, in the order of the README's table, with the API key masked and any
    /// credentials in the base URL left out.
    pub fn rows(&self) -> Vec<Row> {
        fn row<T>(name: &'static str, setting: &Sourced<T>, show: impl Fn(&T) -> String) -> Row {
            Row {
                name,
                value: show(&setting.value),
                source: setting.source.clone(),
            }
        }
        let path =
            |v: &Option<PathBuf>| v.as_ref().map_or(NONE.into(), |p| p.display().to_string());
        vec![
            row("config", &self.config_file, ConfigFile::to_string),
            row("base_url", &self.base_url, |url| {
                url.as_deref().map_or(NONE.into(), without_userinfo)
            }),
            row("agents", &self.agents, |agents| {
                if agents.is_empty() {
                    NONE.into()
                } else {
                    let described: Vec<String> =
                        agents.iter().map(AgentSettings::describe).collect();
                    described.join(", ")
                }
            }),
            row("api_key", &self.api_key, |k| {
                k.as_ref().map_or(NONE.into(), ApiKey::masked)
            }),
            row("agent_header", &self.agent_header, String::clone),
            row("stream_path", &self.stream_path, String::clone),
            row("peek_path", &self.peek_path, String::clone),
            row("poll_interval", &self.poll_interval, |d| duration_text(*d)),
            row("backoff_cap", &self.backoff_cap, |d| duration_text(*d)),
            row("expect_heartbeat", &self.expect_heartbeat, |(lo, hi)| {
                format!("{}..{}", duration_text(*lo), duration_text(*hi))
            }),
            row("delivery_grace", &self.delivery_grace, |d| {
                duration_text(*d)
            }),
            row("max_event_bytes", &self.max_event_bytes, usize::to_string),
            row("record", &self.record, path),
            row("ca_cert", &self.ca_cert, path),
            row("log_file", &self.log.file, path),
            row("log_filter", &self.log.filter, String::clone),
            row("utc", &self.utc, bool::to_string),
            row("no_stream", &self.no_stream, bool::to_string),
        ]
    }
}

/// The platform's config file: e.g. `~/.config/inboxtop/config.toml` on Linux.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "inboxtop").map(|d| d.config_dir().join("config.toml"))
}

/// Where the log goes and how much of it. Logging starts before the config file is read, so these
/// come from flags and the environment only.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    /// `None` when the platform has neither a state nor a cache directory: no log then.
    pub file: Sourced<Option<PathBuf>>,
    /// Target=level directives, e.g. `warn,inboxtop=info`.
    pub filter: Sourced<String>,
    /// An unusable `RUST_LOG`, ignored, and why.
    pub ignored: Option<String>,
}

/// The log file: `--log-file`, else `inboxtop.log` in the platform state directory (the cache
/// directory where there is none), and the filter: `RUST_LOG`, else `-v`.
pub fn log_settings(monitor: &MonitorArgs, environment: &Environment) -> LogSettings {
    let file = optional(
        from_flag(monitor.log_file.clone()).or_else(|| default_log_path().map(Sourced::default)),
    );
    let from_verbosity = || {
        let filter = verbosity_filter(monitor.verbose);
        match monitor.verbose {
            0 => Sourced::default(filter),
            _ => Sourced::new(filter, Source::Flag),
        }
    };
    let (filter, ignored) = match &environment.rust_log {
        Some(text) => match crate::logging::parse_filter(text) {
            Ok(_) => (Sourced::new(text.clone(), Source::Env(ENV_RUST_LOG)), None),
            Err(e) => (
                from_verbosity(),
                Some(format!("{ENV_RUST_LOG} ignored: {e}")),
            ),
        },
        None => (from_verbosity(), None),
    };
    LogSettings {
        file,
        filter,
        ignored,
    }
}

/// `-v` as a filter: other crates stay at warnings (their trace output could carry request
/// details), inboxtop gets the detail asked for.
fn verbosity_filter(verbose: u8) -> String {
    match verbose {
        0 => "warn".into(),
        1 => "warn,inboxtop=info".into(),
        2 => "warn,inboxtop=debug".into(),
        _ => "warn,inboxtop=trace".into(),
    }
}

/// `inboxtop.log` in the platform state directory (`~/.local/state/inboxtop/` on Linux), or in
/// the cache directory on platforms without one.
pub fn default_log_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "inboxtop")?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.cache_dir());
    Some(dir.join("inboxtop.log"))
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

/// Finds and reads the config file, reads the environment, and merges them with the flags.
pub fn load(monitor: &MonitorArgs, server: &ServerArgs) -> Result<Settings, String> {
    let mut env = Environment::of_process();
    let path = from_flag(monitor.config.clone())
        .or(from_env(ENV_CONFIG, env.config.clone()))
        .or_else(|| default_config_path().map(Sourced::default));
    let (config_file, file) = match path {
        None => (
            Sourced::default(ConfigFile::Unavailable),
            FileConfig::default(),
        ),
        Some(Sourced { value, source }) => {
            let explicit = source != Source::Default;
            match read_file(&value, explicit)? {
                Some(file) => (Sourced::new(ConfigFile::Read(value), source), file),
                None => (
                    Sourced::new(ConfigFile::Missing(value), source),
                    FileConfig::default(),
                ),
            }
        }
    };
    env.read_key_vars(&file);
    let settings = merge(monitor, server, &env, config_file, file)?;
    log_provenance(&settings);
    Ok(settings)
}

/// Every setting and where it came from (the key masked), and the warnings, into the log.
fn log_provenance(settings: &Settings) {
    for row in settings.rows() {
        tracing::info!("setting {} = {} ({})", row.name, row.value, row.source);
    }
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
}

/// The config file's values, each tagged with the file's path.
struct FileLayer<'a> {
    path: Option<&'a Path>,
    config: FileConfig,
}

impl FileLayer<'_> {
    fn get<T>(&self, value: Option<T>) -> Option<Sourced<T>> {
        let path = self.path?;
        value.map(|v| Sourced::new(v, Source::File(path.to_owned())))
    }

    fn duration(&self, key: &str, text: Option<&str>) -> Result<Option<Sourced<Duration>>, String> {
        let value = text
            .map(|s| parse_duration(s).map_err(|e| format!("config {key}: {e}")))
            .transpose()?;
        Ok(self.get(value))
    }
}

/// The merge itself, with every input explicit (testable without touching the environment).
/// `file` holds the values of `config_file` when it was read, and nothing otherwise.
pub fn merge(
    monitor: &MonitorArgs,
    server: &ServerArgs,
    environment: &Environment,
    config_file: Sourced<ConfigFile>,
    file: FileConfig,
) -> Result<Settings, String> {
    let file = FileLayer {
        path: config_file.value.read_path(),
        config: file,
    };
    let f = &file.config;
    let mut warnings = Vec::new();
    let api_key = resolve_key(server, environment, &file, &mut warnings)?;
    let defaults = Thresholds::default();
    let expect_heartbeat_in_file = f
        .expect_heartbeat
        .as_deref()
        .map(|s| parse_range(s).map_err(|e| format!("config expect_heartbeat: {e}")))
        .transpose()?;
    let expect_heartbeat = from_flag(monitor.expect_heartbeat)
        .or(file.get(expect_heartbeat_in_file))
        .unwrap_or(Sourced::default((
            defaults.heartbeat_min,
            defaults.heartbeat_max,
        )));
    let delivery_grace = from_flag(monitor.delivery_grace)
        .or(file.duration("delivery_grace", f.delivery_grace.as_deref())?)
        .unwrap_or(Sourced::default(defaults.delivery_grace));
    let poll_interval = from_flag(monitor.poll_interval)
        .or(file.duration("poll_interval", f.poll_interval.as_deref())?)
        .unwrap_or(Sourced::default(DEFAULT_POLL_INTERVAL));
    if poll_interval.value < Duration::from_millis(100) {
        return Err(format!(
            "poll interval {:?} is too short (at least 100ms)",
            poll_interval.value
        ));
    }
    let backoff_cap = from_flag(monitor.backoff_cap)
        .or(file.duration("backoff_cap", f.backoff_cap.as_deref())?)
        .unwrap_or(Sourced::default(DEFAULT_BACKOFF_CAP));
    let max_event_bytes = from_flag(monitor.max_event_bytes)
        .or(file.get(f.max_event_bytes))
        .unwrap_or(Sourced::default(DEFAULT_MAX_EVENT_BYTES));
    if max_event_bytes.value < 1024 {
        return Err(format!(
            "max event size {} bytes is too small (at least 1024)",
            max_event_bytes.value
        ));
    }
    let server_text =
        |flag: &Option<String>, var, env: &Option<String>, file_value: &Option<String>| {
            optional(
                from_flag(flag.clone())
                    .or(from_env(var, env.clone()))
                    .or(file.get(file_value.clone())),
            )
        };
    let monitor_text = |flag: &Option<String>, file_value: &Option<String>, default: &str| {
        from_flag(flag.clone())
            .or(file.get(file_value.clone()))
            .unwrap_or(Sourced::default(default.to_owned()))
    };
    Ok(Settings {
        base_url: server_text(
            &server.base_url,
            ENV_BASE_URL,
            &environment.base_url,
            &f.base_url,
        ),
        agents: resolve_agents(server, environment, &file)?,
        api_key,
        agent_header: monitor_text(&monitor.agent_header, &f.agent_header, DEFAULT_AGENT_HEADER),
        stream_path: monitor_text(&monitor.stream_path, &f.stream_path, DEFAULT_STREAM_PATH),
        peek_path: monitor_text(&monitor.peek_path, &f.peek_path, DEFAULT_PEEK_PATH),
        poll_interval,
        backoff_cap,
        max_event_bytes,
        expect_heartbeat,
        delivery_grace,
        record: optional(from_flag(monitor.record.clone())),
        ca_cert: optional(from_flag(monitor.ca_cert.clone()).or(file.get(f.ca_cert.clone()))),
        log: log_settings(monitor, environment),
        no_stream: from_flag(monitor.no_stream.then_some(true))
            .or(file.get(f.no_stream))
            .unwrap_or(Sourced::default(false)),
        utc: from_flag(monitor.utc.then_some(true))
            .or(file.get(f.utc))
            .unwrap_or(Sourced::default(false)),
        config_file,
        warnings,
    })
}

/// The key, highest precedence first: `--api-key`, `--api-key-file`, `INBOXTOP_API_KEY`, the config
/// file's `api_key_file`, its `api_key`.
fn resolve_key(
    server: &ServerArgs,
    environment: &Environment,
    file: &FileLayer,
    warnings: &mut Vec<String>,
) -> Result<Sourced<Option<ApiKey>>, String> {
    if let Some(key) = &server.api_key {
        warnings.push(
            "--api-key puts the key on the command line, where `ps` shows it to every user: \
             prefer INBOXTOP_API_KEY or --api-key-file"
                .into(),
        );
        return Ok(Sourced::new(Some(ApiKey::new(key.as_str())), Source::Flag));
    }
    let found = if let Some(path) = &server.api_key_file {
        from_flag(Some(read_key_file(path)?))
    } else if let Some(key) = &environment.api_key {
        from_env(ENV_API_KEY, Some(ApiKey::new(key.as_str())))
    } else if let Some(path) = &file.config.api_key_file {
        file.get(Some(read_key_file(path)?))
    } else if let Some(key) = &file.config.api_key {
        if let Some(path) = file.path
            && readable_by_others(path)
        {
            warnings.push(format!(
                "config file {} holds the API key and is readable by other users: chmod 600 it",
                path.display()
            ));
        }
        file.get(Some(ApiKey::new(key.as_str())))
    } else {
        None
    };
    Ok(optional(found))
}

/// The agents, highest precedence first: `--agent`, `INBOXTOP_AGENT` (both comma-separated), the
/// config file's `[[agents]]` tables or its `agent`. An agent named by a flag or the environment
/// that has a `[[agents]]` table takes its base URL and key from it.
fn resolve_agents(
    server: &ServerArgs,
    environment: &Environment,
    file: &FileLayer,
) -> Result<Sourced<Vec<AgentSettings>>, String> {
    let f = &file.config;
    if f.agent.is_some() && !f.agents.is_empty() {
        return Err("config: give either agent or [[agents]] tables, not both".into());
    }
    let env_ids = environment.agent.as_deref().map(split_ids);
    let ids = from_flag(Some(split_ids(&server.agent.join(","))).filter(|ids| !ids.is_empty()))
        .or(from_env(ENV_AGENT, env_ids.filter(|ids| !ids.is_empty())))
        .or(file.get(f.agent.as_deref().map(split_ids)))
        .or(file.get(Some(
            f.agents.iter().map(|a| a.id.trim().to_owned()).collect(),
        )))
        .filter(|ids| !ids.value.is_empty());
    let Some(ids) = ids else {
        return Ok(Sourced::default(Vec::new()));
    };
    let mut agents: Vec<AgentSettings> = Vec::with_capacity(ids.value.len());
    for id in &ids.value {
        if id.is_empty() {
            return Err("an agent id is empty".into());
        }
        if agents.iter().any(|a| &a.id == id) {
            return Err(format!("agent {id} is named twice"));
        }
        let agent = match f.agents.iter().find(|a| a.id.trim() == id) {
            Some(table) => agent_of_table(table, environment)?,
            None => AgentSettings::named(id),
        };
        agents.push(agent);
    }
    Ok(Sourced::new(agents, ids.source))
}

/// `a, b` → `["a", "b"]`; blanks between commas are dropped.
fn split_ids(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `[[agents]]` table's own settings; its key env var must be set, its key file readable.
fn agent_of_table(table: &FileAgent, environment: &Environment) -> Result<AgentSettings, String> {
    let id = table.id.trim();
    let api_key = match (&table.api_key_env, &table.api_key_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "config [[agents]] {id}: give api_key_env or api_key_file, not both"
            ));
        }
        (Some(name), None) => {
            let value = environment.key_vars.get(name).ok_or_else(|| {
                format!("config [[agents]] {id}: api_key_env names {name}, which is not set")
            })?;
            Some((ApiKey::new(value.as_str()), KeyOrigin::EnvVar(name.clone())))
        }
        (None, Some(path)) => Some((read_key_file(path)?, KeyOrigin::File(path.clone()))),
        (None, None) => None,
    };
    Ok(AgentSettings {
        id: id.to_owned(),
        base_url: table.base_url.clone(),
        api_key,
    })
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

    const FILE: &str = "test-config.toml";

    fn read(path: &str) -> Sourced<ConfigFile> {
        Sourced::default(ConfigFile::Read(PathBuf::from(path)))
    }

    fn file(toml_text: &str) -> FileConfig {
        toml::from_str(toml_text).unwrap()
    }

    /// The merge of `toml_text` (as the file `FILE`) with the given flags and environment.
    fn merged(
        monitor: &MonitorArgs,
        server: &ServerArgs,
        environment: &Environment,
        toml_text: &str,
    ) -> Result<Settings, String> {
        merge(monitor, server, environment, read(FILE), file(toml_text))
    }

    fn in_file() -> Source {
        Source::File(PathBuf::from(FILE))
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default_each_with_its_source() {
        let toml_text = "base_url = \"http://file\"\nagent = \"file-agent\"\n\
                         poll_interval = \"2s\"\nexpect_heartbeat = \"1s..2s\"\n";
        let server = ServerArgs {
            agent: vec!["flag-agent".into()],
            ..ServerArgs::default()
        };
        let environment = Environment {
            agent: Some("env-agent".into()),
            base_url: Some("http://env".into()),
            ..Environment::default()
        };
        let monitor = MonitorArgs {
            expect_heartbeat: Some((Duration::from_secs(3), Duration::from_secs(4))),
            ..MonitorArgs::default()
        };
        let s = merged(&monitor, &server, &environment, toml_text).unwrap();
        assert_eq!(
            s.agents,
            Sourced::new(vec![AgentSettings::named("flag-agent")], Source::Flag)
        );
        assert_eq!(
            s.base_url,
            Sourced::new(Some("http://env".into()), Source::Env(ENV_BASE_URL))
        );
        assert_eq!(
            s.poll_interval,
            Sourced::new(Duration::from_secs(2), in_file())
        );
        assert_eq!(s.backoff_cap, Sourced::default(DEFAULT_BACKOFF_CAP));
        assert_eq!(
            s.stream_path,
            Sourced::default(DEFAULT_STREAM_PATH.to_owned())
        );
        assert_eq!(s.expect_heartbeat.source, Source::Flag);
        assert_eq!(s.thresholds().heartbeat_min, Duration::from_secs(3));

        let s = merged(
            &MonitorArgs::default(),
            &server,
            &Environment::default(),
            toml_text,
        )
        .unwrap();
        assert_eq!(
            s.base_url,
            Sourced::new(Some("http://file".into()), in_file())
        );
        assert_eq!(
            s.expect_heartbeat,
            Sourced::new((Duration::from_secs(1), Duration::from_secs(2)), in_file())
        );

        let s = merged(
            &MonitorArgs::default(),
            &server,
            &Environment::default(),
            "",
        )
        .unwrap();
        assert_eq!(s.base_url, Sourced::default(None));
        assert!(!s.has_server());
        assert_eq!(s.expect_heartbeat.source, Source::Default);
        assert_eq!(s.thresholds(), Thresholds::default());
    }

    #[test]
    fn key_precedence_and_source_and_the_ps_warning() {
        let environment = Environment {
            api_key: Some("from-env-0000".into()),
            ..Environment::default()
        };
        let toml_text = "api_key = \"from-file-0000\"";
        let s = merged(
            &MonitorArgs::default(),
            &ServerArgs::default(),
            &environment,
            toml_text,
        )
        .unwrap();
        assert_eq!(s.api_key.value.unwrap().expose(), "from-env-0000");
        assert_eq!(s.api_key.source, Source::Env(ENV_API_KEY));
        let s = merged(
            &MonitorArgs::default(),
            &ServerArgs::default(),
            &Environment::default(),
            toml_text,
        )
        .unwrap();
        assert_eq!(s.api_key.value.unwrap().expose(), "from-file-0000");
        assert_eq!(s.api_key.source, in_file());
        let flag = ServerArgs {
            api_key: Some("from-flag-000".into()),
            ..ServerArgs::default()
        };
        let s = merged(&MonitorArgs::default(), &flag, &environment, "").unwrap();
        assert_eq!(s.api_key.value.unwrap().expose(), "from-flag-000");
        assert_eq!(s.api_key.source, Source::Flag);
        assert!(s.warnings.iter().any(|w| w.contains("ps")));
    }

    #[test]
    fn rows_name_every_setting_and_hide_the_secrets() {
        let server = ServerArgs {
            api_key: Some("sk_live_SECRET_0042".into()),
            base_url: Some("https://user:pa55word@api.example.com/v1".into()),
            ..ServerArgs::default()
        };
        let s = merged(
            &MonitorArgs::default(),
            &server,
            &Environment::default(),
            "delivery_grace = \"1m30s\"",
        )
        .unwrap();
        let rows = s.rows();
        let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "config",
                "base_url",
                "agents",
                "api_key",
                "agent_header",
                "stream_path",
                "peek_path",
                "poll_interval",
                "backoff_cap",
                "expect_heartbeat",
                "delivery_grace",
                "max_event_bytes",
                "record",
                "ca_cert",
                "log_file",
                "log_filter",
                "utc",
                "no_stream",
            ]
        );
        let value = |name| &rows.iter().find(|r| r.name == name).unwrap().value;
        assert_eq!(value("api_key"), "••••••42");
        assert_eq!(value("delivery_grace"), "1m 30s");
        assert_eq!(value("expect_heartbeat"), "15s..30s");
        assert_eq!(value("config"), "test-config.toml (read)");
        assert_eq!(value("base_url"), "https://api.example.com/v1");
        assert_eq!(value("record"), "(none)");
        assert_eq!(value("utc"), "false");
        assert!(
            rows.iter()
                .all(|r| !r.value.contains("SECRET") && !r.value.contains("pa55word"))
        );
    }

    fn ids(s: &Settings) -> Vec<&str> {
        s.agents.value.iter().map(|a| a.id.as_str()).collect()
    }

    const FLEET_FILE: &str = r#"
base_url = "http://global"
[[agents]]
id = "a"
[[agents]]
id = "b"
base_url = "http://b-server"
api_key_env = "B_KEY"
[[agents]]
id = "c"
api_key_file = "no-such-key-file"
"#;

    #[test]
    fn several_agents_flags_beat_env_beat_file() {
        let flags = ServerArgs {
            agent: vec!["x,y".into(), "z".into()],
            ..ServerArgs::default()
        };
        let env = Environment {
            agent: Some(" p, q ,".into()),
            ..Environment::default()
        };
        let monitor = MonitorArgs::default();
        let s = merged(&monitor, &flags, &env, "agent = \"f\"").unwrap();
        assert_eq!(
            (ids(&s), s.agents.source.clone()),
            (vec!["x", "y", "z"], Source::Flag)
        );
        let s = merged(&monitor, &ServerArgs::default(), &env, "agent = \"f\"").unwrap();
        assert_eq!(
            (ids(&s), s.agents.source.clone()),
            (vec!["p", "q"], Source::Env(ENV_AGENT))
        );
        let s = merged(
            &monitor,
            &ServerArgs::default(),
            &Environment::default(),
            "agent = \"f,g\"",
        )
        .unwrap();
        assert_eq!(
            (ids(&s), s.agents.source.clone()),
            (vec!["f", "g"], in_file())
        );
        let twice = ServerArgs {
            agent: vec!["a".into(), "a".into()],
            ..ServerArgs::default()
        };
        let err = merged(&monitor, &twice, &env, "").unwrap_err();
        assert!(err.contains("named twice"), "{err}");
    }

    #[test]
    fn agents_tables_carry_their_own_server_and_key() {
        let env = Environment {
            key_vars: BTreeMap::from([("B_KEY".to_owned(), "b-secret-key-0077".to_owned())]),
            ..Environment::default()
        };
        let pick = |names: &[&str]| ServerArgs {
            agent: names.iter().map(std::string::ToString::to_string).collect(),
            ..ServerArgs::default()
        };
        let s = merged(
            &MonitorArgs::default(),
            &pick(&["b", "a"]),
            &env,
            FLEET_FILE,
        )
        .unwrap();
        assert_eq!(ids(&s), ["b", "a"]);
        let b = &s.agents.value[0];
        assert_eq!(b.base_url.as_deref(), Some("http://b-server"));
        let (key, origin) = b.api_key.as_ref().unwrap();
        assert_eq!(key.expose(), "b-secret-key-0077");
        assert_eq!(origin, &KeyOrigin::EnvVar("B_KEY".into()));
        assert_eq!(s.agents.value[1], AgentSettings::named("a"));
        let shown = &s
            .rows()
            .into_iter()
            .find(|r| r.name == "agents")
            .unwrap()
            .value;
        assert_eq!(
            shown,
            "b (base_url http://b-server, key ••••••77 from env B_KEY), a"
        );

        let dir = std::env::temp_dir().join(format!("inboxtop-cfg-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("c.key");
        std::fs::write(&key_file, "c-key-from-file-01\n").unwrap();
        let toml_text = FLEET_FILE.replace("no-such-key-file", &key_file.display().to_string());
        let s = merged(
            &MonitorArgs::default(),
            &ServerArgs::default(),
            &env,
            &toml_text,
        )
        .unwrap();
        assert_eq!(
            (ids(&s), s.agents.source.clone()),
            (vec!["a", "b", "c"], in_file())
        );
        let (key, origin) = s.agents.value[2].api_key.as_ref().unwrap();
        assert_eq!(key.expose(), "c-key-from-file-01");
        assert_eq!(origin, &KeyOrigin::File(key_file));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_missing_key_env_var_is_an_error_naming_it() {
        let none = Environment::default();
        let b = ServerArgs {
            agent: vec!["b".into()],
            ..ServerArgs::default()
        };
        let err = merged(&MonitorArgs::default(), &b, &none, FLEET_FILE).unwrap_err();
        assert!(
            err.contains("B_KEY") && err.contains("[[agents]] b"),
            "{err}"
        );
        // Agents that are not watched are not resolved: `a` alone needs no key variable.
        let a = ServerArgs {
            agent: vec!["a".into()],
            ..ServerArgs::default()
        };
        assert!(merged(&MonitorArgs::default(), &a, &none, FLEET_FILE).is_ok());
        let both = "agent = \"x\"\n[[agents]]\nid = \"y\"\n";
        let err = merged(&MonitorArgs::default(), &ServerArgs::default(), &none, both).unwrap_err();
        assert!(err.contains("not both"), "{err}");
        let typo = "[[agents]]\nid = \"y\"\napi_key = \"k\"\n";
        assert!(toml::from_str::<FileConfig>(typo).is_err());
    }

    #[test]
    fn the_ca_cert_comes_from_the_flag_or_the_file() {
        let toml_text = "ca_cert = \"file-ca.pem\"";
        let s = merged(
            &MonitorArgs::default(),
            &ServerArgs::default(),
            &Environment::default(),
            toml_text,
        )
        .unwrap();
        assert_eq!(
            s.ca_cert,
            Sourced::new(Some(PathBuf::from("file-ca.pem")), in_file())
        );
        let flag = MonitorArgs {
            ca_cert: Some(PathBuf::from("flag-ca.pem")),
            ..MonitorArgs::default()
        };
        let s = merged(
            &flag,
            &ServerArgs::default(),
            &Environment::default(),
            toml_text,
        )
        .unwrap();
        assert_eq!(
            s.ca_cert,
            Sourced::new(Some(PathBuf::from("flag-ca.pem")), Source::Flag)
        );
    }

    #[test]
    fn the_log_filter_comes_from_rust_log_else_from_v() {
        let quiet = log_settings(&MonitorArgs::default(), &Environment::default());
        assert_eq!(quiet.filter, Sourced::default("warn".to_owned()));
        assert_eq!(quiet.file.source, Source::Default);
        let verbose = MonitorArgs {
            verbose: 2,
            log_file: Some(PathBuf::from("here.log")),
            ..MonitorArgs::default()
        };
        let s = log_settings(&verbose, &Environment::default());
        assert_eq!(
            s.filter,
            Sourced::new("warn,inboxtop=debug".to_owned(), Source::Flag)
        );
        assert_eq!(
            s.file,
            Sourced::new(Some(PathBuf::from("here.log")), Source::Flag)
        );
        let env = |rust_log: &str| Environment {
            rust_log: Some(rust_log.into()),
            ..Environment::default()
        };
        let s = log_settings(&verbose, &env("inboxtop::source=trace"));
        assert_eq!(
            s.filter,
            Sourced::new(
                "inboxtop::source=trace".to_owned(),
                Source::Env(ENV_RUST_LOG)
            )
        );
        assert_eq!(s.ignored, None);
        let s = log_settings(&verbose, &env("inboxtop=loud"));
        assert_eq!(s.filter.value, "warn,inboxtop=debug");
        assert!(
            s.ignored.as_deref().is_some_and(|w| w.contains("RUST_LOG")),
            "{s:?}"
        );
    }

    #[test]
    fn utc_comes_from_the_flag_or_the_file_and_defaults_to_local_time() {
        let (server, env) = (ServerArgs::default(), Environment::default());
        let from_file = merged(&MonitorArgs::default(), &server, &env, "utc = true").unwrap();
        assert_eq!(from_file.utc, Sourced::new(true, in_file()));
        let flag = MonitorArgs {
            utc: true,
            ..MonitorArgs::default()
        };
        let from_flag = merged(&flag, &server, &env, "utc = false").unwrap();
        assert_eq!(from_flag.utc, Sourced::new(true, Source::Flag));
        let unset = merged(&MonitorArgs::default(), &server, &env, "").unwrap();
        assert_eq!(unset.utc, Sourced::default(false));
    }

    #[test]
    fn sources_read_as_inboxtop_config_prints_them() {
        assert_eq!(Source::Default.to_string(), "default");
        assert_eq!(Source::Flag.to_string(), "flag");
        assert_eq!(Source::Env(ENV_AGENT).to_string(), "env INBOXTOP_AGENT");
        assert_eq!(in_file().to_string(), "file test-config.toml");
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
            &Environment::default(),
            Sourced::new(ConfigFile::Read(path.clone()), Source::Flag),
            f,
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
        for (toml_text, key) in [
            ("poll_interval = \"often\"", "poll_interval"),
            ("expect_heartbeat = \"30s..15s\"", "expect_heartbeat"),
        ] {
            let err = merged(
                &MonitorArgs::default(),
                &ServerArgs::default(),
                &Environment::default(),
                toml_text,
            )
            .unwrap_err();
            assert!(err.contains(key), "{err}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
