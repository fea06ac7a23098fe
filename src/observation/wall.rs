//! The wall-clock stamp of a recording line, read without chrono's general parser.
//!
//! chrono writes a `DateTime<Utc>` as `YYYY-MM-DDTHH:MM:SS[.frac]Z`; reading that one layout by
//! position costs a fraction of chrono's item-by-item RFC 3339 parse, which long recordings pay
//! once per line. Anything else goes to chrono, so what is accepted, and its value, is unchanged.

use chrono::{DateTime, NaiveDate, ParseError, Utc};

/// `text` as chrono's `Deserialize` for `DateTime<Utc>` reads it.
pub fn parse(text: &str) -> Result<DateTime<Utc>, ParseError> {
    match parse_fixed(text.as_bytes()) {
        Some(wall) => Ok(wall),
        None => text.parse(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.d{1,9}]Z` exactly, or `None` (then chrono decides). A leap second
/// (`:60`) is left to chrono too. Every text it reads, chrono's RFC 3339 parser reads the same.
pub(crate) fn parse_fixed(b: &[u8]) -> Option<DateTime<Utc>> {
    let (stamp, frac) = match b.get(19..)? {
        [b'Z'] => (b, &[][..]),
        [b'.', frac @ .., b'Z'] if (1..=9).contains(&frac.len()) => (b, frac),
        _ => return None,
    };
    let punctuation = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if punctuation.iter().any(|&(i, c)| stamp[i] != c) {
        return None;
    }
    let year = i32::try_from(digits(&stamp[0..4])?).ok()?;
    let second = digits(&stamp[17..19])?;
    if second > 59 {
        return None;
    }
    let nanos = digits(frac)? * FRACTION_SCALE[frac.len()];
    let time = NaiveDate::from_ymd_opt(year, digits(&stamp[5..7])?, digits(&stamp[8..10])?)?
        .and_hms_nano_opt(
            digits(&stamp[11..13])?,
            digits(&stamp[14..16])?,
            second,
            nanos,
        )?;
    Some(time.and_utc())
}

/// Nanoseconds per unit of the last digit of a fraction `n` digits long.
const FRACTION_SCALE: [u32; 10] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// The decimal value of ASCII digits (at most nine of them), or `None` for any other byte.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset, SecondsFormat};
    use proptest::prelude::*;

    /// What chrono's own `Deserialize` answers (the oracle).
    fn chrono(text: &str) -> Option<DateTime<Utc>> {
        text.parse::<DateTime<FixedOffset>>()
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn the_fixed_layout_is_read_by_position() {
        let t = parse_fixed(b"2026-11-25T05:17:13.033979203Z").unwrap();
        assert_eq!(
            t.to_rfc3339_opts(SecondsFormat::Nanos, true),
            "2026-11-25T05:17:13.033979203Z"
        );
        assert_eq!(
            parse_fixed(b"2026-11-25T05:17:13.5Z"),
            chrono("2026-11-25T05:17:13.5Z")
        );
        assert_eq!(
            parse_fixed(b"0000-01-01T00:00:00Z"),
            chrono("0000-01-01T00:00:00Z")
        );
    }

    #[test]
    fn other_layouts_are_left_to_chrono_with_its_answer() {
        for text in [
            "2026-11-25T05:17:13+01:00",
            "2026-11-25 05:17:13Z",
            "2026-11-25t05:17:13z",
            "2026-11-25T05:17:13.1234567891Z",
            "2026-11-25T05:17:13.Z",
            "2016-12-31T23:59:60Z",
            "2026-02-30T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "+2026-11-25T05:17:13Z",
            "2026-11-25T05:17:13Z ",
            "2026-1-25T05:17:13Z",
            "２026-11-25T05:17:13Z",
            "",
        ] {
            assert_eq!(parse_fixed(text.as_bytes()), None, "{text}");
            assert_eq!(parse(text).ok(), chrono(text), "{text}");
        }
    }

    proptest! {
        /// Every instant chrono writes reads back through the fast path, to the same value.
        #[test]
        fn what_chrono_writes_is_read_by_position(secs in -62_000_000_000i64..250_000_000_000, nanos in 0u32..1_000_000_000) {
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            for format in [SecondsFormat::AutoSi, SecondsFormat::Secs, SecondsFormat::Millis, SecondsFormat::Nanos] {
                let text = t.to_rfc3339_opts(format, true);
                if text.len() >= 20 && text.as_bytes()[0].is_ascii_digit() {
                    prop_assert_eq!(parse_fixed(text.as_bytes()), chrono(&text), "{}", text);
                    prop_assert!(parse_fixed(text.as_bytes()).is_some(), "{}", text);
                }
            }
        }

        /// Any text in or near the layout: the same answer as chrono.
        #[test]
        fn any_text_gets_chrono_s_answer(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T t][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,11})?(Z|z|\\+01:00|)") {
            prop_assert_eq!(parse(&text).ok(), chrono(&text));
        }
    }
}
