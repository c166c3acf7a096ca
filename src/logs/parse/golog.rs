//! Go's standard `log` package: `2024/05/01 10:00:00 message`, with `Lmicroseconds`
//! (`10:00:00.123456`) and `Lshortfile`/`Llongfile` (`main.go:12: message`).

use super::Parsed;
use super::severity;
use crate::logs::timestamp;

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    // The date must use slashes: `2024/05/01`.
    if text.as_bytes().get(4) != Some(&b'/') {
        return None;
    }
    let (rest, ts) = timestamp::iso_prefix(text).ok()?;
    let mut message = rest.strip_prefix(' ')?;
    let mut caller = None;
    if let Some((file, after)) = message.split_once(": ")
        && let Some((name, line)) = file.rsplit_once(':')
        && name.ends_with(".go")
        && line.bytes().all(|b| b.is_ascii_digit())
    {
        caller = Some(file.into());
        message = after;
    }
    let level = severity::in_text(message);
    Some(Parsed {
        ts: Some(ts),
        level: level.map(|found| found.level),
        level_rule: level.and_then(|found| found.rule),
        caller,
        msg: Some(message.into()),
        ..Parsed::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::level::Level;

    #[test]
    fn standard_flags() {
        let parsed = parse("2024/05/01 10:00:00 listening on :8080").unwrap();
        assert_eq!(
            (parsed.ts, parsed.msg.as_deref()),
            (Some(1_714_557_600_000_000_000), Some("listening on :8080"))
        );
        let parsed =
            parse("2024/05/01 10:00:00.123456 server.go:88: ERROR upstream timeout").unwrap();
        assert_eq!(parsed.caller.as_deref(), Some("server.go:88"));
        assert_eq!(parsed.level, Some(Level::Error));
        assert!(parse("2024-05-01 10:00:00 dashes are not Go's").is_none());
    }
}
