//! Syslog: RFC 5424 (`<165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [sd@1 k="v"] msg`) and
//! RFC 3164 / BSD (`<34>Oct 11 22:14:15 host su[123]: msg`, or without `<PRI>` as written to
//! /var/log/syslog).

use super::Parsed;
use crate::logs::level::Level;
use crate::logs::timestamp;
use crate::logs::value::{Field, FieldValue};
use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{escaped_transform, take_till1, take_while_m_n, take_while1};
use nom::character::complete::{char, none_of};
use nom::combinator::{map_res, opt, value};
use nom::sequence::delimited;
use std::borrow::Cow;

fn priority(input: &str) -> IResult<&str, u8> {
    delimited(
        char('<'),
        map_res(
            take_while_m_n(1, 3, |c: char| c.is_ascii_digit()),
            str::parse::<u8>,
        ),
        char('>'),
    )
    .parse(input)
}

fn field(input: &str) -> IResult<&str, &str> {
    take_till1(|c: char| c == ' ')(input)
}

fn nil(text: &str) -> Option<&str> {
    (text != "-").then_some(text)
}

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    let text = text.trim_end();
    let (rest, pri) = opt(priority).parse(text).ok()?;
    let level =
        pri.map(|p| Level::from_syslog_severity(i64::from(p & 7)).unwrap_or(Level::Unknown));
    if let Some(pri) = pri
        && let Ok((after, _)) = (char::<&str, nom::error::Error<&str>>('1'), char(' ')).parse(rest)
    {
        return rfc5424(after, pri, level);
    }
    rfc3164(rest, pri, level)
}

fn rfc5424(input: &str, pri: u8, level: Option<Level>) -> Option<Parsed<'_>> {
    let (rest, (time, _, host, _, app, _, procid, _, msgid, _)) = (
        field,
        char(' '),
        field,
        char(' '),
        field,
        char(' '),
        field,
        char(' '),
        field,
        char(' '),
    )
        .parse(input)
        .ok()?;
    let ts = match nil(time) {
        Some(time) => Some(timestamp::parse_any(time)?),
        None => None,
    };
    let mut fields = facility_fields(pri);
    push(&mut fields, "host", nil(host));
    push(&mut fields, "procid", nil(procid));
    push(&mut fields, "msgid", nil(msgid));
    let (rest, structured) = structured_data(rest).ok()?;
    fields.extend(structured);
    let msg = rest.strip_prefix(' ').unwrap_or(rest);
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    Some(Parsed {
        ts,
        level,
        msg: Some(msg.into()),
        logger: nil(app).map(Into::into),
        fields,
        ..Parsed::default()
    })
}

/// `-` or one or more `[id name="value" …]` elements, as fields `sd.<id>.<name>`.
fn structured_data(input: &str) -> IResult<&str, Vec<Field<'_>>> {
    if let Some(rest) = input.strip_prefix('-') {
        return Ok((rest, Vec::new()));
    }
    let mut fields = Vec::new();
    let mut rest = input;
    while let Some(inner) = rest.strip_prefix('[') {
        let (after, id) = take_while1(|c: char| c != ' ' && c != ']')(inner)?;
        let mut after = after;
        while let Some(param) = after.strip_prefix(' ') {
            let (next, (name, _, text)) = (
                take_while1(|c: char| c != '=' && c != ' ' && c != ']'),
                char('='),
                delimited(
                    char('"'),
                    opt(escaped_transform(
                        none_of("\\\""),
                        '\\',
                        alt((
                            value("\\", char('\\')),
                            value("\"", char('"')),
                            value("]", char(']')),
                        )),
                    )),
                    char('"'),
                ),
            )
                .parse(param)?;
            fields.push((
                Cow::Owned(format!("sd.{id}.{name}")),
                FieldValue::from(text.unwrap_or_default()),
            ));
            after = next;
        }
        rest = after.strip_prefix(']').ok_or_else(|| {
            nom::Err::Error(nom::error::Error::new(after, nom::error::ErrorKind::Char))
        })?;
    }
    if rest.len() == input.len() {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Tag,
        )));
    }
    Ok((rest, fields))
}

fn rfc3164(input: &str, pri: Option<u8>, level: Option<Level>) -> Option<Parsed<'_>> {
    let (rest, ts) = timestamp::syslog_prefix(input, timestamp::now()).ok()?;
    let (rest, (_, host, _)) = (char(' '), field, char(' ')).parse(rest).ok()?;
    // TAG[PID]: message — the tag is optional in practice.
    let (mut app, mut pid, mut msg) = (None, None, rest);
    if let Some(colon) = rest.find(": ") {
        let tag = &rest[..colon];
        if !tag.is_empty() && !tag.contains(' ') {
            match tag.split_once('[') {
                Some((name, id)) => {
                    app = Some(name);
                    pid = id.strip_suffix(']');
                }
                None => app = Some(tag),
            }
            msg = &rest[colon + 2..];
        }
    }
    let mut fields = pri.map(facility_fields).unwrap_or_default();
    push(&mut fields, "host", Some(host));
    push(&mut fields, "procid", pid);
    // Without `<PRI>` (a file written by syslogd) the severity can only be in the text.
    let found = level
        .is_none()
        .then(|| super::severity::in_text(msg))
        .flatten();
    Some(Parsed {
        ts: Some(ts),
        level: level.or(found.map(|found| found.level)),
        level_rule: found.and_then(|found| found.rule),
        msg: Some(msg.into()),
        logger: app.map(Into::into),
        fields,
        ..Parsed::default()
    })
}

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

fn facility_fields(pri: u8) -> Vec<Field<'static>> {
    let facility = FACILITIES
        .get(usize::from(pri >> 3))
        .copied()
        .unwrap_or("unknown");
    vec![("facility".into(), FieldValue::from(facility))]
}

fn push<'a>(fields: &mut Vec<Field<'a>>, name: &'static str, text: Option<&'a str>) {
    if let Some(text) = text {
        fields.push((name.into(), FieldValue::from(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc5424_with_structured_data() {
        let line = r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"][examplePriority@32473 class="high"] An application event log entry"#;
        let parsed = parse(line).unwrap();
        assert_eq!(parsed.level, Some(Level::Info)); // 165 & 7 = 5, notice
        assert_eq!(parsed.logger.as_deref(), Some("evntslog"));
        assert_eq!(
            parsed.msg.as_deref(),
            Some("An application event log entry")
        );
        assert_eq!(parsed.ts, Some(1_065_910_455_003_000_000));
        assert!(
            parsed
                .fields_json()
                .contains(&("facility".to_owned(), json!("local4")))
        );
        assert!(parsed.fields_json().contains(&(
            "sd.exampleSDID@32473.eventSource".to_owned(),
            json!("Application")
        )));
        assert!(
            parsed
                .fields_json()
                .contains(&("sd.examplePriority@32473.class".to_owned(), json!("high")))
        );
    }

    #[test]
    fn rfc3164_with_and_without_priority() {
        let parsed = parse(
            "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8",
        )
        .unwrap();
        assert_eq!(parsed.level, Some(Level::Fatal)); // severity 2, critical
        assert_eq!(parsed.logger.as_deref(), Some("su"));
        assert_eq!(
            parsed.msg.as_deref(),
            Some("'su root' failed for lonvick on /dev/pts/8")
        );
        assert!(
            parsed
                .fields_json()
                .contains(&("procid".to_owned(), json!("230")))
        );
        let parsed = parse("May  1 10:00:00 node-7 kubelet[1042]: E0501 pod sync failed").unwrap();
        assert_eq!(parsed.logger.as_deref(), Some("kubelet"));
        assert!(
            parsed
                .fields_json()
                .contains(&("host".to_owned(), json!("node-7")))
        );
    }

    #[test]
    fn other_lines_are_not_syslog() {
        for text in [
            "<34>",
            "<999>1 x",
            "hello",
            "<34>1 not-a-time h a p m - x",
            "Oct 11 broken",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
