//! Stream labels: configured templates rendered from a batch's source, checked against Loki's
//! label rules, and written as the selector string Loki's push API takes (`{a="x", b="y"}`).

use crate::logs::pipeline::Origin;
use std::fmt::Write;

/// Loki's default limits (see contracts.md).
pub const MAX_LABELS: usize = 15;
pub const MAX_NAME_BYTES: usize = 1024;
pub const MAX_VALUE_BYTES: usize = 2048;

/// What a template can take from an event's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceField {
    /// The source's id in the configuration.
    Source,
    /// `stdout` / `stderr` (container logs), `stdin`.
    Stream,
    File,
    Namespace,
    Pod,
    Container,
    /// The machine's host name.
    Host,
}

impl SourceField {
    pub const NAMES: [&str; 7] = [
        "source",
        "stream",
        "file",
        "kubernetes.namespace",
        "kubernetes.pod",
        "kubernetes.container",
        "host",
    ];

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "source" => Self::Source,
            "stream" => Self::Stream,
            "file" => Self::File,
            "kubernetes.namespace" => Self::Namespace,
            "kubernetes.pod" => Self::Pod,
            "kubernetes.container" => Self::Container,
            "host" => Self::Host,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(SourceField),
}

/// A label value: text with `{{ field }}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("`{text}`: `{{{{` without `}}}}`"))?;
            let name = after[..close].trim();
            let field = SourceField::from_name(name).ok_or_else(|| {
                format!(
                    "`{{{{ {name} }}}}` is not a field a label can take; the fields are {}",
                    SourceField::NAMES.join(", ")
                )
            })?;
            pieces.push(Piece::Field(field));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self { pieces })
    }

    pub fn is_static(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Text(_)))
    }

    /// The value for a batch from `origin`; empty when a field it needs is missing (the label
    /// is then left out, as Loki does with empty labels).
    pub fn render(&self, origin: &Origin, stream: Option<&str>, host: &str) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            let value = match piece {
                Piece::Text(text) => Some(text.as_str()),
                Piece::Field(field) => {
                    let kubernetes = origin.kubernetes.as_deref();
                    match field {
                        SourceField::Source => Some(&*origin.source_id),
                        SourceField::Stream => stream,
                        SourceField::File => origin.file.as_deref(),
                        SourceField::Namespace => kubernetes.map(|k| k.namespace.as_str()),
                        SourceField::Pod => kubernetes.map(|k| k.pod.as_str()),
                        SourceField::Container => kubernetes.map(|k| k.container.as_str()),
                        SourceField::Host => Some(host).filter(|h| !h.is_empty()),
                    }
                }
            };
            match value {
                Some(value) => out.push_str(value),
                None => return String::new(),
            }
        }
        truncate_value(out)
    }
}

/// Loki refuses longer values; a cut value keeps the stream usable.
fn truncate_value(mut value: String) -> String {
    if value.len() > MAX_VALUE_BYTES {
        let mut cut = MAX_VALUE_BYTES;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        value.truncate(cut);
    }
    value
}

/// Loki's (Prometheus's) label name syntax; names starting with `__` are reserved.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let valid = matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(format!(
            "`{name}` is not a valid label name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    if name.starts_with("__") {
        return Err(format!("`{name}`: names starting with `__` are reserved"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("`{name}`: longer than {MAX_NAME_BYTES} bytes"));
    }
    Ok(())
}

/// The selector string for a stream: labels sorted by name, values quoted and escaped the way
/// Loki's parser reads them.
pub fn selector(labels: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = labels
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    sorted.sort();
    let mut out = String::from("{");
    for (index, (name, value)) in sorted.into_iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::kubernetes::KubernetesMeta;
    use std::sync::Arc;

    fn origin() -> Origin {
        Origin {
            source_id: Arc::from("pods"),
            file: Some(Arc::from("/var/log/pods/shop_cart-7d9_uid/cart/0.log")),
            kubernetes: Some(Arc::new(KubernetesMeta {
                namespace: "shop".into(),
                pod: "cart-7d9".into(),
                pod_uid: Some("uid".into()),
                container: "cart".into(),
            })),
        }
    }

    #[test]
    fn templates_render_from_the_source() {
        let template =
            Template::parse("{{ kubernetes.namespace }}/{{kubernetes.container}}").unwrap();
        assert_eq!(template.render(&origin(), None, "node-1"), "shop/cart");
        assert!(!template.is_static());
        let stream = Template::parse("{{ stream }}").unwrap();
        assert_eq!(stream.render(&origin(), None, "node-1"), "");
        assert_eq!(stream.render(&origin(), Some("stderr"), "node-1"), "stderr");
        assert!(
            Template::parse("{{ pod_ip }}")
                .unwrap_err()
                .contains("kubernetes.pod")
        );
        assert!(Template::parse("{{ source").is_err());
    }

    #[test]
    fn label_names_follow_loki() {
        assert!(check_name("service_name").is_ok());
        for bad in ["1st", "with-dash", "", "__reserved", "dotted.name"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selectors_are_sorted_escaped_and_skip_empty_values() {
        let labels = vec![
            ("service_name".to_owned(), "cart".to_owned()),
            ("namespace".to_owned(), "sh\"op\\".to_owned()),
            ("stream".to_owned(), String::new()),
        ];
        assert_eq!(
            selector(&labels),
            r#"{namespace="sh\"op\\", service_name="cart"}"#
        );
    }
}
