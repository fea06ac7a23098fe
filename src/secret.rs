//! The API key, which must never be shown, logged, recorded or reported.

use std::fmt;

/// An API key. `Debug` and `Display` mask it; only [`ApiKey::expose`] gives the value, for the one
/// place that needs it: the `Authorization` header.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into().trim().to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What the UI shows: the length and at most the last two characters of a long key.
    pub fn masked(&self) -> String {
        let n = self.0.chars().count();
        match n {
            0 => "(none)".into(),
            1..=11 => "•".repeat(n.min(8)),
            _ => {
                let tail: String = self.0.chars().skip(n - 2).collect();
                format!("••••••{tail}")
            }
        }
    }

    /// Replaces every occurrence of the key in `text` (an error message that quotes a request,
    /// say) by its mask. Keys shorter than 8 characters (demo keys like `demo`) are left alone:
    /// they would match ordinary words such as an agent id.
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 8 {
            return text.to_owned();
        }
        text.replace(&self.0, &self.masked())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let k = ApiKey::new("sk_live_0123456789abcdef");
        for shown in [format!("{k}"), format!("{k:?}"), k.masked()] {
            assert!(!shown.contains("0123456789"), "{shown}");
        }
        assert!(k.masked().ends_with("ef"));
        assert_eq!(ApiKey::new("demo").masked(), "••••");
        assert_eq!(
            k.scrub("GET with Bearer sk_live_0123456789abcdef failed"),
            "GET with Bearer ••••••ef failed"
        );
    }
}
