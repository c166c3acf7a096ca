//! Event timestamps: parsing the layouts services write, and printing the canonical one.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339, UTC, nanoseconds: `2024-01-02T15:04:05.123456789Z`.
pub fn format_rfc3339_nanos(unix_nanos: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(unix_nanos).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// RFC 3339 / ISO 8601 with a zone (`Z` or an offset), as Unix nanoseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()?
        .timestamp_nanos_opt()
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

/// Now, as Unix nanoseconds.
pub fn now_nanos() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_nanoseconds_in_utc() {
        assert_eq!(
            format_rfc3339_nanos(1_704_207_845_123_000_000),
            "2024-01-02T15:04:05.123000000Z"
        );
    }

    #[test]
    fn parses_zones_and_epochs() {
        let utc = parse_rfc3339("2024-01-02T15:04:05.123Z").unwrap();
        assert_eq!(parse_rfc3339("2024-01-02T16:04:05.123+01:00"), Some(utc));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            from_epoch_decimal("1704207845"),
            Some(1_704_207_845_000_000_000)
        );
        assert_eq!(
            from_epoch_decimal("1704207845.5"),
            Some(1_704_207_845_500_000_000)
        );
        assert_eq!(
            from_epoch_decimal("1704207845123"),
            Some(1_704_207_845_123_000_000)
        );
        assert_eq!(
            from_epoch_decimal("1704207845123456"),
            Some(1_704_207_845_123_456_000)
        );
        assert_eq!(
            from_epoch_decimal("1704207845123456789"),
            Some(1_704_207_845_123_456_789)
        );
        assert_eq!(
            from_epoch_decimal("1704207845.1234567891"),
            Some(1_704_207_845_123_456_789)
        );
        for bad in ["", "-5", "1e9", "abc", "0", "99999999999999999999", "1.2.3"] {
            assert_eq!(from_epoch_decimal(bad), None, "{bad}");
        }
    }
}
