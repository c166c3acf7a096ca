//! Every example configuration shipped in `examples/` is valid.

use crate::support::agent::vigia;

#[test]
fn every_example_configuration_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let output = vigia().arg("check-config").arg(&path).output().unwrap();
            assert!(
                output.status.success(),
                "{}:\n{}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "expected the quickstart, sidecar and node-agent examples"
    );
}

/// The Kubernetes examples are valid objects (kubernetes-validate, strict, Kubernetes 1.33)
/// and their vigia commands run as written: the rotation job's script, run twice a day apart
/// with the token job's between, leaves a key store, a JWKS file and a token.
#[test]
fn the_kubernetes_examples_are_valid_and_their_commands_run() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes");
    let rotation = examples.join("admin-auth-rotation.yaml");
    let output = std::process::Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", "1.33.0"])
        .arg(&rotation)
        .output()
        .expect("kubernetes-validate (scripts/test.sh installs it from PyPI)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let text = std::fs::read_to_string(&rotation).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // Each command as written, continuation lines joined, /work and /secret moved into the
    // temporary directory.
    let commands: Vec<String> = text
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("vigia keys") || line.starts_with("vigia token"))
        .map(|line| {
            line.replace("/work", work.to_str().unwrap())
                .replace("vigia ", &format!("{} ", env!("CARGO_BIN_EXE_vigia")))
        })
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let run = |command: &str| {
        let output = std::process::Command::new("sh")
            .args(["-c", command])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::fs::create_dir_all(work.join("keys")).unwrap();
    run(&commands[0]);
    run(&commands[1]);
    let token = std::fs::read_to_string(work.join("token")).unwrap();
    assert_eq!(token.trim().split('.').count(), 3);
    let jwks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("jwks.json")).unwrap()).unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "current and next"
    );
}
