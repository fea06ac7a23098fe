//! Detector edges through the public API: synthetic timelines fed to `Monitor::apply`, just below
//! and just above every threshold. No network, no sleeps: time is whatever the observations say.

use inboxtop::monitor::{FindingKind, Severity, Thresholds};
use inboxtop::observation::{CloseReason, Kind, NetErrorClass, Route};
use inboxtop::testkit::{Timeline, evidence};
use inboxtop::wire::ApiError;

// ---------------------------------------------------------------- heartbeat-flood / proxy-buffering

/// One open session, then heartbeats received at `recv[i]` with payload timestamps `sent[i]`.
fn beats(recv: &[u64], sent: &[u64]) -> Timeline {
    assert_eq!(recv.len(), sent.len());
    let mut t = Timeline::new();
    t.open(0, 1);
    for (r, s) in recv.iter().zip(sent) {
        t.heartbeat(*r, 1, *s);
    }
    t
}

#[test]
fn flood_needs_five_heartbeats_within_fifteen_seconds() {
    let four = beats(&[1000, 2000, 3000, 4000], &[1000, 2000, 3000, 4000]);
    assert!(
        !four.has(FindingKind::HeartbeatFlood),
        "{:?}",
        four.alarms()
    );
    let five = beats(
        &[1000, 2000, 3000, 4000, 5000],
        &[1000, 2000, 3000, 4000, 5000],
    );
    let f = five
        .find(FindingKind::HeartbeatFlood)
        .expect("five in 4 s is a flood");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(evidence(&f, "heartbeats_in_burst"), 5);
    assert!(!five.has(FindingKind::ProxyBuffering));
}

#[test]
fn flood_window_is_inclusive_of_exactly_fifteen_seconds() {
    // Five beats spanning exactly 15 s: all within one heartbeat_min window.
    let exact = [1000, 4750, 8500, 12_250, 16_000];
    assert!(beats(&exact, &exact).has(FindingKind::HeartbeatFlood));
    // The fifth one 1 ms later: never five within 15 s.
    let wider = [1000, 4750, 8500, 12_250, 16_001];
    assert!(!beats(&wider, &wider).has(FindingKind::HeartbeatFlood));
}

#[test]
fn flood_requires_payload_spacing_at_most_half_the_minimum_interval() {
    let recv = [1000, 2000, 3000, 4000, 5000];
    // Payload timestamps 7.5 s apart (median = heartbeat_min / 2): still sent that fast.
    let sent: Vec<u64> = (0..5).map(|i| 1000 + i * 7500).collect();
    assert!(beats(&recv, &sent).has(FindingKind::HeartbeatFlood));
    // 7.6 s apart: the server did not send them fast; no flood.
    let sent: Vec<u64> = (0..5).map(|i| 1000 + i * 7600).collect();
    let t = beats(&recv, &sent);
    assert!(!t.has(FindingKind::HeartbeatFlood), "{:?}", t.alarms());
}

#[test]
fn twenty_five_bunched_beats_sent_fifteen_seconds_apart_are_buffering_not_a_flood() {
    // Sent every 15 s over 6 minutes, all received within 1.44 s after that.
    let recv: Vec<u64> = (0..25).map(|i| 400_000 + i * 60).collect();
    let sent: Vec<u64> = (0..25).map(|i| 10_000 + i * 15_000).collect();
    let t = beats(&recv, &sent);
    assert!(!t.has(FindingKind::HeartbeatFlood), "{:?}", t.alarms());
    let f = t
        .find(FindingKind::ProxyBuffering)
        .expect("held and flushed together");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(evidence(&f, "bunched_heartbeat_pairs"), 24);
}

#[test]
fn one_burst_is_buffering() {
    // A pair sent 15 s apart, received 60 ms apart: one flush of a buffer.
    let one = beats(&[100_000, 100_060], &[60_000, 75_000]);
    let f = one
        .find(FindingKind::ProxyBuffering)
        .expect("the first burst is the evidence");
    assert_eq!(f.raised_at, Some(one.wall(100_060)));
    assert_eq!(evidence(&f, "bunched_heartbeat_pairs"), 1);
}

#[test]
fn pairs_just_outside_a_burst_are_not_buffering() {
    // Sent 7.4 s apart (under half the minimum interval), received together.
    let close = beats(&[100_000, 100_060], &[60_000, 67_400]);
    assert!(
        !close.has(FindingKind::ProxyBuffering),
        "{:?}",
        close.alarms()
    );
    // Sent 15 s apart, received 1.6 s apart: more than a tenth of it, not together.
    let apart = beats(&[100_000, 101_600], &[60_000, 75_000]);
    assert!(
        !apart.has(FindingKind::ProxyBuffering),
        "{:?}",
        apart.alarms()
    );
    // One heartbeat 7 s late, the next on time: received 8 s apart, a late one, not a burst.
    let late = beats(&[22_000, 30_000, 45_000], &[15_000, 30_000, 45_000]);
    assert!(
        !late.has(FindingKind::ProxyBuffering),
        "{:?}",
        late.alarms()
    );
}

#[test]
fn buffering_needs_a_delay_spread_of_half_the_minimum_interval() {
    // Two bunched pairs (sent ≥ 7.5 s apart, received 0.7 s apart), with the delay back to zero in
    // between (a pair received as far apart as it was sent). The spread of delays is sent − 0.7 s,
    // however many such pairs come.
    let timeline = |gap: u64| {
        let r = 100_000;
        beats(
            &[r, r + 700, r + gap, r + gap + 700],
            &[r, r + gap, r + gap, r + 2 * gap],
        )
    };
    // gap 8.1 s: spread 7.4 s < 7.5 s.
    let narrow = timeline(8100);
    assert!(!narrow.has(FindingKind::ProxyBuffering));
    // gap 8.3 s: spread 7.6 s.
    let wide = timeline(8300);
    assert!(wide.has(FindingKind::ProxyBuffering));
    assert!(!wide.has(FindingKind::HeartbeatFlood));
}

// ---------------------------------------------------------------- no-heartbeat / heartbeat-stale / stream-stalled

/// One session open from 0 with keep-alive comments every 15 s (up to 60 s), and a heartbeat at
/// `beat_ms` if any, observed until `end_ms`.
fn keepalives_until(beat_ms: Option<u64>, end_ms: u64) -> Timeline {
    let mut t = Timeline::new();
    t.open(0, 1);
    if let Some(ms) = beat_ms {
        t.heartbeat(ms, 1, ms);
    }
    let mut s = 15_000;
    while s <= end_ms.min(60_000) {
        t.comment(s, 1);
        s += 15_000;
    }
    t.tick(end_ms);
    t
}

#[test]
fn keepalives_and_never_a_heartbeat_is_no_heartbeat_after_a_band() {
    let exact = keepalives_until(None, 30_000);
    assert!(
        exact.alarms().is_empty(),
        "exactly a band: {:?}",
        exact.alarms()
    );
    let after = keepalives_until(None, 30_001);
    assert_eq!(after.alarms(), vec![FindingKind::NoHeartbeat]);
    assert_eq!(
        after.severity(FindingKind::NoHeartbeat),
        Some(Severity::Error)
    );
    // Twice the band on, it is still the one finding: never a heartbeat explains none lately.
    let later = keepalives_until(None, 61_000);
    assert_eq!(later.alarms(), vec![FindingKind::NoHeartbeat]);
}

#[test]
fn keepalives_after_a_heartbeat_are_stale_not_stalled() {
    let before = keepalives_until(Some(1000), 60_900);
    assert!(before.alarms().is_empty(), "{:?}", before.alarms());
    let exact = keepalives_until(Some(1000), 61_000);
    assert!(
        exact.alarms().is_empty(),
        "60 s is exactly 2 × 30 s: {:?}",
        exact.alarms()
    );
    let after = keepalives_until(Some(1000), 62_000);
    assert_eq!(after.alarms(), vec![FindingKind::HeartbeatStale]);
    assert_eq!(
        after.severity(FindingKind::HeartbeatStale),
        Some(Severity::Warning)
    );
}

#[test]
fn a_heartbeat_resets_staleness() {
    let mut t = Timeline::new();
    t.open(0, 1).heartbeat(30_000, 1, 30_000);
    for s in [45_000, 60_000, 75_000] {
        t.comment(s, 1);
    }
    t.tick(89_000);
    assert!(!t.has(FindingKind::HeartbeatStale), "59 s since the beat");
    t.comment(90_000, 1).tick(91_000);
    assert!(t.has(FindingKind::HeartbeatStale), "61 s since the beat");
}

#[test]
fn total_silence_is_stalled_after_twice_the_longest_interval() {
    let mut t = Timeline::new();
    t.open(0, 1).tick(59_000);
    assert_eq!(t.alarms(), vec![FindingKind::NoHeartbeat]);
    t.tick(60_000);
    assert_eq!(t.alarms(), vec![FindingKind::NoHeartbeat], "exactly 60 s");
    t.tick(61_000);
    assert_eq!(t.alarms(), vec![FindingKind::StreamStalled]);
    let f = t.find(FindingKind::StreamStalled).unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        !t.has(FindingKind::HeartbeatStale),
        "stalled supersedes stale"
    );
}

#[test]
fn stalled_is_measured_from_the_last_byte_not_the_open() {
    let mut t = Timeline::new();
    t.open(0, 1).comment(20_000, 1).tick(79_000);
    assert!(!t.has(FindingKind::StreamStalled), "59 s since the comment");
    t.tick(81_000);
    assert!(t.has(FindingKind::StreamStalled), "61 s since the comment");
}

#[test]
fn a_closed_stream_is_not_stalled() {
    let mut t = Timeline::new();
    t.open(0, 1)
        .heartbeat(1000, 1, 1000)
        .close(5000, 1, CloseReason::Eof)
        .tick(200_000);
    assert!(!t.has(FindingKind::StreamStalled));
    assert!(!t.has(FindingKind::HeartbeatStale));
}

// ---------------------------------------------------------------- short-sessions / proxy-idle-timeout

/// Sessions with the given open ages, each with one heartbeat, each ending with `reason`, 500 ms
/// between them.
fn sessions(ages_ms: &[u64], reason: &CloseReason) -> Timeline {
    let mut t = Timeline::new();
    let mut now = 0;
    for (i, age) in ages_ms.iter().enumerate() {
        let id = i as u64 + 1;
        t.open(now, id).heartbeat(now + 1, id, now + 1);
        now += age;
        t.close(now, id, reason.clone());
        now += 500;
    }
    t
}

#[test]
fn short_sessions_need_three() {
    assert!(!sessions(&[1000, 1000], &CloseReason::Eof).has(FindingKind::ShortSessions));
    let three = sessions(&[1000, 1000, 1000], &CloseReason::Eof);
    let f = three.find(FindingKind::ShortSessions).unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(evidence(&f, "short_sessions"), 3);
}

#[test]
fn short_means_under_ten_seconds_open() {
    assert!(sessions(&[9_999, 9_999, 9_999], &CloseReason::Eof).has(FindingKind::ShortSessions));
    assert!(
        !sessions(&[10_000, 10_000, 10_000], &CloseReason::Eof).has(FindingKind::ShortSessions)
    );
}

#[test]
fn sessions_we_cancelled_are_not_a_reconnect_loop() {
    let t = sessions(&[1000, 1000, 1000, 1000], &CloseReason::Cancelled);
    assert!(!t.has(FindingKind::ShortSessions), "{:?}", t.alarms());
}

fn reset() -> CloseReason {
    CloseReason::Reset {
        detail: "connection reset".into(),
    }
}

#[test]
fn idle_timeout_is_two_sessions_ending_at_one_age() {
    let t = sessions(&[100_000, 100_500], &reset());
    assert_eq!(
        t.severity(FindingKind::ProxyIdleTimeout),
        Some(Severity::Warning)
    );
    let f = t.find(FindingKind::ProxyIdleTimeout).unwrap();
    assert_eq!(
        f.raised_at,
        Some(t.wall(201_000)),
        "the second session's end"
    );
    assert!(!sessions(&[100_000, 110_000, 120_000], &reset()).has(FindingKind::ProxyIdleTimeout));
    assert!(!sessions(&[100_000], &reset()).has(FindingKind::ProxyIdleTimeout));
    assert!(sessions(&[100_000, 100_000], &CloseReason::Eof).has(FindingKind::ProxyIdleTimeout));
}

#[test]
fn a_pair_at_one_age_is_one_percent_of_the_median_apart_at_most() {
    // Median 101 s: 1.01 s.
    assert!(sessions(&[100_000, 101_000], &reset()).has(FindingKind::ProxyIdleTimeout));
    assert!(sessions(&[101_000, 100_000], &reset()).has(FindingKind::ProxyIdleTimeout));
    // 1.1 s apart: two such sessions could be chance; a third near them is not.
    assert!(!sessions(&[100_000, 101_100], &reset()).has(FindingKind::ProxyIdleTimeout));
    let third = sessions(&[100_000, 101_100, 103_000], &reset());
    let f = third.find(FindingKind::ProxyIdleTimeout).unwrap();
    assert_eq!(
        f.raised_at,
        Some(third.wall(305_100)),
        "the third session's end"
    );
}

#[test]
fn resets_at_random_ages_are_no_idle_timeout() {
    // A flaky server's mid-stream resets, at ages anywhere in 20-40 s: a dozen never look like
    // one age, and a chance pair within 1 % (3 % of pairs) is all the pair rule adds.
    let mut pairs = 0;
    for mut seed in 1..=1000 {
        let ages: Vec<u64> = (0..12).map(|_| 20_000 + lcg(&mut seed, 20_000)).collect();
        let t = sessions(&ages, &reset());
        assert!(!t.has(FindingKind::ProxyIdleTimeout), "ages {ages:?}");
        pairs += usize::from(sessions(&ages[..2], &reset()).has(FindingKind::ProxyIdleTimeout));
    }
    assert!(pairs < 50, "{pairs} of 1000 random pairs look like one age");
}

#[test]
fn idle_timeout_spread_edge_is_five_percent_of_the_median() {
    // Spread 5 s, median 105 s: 5 ≤ 5.25.
    assert!(sessions(&[100_000, 105_000, 105_000], &reset()).has(FindingKind::ProxyIdleTimeout));
    // Spread 5 s, median 100 s: exactly 5 %, still one age.
    assert!(sessions(&[95_000, 100_000, 100_000], &reset()).has(FindingKind::ProxyIdleTimeout));
    // Spread 6 s, median 106 s: 6 > 5.3.
    assert!(!sessions(&[100_000, 106_000, 106_000], &reset()).has(FindingKind::ProxyIdleTimeout));
}

#[test]
fn our_own_read_timeout_is_not_a_proxy_idle_timeout() {
    let ours = CloseReason::Timeout { idle_ms: 90_000 };
    let t = sessions(&[100_000, 100_000, 100_000], &ours);
    assert!(!t.has(FindingKind::ProxyIdleTimeout));
}

// ---------------------------------------------------------------- delivery-gap

#[test]
fn delivery_gap_after_the_grace_while_the_stream_was_open() {
    let mut t = Timeline::new();
    t.poll(0, &[("old", 0)])
        .open(100, 1)
        .heartbeat(200, 1, 200)
        .poll(1000, &[("old", 0), ("new", 900)])
        .tick(10_900);
    assert!(!t.has(FindingKind::DeliveryGap), "created 10 s ago");
    t.tick(11_100);
    let f = t
        .find(FindingKind::DeliveryGap)
        .expect("created 10.2 s ago");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(evidence(&f, "messages_only_polled"), 1);
    assert_eq!(evidence(&f, "example_ids"), &serde_json::json!(["new"]));
    assert!(
        !t.m.inbox.get("old").unwrap().only_polled(),
        "the first poll is preexisting"
    );
    t.message(11_200, 1, "new", 900);
    assert!(
        !t.has(FindingKind::DeliveryGap),
        "streamed late: no longer a gap"
    );
    assert_eq!(t.m.stats().messages_only_polled, 0);
}

#[test]
fn the_first_poll_is_never_a_gap_even_with_the_stream_open() {
    let mut t = Timeline::new();
    t.open(0, 1).poll(1000, &[("first", 900)]).tick(120_000);
    assert!(!t.has(FindingKind::DeliveryGap));
    // The second poll's new message is not preexisting.
    t.poll(121_000, &[("first", 900), ("second", 120_500)])
        .tick(131_200);
    assert!(t.has(FindingKind::DeliveryGap));
}

#[test]
fn messages_created_before_the_first_stream_opened_are_not_gaps() {
    let timeline = |created: u64| {
        let mut t = Timeline::new();
        t.poll(0, &[])
            .open(5000, 1)
            .poll(6000, &[("m", created)])
            .tick(30_000);
        t
    };
    assert!(!timeline(4999).has(FindingKind::DeliveryGap));
    assert!(timeline(5001).has(FindingKind::DeliveryGap));
}

#[test]
fn no_gap_when_the_stream_was_down_and_never_came_back() {
    let mut t = Timeline::new();
    t.poll(0, &[])
        .open(100, 1)
        .close(200, 1, CloseReason::Eof)
        .poll(1000, &[("m", 900)])
        .tick(300_000);
    assert!(!t.has(FindingKind::DeliveryGap));
    assert_eq!(t.m.stats().messages_only_polled, 1);
}

#[test]
fn a_stream_that_closes_within_the_grace_after_the_message_had_no_chance() {
    let timeline = |closed_at: u64| {
        let mut t = Timeline::new();
        t.poll(0, &[])
            .open(100, 1)
            .poll(1000, &[("m", 900)])
            .close(closed_at, 1, CloseReason::Eof)
            .tick(100_000);
        t
    };
    assert!(
        !timeline(10_800).has(FindingKind::DeliveryGap),
        "open 9.9 s after it was created"
    );
    assert!(
        timeline(10_900).has(FindingKind::DeliveryGap),
        "open 10 s after it was created"
    );
}

#[test]
fn a_session_opened_after_the_poll_gets_the_grace_to_replay() {
    let mut t = Timeline::new();
    t.poll(0, &[])
        .open(100, 1)
        .close(200, 1, CloseReason::Eof)
        .poll(1000, &[("m", 900)])
        .open(5000, 2)
        .tick(15_000);
    assert!(
        !t.has(FindingKind::DeliveryGap),
        "reopened exactly 10 s ago"
    );
    t.tick(15_100);
    let f = t
        .find(FindingKind::DeliveryGap)
        .expect("reopened 10.1 s ago");
    assert_eq!(
        f.raised_at,
        Some(t.wall(15_000)),
        "a grace after the reopen"
    );
    assert_eq!(evidence(&f, "oldest_wait_s"), 14.2, "since it was created");
}

#[test]
fn the_grace_stretches_by_the_streams_latest_late_delivery() {
    let mut t = Timeline::new();
    t.poll(0, &[]).open(100, 1);
    // "slow" is polled at 1 s and streamed 5 s later: the stream lags polling by up to 5 s.
    t.poll(1000, &[("slow", 900)]).message(6000, 1, "slow", 900);
    t.poll(7000, &[("slow", 900), ("lost", 6900)]).tick(21_900);
    assert!(!t.has(FindingKind::DeliveryGap), "created 15 s ago: 10 + 5");
    t.tick(22_100);
    assert!(t.has(FindingKind::DeliveryGap), "created 15.2 s ago");
}

// ---------------------------------------------------------------- HTTP and response classes

#[test]
fn http_statuses_map_to_their_findings_with_the_error_code() {
    for (status, kind, severity) in [
        (401, FindingKind::AuthFailed, Severity::Error),
        (403, FindingKind::AuthFailed, Severity::Error),
        (404, FindingKind::NotFound, Severity::Error),
        (429, FindingKind::RateLimited, Severity::Warning),
        (500, FindingKind::ServerErrors, Severity::Warning),
        (503, FindingKind::ServerErrors, Severity::Warning),
    ] {
        let code = format!("E_CODE_{status}");
        let mut t = Timeline::new();
        t.http(0, 1, status, &code);
        assert_eq!(t.alarms(), vec![kind], "status {status}");
        let f = t.find(kind).unwrap();
        assert_eq!(f.severity, severity, "status {status}");
        assert_eq!(
            evidence(&f, "error_codes"),
            &serde_json::json!({ code.clone(): 1 }),
            "status {status}"
        );
        assert!(f.summary.contains(&code), "{}", f.summary);
    }
}

#[test]
fn unclassified_statuses_are_stream_rejected() {
    for status in [400, 409, 410, 422, 499] {
        let mut t = Timeline::new();
        t.http(0, 1, status, "E_OTHER");
        assert_eq!(
            t.alarms(),
            vec![FindingKind::StreamRejected],
            "status {status}"
        );
        let f = t.find(FindingKind::StreamRejected).unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(
            evidence(&f, "error_codes"),
            &serde_json::json!({"E_OTHER": 1})
        );
        assert_eq!(t.m.stats().http_errors, 1);
    }
}

#[test]
fn a_failed_poll_counts_toward_the_same_http_class() {
    let mut t = Timeline::new();
    t.at(
        0,
        Kind::PollFailed {
            elapsed_ms: 5,
            status: Some(401),
            class: None,
            error: "401 Unauthorized".into(),
            api_error: Some(ApiError {
                code: Some("E_POLL_AUTH".into()),
                ..ApiError::default()
            }),
        },
    );
    let f = t.find(FindingKind::AuthFailed).unwrap();
    assert_eq!(
        evidence(&f, "by_status"),
        &serde_json::json!({"poll 401": 1})
    );
}

#[test]
fn bad_content_type_html_and_compressed_streams() {
    let mut html = Timeline::new();
    html.attempt(0, 1)
        .respond(1, 1, 200, "text/html", None, None);
    assert_eq!(html.alarms(), vec![FindingKind::BadContentType]);
    assert_eq!(
        html.severity(FindingKind::BadContentType),
        Some(Severity::Error)
    );

    let mut gzip = Timeline::new();
    gzip.attempt(0, 1)
        .respond(1, 1, 200, "text/event-stream", Some("gzip"), None);
    let f = gzip.find(FindingKind::BadContentType).unwrap();
    assert_eq!(evidence(&f, "content_encoding"), "gzip");

    // Parameters on the media type are fine.
    let mut charset = Timeline::new();
    charset
        .attempt(0, 1)
        .respond(1, 1, 200, "text/event-stream; charset=utf-8", None, None)
        .heartbeat(2, 1, 2);
    assert!(charset.alarms().is_empty(), "{:?}", charset.alarms());
    assert_eq!(charset.m.stats().sessions_opened, 1);
}

#[test]
fn network_errors_warn_then_error_at_three() {
    let fail = |t: &mut Timeline, ms: u64, session: u64| {
        t.attempt(ms, session).at(
            ms + 1,
            Kind::ConnectFailed {
                session,
                class: NetErrorClass::Refused,
                error: "connection refused".into(),
            },
        );
    };
    let mut t = Timeline::new();
    fail(&mut t, 0, 1);
    fail(&mut t, 1000, 2);
    assert_eq!(
        t.severity(FindingKind::NetworkErrors),
        Some(Severity::Warning)
    );
    fail(&mut t, 2000, 3);
    assert_eq!(
        t.severity(FindingKind::NetworkErrors),
        Some(Severity::Error)
    );
}

// ---------------------------------------------------------------- counted faults

#[test]
fn duplicate_delivery_is_a_second_stream_copy() {
    let mut once = Timeline::new();
    once.open(0, 1)
        .message(10, 1, "a", 5)
        .poll(20, &[("a", 5)])
        .message(30, 1, "b", 25);
    assert!(!once.has(FindingKind::DuplicateDelivery));

    let mut twice = Timeline::new();
    twice
        .open(0, 1)
        .message(10, 1, "a", 5)
        .message(20, 1, "a", 5);
    let f = twice.find(FindingKind::DuplicateDelivery).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(evidence(&f, "duplicates"), 1);
    assert_eq!(twice.m.stats().stream_duplicates, 1);
}

#[test]
fn malformed_message_events() {
    let mut good = Timeline::new();
    good.open(0, 1).message(10, 1, "a", 5);
    // A heartbeat without a JSON payload is unreadable but not a malformed message.
    good.event(20, 1, "heartbeat", None, "ping".into());
    assert!(!good.has(FindingKind::MalformedEvent));

    let mut bad = Timeline::new();
    bad.open(0, 1)
        .event(10, 1, "message", None, "not json".into());
    let f = bad.find(FindingKind::MalformedEvent).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(evidence(&f, "events"), 1);

    let mut not_a_message = Timeline::new();
    not_a_message
        .open(0, 1)
        .event(10, 1, "message", None, "{\"foo\":1}".into());
    assert!(not_a_message.has(FindingKind::MalformedEvent));
}

#[test]
fn oversized_events() {
    let mut t = Timeline::new();
    t.open(0, 1).heartbeat(10, 1, 10);
    assert!(!t.has(FindingKind::OversizedEvent));
    t.at(
        20,
        Kind::OversizedEvent {
            session: 1,
            bytes: 5_000_000,
            limit: 1_048_576,
        },
    );
    let f = t.find(FindingKind::OversizedEvent).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(evidence(&f, "last_bytes"), 5_000_000);
}

// ---------------------------------------------------------------- whole timelines

#[test]
fn thirty_healthy_minutes_raise_no_warning() {
    let mut t = Timeline::new();
    t.poll(0, &[]).open(10, 1);
    let mut listed: Vec<(String, u64)> = Vec::new();
    for s in 1..=1800u64 {
        let ms = s * 1000;
        if s % 15 == 0 {
            t.heartbeat(ms, 1, ms);
        }
        if s % 4 == 0 {
            let id = format!("m{s}");
            // Created 40 ms before the stream delivers it; polled 20 ms after.
            t.message(ms, 1, &id, ms - 40);
            listed.push((id, ms - 40));
            let page: Vec<(&str, u64)> = listed
                .iter()
                .rev()
                .take(50)
                .map(|(i, c)| (i.as_str(), *c))
                .collect();
            t.poll(ms + 20, &page);
        }
        t.tick(ms + 500);
    }
    let findings = t.m.findings();
    assert!(
        findings.iter().all(|f| f.severity < Severity::Warning),
        "false alarm: {findings:#?}"
    );
    let f = t
        .find(FindingKind::DeliveryLatency)
        .expect("latency is reported");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(evidence(&f, "messages"), 450);
    assert_eq!(evidence(&f, "median_ms"), 40.0);
    let stats = t.m.stats();
    assert_eq!(stats.heartbeats, 120);
    assert_eq!(stats.messages_streamed, 450);
    assert_eq!(stats.messages_polled, 450);
    assert_eq!(stats.messages_only_polled, 0);
    assert_eq!(stats.sessions, 1);
}

#[test]
fn delivery_latency_needs_three_streamed_messages() {
    let mut t = Timeline::new();
    t.open(0, 1)
        .message(100, 1, "a", 50)
        .message(200, 1, "b", 150);
    assert!(!t.has(FindingKind::DeliveryLatency));
    t.message(300, 1, "c", 250);
    assert!(t.has(FindingKind::DeliveryLatency));
}

/// An outage, in simulated milliseconds, played `scale` times faster.
fn outage(thresholds: Thresholds, scale: u64) -> Timeline {
    let mut t = Timeline::with(thresholds, scale);
    t.poll(0, &[]);
    // A reconnect loop: four sessions of 2 s, the first one flooding heartbeats.
    let mut now = 1000;
    for session in 1..=4 {
        t.open(now, session);
        if session == 1 {
            for i in 0..6 {
                t.heartbeat(now + 100 + i * 250, 1, now + 100 + i * 250);
            }
            // A message lands in the inbox; the stream never carries it.
            t.poll(now + 500, &[("lost", now + 400)]);
        }
        now += 2000;
        t.close(now, session, CloseReason::Eof);
        now += 1000;
    }
    // One 503 before the stream comes back.
    t.http(now, 5, 503, "E_UNAVAILABLE");
    now += 1000;
    // Three sessions cut at 100 s by a proxy, with healthy heartbeats and streamed messages.
    for session in 6..=8 {
        let opened = now;
        t.open(opened, session);
        for k in 1..=6 {
            let at = opened + k * 15_000;
            t.heartbeat(at, session, at);
        }
        let id = format!("ok{session}");
        t.message(opened + 20_000, session, &id, opened + 19_800);
        t.poll(
            opened + 21_000,
            &[("lost", 1400), (id.as_str(), opened + 19_800)],
        );
        now = opened + 100_000;
        t.close(now, session, reset());
        now += 1000;
    }
    // A session that goes silent.
    t.open(now, 9).heartbeat(now + 1000, 9, now + 1000);
    t.tick(now + 1000 + 70_000);
    t
}

#[test]
fn scaled_thresholds_judge_a_compressed_outage_the_same() {
    let real = outage(Thresholds::default(), 1);
    let expected = vec![
        (FindingKind::DeliveryGap, Severity::Error),
        (FindingKind::DeliveryLatency, Severity::Info),
        (FindingKind::HeartbeatFlood, Severity::Error),
        (FindingKind::ProxyIdleTimeout, Severity::Warning),
        (FindingKind::ServerErrors, Severity::Warning),
        (FindingKind::ShortSessions, Severity::Error),
        (FindingKind::StreamStalled, Severity::Error),
    ];
    assert_eq!(real.summary(), expected, "{:#?}", real.m.findings());

    let fast = outage(Thresholds::default().scaled(100.0), 100);
    assert_eq!(fast.summary(), expected, "{:#?}", fast.m.findings());

    // The scaling is what makes them agree: default thresholds misjudge the compressed run.
    let misjudged = outage(Thresholds::default(), 100);
    assert_ne!(misjudged.summary(), expected);
}

#[test]
fn scaled_thresholds_keep_a_compressed_healthy_stream_healthy() {
    let healthy = |thresholds: Thresholds| {
        let mut t = Timeline::with(thresholds, 100);
        t.poll(0, &[]).open(10, 1);
        for s in 1..=300u64 {
            let ms = s * 1000;
            if s % 15 == 0 {
                t.heartbeat(ms, 1, ms);
            }
            if s % 4 == 0 {
                let id = format!("m{s}");
                t.message(ms, 1, &id, ms - 40);
                t.poll(ms + 20, &[(id.as_str(), ms - 40)]);
            }
            t.tick(ms + 500);
        }
        t
    };
    let scaled = healthy(Thresholds::default().scaled(100.0));
    assert!(scaled.alarms().is_empty(), "{:#?}", scaled.m.findings());
    // Unscaled, heartbeats every 150 ms of real time are a flood.
    let unscaled = healthy(Thresholds::default());
    assert!(unscaled.has(FindingKind::HeartbeatFlood));
}

// ---------------------------------------------------------------- healthy, with jitter

/// A pseudo-random number in `0..n`, the same every run.
fn lcg(seed: &mut u64, n: u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*seed >> 33) % n
}

/// Thirty healthy minutes: heartbeats every `interval()` ms (payload time `delay()` ms before
/// receipt), a keep-alive after 15 s of silence, a message every ~25 s streamed within 50 ms and
/// polled up to 2 s later, the inbox peeked every 10 s.
fn healthy_half_hour(
    seed: &mut u64,
    interval: impl Fn(&mut u64) -> u64,
    delay: impl Fn(&mut u64) -> u64,
) -> Timeline {
    let mut t = Timeline::new();
    t.poll(0, &[]).open(10, 1);
    let end = 30 * 60 * 1000;
    let mut next_beat = 10 + interval(seed);
    let mut next_message = 7_000;
    let mut next_poll = 10_000;
    let mut last_byte = 10;
    let mut listed: Vec<(String, u64)> = Vec::new();
    let mut now = 10;
    while now < end {
        now += 100;
        if now >= next_beat {
            t.heartbeat(now, 1, now - delay(seed));
            next_beat = now + interval(seed);
            last_byte = now;
        }
        if now >= next_message {
            let id = format!("m{now}");
            let created = now - 10 - lcg(seed, 40);
            t.message(now, 1, &id, created);
            listed.push((id, created));
            next_message = now + 15_000 + lcg(seed, 20_000);
            last_byte = now;
        }
        if now >= next_poll {
            let page: Vec<(&str, u64)> = listed
                .iter()
                .rev()
                .take(50)
                .map(|(i, c)| (i.as_str(), *c))
                .collect();
            t.poll(now + lcg(seed, 2000), &page);
            next_poll = now + 10_000;
        }
        if now - last_byte >= 15_000 {
            t.comment(now, 1);
            last_byte = now;
        }
        t.tick(now);
    }
    t
}

#[test]
fn thirty_jittered_healthy_minutes_raise_no_warning_from_any_detector() {
    // A server timer with a little jitter, and one anywhere in the 15-30 s band; a fast network,
    // and one that delays a heartbeat anywhere up to 5 s (a heartbeat late, never a burst).
    let steady = |seed: &mut u64| 15_000 + lcg(seed, 400);
    let anywhere = |seed: &mut u64| 15_000 + lcg(seed, 15_000);
    let fast = |seed: &mut u64| 20 + lcg(seed, 60);
    let jittery = |seed: &mut u64| 20 + lcg(seed, 5000);
    for (name, t) in [
        ("steady", healthy_half_hour(&mut 7, steady, fast)),
        (
            "anywhere in the band",
            healthy_half_hour(&mut 11, anywhere, fast),
        ),
        (
            "steady, jittery network",
            healthy_half_hour(&mut 13, steady, jittery),
        ),
        (
            "anywhere, jittery network",
            healthy_half_hour(&mut 17, anywhere, jittery),
        ),
    ] {
        let findings = t.m.findings();
        assert!(
            findings.iter().all(|f| f.severity < Severity::Warning),
            "{name}: false alarm: {findings:#?}"
        );
        let stats = t.m.stats();
        assert!(stats.heartbeats >= 60, "{name}: {stats:?}");
        assert!(stats.messages_streamed >= 50, "{name}: {stats:?}");
        assert_eq!(stats.messages_only_polled, 0, "{name}");
        assert!(t.has(FindingKind::DeliveryLatency), "{name}");
    }
}

#[test]
fn a_server_clock_behind_ours_with_peeks_that_beat_the_stream_raises_no_gap() {
    // The server's clock runs 45 s behind ours. Each message is peeked 0.1-2 s after it was
    // created and streamed 2.1-9.1 s after it (a slow stream, within the grace): its createdAt
    // read raw would make it 45 s old at the peek, a gap at once. Judged at every tick, it never
    // is.
    const BEHIND: u64 = 45_000;
    const TICK: u64 = 250;
    let mut seed = 23;
    let mut t = Timeline::new();
    // A heartbeat before the first message, as a stream shows soon after it opens.
    t.poll(0, &[])
        .open(BEHIND, 1)
        .heartbeat(BEHIND + 500, 1, 500 - 30);
    let mut listed: Vec<(String, u64)> = Vec::new();
    let (mut at, end) = (BEHIND + 1000, BEHIND + 30 * 60 * 1000);
    let mut next_beat = BEHIND + 15_500;
    while at < end {
        let id = format!("m{at}");
        listed.push((id.clone(), at - BEHIND));
        let peeked = at + 100 + lcg(&mut seed, 1900);
        let streamed = at + 2100 + lcg(&mut seed, 7000);
        let mut now = at;
        while now < at + 20_000 {
            now += TICK;
            if (now - TICK..now).contains(&peeked) {
                let page: Vec<(&str, u64)> = listed
                    .iter()
                    .rev()
                    .take(50)
                    .map(|(i, c)| (i.as_str(), *c))
                    .collect();
                t.poll(peeked, &page);
            }
            if (now - TICK..now).contains(&streamed) {
                t.message(streamed, 1, &id, at - BEHIND);
            }
            if now >= next_beat {
                t.heartbeat(now, 1, now - BEHIND - 30);
                next_beat = now + 15_000;
            }
            t.tick(now);
            assert!(
                !t.has(FindingKind::DeliveryGap),
                "at {now} ms: {:#?}",
                t.m.findings()
            );
        }
        at = now;
    }
    assert_eq!(t.m.stats().messages_only_polled, 0);
    assert!(t.m.stats().messages_streamed >= 80);
}

// ---------------------------------------------------------------- whole faults, as in DESIGN §4

/// inboxtop and the agent on one agent id: each connection ends the other's stream, and each
/// leaves a heartbeat timer of 15 s behind that ticks into whichever stream is current. The
/// agent takes the stream back four times at irregular moments, then gives up.
fn takeover() -> Timeline {
    // (our connect, the agent's takeover) in ms; then ours until 4 minutes.
    let rounds = [(0, 1300), (1800, 4700), (5200, 6000), (6500, 10_900)];
    let end = 240_000;
    let mut connects: Vec<u64> = Vec::new();
    let mut ours: Vec<(u64, u64)> = Vec::new();
    for (connect, taken) in rounds {
        connects.extend([connect, taken]);
        ours.push((connect, taken));
    }
    let last = 11_400;
    connects.push(last);
    ours.push((last, end));
    let mut ticks: Vec<u64> = connects
        .iter()
        .flat_map(|c| {
            (1..)
                .map(move |k| c + k * 15_000)
                .take_while(|at| *at < end)
        })
        .collect();
    ticks.sort_unstable();
    let mut t = Timeline::new();
    t.poll(0, &[]);
    for (i, (from, to)) in ours.iter().enumerate() {
        let session = i as u64 + 1;
        t.open(*from, session);
        for at in ticks.iter().filter(|at| (from..to).contains(at)) {
            t.heartbeat(at + 30, session, *at);
        }
        if *to < end {
            t.close(*to, session, CloseReason::Eof);
        }
    }
    t.tick(end);
    t
}

#[test]
fn a_takeover_is_named_with_the_timers_it_stacks() {
    let t = takeover();
    assert_eq!(
        t.alarms(),
        vec![
            FindingKind::SessionTakeover,
            FindingKind::ShortSessions,
            FindingKind::StackedHeartbeats
        ],
        "{:#?}",
        t.m.findings()
    );
    let takeover = t.find(FindingKind::SessionTakeover).unwrap();
    assert_eq!(evidence(&takeover, "sessions_ended_cleanly"), 4);
    assert!(takeover.summary.contains("inboxtop itself"));
    assert!(
        evidence(&takeover, "hint")
            .as_str()
            .unwrap()
            .contains("--no-stream")
    );
    let stacked = t.find(FindingKind::StackedHeartbeats).unwrap();
    assert_eq!(evidence(&stacked, "timers"), 9);
    assert_eq!(evidence(&stacked, "period_s"), 15.0);
}

#[test]
fn moved_is_a_redirect_and_healthy_after_following_it() {
    let mut t = Timeline::new();
    t.poll(0, &[]);
    t.attempt(10, 1)
        .redirect(
            12,
            Route::Stream,
            Some(1),
            307,
            "http://127.0.0.1:1/messages/stream",
            "http://127.0.0.1:1/v2/messages/stream",
            false,
        )
        .respond(14, 1, 200, "text/event-stream", None, None);
    for s in 1..=8 {
        t.heartbeat(s * 15_000, 1, s * 15_000);
        t.redirect(
            s * 15_000 + 1,
            Route::Peek,
            None,
            307,
            "http://127.0.0.1:1/messages/peek",
            "http://127.0.0.1:1/v2/messages/peek",
            false,
        )
        .poll(s * 15_000 + 2, &[]);
    }
    assert_eq!(t.alarms(), vec![FindingKind::Redirected]);
    let f = t.find(FindingKind::Redirected).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        evidence(&f, "final_url"),
        "http://127.0.0.1:1/v2/messages/stream"
    );
    assert_eq!(evidence(&f, "redirects_followed"), 9);
}

#[test]
fn gone_is_the_server_saying_stop_and_no_reconnect_loop() {
    let mut t = Timeline::new();
    t.poll(0, &[]).stop(10, 1).tick(300_000);
    assert_eq!(t.alarms(), vec![FindingKind::ServerSaidStop]);
    assert_eq!(t.m.stats().sessions, 1);
}

#[test]
fn rejected_on_stream_and_peek_is_both_named() {
    let mut t = Timeline::new();
    for s in 1..=5 {
        t.http(s * 2000, s, 400, "E_VALIDATION").close(
            s * 2000,
            s,
            CloseReason::Rejected {
                detail: "400".into(),
            },
        );
        t.poll_failed(s * 2000 + 700, Some(400), None, "E_VALIDATION");
    }
    assert_eq!(
        t.summary(),
        vec![
            (FindingKind::PollFailed, Severity::Error),
            (FindingKind::StreamRejected, Severity::Error)
        ]
    );
}

#[test]
fn double_framed_events_are_nested_frames_whose_messages_never_arrive() {
    let mut t = Timeline::new();
    t.poll(0, &[]).open(10, 1);
    let wrap = |event: &str, data: String| format!("event: {event}\ndata: {data}");
    let mut listed = Vec::new();
    for s in 1..=6u64 {
        let at = s * 15_000;
        let beat = format!("{{\"timestamp\":\"{}\"}}", t.rfc3339(at));
        t.event(at, 1, "message", None, wrap("heartbeat", beat));
        let id = format!("m{s}");
        let msg = serde_json::json!({"messageId": id, "content": "hi", "createdAt": t.rfc3339(at)});
        t.event(
            at + 50,
            1,
            "message",
            None,
            wrap("message", msg.to_string()),
        );
        listed.push((id, at));
        let page: Vec<(&str, u64)> = listed.iter().map(|(i, c)| (i.as_str(), *c)).collect();
        t.poll(at + 1000, &page);
    }
    t.tick(100_000);
    assert_eq!(
        t.alarms(),
        vec![FindingKind::DeliveryGap, FindingKind::NestedFrame],
        "{:#?}",
        t.m.findings()
    );
    assert_eq!(
        evidence(&t.find(FindingKind::NestedFrame).unwrap(), "events"),
        12
    );
}
