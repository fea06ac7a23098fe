//! The delivery family: messages polling sees that the stream never carried, messages the stream
//! carried twice, and how fast it delivers when it does.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::time::Duration;

use super::{Finding, FindingKind, Severity, ev, median, min_max, secs, shown_s};
use crate::monitor::Monitor;
use crate::monitor::connection::ConnState;
use crate::monitor::inbox::Sighting;
use crate::observation::Mono;
use crate::sanitize;

/// Streamed messages needed before their latency is worth a finding.
const LATENCY_SAMPLES: usize = 3;
/// Message ids shown as examples.
const EXAMPLE_IDS: usize = 5;

/// When the stream had had its chance to deliver a message polled at `polled`: a session open at
/// the poll stayed open for the grace after it, or a session that opened after the poll (and would
/// have replayed it with Last-Event-ID) has been open longer than the grace. None while it has
/// not: while the stream is down, waiting is expected.
fn chance_given(m: &Monitor, polled: Mono) -> Option<Mono> {
    let grace = m.thresholds.delivery_grace;
    m.connection
        .sessions
        .iter()
        .filter_map(|s| {
            let opened = s.opened?;
            if opened <= polled {
                let stayed = s.ended.is_none_or(|end| end.since(polled) >= grace);
                stayed.then(|| polled.plus(grace))
            } else {
                (m.now.since(opened) > grace).then(|| opened.plus(grace))
            }
        })
        .min()
}

/// How far the server's clock runs behind ours: the least delay a heartbeat's payload time shows
/// (a network's delay adds to it, so it is an upper bound). Zero without heartbeats, or when the
/// server's clock runs ahead.
fn server_clock_lag(m: &Monitor) -> Duration {
    m.heartbeats
        .recent
        .iter()
        .filter_map(|b| (b.wall - b.sent?).to_std().ok())
        .min()
        .unwrap_or_default()
}

/// When a message polled at `polled` entered the inbox, on our clock: its `createdAt`, read
/// against ours through the heartbeats' clock lag. The poll itself when it has none, or when the
/// server's clock puts it after the poll.
fn entered(created: Option<DateTime<Utc>>, polled: Sighting, lag: Duration) -> Mono {
    let before_poll = created
        .and_then(|c| (polled.wall - c).to_std().ok())
        .map_or(Duration::ZERO, |d| d.saturating_sub(lag));
    polled.t.saturating_sub(before_poll)
}

/// Messages the inbox shows that the stream has not delivered, past the grace period.
pub(super) fn gap(m: &Monitor) -> Option<Finding> {
    // The stream may deliver late (a buffering proxy): a message is lost, not late, once it has
    // waited longer than the latest delivery seen so far, plus the grace.
    let latest_delivery = m
        .inbox
        .newest_first()
        .filter_map(super::super::inbox::InboxEntry::stream_lead)
        .filter(|lead| *lead > 0)
        .max()
        .map_or(Duration::ZERO, |ms| Duration::from_millis(ms as u64));
    let grace = m.thresholds.delivery_grace + latest_delivery;
    let lag = server_clock_lag(m);
    // Each late message, with when it became late: the grace since it entered the inbox ran out
    // while the stream had its chance, known no earlier than the peek that showed it.
    let late: Vec<_> = m
        .inbox
        .only_polled()
        .filter_map(|e| {
            let polled = e.polled?;
            let entered = entered(e.message.created_at, polled, lag);
            if m.now.since(entered) <= grace {
                return None;
            }
            let chance = chance_given(m, entered)?;
            let late_at = chance.max(entered.plus(grace)).max(polled.t);
            Some((e, polled, entered, late_at))
        })
        .collect();
    let oldest = late
        .iter()
        .map(|(_, _, entered, _)| m.now.since(*entered))
        .max()?;
    let ids: Vec<String> = late
        .iter()
        .take(EXAMPLE_IDS)
        .map(|(e, ..)| sanitize::line(&e.key).into_owned())
        .collect();
    let t = &m.thresholds;
    Some(Finding {
        kind: FindingKind::DeliveryGap,
        severity: Severity::Error,
        first_seen: late.iter().map(|(_, polled, ..)| polled.wall).min(),
        last_seen: Some(m.now_wall),
        raised_at: late.iter().map(|(.., late_at)| m.wall_at(*late_at)).min(),
        summary: format!(
            "{} reachable by polling never arrived on the stream (oldest waiting {:.0} s)",
            count(late.len(), "message", "messages"),
            shown_s(t, oldest)
        ),
        evidence: ev(&[
            ("messages_only_polled", json!(late.len())),
            ("oldest_wait_s", secs(t, oldest)),
            ("grace_s", secs(t, t.delivery_grace)),
            ("latest_stream_delivery_s", secs(t, latest_delivery)),
            ("server_clock_lag_s", secs(t, lag)),
            ("example_ids", json!(ids)),
            ("messages_streamed_total", json!(m.inbox.streamed_total)),
            (
                "stream_open_now",
                json!(matches!(m.connection.state, ConnState::Open { .. })),
            ),
        ]),
    })
}

/// Messages the stream delivered more than once.
pub(super) fn duplicates(m: &Monitor) -> Option<Finding> {
    let first = m.inbox.first_duplicate?;
    let count = m.inbox.stream_duplicates;
    let ids: Vec<String> = m
        .inbox
        .newest_first()
        .filter(|e| e.stream_duplicates > 0)
        .take(EXAMPLE_IDS)
        .map(|e| sanitize::line(&e.key).into_owned())
        .collect();
    Some(Finding {
        kind: FindingKind::DuplicateDelivery,
        severity: Severity::Warning,
        first_seen: Some(first.wall),
        last_seen: Some(m.now_wall),
        raised_at: Some(first.wall),
        summary: format!(
            "{count} messages delivered more than once on the stream (a Last-Event-ID replay after a reconnect is the usual cause)"
        ),
        evidence: ev(&[("duplicates", json!(count)), ("example_ids", json!(ids))]),
    })
}

/// Info: how fast the stream delivers, when it does.
pub(super) fn latency(m: &Monitor) -> Option<Finding> {
    let delivered: Vec<_> = m
        .inbox
        .newest_first()
        .filter_map(|e| Some((e.streamed?.wall, e.delivery_latency()?)))
        .collect();
    if delivered.len() < LATENCY_SAMPLES {
        return None;
    }
    let lat: Vec<f64> = delivered
        .iter()
        .map(|(_, l)| l.num_milliseconds() as f64)
        .collect();
    let leads: Vec<f64> = m
        .inbox
        .newest_first()
        .filter_map(super::super::inbox::InboxEntry::stream_lead)
        .map(|l| l as f64)
        .collect();
    let mut arrivals: Vec<_> = delivered.iter().map(|(wall, _)| *wall).collect();
    arrivals.sort();
    // Milliseconds, in the watched system's time.
    let t = &m.thresholds;
    let ms = |real_ms: f64| (t.shown_secs(real_ms / 1000.0) * 1000.0).round();
    let max = ms(min_max(&lat).1);
    let med = ms(median(lat.clone()));
    Some(Finding {
        kind: FindingKind::DeliveryLatency,
        severity: Severity::Info,
        first_seen: None,
        last_seen: Some(m.now_wall),
        raised_at: Some(arrivals[LATENCY_SAMPLES - 1]),
        summary: format!(
            "stream delivery latency median {med:.0} ms, max {max:.0} ms over {} messages",
            lat.len()
        ),
        evidence: ev(&[
            ("messages", json!(lat.len())),
            ("median_ms", json!(med)),
            ("max_ms", json!(max)),
            (
                "median_stream_lead_over_poll_ms",
                json!(if leads.is_empty() {
                    Value::Null
                } else {
                    json!(ms(-median(leads)))
                }),
            ),
        ]),
    })
}

/// `1 message`, `3 messages`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Probes sent to the agent itself that never reached the stream within the grace, while it had
/// its chance: the definite form of a delivery gap, on demand.
pub(super) fn probe_lost(m: &Monitor) -> Option<Finding> {
    let grace = m.thresholds.delivery_grace;
    let lost: Vec<_> = m.probes.lost(m.now, grace).collect();
    let first = lost.first()?;
    let in_peek = lost.iter().filter(|p| p.poll_rtt.is_some()).count();
    let ids: Vec<String> = lost
        .iter()
        .take(EXAMPLE_IDS)
        .map(|p| sanitize::line(&p.id).into_owned())
        .collect();
    Some(Finding {
        kind: FindingKind::ProbeLost,
        severity: Severity::Error,
        first_seen: Some(first.sent_wall),
        last_seen: Some(m.now_wall),
        raised_at: Some(m.wall_at(first.sent.plus(grace))),
        summary: format!(
            "{} of {} sent never reached the stream within {} ({in_peek} seen by peek)",
            count(lost.len(), "probe", "probes"),
            m.probes.sent(),
            crate::monitor::verdict::fmt_duration(m.thresholds.shown(grace)),
        ),
        evidence: ev(&[
            ("probes_lost", json!(lost.len())),
            ("probes_sent", json!(m.probes.sent())),
            ("lost_seen_by_peek", json!(in_peek)),
            ("grace_s", secs(&m.thresholds, grace)),
            ("probe_ids", json!(ids)),
        ]),
    })
}

/// Info: the round trips of the probes that made it, to the stream and to peek.
pub(super) fn probe_round_trips(m: &Monitor) -> Option<Finding> {
    let stream = m.probes.stream_round_trips();
    if stream.count == 0 {
        return None;
    }
    let poll = m.probes.poll_round_trips();
    let show = |ms: Option<u64>| {
        ms.map_or("–".into(), |ms| {
            crate::monitor::verdict::fmt_duration(m.thresholds.shown(Duration::from_millis(ms)))
        })
    };
    let first = m.probes.recent.iter().find(|p| p.stream_rtt.is_some())?;
    Some(Finding {
        kind: FindingKind::ProbeRoundTrips,
        severity: Severity::Info,
        first_seen: Some(first.sent_wall),
        last_seen: Some(m.now_wall),
        raised_at: first.stream_rtt.map(|rtt| m.wall_at(first.sent.plus(rtt))),
        summary: format!(
            "{} round-tripped: stream p50 {} p95 {} max {}; peek p50 {} p95 {} max {}",
            count(stream.count, "probe", "probes"),
            show(stream.p50_ms),
            show(stream.p95_ms),
            show(stream.max_ms),
            show(poll.p50_ms),
            show(poll.p95_ms),
            show(poll.max_ms),
        ),
        evidence: ev(&[
            ("stream_round_trips", json!(stream)),
            ("peek_round_trips", json!(poll)),
            ("probes_sent", json!(m.probes.sent())),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::CloseReason;
    use crate::testkit::{Timeline, evidence};

    #[test]
    fn delivery_gap_after_the_grace_and_only_when_the_stream_had_a_chance() {
        let mut t = Timeline::new();
        t.poll(0, &[("old", 0)])
            .open(100, 1)
            .heartbeat(200, 1, 200)
            .poll(1000, &[("old", 0), ("new", 900)]);
        t.tick(10_900);
        assert!(
            !t.has(FindingKind::DeliveryGap),
            "10 s since it was created is within the grace"
        );
        t.tick(11_100);
        let f = t.find(FindingKind::DeliveryGap).expect("10.2 s is past it");
        assert_eq!(f.first_seen, Some(t.wall(1000)), "polled");
        assert_eq!(f.raised_at, Some(t.wall(10_900)), "created + the grace");
        assert!(
            !t.m.inbox.get("old").unwrap().only_polled(),
            "the first poll's messages are preexisting"
        );
        t.message(11_200, 1, "new", 11_200);
        assert!(
            !t.has(FindingKind::DeliveryGap),
            "streamed late is no longer a gap"
        );

        let mut down = Timeline::new();
        down.poll(0, &[])
            .open(100, 1)
            .close(200, 1, CloseReason::Eof)
            .poll(1000, &[("m", 900)])
            .tick(30_000);
        assert!(
            !down.has(FindingKind::DeliveryGap),
            "the stream was down: it had no chance"
        );
    }

    /// Polls at 0 s (nothing) and at `polled_ms` (`m`, created at `created_ms`), a session open
    /// from 100 ms.
    fn polled_late(polled_ms: u64, created_ms: u64) -> Timeline {
        let mut t = Timeline::new();
        t.poll(0, &[]).open(100, 1).heartbeat(200, 1, 200);
        t.poll(polled_ms, &[("m", created_ms)]);
        t
    }

    #[test]
    fn a_gap_is_dated_to_when_the_grace_since_its_creation_ran_out() {
        // Created at 2 s, first polled at 5 s: late at 12 s, not at 5 s + the grace.
        let mut t = polled_late(5000, 2000);
        t.tick(12_000);
        assert!(!t.has(FindingKind::DeliveryGap), "exactly the grace");
        t.tick(12_100);
        let f = t.find(FindingKind::DeliveryGap).expect("the grace ran out");
        assert_eq!(f.raised_at, Some(t.wall(12_000)));
        assert_eq!(f.first_seen, Some(t.wall(5000)), "the peek that showed it");
        assert_eq!(evidence(&f, "oldest_wait_s"), 10.1);
    }

    #[test]
    fn a_message_first_polled_past_its_grace_is_late_at_that_peek() {
        let mut t = polled_late(20_000, 1000);
        t.tick(20_000);
        let f = t
            .find(FindingKind::DeliveryGap)
            .expect("19 s since it was created");
        assert_eq!(f.raised_at, Some(t.wall(20_000)), "not before the peek");
    }

    #[test]
    fn a_server_clock_behind_ours_does_not_age_its_messages() {
        // The server's clock is 60 s behind ours: read raw, `m` would be 61 s old when polled at
        // 105 s. The heartbeat shows the lag: it is 1 s old, and streamed 2 s later it is no gap.
        let behind = |t: &mut Timeline| {
            t.poll(0, &[]).open(100, 1).heartbeat(100_000, 1, 40_000);
            t.poll(105_000, &[("m", 44_000)]);
        };
        let mut t = Timeline::new();
        behind(&mut t);
        t.tick(105_000);
        assert!(!t.has(FindingKind::DeliveryGap), "{:?}", t.alarms());
        t.tick(113_900);
        assert!(!t.has(FindingKind::DeliveryGap), "9.9 s since created");
        t.tick(114_100);
        let f = t
            .find(FindingKind::DeliveryGap)
            .expect("10.1 s since created");
        assert_eq!(f.raised_at, Some(t.wall(114_000)));
        assert_eq!(evidence(&f, "server_clock_lag_s"), 60.0);
        let mut streamed = Timeline::new();
        behind(&mut streamed);
        streamed.message(107_000, 1, "m", 44_000).tick(130_000);
        assert!(!streamed.has(FindingKind::DeliveryGap));
    }

    #[test]
    fn a_server_clock_ahead_of_ours_waits_the_grace_from_the_peek() {
        // createdAt 30 s after the peek that listed it: the peek is the earliest it entered.
        let mut t = Timeline::new();
        t.poll(0, &[]).open(100, 1).poll(5000, &[("m", 35_000)]);
        t.tick(15_000);
        assert!(!t.has(FindingKind::DeliveryGap));
        t.tick(15_100);
        let f = t.find(FindingKind::DeliveryGap).unwrap();
        assert_eq!(f.raised_at, Some(t.wall(15_000)));
    }

    #[test]
    fn duplicates_are_raised_by_the_first_second_copy() {
        let mut t = Timeline::new();
        t.open(0, 1).message(10, 1, "a", 10).message(20, 1, "b", 20);
        assert!(!t.has(FindingKind::DuplicateDelivery));
        t.message(30, 1, "a", 10).message(40, 1, "a", 10);
        let f = t.find(FindingKind::DuplicateDelivery).unwrap();
        assert_eq!(evidence(&f, "duplicates"), 2);
        assert_eq!(evidence(&f, "example_ids"), &serde_json::json!(["a"]));
        assert_eq!(f.first_seen, Some(t.wall(30)));
        assert_eq!(f.raised_at, Some(t.wall(30)));
    }

    #[test]
    fn latency_is_raised_by_the_third_streamed_message() {
        let mut t = Timeline::new();
        t.open(0, 1);
        for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
            let at = 100 * (i as u64 + 1);
            t.message(at, 1, id, at - 40);
        }
        let f = t.find(FindingKind::DeliveryLatency).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(evidence(&f, "messages"), 4);
        assert_eq!(evidence(&f, "median_ms"), 40.0);
        assert_eq!(f.raised_at, Some(t.wall(300)));
    }

    #[test]
    fn a_lost_probe_is_named_and_a_delivered_one_gives_round_trips() {
        use crate::observation::Kind;
        let probe = |t: &mut Timeline, ms: u64, id: &str| {
            t.at(
                ms,
                Kind::ProbeSent {
                    id: Some(id.into()),
                    error: None,
                    post_ms: 20,
                },
            );
        };
        let mut t = Timeline::new();
        t.open(0, 1);
        probe(&mut t, 1_020, "p-ok");
        t.message(1_100, 1, "p-ok", 1_000);
        probe(&mut t, 2_020, "p-lost");
        t.poll(3_000, &[("p-ok", 1_000), ("p-lost", 2_000)]);
        t.tick(2_000 + 9_000);
        assert!(!t.has(FindingKind::ProbeLost), "still within the grace");
        t.tick(2_000 + 10_500);
        let lost = t.find(FindingKind::ProbeLost).expect("probe-lost");
        assert_eq!(lost.severity, Severity::Error);
        assert!(
            lost.summary.starts_with("1 probe of 2 sent"),
            "{}",
            lost.summary
        );
        let rtt = t.find(FindingKind::ProbeRoundTrips).expect("round trips");
        assert!(rtt.summary.contains("stream p50 100 ms"), "{}", rtt.summary);
    }
}
