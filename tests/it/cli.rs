//! The command line as a user meets it: help, version, check-config and run's refusal of
//! invalid configurations. Outputs are compared with golden files.

use crate::support::agent::vigia;
use crate::support::data;
use crate::support::golden::assert_golden;
use std::process::Output;

fn run_in_config_dir(args: &[&str]) -> Output {
    vigia()
        .args(args)
        .current_dir(data("config"))
        .env_remove("VIGIA_TEST_DATA_DIR")
        .env_remove("VIGIA_TEST_UNSET_DIR")
        .env("VIGIA_LOG", "error")
        .output()
        .expect("run vigia")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

#[test]
fn help_lists_every_subcommand_with_a_description() {
    let output = vigia().arg("--help").output().unwrap();
    assert!(output.status.success());
    assert_golden("help.txt", &text(&output.stdout));
}

#[test]
fn run_help_documents_its_options() {
    let output = vigia().args(["run", "--help"]).output().unwrap();
    assert!(output.status.success());
    assert_golden("run-help.txt", &text(&output.stdout));
}

#[test]
fn version_names_version_commit_and_build_date() {
    let output = vigia().arg("version").output().unwrap();
    assert!(output.status.success());
    let line = text(&output.stdout);
    let expected_prefix = format!("vigia {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected_prefix), "{line}");
    let built = line.split(", built ").nth(1).expect("a build date").trim();
    assert!(built.trim_end_matches(')').len() >= 10, "{line}");
    assert_eq!(line.lines().count(), 1);
}

#[test]
fn check_config_prints_the_resolved_configuration() {
    let output = run_in_config_dir(&["check-config", "valid.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "valid.yaml: configuration is valid\n");
    assert_golden("check-config-valid.txt", &text(&output.stdout));
}

#[test]
fn check_config_interpolates_the_environment() {
    let output = vigia()
        .args(["check-config", "valid.yaml"])
        .current_dir(data("config"))
        .env("VIGIA_TEST_DATA_DIR", "/var/lib/vigia-checkout")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("data_dir: /var/lib/vigia-checkout\n"));
}

#[test]
fn check_config_never_prints_a_secret_it_interpolated() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        "sources:\n  app: {type: stdin}\nsinks:\n  loki:\n    type: loki\n    endpoint: http://loki:3100\n    auth:\n      basic: {username: vigia, password: \"${LOKI_PASSWORD}\"}\n    headers:\n      X-Api-Key: ${GATEWAY_KEY}\n  metrics:\n    type: prometheus_remote_write\n    endpoint: http://mimir/api/v1/push\n    auth:\n      bearer: {token: \"${MIMIR_TOKEN}\"}\n",
    )
    .unwrap();
    let output = vigia()
        .args(["check-config", config.to_str().unwrap()])
        .env("LOKI_PASSWORD", "hunter2-loki")
        .env("GATEWAY_KEY", "k3y-gateway")
        .env("MIMIR_TOKEN", "eyJ-mimir-token")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    for secret in ["hunter2-loki", "k3y-gateway", "eyJ-mimir-token"] {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
    assert_eq!(printed.matches("<redacted>").count(), 3, "{printed}");
}

#[test]
fn check_config_reports_every_problem_with_its_location() {
    for name in [
        "broken-unknown-keys",
        "broken-variant",
        "broken-semantics",
        "broken-syntax",
        "broken-shape",
        "broken-redaction",
        "broken-env",
        "broken-type",
    ] {
        let output = run_in_config_dir(&["check-config", &format!("{name}.yaml")]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        assert!(output.stdout.is_empty(), "{name}: nothing on stdout");
        assert_golden(&format!("check-config-{name}.txt"), &text(&output.stderr));
    }
}

#[test]
fn check_config_on_a_missing_file_says_so() {
    let output = run_in_config_dir(&["check-config", "nope.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: nope.yaml: cannot read the file: "),
        "{stderr}"
    );
}

#[test]
fn run_refuses_an_invalid_configuration_with_the_same_messages() {
    let check = run_in_config_dir(&["check-config", "broken-semantics.yaml"]);
    let run = run_in_config_dir(&["run", "--config", "broken-semantics.yaml"]);
    assert_eq!(run.status.code(), Some(2));
    let check_errors: Vec<String> = text(&check.stderr)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .collect();
    let run_stderr = text(&run.stderr);
    for line in &check_errors {
        assert!(
            run_stderr.contains(line.as_str()),
            "run does not say: {line}"
        );
    }
    assert!(run_stderr.contains("refusing to run with an invalid configuration"));
}

#[test]
fn an_invalid_log_level_is_a_usage_error() {
    let output = vigia().args(["--log-level", "=x", "run"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("invalid log level"));
}

/// Found by the `config` fuzz target: a document nested 64 deep overflowed a 2 MiB stack
/// in the YAML deserializer. Nesting past 24 levels is now refused with a diagnostic.
#[test]
fn yaml_nesting_overflows_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let flow = format!(
        "sources:\n  app: {{type: stdin}}\nsinks:\n  out: {{type: console, x: {}{}}}\n",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let mut block =
        "sources:\n  app: {type: stdin}\nsinks:\n  out:\n    type: console\n".to_owned();
    for depth in 0..500 {
        block.push_str(&format!("{}k{depth}:\n", " ".repeat(4 + depth)));
    }
    for (name, text) in [("flow.yaml", flow), ("block.yaml", block)] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let output = vigia()
            .args(["check-config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("nested too deep"), "{name}: {stderr}");
    }
}
