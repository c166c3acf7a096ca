//! Plain text: the message is the line (after a leading timestamp, if there is one); the level
//! is guessed from a level word near the start (`ERROR`, `[warn]`, `level=info`…).

use super::Parsed;
use crate::logs::level::Level;
use crate::logs::timestamp;

/// Only the start of a line is searched: a level word deep inside a message is content.
const LEVEL_SEARCH_BYTES: usize = 80;

pub fn parse(text: &str) -> Parsed<'_> {
    let (ts, message) = match timestamp::iso_prefix(text) {
        Ok((rest, ts)) if rest.is_empty() || rest.starts_with(' ') => (Some(ts), rest.trim_start()),
        _ => (None, text),
    };
    let level = guess_level(message);
    Parsed {
        ts,
        level: (level != Level::Unknown).then_some(level),
        msg: Some(message.into()),
        ..Parsed::default()
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
