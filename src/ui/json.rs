//! JSON for the detail popup: pretty-printed, long payloads folded (containers nested deeper than
//! [`MAX_DEPTH`] as `{… 3 keys}`, arrays longer than [`MAX_ITEMS`] as `[… 40 items]`), and every
//! key and string made terminal-safe.

use serde_json::Value;

use crate::sanitize;

/// Containers at this depth (the top level is 0) are folded.
pub const MAX_DEPTH: usize = 4;
/// Arrays longer than this are folded.
pub const MAX_ITEMS: usize = 20;
const INDENT: &str = "  ";

/// The lines of `value`, pretty-printed and folded.
pub fn pretty(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    write(value, 0, "", "", &mut out);
    out
}

/// Writes `value` at `depth`, its first line starting with `lead` (indent and key), its last
/// ending with `tail` (a comma, or nothing).
fn write(value: &Value, depth: usize, lead: &str, tail: &str, out: &mut Vec<String>) {
    let indent = INDENT.repeat(depth);
    match value {
        Value::Object(map) if map.is_empty() => out.push(format!("{lead}{{}}{tail}")),
        Value::Array(items) if items.is_empty() => out.push(format!("{lead}[]{tail}")),
        Value::Object(map) if depth >= MAX_DEPTH => {
            out.push(format!("{lead}{{… {}}}{tail}", count(map.len(), "key")));
        }
        Value::Array(items) if depth >= MAX_DEPTH || items.len() > MAX_ITEMS => {
            out.push(format!("{lead}[… {}]{tail}", count(items.len(), "item")));
        }
        Value::Object(map) => {
            out.push(format!("{lead}{{"));
            let inner = format!("{indent}{INDENT}");
            for (i, (key, v)) in map.iter().enumerate() {
                let comma = if i + 1 < map.len() { "," } else { "" };
                write(
                    v,
                    depth + 1,
                    &format!("{inner}{}: ", string(key)),
                    comma,
                    out,
                );
            }
            out.push(format!("{indent}}}{tail}"));
        }
        Value::Array(items) => {
            out.push(format!("{lead}["));
            let inner = format!("{indent}{INDENT}");
            for (i, v) in items.iter().enumerate() {
                let comma = if i + 1 < items.len() { "," } else { "" };
                write(v, depth + 1, &inner, comma, out);
            }
            out.push(format!("{indent}]{tail}"));
        }
        Value::String(s) => out.push(format!("{lead}{}{tail}", string(s))),
        scalar => out.push(format!("{lead}{scalar}{tail}")),
    }
}

/// A string as a quoted literal, its unsafe characters escaped visibly (`\e`, `\n`, `\u{202e}`).
fn string(s: &str) -> String {
    format!("\"{}\"", sanitize::line(s).replace('"', "\\\""))
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: &Value) -> String {
        pretty(v).join("\n")
    }

    #[test]
    fn objects_and_arrays_are_indented_with_their_commas() {
        let v = json!({"content": "hi", "empty": {}, "n": 3, "ok": true, "tags": ["a", null]});
        assert_eq!(
            text(&v),
            r#"{
  "content": "hi",
  "empty": {},
  "n": 3,
  "ok": true,
  "tags": [
    "a",
    null
  ]
}"#
        );
        assert_eq!(text(&json!("x")), r#""x""#);
        assert_eq!(text(&json!([])), "[]");
    }

    #[test]
    fn deep_and_long_payloads_are_folded() {
        let v = json!({"a": {"b": {"c": {"d": {"e": 1}, "f": [1, 2], "g": []}}}});
        assert_eq!(
            text(&v),
            r#"{
  "a": {
    "b": {
      "c": {
        "d": {… 1 key},
        "f": [… 2 items],
        "g": []
      }
    }
  }
}"#
        );
        let long: Vec<u32> = (0..40).collect();
        assert_eq!(
            text(&json!({"few": [1], "items": long})),
            "{\n  \"few\": [\n    1\n  ],\n  \"items\": [… 40 items]\n}"
        );
        let exactly = vec![0; MAX_ITEMS];
        assert_eq!(pretty(&json!(exactly)).len(), MAX_ITEMS + 2, "not folded");
    }

    #[test]
    fn keys_and_strings_are_sanitized() {
        let v = json!({"\u{1b}]0;title\u{7}": "a\nb\u{202e}c \"q\""});
        let lines = pretty(&v);
        assert_eq!(lines[1], r#"  "\e]0;title\x07": "a\nb\u{202e}c \"q\"""#);
        assert!(
            lines
                .iter()
                .all(|l| !l.contains(['\u{1b}', '\u{7}', '\n', '\u{202e}']))
        );
    }
}
