//! `vigia inject`: adds vigia to Kubernetes workloads as a sidecar, as a pure text
//! transform (as `linkerd inject --manual` and `istioctl kube-inject` do), and takes it out
//! again with `--uninject`.
//!
//! Documents that hold no workload, and workloads that are skipped, are written back byte
//! for byte. A workload that changes is written again from its parsed value: its key order
//! is kept, its comments inside the object are not (the leading comments and `---` stay),
//! and scalars are spelled as YAML writers spell them (`0644` becomes `420`, quoting may
//! change). See docs/kubernetes.md.

mod node;
mod options;
#[cfg(test)]
mod properties;
mod record;
mod sidecar;
mod stream;
mod workload;

pub use node::Node;
pub use options::{InjectOptions, Mode, Resources, default_image};
pub use record::{ANNOTATION, GENERATED_FOR, OPT_OUT};
pub use stream::{DocumentError, Format, MAX_DOCUMENT_BYTES};
pub use workload::{Action, ObjectReport, Outcome};

/// The most a whole input may hold.
pub const MAX_INPUT_BYTES: usize = 256 << 20;

/// The transformed stream and what happened to each object.
#[derive(Debug)]
pub struct Transformed {
    pub output: String,
    pub format: Format,
    pub report: Vec<DocumentReport>,
}

#[derive(Debug)]
pub struct DocumentReport {
    pub document: usize,
    pub objects: Vec<ObjectReport>,
}

/// Applies `action` to every document of `input`.
pub fn transform(input: &[u8], action: Action) -> Result<Transformed, DocumentError> {
    let (format, documents) = stream::read(input)?;
    if documents.iter().all(|d| d.value.is_none()) {
        return Err(DocumentError {
            number: 1,
            line: 1,
            message: "the input holds no Kubernetes object (it is empty or only comments)".into(),
        });
    }
    let mut output = String::with_capacity(input.len() + input.len() / 2);
    let mut report = Vec::new();
    for document in &documents {
        let Some(original) = &document.value else {
            output.push_str(document.text);
            continue;
        };
        let error = |message: String| DocumentError {
            number: document.number,
            line: document.line,
            message,
        };
        if original.is_map() && workload::is_generated(original) {
            // Made by an earlier run: dropped now, and made again below if still wanted.
            report.push(DocumentReport {
                document: document.number,
                objects: vec![ObjectReport {
                    object: original
                        .get("kind")
                        .and_then(Node::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                    outcome: Outcome::Dropped,
                }],
            });
            continue;
        }
        let mut value = original.clone();
        let (objects, generated) = workload::apply(&mut value, action).map_err(error)?;
        if value == *original {
            output.push_str(document.text);
        } else {
            output.push_str(&stream::emit(format, document, &value));
        }
        for extra in generated {
            if !output.is_empty() && !output.ends_with('\n') {
                output.push('\n');
            }
            match format {
                Format::Yaml => {
                    output.push_str("---\n");
                    output.push_str(&stream::to_yaml(&extra));
                }
                Format::Json => {
                    output.push_str(
                        &serde_json::to_string_pretty(&extra).expect("a Node always serializes"),
                    );
                    output.push('\n');
                }
            }
        }
        report.push(DocumentReport {
            document: document.number,
            objects,
        });
    }
    Ok(Transformed {
        output,
        format,
        report,
    })
}
