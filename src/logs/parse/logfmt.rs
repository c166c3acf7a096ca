//! logfmt: `level=info msg="request done" duration=12ms status=200`.

use super::Parsed;
use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{escaped_transform, is_not, take_while1};
use nom::character::complete::{char, none_of};
use nom::combinator::{map, opt, value};
use nom::sequence::delimited;
use serde_json::Value;

/// Fewer pairs than this is prose that happens to contain `=`.
const MIN_PAIRS: usize = 2;

fn key(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| !c.is_whitespace() && c != '=' && c != '"')(input)
}

fn quoted(input: &str) -> IResult<&str, String> {
    delimited(
        char('"'),
        map(
            opt(escaped_transform(
                none_of("\\\""),
                '\\',
                alt((
                    value("\\", char('\\')),
                    value("\"", char('"')),
                    value("\n", char('n')),
                    value("\t", char('t')),
                    value("\r", char('r')),
                )),
            )),
            Option::unwrap_or_default,
        ),
        char('"'),
    )
    .parse(input)
}

fn pair(input: &str) -> IResult<&str, (&str, Option<String>)> {
    let (input, name) = key(input)?;
    let (input, assigned) = opt(char('=')).parse(input)?;
    if assigned.is_none() {
        return Ok((input, (name, None)));
    }
    let (input, text) = opt(alt((quoted, map(is_not(" \t"), str::to_owned)))).parse(input)?;
    Ok((input, (name, Some(text.unwrap_or_default()))))
}

/// The pairs of a logfmt line, or `None` if the line is not logfmt.
pub fn pairs(text: &str) -> Option<Vec<(String, Value)>> {
    let mut rest = text.trim();
    let mut out = Vec::new();
    let mut with_value = 0;
    while !rest.is_empty() {
        let (after, (name, text)) = pair(rest).ok()?;
        let value = match text {
            Some(text) => {
                with_value += 1;
                scalar(text)
            }
            // A bare key is a flag.
            None => Value::Bool(true),
        };
        out.push((name.to_owned(), value));
        rest = after.trim_start();
        if !after.is_empty() && !after.starts_with([' ', '\t']) {
            return None;
        }
    }
    (with_value >= MIN_PAIRS && out.first().is_some_and(|(_, v)| !v.is_boolean())).then_some(out)
}

/// Numbers and booleans become JSON numbers and booleans; everything else stays text.
fn scalar(text: String) -> Value {
    if let Ok(integer) = text.parse::<i64>() {
        return Value::from(integer);
    }
    if text.contains('.')
        && let Ok(float) = text.parse::<f64>()
        && float.is_finite()
    {
        return Value::from(float);
    }
    match text.as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text),
    }
}

pub fn parse(text: &str) -> Option<Parsed> {
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

    fn parse(text: &str) -> Option<Parsed> {
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
            parsed.fields,
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
            parse("a=\"unterminated b=2").unwrap().fields[0].1,
            json!("\"unterminated")
        );
        assert_eq!(
            parse("a= b=2").unwrap().fields[0],
            ("a".to_owned(), json!(""))
        );
    }
}
