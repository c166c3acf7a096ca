//! Where each field of a YAML document is, by dotted path, so that errors found after
//! parsing (validation) can still point at a line and column.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;

/// Line and column (1-based) of every key and sequence item, by path
/// (`sinks.out.inputs[0]`).
#[derive(Debug, Default)]
pub struct Locations {
    by_path: HashMap<String, (u64, u64)>,
}

impl Locations {
    /// Best effort: a document that does not parse simply has no locations.
    pub fn of_yaml(text: &str) -> Self {
        let mut locations = Self::default();
        if let Ok(root) = serde_saphyr::from_str_with_options::<Node>(text, super::yaml_options()) {
            locations.record(String::new(), &root);
        }
        locations
    }

    /// The location of exactly `path`, if it is in the document.
    pub fn find_exact(&self, path: &str) -> Option<(u64, u64)> {
        self.by_path.get(path).copied()
    }

    /// The location of `path`, or of its nearest parent that has one.
    pub fn find(&self, path: &str) -> Option<(u64, u64)> {
        let mut candidate = path;
        loop {
            if let Some(location) = self.by_path.get(candidate) {
                return Some(*location);
            }
            let cut = candidate.rfind(['.', '['])?;
            candidate = &candidate[..cut];
        }
    }

    fn record(&mut self, path: String, node: &Node) {
        match node {
            Node::Map(entries) => {
                for (key, value) in entries {
                    let child = if path.is_empty() {
                        key.value.0.clone()
                    } else {
                        format!("{path}.{}", key.value.0)
                    };
                    self.by_path.insert(
                        child.clone(),
                        (key.referenced.line(), key.referenced.column()),
                    );
                    self.record(child, &value.value);
                }
            }
            Node::Seq(items) => {
                for (index, item) in items.iter().enumerate() {
                    let child = format!("{path}[{index}]");
                    self.by_path.insert(
                        child.clone(),
                        (item.referenced.line(), item.referenced.column()),
                    );
                    self.record(child, &item.value);
                }
            }
            Node::Scalar => {}
        }
    }
}

enum Node {
    Map(Vec<(Spanned<KeyText>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
}

/// A mapping key of any scalar type, as text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
admin:
  listen: nowhere
sinks:
  out:
    type: console
    inputs:
      - app
      - ap
";

    #[test]
    fn finds_keys_and_sequence_items() {
        let locations = Locations::of_yaml(YAML);
        assert_eq!(locations.find("admin.listen"), Some((2, 3)));
        assert_eq!(locations.find("sinks.out.inputs[1]"), Some((8, 9)));
    }

    #[test]
    fn falls_back_to_the_nearest_parent() {
        let locations = Locations::of_yaml(YAML);
        assert_eq!(locations.find("sinks.out.missing"), Some((4, 3)));
        assert_eq!(locations.find("nothing"), None);
    }

    #[test]
    fn broken_yaml_has_no_locations() {
        assert_eq!(Locations::of_yaml("a: [").find("a"), None);
    }
}
