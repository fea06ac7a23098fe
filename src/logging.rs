//! The log: a file, never the terminal (the TUI owns it, and `check` prints its report there).
//!
//! Where and how much come from [`LogSettings`] (`--log-file`, `-v`, `RUST_LOG`; see
//! `config::log_settings`). What is logged: the settings and where each came from (the key
//! masked), and what the sources observe — connects, answers, closes, retries, redirects and
//! probes at info, failures at warn, peeks at debug, SSE events at trace (`source::log`).
//!
//! The file is written a line at a time, each line made terminal-safe (`sanitize::line`: a
//! server's text cannot smuggle escape sequences into a `cat` of the log) and cut at
//! [`MAX_LINE_BYTES`]. At [`MAX_FILE_BYTES`] it is moved to `<file>.1` (replacing the previous
//! one) and a new file is started, so a long run keeps at most twice that on disk.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use crate::cli::Command;
use crate::config::{LogSettings, Source};

/// A file this large is rotated before the next line.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Longest line written; the rest is cut (and counted on the line).
pub const MAX_LINE_BYTES: usize = 4096;

/// Whether `command` logs: everything but the commands that only print (`config`, `completions`,
/// `man`).
pub fn wanted(command: Option<&Command>) -> bool {
    !matches!(
        command,
        Some(Command::Config(_) | Command::Completions(_) | Command::Man)
    )
}

/// Target=level directives (`warn,inboxtop=debug`), as `RUST_LOG` and `-v` give them.
pub fn parse_filter(text: &str) -> Result<Targets, String> {
    Targets::from_str(text).map_err(|e| format!("{text:?} is not a log filter: {e}"))
}

/// Starts logging to the settings' file. Things the user should know (an ignored `RUST_LOG`, a
/// default log file that cannot be opened) go to stderr, before any TUI starts. A log file named
/// with `--log-file` that cannot be opened is an error; the default one is not: the monitor runs
/// without a log then.
pub fn init(settings: &LogSettings) -> Result<(), String> {
    if let Some(ignored) = &settings.ignored {
        eprintln!("inboxtop: warning: {ignored}");
    }
    let Some(path) = &settings.file.value else {
        return Ok(());
    };
    let mut file = match LogFile::open(path, MAX_FILE_BYTES) {
        Ok(file) => file,
        Err(e) if settings.file.source == Source::Default => {
            eprintln!("inboxtop: warning: no log: {e}");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let filter = parse_filter(&settings.filter.value)?;
    // Whatever the filter lets through, each run starts with a line saying which run it is.
    let start = format!(
        "{}  START inboxtop {} (pid {}); log filter {:?} ({})\n",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        settings.filter.value,
        settings.filter.source
    );
    file.write_all(start.as_bytes())
        .map_err(|e| format!("cannot write log file {}: {e}", path.display()))?;
    let subscriber = tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(Mutex::new(file)),
    );
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("cannot start logging: {e}"))
}

/// The log file: appends whole lines, made safe and bounded, and rotates at `max_bytes`.
pub struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in the current file (what it had when opened, plus what was written since).
    written: u64,
    max_bytes: u64,
}

impl LogFile {
    /// Opens (creating it and its directory) `path` for appending; only the user may read it.
    pub fn open(path: &Path, max_bytes: u64) -> Result<LogFile, String> {
        let failed = |e: io::Error| format!("cannot open log file {}: {e}", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let file = append(path).map_err(failed)?;
        let written = file.metadata().map_err(failed)?.len();
        Ok(LogFile {
            path: path.to_owned(),
            file,
            written,
            max_bytes,
        })
    }

    /// Moves the full file to `<file>.1` and starts an empty one.
    fn rotate(&mut self) -> io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, old)?;
        self.file = append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn append(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

impl Write for LogFile {
    /// Takes one formatted event (the formatter writes each in one call) and writes it as one
    /// line: all of `buf` is always consumed.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written >= self.max_bytes {
            self.rotate()?;
        }
        let line = safe_line(buf);
        self.file.write_all(line.as_bytes())?;
        self.written += line.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `buf` as one terminal-safe line of at most [`MAX_LINE_BYTES`] (plus its newline): inner
/// newlines and every control character become visible escapes.
fn safe_line(buf: &[u8]) -> String {
    let text = String::from_utf8_lossy(buf);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let safe = crate::sanitize::line(text);
    if safe.len() <= MAX_LINE_BYTES {
        return format!("{safe}\n");
    }
    let mut end = MAX_LINE_BYTES;
    while !safe.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)\n", &safe[..end], safe.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("inboxtop-log-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        dir
    }

    #[test]
    fn lines_are_made_safe_and_cut() {
        assert_eq!(safe_line(b"plain\n"), "plain\n");
        assert_eq!(
            safe_line(b"evil \x1b]0;title\x07 two\nlines\n"),
            "evil \\e]0;title\\x07 two\\nlines\n"
        );
        let long = safe_line("é".repeat(MAX_LINE_BYTES).as_bytes());
        assert!(long.ends_with(&format!("… ({MAX_LINE_BYTES} bytes cut)\n")));
        assert!(long.len() < MAX_LINE_BYTES + 40);
    }

    #[test]
    fn the_file_is_created_with_its_directory_and_rotated_at_the_cap() {
        let dir = temp_dir("rotate");
        let path = dir.join("nested").join("inboxtop.log");
        let mut log = LogFile::open(&path, 20).unwrap();
        log.write_all(b"first line, 24 bytes..\n").unwrap();
        log.write_all(b"second\n").unwrap();
        log.write_all(b"third\n").unwrap();
        let rotated = std::fs::read_to_string(dir.join("nested").join("inboxtop.log.1")).unwrap();
        assert_eq!(rotated, "first line, 24 bytes..\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second\nthird\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the user may read the log");
        }
        // Reopening counts what is there: the next line rotates again.
        let mut log = LogFile::open(&path, 10).unwrap();
        log.write_all(b"fourth\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "fourth\n");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn filters_parse_and_bad_ones_say_why() {
        assert!(parse_filter("warn,inboxtop=trace").is_ok());
        assert!(parse_filter("inboxtop::source=debug").is_ok());
        let err = parse_filter("inboxtop=loud").unwrap_err();
        assert!(err.contains("not a log filter"), "{err}");
    }

    #[test]
    fn only_the_printing_commands_do_not_log() {
        use clap::Parser;
        let command = |args: &[&str]| crate::cli::Cli::parse_from(args).command;
        assert!(wanted(None));
        assert!(wanted(command(&["inboxtop", "check"]).as_ref()));
        assert!(!wanted(command(&["inboxtop", "config"]).as_ref()));
        assert!(!wanted(command(&["inboxtop", "man"]).as_ref()));
    }
}
