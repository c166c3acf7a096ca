//! Zone abbreviations that stand for one offset wherever they are written. Ambiguous ones
//! (`IST`: India, Ireland or Israel; `CST`: China or US Central…) are read as the zone most
//! logs that write them mean, and the choice is listed in docs/log-schema.md.

/// The offset east of UTC, in seconds, of an abbreviation of 1 to 5 upper-case letters.
pub fn offset_of(name: &[u8]) -> Option<i32> {
    let hours: f32 = match name {
        b"UTC" | b"GMT" | b"UT" | b"Z" | b"WET" => 0.0,
        b"BST" | b"WEST" | b"CET" | b"MET" => 1.0,
        b"CEST" | b"MEST" | b"EET" | b"SAST" => 2.0,
        b"EEST" | b"MSK" => 3.0,
        b"IST" => 5.5,
        b"HKT" | b"SGT" | b"AWST" => 8.0,
        b"JST" | b"KST" => 9.0,
        b"ACST" => 9.5,
        b"AEST" => 10.0,
        b"AEDT" => 11.0,
        b"NZST" => 12.0,
        b"NZDT" => 13.0,
        b"ADT" => -3.0,
        b"AST" | b"EDT" => -4.0,
        b"EST" | b"CDT" => -5.0,
        b"CST" | b"MDT" => -6.0,
        b"MST" | b"PDT" => -7.0,
        b"PST" | b"AKDT" => -8.0,
        b"AKST" => -9.0,
        b"HST" => -10.0,
        _ => return None,
    };
    Some((hours * 3600.0) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_have_their_offsets() {
        assert_eq!(offset_of(b"UTC"), Some(0));
        assert_eq!(offset_of(b"PDT"), Some(-7 * 3600));
        assert_eq!(offset_of(b"IST"), Some(5 * 3600 + 1800));
        assert_eq!(offset_of(b"XYZ"), None);
        assert_eq!(offset_of(b""), None);
    }
}
