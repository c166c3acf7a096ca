//! Property tests: inject is idempotent, uninject inverts it, and objects that are not
//! workloads pass through byte for byte, on generated pod templates of every shape the
//! injector handles (missing lists, clashing names, existing log mounts, annotations).

use super::node::Node;
use super::stream::to_yaml;
use super::{Action, InjectOptions, Mode, transform};
use proptest::prelude::*;

fn names() -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(vec!["app", "proxy", "worker", "cache", "vigia-logs"], 1..4)
        .prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

fn container(name: String, mounts: Vec<(String, String)>, port: Option<u16>) -> Node {
    let mut entries = vec![
        ("name".to_owned(), Node::str(&name)),
        (
            "image".to_owned(),
            Node::str(format!("registry.example.com/{name}:1.2.3")),
        ),
    ];
    if let Some(port) = port {
        entries.push((
            "ports".to_owned(),
            Node::Seq(vec![Node::map([(
                "containerPort",
                Node::UInt(port.into()),
            )])]),
        ));
    }
    if !mounts.is_empty() {
        entries.push((
            "volumeMounts".to_owned(),
            Node::Seq(
                mounts
                    .into_iter()
                    .map(|(volume, path)| {
                        Node::map([("name", Node::str(volume)), ("mountPath", Node::str(path))])
                    })
                    .collect(),
            ),
        ));
    }
    Node::Map(entries)
}

prop_compose! {
    fn workload()(
        kind in prop::sample::select(vec!["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"]),
        containers in names(),
        volumes in proptest::sample::subsequence(vec!["vigia-logs", "vigia-data", "logs", "tmp"], 0..4),
        log_mount in any::<bool>(),
        init in any::<bool>(),
        annotations in proptest::sample::subsequence(vec![
            ("prometheus.io/scrape", "true"), ("prometheus.io/port", "8080"), ("team", "payments"),
        ], 0..3),
        labels in any::<bool>(),
        metadata in any::<bool>(),
        clashing_port in any::<bool>(),
        opted_out in any::<bool>(),
    ) -> Node {
        let first = containers[0].clone();
        let mut app_containers = Vec::new();
        for (i, name) in containers.into_iter().enumerate() {
            let mut mounts = Vec::new();
            if log_mount && i == 0 && volumes.contains(&"logs") {
                mounts.push(("logs".to_owned(), "/var/log/app".to_owned()));
            }
            let port = (clashing_port && i == 0).then_some(9100);
            app_containers.push(container(name, mounts, port));
        }
        let mut spec = vec![("containers".to_owned(), Node::Seq(app_containers))];
        if init {
            spec.insert(0, ("initContainers".to_owned(), Node::Seq(vec![container(format!("{first}-init"), vec![], None)])));
        }
        if !volumes.is_empty() {
            spec.push(("volumes".to_owned(), Node::Seq(volumes.iter().map(|v| Node::map([("name", Node::str(*v)), ("emptyDir", Node::Map(vec![]))])).collect())));
        }
        let mut meta = Vec::new();
        if labels {
            meta.push(("labels".to_owned(), Node::map([("app", Node::str("shop"))])));
        }
        let mut annotation_entries: Vec<(String, Node)> = annotations.iter().map(|(k, v)| (k.to_string(), Node::str(*v))).collect();
        if opted_out {
            annotation_entries.push(("vigia.io/inject".to_owned(), Node::str("false")));
        }
        if !annotation_entries.is_empty() {
            meta.push(("annotations".to_owned(), Node::Map(annotation_entries)));
        }
        let mut template = Vec::new();
        if metadata || !meta.is_empty() {
            template.push(("metadata".to_owned(), Node::Map(meta)));
        }
        template.push(("spec".to_owned(), Node::Map(spec)));
        let template = Node::Map(template);
        let header = |kind: &str| vec![
            ("apiVersion".to_owned(), Node::str("apps/v1")),
            ("kind".to_owned(), Node::str(kind)),
            ("metadata".to_owned(), Node::map([("name", Node::str("shop"))])),
        ];
        let mut object = header(kind);
        match kind {
            "Pod" => {
                let Node::Map(entries) = template else { unreachable!() };
                for (key, value) in entries {
                    if key == "metadata" {
                        object[2].1 = value;
                        object[2].1.set("name", Node::str("shop"));
                    } else {
                        object.push((key, value));
                    }
                }
            }
            "CronJob" => object.push(("spec".to_owned(), Node::map([("schedule", Node::str("0 * * * *")), ("jobTemplate", Node::map([("spec", Node::map([("template", template)]))]))]))),
            _ => object.push(("spec".to_owned(), Node::map([("template", template)]))),
        }
        Node::Map(object)
    }
}

fn run(input: &str, action: Action) -> String {
    transform(input.as_bytes(), action).unwrap().output
}

fn parsed(text: &str) -> Node {
    let (_, documents) = super::stream::read(text.as_bytes()).unwrap();
    documents.into_iter().find_map(|d| d.value).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inject_is_idempotent_and_uninject_inverts_it(object in workload(), legacy in any::<bool>(), monitor in any::<bool>()) {
        let options = InjectOptions {
            mode: if legacy { Mode::Legacy } else { Mode::Native },
            image: "vigia:test".into(),
            pod_monitor: monitor,
            ..InjectOptions::default()
        };
        let input = to_yaml(&object);
        let once = run(&input, Action::Inject(&options));
        let twice = run(&once, Action::Inject(&options));
        prop_assert_eq!(&once, &twice);
        let removed = run(&once, Action::Uninject);
        prop_assert_eq!(parsed(&removed), object);
        // Input in the form inject writes comes back byte for byte.
        prop_assert_eq!(removed, input);
    }

    #[test]
    fn other_kinds_pass_through_byte_for_byte(
        comment in "[ -~]{0,40}",
        key in "[a-z][a-z0-9_.-]{0,20}",
        value in "[ -~]{0,60}",
        kind in prop::sample::select(vec!["ConfigMap", "Service", "Secret", "Ingress", "NetworkPolicy", "PodDisruptionBudget"]),
        indent in 1usize..5,
    ) {
        let quoted = serde_json::to_string(&value).unwrap();
        let text = format!(
            "# {comment}\napiVersion: v1\nkind: {kind}   # {comment}\nmetadata:\n{pad}name: x\ndata:\n{pad}{key}: {quoted}\n---\n# trailing {comment}\n",
            pad = " ".repeat(indent)
        );
        let options = InjectOptions::default();
        prop_assert_eq!(run(&text, Action::Inject(&options)), text.clone());
        prop_assert_eq!(run(&text, Action::Uninject), text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let options = InjectOptions::default();
        let _ = transform(&bytes, Action::Inject(&options));
        let _ = transform(&bytes, Action::Uninject);
    }
}
