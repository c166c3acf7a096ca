//! JSON object lines, any nesting: flattened to dotted fields (`req.headers.host`), strings
//! borrowed from the line.

use super::Parsed;
use crate::logs::value::parse_json_object;

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    Some(Parsed {
        fields: parse_json_object(trimmed)?,
        ..Parsed::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::level::Level;
    use crate::logs::parse::fields;

    fn parse(text: &str) -> Option<Parsed<'_>> {
        let mut parsed = super::parse(text)?;
        fields::take_common(&mut parsed);
        Some(parsed)
    }

    #[test]
    fn nested_objects_are_flattened_and_common_fields_taken() {
        let parsed = parse(r#"{"level":50,"time":1704207845123,"msg":"payment failed","req":{"method":"POST","headers":{"host":"shop"}},"empty":{}}"#).unwrap();
        assert_eq!(parsed.level, Some(Level::Error));
        assert_eq!(parsed.ts, Some(1_704_207_845_123_000_000));
        assert_eq!(parsed.msg.as_deref(), Some("payment failed"));
        let keys: Vec<&str> = parsed.fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, vec!["req.method", "req.headers.host", "empty"]);
    }

    #[test]
    fn non_objects_are_not_json_lines() {
        for text in ["[1,2]", "{not json", "plain words", "\"string\"", ""] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
