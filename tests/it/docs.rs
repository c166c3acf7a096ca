//! The documentation stays true to the code: every configuration field that `check-config`
//! prints is described in docs/configuration.md.

use crate::support::agent::vigia;
use crate::support::data;

/// Field names (`key:` at any depth) in a resolved configuration, minus ids the user chose.
fn field_names(resolved_yaml: &str, user_ids: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = resolved_yaml
        .lines()
        .filter_map(|line| {
            let key = line.trim_start().split(':').next()?.trim();
            (!key.is_empty() && !key.starts_with('-') && !user_ids.contains(&key))
                .then(|| key.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_configuration_field_is_documented() {
    // valid.yaml sets every field of the log pipeline; agent-mode.yaml of remote write;
    // admin-secure.yaml of the admin server.
    for fixture in ["valid.yaml", "agent-mode.yaml", "admin-secure.yaml"] {
        check_documented(fixture);
    }
}

fn check_documented(fixture: &str) {
    let output = vigia()
        .args(["check-config", fixture])
        .current_dir(data("config"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{fixture}");
    let resolved = String::from_utf8(output.stdout).unwrap();
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    // Ids, label names and header names are the user's, not fields.
    let names = field_names(
        &resolved,
        &[
            "app",
            "files",
            "out",
            "loki",
            "X-Gateway",
            "cluster",
            "container",
            "namespace",
            "service_name",
            "service",
            "stream",
            "prometheus",
            "job",
            "X-Scope-OrgID",
        ],
    );
    assert!(names.len() >= 8, "{names:?}");
    for name in names.iter().filter(|n| *n != "type") {
        assert!(
            docs.contains(&format!("| `{name}` |")),
            "docs/configuration.md has no row for `{name}`"
        );
    }
    for kind in resolved
        .lines()
        .filter_map(|l| l.trim().strip_prefix("type: "))
    {
        assert!(
            docs.contains(&format!("#### `type: {kind}`")),
            "docs/configuration.md has no section for `type: {kind}`"
        );
    }
}
