//! The rules that are not regexes: card numbers (digit runs that pass the Luhn check) and IP
//! addresses (what the standard parser accepts).

/// Whether `text` has a run of 13 or more digits, grouped or not: what a card number needs.
///
/// Runs on every line. A run lies in a stretch of bytes that are each a digit, or a space or
/// dash just after a digit; such a stretch 13 bytes long or more covers one of the bytes 12,
/// 25, 38…, so only those bytes are probed, and only the stretches around the probes that hit
/// are walked. Outside a stretch the exact walk starts over, so each stretch can be walked on
/// its own.
pub(super) fn has_card_run(text: &str) -> bool {
    let bytes = text.as_bytes();
    let in_stretch = |at: usize| {
        let byte = bytes[at];
        byte.is_ascii_digit()
            || ((byte == b' ' || byte == b'-') && at > 0 && bytes[at - 1].is_ascii_digit())
    };
    let mut probe = 12;
    while probe < bytes.len() {
        if !in_stretch(probe) {
            probe += 13;
            continue;
        }
        let mut start = probe;
        while start > 0 && in_stretch(start - 1) {
            start -= 1;
        }
        let mut end = probe + 1;
        while end < bytes.len() && in_stretch(end) {
            end += 1;
        }
        if end - start >= 13 && has_card_run_exactly(&bytes[start..end]) {
            return true;
        }
        while probe < end {
            probe += 13;
        }
    }
    false
}

fn has_card_run_exactly(bytes: &[u8]) -> bool {
    let mut digits = 0;
    let mut previous_digit = false;
    for &b in bytes {
        if b.is_ascii_digit() {
            digits += 1;
            if digits >= 13 {
                return true;
            }
            previous_digit = true;
        } else if previous_digit && (b == b' ' || b == b'-') {
            previous_digit = false;
        } else {
            digits = 0;
            previous_digit = false;
        }
    }
    false
}

/// Runs of 13–19 digits, optionally grouped by single spaces or dashes, that pass the Luhn
/// check.
pub(super) fn replace_cards(text: &str, marker: &str) -> (String, u64) {
    let bytes = text.as_bytes();
    if !has_card_run(text) {
        return (String::new(), 0);
    }
    let mut out = String::new();
    let mut copied = 0;
    let mut count = 0;
    let mut index = 0;
    while index < bytes.len() {
        if !bytes[index].is_ascii_digit() || (index > 0 && bytes[index - 1].is_ascii_alphanumeric())
        {
            index += 1;
            continue;
        }
        let start = index;
        let mut digits = [0u8; 20];
        let mut found = 0;
        let mut end = index;
        let mut cursor = index;
        while cursor < bytes.len() && found < digits.len() {
            let b = bytes[cursor];
            if b.is_ascii_digit() {
                digits[found] = b - b'0';
                found += 1;
                cursor += 1;
                end = cursor;
            } else if (b == b' ' || b == b'-')
                && cursor + 1 < bytes.len()
                && bytes[cursor + 1].is_ascii_digit()
            {
                cursor += 1;
            } else {
                break;
            }
        }
        let followed_by_word = end < bytes.len() && bytes[end].is_ascii_alphanumeric();
        if (13..=19).contains(&found) && !followed_by_word && luhn(&digits[..found]) {
            out.push_str(&text[copied..start]);
            out.push_str(marker);
            copied = end;
            count += 1;
        }
        index = end.max(start + 1);
    }
    if count == 0 {
        return (String::new(), 0);
    }
    out.push_str(&text[copied..]);
    (out, count)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if !i.is_multiple_of(2) {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// IPv4 and IPv6 addresses (validated by the standard parser).
pub(super) fn replace_ips(text: &str, marker: &str) -> (String, u64) {
    let mut out = String::new();
    let mut copied = 0;
    let mut count = 0;
    let is_part = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !is_part(c)
            || (start > 0
                && text[..start]
                    .chars()
                    .next_back()
                    .is_some_and(|p| p.is_alphanumeric()))
        {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, next)) = chars.peek() {
            if !is_part(next) {
                break;
            }
            end = i + next.len_utf8();
            chars.next();
        }
        let candidate = text[start..end].trim_end_matches(['.', ':']);
        let valid = candidate.parse::<std::net::IpAddr>().is_ok()
            && (candidate.contains('.') || candidate.matches(':').count() >= 2);
        if valid {
            out.push_str(&text[copied..start]);
            out.push_str(marker);
            copied = start + candidate.len();
            count += 1;
        }
    }
    if count == 0 {
        return (String::new(), 0);
    }
    out.push_str(&text[copied..]);
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn card_runs_across_block_boundaries_are_seen() {
        for offset in 0..80 {
            let line = format!("{}4111 1111-1111 1111 paid", "x".repeat(offset));
            assert!(has_card_run(&line), "offset {offset}");
            let short = format!("{}4111 1111-1111 paid", "x".repeat(offset));
            assert!(!has_card_run(&short), "offset {offset}");
        }
    }

    proptest! {
        #[test]
        fn the_probes_find_what_the_whole_walk_finds(text in "[0-9 a-]{0,200}") {
            prop_assert_eq!(has_card_run(&text), has_card_run_exactly(text.as_bytes()));
        }
    }
}
