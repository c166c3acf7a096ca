//! Android logcat, as `adb logcat` writes it:
//! - threadtime (the default): `03-17 16:13:38.811  1702  2395 D WindowManager: message`
//! - time: `03-17 16:13:38.811 D/WindowManager( 1702): message`
//! - brief: `D/WindowManager( 1702): message`
//!
//! The date has no year (it is inferred as for syslog); the priority letters are V(erbose),
//! D, I, W, E, F and A(ssert).

use super::Parsed;
use crate::logs::level::Level;
use crate::logs::timestamp::{self, find};
use crate::logs::value::FieldValue;

fn priority(letter: &str) -> Option<Level> {
    Some(match letter {
        "V" => Level::Trace,
        "D" => Level::Debug,
        "I" => Level::Info,
        "W" => Level::Warn,
        "E" => Level::Error,
        "F" | "A" => Level::Fatal,
        _ => return None,
    })
}

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    if text.as_bytes().get(1) == Some(&b'/') {
        return brief(text, None);
    }
    // `MM-dd HH:mm:ss.SSS`: exactly what the finder calls `mm-dd`, at the start.
    if text.as_bytes().get(2) != Some(&b'-') {
        return None;
    }
    let time = find::find(text.get(..text.len().min(24))?, timestamp::now())?;
    if time.start != 0 || time.layout != "mm-dd" {
        return None;
    }
    let rest = text[time.end..].trim_start();
    if rest.as_bytes().get(1) == Some(&b'/') {
        return brief(rest, Some(time.nanos));
    }
    threadtime(rest, time.nanos)
}

/// `PID TID L TAG: message`
fn threadtime(rest: &str, ts: i64) -> Option<Parsed<'_>> {
    let (pid, rest) = number_token(rest)?;
    let (tid, rest) = number_token(rest)?;
    let (letter, rest) = rest.split_once(' ')?;
    let level = priority(letter)?;
    let (tag, message) = rest
        .split_once(": ")
        .or_else(|| rest.strip_suffix(':').map(|t| (t, "")))?;
    Some(Parsed {
        ts: Some(ts),
        level: Some(level),
        logger: Some(tag.trim().into()),
        msg: Some(message.into()),
        fields: vec![
            ("pid".into(), FieldValue::from(pid)),
            ("tid".into(), FieldValue::from(tid)),
        ],
        ..Parsed::default()
    })
}

/// `L/TAG( PID): message`
fn brief(text: &str, ts: Option<i64>) -> Option<Parsed<'_>> {
    let level = priority(text.get(..1)?)?;
    let (tag, rest) = text[2..].split_once('(')?;
    let (pid, message) = rest
        .split_once("): ")
        .or_else(|| rest.strip_suffix("):").map(|p| (p, "")))?;
    let pid: u64 = pid.trim().parse().ok()?;
    if tag.is_empty() {
        return None;
    }
    Some(Parsed {
        ts,
        level: Some(level),
        logger: Some(tag.trim_end().into()),
        msg: Some(message.into()),
        fields: vec![("pid".into(), FieldValue::from(pid))],
        ..Parsed::default()
    })
}

/// A run of digits and the text after the spaces that follow it.
fn number_token(text: &str) -> Option<(u64, &str)> {
    let end = text.find(' ')?;
    let value = text[..end].parse().ok()?;
    Some((value, text[end..].trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_layouts() {
        let parsed =
            parse("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs")
                .unwrap();
        assert_eq!(parsed.level, Some(Level::Debug));
        assert_eq!(parsed.logger.as_deref(), Some("WindowManager"));
        assert_eq!(parsed.msg.as_deref(), Some("printFreezingDisplayLogs"));
        assert_eq!(parsed.fields_json()[1].1, serde_json::json!(2395));
        assert!(parsed.ts.is_some());
        let parsed =
            parse("03-17 16:13:38.811 W/ActivityManager( 1702): Unable to start service").unwrap();
        assert_eq!(parsed.level, Some(Level::Warn));
        assert_eq!(parsed.logger.as_deref(), Some("ActivityManager"));
        let parsed = parse("E/AndroidRuntime(  812): FATAL EXCEPTION: main").unwrap();
        assert_eq!((parsed.level, parsed.ts), (Some(Level::Error), None));
        assert_eq!(parsed.msg.as_deref(), Some("FATAL EXCEPTION: main"));
    }

    #[test]
    fn other_text_is_not_logcat() {
        for text in [
            "",
            "03-17 16:13:38.811 hello",
            "03-17 16:13:38.811  1702  2395 X Tag: x",
            "a/b(c): d",
            "2024-03-17 16:13:38.811  1702  2395 D Tag: x",
            "é/é(1): x",
        ] {
            assert!(parse(text).is_none(), "{text:?}");
        }
    }
}
