//! Writing JSON text fast: records are written by hand, field by field, in the schema's order
//! (no intermediate `serde_json::Value`, no allocation); strings copy whole runs of bytes that
//! need no escaping.

/// What a byte becomes inside a JSON string: 0 for itself, else the escape letter (`u` for
/// `\u00XX`).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

use std::borrow::Cow;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `text` as a JSON string, quotes included.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Most text has nothing to escape: whole chunks are tested without branches (which the
    // compiler turns into SIMD) and copied at once.
    let mut start = 0;
    for chunk in bytes.chunks_exact(16) {
        let clean = chunk.iter().fold(true, |clean, &b| {
            clean & (b >= 0x20) & (b != b'"') & (b != b'\\')
        });
        if !clean {
            break;
        }
        start += 16;
    }
    out.extend_from_slice(&bytes[..start]);
    for (index, &byte) in bytes.iter().enumerate().skip(start) {
        let escape = ESCAPE[byte as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..index]);
        match escape {
            b'u' => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(byte >> 4) as usize],
                HEX[(byte & 0xf) as usize],
            ]),
            letter => out.extend_from_slice(&[b'\\', letter]),
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether `text` has a byte JSON escapes (a control character, `"` or `\\`).
pub fn needs_escape(text: &str) -> bool {
    let needs = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    // Whole chunks folded without branches, which the compiler turns into SIMD.
    let mut chunks = text.as_bytes().chunks_exact(32);
    let found = chunks
        .by_ref()
        .any(|chunk| chunk.iter().fold(false, |found, &b| found | needs(b)));
    found || chunks.remainder().iter().any(|&b| needs(b))
}

/// Appends `text` as a JSON string. Borrowed text the caller knows needs no escaping (see
/// [`crate::logs::record::Record::borrowed_is_clean`]) is copied whole, without a look.
// A `&Cow`, not a `&str`: whether the text is borrowed is what this looks at.
#[allow(clippy::ptr_arg)]
pub fn write_text(out: &mut Vec<u8>, text: &Cow<'_, str>, borrowed_is_clean: bool) {
    match text {
        Cow::Borrowed(clean) if borrowed_is_clean => {
            debug_assert!(
                clean.bytes().all(|b| ESCAPE[b as usize] == 0),
                "{clean:?} needs escaping"
            );
            out.reserve(clean.len() + 2);
            out.push(b'"');
            out.extend_from_slice(clean.as_bytes());
            out.push(b'"');
        }
        _ => write_str(out, text),
    }
}

/// Appends `"key":` (the key is a schema name: nothing to escape).
pub fn write_key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_reads_back_as_itself(text in "\\PC*|[\\x00-\\x1f\"\\\\a-z\u{80}-\u{10ffff}]{0,40}") {
            let mut out = Vec::new();
            write_str(&mut out, &text);
            let back: String = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(back, text);
            prop_assert!(!out.contains(&b'\n'));
        }
    }
}
