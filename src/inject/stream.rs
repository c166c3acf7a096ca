//! A manifest stream cut into documents, each kept as the bytes it came as: a document that
//! does not change is written back byte for byte, comments and all. YAML streams are cut at
//! `---` lines; a JSON input is a sequence of JSON values.

use super::node::Node;

/// The most one document may hold. The API server refuses objects over ~1.5 MiB (etcd's
/// request limit); anything far above that is not a manifest.
pub const MAX_DOCUMENT_BYTES: usize = 8 << 20;
/// Alias replays allowed in one document: real manifests use a handful; a billion-laughs
/// document stops here instead of exhausting memory.
const MAX_ALIAS_REPLAYS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

/// One document of the stream.
#[derive(Debug)]
pub struct Document<'a> {
    /// 1-based, as the report and errors count them.
    pub number: usize,
    /// 1-based line of the input where the document's text starts.
    pub line: usize,
    /// The document's text, separator line and comments included.
    pub text: &'a str,
    /// None for a document with no content (only comments, or nothing).
    pub value: Option<Node>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("document {number} (line {line}): {message}")]
pub struct DocumentError {
    pub number: usize,
    pub line: usize,
    pub message: String,
}

/// Reads the stream: which format it is, and its documents, parsed.
pub fn read(input: &[u8]) -> Result<(Format, Vec<Document<'_>>), DocumentError> {
    let text = std::str::from_utf8(input).map_err(|error| {
        let offset = error.valid_up_to();
        let before = &input[..offset];
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        DocumentError {
            number: document_number_at(before),
            line,
            message: format!(
                "not UTF-8 text (invalid byte at offset {offset}): a manifest is YAML or JSON text"
            ),
        }
    })?;
    if text.trim_start().starts_with(['{', '[']) {
        Ok((Format::Json, read_json(text)?))
    } else {
        Ok((Format::Yaml, read_yaml(text)?))
    }
}

/// Which YAML document a byte offset falls in, for errors found before the stream is cut.
fn document_number_at(before: &[u8]) -> usize {
    let text = String::from_utf8_lossy(before);
    segments(&text).len().max(1)
}

fn read_yaml(text: &str) -> Result<Vec<Document<'_>>, DocumentError> {
    let mut documents = Vec::new();
    let mut line = 1;
    for (index, segment) in segments(text).into_iter().enumerate() {
        let number = index + 1;
        let error = |message: String| DocumentError {
            number,
            line,
            message,
        };
        if segment.len() > MAX_DOCUMENT_BYTES {
            return Err(error(format!(
                "{} bytes: larger than the {} MiB a manifest may be (the API server refuses objects over ~1.5 MiB)",
                segment.len(),
                MAX_DOCUMENT_BYTES >> 20
            )));
        }
        let value = if has_content(segment) {
            let node: Node = serde_saphyr::from_str_with_options(segment, yaml_options())
                .map_err(|e| error(yaml_error(segment, line, &e.to_string())))?;
            Some(node)
        } else {
            None
        };
        documents.push(Document {
            number,
            line,
            text: segment,
            value,
        });
        line += segment.matches('\n').count();
    }
    Ok(documents)
}

/// Kubernetes reads YAML as go-yaml does: `0644` is octal (420), `yes`/`on` are booleans.
fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAYS;
    options
}

/// The library's message, with its line numbers made lines of the whole input.
fn yaml_error(segment: &str, first_line: usize, message: &str) -> String {
    if first_line == 1 {
        return message.to_owned();
    }
    // Parse again behind as many blank lines as precede the document: the positions the
    // library reports are then the input's. Only on an error, so the cost is paid once.
    let padded = "\n".repeat(first_line - 1) + segment;
    match serde_saphyr::from_str_with_options::<Node>(&padded, yaml_options()) {
        Err(error) => error.to_string(),
        Ok(_) => message.to_owned(),
    }
}

fn is_separator(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// A line that carries no value: blank, a comment, a directive or a document marker.
fn is_trivia(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty()
        || trimmed.starts_with('#')
        || trimmed.starts_with('%')
        || trimmed == "..."
        || (is_separator(line) && line[3..].trim().is_empty())
        || (is_separator(line) && line[3..].trim().starts_with('#'))
}

fn has_content(segment: &str) -> bool {
    segment.split_inclusive('\n').any(|line| !is_trivia(line))
}

/// Cuts the text at `---` lines. Leading comments and directives stay with the document
/// they precede; `---` on a line of its own after a document with content starts the next.
fn segments(text: &str) -> Vec<&str> {
    let mut cuts = vec![0];
    let mut offset = 0;
    let mut seen_separator = false;
    let mut seen_content = false;
    for line in text.split_inclusive('\n') {
        if is_separator(line) {
            if seen_separator || seen_content {
                cuts.push(offset);
                seen_content = false;
            }
            seen_separator = true;
            if !is_trivia(line) {
                seen_content = true;
            }
        } else if !is_trivia(line) {
            seen_content = true;
        }
        offset += line.len();
    }
    cuts.push(text.len());
    cuts.windows(2).map(|w| &text[w[0]..w[1]]).collect()
}

fn read_json(text: &str) -> Result<Vec<Document<'_>>, DocumentError> {
    let mut documents = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Node>();
    let mut start = 0;
    loop {
        let number = documents.len() + 1;
        let rest = &text[start..];
        let value_start = start + rest.len() - rest.trim_start().len();
        let line = 1 + text[..value_start].matches('\n').count();
        match stream.next() {
            None => break,
            Some(Ok(node)) => {
                let end = stream.byte_offset();
                if end - start > MAX_DOCUMENT_BYTES {
                    return Err(DocumentError {
                        number,
                        line,
                        message: format!(
                            "larger than the {} MiB a manifest may be",
                            MAX_DOCUMENT_BYTES >> 20
                        ),
                    });
                }
                documents.push(Document {
                    number,
                    line,
                    text: &text[start..end],
                    value: Some(node),
                });
                start = end;
            }
            Some(Err(error)) => {
                return Err(DocumentError {
                    number,
                    line,
                    message: format!("invalid JSON: {error}"),
                });
            }
        }
    }
    // Whitespace after the last value belongs to it, so the documents add up to the input.
    if let Some(last) = documents.last_mut() {
        let begin = start - last.text.len();
        last.text = &text[begin..];
    }
    Ok(documents)
}

/// The text a re-written document is emitted as. YAML keeps the document's leading comments
/// and separator; a document after the first always starts with `---`.
pub fn emit(format: Format, original: &Document, value: &Node) -> String {
    match format {
        Format::Json => {
            let leading = &original.text[..original.text.len() - original.text.trim_start().len()];
            let body = serde_json::to_string_pretty(value).expect("a Node always serializes");
            format!("{leading}{body}\n")
        }
        Format::Yaml => {
            let mut head = String::new();
            for line in original.text.split_inclusive('\n') {
                if !is_trivia(line) || line.trim() == "..." {
                    break;
                }
                head.push_str(line);
            }
            let has_separator = head.split_inclusive('\n').any(is_separator);
            if original.number > 1 && !has_separator {
                head.push_str("---\n");
            }
            if !head.is_empty() && !head.ends_with('\n') {
                head.push('\n');
            }
            head + &to_yaml(value)
        }
    }
}

/// YAML as kubectl writes it: block style, lists not indented under their key, multi-line
/// strings as literal blocks, long lines never folded.
pub fn to_yaml(value: &Node) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX / 2;
    let mut text =
        serde_saphyr::to_string_with_options(value, options).expect("a Node always serializes");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_separators_and_keeps_leading_comments() {
        let text = "# Source: a.yaml\nkind: A\n---\n# Source: b.yaml\nkind: B\n---\n---\nkind: C\n";
        let parts = segments(text);
        assert_eq!(
            parts,
            vec![
                "# Source: a.yaml\nkind: A\n",
                "---\n# Source: b.yaml\nkind: B\n",
                "---\n",
                "---\nkind: C\n"
            ]
        );
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn a_leading_separator_does_not_make_an_empty_document() {
        assert_eq!(segments("---\nkind: A\n"), vec!["---\nkind: A\n"]);
        assert_eq!(
            segments("%YAML 1.2\n---\nkind: A\n"),
            vec!["%YAML 1.2\n---\nkind: A\n"]
        );
    }

    #[test]
    fn a_separator_inside_a_block_scalar_is_indented_and_not_a_cut() {
        let text = "data:\n  script: |\n    ---\n    echo\nkind: A\n";
        assert_eq!(segments(text).len(), 1);
    }

    #[test]
    fn errors_name_the_document_and_the_input_line() {
        let text = b"kind: A\n---\nkind: B\n  bad: [\n";
        let error = read(text).unwrap_err();
        assert_eq!(error.number, 2);
        assert_eq!(error.line, 2);
        assert!(error.message.contains("line 4"), "{}", error.message);
    }

    #[test]
    fn binary_input_is_refused_with_its_position() {
        let error = read(b"kind: A\n---\n\xff\xfe\x00").unwrap_err();
        assert_eq!(error.number, 2);
        assert!(error.message.contains("not UTF-8"), "{}", error.message);
    }

    #[test]
    fn json_values_keep_their_bytes() {
        let text = "{\"kind\": \"A\"}\n  {\"kind\":\"B\"}";
        let (format, documents) = read(text.as_bytes()).unwrap();
        assert_eq!(format, Format::Json);
        assert_eq!(documents.iter().map(|d| d.text).collect::<String>(), text);
        assert_eq!(documents[1].line, 2);
    }

    #[test]
    fn octal_modes_are_read_as_kubernetes_reads_them() {
        let (_, documents) = read(b"defaultMode: 0644\n").unwrap();
        assert_eq!(
            documents[0].value.as_ref().unwrap().get("defaultMode"),
            Some(&Node::UInt(420))
        );
    }
}
