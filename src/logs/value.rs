//! A structured field's value, borrowed from the line wherever it can be: a JSON string without
//! escapes, a logfmt value or an access-log token is never copied on its way from the line to
//! the output. Only values that are changed (unescaped, redacted, cut) own their text.

use super::json_out::write_text;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<FieldValue<'a>>),
    /// An object that is not flattened (inside an array).
    Object(Vec<Field<'a>>),
}

/// A named field, in the order the line had it.
pub type Field<'a> = (Cow<'a, str>, FieldValue<'a>);

impl<'a> From<&'a str> for FieldValue<'a> {
    fn from(text: &'a str) -> Self {
        FieldValue::Str(Cow::Borrowed(text))
    }
}

impl From<String> for FieldValue<'_> {
    fn from(text: String) -> Self {
        FieldValue::Str(Cow::Owned(text))
    }
}

impl<'a> From<Cow<'a, str>> for FieldValue<'a> {
    fn from(text: Cow<'a, str>) -> Self {
        FieldValue::Str(text)
    }
}

impl From<i64> for FieldValue<'_> {
    fn from(number: i64) -> Self {
        FieldValue::Int(number)
    }
}

impl From<u64> for FieldValue<'_> {
    fn from(number: u64) -> Self {
        FieldValue::UInt(number)
    }
}

impl From<bool> for FieldValue<'_> {
    fn from(flag: bool) -> Self {
        FieldValue::Bool(flag)
    }
}

impl<'a> FieldValue<'a> {
    pub fn is_null(&self) -> bool {
        matches!(self, FieldValue::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            FieldValue::Int(n) => Some(n),
            FieldValue::UInt(n) => i64::try_from(n).ok(),
            _ => None,
        }
    }

    /// A number, or text that is one (`"200"`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FieldValue::Int(n) => Some(*n as f64),
            FieldValue::UInt(n) => Some(*n as f64),
            FieldValue::Float(n) => Some(*n),
            FieldValue::Str(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as text: a string as it is, anything else as its JSON.
    pub fn into_text(self) -> Cow<'a, str> {
        match self {
            FieldValue::Str(text) => text,
            other => Cow::Owned(other.to_json()),
        }
    }

    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        // Only UTF-8 text and ASCII syntax are written.
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_with(out, false);
    }

    /// `write_json`, copying borrowed text whole when `borrowed_is_clean` (see
    /// [`crate::logs::json_out::write_text`]).
    pub fn write_json_with(&self, out: &mut Vec<u8>, borrowed_is_clean: bool) {
        match self {
            FieldValue::Null => out.extend_from_slice(b"null"),
            FieldValue::Bool(true) => out.extend_from_slice(b"true"),
            FieldValue::Bool(false) => out.extend_from_slice(b"false"),
            FieldValue::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            FieldValue::UInt(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            // serde_json writes the shortest text that reads back the same, and `null` for
            // what JSON cannot hold (NaN, infinities).
            FieldValue::Float(n) => {
                let _ = serde_json::to_writer(&mut *out, n);
            }
            FieldValue::Str(text) => write_text(out, text, borrowed_is_clean),
            FieldValue::Array(items) => {
                out.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    item.write_json_with(out, borrowed_is_clean);
                }
                out.push(b']');
            }
            FieldValue::Object(fields) => write_object(out, fields, borrowed_is_clean),
        }
    }

    /// The value as a `serde_json::Value` (for tests and tools; the hot path never builds one).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.to_json()).unwrap_or_default()
    }
}

pub fn write_object(out: &mut Vec<u8>, fields: &[Field<'_>], borrowed_is_clean: bool) {
    out.push(b'{');
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_text(out, key, borrowed_is_clean);
        out.push(b':');
        value.write_json_with(out, borrowed_is_clean);
    }
    out.push(b'}');
}

/// Nesting deeper than this is kept as a JSON string instead of being flattened further.
pub const MAX_FLATTEN_DEPTH: usize = 8;

/// The fields of a JSON object line, nested objects flattened with dots (`req.headers.host`),
/// strings borrowed from `text` unless they hold escapes. `None` if `text` is not one JSON
/// object.
pub fn parse_json_object(text: &str) -> Option<Vec<Field<'_>>> {
    let mut fields = Vec::with_capacity(16);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer
        .deserialize_map(FlatObject {
            prefix: None,
            depth: 0,
            out: &mut fields,
        })
        .ok()?;
    deserializer.end().ok()?;
    Some(fields)
}

/// A string, borrowed when the input allows it.
struct CowStr<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowStrVisitor;
        impl<'de> Visitor<'de> for CowStrVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(CowStrVisitor)
    }
}

/// Scalars and arrays, common to a flattened field and a plain value.
macro_rules! scalar_visits {
    ($wrap:ident) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(self.$wrap(FieldValue::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(self.$wrap(FieldValue::Int(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(self.$wrap(match i64::try_from(v) {
                Ok(v) => FieldValue::Int(v),
                Err(_) => FieldValue::UInt(v),
            }))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(self.$wrap(FieldValue::Float(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(self.$wrap(FieldValue::Null))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(self.$wrap(FieldValue::Str(Cow::Borrowed(v))))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.$wrap(FieldValue::Str(Cow::Owned(v.to_owned()))))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(self.$wrap(FieldValue::Str(Cow::Owned(v))))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<FieldValue<'de>>()? {
                items.push(item);
            }
            Ok(self.$wrap(FieldValue::Array(items)))
        }
    };
}

impl<'de> serde::Deserialize<'de> for FieldValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl ValueVisitor {
    fn keep<'de>(self, value: FieldValue<'de>) -> FieldValue<'de> {
        value
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = FieldValue<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    scalar_visits!(keep);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(CowStr(key)) = map.next_key()? {
            fields.push((key, map.next_value()?));
        }
        Ok(FieldValue::Object(fields))
    }
}

/// The members of an object, pushed to `out` under `prefix`.
struct FlatObject<'o, 'de> {
    prefix: Option<&'o str>,
    depth: usize,
    out: &'o mut Vec<Field<'de>>,
}

impl<'de> Visitor<'de> for FlatObject<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(CowStr(key)) = map.next_key()? {
            let name = match self.prefix {
                None => key,
                Some(prefix) => Cow::Owned(format!("{prefix}.{key}")),
            };
            map.next_value_seed(FlatMember {
                name,
                depth: self.depth,
                out: self.out,
            })?;
        }
        Ok(())
    }
}

/// One member: a nested object is flattened into `out`, anything else pushed as it is.
struct FlatMember<'o, 'de> {
    name: Cow<'de, str>,
    depth: usize,
    out: &'o mut Vec<Field<'de>>,
}

impl<'de> FlatMember<'_, 'de> {
    fn push(self, value: FieldValue<'de>) {
        self.out.push((self.name, value));
    }
}

impl<'de> DeserializeSeed<'de> for FlatMember<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FlatMember<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    scalar_visits!(push);
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        if self.depth >= MAX_FLATTEN_DEPTH {
            // Too deep to flatten usefully: kept whole, as JSON text.
            let object = ValueVisitor.visit_map(map)?;
            self.out
                .push((self.name, FieldValue::Str(object.to_json().into())));
            return Ok(());
        }
        let start = self.out.len();
        FlatObject {
            prefix: Some(&self.name),
            depth: self.depth + 1,
            out: self.out,
        }
        .visit_map(map)?;
        if self.out.len() == start {
            self.out.push((self.name, FieldValue::Str("{}".into())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(text: &str) -> Vec<(String, serde_json::Value)> {
        parse_json_object(text)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.to_value()))
            .collect()
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let fields = parse_json_object(r#"{"msg":"plain","esc":"a\"b","n":{"k":"v"}}"#).unwrap();
        assert!(matches!(
            &fields[0].1,
            FieldValue::Str(Cow::Borrowed("plain"))
        ));
        assert!(matches!(&fields[1].1, FieldValue::Str(Cow::Owned(s)) if s == "a\"b"));
        assert_eq!(fields[2].0, "n.k");
    }

    #[test]
    fn nesting_is_flattened_and_bounded() {
        // Eight levels are flattened; the ninth is kept as JSON text.
        let deep = format!(
            "{}{}",
            r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}"#,
            "}".repeat(9)
        );
        let fields = flat(&deep);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].0, "a.b.c.d.e.f.g.h.i");
        assert_eq!(fields[0].1, serde_json::json!(r#"{"j":1}"#));
        assert_eq!(
            flat(r#"{"empty":{},"list":[1,{"x":null}],"big":18446744073709551615,"f":1.5}"#),
            vec![
                ("empty".to_owned(), serde_json::json!("{}")),
                ("list".to_owned(), serde_json::json!([1, {"x": null}])),
                ("big".to_owned(), serde_json::json!(18446744073709551615u64)),
                ("f".to_owned(), serde_json::json!(1.5)),
            ]
        );
    }

    #[test]
    fn only_one_object_is_a_json_line() {
        for text in ["[1]", "{\"a\":1} x", "{\"a\":", "\"s\"", "", "{\"a\":1}{}"] {
            assert!(parse_json_object(text).is_none(), "{text}");
        }
        assert!(parse_json_object(" {\"a\":1} ").is_some());
    }
}
