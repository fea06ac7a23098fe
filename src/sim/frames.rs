//! The bytes on the wire: SSE frames exactly as `signaldock-transport`'s `SseAdapter` writes
//! them, and what a route, an intermediary or the seed outage's server made of them.
//!
//! The adapter builds its message payload with `serde_json`'s `json!`, whose map (without the
//! `preserve_order` feature) sorts keys; the keys here are written in that order, so the output
//! is the same with or without the feature. Timestamps are chrono's `to_rfc3339()`: nanoseconds
//! as far as needed and `+00:00`, never `Z`.

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::inbox::Msg;

/// axum's `KeepAlive` comment (`Event::DEFAULT_KEEP_ALIVE`), for routes that add one.
pub(super) const KEEP_ALIVE: &[u8] = b":\n\n";

/// `send_heartbeat`: no `id:` line.
pub(super) fn heartbeat(at: DateTime<Utc>) -> Bytes {
    Bytes::from(format!(
        "event: heartbeat\ndata: {{\"timestamp\":\"{}\"}}\n\n",
        at.to_rfc3339()
    ))
}

/// `deliver` and `replay_messages`: the same frame for a live and a replayed message.
pub(super) fn message(msg: &Msg) -> Bytes {
    let payload = json!({
        "attachments": [],
        "content": msg.content,
        "contentType": "text",
        "conversationId": msg.conversation.to_string(),
        "createdAt": msg.created_at.to_rfc3339(),
        "from": msg.from,
        "messageId": msg.id.to_string(),
    });
    Bytes::from(format!(
        "id: {}\nevent: message\ndata: {payload}\n\n",
        msg.id
    ))
}

/// `frame` sent again as the data of an outer event, as a route that hands the adapter's text to
/// axum's `Event::data` does: each line, the two empty ones that end the frame included, becomes a
/// `data: ` line, so the outer event's data is the inner frame.
pub(super) fn double_framed(frame: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(frame.len() + 48);
    for line in frame.split(|&b| b == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    Bytes::from(out)
}

/// The seed outage's server opened every stream with this event; the adapter never sends one.
pub(super) fn connected(agent: &str, at: DateTime<Utc>) -> Bytes {
    let payload = json!({"agentId": agent, "connectedAt": at.to_rfc3339()});
    Bytes::from(format!("event: connected\ndata: {payload}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 14, 34, 17).unwrap()
            + chrono::Duration::nanoseconds(698_693_673)
    }

    #[test]
    fn heartbeat_is_the_adapters_frame() {
        assert_eq!(
            heartbeat(at()),
            "event: heartbeat\ndata: {\"timestamp\":\"2026-11-25T14:34:17.698693673+00:00\"}\n\n"
        );
    }

    #[test]
    fn message_keys_are_alphabetical_and_from_is_the_agent_id() {
        let msg = Msg {
            id: Uuid::from_u128(1),
            conversation: Uuid::from_u128(2),
            from: "agent-ops".into(),
            to: "demo".into(),
            content: "say \"hi\"\n".into(),
            created_at: at(),
            delivered_at: None,
        };
        assert_eq!(
            message(&msg),
            "id: 00000000-0000-0000-0000-000000000001\nevent: message\n\
             data: {\"attachments\":[],\"content\":\"say \\\"hi\\\"\\n\",\"contentType\":\"text\",\
             \"conversationId\":\"00000000-0000-0000-0000-000000000002\",\
             \"createdAt\":\"2026-11-25T14:34:17.698693673+00:00\",\"from\":\"agent-ops\",\
             \"messageId\":\"00000000-0000-0000-0000-000000000001\"}\n\n"
        );
    }

    #[test]
    fn double_framing_makes_every_inner_line_a_data_line() {
        assert_eq!(
            double_framed(b"id: 1\nevent: message\ndata: {}\n\n"),
            "data: id: 1\ndata: event: message\ndata: data: {}\ndata: \ndata: \n\n"
        );
    }
}
