//! Which objects hold a pod template and where: Pods, the workload controllers, CronJobs'
//! job templates, and the items of a `kind: List`. Everything else passes through.

use super::node::Node;
use super::options::InjectOptions;
use super::record::GENERATED_FOR;
use super::sidecar::{self, PORT_NAME, Workload};

/// Where the pod template is in an object of this kind.
fn template_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&[]),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => Some(&["spec", "template"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Inject(&'a InjectOptions),
    Uninject,
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Injected {
        summary: String,
        warnings: Vec<String>,
    },
    Removed,
    Skipped(String),
    /// Not a workload, or nothing to remove.
    Unchanged,
    /// An object `vigia inject` generated earlier (a PodMonitor), dropped to be made again
    /// or for good.
    Dropped,
}

#[derive(Debug)]
pub struct ObjectReport {
    /// `Kind/name`, with the List item index for List items.
    pub object: String,
    pub outcome: Outcome,
}

/// The object's kind, or why it is not a Kubernetes object.
pub fn kind_of(value: &Node) -> Result<&str, String> {
    if !value.is_map() {
        return Err("not a Kubernetes object: a mapping with apiVersion and kind".into());
    }
    value
        .get("kind")
        .and_then(Node::as_str)
        .ok_or_else(|| "not a Kubernetes object: it has no `kind`".into())
}

pub fn is_generated(value: &Node) -> bool {
    value
        .at(&["metadata", "annotations", GENERATED_FOR])
        .is_some()
}

fn display_name(value: &Node) -> String {
    let kind = value.get("kind").and_then(Node::as_str).unwrap_or("?");
    let name = value
        .at(&["metadata", "name"])
        .and_then(Node::as_str)
        .or_else(|| {
            value
                .at(&["metadata", "generateName"])
                .and_then(Node::as_str)
        })
        .unwrap_or("(unnamed)");
    format!("{kind}/{name}")
}

/// Applies the action to one object (a List's items in turn). Returns what happened and
/// the objects generated alongside (PodMonitors), to be emitted after it.
pub fn apply(value: &mut Node, action: Action) -> Result<(Vec<ObjectReport>, Vec<Node>), String> {
    let kind = kind_of(value)?.to_owned();
    if kind == "List" || kind.ends_with("List") && value.get("items").is_some() {
        let mut reports = Vec::new();
        let mut generated_all = Vec::new();
        if let Some(Node::Seq(items)) = value.get_mut("items") {
            let before = items.len();
            items.retain(|item| !is_generated(item));
            for _ in items.len()..before {
                reports.push(ObjectReport {
                    object: "List item".into(),
                    outcome: Outcome::Dropped,
                });
            }
            for (index, item) in items.iter_mut().enumerate() {
                let (item_reports, generated) =
                    apply(item, action).map_err(|error| format!("item {index}: {error}"))?;
                reports.extend(item_reports.into_iter().map(|mut r| {
                    r.object = format!("items[{index}] {}", r.object);
                    r
                }));
                generated_all.extend(generated);
            }
            items.extend(generated_all);
        }
        return Ok((reports, Vec::new()));
    }
    let object = display_name(value);
    let Some(path) = template_path(&kind) else {
        return Ok((
            vec![ObjectReport {
                object,
                outcome: Outcome::Unchanged,
            }],
            Vec::new(),
        ));
    };
    let name = value
        .at(&["metadata", "name"])
        .and_then(Node::as_str)
        .unwrap_or("app")
        .to_owned();
    let namespace = value.at(&["metadata", "namespace"]).cloned();
    let workload_annotations = value.at(&["metadata", "annotations"]).cloned();
    let claim_names: Vec<String> = value
        .at(&["spec", "volumeClaimTemplates"])
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            c.at(&["metadata", "name"])
                .and_then(Node::as_str)
                .map(str::to_owned)
        })
        .collect();
    let Some(template) = value.at_mut(path).filter(|t| t.is_map()) else {
        return Ok((
            vec![ObjectReport {
                object,
                outcome: Outcome::Skipped("it has no pod template".into()),
            }],
            Vec::new(),
        ));
    };
    let mut clean = template.clone();
    let had_injection = sidecar::uninject(&mut clean).map_err(|e| format!("{object}: {e}"))?;
    let options = match action {
        Action::Uninject => {
            *template = clean;
            let outcome = if had_injection {
                Outcome::Removed
            } else {
                Outcome::Unchanged
            };
            return Ok((vec![ObjectReport { object, outcome }], Vec::new()));
        }
        Action::Inject(options) => options,
    };
    let workload = Workload {
        kind: &kind,
        name: &name,
        claim_names,
        annotations: workload_annotations.as_ref(),
    };
    match sidecar::inject(&mut clean, &workload, options) {
        Ok(injected) => {
            *template = clean;
            let mut warnings = injected.warnings;
            let mut generated = Vec::new();
            if options.pod_monitor {
                match pod_monitor(&kind, &name, namespace, injected.pod_labels) {
                    Some(monitor) => generated.push(monitor),
                    None => warnings.push(
                        "no PodMonitor: the pod template has no labels to select it by".into(),
                    ),
                }
            }
            Ok((
                vec![ObjectReport {
                    object,
                    outcome: Outcome::Injected {
                        summary: injected.summary,
                        warnings,
                    },
                }],
                generated,
            ))
        }
        Err(reason) => Ok((
            vec![ObjectReport {
                object,
                outcome: Outcome::Skipped(reason),
            }],
            Vec::new(),
        )),
    }
}

/// A PodMonitor (Prometheus Operator) scraping vigia in the workload's pods.
fn pod_monitor(
    kind: &str,
    name: &str,
    namespace: Option<Node>,
    labels: Option<Node>,
) -> Option<Node> {
    let labels = labels.filter(|l| matches!(l, Node::Map(e) if !e.is_empty()))?;
    let mut metadata = vec![("name".to_owned(), Node::str(format!("{name}-vigia")))];
    if let Some(namespace) = namespace {
        metadata.push(("namespace".to_owned(), namespace));
    }
    metadata.push((
        "labels".to_owned(),
        Node::map([("app.kubernetes.io/managed-by", Node::str("vigia-inject"))]),
    ));
    metadata.push((
        "annotations".to_owned(),
        Node::map([(GENERATED_FOR, Node::str(format!("{kind}/{name}")))]),
    ));
    Some(Node::map([
        ("apiVersion", Node::str("monitoring.coreos.com/v1")),
        ("kind", Node::str("PodMonitor")),
        ("metadata", Node::Map(metadata)),
        (
            "spec",
            Node::map([
                ("selector", Node::map([("matchLabels", labels)])),
                (
                    "podMetricsEndpoints",
                    Node::Seq(vec![Node::map([
                        ("port", Node::str(PORT_NAME)),
                        ("path", Node::str("/metrics")),
                        ("interval", Node::str("15s")),
                    ])]),
                ),
            ]),
        ),
    ]))
}
