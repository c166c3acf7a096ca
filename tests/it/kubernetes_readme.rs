//! The README's "Kubernetes" commands, run as far as a machine without a cluster can: each
//! `vigia inject` as written, each `kubectl apply -f` as validation of the file it applies,
//! `helm install` as a render of the chart with its `--set` values (real Helm v4, through
//! scripts/helm.py), and `kubectl apply -k` as kubectl's own kustomize build; every result
//! validated against Kubernetes 1.33.

use crate::inject::validate;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Kubernetes\n")
        .nth(1)
        .expect("a Kubernetes section in the README");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a sh block in the Kubernetes section");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn succeed(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_readme_kubernetes_commands_run_and_produce_valid_objects() {
    let commands = readme_commands();
    // Run in a directory of its own with the repository's examples and deploy beside it,
    // so the commands' outputs do not land in the repository.
    let dir = tempfile::tempdir().unwrap();
    for linked in ["examples", "deploy"] {
        std::os::unix::fs::symlink(root().join(linked), dir.path().join(linked)).unwrap();
    }
    let bin = dir.path().join(".bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vigia"), bin.join("vigia")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut seen = Vec::new();
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["vigia", "inject", ..] => {
                succeed(
                    Command::new("sh")
                        .args(["-c", command])
                        .current_dir(dir.path())
                        .env("PATH", &path),
                    command,
                );
                seen.push("inject");
            }
            ["kubectl", "apply", "-f", file] => {
                let file = dir.path().join(file);
                let text = std::fs::read_to_string(&file).unwrap();
                assert!(
                    text.contains("restartPolicy: Always"),
                    "{command}: the sidecar is in {text}"
                );
                validate(&[&file]);
                seen.push("apply -f");
            }
            ["helm", "install", _release, chart, rest @ ..] => {
                let mut args = vec![
                    "render".to_owned(),
                    dir.path().join(chart).display().to_string(),
                ];
                let mut rest = rest.iter();
                while let Some(flag) = rest.next() {
                    match *flag {
                        "--namespace" | "-n" => {
                            args.push("--namespace".into());
                            args.push(rest.next().unwrap().to_string());
                        }
                        "--set" => {
                            args.push("--set".into());
                            args.push(rest.next().unwrap().to_string());
                        }
                        "--create-namespace" => {}
                        other => panic!("{command}: the test does not know {other}"),
                    }
                }
                let rendered = succeed(
                    Command::new("python3")
                        .arg(root().join("scripts/helm.py"))
                        .args(&args),
                    command,
                );
                assert!(rendered.contains("kind: DaemonSet"));
                assert!(rendered.contains("http://loki-gateway.monitoring:80"));
                let file = dir.path().join("helm-install.yaml");
                std::fs::write(&file, rendered).unwrap();
                validate(&[&file]);
                seen.push("helm install");
            }
            ["kubectl", "apply", "-k", target] => {
                let built = succeed(
                    Command::new("kubectl")
                        .args(["kustomize", target])
                        .current_dir(dir.path()),
                    command,
                );
                let file = dir.path().join("kustomized.yaml");
                std::fs::write(&file, built).unwrap();
                validate(&[Path::new(&file)]);
                seen.push("apply -k");
            }
            _ => panic!("a README command the test does not run: {command}"),
        }
    }
    assert_eq!(
        seen,
        ["inject", "apply -f", "helm install", "apply -k"],
        "{commands:?}"
    );
}
