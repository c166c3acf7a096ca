use super::*;
use crate::logs::timestamp::format_rfc3339_nanos;
use chrono::{NaiveDate, TimeZone};
use proptest::prelude::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()
}

fn found(line: &str) -> Option<(String, &'static str)> {
    find(line, now()).map(|found| (format_rfc3339_nanos(found.nanos), found.layout))
}

/// One line per layout as real systems write it, and the instant it stands for. Each of these
/// is a distinct way of writing a time that the finder reads (layout families in parentheses).
const LAYOUTS_AS_WRITTEN: &[(&str, &str)] = &[
    (
        "2024-01-02T15:04:05Z app started",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "2024-01-02T15:04:05.123Z GET /",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "2024-01-02T15:04:05.123456789Z x",
        "2024-01-02T15:04:05.123456789Z",
    ),
    (
        "2024-01-02T16:04:05+01:00 x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "2024-01-02T08:04:05-0700 x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "2024-01-02T20:34:05+05:30 x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    ("2024-01-02T17:04:05+02 x", "2024-01-02T15:04:05.000000000Z"),
    (
        "2024-01-02 15:04:05,123 INFO [main] org.apache.hadoop.Foo: x",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "2024-01-02 15:04:05.123456 +0000 UTC m=+0.000",
        "2024-01-02T15:04:05.123456000Z",
    ),
    (
        "2024-01-02 17:04:05 +0200 x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "2024-01-02 07:04:05 PST x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "2024-01-02 15:04:05.123 UTC [4242] LOG:  checkpoint starting",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "2024/01/02 15:04:05 [error] 123#0: *1 open() failed",
        "2024-01-02T15:04:05.000000000Z",
    ),
    ("2024.01.02 15:04:05 x", "2024-01-02T15:04:05.000000000Z"),
    (
        "2005-06-03-15.42.50.675872 R02-M1-N0",
        "2005-06-03T15:42:50.675872000Z",
    ),
    (
        "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova",
        "2017-05-16T00:00:00.008000000Z",
    ),
    (
        "[2024-01-02 15:04:05,123] INFO [KafkaServer id=1] started",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "[2024-01-02T15:04:05,123][INFO ][o.e.n.Node] started",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "2024-01-02T15:04:05.123+0000 I NETWORK [listener] waiting",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "2016-09-28 04:30:30, Info                  CBS    Loaded",
        "2016-09-28T04:30:30.000000000Z",
    ),
    ("20240102T150405Z x", "2024-01-02T15:04:05.000000000Z"),
    (
        "20171224-20:11:16:931|Step_LSC|30002312|onStandStepChanged",
        "2017-12-24T20:11:16.931000000Z",
    ),
    ("20240102 15:04:05 x", "2024-01-02T15:04:05.000000000Z"),
    (
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: x",
        "2008-11-09T20:36:15.000000000Z",
    ),
    (
        "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: x",
        "2017-06-09T20:10:40.000000000Z",
    ),
    (
        "03-17 16:13:38.811  1702  2395 D WindowManager: x",
        "2023-03-17T16:13:38.811000000Z",
    ),
    (
        "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open",
        "2023-10-30T16:49:06.000000000Z",
    ),
    ("02.01.2024 15:04:05 x", "2024-01-02T15:04:05.000000000Z"),
    ("01/02/2024 15:04:05 x", "2024-01-02T15:04:05.000000000Z"),
    ("1/2/2024 3:04:05 PM x", "2024-01-02T15:04:05.000000000Z"),
    ("25/12/2023 10:00:00 x", "2023-12-25T10:00:00.000000000Z"),
    (
        "127.0.0.1 - - [02/Jan/2024:08:04:05 -0700] \"GET / HTTP/1.1\" 200",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "haproxy[7]: 10.0.0.1:5 [02/Jan/2024:15:04:05.123] fe be/s1",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "02-Jan-2024 15:04:05.123 INFO [main] org.apache.catalina.startup.Catalina.start",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "2024-Jan-02 15:04:05.123456 <info> x",
        "2024-01-02T15:04:05.123456000Z",
    ),
    (
        "Tue, 02 Jan 2024 15:04:05 GMT x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "Tue, 02 Jan 2024 16:04:05 +0100 x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "1:M 02 Jan 2024 15:04:05.123 * Ready to accept connections",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "[Tue Jan 02 15:04:05 2024] [notice] Apache configured",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "[Tue Jan 02 15:04:05.123456 2024] [core:error] [pid 9]",
        "2024-01-02T15:04:05.123456000Z",
    ),
    (
        "Tue Jan  2 15:04:05 UTC 2024 x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "Tue Jan  2 07:04:05 PST 2024 x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "Jan 2, 2024 3:04:05 PM org.apache.Foo bar",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "January 2, 2024 3:04:05 AM x",
        "2024-01-02T03:04:05.000000000Z",
    ),
    (
        "Jan  2 15:04:05 host sshd[1]: x",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "Jan 02 15:04:05.123 host x",
        "2024-01-02T15:04:05.123000000Z",
    ),
    (
        "Jan 02 2024 15:04:05: %ASA-4-106023: Deny tcp",
        "2024-01-02T15:04:05.000000000Z",
    ),
    ("Jan  2 15:04:05 2024 x", "2024-01-02T15:04:05.000000000Z"),
    ("Sept 2 15:04:05 host x", "2023-09-02T15:04:05.000000000Z"),
    (
        "- 1704207845 2024.01.02 R02-M1-N0-C:J12-U11 RAS",
        "2024-01-02T15:04:05.000000000Z",
    ),
    (
        "1704207845.123    123 10.0.0.1 TCP_MISS/200 512 GET",
        "2024-01-02T15:04:05.123000000Z",
    ),
    ("1704207845123 x", "2024-01-02T15:04:05.123000000Z"),
    (
        "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change",
        "2004-02-26T14:12:22.000000000Z",
    ),
    (
        "15:04:05.123 [main] INFO  c.s.App - started",
        "2024-03-01T15:04:05.123000000Z",
    ),
    (
        "<6>2024-01-02T15:04:05Z kernel",
        "2024-01-02T15:04:05.000000000Z",
    ),
];

#[test]
fn every_layout_is_read_as_written() {
    let mut layouts = std::collections::BTreeSet::new();
    for (line, expected) in LAYOUTS_AS_WRITTEN {
        let (time, layout) = found(line).unwrap_or_else(|| panic!("no time in {line:?}"));
        assert_eq!(&time, expected, "{line:?} ({layout})");
        layouts.insert(layout);
    }
    assert!(
        LAYOUTS_AS_WRITTEN.len() >= 40,
        "at least 40 written layouts"
    );
    assert_eq!(
        layouts.len(),
        LAYOUTS.len() + 1,
        "every layout used: {layouts:?}"
    );
}

#[test]
fn text_without_a_time_has_none() {
    for line in [
        "",
        "user 1234567890 logged in",
        "460081 node-103 action start 1141685470 1 clusterAddMember",
        "version 2.0.1 released",
        "2024-01-02 only a date",
        "at 15:04:05 the job ran",
        "2024-13-02T15:04:05Z bad month",
        "Feb 30 10:00:00 host no such day",
        "order 20240102T150405Zx",
        "Monday was fine",
        "1999999999 is beyond tomorrow",
        "0999999999 is before the first ten-digit second",
        "é".repeat(80).as_str(),
    ] {
        assert_eq!(found(line), None, "{line:?}");
    }
}

#[test]
fn a_time_inside_a_word_is_not_the_event_time() {
    let line = "nova-compute.log.2017-05-16_13:55:31 is the file";
    assert_eq!(found(line), None);
    let found = find("[2024-01-02 15:04:05] x", now()).unwrap();
    assert_eq!((found.start, found.end), (1, 20));
}

#[test]
fn a_date_with_its_year_beats_an_epoch_that_beats_a_date_without_one() {
    // Thunderbird: the epoch first, then a year-less syslog date in local time.
    let line = "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2915]: x";
    assert_eq!(found(line).unwrap().0, "2005-11-09T20:01:01.000000000Z");
    let line = "job 17042078 at 2024-01-02 15:04:05";
    assert_eq!(found(line).unwrap().1, "iso8601");
}

const PROPERTY_FORMATS: &[(&str, bool)] = &[
    ("%Y-%m-%dT%H:%M:%S%.3fZ", true),
    ("%Y-%m-%d %H:%M:%S,%3f", true),
    ("%Y-%m-%dT%H:%M:%S%.6f%:z", true),
    ("%Y/%m/%d %H:%M:%S", false),
    ("%Y.%m.%d %H:%M:%S", false),
    ("%Y-%m-%d-%H.%M.%S%.6f", true),
    ("%Y%m%dT%H%M%SZ", false),
    ("%Y%m%d-%H:%M:%S:%3f", true),
    ("%y%m%d %H%M%S", false),
    ("%y/%m/%d %H:%M:%S", false),
    ("%d.%m.%Y %H:%M:%S", false),
    ("%m/%d/%Y %H:%M:%S", false),
    ("%m/%d/%Y %-I:%M:%S %p", false),
    ("[%d/%b/%Y:%H:%M:%S %z]", false),
    ("%d-%b-%Y %H:%M:%S%.3f", true),
    ("%Y-%b-%d %H:%M:%S%.6f", true),
    ("%a, %d %b %Y %H:%M:%S GMT", false),
    ("%d %b %Y %H:%M:%S%.3f", true),
    ("[%a %b %d %H:%M:%S %Y]", false),
    ("%a %b %e %H:%M:%S UTC %Y", false),
    ("%b %-d, %Y %-I:%M:%S %p", false),
    ("%b %e %Y %H:%M:%S", false),
    ("%b %e %H:%M:%S", false),
    ("%m-%d %H:%M:%S%.3f", true),
    ("%s", false),
];

proptest! {
    /// Each layout, written by chrono for any instant from 2001 to 2037 and read back with
    /// "now" up to 300 days later, gives that instant (to the precision the layout keeps).
    #[test]
    fn the_finder_reads_what_chrono_writes(
        seconds in 1_000_000_000i64..2_145_916_800,
        millis in 0u32..1000,
        later_days in 0i64..300,
        format_index in 0..PROPERTY_FORMATS.len(),
        offset_quarters in -40i32..56,
    ) {
        let (format, keeps_fraction) = PROPERTY_FORMATS[format_index];
        let utc = Utc.timestamp_opt(seconds, millis * 1_000_000).unwrap();
        let now = utc + chrono::Duration::days(later_days);
        let expected = if keeps_fraction { utc } else { Utc.timestamp_opt(seconds, 0).unwrap() };
        let line = if format.contains("%:z") || format.contains("%z") {
            let zone = chrono::FixedOffset::east_opt(offset_quarters * 900).unwrap();
            format!("{} message", utc.with_timezone(&zone).format(format))
        } else {
            format!("{} message", utc.format(format))
        };
        let found = find(&line, now);
        prop_assert_eq!(found.map(|f| f.nanos), expected.timestamp_nanos_opt(), "{}", line);
    }

    #[test]
    fn never_panics_on_any_text(text in "\\PC{0,80}") {
        if let Some(found) = find(&text, now()) {
            prop_assert!(found.start < found.end && found.end <= text.len());
            prop_assert!(text.is_char_boundary(found.start) && text.is_char_boundary(found.end));
        }
    }

    #[test]
    fn never_panics_on_time_shaped_text(
        text in "[-\\[ ]{0,2}[0-9A-Za-z]{1,9}[-/., :T_]{1,2}[0-9A-Za-z]{1,4}[-/., :T]{1,2}[0-9]{1,4}[ :T-]?[0-9:.,]{0,16}( ?[A-Z+-][0-9A-Z:]{0,5})? ?[a-z]{0,3}"
    ) {
        let _ = find(&text, now());
    }
}

#[test]
fn a_29_february_without_a_year_is_in_the_last_leap_year_when_recent() {
    let now = Utc.with_ymd_and_hms(2025, 1, 10, 0, 0, 0).unwrap();
    let found = find("Feb 29 10:00:00 host x", now).unwrap();
    let expected = NaiveDate::from_ymd_opt(2024, 2, 29)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(found.nanos, expected.timestamp_nanos_opt().unwrap());
}
