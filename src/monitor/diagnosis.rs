//! Diagnosis: detectors read the model and name what is wrong, with evidence.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

use super::Monitor;

/// Tunable limits of the detectors. Defaults fit SignalDock (heartbeat every 15–30 s).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// The heartbeat interval the server is expected to keep: shortest and longest.
    pub heartbeat_min: Duration,
    pub heartbeat_max: Duration,
    /// How long a message may be in the inbox without reaching the stream before it is a gap.
    pub delivery_grace: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            heartbeat_min: Duration::from_secs(15),
            heartbeat_max: Duration::from_secs(30),
            delivery_grace: Duration::from_secs(10),
        }
    }
}

impl Thresholds {
    /// The same thresholds for a simulator that plays `time_scale` simulated seconds per second.
    pub fn scaled(&self, time_scale: f64) -> Thresholds {
        let f = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        let s = |d: Duration| d.div_f64(f);
        Thresholds {
            heartbeat_min: s(self.heartbeat_min),
            heartbeat_max: s(self.heartbeat_max),
            delivery_grace: s(self.delivery_grace),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// What a finding is about. The kebab-case names are an interface (JSON, reports, scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    HeartbeatFlood,
    HeartbeatStale,
    ShortSessions,
    ProxyIdleTimeout,
    DeliveryGap,
    StreamStalled,
    ProxyBuffering,
    AuthFailed,
    NotFound,
    RateLimited,
    ServerErrors,
    BadContentType,
    DuplicateDelivery,
    MalformedEvent,
    OversizedEvent,
    NetworkErrors,
    DeliveryLatency,
}

/// One conclusion, with the facts that support it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// One line.
    pub summary: String,
    /// Labelled facts, in the order a reader needs them.
    pub evidence: Vec<(String, serde_json::Value)>,
}

/// Every finding the detectors make of `m`, most severe first.
pub fn diagnose(m: &Monitor) -> Vec<Finding> {
    let _ = m;
    Vec::new()
}
