//! Calendar arithmetic for the proleptic Gregorian calendar in UTC: what every event's
//! timestamp goes through twice (parsed, then written), done with a few integer operations
//! instead of a general date library (Howard Hinnant's `days_from_civil`/`civil_from_days`).

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a valid date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix nanoseconds of a UTC date and time; `None` for a date or time that does not exist or
/// an instant outside what i64 nanoseconds hold (1677–2262). A leap second (`:60`) is read as
/// `:59`.
pub fn utc_nanos(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
) -> Option<i64> {
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second <= 60
        && nanos < 1_000_000_000
        && (-9_999..=9_999).contains(&year);
    if !valid {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY
        + i64::from(hour) * 3_600
        + i64::from(minute) * 60
        + i64::from(second.min(59));
    seconds
        .checked_mul(NANOS_PER_SECOND)?
        .checked_add(i64::from(nanos))
}

/// A UTC instant split into its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
}

impl CivilTime {
    pub fn from_unix_nanos(unix_nanos: i64) -> Self {
        let seconds = unix_nanos.div_euclid(NANOS_PER_SECOND);
        let nanos = unix_nanos.rem_euclid(NANOS_PER_SECOND) as u32;
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: second_of_day / 3_600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
            nanos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, Timelike};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn dates_agree_with_chrono(
            year in 1600i64..2400, month in 0u32..14, day in 0u32..33,
            hour in 0u32..25, minute in 0u32..61, second in 0u32..61, nanos in 0u32..1_000_000_000,
        ) {
            let expected = NaiveDate::from_ymd_opt(year as i32, month, day)
                .and_then(|d| d.and_hms_nano_opt(hour, minute, second.min(59), nanos))
                .and_then(|t| t.and_utc().timestamp_nanos_opt());
            prop_assert_eq!(utc_nanos(year, month, day, hour, minute, second, nanos), expected);
        }

        #[test]
        fn instants_split_as_chrono_splits_them(unix_nanos in any::<i64>()) {
            let expected = chrono::DateTime::from_timestamp_nanos(unix_nanos);
            let civil = CivilTime::from_unix_nanos(unix_nanos);
            prop_assert_eq!(
                (civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second, civil.nanos),
                (i64::from(expected.year()), expected.month(), expected.day(), expected.hour(),
                 expected.minute(), expected.second(), expected.nanosecond()),
            );
        }
    }

    #[test]
    fn leap_days_and_the_epoch() {
        assert_eq!(utc_nanos(1970, 1, 1, 0, 0, 0, 0), Some(0));
        assert!(utc_nanos(2024, 2, 29, 0, 0, 0, 0).is_some());
        assert_eq!(utc_nanos(2023, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(utc_nanos(1900, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(utc_nanos(9999, 12, 31, 23, 59, 59, 0), None, "past 2262");
    }
}
