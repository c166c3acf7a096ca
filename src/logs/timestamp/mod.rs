//! Event timestamps: the layouts services write, parsed without panicking, and the one the
//! record is written with. Times without a zone are taken as UTC; layouts without a year
//! (syslog, klog) take the current year, or the previous one if that would be in the future.

use super::civil::{CivilTime, utc_nanos};

pub mod find;
mod zones;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take_while_m_n;
use nom::character::complete::{char, one_of};
use nom::combinator::{map_res, opt};

/// RFC 3339, UTC, nanoseconds: `2024-01-02T15:04:05.123456789Z`.
pub fn format_rfc3339_nanos(unix_nanos: i64) -> String {
    let mut out = [0u8; 30];
    let len = write_rfc3339_nanos(unix_nanos, &mut out);
    String::from_utf8_lossy(&out[..len]).into_owned()
}

/// The same, written into `out` without allocating (once per event on the hot path); returns
/// the length. Years outside 0..=9999 cannot occur from an i64 of nanoseconds.
pub fn write_rfc3339_nanos(unix_nanos: i64, out: &mut [u8; 30]) -> usize {
    let time = CivilTime::from_unix_nanos(unix_nanos);
    let mut put = |at: usize, value: u32, width: usize| {
        let mut value = value;
        for index in (0..width).rev() {
            out[at + index] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, time.year.clamp(0, 9999) as u32, 4);
    put(5, time.month, 2);
    put(8, time.day, 2);
    put(11, time.hour, 2);
    put(14, time.minute, 2);
    put(17, time.second, 2);
    put(20, time.nanos, 9);
    for (at, separator) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (29, b'Z'),
    ] {
        out[at] = separator;
    }
    30
}

static REFERENCE_NOW: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();

/// Fixes what "now" is for this process (`vigia parse --now`): the read time of events
/// without one, and the year of dates written without one. For reproducible output.
pub fn set_reference_now(now: DateTime<Utc>) {
    let _ = REFERENCE_NOW.set(now);
}

/// Now, or the time set with [`set_reference_now`].
pub fn now() -> DateTime<Utc> {
    REFERENCE_NOW.get().copied().unwrap_or_else(Utc::now)
}

/// Now, as Unix nanoseconds.
pub fn now_nanos() -> i64 {
    now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Any layout a structured field may hold: ISO 8601 / RFC 3339 (with or without zone, `T` or
/// space, `.` or `,` before the fraction, `-` or `/` in the date), a Unix epoch number, the
/// Common Log Format time, or a syslog time.
pub fn parse_any(text: &str) -> Option<i64> {
    let text = text.trim();
    parse_iso(text)
        .or_else(|| from_epoch_decimal(text))
        .or_else(|| parse_clf(text))
        .or_else(|| parse_syslog(text, now()))
}

/// RFC 3339 with a zone (kept for callers that want exactly that).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    parse_iso(text.trim())
}

/// Exactly `count` ASCII digits, as a number (byte by byte: this runs for every timestamp).
fn digits<'a>(
    count: usize,
) -> impl Parser<&'a str, Output = u32, Error = nom::error::Error<&'a str>> {
    move |input: &'a str| {
        let bytes = input.as_bytes();
        match bytes.get(..count) {
            Some(head) if count <= 9 && head.iter().all(u8::is_ascii_digit) => {
                let value = head
                    .iter()
                    .fold(0u32, |value, b| value * 10 + u32::from(b - b'0'));
                Ok((&input[count..], value))
            }
            _ => Err(nom::Err::Error(nom::error::Error::new(
                input,
                nom::error::ErrorKind::Digit,
            ))),
        }
    }
}

/// `.123` or `,123456789` (any number of digits; past nanoseconds they are dropped).
fn fraction(input: &str) -> IResult<&str, u32> {
    let (rest, _) = one_of(".,")(input)?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if end == 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        )));
    }
    let digits = &rest[..end];
    let mut nanos = 0u32;
    for (index, digit) in digits.bytes().take(9).enumerate() {
        nanos += u32::from(digit - b'0') * 10u32.pow(8 - index as u32);
    }
    Ok((&rest[end..], nanos))
}

/// `Z`, `+02:00`, `-0700`, `+02`: the offset east of UTC in seconds.
fn zone(input: &str) -> IResult<&str, i32> {
    if let Ok((rest, _)) = one_of::<_, _, nom::error::Error<&str>>("Zz")(input) {
        return Ok((rest, 0));
    }
    let (rest, (sign, hours, minutes)) = (
        one_of("+-"),
        digits(2),
        opt((opt(char(':')), digits(2)).map(|(_, m)| m)),
    )
        .parse(input)?;
    let seconds = (hours * 3600 + minutes.unwrap_or(0) * 60) as i32;
    Ok((rest, if sign == '-' { -seconds } else { seconds }))
}

/// Date and time with optional fraction and zone; returns the rest of the input.
pub fn iso_prefix(input: &str) -> IResult<&str, i64> {
    match rfc3339_utc_prefix(input) {
        Some(parsed) => Ok(parsed),
        None => iso_prefix_any_layout(input),
    }
}

/// The layout most services write, `2024-05-01T10:00:00.123Z`, read byte by byte: a fast path
/// that agrees with [`iso_prefix_any_layout`] on what it accepts, and leaves anything else to it.
fn rfc3339_utc_prefix(input: &str) -> Option<(&str, i64)> {
    let bytes = input.as_bytes();
    let head = bytes.get(..19)?;
    let number = |range: std::ops::Range<usize>| {
        head[range].iter().try_fold(0u32, |value, &b| {
            b.is_ascii_digit().then(|| value * 10 + u32::from(b - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(at, byte)| head[at] == byte) {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0;
    if bytes.get(at) == Some(&b'.') {
        let digits = bytes[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        for (index, &digit) in bytes[at + 1..at + 1 + digits.min(9)].iter().enumerate() {
            nanos += u32::from(digit - b'0') * 10u32.pow(8 - index as u32);
        }
        at += 1 + digits;
    }
    if !matches!(bytes.get(at), Some(b'Z' | b'z')) {
        return None;
    }
    let utc = utc_nanos(
        i64::from(number(0..4)?),
        number(5..7)?,
        number(8..10)?,
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        nanos,
    )?;
    Some((&input[at + 1..], utc))
}

/// Any of the ISO 8601 layouts [`iso_prefix`] takes.
fn iso_prefix_any_layout(input: &str) -> IResult<&str, i64> {
    let (rest, (year, _, month, _, day, _, (hour, minute, second, nanos), zone)) = (
        digits(4),
        one_of("-/"),
        digits(2),
        one_of("-/"),
        digits(2),
        one_of("T t"),
        clock,
        opt(zone),
    )
        .parse(input)?;
    utc_nanos(i64::from(year), month, day, hour, minute, second, nanos)
        .and_then(|utc| shift_by_zone(utc, zone.unwrap_or(0)))
        .map(|utc| (rest, utc))
        .ok_or_else(|| {
            nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Verify))
        })
}

/// A local time `utc` (as if it were UTC) at `zone_seconds` east of UTC, as UTC; `None` past
/// the range of i64 nanoseconds (years 1677 to 2262) rather than a wrap or a panic.
fn shift_by_zone(utc: i64, zone_seconds: i32) -> Option<i64> {
    utc.checked_sub(i64::from(zone_seconds).checked_mul(1_000_000_000)?)
}

/// `HH:MM:SS[.fraction]`: (hour, minute, second, nanoseconds).
fn clock(input: &str) -> IResult<&str, (u32, u32, u32, u32)> {
    let (rest, (hour, _, minute, _, second, nanos)) = (
        digits(2),
        char(':'),
        digits(2),
        char(':'),
        digits(2),
        opt(fraction),
    )
        .parse(input)?;
    Ok((rest, (hour, minute, second, nanos.unwrap_or(0))))
}

fn parse_iso(text: &str) -> Option<i64> {
    match iso_prefix(text) {
        Ok(("", nanos)) => Some(nanos),
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month(input: &str) -> IResult<&str, u32> {
    let name = input.get(..3).ok_or_else(|| {
        nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Tag))
    })?;
    match MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name)) {
        Some(index) => Ok((&input[3..], index as u32 + 1)),
        None => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Tag,
        ))),
    }
}

/// Common Log Format: `10/Oct/2000:13:55:36 -0700`.
pub fn clf_prefix(input: &str) -> IResult<&str, i64> {
    let (rest, (day, _, month, _, year, _, (hour, minute, second, _), _, zone)) = (
        digits(2),
        char('/'),
        month,
        char('/'),
        digits(4),
        char(':'),
        clock,
        char(' '),
        zone,
    )
        .parse(input)?;
    utc_nanos(i64::from(year), month, day, hour, minute, second, 0)
        .and_then(|utc| shift_by_zone(utc, zone))
        .map(|utc| (rest, utc))
        .ok_or_else(|| {
            nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Verify))
        })
}

fn parse_clf(text: &str) -> Option<i64> {
    match clf_prefix(text) {
        Ok(("", nanos)) => Some(nanos),
        _ => None,
    }
}

/// A date without a year, placed in the year that does not put it in the future (by more than
/// a day, for clock skew).
fn without_year(
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    now: DateTime<Utc>,
) -> Option<i64> {
    let at = |year: i32| {
        NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_nano_opt(hour, minute, second.min(59), nanos))
            .map(|t| Utc.from_utc_datetime(&t))
    };
    // This year, or the last (also when the date does not exist this year: 29 February).
    let latest = now + chrono::Duration::days(1);
    let chosen = [now.year(), now.year() - 1]
        .into_iter()
        .filter_map(at)
        .find(|time| *time <= latest)?;
    chosen.timestamp_nanos_opt()
}

/// Syslog (RFC 3164): `Oct 11 22:14:15` or `Oct  1 22:14:15`, optionally with a fraction.
pub fn syslog_prefix(input: &str, now: DateTime<Utc>) -> IResult<&str, i64> {
    let (rest, (month, _, day, _, (hour, minute, second, nanos))) = (
        month,
        nom::character::complete::space1,
        map_res(
            take_while_m_n(1, 2, |c: char| c.is_ascii_digit()),
            str::parse::<u32>,
        ),
        char(' '),
        clock,
    )
        .parse(input)?;
    let nanos = without_year(month, day, hour, minute, second, nanos, now).ok_or_else(|| {
        nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Verify))
    })?;
    Ok((rest, nanos))
}

fn parse_syslog(text: &str, now: DateTime<Utc>) -> Option<i64> {
    match syslog_prefix(text, now) {
        Ok(("", nanos)) => Some(nanos),
        _ => None,
    }
}

/// klog: `0501 10:00:01.100000` (month, day; no year).
pub fn klog_time(month: u32, day: u32, clock: &str, now: DateTime<Utc>) -> Option<i64> {
    let (hour, minute, second, nanos) = whole_clock(clock)?;
    without_year(month, day, hour, minute, second, nanos, now)
}

/// A time of day alone (`10:00:00.123`, logback's default): today, in UTC.
pub fn time_of_day(clock: &str, now: DateTime<Utc>) -> Option<i64> {
    let (hour, minute, second, nanos) = whole_clock(clock)?;
    now.date_naive()
        .and_hms_nano_opt(hour, minute, second.min(59), nanos)?
        .and_utc()
        .timestamp_nanos_opt()
}

/// `HH:MM:SS[.fraction]` and nothing else.
fn whole_clock(text: &str) -> Option<(u32, u32, u32, u32)> {
    match clock(text) {
        Ok(("", parts)) => Some(parts),
        _ => None,
    }
}

/// A Unix epoch number, written in decimal (`1704207845`, `1704207845.5`, `1704207845123`),
/// whose unit is guessed from its size: seconds, milliseconds, microseconds or nanoseconds
/// (the units JSON loggers use). Integer arithmetic, so no precision is lost.
pub fn from_epoch_decimal(text: &str) -> Option<i64> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty()
        || whole.len() > 19
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole_value: i64 = whole.parse().ok()?;
    let unit_nanos: i64 = match whole_value {
        0 => return None,
        v if v < 100_000_000_000 => 1_000_000_000,
        v if v < 100_000_000_000_000 => 1_000_000,
        v if v < 100_000_000_000_000_000 => 1_000,
        _ => 1,
    };
    // Fraction digits below the nanosecond are dropped.
    let digits = unit_nanos.ilog10() as usize;
    let mut fraction_nanos = 0i64;
    for (index, digit) in fraction.bytes().take(digits).enumerate() {
        fraction_nanos += i64::from(digit - b'0') * 10i64.pow((digits - 1 - index) as u32);
    }
    whole_value
        .checked_mul(unit_nanos)?
        .checked_add(fraction_nanos)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_zone_at_the_edge_of_the_range_is_refused_not_wrapped() {
        // 2262-04-11T23:47:16 is the last second i64 nanoseconds hold; one hour west is past it.
        assert_eq!(parse_any("2262-04-11T23:47:16-01:00"), None);
        assert_eq!(parse_any("1677-09-21T00:12:44+01:00"), None);
        assert_eq!(parse_any("11/Apr/2262:23:47:16 -0100"), None);
        assert!(parse_any("2262-04-11T22:47:16+00:00").is_some());
    }

    use super::*;
    use proptest::prelude::*;

    const T: i64 = 1_704_207_845_000_000_000; // 2024-01-02T15:04:05Z

    #[test]
    fn formats_with_nanoseconds_in_utc() {
        assert_eq!(
            format_rfc3339_nanos(T + 123_000_000),
            "2024-01-02T15:04:05.123000000Z"
        );
    }

    #[test]
    fn iso_layouts() {
        for (text, expected) in [
            ("2024-01-02T15:04:05Z", T),
            ("2024-01-02T15:04:05.123Z", T + 123_000_000),
            ("2024-01-02T16:04:05.123+01:00", T + 123_000_000),
            ("2024-01-02T08:04:05-0700", T),
            ("2024-01-02T15:04:05", T),
            ("2024-01-02 15:04:05,123", T + 123_000_000),
            ("2024/01/02 15:04:05.123456", T + 123_456_000),
            ("2024-01-02T15:04:05.123456789123Z", T + 123_456_789),
        ] {
            assert_eq!(parse_any(text), Some(expected), "{text}");
        }
        for bad in [
            "2024-13-02T15:04:05Z",
            "2024-01-02",
            "yesterday",
            "",
            "2024-01-02T15:04:05Zjunk",
        ] {
            assert_eq!(parse_any(bad), None, "{bad}");
        }
    }

    #[test]
    fn clf_syslog_and_epochs() {
        assert_eq!(parse_any("02/Jan/2024:08:04:05 -0700"), Some(T));
        let now = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap();
        assert_eq!(parse_syslog("Jan  2 15:04:05", now), Some(T));
        // December seen in March: last year.
        let december = parse_syslog("Dec 31 23:00:00", now).unwrap();
        assert_eq!(
            format_rfc3339_nanos(december),
            "2023-12-31T23:00:00.000000000Z"
        );
        assert_eq!(klog_time(1, 2, "15:04:05.000100", now), Some(T + 100_000));
        assert_eq!(from_epoch_decimal("1704207845"), Some(T));
        assert_eq!(from_epoch_decimal("1704207845.5"), Some(T + 500_000_000));
        assert_eq!(from_epoch_decimal("1704207845123"), Some(T + 123_000_000));
        assert_eq!(
            from_epoch_decimal("1704207845123456"),
            Some(T + 123_456_000)
        );
        assert_eq!(
            from_epoch_decimal("1704207845123456789"),
            Some(T + 123_456_789)
        );
        for bad in ["", "-5", "1e9", "abc", "0", "99999999999999999999", "1.2.3"] {
            assert_eq!(from_epoch_decimal(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in ".{0,40}") {
            let _ = parse_any(&text);
            let _ = klog_time(13, 40, &text, Utc::now());
            let _ = time_of_day(&text, Utc::now());
        }

        #[test]
        fn never_panics_on_timestamp_shaped_text(text in "[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,12})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?") {
            let _ = parse_any(&text);
        }

        #[test]
        fn the_fast_path_agrees_with_the_general_parser(
            text in "[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,12})?[Zz+]?[ a-z]{0,3}|[0-9T:.Z-]{0,30}",
        ) {
            if let Some((rest, nanos)) = rfc3339_utc_prefix(&text) {
                prop_assert_eq!(iso_prefix_any_layout(&text).ok(), Some((rest, nanos)));
            }
        }
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn the_edges_of_the_representable_range() {
        assert_eq!(format_rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_rfc3339_nanos(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            format_rfc3339_nanos(i64::MAX),
            "2262-04-11T23:47:16.854775807Z"
        );
        assert_eq!(
            format_rfc3339_nanos(i64::MIN),
            "1677-09-21T00:12:43.145224192Z"
        );
    }
}
