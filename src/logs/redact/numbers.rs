//! The rules that are not regexes: card numbers (digit runs that pass the Luhn check) and IP
//! addresses (what the standard parser accepts).

/// Whether `text` has a run of 13 or more digits, grouped or not: what a card number needs.
/// Runs on every line, whose digits (times, ids, addresses) are nearly always in short
/// groups: a branch-free look at 64 bytes at a time rules most lines out before the exact walk.
pub(super) fn has_card_run(text: &str) -> bool {
    let bytes = text.as_bytes();
    may_have_card_run(bytes) && has_card_run_exactly(bytes)
}

/// False only if no 13 bytes in a row are each a digit, or a space or dash just after a
/// digit: a card run, which is at least 13 such bytes, cannot be there.
fn may_have_card_run(bytes: &[u8]) -> bool {
    // Such bytes in a row at the end of the blocks before.
    let mut carried = 0;
    let mut last_was_digit = false;
    for chunk in bytes.chunks(64) {
        // A fixed-size block (the last one padded with zeros, which are neither digits nor
        // separators), one flag byte per byte (a loop the compiler turns into SIMD), then
        // packed into a bit per byte, eight at a time.
        let mut block = [0u8; 64];
        block[..chunk.len()].copy_from_slice(chunk);
        let mut flags = [0u8; 64];
        for (flag, &byte) in flags.iter_mut().zip(&block) {
            *flag = u8::from(byte.wrapping_sub(b'0') < 10)
                | (u8::from((byte == b' ') | (byte == b'-')) << 1);
        }
        let (mut digits, mut separators) = (0u64, 0u64);
        for (at, eight) in flags.chunks_exact(8).enumerate() {
            let eight = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
            digits |= pack_low_bits(eight) << (8 * at);
            separators |= pack_low_bits(eight >> 1) << (8 * at);
        }
        let after_digit = (digits << 1) | u64::from(last_was_digit);
        let part = digits | (separators & after_digit);
        if carried + part.trailing_ones() >= 13 {
            return true;
        }
        // Bit `i` of `run` ends up set when bits `i..i + 13` of `part` all are.
        let mut run = part;
        run &= run >> 1;
        run &= run >> 2;
        run &= run >> 4;
        run &= run >> 5;
        if run != 0 {
            return true;
        }
        carried = if part == u64::MAX {
            carried + 64
        } else {
            part.leading_ones()
        };
        last_was_digit = digits >> 63 == 1;
    }
    false
}

/// Bit 0 of each of the eight bytes of `bytes`, as bits 0..8.
fn pack_low_bits(bytes: u64) -> u64 {
    ((bytes & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080)) >> 56
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
        fn the_quick_look_never_hides_a_run(text in "[0-9 a-]{0,200}") {
            if has_card_run_exactly(text.as_bytes()) {
                prop_assert!(may_have_card_run(text.as_bytes()));
            }
        }
    }
}
