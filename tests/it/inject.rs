//! `vigia inject` on a corpus of real-looking workloads: golden outputs and reports, every
//! output valid for Kubernetes 1.33 (kubernetes-validate, strict), idempotent, undone by
//! `--uninject`, and clear errors naming the document on bad input.

use crate::support::agent::vigia;
use crate::support::data;
use crate::support::golden::assert_golden;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const KUBERNETES: &str = "1.33.0";
const IMAGE: &str = "vigia:0.1.0";

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data("kubernetes/inject"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 6,
        "the inject corpus is in tests/data/kubernetes/inject"
    );
    files
}

fn inject(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = vigia()
        .arg("inject")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    // Written from a thread: the output may be larger than the pipe while input remains.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// kubernetes-validate on each file, List items one by one (support/kube_validate.py).
pub fn validate(files: &[&Path]) {
    let output = Command::new("python3")
        .arg(data("../it/support/kube_validate.py"))
        .arg(KUBERNETES)
        .args(files)
        .output()
        .expect("python3 with kubernetes-validate (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn golden_name(file: &Path, suffix: &str) -> String {
    format!(
        "inject/{}.{suffix}",
        file.file_name().unwrap().to_str().unwrap()
    )
}

#[test]
fn the_corpus_injects_as_the_golden_files_show_and_every_output_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for file in corpus() {
        let output = inject(&["--image", IMAGE], &std::fs::read(&file).unwrap());
        let text = ok(&output);
        assert_golden(&golden_name(&file, "injected"), &text);
        assert_golden(
            &golden_name(&file, "report.txt"),
            &String::from_utf8_lossy(&output.stderr),
        );
        let path = dir.path().join(file.file_name().unwrap());
        std::fs::write(&path, &text).unwrap();
        outputs.push(path);
    }
    // The inputs are valid too: a failure below is inject's.
    let inputs = corpus();
    validate(&inputs.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    validate(&outputs.iter().map(PathBuf::as_path).collect::<Vec<_>>());
}

#[test]
fn the_validator_refuses_what_kubernetes_would() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    // A native sidecar with a typo in restartPolicy's key, and a string port count.
    std::fs::write(
        &broken,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: a\n    restartPolicyy: Always\n",
    )
    .unwrap();
    let output = Command::new("python3")
        .arg(data("../it/support/kube_validate.py"))
        .arg(KUBERNETES)
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("INVALID"));
}

#[test]
fn injecting_twice_gives_the_same_output_and_uninject_restores_the_input() {
    for file in corpus() {
        let input = std::fs::read(&file).unwrap();
        let once = ok(&inject(&["--image", IMAGE], &input));
        let twice = ok(&inject(&["--image", IMAGE], once.as_bytes()));
        assert_eq!(
            once,
            twice,
            "{}: a second run changed the output",
            file.display()
        );
        // A newer vigia replaces what the older one added, and nothing else.
        let upgraded = ok(&inject(&["--image", "vigia:9.9.9"], once.as_bytes()));
        assert_eq!(
            upgraded,
            once.replace(IMAGE, "vigia:9.9.9"),
            "{}",
            file.display()
        );
        let removed = ok(&inject(&["--uninject"], once.as_bytes()));
        assert_eq!(
            same_objects(&removed),
            same_objects(std::str::from_utf8(&input).unwrap()),
            "{}: uninject did not restore the input",
            file.display()
        );
        // And the input itself, which carries no injection, passes through untouched.
        assert_eq!(ok(&inject(&["--uninject"], &input)).as_bytes(), input);
    }
}

/// The objects of a stream, as JSON values: equal when Kubernetes would see the same.
fn same_objects(text: &str) -> String {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sort_keys=True))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn legacy_mode_uses_a_regular_container_and_warns_about_jobs() {
    let input = std::fs::read(data("kubernetes/inject/nightly-report-cronjob.yaml")).unwrap();
    let output = inject(&["--image", IMAGE, "--mode", "legacy"], &input);
    let text = ok(&output);
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(
        report.contains("warning: legacy mode: the CronJob's pods never complete"),
        "{report}"
    );
    assert!(!text.contains("initContainers"), "{text}");
    assert!(!text.contains("restartPolicy: Always"), "{text}");
    assert!(text.contains("- name: vigia\n"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.yaml");
    std::fs::write(&path, &text).unwrap();
    validate(&[&path]);
    // Switching modes replaces the container in place of adding a second one.
    let native = ok(&inject(&["--image", IMAGE], text.as_bytes()));
    assert_eq!(native.matches("- name: vigia\n").count(), 1, "{native}");
    assert!(native.contains("restartPolicy: Always"));
}

#[test]
fn flags_configure_the_sidecar_and_a_pod_monitor_replaces_the_annotations() {
    let input = std::fs::read(data("kubernetes/inject/platform-stream.yaml")).unwrap();
    let args = [
        "--image",
        IMAGE,
        "--pod-monitor",
        "--loki-endpoint",
        "http://loki-gateway.logging.svc:80",
        "--loki-tenant",
        "platform",
        "--scrape-port",
        "8080",
        "--config-map",
        "orders-vigia",
        "--memory-limit",
        "256Mi",
    ];
    let text = ok(&inject(&args, &input));
    for expected in [
        "value: http://loki-gateway.logging.svc:80",
        "value: platform",
        "value: http://127.0.0.1:8080/metrics",
        "name: orders-vigia",
        "memory: 256Mi",
        "kind: PodMonitor",
        "name: orders-vigia\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("prometheus.io/scrape"), "{text}");
    // One PodMonitor per injected workload (orders and the Job), none for the skipped.
    assert_eq!(text.matches("kind: PodMonitor").count(), 2, "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monitored.yaml");
    std::fs::write(&path, &text).unwrap();
    validate(&[&path]);
    // Idempotent with generated objects too, and uninject drops them.
    assert_eq!(ok(&inject(&args, text.as_bytes())), text);
    let removed = ok(&inject(&["--uninject"], text.as_bytes()));
    assert!(!removed.contains("PodMonitor"), "{removed}");
    assert!(
        !removed.contains("vigia.io/injected") && !removed.contains("name: vigia"),
        "{removed}"
    );
    assert_eq!(
        same_objects(&removed),
        same_objects(std::str::from_utf8(&input).unwrap())
    );
}

#[test]
fn a_directory_is_read_in_order_and_reports_name_each_file() {
    let output = inject(
        &[
            "--image",
            IMAGE,
            data("kubernetes/inject").to_str().unwrap(),
        ],
        b"",
    );
    let text = ok(&output);
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(
        report.contains("checkout-deployment.yaml: document 1 Deployment/checkout: injected"),
        "{report}"
    );
    assert!(
        report.contains("7 injected, 0 removed, 2 skipped"),
        "{report}"
    );
    assert!(text.contains("kind: CronJob"));
}

fn refused(input: &[u8]) -> String {
    let output = inject(&[], input);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty(), "nothing is written on an error");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_input_gets_a_clear_error_naming_the_document() {
    let empty = refused(b"");
    assert!(
        empty.contains("document 1") && empty.contains("holds no Kubernetes object"),
        "{empty}"
    );
    let comments = refused(b"# nothing here\n---\n");
    assert!(
        comments.contains("holds no Kubernetes object"),
        "{comments}"
    );

    let binary =
        refused(b"apiVersion: v1\nkind: ConfigMap\n---\n\x7fELF\x02\x01\x01\x00\xff\xfe\x00\x00");
    assert!(
        binary.contains("document 2") && binary.contains("not UTF-8"),
        "{binary}"
    );

    let invalid = refused(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n",
    );
    assert!(invalid.contains("document 2 (line 4)"), "{invalid}");
    assert!(
        invalid.contains("line 8"),
        "the YAML error points into the input: {invalid}"
    );

    let not_object = refused(b"just some text that is not a manifest\n");
    assert!(
        not_object.contains("document 1") && not_object.contains("not a Kubernetes object"),
        "{not_object}"
    );

    let no_kind =
        refused(b"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nmetadata: {name: b}\n");
    assert!(
        no_kind.contains("document 2") && no_kind.contains("no `kind`"),
        "{no_kind}"
    );

    let json = refused(b"{\"kind\": \"Pod\", \"spec\": {\"containers\": [}");
    assert!(
        json.contains("document 1") && json.contains("invalid JSON"),
        "{json}"
    );
}

#[test]
fn a_billion_laughs_document_is_refused_without_exhausting_memory() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut previous = "a";
    for name in names {
        bomb.push_str(&format!(
            "  {name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
        ));
        previous = name;
    }
    let started = std::time::Instant::now();
    let error = refused(bomb.as_bytes());
    assert!(error.contains("document 1"), "{error}");
    assert!(error.to_lowercase().contains("alias"), "{error}");
    // Bounded: refused in well under the seconds an expansion would take.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_100_mb_input_is_refused_by_document() {
    // One ConfigMap of 100 MB: past what a manifest may be.
    let mut big =
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n  blob: \"".to_vec();
    big.resize(100_000_000, b'x');
    big.extend_from_slice(b"\"\n");
    let error = refused(&big);
    assert!(
        error.contains("document 1") && error.contains("larger than the 8 MiB"),
        "{error}"
    );
    // The same bytes as many ordinary documents are a (large) valid stream.
    let document = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {k: v}\n";
    let stream = document.repeat(20_000);
    let output = inject(&[], stream.as_bytes());
    assert_eq!(ok(&output), stream);
}
