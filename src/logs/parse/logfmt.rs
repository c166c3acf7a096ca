//! logfmt: `level=info msg="request done" duration=12ms status=200`.

use super::Parsed;
use crate::logs::value::{Field, FieldValue};
use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{escaped, is_not, take_while1};
use nom::character::complete::{anychar, char};
use nom::combinator::opt;
use nom::sequence::delimited;
use std::borrow::Cow;

/// Fewer pairs than this is prose that happens to contain `=`.
const MIN_PAIRS: usize = 2;

fn key(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| !c.is_whitespace() && c != '=' && c != '"')(input)
}

/// A quoted value, borrowed unless it holds escapes.
fn quoted(input: &str) -> IResult<&str, Cow<'_, str>> {
    delimited(
        char('"'),
        opt(escaped(is_not("\\\""), '\\', anychar)),
        char('"'),
    )
    .map(|raw: Option<&str>| unescape(raw.unwrap_or_default()))
    .parse(input)
}

fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            // `\"` and `\\`; an unknown escape keeps its character.
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

fn pair(input: &str) -> IResult<&str, (&str, Option<Cow<'_, str>>)> {
    let (input, name) = key(input)?;
    let (input, assigned) = opt(char('=')).parse(input)?;
    if assigned.is_none() {
        return Ok((input, (name, None)));
    }
    let (input, text) = opt(alt((quoted, is_not(" \t").map(Cow::Borrowed)))).parse(input)?;
    Ok((input, (name, Some(text.unwrap_or_default()))))
}

/// The pairs of a logfmt line, or `None` if the line is not logfmt.
pub fn pairs(text: &str) -> Option<Vec<Field<'_>>> {
    let mut rest = text.trim();
    let mut out = Vec::with_capacity(8);
    let mut with_value = 0;
    while !rest.is_empty() {
        let (after, (name, text)) = pair(rest).ok()?;
        let value = match text {
            Some(text) => {
                with_value += 1;
                scalar(text)
            }
            // A bare key is a flag.
            None => FieldValue::Bool(true),
        };
        out.push((Cow::Borrowed(name), value));
        rest = after.trim_start();
        if !after.is_empty() && !after.starts_with([' ', '\t']) {
            return None;
        }
    }
    let starts_with_pair = out
        .first()
        .is_some_and(|(_, v)| !matches!(v, FieldValue::Bool(_)));
    (with_value >= MIN_PAIRS && starts_with_pair).then_some(out)
}

/// Numbers and booleans become JSON numbers and booleans; everything else stays text.
fn scalar(text: Cow<'_, str>) -> FieldValue<'_> {
    let starts_numeric = text
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'-' || *b == b'+');
    if starts_numeric {
        if let Ok(integer) = text.parse::<i64>() {
            return FieldValue::Int(integer);
        }
        if text.contains('.')
            && let Ok(float) = text.parse::<f64>()
            && float.is_finite()
        {
            return FieldValue::Float(float);
        }
    }
    match text.as_ref() {
        "true" => FieldValue::Bool(true),
        "false" => FieldValue::Bool(false),
        _ => FieldValue::Str(text),
    }
}

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    let parsed = Parsed {
        fields: pairs(text)?,
        ..Parsed::default()
    };
    Some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::parse::fields;

    fn parse(text: &str) -> Option<Parsed<'_>> {
        let mut parsed = super::parse(text)?;
        fields::take_common(&mut parsed);
        Some(parsed)
    }
    use crate::logs::level::Level;
    use serde_json::json;

    #[test]
    fn typical_lines() {
        let parsed = parse(r#"time=2024-05-01T10:00:00Z level=warn msg="cache miss \"orders\"" key=orders:42 hit_ratio=0.61 stale"#).unwrap();
        assert_eq!(parsed.level, Some(Level::Warn));
        assert_eq!(parsed.msg.as_deref(), Some("cache miss \"orders\""));
        assert_eq!(parsed.ts, Some(1_714_557_600_000_000_000));
        assert_eq!(
            parsed.fields_json(),
            vec![
                ("key".to_owned(), json!("orders:42")),
                ("hit_ratio".to_owned(), json!(0.61)),
                ("stale".to_owned(), json!(true))
            ]
        );
    }

    #[test]
    fn prose_is_not_logfmt() {
        for text in ["the answer is x=1", "a=1", "just words", "", "=x y=2"] {
            assert!(parse(text).is_none(), "{text}");
        }
        // Lenient on a broken quote, as logfmt readers are: the value runs to the next space.
        assert_eq!(
            parse("a=\"unterminated b=2").unwrap().fields_json()[0].1,
            json!("\"unterminated")
        );
        assert_eq!(
            parse("a= b=2").unwrap().fields_json()[0],
            ("a".to_owned(), json!(""))
        );
    }
}
