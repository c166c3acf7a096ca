//! Windows servicing logs (CBS.log and its CSI lines, DISM.log):
//! `2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505`.
//! The time is local, with no zone: read as UTC, as every zoneless time is.

use super::Parsed;
use crate::logs::level::Level;
use crate::logs::timestamp;

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    // `yyyy-MM-dd HH:mm:ss, `: refused in two byte looks before any parsing.
    if text.as_bytes().get(19..21) != Some(b", ") {
        return None;
    }
    let (rest, ts) = timestamp::iso_prefix(text).ok()?;
    let rest = rest.strip_prefix(", ")?;
    let (name, rest) = rest.split_once(' ')?;
    let level = match name {
        "Info" | "Perf" => Level::Info,
        "Warning" => Level::Warn,
        "Error" => Level::Error,
        _ => return None,
    };
    let rest = rest.trim_start();
    // The component: `CBS`, `CSI`, `DISM`, `DPX`, `SQM`… upper case, padded with spaces.
    let (component, message) = rest.split_once(' ').unwrap_or((rest, ""));
    if component.is_empty()
        || component.len() > 12
        || !component
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return None;
    }
    Some(Parsed {
        ts: Some(ts),
        level: Some(level),
        logger: Some(component.into()),
        msg: Some(message.trim_start().into()),
        ..Parsed::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbs_and_csi_lines() {
        let parsed = parse("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505 with Core: C:\\Windows\\winsxs\\cbscore.dll").unwrap();
        assert_eq!(parsed.level, Some(Level::Info));
        assert_eq!(parsed.logger.as_deref(), Some("CBS"));
        assert!(
            parsed
                .msg
                .as_deref()
                .unwrap()
                .starts_with("Loaded Servicing")
        );
        let parsed = parse("2016-09-29 00:02:31, Error                 CSI    00000011 (F) STATUS_SXS_ASSEMBLY_MISSING").unwrap();
        assert_eq!(parsed.level, Some(Level::Error));
        let parsed =
            parse("2016-09-28 04:30:31, Warning               CBS    Failed to get next element")
                .unwrap();
        assert_eq!(parsed.level, Some(Level::Warn));
    }

    #[test]
    fn other_text_is_not_cbs() {
        for text in [
            "",
            "2016-09-28 04:30:30 Info CBS x",
            "2016-09-28 04:30:30, Verbose CBS x",
            "2016-09-28 04:30:30, Info lowercase x",
        ] {
            assert!(parse(text).is_none(), "{text:?}");
        }
    }
}
