//! Java default patterns:
//! - log4j2 / logback: `2024-05-01 10:00:00.123 [main] INFO  com.shop.App - Started`
//!   (logback's basic layout starts with the time alone: `10:00:00.123 [main] INFO …`)
//! - Spring Boot: `2024-05-01T10:00:00.123Z  INFO 1 --- [shop] [main] com.shop.App : Started`
//!   (older: `2024-05-01 10:00:00.123  INFO 1 --- [           main] c.s.App   : Started`)

use super::Parsed;
use crate::logs::level::Level;
use crate::logs::timestamp;
use crate::logs::value::FieldValue;

const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

fn level(name: &str) -> Option<Level> {
    LEVELS
        .contains(&name)
        .then(|| Level::from_name(name))
        .flatten()
}

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    let (rest, ts) = match timestamp::iso_prefix(text) {
        Ok((rest, ts)) => (rest, ts),
        Err(_) => {
            // logback's default: the time of day only.
            let (clock, rest) = text.split_once(' ')?;
            (rest, timestamp::time_of_day(clock, timestamp::now())?)
        }
    };
    let rest = rest.trim_start();
    if rest.starts_with('[') {
        log4j(rest, ts)
    } else {
        spring(rest, ts)
    }
}

/// `[thread] LEVEL logger - message`
fn log4j(rest: &str, ts: i64) -> Option<Parsed<'_>> {
    let (thread, rest) = rest.strip_prefix('[')?.split_once("] ")?;
    let (name, rest) = rest.split_once(' ')?;
    let level = level(name)?;
    let (logger, message) = rest.trim_start().split_once(" - ")?;
    if logger.contains(' ') {
        return None;
    }
    Some(Parsed {
        ts: Some(ts),
        level: Some(level),
        logger: Some(logger.into()),
        msg: Some(message.into()),
        fields: vec![("thread".into(), FieldValue::from(thread.trim()))],
        ..Parsed::default()
    })
}

/// `LEVEL pid --- [app]? [thread] logger : message`
fn spring(rest: &str, ts: i64) -> Option<Parsed<'_>> {
    let (name, rest) = rest.split_once(' ')?;
    let level = level(name)?;
    let (pid, rest) = rest.trim_start().split_once(" --- ")?;
    let pid: u64 = pid.parse().ok()?;
    let mut rest = rest.trim_start();
    let mut brackets = Vec::new();
    while let Some(inner) = rest.strip_prefix('[') {
        let (content, after) = inner.split_once(']')?;
        brackets.push(content.trim());
        rest = after.trim_start();
    }
    let thread = *brackets.last()?;
    let (logger, message) = rest.split_once(" : ")?;
    let mut fields = vec![
        ("pid".into(), FieldValue::from(pid)),
        ("thread".into(), FieldValue::from(thread)),
    ];
    if brackets.len() > 1 {
        fields.push(("application".into(), FieldValue::from(brackets[0])));
    }
    Some(Parsed {
        ts: Some(ts),
        level: Some(level),
        logger: Some(logger.trim_end().into()),
        msg: Some(message.into()),
        fields,
        ..Parsed::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log4j_logback_and_spring_boot() {
        let parsed = parse("2024-05-01 10:00:00.123 [http-nio-8080-exec-1] ERROR com.shop.PaymentController - card declined").unwrap();
        assert_eq!(
            (parsed.level, parsed.logger.as_deref()),
            (Some(Level::Error), Some("com.shop.PaymentController"))
        );
        assert_eq!(parsed.ts, Some(1_714_557_600_123_000_000));
        let parsed =
            parse("10:00:00.123 [main] INFO  com.shop.App - Started App in 2.1 seconds").unwrap();
        assert_eq!(parsed.msg.as_deref(), Some("Started App in 2.1 seconds"));
        let parsed = parse("2024-05-01T10:00:00.123Z  INFO 1 --- [shop] [           main] com.shop.App                             : Started App in 3.2 seconds").unwrap();
        assert_eq!(
            (parsed.logger.as_deref(), parsed.msg.as_deref()),
            (Some("com.shop.App"), Some("Started App in 3.2 seconds"))
        );
        assert_eq!(
            parsed.fields[1],
            ("thread".into(), FieldValue::from("main"))
        );
        let parsed = parse("2024-05-01 10:00:00.123  WARN 7 --- [           main] o.s.b.a.OptionalLiveReloadServer         : Unable to start LiveReload").unwrap();
        assert_eq!(parsed.level, Some(Level::Warn));
    }

    #[test]
    fn other_lines_are_not_java() {
        for text in [
            "2024-05-01 10:00:00 hello",
            "10:00:00 [main] NOTE x - y",
            "[main] INFO x - y",
            "",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
