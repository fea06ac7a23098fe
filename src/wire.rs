//! The `SignalDock` wire shapes, read leniently.
//!
//! Deployments disagree on key names (`id` vs `messageId`, `fromAgentId` vs `from` vs
//! `from_agent_id`, …). Everything here accepts all known spellings and never fails on an unknown
//! shape: the caller keeps the raw text to show instead.

use chrono::{DateTime, Utc};

use crate::observation::wall;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest message content kept per message; the rest is counted, not stored.
pub const MAX_CONTENT_CHARS: usize = 2048;

/// A message as the stream or the inbox carries it, normalized across deployments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WireMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Content, cut to [`MAX_CONTENT_CHARS`]; `content_len` keeps the true length in bytes.
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub content_len: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

const ID_KEYS: &[&str] = &["id", "messageId", "message_id"];
const CONVERSATION_KEYS: &[&str] = &["conversationId", "conversation_id"];
const FROM_KEYS: &[&str] = &["fromAgentId", "from", "from_agent_id", "sender", "senderId"];
const FROM_NAME_KEYS: &[&str] = &["fromAgentName", "fromName", "from_agent_name", "senderName"];
const TO_KEYS: &[&str] = &["toAgentId", "to", "to_agent_id"];
const CONTENT_KEYS: &[&str] = &["content", "text", "body"];
const CONTENT_TYPE_KEYS: &[&str] = &["contentType", "content_type"];
const CREATED_KEYS: &[&str] = &["createdAt", "created_at", "timestamp"];

/// A message's fields, each under its spellings, most preferred first.
const FIELDS: [&[&str]; 8] = [
    ID_KEYS,
    CONVERSATION_KEYS,
    FROM_KEYS,
    FROM_NAME_KEYS,
    TO_KEYS,
    CONTENT_KEYS,
    CONTENT_TYPE_KEYS,
    CREATED_KEYS,
];
/// The index of each field in [`FIELDS`].
mod field {
    pub const ID: usize = 0;
    pub const CONVERSATION: usize = 1;
    pub const FROM: usize = 2;
    pub const FROM_NAME: usize = 3;
    pub const TO: usize = 4;
    pub const CONTENT: usize = 5;
    pub const CONTENT_TYPE: usize = 6;
    pub const CREATED: usize = 7;
}

impl WireMessage {
    /// Reads a message object under any known key spelling. `None` when `value` is not an object
    /// or carries nothing a message would (no id and no content).
    pub fn from_json(value: &Value) -> Option<WireMessage> {
        let mut fields = Fields::default();
        for (key, value) in value.as_object()? {
            if let Some(at) = fields.wanted(key) {
                fields.keep(at, scalar_text(value));
            }
        }
        fields.into_message()
    }

    /// [`from_json`](Self::from_json) of the JSON text `data`, read without building its tree
    /// (every message event of the stream comes through here). `Err` when it is not JSON.
    pub fn from_json_text(data: &str) -> serde_json::Result<Option<WireMessage>> {
        if data
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            serde_json::from_str::<Fields>(data).map(Fields::into_message)
        } else {
            // Not an object: no message, once the text is known to be JSON at all.
            serde_json::from_str::<serde::de::IgnoredAny>(data).map(|_| None)
        }
    }

    /// The best name for the sender: display name, else id.
    pub fn sender(&self) -> &str {
        self.from_name
            .as_deref()
            .or(self.from.as_deref())
            .unwrap_or("?")
    }
}

/// The fields of a message object as read so far: per field, the most preferred spelling seen
/// (its rank) and its text. A spelling seen again replaces its value, as in a JSON map.
#[derive(Default)]
struct Fields([Option<(usize, Option<String>)>; 8]);

impl Fields {
    /// The field `key` spells and its rank, if that spelling is at least as preferred as the
    /// one the field has.
    fn wanted(&self, key: &str) -> Option<(usize, usize)> {
        FIELDS.iter().enumerate().find_map(|(field, spellings)| {
            let rank = spellings.iter().position(|s| *s == key)?;
            let kept = self.0[field].as_ref().map_or(usize::MAX, |(kept, _)| *kept);
            (rank <= kept).then_some((field, rank))
        })
    }

    fn keep(&mut self, (field, rank): (usize, usize), text: Option<String>) {
        self.0[field] = Some((rank, text));
    }

    fn text(&mut self, field: usize) -> Option<String> {
        self.0[field].take().and_then(|(_, text)| text)
    }

    fn into_message(mut self) -> Option<WireMessage> {
        let content_raw = self.text(field::CONTENT);
        let id = self.text(field::ID);
        if id.is_none() && content_raw.is_none() {
            return None;
        }
        let content_raw = content_raw.unwrap_or_default();
        Some(WireMessage {
            id,
            conversation_id: self.text(field::CONVERSATION),
            from: self.text(field::FROM),
            from_name: self.text(field::FROM_NAME),
            to: self.text(field::TO),
            content_len: content_raw.len(),
            content: truncate_chars(&content_raw, MAX_CONTENT_CHARS),
            content_type: self.text(field::CONTENT_TYPE),
            created_at: self.text(field::CREATED).and_then(|s| parse_timestamp(&s)),
        })
    }
}

/// Strings as they are; numbers and booleans as text (some deployments send numeric ids).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON object read as a message's fields.
impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> serde::de::Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if let Some(at) = fields.wanted(&key) {
                fields.keep(at, map.next_value::<ScalarText>()?.0);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(fields)
    }
}

/// A JSON value as [`scalar_text`] reads it, without keeping anything else.
struct ScalarText(Option<String>);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> serde::de::Visitor<'de> for ScalarVisitor {
    type Value = ScalarText;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, s: &str) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(s)))
    }

    fn visit_bool<E>(self, b: bool) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(b.to_string())))
    }

    fn visit_i64<E>(self, n: i64) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(n.to_string())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(n.to_string())))
    }

    fn visit_f64<E>(self, n: f64) -> Result<ScalarText, E> {
        Ok(ScalarText(
            serde_json::Number::from_f64(n).map(|n| n.to_string()),
        ))
    }

    fn visit_unit<E>(self) -> Result<ScalarText, E> {
        Ok(ScalarText(None))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ScalarText, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(ScalarText(None))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ScalarText, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(ScalarText(None))
    }
}

/// Cuts `s` to at most `max` characters, on a character boundary.
pub fn truncate_chars(s: &str, max: usize) -> String {
    truncated(s, max).to_owned()
}

/// The first `max` characters of `s` (all of it when shorter), borrowed.
pub fn truncated(s: &str, max: usize) -> &str {
    // A character is at least one byte: a string of at most `max` bytes needs no counting.
    if s.len() <= max {
        return s;
    }
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// RFC 3339 timestamps, with or without fractional seconds or an offset other than `Z`. Every
/// heartbeat's comes through here: the layout servers write (`…T…Z`) is read by position first.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    wall::parse_fixed(s.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The `timestamp` of a heartbeat payload `{"timestamp":"<RFC3339>"}`, if it has one.
///
/// Every heartbeat goes through here, so the payload the servers send is read without building
/// a JSON tree; any other shape goes to `serde_json`, with the same result for the plain one.
pub fn heartbeat_timestamp(data: &str) -> Option<DateTime<Utc>> {
    match plain_heartbeat_text(data) {
        Some(text) => parse_timestamp(text),
        None => heartbeat_timestamp_json(data),
    }
}

/// The string of a payload that is exactly `{"timestamp":"…"}` when that string holds no byte
/// JSON would unescape (`\`), end on (`"`) or reject (a control character): then the text here
/// is the text `serde_json` would read.
fn plain_heartbeat_text(data: &str) -> Option<&str> {
    let text = data
        .strip_prefix(r#"{"timestamp":""#)?
        .strip_suffix(r#""}"#)?;
    text.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\')
        .then_some(text)
}

/// [`heartbeat_timestamp`] for any payload shape: `timestamp` or `ts`, anywhere JSON allows.
fn heartbeat_timestamp_json(data: &str) -> Option<DateTime<Utc>> {
    let value: Value = serde_json::from_str(data).ok()?;
    let ts = value.get("timestamp").or_else(|| value.get("ts"))?;
    parse_timestamp(ts.as_str()?)
}

/// The messages of a peek response `{"success":true,"data":{"messages":[…]}}`; also accepts a
/// bare array or `{"messages":[…]}`. Returns the messages read and how many entries were not
/// messages, or `None` when the body has no message list at all.
pub fn peek_messages(body: &Value) -> Option<(Vec<WireMessage>, u32)> {
    let list = body
        .pointer("/data/messages")
        .or_else(|| body.get("messages"))
        .or_else(|| body.get("data").filter(|d| d.is_array()))
        .or(Some(body).filter(|b| b.is_array()))?
        .as_array()?;
    let mut unreadable = 0u32;
    let messages = list
        .iter()
        .filter_map(|v| {
            let m = WireMessage::from_json(v);
            if m.is_none() {
                unreadable = unreadable.saturating_add(1);
            }
            m
        })
        .collect();
    Some((messages, unreadable))
}

/// The error envelope `{"success":false,"error":{"code","message","retryable","retry_after_ms"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The start of a body that was not an error envelope (an HTML page, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_excerpt: Option<String>,
}

/// Longest body excerpt kept from an error response that is not an envelope.
pub const MAX_BODY_EXCERPT: usize = 200;

impl ApiError {
    /// Reads an error body: the envelope when it is one, else an excerpt of the text.
    pub fn from_body(body: &[u8]) -> Option<ApiError> {
        if body.is_empty() {
            return None;
        }
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            let err = value.get("error").unwrap_or(&value);
            let parsed = ApiError {
                code: err.get("code").and_then(scalar_text),
                message: err
                    .get("message")
                    .and_then(scalar_text)
                    .map(|m| truncate_chars(&m, MAX_BODY_EXCERPT)),
                retryable: err.get("retryable").and_then(Value::as_bool),
                retry_after_ms: err.get("retry_after_ms").and_then(Value::as_u64),
                body_excerpt: None,
            };
            if parsed.code.is_some() || parsed.message.is_some() {
                return Some(parsed);
            }
        }
        let text = String::from_utf8_lossy(body);
        Some(ApiError {
            body_excerpt: Some(truncate_chars(text.trim(), MAX_BODY_EXCERPT)),
            ..ApiError::default()
        })
    }

    /// One line for humans: `E_AUTH_UNAUTHORIZED: invalid key`, or the body excerpt.
    pub fn summary(&self) -> String {
        match (&self.code, &self.message, &self.body_excerpt) {
            (Some(c), Some(m), _) => format!("{c}: {m}"),
            (Some(c), None, _) => c.clone(),
            (None, Some(m), _) => m.clone(),
            (None, None, Some(b)) => b.clone(),
            (None, None, None) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A JSON object's text, entries as given (duplicates kept), or another value's.
    fn json_text() -> impl Strategy<Value = String> {
        let mut keys: Vec<&str> = FIELDS.concat();
        keys.extend(["other", "data", "Id", "type"]);
        let value = proptest::sample::select(vec![
            r#""x""#,
            r#""""#,
            r#""m-1""#,
            r#""2026-11-25T03:00:00Z""#,
            r#""2026-11-25T03:00:00+01:00""#,
            r#""a\"b\u00e9""#,
            "0",
            "-0",
            "42",
            "-7",
            "1.50",
            "1e3",
            "18446744073709551616",
            "true",
            "false",
            "null",
            "[]",
            r#"[1,{"a":2}]"#,
            "{}",
            r#"{"id":"inner"}"#,
        ]);
        let entry =
            (proptest::sample::select(keys), value).prop_map(|(k, v)| format!("\"{k}\":{v}"));
        prop_oneof![
            4 => proptest::collection::vec(entry, 0..8).prop_map(|e| format!("{{{}}}", e.join(","))),
            1 => proptest::sample::select(vec!["[1,2]", r#""text""#, "3", " \n{\"id\":1}", " [1]", "null", "true", "{", "", "{}x", r#"{"id":1,}"#])
                .prop_map(String::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Read from the text, a message is what reading the JSON tree makes of it, and text
        /// that is not JSON is refused as the tree parser refuses it.
        #[test]
        fn a_message_read_from_text_is_the_one_read_from_its_tree(text in json_text()) {
            let tree = serde_json::from_str::<Value>(&text).map(|v| WireMessage::from_json(&v));
            let direct = WireMessage::from_json_text(&text);
            prop_assert_eq!(direct.as_ref().ok(), tree.as_ref().ok(), "{}", text);
            prop_assert_eq!(
                direct.err().map(|e| e.to_string()),
                tree.err().map(|e| e.to_string()),
                "{}", text
            );
        }
    }

    #[test]
    fn reads_every_key_spelling_of_a_message() {
        let stream_shape = json!({"messageId":"m1","conversationId":"c1","from":"agent-a","fromName":"A",
            "to":"demo","content":"hi","contentType":"text","createdAt":"2026-11-25T03:00:00.123Z","attachments":[]});
        let peek_shape = json!({"id":"m1","conversationId":"c1","fromAgentId":"agent-a","fromAgentName":"A",
            "toAgentId":"demo","content":"hi","contentType":"text","status":"delivered","createdAt":"2026-11-25T03:00:00.123+00:00"});
        let snake = json!({"message_id":"m1","from_agent_id":"agent-a","content":"hi","created_at":"2026-11-25T03:00:00.123Z"});
        let a = WireMessage::from_json(&stream_shape).unwrap();
        let b = WireMessage::from_json(&peek_shape).unwrap();
        let c = WireMessage::from_json(&snake).unwrap();
        for m in [&a, &b, &c] {
            assert_eq!(m.id.as_deref(), Some("m1"));
            assert_eq!(m.from.as_deref(), Some("agent-a"));
            assert_eq!(m.created_at, a.created_at);
        }
        assert!(a.created_at.is_some());
        assert_eq!(a.sender(), "A");
        assert_eq!(c.sender(), "agent-a");
    }

    #[test]
    fn rejects_shapes_that_are_not_messages() {
        assert!(WireMessage::from_json(&json!([1, 2])).is_none());
        assert!(WireMessage::from_json(&json!({"hello":"world"})).is_none());
        assert!(WireMessage::from_json(&json!({"id": 42})).is_some());
    }

    #[test]
    fn long_content_is_cut_but_its_length_kept() {
        let long = "é".repeat(MAX_CONTENT_CHARS + 10);
        let m = WireMessage::from_json(&json!({"id":"x","content": long})).unwrap();
        assert_eq!(m.content.chars().count(), MAX_CONTENT_CHARS);
        assert_eq!(m.content_len, long.len());
    }

    #[test]
    fn peek_reads_envelope_and_counts_unreadable_entries() {
        let body = json!({"success":true,"data":{"messages":[{"id":"a","content":"x"}, "junk", {"id":"b"}]}});
        let (msgs, bad) = peek_messages(&body).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(bad, 1);
        assert!(peek_messages(&json!({"success":true})).is_none());
    }

    #[test]
    fn error_envelope_and_html_pages() {
        let env = br#"{"success":false,"error":{"code":"E_AUTH_UNAUTHORIZED","message":"bad key","retryable":false}}"#;
        let e = ApiError::from_body(env).unwrap();
        assert_eq!(e.code.as_deref(), Some("E_AUTH_UNAUTHORIZED"));
        assert_eq!(e.summary(), "E_AUTH_UNAUTHORIZED: bad key");
        let html = ApiError::from_body(b"<html><body>502 Bad Gateway</body></html>").unwrap();
        assert!(html.code.is_none());
        assert!(html.summary().contains("502 Bad Gateway"));
    }

    #[test]
    fn heartbeat_payload_timestamps() {
        let t = heartbeat_timestamp(r#"{"timestamp":"2026-11-25T03:00:01.500Z"}"#).unwrap();
        assert_eq!(t.timestamp_millis() % 1000, 500);
        assert!(heartbeat_timestamp("not json").is_none());
        assert!(heartbeat_timestamp(r#"{"timestamp":12}"#).is_none());
    }

    #[test]
    fn heartbeat_fast_path_agrees_with_serde_json() {
        let plain = r#"{"timestamp":"2026-11-25T03:00:01.500Z"}"#;
        assert!(plain_heartbeat_text(plain).is_some());
        let payloads = [
            plain,
            r#"{"timestamp":"2026-11-25T03:00:01+02:00"}"#,
            r#"{"timestamp":"2026-11-25t03:00:01.123456789z"}"#,
            r#"{"timestamp":" 2026-11-25T03:00:01Z "}"#,
            r#"{"timestamp":"2026-11-25 03:00:01Z"}"#,
            r#"{"timestamp":"2026-11-25T03:00:01"}"#,
            r#"{"timestamp":"2026-11-25T03:00:60Z"}"#,
            r#"{"timestamp":"2026-02-30T03:00:01Z"}"#,
            r#"{"timestamp":"1764039601"}"#,
            r#"{"timestamp":"2026-11-25T03:00:01Zé"}"#,
            r#"{"timestamp":"２０２６-11-25T03:00:01Z"}"#,
            r#"{"timestamp":""}"#,
            // Escapes and control characters: serde_json decides.
            r#"{"timestamp":"2026-11-25T03:00:01\u002e5Z"}"#,
            "{\"timestamp\":\"2026-11-25T03:00:01Z\t\"}",
            r#"{"timestamp":"2026-11-25T03:00:01Z\""}"#,
            r#"{"timestamp":"a","timestamp":"2026-11-25T03:00:01Z"}"#,
            // Truncated, or not quite the plain layout.
            r#"{"timestamp":"2026-11-25T03:00:01.5"#,
            r#"{"timestamp":"2026-11-25T03:00:01.5Z""#,
            r#"{"timestamp":"}"#,
            r#"{"timestamp":"2026-11-25T03:00:01Z"} "#,
            r#"{ "timestamp": "2026-11-25T03:00:01Z" }"#,
            r#"{"ts":"2026-11-25T03:00:01Z"}"#,
            r#"{"timestamp":"2026-11-25T03:00:01Z","seq":1}"#,
        ];
        for data in payloads {
            assert_eq!(
                heartbeat_timestamp(data),
                heartbeat_timestamp_json(data),
                "{data}"
            );
        }
        let read = |d| heartbeat_timestamp(d).is_some();
        assert!(read(payloads[12]) && read(payloads[20]) && read(payloads[21]));
        assert!(!read(payloads[13]) && !read(payloads[16]));
    }

    #[test]
    fn truncated_borrows_whole_characters() {
        assert_eq!(truncated("héllo", 2), "hé");
        assert_eq!(truncated("héllo", 5), "héllo");
        assert_eq!(truncated("ééé", 4), "ééé");
        assert_eq!(truncated("", 0), "");
        assert_eq!(truncated("ab", 0), "");
    }
}

#[cfg(test)]
mod fuzz {
    //! Property tests over untrusted JSON: whatever a server sends, reading it never panics and
    //! never keeps more than the bounds allow.
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
            prop::sample::select(vec![
                "id",
                "messageId",
                "content",
                "createdAt",
                "2026-11-25T03:00:00Z",
                "from"
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "id",
                            "messageId",
                            "content",
                            "from",
                            "fromAgentId",
                            "createdAt",
                            "data",
                            "messages",
                            "error",
                            "code"
                        ]),
                        inner
                    ),
                    0..8
                )
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_json_reads_without_panic(v in json_value()) {
            if let Some(m) = WireMessage::from_json(&v) {
                prop_assert!(m.content.chars().count() <= MAX_CONTENT_CHARS);
            }
            let wrapped = serde_json::json!({"success": true, "data": {"messages": [v.clone(), v.clone()]}});
            if let Some((messages, unreadable)) = peek_messages(&wrapped) {
                prop_assert_eq!(messages.len() + unreadable as usize, 2);
            }
            let body = serde_json::to_vec(&v).unwrap();
            let _ = ApiError::from_body(&body);
        }

        #[test]
        fn any_bytes_as_an_error_body_are_cut(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
            if let Some(e) = ApiError::from_body(&bytes) {
                prop_assert!(e.summary().chars().count() <= 2 * MAX_BODY_EXCERPT + 64);
            }
        }

        #[test]
        fn any_text_as_a_heartbeat_is_fine(text in ".{0,200}") {
            prop_assert_eq!(heartbeat_timestamp(&text), heartbeat_timestamp_json(&text));
        }

        #[test]
        fn timestamps_read_as_chrono_reads_them(
            text in "[ ]?[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?([Zz]|[+-]0[0-9]:[0-5][0-9])?[ ]?"
        ) {
            let chrono = DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| t.with_timezone(&Utc));
            prop_assert_eq!(parse_timestamp(&text), chrono);
        }

        #[test]
        fn any_heartbeat_string_reads_as_serde_json_reads_it(
            text in prop_oneof![
                // Mostly valid timestamps, in every form RFC 3339 allows and a few it does not.
                "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,12})?([Zz]|[+-](0[0-9]|1[0-2]):?[0-5][0-9])?",
                "[0-9T:.Z+ \\\\\"\t\u{0}-\u{1f}\u{7f}é-]{0,40}",
                any::<String>(),
            ],
        ) {
            let data = format!(r#"{{"timestamp":"{text}"}}"#);
            prop_assert_eq!(heartbeat_timestamp(&data), heartbeat_timestamp_json(&data));
        }

        #[test]
        fn truncated_is_a_prefix_of_whole_characters(text in ".{0,40}", max in 0usize..50) {
            let cut = truncated(&text, max);
            prop_assert!(text.starts_with(cut));
            prop_assert_eq!(cut.chars().count(), text.chars().count().min(max));
        }
    }
}
