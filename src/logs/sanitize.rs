//! Output sanitization (CWE-117): no event may forge another line or carry terminal escapes.
//! Control characters other than tab are written as visible escapes (`\u001b`, `\r`), and so
//! are C1 controls and the Unicode bidirectional overrides that can make text read differently
//! from what it is. Oversize fields are cut with a visible marker.

use std::borrow::Cow;
use std::fmt::Write;

/// Marker appended to a field cut at its size limit.
pub const TRUNCATED_MARKER: &str = "…[truncated]";

/// Escapes control characters in place. With `keep_newlines`, LF stays (a stack trace's
/// frames): the record is JSON-encoded on output, where an LF is written as `\n` and cannot
/// start a line. Returns whether anything changed.
pub fn escape_controls(text: &mut String, keep_newlines: bool) -> bool {
    match escaped_controls(text, keep_newlines) {
        Some(escaped) => {
            *text = escaped;
            true
        }
        None => false,
    }
}

/// [`escape_controls`] on text that stays borrowed unless it has something to escape.
pub fn escape_controls_cow(text: &mut Cow<'_, str>, keep_newlines: bool) -> bool {
    match escaped_controls(text, keep_newlines) {
        Some(escaped) => {
            *text = Cow::Owned(escaped);
            true
        }
        None => false,
    }
}

/// Whether `text` has a character that may need escaping (a quick, conservative test): text
/// taken unchanged from a line that has none needs no look of its own.
pub fn may_need_escape(text: &str, keep_newlines: bool) -> bool {
    // Bytes that start a character that may need escaping: ASCII controls, DEL, and the lead
    // bytes of C1 controls (0xc2) and of the bidirectional overrides (0xe2).
    let suspicious = |b: u8| {
        (b < 0x20 && b != b'\t' && !(keep_newlines && b == b'\n'))
            | (b == 0x7f)
            | (b == 0xc2)
            | (b == 0xe2)
    };
    // Whole chunks folded without branches, which the compiler turns into SIMD.
    let mut chunks = text.as_bytes().chunks_exact(32);
    let found = chunks
        .by_ref()
        .any(|chunk| chunk.iter().fold(false, |found, &b| found | suspicious(b)));
    found || chunks.remainder().iter().any(|&b| suspicious(b))
}

fn escaped_controls(text: &str, keep_newlines: bool) -> Option<String> {
    if !may_need_escape(text, keep_newlines) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut changed = false;
    for c in text.chars() {
        let escape = match c {
            '\t' => false,
            '\n' => !keep_newlines,
            c if c.is_control() => true,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
            _ => false,
        };
        if !escape {
            out.push(c);
            continue;
        }
        changed = true;
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
    }
    changed.then_some(out)
}

/// Cuts `text` to at most `max_bytes` (on a character boundary) and marks it. Returns whether
/// it was cut.
pub fn truncate(text: &mut String, max_bytes: usize) -> bool {
    match cut_point(text, max_bytes) {
        Some(cut) => {
            text.truncate(cut);
            text.push_str(TRUNCATED_MARKER);
            true
        }
        None => false,
    }
}

/// [`truncate`] on text that stays borrowed unless it is cut.
pub fn truncate_cow(text: &mut Cow<'_, str>, max_bytes: usize) -> bool {
    match cut_point(text, max_bytes) {
        Some(cut) => {
            *text = Cow::Owned([&text[..cut], TRUNCATED_MARKER].concat());
            true
        }
        None => false,
    }
}

/// Where to cut `text` so that it and the marker fit in `max_bytes`, if it does not fit.
fn cut_point(text: &str, max_bytes: usize) -> Option<usize> {
    if text.len() <= max_bytes {
        return None;
    }
    let mut cut = max_bytes.saturating_sub(TRUNCATED_MARKER.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forged_lines_and_terminal_escapes_are_defused() {
        let mut text = "login ok\nuser=admin\r\u{1b}[2J\u{7f}\u{85}\u{202e}gnp.exe\ttab".to_owned();
        assert!(escape_controls(&mut text, false));
        assert_eq!(
            text,
            "login ok\\nuser=admin\\r\\u001b[2J\\u007f\\u0085\\u202egnp.exe\ttab"
        );
        let mut stack = "Error: x\n    at f (a.js:1:1)\u{1b}".to_owned();
        escape_controls(&mut stack, true);
        assert_eq!(stack, "Error: x\n    at f (a.js:1:1)\\u001b");
        let mut clean = "café — ok".to_owned();
        assert!(!escape_controls(&mut clean, false));
    }

    #[test]
    fn truncation_is_marked_and_respects_characters() {
        let mut text = "é".repeat(100);
        assert!(truncate(&mut text, 50));
        assert!(text.len() <= 50 && text.ends_with(TRUNCATED_MARKER));
        let mut short = "ok".to_owned();
        assert!(!truncate(&mut short, 50));
    }

    proptest! {
        #[test]
        fn output_never_holds_a_control_character_but_tab(text in "\\PC*|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}a-z]{0,64}") {
            let mut text = text;
            escape_controls(&mut text, false);
            prop_assert!(!text.chars().any(|c| c.is_control() && c != '\t'));
        }
    }
}
