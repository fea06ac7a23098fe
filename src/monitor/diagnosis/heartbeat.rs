//! The heartbeat family: a flood, a buffering intermediary, a stalled stream, a stream that never
//! carried a heartbeat, a stale heartbeat.

use serde_json::json;
use std::time::Duration;

use super::sessions::ended_ages;
use super::{Finding, FindingKind, Severity, ev, median, min_max, secs, secs_of, shown_s};
use crate::monitor::Monitor;
use crate::monitor::connection::{ConnState, SessionEnd};
use crate::monitor::log::EntryKind;
use crate::monitor::rate::Heartbeat;
use crate::observation::{CloseReason, Mono};

/// The densest run of heartbeats: at least `flood_beats` received within `heartbeat_min`.
fn densest_burst(m: &Monitor) -> Option<Vec<&Heartbeat>> {
    let beats: Vec<_> = m.heartbeats.recent.iter().collect();
    let window = m.thresholds.heartbeat_min;
    let mut best: Option<(usize, usize)> = None;
    let mut lo = 0;
    for hi in 0..beats.len() {
        while beats[hi].t.since(beats[lo].t) > window {
            lo += 1;
        }
        if hi + 1 - lo >= m.thresholds.flood_beats && best.is_none_or(|(a, b)| hi - lo > b - a) {
            best = Some((lo, hi));
        }
    }
    let (lo, hi) = best?;
    Some(beats[lo..=hi].to_vec())
}

/// Seconds between consecutive heartbeats as received, and as their payloads say they were sent.
fn spacings(beats: &[&Heartbeat]) -> (Vec<f64>, Vec<f64>) {
    let received = beats
        .windows(2)
        .map(|w| w[1].t.since(w[0].t).as_secs_f64())
        .collect();
    let sent = beats
        .windows(2)
        .filter_map(|w| Some((w[1].sent? - w[0].sent?).num_milliseconds() as f64 / 1000.0))
        .collect();
    (received, sent)
}

/// Many heartbeats far faster than expected, and the server really sent them that fast
/// (payload timestamps as tight as the receive times).
pub(super) fn flood(m: &Monitor) -> Option<Finding> {
    let beats = densest_burst(m)?;
    let (recv_gaps, sent_gaps) = spacings(&beats);
    let min_interval = m.thresholds.heartbeat_min.as_secs_f64();
    // Payload spacing near the receive spacing: the server sent them this fast.
    if !sent_gaps.is_empty() && median(sent_gaps.clone()) > min_interval / 2.0 {
        return None;
    }
    let t = &m.thresholds;
    let (first, last) = (beats[0], beats[beats.len() - 1]);
    // The burst became a flood at its `flood_beats`-th heartbeat.
    let raised = beats[m.thresholds.flood_beats.clamp(1, beats.len()) - 1];
    let span = last.t.since(first.t);
    let bursts = m
        .connection
        .sessions
        .iter()
        .filter(|s| s.heartbeats as usize >= m.thresholds.flood_beats)
        .count();
    Some(Finding {
        kind: FindingKind::HeartbeatFlood,
        severity: Severity::Error,
        first_seen: Some(first.wall),
        last_seen: m.heartbeats.last().map(|b| b.wall),
        raised_at: Some(raised.wall),
        summary: format!(
            "{} heartbeats in {:.1} s where at most 1 per {:.1} s is expected",
            beats.len(),
            shown_s(t, span),
            shown_s(t, t.heartbeat_min)
        ),
        evidence: ev(&[
            ("heartbeats_in_burst", json!(beats.len())),
            ("burst_window_s", secs(t, span)),
            ("min_spacing_s", secs_of(t, min_max(&recv_gaps).0)),
            ("median_spacing_s", secs_of(t, median(recv_gaps))),
            ("median_payload_spacing_s", secs_of(t, median(sent_gaps))),
            (
                "expected_interval_s",
                json!([secs(t, t.heartbeat_min), secs(t, t.heartbeat_max)]),
            ),
            ("sessions_with_a_burst", json!(bursts)),
            ("heartbeats_total", json!(m.heartbeats.total())),
            ("first_heartbeat_of_burst", json!(first.wall.to_rfc3339())),
        ]),
    })
}

/// Sent at least `apart` after `a`, yet received less than a tenth of that after it.
fn held_together(a: &Heartbeat, b: &Heartbeat, apart: Duration) -> bool {
    let (Some(a_sent), Some(b_sent)) = (a.sent, b.sent) else {
        return false;
    };
    let sent = (b_sent - a_sent).to_std().unwrap_or_default();
    sent >= apart && b.t.since(a.t) * 10 < sent
}

/// Seconds from the payload's timestamp to receipt.
fn delay_s(b: &Heartbeat) -> f64 {
    (b.wall - b.sent.unwrap_or(b.wall)).num_milliseconds() as f64 / 1000.0
}

/// Receive times bunched while payload timestamps are spread: something between server and
/// client holds events and flushes them together.
pub(super) fn buffering(m: &Monitor) -> Option<Finding> {
    let beats: Vec<_> = m
        .heartbeats
        .recent
        .iter()
        .filter(|b| b.sent.is_some())
        .collect();
    let half = m.thresholds.heartbeat_min / 2;
    let (mut bunched, mut first, mut raised) = (0, None, None);
    let (mut least_delay, mut most_delay) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, b) in beats.iter().enumerate() {
        least_delay = least_delay.min(delay_s(b));
        most_delay = most_delay.max(delay_s(b));
        if let Some(prev) = i.checked_sub(1).map(|p| beats[p])
            && held_together(prev, b, half)
        {
            bunched += 1;
            first.get_or_insert(prev.wall);
        }
        // One burst is the evidence: a pair sent apart and received together, one of them held
        // half an interval longer than the other. Both only grow: the first heartbeat at which
        // both hold is when it was clear.
        if raised.is_none() && bunched >= 1 && most_delay - least_delay >= half.as_secs_f64() {
            raised = Some(b.wall);
        }
    }
    raised?;
    let t = &m.thresholds;
    let spread = most_delay - least_delay;
    Some(Finding {
        kind: FindingKind::ProxyBuffering,
        severity: Severity::Warning,
        first_seen: first,
        last_seen: m.heartbeats.last().map(|b| b.wall),
        raised_at: raised,
        summary: format!(
            "events arrive in bursts: {bunched} heartbeats sent ≥{:.1} s apart arrived together (held up to {:.1} s)",
            shown_s(t, half),
            t.shown_secs(spread)
        ),
        evidence: ev(&[
            ("bunched_heartbeat_pairs", json!(bunched)),
            ("hold_spread_s", secs_of(t, spread)),
            ("max_delay_s", secs_of(t, most_delay)),
            (
                "hint",
                json!(
                    "an intermediary (proxy, CDN, load balancer) buffers the response: disable buffering for text/event-stream (e.g. X-Accel-Buffering: no)"
                ),
            ),
        ]),
    })
}

/// The last byte (event or comment) of session `id`, if the log still holds one. (Lifecycle
/// lines are skipped before judging sessions: a peek's are logged under session 0.)
fn last_activity(m: &Monitor, id: u64) -> Option<Mono> {
    m.log
        .entries
        .iter()
        .rev()
        .filter(|e| e.kind != EntryKind::Lifecycle)
        .take_while(|e| e.session >= id)
        .find(|e| e.session == id)
        .map(|e| e.t)
}

/// A session's stretch without a single byte.
struct Silence {
    session: u64,
    from: Mono,
    until: Mono,
    open_for: Duration,
}

impl Silence {
    fn length(&self) -> Duration {
        self.until.since(self.from)
    }
}

/// The open session's silence up to now.
fn current_silence(m: &Monitor) -> Option<Silence> {
    let ConnState::Open { session, since } = m.connection.state else {
        return None;
    };
    Some(Silence {
        session,
        from: last_activity(m, session).unwrap_or(since).max(since),
        until: m.now,
        open_for: m.now.since(since),
    })
}

/// The silence that made our read timeout end the last session.
fn timed_out_silence(m: &Monitor) -> Option<Silence> {
    let s = m.connection.ended_sessions().last()?;
    let Some(SessionEnd::Closed(CloseReason::Timeout { idle_ms })) = s.end else {
        return None;
    };
    let until = s.ended?;
    Some(Silence {
        session: s.id,
        from: until.saturating_sub(Duration::from_millis(idle_ms)),
        until,
        open_for: s.open_for(m.now).unwrap_or_default(),
    })
}

/// Open, and not a single byte for more than the longest normal silence — now, or in the last
/// session, which our read timeout had to end.
pub(super) fn stalled(m: &Monitor) -> Option<Finding> {
    let t = &m.thresholds;
    let limit = t.longest_normal_silence();
    // A fresh session after a read timeout has not been silent long yet: the last one tells.
    let silence = current_silence(m)
        .filter(|s| s.length() > limit)
        .or_else(|| timed_out_silence(m))
        .filter(|s| s.length() > limit)?;
    let silent = silence.length();
    let stalled_at = m.wall_at(silence.from.plus(limit));
    let timeouts = m
        .connection
        .ended_sessions()
        .filter(|s| matches!(s.end, Some(SessionEnd::Closed(CloseReason::Timeout { .. }))))
        .count();
    Some(Finding {
        kind: FindingKind::StreamStalled,
        severity: Severity::Error,
        first_seen: Some(stalled_at),
        last_seen: Some(m.now_wall),
        raised_at: Some(stalled_at),
        summary: format!(
            "stream open but silent for {:.1} s: no heartbeat, no keep-alive, no close",
            shown_s(t, silent)
        ),
        evidence: ev(&[
            ("session", json!(silence.session)),
            ("silent_for_s", secs(t, silent)),
            ("open_for_s", secs(t, silence.open_for)),
            ("limit_s", secs(t, limit)),
            ("sessions_ended_by_read_timeout", json!(timeouts)),
            (
                "hint",
                json!(
                    "the connection is half-open or stuck upstream: inboxtop's read timeout recovers it; a client without one would wait forever"
                ),
            ),
        ]),
    })
}

/// Not one heartbeat ever, though a session stayed open longer than a full band: the server
/// sends none (events or comments may have come), or none reaches us.
pub(super) fn no_heartbeat(m: &Monitor) -> Option<Finding> {
    if m.heartbeats.total() > 0 {
        return None;
    }
    let t = &m.thresholds;
    let band = t.heartbeat_max;
    let over_band: Vec<(Mono, Duration)> = m
        .connection
        .sessions
        .iter()
        .filter_map(|s| Some((s.opened?, s.open_for(m.now)?)))
        .filter(|(_, open)| *open > band)
        .collect();
    let (first_opened, _) = over_band.first()?;
    let longest = over_band.iter().map(|(_, open)| *open).max()?;
    let crossed = m.wall_at(first_opened.plus(band));
    Some(Finding {
        kind: FindingKind::NoHeartbeat,
        severity: Severity::Error,
        first_seen: Some(crossed),
        last_seen: Some(m.now_wall),
        raised_at: Some(crossed),
        summary: format!(
            "not one heartbeat: the stream stayed open {:.1} s, longer than the {:.1} s band, without one",
            shown_s(t, longest),
            shown_s(t, band)
        ),
        evidence: ev(&[
            ("sessions_open_past_the_band", json!(over_band.len())),
            ("longest_open_s", secs(t, longest)),
            (
                "expected_interval_s",
                json!([secs(t, t.heartbeat_min), secs(t, t.heartbeat_max)]),
            ),
            ("events", json!(m.events_total)),
            ("keepalive_comments", json!(m.comments_total)),
            (
                "hint",
                json!(
                    "the server sends no `event: heartbeat`, or none gets through: check that this is the SignalDock stream route with heartbeats on, and that sessions live longer than the heartbeat interval; keep-alive comments keep a connection open but say nothing of the server's heartbeat task"
                ),
            ),
        ]),
    })
}

/// Since when the open session has had no heartbeat.
fn quiet_since(m: &Monitor) -> Option<Mono> {
    let ConnState::Open { session, since } = m.connection.state else {
        return None;
    };
    let last_beat = m
        .heartbeats
        .last()
        .filter(|b| b.session == session)
        .map_or(since, |b| b.t);
    Some(last_beat.max(since))
}

/// No heartbeat for more than the longest normal silence while a stream was open: the current
/// session has been quiet that long, or two of the last three sessions lived that long without
/// one. (While the stream is down, missing heartbeats say nothing about the server's heartbeat.)
pub(super) fn stale(m: &Monitor) -> Option<Finding> {
    let t = &m.thresholds;
    let limit = t.longest_normal_silence();
    let quiet_now = quiet_since(m).filter(|from| m.now.since(*from) > limit);
    // Newest first.
    let silent_sessions: Vec<_> = ended_ages(m)
        .into_iter()
        .rev()
        .take(3)
        .filter(|(s, age)| s.heartbeats == 0 && *age > limit)
        .collect();
    if quiet_now.is_none() && silent_sessions.len() < 2 {
        return None;
    }
    let quiet = quiet_now.map_or_else(
        || {
            silent_sessions
                .iter()
                .map(|(_, a)| *a)
                .max()
                .unwrap_or_default()
        },
        |from| m.now.since(from),
    );
    let now_crossed = quiet_now.map(|from| m.wall_at(from.plus(limit)));
    let sessions_crossed = silent_sessions
        .iter()
        .filter_map(|(s, _)| Some(m.wall_at(s.opened?.plus(limit))));
    // Concluded when the current quiet passed the limit, or when the second silent session ended.
    let second_silent_end = silent_sessions
        .len()
        .checked_sub(2)
        .and_then(|i| silent_sessions[i].0.ended_wall);
    Some(Finding {
        kind: FindingKind::HeartbeatStale,
        severity: Severity::Warning,
        first_seen: now_crossed.into_iter().chain(sessions_crossed).min(),
        last_seen: Some(m.now_wall),
        raised_at: now_crossed.into_iter().chain(second_silent_end).min(),
        summary: format!(
            "no heartbeat for {:.1} s while the stream was open (expected one every {:.1}-{:.1} s)",
            shown_s(t, quiet),
            shown_s(t, t.heartbeat_min),
            shown_s(t, t.heartbeat_max)
        ),
        evidence: ev(&[
            ("quiet_for_s", secs(t, quiet)),
            ("sessions_without_a_heartbeat", json!(silent_sessions.len())),
            ("heartbeats_total", json!(m.heartbeats.total())),
            (
                "last_heartbeat",
                json!(m.heartbeats.last().map(|b| b.wall.to_rfc3339())),
            ),
            ("sessions_opened", json!(m.connection.opened_total)),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Route;
    use crate::testkit::{Timeline, evidence};

    /// `n` heartbeats 1 s apart, with payload timestamps spaced `sent_gap_ms`.
    fn beats(n: u64, sent_gap_ms: u64) -> Timeline {
        let mut t = Timeline::new();
        t.open(0, 1);
        for i in 0..n {
            t.heartbeat(1000 + i * 1000, 1, 1000 + i * sent_gap_ms);
        }
        t
    }

    #[test]
    fn flood_needs_five_fast_heartbeats_the_server_really_sent() {
        assert!(!beats(4, 1000).has(FindingKind::HeartbeatFlood));
        let five = beats(5, 1000);
        assert!(five.has(FindingKind::HeartbeatFlood));
        assert!(!five.has(FindingKind::ProxyBuffering));
        // Same receive times, payload timestamps 15 s apart: a buffer, not a flood.
        let held = beats(5, 15_000);
        assert!(!held.has(FindingKind::HeartbeatFlood));
        assert!(held.has(FindingKind::ProxyBuffering));
        let f = five.find(FindingKind::HeartbeatFlood).unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(evidence(&f, "heartbeats_in_burst"), 5);
    }

    #[test]
    fn a_flood_is_raised_at_the_fifth_heartbeat_of_its_burst() {
        let t = beats(7, 1000);
        let f = t.find(FindingKind::HeartbeatFlood).unwrap();
        assert_eq!(evidence(&f, "heartbeats_in_burst"), 7);
        assert_eq!(f.first_seen, Some(t.wall(1000)));
        assert_eq!(f.raised_at, Some(t.wall(5000)));
    }

    #[test]
    fn buffering_is_raised_when_the_first_pair_arrives_bunched() {
        // Sent 15 s apart, received 1 s apart: the pair ending at 2 s is bunched, and its delays
        // already spread by 14 s.
        let t = beats(5, 15_000);
        let f = t.find(FindingKind::ProxyBuffering).unwrap();
        assert_eq!(evidence(&f, "bunched_heartbeat_pairs"), 4);
        assert_eq!(f.first_seen, Some(t.wall(1000)));
        assert_eq!(f.raised_at, Some(t.wall(2000)));
    }

    #[test]
    fn silence_is_no_heartbeat_after_a_band_then_stalled() {
        let mut silent = Timeline::new();
        silent.open(0, 1).tick(30_000);
        assert!(
            silent.alarms().is_empty(),
            "exactly a band: {:?}",
            silent.alarms()
        );
        silent.tick(30_001);
        assert_eq!(silent.alarms(), vec![FindingKind::NoHeartbeat]);
        silent.tick(59_000);
        assert_eq!(
            silent.alarms(),
            vec![FindingKind::NoHeartbeat],
            "59 s of silence is within 2 × 30 s"
        );
        silent.tick(61_000);
        assert_eq!(silent.alarms(), vec![FindingKind::StreamStalled]);
    }

    #[test]
    fn keepalives_without_a_heartbeat_ever_are_no_heartbeat() {
        let mut keepalive = Timeline::new();
        keepalive.open(0, 1);
        for s in (15..=60).step_by(15) {
            keepalive.comment(s * 1000, 1);
        }
        keepalive.tick(61_000);
        assert_eq!(keepalive.alarms(), vec![FindingKind::NoHeartbeat]);
        let f = keepalive.find(FindingKind::NoHeartbeat).unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.raised_at, Some(keepalive.wall(30_000)), "open + a band");
        assert_eq!(evidence(&f, "longest_open_s"), 61.0);
        assert_eq!(evidence(&f, "keepalive_comments"), 4);
        assert!(stale(&keepalive.m).is_some(), "stale too, and left out");
    }

    #[test]
    fn heartbeats_that_stop_are_stale() {
        let mut t = Timeline::new();
        t.open(0, 1).heartbeat(1000, 1, 1000);
        for s in (15..=60).step_by(15) {
            t.comment(s * 1000, 1);
        }
        t.tick(61_000);
        assert!(
            t.alarms().is_empty(),
            "60 s since the heartbeat: {:?}",
            t.alarms()
        );
        t.tick(61_001);
        assert_eq!(t.alarms(), vec![FindingKind::HeartbeatStale]);
    }

    #[test]
    fn no_heartbeat_needs_a_session_open_past_the_band() {
        // Sessions of 25 s, none with a heartbeat: none stayed open a band.
        let mut t = Timeline::new();
        for session in 0..4 {
            let opened = session * 30_000;
            t.open(opened, session + 1).close(
                opened + 25_000,
                session + 1,
                CloseReason::Reset {
                    detail: "cut".into(),
                },
            );
        }
        t.tick(200_000);
        assert!(!t.has(FindingKind::NoHeartbeat));
        // The fifth stays open.
        t.open(200_000, 5).tick(230_001);
        let f = t.find(FindingKind::NoHeartbeat).unwrap();
        assert_eq!(evidence(&f, "sessions_open_past_the_band"), 1);
        assert_eq!(f.raised_at, Some(t.wall(230_000)));
        // One heartbeat, ever, and it is not this finding.
        t.heartbeat(231_000, 5, 231_000);
        assert!(!t.has(FindingKind::NoHeartbeat));
    }

    #[test]
    fn stalled_and_stale_are_raised_when_the_silence_passed_the_limit() {
        let mut silent = Timeline::new();
        silent.open(0, 1).comment(5000, 1).tick(61_000).tick(80_000);
        let f = silent.find(FindingKind::StreamStalled).unwrap();
        assert_eq!(f.raised_at, Some(silent.wall(65_000)), "last byte + 60 s");
        assert_eq!(f.first_seen, f.raised_at);
        // The comment kept the stream alive, not the heartbeat: stale since the open (and left
        // out of the findings, the stall explains it).
        let stale = stale(&silent.m).expect("no heartbeat for 80 s");
        assert_eq!(stale.raised_at, Some(silent.wall(60_000)));
    }

    #[test]
    fn a_stall_our_read_timeout_ended_keeps_its_date_as_time_passes() {
        let mut t = Timeline::new();
        t.open(0, 1)
            .close(80_000, 1, CloseReason::Timeout { idle_ms: 80_000 })
            .open(81_000, 2)
            .tick(90_000);
        let early = t
            .find(FindingKind::StreamStalled)
            .expect("the last session stalled");
        assert_eq!(evidence(&early, "session"), 1);
        assert_eq!(early.raised_at, Some(t.wall(60_000)));
        t.tick(130_000);
        let later = t.find(FindingKind::StreamStalled).unwrap();
        assert_eq!(evidence(&later, "session"), 1);
        assert_eq!(
            later.raised_at, early.raised_at,
            "it does not move with time"
        );
        assert_eq!(later.first_seen, early.first_seen);
        t.tick(150_000);
        let current = t.find(FindingKind::StreamStalled).unwrap();
        assert_eq!(
            evidence(&current, "session"),
            2,
            "now the open one is silent"
        );
        assert_eq!(current.raised_at, Some(t.wall(141_000)));
    }

    #[test]
    fn a_peeks_lifecycle_lines_do_not_hide_the_streams_last_byte() {
        let mut t = Timeline::new();
        t.open(0, 1).heartbeat(50_000, 1, 50_000).redirect(
            55_000,
            Route::Peek,
            None,
            307,
            "http://a/peek",
            "http://a/v2/peek",
            false,
        );
        t.tick(100_000);
        assert!(
            !t.has(FindingKind::StreamStalled),
            "50 s since the heartbeat"
        );
        t.tick(111_000);
        assert!(
            t.has(FindingKind::StreamStalled),
            "61 s since the heartbeat"
        );
    }

    #[test]
    fn stale_over_silent_sessions_is_raised_when_the_second_one_ended() {
        let mut t = Timeline::new();
        t.open(0, 1)
            .close(70_000, 1, CloseReason::Eof)
            .open(71_000, 2)
            .close(141_000, 2, CloseReason::Eof)
            .open(142_000, 3)
            .heartbeat(143_000, 3, 143_000)
            .tick(150_000);
        let f = t.find(FindingKind::HeartbeatStale).unwrap();
        assert_eq!(evidence(&f, "sessions_without_a_heartbeat"), 2);
        assert_eq!(f.first_seen, Some(t.wall(60_000)), "session 1 open + 60 s");
        assert_eq!(f.raised_at, Some(t.wall(141_000)), "session 2 ended");
        t.tick(200_000);
        assert_eq!(
            t.find(FindingKind::HeartbeatStale).unwrap().first_seen,
            Some(t.wall(60_000)),
            "the first evidence does not move with time"
        );
    }
}
