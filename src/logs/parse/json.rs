//! JSON object lines, any nesting: flattened to dotted fields (`req.headers.host`).

use super::Parsed;
use serde_json::{Map, Value};

/// Nesting deeper than this is kept as a JSON string instead of being flattened further.
const MAX_FLATTEN_DEPTH: usize = 8;

pub fn parse(text: &str) -> Option<Parsed> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let Ok(object) = serde_json::from_str::<Map<String, Value>>(trimmed) else {
        return None;
    };
    let mut parsed = Parsed::default();
    flatten("", object, 0, &mut parsed.fields);
    Some(parsed)
}

fn flatten(prefix: &str, object: Map<String, Value>, depth: usize, out: &mut Vec<(String, Value)>) {
    for (key, value) in object {
        let name = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) if depth < MAX_FLATTEN_DEPTH && !inner.is_empty() => {
                flatten(&name, inner, depth + 1, out)
            }
            Value::Object(inner) => {
                out.push((name, Value::String(Value::Object(inner).to_string())))
            }
            other => out.push((name, other)),
        }
    }
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

    #[test]
    fn nested_objects_are_flattened_and_common_fields_taken() {
        let parsed = parse(r#"{"level":50,"time":1704207845123,"msg":"payment failed","req":{"method":"POST","headers":{"host":"shop"}},"empty":{}}"#).unwrap();
        assert_eq!(parsed.level, Some(Level::Error));
        assert_eq!(parsed.ts, Some(1_704_207_845_123_000_000));
        assert_eq!(parsed.msg.as_deref(), Some("payment failed"));
        let keys: Vec<&str> = parsed.fields.iter().map(|(k, _)| k.as_str()).collect();
        // serde_json's map is ordered by key: attributes come out sorted, whatever the input.
        assert_eq!(keys, vec!["empty", "req.headers.host", "req.method"]);
    }

    #[test]
    fn non_objects_are_not_json_lines() {
        for text in ["[1,2]", "{not json", "plain words", "\"string\"", ""] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
