//! Python `logging` defaults:
//! - `basicConfig()`: `ERROR:payments.client:card declined`
//! - the common `%(asctime)s - %(name)s - %(levelname)s - %(message)s`
//! - Flask's `[%(asctime)s] %(levelname)s in %(module)s: %(message)s`

use super::Parsed;
use crate::logs::level::Level;
use crate::logs::timestamp;

const LEVELS: [&str; 6] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "FATAL"];

fn level(name: &str) -> Option<Level> {
    LEVELS
        .contains(&name)
        .then(|| Level::from_name(name))
        .flatten()
}

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    basic(text).or_else(|| dashed(text)).or_else(|| flask(text))
}

/// `LEVEL:logger:message`
fn basic(text: &str) -> Option<Parsed<'_>> {
    let (name, rest) = text.split_once(':')?;
    let level = level(name)?;
    let (logger, message) = rest.split_once(':')?;
    if logger.is_empty() || logger.contains(' ') {
        return None;
    }
    Some(Parsed {
        level: Some(level),
        logger: Some(logger.into()),
        msg: Some(message.into()),
        ..Parsed::default()
    })
}

/// `2024-05-01 10:00:00,123 - logger - LEVEL - message`
fn dashed(text: &str) -> Option<Parsed<'_>> {
    let (rest, ts) = timestamp::iso_prefix(text).ok()?;
    let mut parts = rest.strip_prefix(" - ")?.splitn(3, " - ");
    let (logger, name, message) = (parts.next()?, parts.next()?, parts.next()?);
    Some(Parsed {
        ts: Some(ts),
        level: Some(level(name)?),
        logger: Some(logger.into()),
        msg: Some(message.into()),
        ..Parsed::default()
    })
}

/// `[2024-05-01 10:00:00,123] LEVEL in module: message`
fn flask(text: &str) -> Option<Parsed<'_>> {
    let (rest, ts) = timestamp::iso_prefix(text.strip_prefix('[')?).ok()?;
    let rest = rest.strip_prefix("] ")?;
    let (name, rest) = rest.split_once(" in ")?;
    let (module, message) = rest.split_once(": ")?;
    Some(Parsed {
        ts: Some(ts),
        level: Some(level(name)?),
        logger: Some(module.into()),
        msg: Some(message.into()),
        ..Parsed::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_defaults() {
        let parsed = parse("ERROR:payments.client:card declined: insufficient funds").unwrap();
        assert_eq!(
            (parsed.level, parsed.logger.as_deref()),
            (Some(Level::Error), Some("payments.client"))
        );
        assert_eq!(
            parsed.msg.as_deref(),
            Some("card declined: insufficient funds")
        );
        let parsed = parse("2024-05-01 10:00:00,123 - orders - WARNING - retrying in 2s").unwrap();
        assert_eq!(
            (parsed.level, parsed.ts),
            (Some(Level::Warn), Some(1_714_557_600_123_000_000))
        );
        let parsed = parse("[2024-05-01 10:00:00,123] INFO in app: Started").unwrap();
        assert_eq!(
            (parsed.logger.as_deref(), parsed.msg.as_deref()),
            (Some("app"), Some("Started"))
        );
    }

    #[test]
    fn other_lines_are_not_python() {
        for text in [
            "Error: boom",
            "INFO hello",
            "WARN:x:y",
            "2024-05-01 10:00:00 - a - b",
            "",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
