//! The alert rules shipped in alerts/: valid for promtool, unit-tested with promtool (a
//! firing and a silent case per alert), complete (severity, summary, description, runbook,
//! dashboard), and naming only metrics vigia exports.

use std::path::{Path, PathBuf};
use std::process::Command;

fn alerts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts")
}

fn promtool(args: &[&str]) -> (bool, String) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(alerts_dir())
        .output()
        .expect("promtool is installed (scripts/test.sh installs the prometheus package)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn promtool_checks_the_rules_and_passes_their_unit_tests() {
    let (ok, text) = promtool(&["check", "rules", "vigia.rules.yml"]);
    assert!(ok, "{text}");
    let (ok, text) = promtool(&["test", "rules", "vigia.rules.test.yml"]);
    assert!(ok, "{text}");
}

fn rules() -> serde_json::Value {
    let text = std::fs::read_to_string(alerts_dir().join("vigia.rules.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn the_loki_rule_is_complete_and_has_a_runbook() {
    // No Loki binary here to check the LogQL; its shape and annotations are checked.
    let text = std::fs::read_to_string(alerts_dir().join("vigia.loki-rules.yml")).unwrap();
    let rules: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let runbooks =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbooks.md"))
            .unwrap();
    let rule = &rules["groups"][0]["rules"][0];
    let name = rule["alert"].as_str().unwrap();
    assert!(
        rule["expr"]
            .as_str()
            .unwrap()
            .contains("level=~\"error|fatal\"")
    );
    for annotation in ["summary", "description", "runbook_url", "dashboard"] {
        assert!(
            rule["annotations"][annotation].is_string(),
            "{name}: no {annotation}"
        );
    }
    assert!(
        runbooks.contains(&format!("## {name}\n")),
        "{name}: no runbook"
    );
}

#[test]
fn every_alert_is_complete_and_tested_both_ways() {
    let runbooks =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbooks.md"))
            .unwrap();
    let tests = std::fs::read_to_string(alerts_dir().join("vigia.rules.test.yml")).unwrap();
    let mut alerts = 0;
    for group in rules()["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let Some(name) = rule["alert"].as_str() else {
                continue;
            };
            alerts += 1;
            assert!(
                ["page", "ticket"].contains(&rule["labels"]["severity"].as_str().unwrap_or("")),
                "{name}: severity"
            );
            for annotation in ["summary", "description", "runbook_url", "dashboard"] {
                assert!(
                    rule["annotations"][annotation].is_string(),
                    "{name}: no {annotation}"
                );
            }
            let anchor = rule["annotations"]["runbook_url"]
                .as_str()
                .unwrap()
                .rsplit('#')
                .next()
                .unwrap()
                .to_owned();
            assert_eq!(anchor, name.to_lowercase(), "{name}: runbook anchor");
            assert!(
                runbooks.contains(&format!("## {name}\n")),
                "docs/runbooks.md has no section for {name}"
            );
            assert!(
                tests.contains(&format!("name: {name} fires")),
                "{name}: no firing test"
            );
            assert!(
                tests.contains(&format!("name: {name} stays silent")),
                "{name}: no silent test"
            );
        }
    }
    assert!(alerts >= 10, "{alerts}");
}

#[test]
fn the_rules_name_only_metrics_vigia_exports() {
    // Every metric vigia registers is a string literal in src/; `up` comes from Prometheus.
    let mut exported = String::new();
    for entry in walkdir::WalkDir::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "rs") {
            exported.push_str(&std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    // The sinks' delivery metrics are named from a prefix.
    for naming in vigia::telemetry::delivery::all_namings() {
        for name in vigia::telemetry::delivery::DeliveryFamilies::names(naming) {
            exported.push_str(&format!("\"{name}\"\n"));
        }
    }
    let text = std::fs::read_to_string(alerts_dir().join("vigia.rules.yml")).unwrap();
    let mut names: Vec<&str> = text
        // Recording rules (`service:vigia_http_errors:ratio_rate5m`) are names, not metrics.
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("vigia_") && !w.ends_with('_'))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .fold(name, |n, suffix| n.strip_suffix(suffix).unwrap_or(n));
        assert!(
            exported.contains(&format!("\"{family}\"")),
            "{name} is not a metric vigia exports"
        );
    }
}
