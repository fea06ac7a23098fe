//! The simulated inbox and its endpoints: `GET /messages/peek` and `POST /messages`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use uuid::Uuid;

use super::envelope::{ApiError, Code};
use super::{Scenario, Sim, moved_to};

/// Messages the simulated inbox keeps (the newest).
const INBOX_CAP: usize = 1000;
/// Messages replayed after a reconnect with `Last-Event-ID`, as the adapter's `replay_messages`.
const REPLAY_MAX: usize = 100;

/// One message of the simulated inbox.
#[derive(Debug, Clone)]
pub(super) struct Msg {
    pub(super) id: Uuid,
    pub(super) conversation: Uuid,
    /// The sender's agent id.
    pub(super) from: String,
    pub(super) to: String,
    pub(super) content: String,
    pub(super) created_at: DateTime<Utc>,
    /// When the server handed it to a stream; `None` while it is pending.
    pub(super) delivered_at: Option<DateTime<Utc>>,
}

/// The newest [`INBOX_CAP`] messages, oldest first.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    messages: VecDeque<Msg>,
}

impl Inbox {
    pub(super) fn push(&mut self, msg: Msg) {
        if self.messages.len() == INBOX_CAP {
            self.messages.pop_front();
        }
        self.messages.push_back(msg);
    }

    /// The messages still pending that landed after the one with id `last` (up to
    /// [`REPLAY_MAX`]), now marked delivered: what a reconnect with `Last-Event-ID` missed. An
    /// unknown or evicted id replays nothing.
    pub(super) fn take_missed(&mut self, last: &str, now: DateTime<Utc>) -> Vec<Msg> {
        let Some(after) = Uuid::parse_str(last.trim())
            .ok()
            .and_then(|last| self.messages.iter().position(|m| m.id == last))
        else {
            return Vec::new();
        };
        self.messages
            .iter_mut()
            .skip(after + 1)
            .filter(|m| m.delivered_at.is_none())
            .take(REPLAY_MAX)
            .map(|m| {
                m.delivered_at = Some(now);
                m.clone()
            })
            .collect()
    }

    fn newest(&self, limit: usize) -> Vec<Value> {
        self.messages.iter().rev().take(limit).map(record).collect()
    }
}

/// A message as `signaldock_core::Message` serializes: camelCase in field order, the empty
/// optional fields left out. This inbox never has attachments, metadata, a group, a reply or a
/// read time (peek never acknowledges), so those keys never appear.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    id: String,
    conversation_id: String,
    from_agent_id: &'a str,
    to_agent_id: &'a str,
    content: &'a str,
    content_type: &'static str,
    status: &'static str,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_at: Option<DateTime<Utc>>,
}

fn record(msg: &Msg) -> Value {
    let record = Record {
        id: msg.id.to_string(),
        conversation_id: msg.conversation.to_string(),
        from_agent_id: &msg.from,
        to_agent_id: &msg.to,
        content: &msg.content,
        content_type: "text",
        status: if msg.delivered_at.is_some() {
            "delivered"
        } else {
            "pending"
        },
        created_at: msg.created_at,
        delivered_at: msg.delivered_at,
    };
    serde_json::to_value(record).unwrap_or(Value::Null)
}

/// `GET /messages/peek`: moved away in `moved`, else the inbox.
pub(super) async fn peek(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    uri: Uri,
    query: Query<HashMap<String, String>>,
) -> Response {
    if sim.config.scenario == Scenario::Moved {
        return moved_to(super::MOVED_PEEK, &uri);
    }
    serve_peek(State(sim), headers, query).await
}

/// The newest `limit` messages (50 by default, at most 200), newest first. Peek never
/// acknowledges anything.
pub(super) async fn serve_peek(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = sim.refusal(&headers) {
        return refused;
    }
    match sim.config.scenario {
        Scenario::Rejected => return ApiError::rejected().into_response(),
        Scenario::Flaky if sim.peek_chance(0.1) => {
            return ApiError::new(Code::InternalService, "upstream unavailable")
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
                .into_response();
        }
        _ => {}
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 200);
    let messages = sim.inbox().newest(limit);
    axum::Json(json!({"success": true, "data": {"messages": messages}})).into_response()
}

/// `POST /messages` `{"toAgentId","content","contentType"}` → 201 with the stored record; a
/// message to the simulated agent itself lands in its inbox (probes).
pub(super) async fn post_message(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = sim.refusal(&headers) {
        return refused;
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return ApiError::new(Code::ValidationSchema, "body is not JSON").into_response();
    };
    let (Some(to), Some(content)) = (req["toAgentId"].as_str(), req["content"].as_str()) else {
        return ApiError::new(
            Code::ValidationMissingField,
            "toAgentId and content are required",
        )
        .into_response();
    };
    let msg = Msg {
        id: Uuid::new_v4(),
        conversation: sim.own_conversation,
        from: sim.config.agent.clone(),
        to: to.into(),
        content: content.into(),
        created_at: Utc::now(),
        delivered_at: None,
    };
    let stored = if to == sim.config.agent {
        sim.land(msg)
    } else {
        msg
    };
    (
        StatusCode::CREATED,
        axum::Json(json!({"success": true, "data": {"message": record(&stored)}})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u128) -> Msg {
        Msg {
            id: Uuid::from_u128(n),
            conversation: Uuid::from_u128(0),
            from: "agent-ops".into(),
            to: "demo".into(),
            content: format!("m{n}"),
            created_at: Utc::now(),
            delivered_at: None,
        }
    }

    #[test]
    fn the_inbox_keeps_the_newest_up_to_its_cap() {
        let mut inbox = Inbox::default();
        for n in 0..(INBOX_CAP as u128 + 5) {
            inbox.push(msg(n));
        }
        assert_eq!(inbox.messages.len(), INBOX_CAP);
        assert_eq!(inbox.messages[0].id, Uuid::from_u128(5));
        assert_eq!(inbox.newest(1)[0]["content"], format!("m{}", INBOX_CAP + 4));
    }

    #[test]
    fn replay_takes_only_pending_messages_after_the_last_id_and_at_most_a_hundred() {
        let mut inbox = Inbox::default();
        for n in 0..150 {
            let mut m = msg(n);
            if n == 3 {
                m.delivered_at = Some(Utc::now());
            }
            inbox.push(m);
        }
        let last = Uuid::from_u128(1).to_string();
        let missed = inbox.take_missed(&last, Utc::now());
        let ids: Vec<u128> = missed.iter().map(|m| m.id.as_u128()).collect();
        assert_eq!(ids.len(), REPLAY_MAX);
        assert_eq!(&ids[..3], &[2, 4, 5], "the delivered one is not replayed");
        let again = inbox.take_missed(&last, Utc::now());
        assert_eq!(
            again.first().map(|m| m.id.as_u128()),
            Some(103),
            "replayed messages count as delivered"
        );
        assert!(inbox.take_missed("not-a-uuid", Utc::now()).is_empty());
        assert!(
            inbox
                .take_missed(&Uuid::from_u128(999).to_string(), Utc::now())
                .is_empty()
        );
    }

    #[test]
    fn a_record_has_the_core_message_keys_and_leaves_out_empty_ones() {
        let mut m = msg(7);
        let pending = record(&m);
        assert_eq!(pending["status"], "pending");
        assert!(pending.get("deliveredAt").is_none());
        assert!(pending["createdAt"].as_str().unwrap().ends_with('Z'));
        m.delivered_at = Some(Utc::now());
        let delivered = record(&m);
        assert_eq!(delivered["status"], "delivered");
        let keys: Vec<&str> = delivered
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "id",
            "conversationId",
            "fromAgentId",
            "toAgentId",
            "content",
            "contentType",
            "status",
            "createdAt",
            "deliveredAt",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
    }
}
