//! Plain text: the whole line is the message; the level is guessed from a level word near
//! the start (`ERROR`, `[warn]`, `level=info`…).

use crate::logs::level::Level;
use crate::logs::record::{Record, SourceInfo};

pub const FORMAT: &str = "plain";

/// Only the start of a line is searched: a level word deep inside a message is content.
const LEVEL_SEARCH_BYTES: usize = 80;

pub fn parse(text: &str, read_time_ns: i64, mut source: SourceInfo) -> Record {
    source.format = FORMAT;
    Record {
        ts: read_time_ns,
        level: guess_level(text),
        msg: text.to_owned(),
        logger: None,
        caller: None,
        trace_id: None,
        span_id: None,
        attrs: Default::default(),
        source,
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
    fn multibyte_text_near_the_search_limit_is_safe() {
        let line = "é".repeat(100);
        assert_eq!(guess_level(&line), Level::Unknown);
    }
}
