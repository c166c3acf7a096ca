//! Finding the event time in a line of plain text, wherever the writer put it near the start:
//! at the beginning (`2024-05-01 10:00:00,123 INFO …`), in brackets (`[Sun Dec 04 04:47:44
//! 2005] [notice] …`), after a marker (`- 1117838570 2005.06.03 …`), after a file name
//! (`nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 …`) or after a pid
//! (`1:M 02 Jan 2024 15:04:05.123 * …`).
//!
//! Only where a token starts within the first [`SEARCH_BYTES`] bytes is a time looked for; a
//! token starts at the line's start or after a space, a tab or one of `[(<>{|"'=,` (so the
//! time inside `nova-api.log.1.2017-05-16_13:53:08` is not taken). Every layout is tried at
//! each start, byte by byte, without allocating.
//!
//! Which match wins, when several are found: a date with its year at the very start is taken
//! at once; otherwise the most complete one (a date with its year, then a Unix epoch number,
//! then a date without a year, then a time of day alone), the earliest of equals. An epoch
//! number is exact where a zoneless local date is not, and an id that happens to look like an
//! epoch does not beat a real date.
//!
//! Inference: a time without a zone is UTC; a two-digit year is 2000–2068 or 1969–1999 (as
//! POSIX `strptime` reads `%y`); a date without a year is in the year that does not put it
//! more than a day in the future; a time of day alone is today. Epoch numbers are taken from
//! 2001-09-09 (the first ten-digit second) to a day past now, with their unit from their digits (10: seconds, 13:
//! milliseconds, 16: microseconds, 19: nanoseconds).

use super::zones;
use crate::logs::civil::utc_nanos;
use chrono::{DateTime, Utc};

/// How far into a line a time may start.
pub const SEARCH_BYTES: usize = 64;

/// A time found in a line: where it is (byte offsets) and the instant, in Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundTime {
    pub start: usize,
    pub end: usize,
    pub nanos: i64,
    /// The layout's name, as docs/log-schema.md lists it.
    pub layout: &'static str,
}

/// How much of an instant a match says, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Completeness {
    TimeOfDay,
    NoYear,
    Epoch,
    Full,
}

/// The earliest Unix second an epoch number is taken for: 2001-09-09, the first with ten
/// digits (shorter numbers are ids far more often than times).
const EPOCH_FLOOR_SECONDS: i64 = 1_000_000_000;

/// The event time in `line`, if one starts near its beginning.
pub fn find(line: &str, now: DateTime<Utc>) -> Option<FoundTime> {
    let bytes = line.as_bytes();
    let mut best: Option<(Completeness, FoundTime)> = None;
    // An epoch number is taken only before any word (a token of letters, some lower-case):
    // `user 1234567890 logged in` is not 2009, but `- 1117838570 …`, `ECC 1131660301 …` and
    // `node-246 unix.hw state_change.unavailable 1077804742 …` have their times.
    let mut after_words = false;
    let mut token_start = 0;
    for start in 0..bytes.len().min(SEARCH_BYTES) {
        let first = bytes[start];
        if first == b' ' || first == b'\t' {
            let token = &bytes[token_start..start];
            after_words |= token.iter().all(u8::is_ascii_alphabetic)
                && token.iter().any(u8::is_ascii_lowercase);
            token_start = start + 1;
            continue;
        }
        if !(first.is_ascii_digit() || first.is_ascii_uppercase()) {
            continue;
        }
        if start > 0 && !is_token_boundary(bytes[start - 1]) {
            continue;
        }
        let Some((completeness, found)) = match_at(bytes, start, !after_words, now) else {
            continue;
        };
        // The most complete kind: nothing later can beat the earliest of it.
        if completeness == Completeness::Full {
            return Some(found);
        }
        if best.is_none_or(|(kept, _)| completeness > kept) {
            best = Some((completeness, found));
        }
    }
    best.map(|(_, found)| found)
}

fn is_token_boundary(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'[' | b'(' | b'<' | b'>' | b'{' | b'|' | b'"' | b'\'' | b'=' | b','
    )
}

type Layout = fn(&mut Cursor<'_>) -> Option<Parts>;

/// Every layout, most specific first: the first that reads a valid time at a start wins there.
const LAYOUTS: [(&str, Layout); 15] = [
    ("iso8601", iso),
    ("iso8601-basic", iso_basic),
    ("yymmdd-hhmmss", yymmdd_hhmmss),
    ("yy/mm/dd", short_year),
    ("dd.mm.yyyy", day_month_year_dots),
    ("mm/dd/yyyy", us_slashes),
    ("mm-dd", month_day),
    ("clf", clf),
    ("dd-mon-yyyy", day_mon_year),
    ("yyyy-mon-dd", year_mon_day),
    ("rfc2822", rfc2822),
    ("ctime", ctime),
    ("java-util-logging", java_util_logging),
    ("syslog", syslog),
    ("epoch", epoch),
];

fn match_at(
    bytes: &[u8],
    start: usize,
    allow_epoch: bool,
    now: DateTime<Utc>,
) -> Option<(Completeness, FoundTime)> {
    let time_of_day: &[(&str, Layout)] = if start == 0 {
        &[("time-of-day", time_of_day)]
    } else {
        &[]
    };
    LAYOUTS
        .iter()
        .chain(time_of_day)
        .filter(|(name, _)| allow_epoch || *name != "epoch")
        .find_map(|&(name, layout)| {
            let mut cursor = Cursor { bytes, at: start };
            let parts = layout(&mut cursor)?;
            if cursor.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            let (nanos, completeness) = parts.resolve(now)?;
            let found = FoundTime {
                start,
                end: cursor.at,
                nanos,
                layout: name,
            };
            Some((completeness, found))
        })
}

/// The fields a layout read, before inference.
#[derive(Debug, Default)]
struct Parts {
    year: Option<i64>,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    zone: Option<i32>,
    /// A Unix epoch number (nanoseconds) or a time of day alone, instead of a date.
    whole: Option<Whole>,
}

#[derive(Debug)]
enum Whole {
    Epoch(i64),
    TimeOfDay,
}

impl Parts {
    fn resolve(&self, now: DateTime<Utc>) -> Option<(i64, Completeness)> {
        let now_nanos = now.timestamp_nanos_opt()?;
        match self.whole {
            Some(Whole::Epoch(nanos)) => {
                let in_range = nanos >= EPOCH_FLOOR_SECONDS * 1_000_000_000
                    && nanos <= now_nanos.saturating_add(86_400 * 1_000_000_000);
                return in_range.then_some((nanos, Completeness::Epoch));
            }
            Some(Whole::TimeOfDay) => {
                let today = now.date_naive();
                let nanos = utc_nanos(
                    i64::from(chrono::Datelike::year(&today)),
                    chrono::Datelike::month(&today),
                    chrono::Datelike::day(&today),
                    self.hour,
                    self.minute,
                    self.second,
                    self.nanos,
                )?;
                return Some((nanos, Completeness::TimeOfDay));
            }
            None => {}
        }
        let (local, completeness) = match self.year {
            Some(year) => (
                utc_nanos(
                    year,
                    self.month,
                    self.day,
                    self.hour,
                    self.minute,
                    self.second,
                    self.nanos,
                )?,
                Completeness::Full,
            ),
            None => {
                // Checked as a date of this year or the last (29 February included).
                let local = super::without_year(
                    self.month,
                    self.day,
                    self.hour,
                    self.minute,
                    self.second,
                    self.nanos,
                    now,
                )?;
                (local, Completeness::NoYear)
            }
        };
        let zone = i64::from(self.zone.unwrap_or(0));
        Some((
            local.checked_sub(zone.checked_mul(1_000_000_000)?)?,
            completeness,
        ))
    }
}

/// Two-digit years as POSIX `strptime` reads `%y`.
fn full_year(short: u32) -> i64 {
    let short = i64::from(short);
    if short < 69 {
        2000 + short
    } else {
        1900 + short
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];
const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A position in a line, advanced by what each layout reads.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn eat_any(&mut self, set: &[u8]) -> Option<u8> {
        let byte = self.peek()?;
        set.contains(&byte).then(|| {
            self.at += 1;
            byte
        })
    }

    /// `min` to `max` digits, and no more digits after them.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let mut value = 0u32;
        let mut count = 0;
        while let Some(byte) = self.peek().filter(u8::is_ascii_digit) {
            if count == max {
                return None;
            }
            value = value * 10 + u32::from(byte - b'0');
            self.at += 1;
            count += 1;
        }
        (count >= min).then_some(value)
    }

    fn spaces(&mut self) -> Option<()> {
        let start = self.at;
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }

    /// The letters from here, lower-cased into `out`: the word's length.
    fn word<'b>(&self, out: &'b mut [u8; 12]) -> &'b [u8] {
        let mut len = 0;
        while let Some(byte) = self
            .bytes
            .get(self.at + len)
            .filter(|b| b.is_ascii_alphabetic())
        {
            if len == out.len() {
                return &[];
            }
            out[len] = byte.to_ascii_lowercase();
            len += 1;
        }
        &out[..len]
    }

    /// A month's name, abbreviated (`Jan`) or whole (`January`); its number.
    fn month_name(&mut self) -> Option<u32> {
        let mut buffer = [0u8; 12];
        let word = self.word(&mut buffer);
        let index = MONTHS.iter().position(|m| word.get(..3) == Some(&m[..]))?;
        let whole = MONTH_NAMES[index].as_bytes();
        // `Sept` is written too.
        if word.len() == 3 || word == whole || word == b"sept" {
            self.at += word.len();
            return Some(index as u32 + 1);
        }
        None
    }

    /// A weekday's name, abbreviated (`Sun`) or whole (`Sunday`).
    fn weekday_name(&mut self) -> Option<()> {
        let mut buffer = [0u8; 12];
        let word = self.word(&mut buffer);
        let known = WEEKDAY_NAMES
            .iter()
            .any(|day| word == day.as_bytes() || (word.len() == 3 && &day.as_bytes()[..3] == word));
        known.then(|| self.at += word.len())
    }

    /// `.123` (any of `separators` before the digits), as nanoseconds; 0 when absent.
    fn fraction(&mut self, separators: &[u8]) -> u32 {
        let mut ahead = *self;
        if ahead.eat_any(separators).is_none() || !ahead.peek().is_some_and(|b| b.is_ascii_digit())
        {
            return 0;
        }
        let mut nanos = 0u32;
        let mut digits = 0;
        while let Some(byte) = ahead.peek().filter(u8::is_ascii_digit) {
            if digits < 9 {
                nanos += u32::from(byte - b'0') * 10u32.pow(8 - digits);
            }
            digits += 1;
            ahead.at += 1;
        }
        *self = ahead;
        nanos
    }

    /// `HH:MM:SS` with `separator`; the hour may have `hour_digits.0..=.1` digits.
    fn clock(&mut self, separator: u8, hour_digits: (usize, usize)) -> Option<(u32, u32, u32)> {
        let hour = self.number(hour_digits.0, hour_digits.1)?;
        self.eat(separator)?;
        let minute = self.number(2, 2)?;
        self.eat(separator)?;
        let second = self.number(2, 2)?;
        Some((hour, minute, second))
    }

    /// An optional zone after a time: `Z`, `+02:00`, `-0700`, `+05`, with or without a space
    /// before it, or an abbreviation (`UTC`, `PDT`) after a space; Go's `+0000 UTC` is read
    /// whole. The offset east of UTC in seconds.
    fn zone(&mut self) -> Option<i32> {
        if self.peek() == Some(b'Z') {
            self.at += 1;
            return Some(0);
        }
        let mut ahead = *self;
        let spaced = ahead.eat(b' ').is_some();
        if let Some(offset) = ahead.numeric_zone() {
            *self = ahead;
            let mut named = *self;
            if named.eat(b' ').is_some() && named.zone_name().is_some() {
                *self = named;
            }
            return Some(offset);
        }
        if spaced && let Some(offset) = ahead.zone_name() {
            *self = ahead;
            return Some(offset);
        }
        None
    }

    /// `+02:00`, `-0700`, `+05`.
    fn numeric_zone(&mut self) -> Option<i32> {
        let mut ahead = *self;
        let sign = ahead.eat_any(b"+-")?;
        let mut four = ahead;
        let (hours, minutes) = match four.number(4, 4) {
            Some(hhmm) => {
                ahead = four;
                (hhmm / 100, hhmm % 100)
            }
            None => {
                let hours = ahead.number(2, 2)?;
                let mut with_minutes = ahead;
                match with_minutes
                    .eat(b':')
                    .and_then(|()| with_minutes.number(2, 2))
                {
                    Some(minutes) => {
                        ahead = with_minutes;
                        (hours, minutes)
                    }
                    None => (hours, 0),
                }
            }
        };
        if hours > 14 || minutes > 59 {
            return None;
        }
        *self = ahead;
        let seconds = (hours * 3600 + minutes * 60) as i32;
        Some(if sign == b'-' { -seconds } else { seconds })
    }

    fn zone_name(&mut self) -> Option<i32> {
        let start = self.at;
        let mut end = start;
        while end - start < 5 && self.bytes.get(end).is_some_and(u8::is_ascii_uppercase) {
            end += 1;
        }
        if self.bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        let offset = zones::offset_of(&self.bytes[start..end])?;
        self.at = end;
        Some(offset)
    }

    /// ` AM` / ` PM` after a 12-hour clock: the hour on a 24-hour clock.
    fn meridiem(&mut self, hour: u32) -> Option<u32> {
        let mut ahead = *self;
        ahead.eat(b' ')?;
        let pm = match (ahead.peek()?, ahead.bytes.get(ahead.at + 1)?) {
            (b'A' | b'a', b'M' | b'm') => false,
            (b'P' | b'p', b'M' | b'm') => true,
            _ => return None,
        };
        if !(1..=12).contains(&hour) {
            return None;
        }
        ahead.at += 2;
        *self = ahead;
        Some(hour % 12 + if pm { 12 } else { 0 })
    }
}

fn with_clock(
    cursor: &mut Cursor<'_>,
    separator: u8,
    fraction_separators: &[u8],
    mut parts: Parts,
) -> Option<Parts> {
    let (hour, minute, second) = cursor.clock(separator, (2, 2))?;
    parts.hour = hour;
    parts.minute = minute;
    parts.second = second;
    parts.nanos = cursor.fraction(fraction_separators);
    parts.zone = cursor.zone();
    Some(parts)
}

fn date(year: Option<i64>, month: u32, day: u32) -> Parts {
    Parts {
        year,
        month,
        day,
        ..Parts::default()
    }
}

/// `2024-01-02T15:04:05.123Z`, `2024-01-02 15:04:05,123 +0100`, `2024/01/02 15:04:05`,
/// `2024.01.02 15:04:05`, `2017-05-16_13:53:08`, `2005-06-03-15.42.50.675872` (BlueGene),
/// `2024-01-02 15:04:05.123456 +0000 UTC` (Go)…
fn iso(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let year = cursor.number(4, 4)?;
    let separator = cursor.eat_any(b"-/.")?;
    let month = cursor.number(2, 2)?;
    cursor.eat(separator)?;
    let day = cursor.number(2, 2)?;
    let between = cursor.eat_any(b"T t_-")?;
    if between == b'-' && separator != b'-' {
        return None;
    }
    let clock_separator = if between == b'-' { b'.' } else { b':' };
    with_clock(
        cursor,
        clock_separator,
        b".,",
        date(Some(i64::from(year)), month, day),
    )
}

/// `20240102T150405Z`, `20240102 15:04:05`, `20171224-20:11:16:931` (HealthApp).
fn iso_basic(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let whole = cursor.number(8, 8)?;
    let mut parts = date(
        Some(i64::from(whole / 10_000)),
        whole / 100 % 100,
        whole % 100,
    );
    cursor.eat_any(b"T -")?;
    if cursor.bytes.get(cursor.at + 2) == Some(&b':') {
        parts = with_clock(cursor, b':', b".,:", parts)?;
    } else {
        let clock = cursor.number(6, 6)?;
        parts.hour = clock / 10_000;
        parts.minute = clock / 100 % 100;
        parts.second = clock % 100;
        parts.nanos = cursor.fraction(b".,");
        parts.zone = cursor.zone();
    }
    Some(parts)
}

/// `081109 203615` (HDFS, log4j's `yyMMdd HHmmss`).
fn yymmdd_hhmmss(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let day = cursor.number(6, 6)?;
    cursor.eat(b' ')?;
    let clock = cursor.number(6, 6)?;
    Some(Parts {
        year: Some(full_year(day / 10_000)),
        month: day / 100 % 100,
        day: day % 100,
        hour: clock / 10_000,
        minute: clock / 100 % 100,
        second: clock % 100,
        ..Parts::default()
    })
}

/// `17/06/09 20:10:40` (Spark, log4j's `yy/MM/dd HH:mm:ss`), `17-06-09 20:10:40`.
fn short_year(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let year = cursor.number(2, 2)?;
    let separator = cursor.eat_any(b"/-")?;
    let month = cursor.number(2, 2)?;
    cursor.eat(separator)?;
    let day = cursor.number(2, 2)?;
    cursor.eat(b' ')?;
    with_clock(cursor, b':', b".,", date(Some(full_year(year)), month, day))
}

/// `03-17 16:13:38.811` (Android logcat), `10.30 16:49:06` (Proxifier), `03/17 16:13:38`:
/// month and day, no year.
fn month_day(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let month = cursor.number(2, 2)?;
    cursor.eat_any(b"-/.")?;
    let day = cursor.number(2, 2)?;
    cursor.eat(b' ')?;
    with_clock(cursor, b':', b".,", date(None, month, day))
}

/// `02.01.2024 15:04:05` (day first, as most of Europe writes it).
fn day_month_year_dots(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let day = cursor.number(2, 2)?;
    cursor.eat(b'.')?;
    let month = cursor.number(2, 2)?;
    cursor.eat(b'.')?;
    let year = cursor.number(4, 4)?;
    cursor.eat(b',');
    cursor.spaces()?;
    with_clock(cursor, b':', b".,", date(Some(i64::from(year)), month, day))
}

/// `01/02/2024 15:04:05`, `1/2/2024 3:04:05 PM` (month first, as the US writes it; day
/// first when the first number cannot be a month).
fn us_slashes(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let first = cursor.number(1, 2)?;
    cursor.eat(b'/')?;
    let second = cursor.number(1, 2)?;
    cursor.eat(b'/')?;
    let year = cursor.number(4, 4)?;
    cursor.eat(b',');
    cursor.spaces()?;
    let (month, day) = if first > 12 {
        (second, first)
    } else {
        (first, second)
    };
    let (hour, minute, second) = cursor.clock(b':', (1, 2))?;
    let nanos = cursor.fraction(b".,");
    let hour = cursor.meridiem(hour).unwrap_or(hour);
    Some(Parts {
        hour,
        minute,
        second,
        nanos,
        zone: cursor.zone(),
        ..date(Some(i64::from(year)), month, day)
    })
}

/// `10/Oct/2000:13:55:36 -0700` (Common Log Format), `02/Jan/2024:15:04:05.123` (HAProxy).
fn clf(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let day = cursor.number(2, 2)?;
    cursor.eat(b'/')?;
    let month = cursor.month_name()?;
    cursor.eat(b'/')?;
    let year = cursor.number(4, 4)?;
    cursor.eat(b':')?;
    with_clock(cursor, b':', b".", date(Some(i64::from(year)), month, day))
}

/// `14-Jun-2024 15:16:01.123` (Tomcat), `02-Jan-2024 15:04:05`.
fn day_mon_year(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let day = cursor.number(1, 2)?;
    cursor.eat(b'-')?;
    let month = cursor.month_name()?;
    cursor.eat(b'-')?;
    let year = cursor.number(4, 4)?;
    cursor.eat(b' ')?;
    with_clock(cursor, b':', b".,", date(Some(i64::from(year)), month, day))
}

/// `2024-Jan-02 15:04:05.123456` (Boost.Log, some C++ services).
fn year_mon_day(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let year = cursor.number(4, 4)?;
    cursor.eat(b'-')?;
    let month = cursor.month_name()?;
    cursor.eat(b'-')?;
    let day = cursor.number(2, 2)?;
    cursor.eat(b' ')?;
    with_clock(cursor, b':', b".,", date(Some(i64::from(year)), month, day))
}

/// `Tue, 02 Jan 2024 15:04:05 +0000` (RFC 2822 / RFC 1123), `02 Jan 2024 15:04:05.123`
/// (Redis), `02 Jan 24 15:04 UTC` is not taken: seconds are needed.
fn rfc2822(cursor: &mut Cursor<'_>) -> Option<Parts> {
    if cursor.peek()?.is_ascii_alphabetic() {
        cursor.weekday_name()?;
        cursor.eat(b',')?;
        cursor.spaces()?;
    }
    let day = cursor.number(1, 2)?;
    cursor.eat(b' ')?;
    let month = cursor.month_name()?;
    cursor.eat(b' ')?;
    let year = cursor.number(2, 4)?;
    let year = if year < 100 {
        full_year(year)
    } else {
        i64::from(year)
    };
    cursor.eat(b' ')?;
    with_clock(cursor, b':', b".", date(Some(year), month, day))
}

/// `Sun Dec 04 04:47:44 2005` (C's `ctime`, Apache's error log), `Mon Jan  2 15:04:05 MST
/// 2006` (`date`), `Tue Jan 02 15:04:05.123456 2024` (Apache 2.4).
fn ctime(cursor: &mut Cursor<'_>) -> Option<Parts> {
    cursor.weekday_name()?;
    cursor.eat(b' ')?;
    let month = cursor.month_name()?;
    cursor.spaces()?;
    let day = cursor.number(1, 2)?;
    cursor.eat(b' ')?;
    let (hour, minute, second) = cursor.clock(b':', (2, 2))?;
    let nanos = cursor.fraction(b".");
    cursor.eat(b' ')?;
    let mut zone = None;
    if cursor.peek()?.is_ascii_alphabetic() {
        zone = Some(cursor.zone_name()?);
        cursor.eat(b' ')?;
    }
    let year = cursor.number(4, 4)?;
    Some(Parts {
        hour,
        minute,
        second,
        nanos,
        zone,
        ..date(Some(i64::from(year)), month, day)
    })
}

/// `Jun 14, 2024 3:16:01 PM` (java.util.logging's SimpleFormatter).
fn java_util_logging(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let month = cursor.month_name()?;
    cursor.eat(b' ')?;
    let day = cursor.number(1, 2)?;
    cursor.eat(b',')?;
    cursor.eat(b' ')?;
    let year = cursor.number(4, 4)?;
    cursor.eat(b' ')?;
    let (hour, minute, second) = cursor.clock(b':', (1, 2))?;
    let hour = cursor.meridiem(hour)?;
    Some(Parts {
        hour,
        minute,
        second,
        ..date(Some(i64::from(year)), month, day)
    })
}

/// `Jun 14 15:16:01` and `Jun  4 15:16:01.123` (BSD syslog: no year), `Jan 02 2024
/// 15:04:05` (Cisco), `Jun 14 15:16:01 2024`.
fn syslog(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let month = cursor.month_name()?;
    cursor.spaces()?;
    let day = cursor.number(1, 2)?;
    cursor.eat(b' ')?;
    let mut year = None;
    if cursor.bytes.get(cursor.at + 4) == Some(&b' ') {
        let mut ahead = *cursor;
        if let Some(written) = ahead.number(4, 4) {
            ahead.eat(b' ')?;
            year = Some(i64::from(written));
            *cursor = ahead;
        }
    }
    let mut parts = with_clock(cursor, b':', b".,", date(year, month, day))?;
    if parts.year.is_none() && parts.zone.is_none() {
        let mut ahead = *cursor;
        if ahead.eat(b' ').is_some()
            && let Some(written) = ahead.number(4, 4)
            && (1970..=2100).contains(&written)
            && !ahead.peek().is_some_and(|b| b.is_ascii_alphanumeric())
        {
            parts.year = Some(i64::from(written));
            *cursor = ahead;
        }
    }
    Some(parts)
}

/// `1117838570` (seconds), `1704207845.123` (Squid), `1704207845123` (milliseconds): a Unix
/// epoch number standing alone as a token.
fn epoch(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let start = cursor.at;
    while cursor.peek().is_some_and(|b| b.is_ascii_digit()) {
        cursor.at += 1;
    }
    let digits = &cursor.bytes[start..cursor.at];
    let unit: i64 = match digits.len() {
        10 => 1_000_000_000,
        13 => 1_000_000,
        16 => 1_000,
        19 => 1,
        _ => return None,
    };
    let whole = digits.iter().try_fold(0i64, |value, &b| {
        value.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })?;
    let mut nanos = whole.checked_mul(unit)?;
    if unit == 1_000_000_000 {
        nanos = nanos.checked_add(i64::from(cursor.fraction(b".")))?;
    }
    if !cursor
        .peek()
        .is_none_or(|b| b == b' ' || b == b'\t' || b == b']' || b == b'|')
    {
        return None;
    }
    Some(Parts {
        whole: Some(Whole::Epoch(nanos)),
        ..Parts::default()
    })
}

/// `15:04:05.123` at the start of a line (logback's basic layout): today.
fn time_of_day(cursor: &mut Cursor<'_>) -> Option<Parts> {
    let (hour, minute, second) = cursor.clock(b':', (2, 2))?;
    let nanos = cursor.fraction(b".,");
    Some(Parts {
        hour,
        minute,
        second,
        nanos,
        whole: Some(Whole::TimeOfDay),
        ..Parts::default()
    })
}

#[cfg(test)]
#[path = "find_tests.rs"]
mod tests;
