//! The Grafana dashboards in dashboards/: importable (`__inputs`, `__requires`, a stable
//! `uid`), datasources only as variables, a unit and a description on every panel,
//! `$__rate_interval` in rates, `_bucket` only inside `histogram_quantile`, every PromQL
//! expression valid for promtool, and every metric one vigia exports or a recording rule of
//! alerts/.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dashboards() -> Vec<(String, serde_json::Value)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root().join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            found.push((
                path.display().to_string(),
                serde_json::from_str(&text).expect("valid JSON"),
            ));
        }
    }
    assert!(!found.is_empty());
    found
}

/// (panel title, datasource type, expression) for every query.
fn queries(dashboard: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push((
                panel["title"].as_str().unwrap().to_owned(),
                target["datasource"]["type"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                target["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[test]
fn dashboards_are_importable_and_every_panel_explains_itself() {
    for (file, dashboard) in dashboards() {
        assert!(
            dashboard["uid"]
                .as_str()
                .is_some_and(|u| u.starts_with("vigia-")),
            "{file}: uid"
        );
        assert!(
            dashboard["__inputs"]
                .as_array()
                .is_some_and(|i| !i.is_empty()),
            "{file}: __inputs"
        );
        assert!(
            dashboard["__requires"]
                .as_array()
                .is_some_and(|r| !r.is_empty()),
            "{file}: __requires"
        );
        let text = dashboard.to_string();
        for datasource in text
            .match_indices("\"uid\":\"")
            .map(|(i, _)| &text[i + 7..])
        {
            let uid = datasource.split('"').next().unwrap();
            assert!(
                uid.starts_with("${") || uid.starts_with("vigia-"),
                "{file}: hard-coded datasource uid {uid}"
            );
        }
        for panel in dashboard["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            assert!(
                panel["description"].as_str().is_some_and(|d| d.len() > 10),
                "{file}: {title}: description"
            );
            assert!(
                panel["fieldConfig"]["defaults"]["unit"].is_string(),
                "{file}: {title}: unit"
            );
        }
        for (title, _, expr) in queries(&dashboard) {
            if expr.contains("rate(") && !expr.contains("[30d]") {
                assert!(
                    expr.contains("$__rate_interval")
                        || expr.contains("$__auto")
                        || expr.contains(":ratio_rate"),
                    "{file}: {title}: rate without $__rate_interval: {expr}"
                );
            }
            for (at, _) in expr.match_indices("_bucket") {
                assert!(
                    expr[..at].contains("histogram_quantile("),
                    "{file}: {title}: _bucket outside histogram_quantile: {expr}"
                );
            }
        }
    }
}

/// Grafana's variables replaced by values Prometheus accepts.
fn as_promql(expr: &str) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("$namespace", ".*")
        .replace("$service", "checkout")
        .replace("$pod", ".*")
}

#[test]
fn every_prometheus_query_is_valid_promql_for_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard-queries\n    rules:\n");
    let mut count = 0;
    for (_, dashboard) in dashboards() {
        for (_, kind, expr) in queries(&dashboard) {
            if kind == "prometheus" {
                count += 1;
                let expr = as_promql(&expr).replace('\'', "''");
                rules.push_str(&format!(
                    "      - record: dashboard:query{count}\n        expr: '{expr}'\n"
                ));
            }
        }
    }
    let file = dir.path().join("queries.yml");
    std::fs::write(&file, &rules).unwrap();
    let output = std::process::Command::new("promtool")
        .args(["check", "rules", file.to_str().unwrap()])
        .output()
        .expect("promtool is installed");
    assert!(
        output.status.success(),
        "{}\n{rules}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(count >= 10, "{count}");
}

#[test]
fn dashboards_name_only_metrics_vigia_exports_or_rules_record() {
    let mut known = String::new();
    for entry in walkdir::WalkDir::new(root().join("src")) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "rs") {
            known.push_str(&std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    known.push_str(
        &std::fs::read_to_string(Path::new(&root()).join("alerts/vigia.rules.yml")).unwrap(),
    );
    // The sinks' delivery metrics are named from a prefix.
    for naming in vigia::telemetry::delivery::all_namings() {
        for name in vigia::telemetry::delivery::DeliveryFamilies::names(naming) {
            known.push_str(&format!("\"{name}\"\n"));
        }
    }
    for (file, dashboard) in dashboards() {
        for (title, kind, expr) in queries(&dashboard) {
            if kind != "prometheus" {
                continue;
            }
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
                if word.contains(':') && word.contains("vigia_") {
                    assert!(
                        known.contains(&format!("record: {word}")),
                        "{file}: {title}: {word} is not a recording rule"
                    );
                } else if word.starts_with("vigia_") {
                    let family = ["_bucket", "_count", "_sum"]
                        .iter()
                        .fold(word, |n, s| n.strip_suffix(s).unwrap_or(n));
                    assert!(
                        mentions(&known, family),
                        "{file}: {title}: {word} is not exported by vigia"
                    );
                }
            }
        }
    }
}

/// `name` appears in `text` as a whole word (vigia's registered names, and the
/// `vigia_process_*` ones listed where the process collector is registered).
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}
