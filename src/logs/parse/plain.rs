//! Plain text: the message is the line (after a leading timestamp, if there is one). The time
//! is found wherever a layout starts near the beginning ([`find`]); the level is the writer's
//! severity token, or a level word near the start, or a keyword guess ([`severity`]).

use super::Parsed;
use super::severity;
use crate::logs::level::Level;
use crate::logs::timestamp::{self, find};

/// Only the start of a line is searched: a level word deep inside a message is content.
const LEVEL_SEARCH_BYTES: usize = 80;

pub fn parse(text: &str) -> Parsed<'_> {
    let found = find::find(text, timestamp::now());
    let (message, after_time) = match found {
        Some(time) => {
            let after = &text[time.end..];
            (leading_time_stripped(text, time.start, after), after)
        }
        None => (text, text),
    };
    let redis = found.and_then(|time| severity::redis_marker(&text[..time.start], after_time));
    let level = match redis {
        Some(level) => Some(severity::FoundLevel { level, rule: None }),
        None => severity::in_text(after_time),
    };
    Parsed {
        ts: found.map(|time| time.nanos),
        level: level.map(|found| found.level),
        level_rule: level.and_then(|found| found.rule),
        msg: Some(message.into()),
        ..Parsed::default()
    }
}

/// The message: the line after its time when the line starts with it (`[` … `]` included),
/// else the whole line.
fn leading_time_stripped<'a>(text: &'a str, start: usize, after: &'a str) -> &'a str {
    match (start, text.as_bytes().first()) {
        (0, _) => after.trim_start(),
        (1, Some(b'[')) => after
            .strip_prefix(']')
            .map_or(text, |rest| rest.trim_start()),
        _ => text,
    }
}

/// The first word near the start that is a level name of three letters or more: upper-case,
/// or set apart by brackets, `level=` or a trailing colon.
pub fn guess_level(text: &str) -> Level {
    let head = &text.as_bytes()[..text.len().min(LEVEL_SEARCH_BYTES)];
    let mut word_start = None;
    for index in 0..=head.len() {
        let byte = head.get(index).copied().unwrap_or(b' ');
        if byte.is_ascii_alphabetic() {
            word_start.get_or_insert(index);
            continue;
        }
        let Some(start) = word_start.take() else {
            continue;
        };
        let word = &head[start..index];
        let before = if start > 0 { head[start - 1] } else { b' ' };
        let upper = word.iter().all(u8::is_ascii_uppercase);
        let marked = matches!(before, b'[' | b'=' | b'<') || matches!(byte, b']' | b':' | b'>');
        if word.len() >= 3 && (upper || marked) {
            // ASCII letters only, so this is valid UTF-8.
            if let Some(level) = std::str::from_utf8(word).ok().and_then(Level::from_name) {
                return level;
            }
        }
    }
    Level::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_levels_written_the_usual_ways() {
        for (line, level) in [
            ("2024-01-02 15:04:05 ERROR something broke", Level::Error),
            ("[warn] cache miss rate high", Level::Warn),
            ("level=info msg=started", Level::Info),
            ("INFO: Started server process [1]", Level::Info),
            ("E0102 15:04:05.000000 1 main.go:10] failed", Level::Unknown),
            ("the error budget is fine", Level::Unknown),
            ("just words", Level::Unknown),
            ("", Level::Unknown),
        ] {
            assert_eq!(guess_level(line), level, "{line}");
        }
    }

    #[test]
    fn a_time_anywhere_near_the_start_and_the_level_after_it() {
        let parsed =
            parse("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6");
        assert_eq!(parsed.ts, Some(1_133_671_664_000_000_000));
        assert_eq!(parsed.level, Some(Level::Error));
        assert_eq!(parsed.level_rule, None);
        assert_eq!(
            parsed.msg.as_deref(),
            Some("[error] mod_jk child workerEnv in error state 6")
        );
        let parsed = parse(
            "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root",
        );
        assert_eq!(parsed.ts, Some(1_131_566_461_000_000_000));
        assert_eq!(parsed.level, None);
        let parsed =
            parse("kernel: EXT3-fs error (device sda3): ext3_find_entry: reading directory");
        assert_eq!(
            (parsed.level, parsed.level_rule),
            (Some(Level::Error), Some("error"))
        );
    }

    #[test]
    fn a_leading_timestamp_becomes_the_time() {
        let parsed = parse("2024-05-01T10:00:00Z WARN disk 91% full");
        assert_eq!(parsed.ts, Some(1_714_557_600_000_000_000));
        assert_eq!(parsed.msg.as_deref(), Some("WARN disk 91% full"));
        assert_eq!(parse("2024-05-01x").msg.as_deref(), Some("2024-05-01x"));
    }

    #[test]
    fn multibyte_text_near_the_search_limit_is_safe() {
        let line = "é".repeat(100);
        assert_eq!(guess_level(&line), Level::Unknown);
    }
}
