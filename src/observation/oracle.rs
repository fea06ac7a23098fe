//! The derived `Observation` and `Kind` as they were before `line` (a flattened, internally
//! tagged `Kind`): the oracle of the recording format. The tests of `line` hold the new code to
//! it, and the recording benchmark decodes with it as its same-run baseline, so it is one file
//! that both include; the includer brings the types below into scope.
#![allow(
    dead_code,
    reason = "an oracle: its fields are read through serde only"
)]

use super::{AgentIx, ApiError, CloseReason, Mono, NetErrorClass, Route, WireMessage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Observation {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub agent: AgentIx,
    #[serde(flatten)]
    pub kind: Kind,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Kind {
    ConnectAttempt {
        session: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_event_id: Option<String>,
    },
    LastEventIdUnsent {
        session: u64,
        id: String,
    },
    Redirected {
        route: Route,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<u64>,
        status: u16,
        from: String,
        to: String,
        cross_origin: bool,
    },
    StreamResponse {
        session: u64,
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_encoding: Option<String>,
        ttfb_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ApiError>,
    },
    ConnectFailed {
        session: u64,
        class: NetErrorClass,
        error: String,
    },
    SseEvent {
        session: u64,
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_ms: Option<u64>,
    },
    SseComment {
        session: u64,
        text: String,
    },
    OversizedEvent {
        session: u64,
        bytes: u64,
        limit: u64,
    },
    StreamClosed {
        session: u64,
        reason: CloseReason,
    },
    RetryScheduled {
        delay_ms: u64,
        reason: String,
    },
    ReconnectStopped {
        session: u64,
        reason: String,
    },
    PollOk {
        elapsed_ms: u64,
        messages: Vec<WireMessage>,
        #[serde(default, skip_serializing_if = "is_zero")]
        unreadable: u32,
    },
    PollFailed {
        elapsed_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<NetErrorClass>,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_error: Option<ApiError>,
    },
    ProbeSent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "is_zero")]
        post_ms: u64,
    },
    Tick,
}
