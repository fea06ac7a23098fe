//! The event log's filter, as typed after `/`: `type:NAME` keeps the entries of one event type
//! (or lifecycle tag), `re:PATTERN` those whose type, id or data match a regular expression, and
//! anything else those that contain it. All case-insensitive. A regex is compiled once, when the
//! filter changes; an invalid one filters nothing and says why.

use regex::{Regex, RegexBuilder};

use crate::monitor::log::LogEntry;

/// What starts a type filter.
pub const TYPE_PREFIX: &str = "type:";
/// What starts a regex filter.
pub const REGEX_PREFIX: &str = "re:";
/// Bytes a compiled filter may take: a typed pattern can never cost the monitor much memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    text: String,
    matcher: Matcher,
}

#[derive(Debug, Clone, Default)]
enum Matcher {
    #[default]
    All,
    /// An event type, lowercased.
    Type(String),
    /// A substring, lowercased.
    Contains(String),
    Regex(Regex),
    /// A regex that does not compile: everything passes, and the error is shown.
    Invalid(String),
}

impl LogFilter {
    /// Reads `text` as a filter, compiling a regex if it is one.
    pub fn new(text: &str) -> LogFilter {
        let matcher = if text.is_empty() {
            Matcher::All
        } else if let Some(name) = text.strip_prefix(TYPE_PREFIX) {
            Matcher::Type(name.trim().to_lowercase())
        } else if let Some(pattern) = text.strip_prefix(REGEX_PREFIX) {
            match RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                Ok(re) => Matcher::Regex(re),
                Err(e) => Matcher::Invalid(one_line(&e)),
            }
        } else {
            Matcher::Contains(text.to_lowercase())
        };
        LogFilter {
            text: text.to_owned(),
            matcher,
        }
    }

    /// The filter as typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Why the typed regex does not compile, if it does not.
    pub fn error(&self) -> Option<&str> {
        match &self.matcher {
            Matcher::Invalid(error) => Some(error),
            _ => None,
        }
    }

    pub fn matches(&self, e: &LogEntry) -> bool {
        let fields = || {
            [
                Some(e.name.as_str()),
                e.id.as_deref(),
                Some(e.data.as_str()),
            ]
        };
        match &self.matcher {
            Matcher::All | Matcher::Invalid(_) => true,
            Matcher::Type(name) => e.name.eq_ignore_ascii_case(name),
            Matcher::Contains(needle) => fields()
                .into_iter()
                .flatten()
                .any(|f| f.to_lowercase().contains(needle)),
            Matcher::Regex(re) => fields().into_iter().flatten().any(|f| re.is_match(f)),
        }
    }
}

/// A regex error in one line: the parser's multi-line message ends with `error: <what>`.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let what = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().next().unwrap_or("invalid"));
    format!("invalid regex: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::log::EntryKind;
    use crate::observation::Mono;

    fn entry(name: &str, id: Option<&str>, data: &str) -> LogEntry {
        LogEntry {
            t: Mono::ZERO,
            wall: chrono::DateTime::UNIX_EPOCH,
            session: 1,
            kind: EntryKind::Event,
            name: name.into(),
            id: id.map(Into::into),
            data: data.into(),
            data_len: data.len(),
        }
    }

    fn kept(filter: &str, entries: &[LogEntry]) -> Vec<usize> {
        let f = LogFilter::new(filter);
        (0..entries.len())
            .filter(|&i| f.matches(&entries[i]))
            .collect()
    }

    #[test]
    fn type_regex_and_substring_filters() {
        let entries = [
            entry("heartbeat", None, r#"{"timestamp":"2026-11-25T03:00:00Z"}"#),
            entry(
                "message",
                Some("msg-42"),
                r#"{"content":"Invoice 42 ready"}"#,
            ),
            entry("Heartbeats-v2", None, "{}"),
            entry("closed", None, "server closed (EOF)"),
        ];
        assert_eq!(kept("", &entries), [0, 1, 2, 3]);
        assert_eq!(
            kept("type:heartbeat", &entries),
            [0],
            "the type, not a prefix"
        );
        assert_eq!(kept("type:HEARTBEAT", &entries), [0]);
        assert_eq!(kept("type:closed", &entries), [3], "lifecycle tags too");
        assert_eq!(kept("invoice", &entries), [1], "case-insensitive substring");
        assert_eq!(kept("msg-4", &entries), [1], "ids are searched");
        assert_eq!(kept("re:^heart", &entries), [0, 2]);
        assert_eq!(kept(r"re:invoice \d+", &entries), [1]);
        assert_eq!(kept("re:^msg-\\d+$", &entries), [1]);
        assert_eq!(
            kept("re:x", &entries),
            Vec::<usize>::new(),
            "a regex that matches nothing keeps nothing"
        );
        assert_eq!(kept("type:heartbeat", &[]), Vec::<usize>::new());
    }

    #[test]
    fn an_invalid_regex_says_why_in_one_line_and_filters_nothing() {
        for pattern in ["re:(", "re:[a-", "re:a{99999999}", "re:\\"] {
            let f = LogFilter::new(pattern);
            let error = f.error().unwrap_or_else(|| panic!("{pattern} compiled"));
            assert!(
                error.starts_with("invalid regex: ") && !error.contains('\n'),
                "{error:?}"
            );
            assert!(f.matches(&entry("heartbeat", None, "{}")));
            assert_eq!(f.text(), pattern);
        }
        assert_eq!(
            LogFilter::new("re:(").error(),
            Some("invalid regex: unclosed group")
        );
        assert_eq!(LogFilter::new("re:ok").error(), None);
        assert_eq!(
            LogFilter::new("(").error(),
            None,
            "a plain ( is a substring"
        );
    }
}
