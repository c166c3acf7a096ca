//! Adding vigia to one pod template, and taking it out again. Every change is written down
//! in the template's `vigia.io/injected` annotation (see `record.rs`), so taking it out
//! restores the template exactly.

use super::node::Node;
use super::options::{InjectOptions, Mode};
use super::record::{ANNOTATION, AddedMount, OPT_OUT, Record};

pub const CONTAINER: &str = "vigia";
pub const PORT_NAME: &str = "vigia-metrics";
const DATA_DIR: &str = "/var/lib/vigia";
const CONFIG_DIR: &str = "/etc/vigia";
/// The Dockerfile's user: used when the app gives none vigia could share.
const IMAGE_USER: u64 = 65532;

/// The workload a template belongs to, for names, warnings and names already taken.
pub struct Workload<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    /// Names of a StatefulSet's volumeClaimTemplates: pod volume names share their space.
    pub claim_names: Vec<String>,
    /// Annotations of the workload object itself (`vigia.io/inject: "false"` may be there).
    pub annotations: Option<&'a Node>,
}

#[derive(Debug)]
pub struct Injected {
    pub summary: String,
    pub warnings: Vec<String>,
    /// The template's labels, for a PodMonitor's selector.
    pub pod_labels: Option<Node>,
}

/// Removes what an earlier injection recorded. Ok(false): the template carried none.
pub fn uninject(template: &mut Node) -> Result<bool, String> {
    let Some(text) = template
        .at(&["metadata", "annotations", ANNOTATION])
        .and_then(Node::as_str)
    else {
        return Ok(false);
    };
    let record = Record::from_annotation(text)?;
    let created = |path: &str| record.created.iter().any(|c| c == path);
    if let Some(spec) = template.get_mut("spec") {
        if let Some(Node::Seq(list)) = spec.get_mut(&record.list) {
            list.retain(|c| c.get("name").and_then(Node::as_str) != Some(&record.container));
            if list.is_empty() && created(&format!("spec.{}", record.list)) {
                spec.remove(&record.list);
            }
        }
        if let Some(Node::Seq(volumes)) = spec.get_mut("volumes") {
            volumes.retain(|v| {
                !v.get("name")
                    .and_then(Node::as_str)
                    .is_some_and(|name| record.volumes.iter().any(|added| added == name))
            });
            if volumes.is_empty() && created("spec.volumes") {
                spec.remove("volumes");
            }
        }
        for mount in &record.mounts {
            let Some(container) = find_container_mut(spec, &mount.container) else {
                continue;
            };
            if let Some(Node::Seq(mounts)) = container.get_mut("volumeMounts") {
                if let Some(index) = mounts.iter().position(|m| {
                    m.get("name").and_then(Node::as_str) == Some(&mount.volume)
                        && m.get("mountPath").and_then(Node::as_str) == Some(&mount.path)
                }) {
                    mounts.remove(index);
                }
                if mounts.is_empty()
                    && created(&format!("container:{}.volumeMounts", mount.container))
                {
                    container.remove("volumeMounts");
                }
            }
        }
    }
    if let Some(metadata) = template.get_mut("metadata") {
        if let Some(annotations) = metadata.get_mut("annotations") {
            annotations.remove(ANNOTATION);
            for (key, previous) in record.annotations.iter().rev() {
                match previous {
                    Some(value) => {
                        annotations.set(key, Node::str(value));
                    }
                    None => {
                        annotations.remove(key);
                    }
                }
            }
            if matches!(annotations, Node::Map(e) if e.is_empty())
                && created("metadata.annotations")
            {
                metadata.remove("annotations");
            }
        }
        if matches!(metadata, Node::Map(e) if e.is_empty()) && created("metadata") {
            template.remove("metadata");
        }
    }
    Ok(true)
}

fn find_container_mut<'a>(spec: &'a mut Node, name: &str) -> Option<&'a mut Node> {
    let Node::Map(entries) = spec else {
        return None;
    };
    entries
        .iter_mut()
        .filter(|(key, _)| key == "containers" || key == "initContainers")
        .filter_map(|(_, list)| match list {
            Node::Seq(items) => Some(items),
            _ => None,
        })
        .flat_map(|items| items.iter_mut())
        .find(|c| c.get("name").and_then(Node::as_str) == Some(name))
}

/// Whether a volumeMount is at `path` (`/var/log/app` and `/var/log/app/` are one place).
fn mounted_at(mount: &Node, path: &str) -> bool {
    mount
        .get("mountPath")
        .and_then(Node::as_str)
        .is_some_and(|at| at.trim_end_matches('/') == path.trim_end_matches('/'))
}

fn names(list: Option<&Node>) -> Vec<String> {
    list.and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|item| item.get("name").and_then(Node::as_str).map(str::to_owned))
        .collect()
}

fn opted_out(annotations: Option<&Node>) -> bool {
    annotations.and_then(|a| a.get(OPT_OUT)).is_some_and(|v| {
        matches!(v, Node::Str(s) if s.eq_ignore_ascii_case("false")) || *v == Node::Bool(false)
    })
}

/// A name not yet taken: `base`, then `base-2`, `base-3`…
fn unique(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.iter().any(|t| t == candidate))
        .expect("an unbounded range finds a free name")
}

/// Injects into a template that carries no injection (the caller removed any). Err: the
/// reason it is skipped; the template is then left as it was.
pub fn inject(
    template: &mut Node,
    workload: &Workload,
    options: &InjectOptions,
) -> Result<Injected, String> {
    if opted_out(workload.annotations) || opted_out(template.at(&["metadata", "annotations"])) {
        return Err(format!("annotated {OPT_OUT}: \"false\""));
    }
    let spec = template
        .get("spec")
        .filter(|s| s.is_map())
        .ok_or("no pod spec")?;
    let app_names = names(spec.get("containers"));
    if app_names.is_empty() {
        return Err("the pod spec has no containers".into());
    }
    let init_names = names(spec.get("initContainers"));
    if app_names.iter().chain(&init_names).any(|n| n == CONTAINER) {
        return Err(format!(
            "a container named `{CONTAINER}` is already in the pod and was not added by vigia inject"
        ));
    }
    let host_network = spec.get("hostNetwork") == Some(&Node::Bool(true));
    if let Some(owner) = port_user(spec, options.admin_port) {
        let network = if host_network {
            "the node's network (hostNetwork)"
        } else {
            "the pod's network"
        };
        return Err(format!(
            "port {} is already used by container `{owner}` on {network}; choose another with --admin-port",
            options.admin_port
        ));
    }
    let selected: Vec<String> = if options.containers.is_empty() {
        app_names.clone()
    } else {
        for wanted in &options.containers {
            if !app_names.contains(wanted) {
                return Err(format!(
                    "no container named `{wanted}` (the pod has: {})",
                    app_names.join(", ")
                ));
            }
        }
        options.containers.clone()
    };

    let mut record = Record {
        version: crate::build_info::VERSION.to_owned(),
        mode: options.mode.name().to_owned(),
        container: CONTAINER.to_owned(),
        list: match options.mode {
            Mode::Native => "initContainers".into(),
            Mode::Legacy => "containers".into(),
        },
        volumes: Vec::new(),
        mounts: Vec::new(),
        annotations: Vec::new(),
        created: Vec::new(),
    };
    let mut warnings = Vec::new();
    if options.mode == Mode::Legacy && matches!(workload.kind, "Job" | "CronJob") {
        warnings.push(format!(
            "legacy mode: the {}'s pods never complete while vigia runs next to them; use --mode native (Kubernetes ≥ 1.29)",
            workload.kind
        ));
    }

    let mut taken = names(spec.get("volumes"));
    taken.extend(workload.claim_names.iter().cloned());
    let existing_log_volume = selected.iter().find_map(|name| {
        let container = spec
            .get("containers")?
            .as_seq()?
            .iter()
            .find(|c| c.get("name").and_then(Node::as_str) == Some(name))?;
        container
            .get("volumeMounts")?
            .as_seq()?
            .iter()
            .find(|m| mounted_at(m, &options.log_path))
            .and_then(|m| m.get("name").and_then(Node::as_str).map(str::to_owned))
    });
    let mut new_volumes = Vec::new();
    let log_volume = match existing_log_volume {
        Some(name) => name,
        None => {
            let name = unique("vigia-logs", &taken);
            taken.push(name.clone());
            new_volumes.push(Node::map([
                ("name", Node::str(&name)),
                ("emptyDir", Node::Map(vec![])),
            ]));
            name
        }
    };
    let data_volume = unique("vigia-data", &taken);
    taken.push(data_volume.clone());
    new_volumes.push(Node::map([
        ("name", Node::str(&data_volume)),
        (
            "emptyDir",
            Node::map([("sizeLimit", Node::str(&options.data_size_limit))]),
        ),
    ]));
    let config_volume = options.config_map.as_ref().map(|config_map| {
        let name = unique("vigia-config", &taken);
        new_volumes.push(Node::map([
            ("name", Node::str(&name)),
            ("configMap", Node::map([("name", Node::str(config_map))])),
        ]));
        name
    });

    let metadata_annotations = template.at(&["metadata", "annotations"]).cloned();
    let app_metrics_url = app_metrics_url(options, metadata_annotations.as_ref());
    let container = container(
        options,
        workload,
        template,
        &selected,
        ContainerVolumes {
            logs: &log_volume,
            data: &data_volume,
            config: config_volume.as_deref(),
        },
        app_metrics_url.as_deref(),
    );
    let pod_labels = template.at(&["metadata", "labels"]).cloned();

    // From here on the template changes.
    let spec = template.get_mut("spec").expect("checked above");
    let (list, created) = spec.child_or(&record.list, Node::Seq(vec![]));
    if created {
        record.created.push(format!("spec.{}", record.list));
    }
    if let Node::Seq(items) = list {
        match options.mode {
            // First, so the app's own init containers already have vigia reading.
            Mode::Native => items.insert(0, container),
            Mode::Legacy => items.push(container),
        }
    }
    record.volumes = new_volumes
        .iter()
        .filter_map(|v| v.get("name").and_then(Node::as_str).map(str::to_owned))
        .collect();
    let (volumes, created) = spec.child_or("volumes", Node::Seq(vec![]));
    if created {
        record.created.push("spec.volumes".into());
    }
    if let Node::Seq(items) = volumes {
        items.extend(new_volumes);
    }
    for name in &selected {
        let Some(app) = find_container_mut(spec, name) else {
            continue;
        };
        let has_mount = app
            .get("volumeMounts")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .any(|m| mounted_at(m, &options.log_path));
        if has_mount {
            continue;
        }
        let (mounts, created) = app.child_or("volumeMounts", Node::Seq(vec![]));
        if created {
            record
                .created
                .push(format!("container:{name}.volumeMounts"));
        }
        if let Node::Seq(items) = mounts {
            items.push(Node::map([
                ("name", Node::str(&log_volume)),
                ("mountPath", Node::str(&options.log_path)),
            ]));
        }
        record.mounts.push(AddedMount {
            container: name.clone(),
            volume: log_volume.clone(),
            path: options.log_path.clone(),
        });
    }

    let (metadata, created) = template.child_or("metadata", Node::Map(vec![]));
    if created {
        record.created.push("metadata".into());
    }
    let (annotations, created) = metadata.child_or("annotations", Node::Map(vec![]));
    if created {
        record.created.push("metadata.annotations".into());
    }
    if !options.pod_monitor {
        for (key, value) in [
            ("prometheus.io/scrape", "true".to_owned()),
            ("prometheus.io/port", options.admin_port.to_string()),
            ("prometheus.io/path", "/metrics".to_owned()),
        ] {
            let previous = annotations.set(key, Node::str(value));
            record
                .annotations
                .push((key.to_owned(), previous.map(|p| scalar_text(&p))));
        }
    }
    annotations.set(ANNOTATION, Node::str(record.to_annotation()));

    let summary = format!(
        "{} sidecar, logs {} from {} (volume {log_volume}), admin :{}{}",
        options.mode.name(),
        options.log_path,
        selected.join(", "),
        options.admin_port,
        app_metrics_url
            .map(|url| format!(", scraping {url}"))
            .unwrap_or_default()
    );
    Ok(Injected {
        summary,
        warnings,
        pod_labels,
    })
}

fn scalar_text(node: &Node) -> String {
    match node {
        Node::Str(s) => s.clone(),
        Node::Bool(b) => b.to_string(),
        Node::Int(n) => n.to_string(),
        Node::UInt(n) => n.to_string(),
        Node::Float(f) => f.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// The container that already declares `port` (as containerPort or hostPort), if any.
fn port_user(spec: &Node, port: u16) -> Option<String> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|list| spec.get(list)?.as_seq())
        .flatten()
        .find(|c| {
            c.get("ports")
                .and_then(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .any(|p| {
                    ["containerPort", "hostPort"]
                        .iter()
                        .any(|k| p.get(k).and_then(Node::as_u64) == Some(u64::from(port)))
                })
        })
        .map(|c| {
            c.get("name")
                .and_then(Node::as_str)
                .unwrap_or("?")
                .to_owned()
        })
}

/// What vigia scrapes: `--scrape-port`, else where Prometheus scraped the app before
/// (`prometheus.io/port`), else the image configuration's default.
fn app_metrics_url(options: &InjectOptions, annotations: Option<&Node>) -> Option<String> {
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(scalar_text);
    let port = options.scrape_port.map(|p| p.to_string()).or_else(|| {
        (annotation("prometheus.io/scrape").as_deref() == Some("true"))
            .then(|| annotation("prometheus.io/port"))
            .flatten()
            .filter(|p| *p != options.admin_port.to_string())
    })?;
    let path = if options.scrape_port.is_none() {
        annotation("prometheus.io/path").unwrap_or_else(|| options.scrape_path.clone())
    } else {
        options.scrape_path.clone()
    };
    Some(format!("http://127.0.0.1:{port}{path}"))
}

struct ContainerVolumes<'a> {
    logs: &'a str,
    data: &'a str,
    config: Option<&'a str>,
}

fn field_env(name: &str, path: &str) -> Node {
    Node::map([
        ("name", Node::str(name)),
        (
            "valueFrom",
            Node::map([("fieldRef", Node::map([("fieldPath", Node::str(path))]))]),
        ),
    ])
}

fn env(name: &str, value: &str) -> Node {
    Node::map([("name", Node::str(name)), ("value", Node::str(value))])
}

fn http_probe(path: &str, port: u16, period: u64, failures: u64) -> Node {
    Node::map([
        (
            "httpGet",
            Node::map([("path", Node::str(path)), ("port", Node::UInt(port.into()))]),
        ),
        ("periodSeconds", Node::UInt(period)),
        ("timeoutSeconds", Node::UInt(2)),
        ("failureThreshold", Node::UInt(failures)),
    ])
}

/// The service's name: its `app.kubernetes.io/name` or `app` label, else the workload's.
fn service_name(labels: Option<&Node>, workload: &Workload) -> String {
    ["app.kubernetes.io/name", "app"]
        .iter()
        .find_map(|k| labels?.get(k)?.as_str().map(str::to_owned))
        .unwrap_or_else(|| workload.name.to_owned())
}

/// The version: the first app container's image tag, else its `app.kubernetes.io/version`.
fn service_version(image: Option<&str>, labels: Option<&Node>) -> Option<String> {
    let tag = image.and_then(|image| {
        let image = image.split('@').next()?;
        let last = image.rsplit('/').next()?;
        last.split_once(':').map(|(_, tag)| tag.to_owned())
    });
    tag.or_else(|| {
        labels?
            .get("app.kubernetes.io/version")?
            .as_str()
            .map(str::to_owned)
    })
}

fn container(
    options: &InjectOptions,
    workload: &Workload,
    template: &Node,
    selected: &[String],
    volumes: ContainerVolumes,
    app_metrics_url: Option<&str>,
) -> Node {
    let spec = template.get("spec").expect("checked");
    let labels = template.at(&["metadata", "labels"]);
    let first_app = spec
        .get("containers")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .find(|c| c.get("name").and_then(Node::as_str) == selected.first().map(String::as_str));
    let grace_seconds = spec
        .get("terminationGracePeriodSeconds")
        .and_then(Node::as_u64)
        .unwrap_or(30);

    let mut env_vars = vec![
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_NAMESPACE", "metadata.namespace"),
        field_env("POD_UID", "metadata.uid"),
        field_env("NODE_NAME", "spec.nodeName"),
        field_env("POD_IP", "status.podIP"),
        env("SERVICE_NAME", &service_name(labels, workload)),
    ];
    if let Some(version) = service_version(
        first_app
            .and_then(|c| c.get("image"))
            .and_then(Node::as_str),
        labels,
    ) {
        env_vars.push(env("SERVICE_VERSION", &version));
    }
    env_vars.push(env(
        "VIGIA_LOG_GLOB",
        &format!("{}/*.log", options.log_path.trim_end_matches('/')),
    ));
    env_vars.push(env("VIGIA_DATA_DIR", DATA_DIR));
    env_vars.push(env(
        "VIGIA_ADMIN_LISTEN",
        &format!("0.0.0.0:{}", options.admin_port),
    ));
    // Two thirds of the pod's grace period: time to read the app's files to their end and
    // deliver them, with the rest left for the kubelet.
    env_vars.push(env(
        "VIGIA_GRACE_PERIOD",
        &format!("{}s", (grace_seconds * 2 / 3).max(1)),
    ));
    if let Some(url) = app_metrics_url {
        env_vars.push(env("APP_METRICS_URL", url));
    }
    if let Some(endpoint) = &options.loki_endpoint {
        env_vars.push(env("LOKI_URL", endpoint));
    }
    if let Some(tenant) = &options.loki_tenant {
        env_vars.push(env("LOKI_TENANT", tenant));
    }

    let mut mounts = vec![
        Node::map([
            ("name", Node::str(volumes.logs)),
            ("mountPath", Node::str(&options.log_path)),
            ("readOnly", Node::Bool(true)),
        ]),
        Node::map([
            ("name", Node::str(volumes.data)),
            ("mountPath", Node::str(DATA_DIR)),
        ]),
    ];
    if let Some(config) = volumes.config {
        mounts.push(Node::map([
            ("name", Node::str(config)),
            ("mountPath", Node::str(CONFIG_DIR)),
            ("readOnly", Node::Bool(true)),
        ]));
    }

    let mut entries = vec![
        ("name".to_owned(), Node::str(CONTAINER)),
        ("image".to_owned(), Node::str(&options.image)),
        ("imagePullPolicy".to_owned(), Node::str("IfNotPresent")),
        (
            "args".to_owned(),
            Node::Seq(vec![
                Node::str("run"),
                Node::str("--config"),
                Node::str(format!("{CONFIG_DIR}/vigia.yaml")),
            ]),
        ),
    ];
    if options.mode == Mode::Native {
        entries.push(("restartPolicy".to_owned(), Node::str("Always")));
    }
    entries.extend([
        (
            "ports".to_owned(),
            Node::Seq(vec![Node::map([
                ("name", Node::str(PORT_NAME)),
                ("containerPort", Node::UInt(options.admin_port.into())),
                ("protocol", Node::str("TCP")),
            ])]),
        ),
        ("env".to_owned(), Node::Seq(env_vars)),
        (
            "resources".to_owned(),
            Node::map([
                (
                    "requests",
                    Node::map([
                        ("cpu", Node::str(&options.resources.cpu_request)),
                        ("memory", Node::str(&options.resources.memory_request)),
                    ]),
                ),
                (
                    "limits",
                    Node::map([
                        ("cpu", Node::str(&options.resources.cpu_limit)),
                        ("memory", Node::str(&options.resources.memory_limit)),
                    ]),
                ),
            ]),
        ),
        (
            "securityContext".to_owned(),
            security_context(spec, first_app),
        ),
        // Gates the app's start (native mode): the pipeline is up before the app writes.
        (
            "startupProbe".to_owned(),
            http_probe("/readyz", options.admin_port, 1, 30),
        ),
        (
            "readinessProbe".to_owned(),
            http_probe("/readyz", options.admin_port, 10, 3),
        ),
        (
            "livenessProbe".to_owned(),
            http_probe("/healthz", options.admin_port, 10, 3),
        ),
        ("volumeMounts".to_owned(), Node::Seq(mounts)),
    ]);
    Node::Map(entries)
}

/// Restricted: non-root, read-only root, no capabilities, the runtime's seccomp profile.
/// vigia reads the app's files, so it runs as the app's user when the app names a non-root
/// one; otherwise as the image's user, and the app's files must be readable by others or
/// by the pod's `fsGroup`.
fn security_context(spec: &Node, app: Option<&Node>) -> Node {
    let pod_user = spec
        .at(&["securityContext", "runAsUser"])
        .and_then(Node::as_u64);
    let app_context = app.and_then(|c| c.get("securityContext"));
    let app_user = app_context
        .and_then(|c| c.get("runAsUser"))
        .and_then(Node::as_u64);
    let mut entries = vec![
        ("runAsNonRoot".to_owned(), Node::Bool(true)),
        ("allowPrivilegeEscalation".to_owned(), Node::Bool(false)),
        ("readOnlyRootFilesystem".to_owned(), Node::Bool(true)),
        (
            "capabilities".to_owned(),
            Node::map([("drop", Node::Seq(vec![Node::str("ALL")]))]),
        ),
        (
            "seccompProfile".to_owned(),
            Node::map([("type", Node::str("RuntimeDefault"))]),
        ),
    ];
    match (app_user, pod_user) {
        (Some(user), _) if user != 0 => {
            entries.push(("runAsUser".to_owned(), Node::UInt(user)));
            if let Some(group) = app_context
                .and_then(|c| c.get("runAsGroup"))
                .and_then(Node::as_u64)
            {
                entries.push(("runAsGroup".to_owned(), Node::UInt(group)));
            }
        }
        // The pod's user applies to vigia too.
        (None, Some(user)) if user != 0 => {}
        _ => {
            entries.push(("runAsUser".to_owned(), Node::UInt(IMAGE_USER)));
            entries.push(("runAsGroup".to_owned(), Node::UInt(IMAGE_USER)));
        }
    }
    Node::Map(entries)
}

#[cfg(test)]
mod tests {
    use crate::inject::{Action, InjectOptions, transform};

    /// An app already writing to a volume at `/var/log/app/` (trailing slash) shares that
    /// volume: no second mount at the same path, which the API server would refuse.
    #[test]
    fn an_existing_log_mount_is_reused_whatever_its_trailing_slash() {
        let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    image: app:1\n    volumeMounts:\n    - {name: logs, mountPath: /var/log/app/}\n  volumes:\n  - {name: logs, emptyDir: {}}\n";
        let options = InjectOptions {
            image: "vigia:test".into(),
            ..InjectOptions::default()
        };
        let output = transform(input.as_bytes(), Action::Inject(&options))
            .unwrap()
            .output;
        assert!(!output.contains("vigia-logs"), "{output}");
        assert_eq!(
            output.matches("mountPath: /var/log/app").count(),
            2,
            "{output}"
        );
    }
}
