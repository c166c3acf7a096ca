//! Target labels and `metric_relabel` rules on one scraped sample, as Prometheus applies them:
//! target labels first (a clash renames the target's label `exported_<name>` unless
//! `honor_labels`), then each rule in order.

use crate::metrics::config::{RelabelAction, RelabelRule};
use crate::metrics::exposition::family::OwnedSample;
use std::sync::Arc;

pub fn attach_target_labels(sample: &mut OwnedSample, labels: &[(Arc<str>, String)], honor: bool) {
    for (name, value) in labels {
        match sample.labels.iter().position(|(n, _)| n == name) {
            Some(_) if honor => {}
            Some(at) => {
                let exported: Arc<str> = Arc::from(format!("exported_{name}"));
                sample.labels[at].0 = exported;
                sample.labels.push((name.clone(), value.clone()));
            }
            None => sample.labels.push((name.clone(), value.clone())),
        }
    }
}

/// `false` when a rule drops the sample.
pub fn apply(rules: &[RelabelRule], sample: &mut OwnedSample) -> bool {
    for rule in rules {
        match rule.action {
            RelabelAction::Keep => {
                if !rule.regex.is_match(&joined(rule, sample)) {
                    return false;
                }
            }
            RelabelAction::Drop => {
                if rule.regex.is_match(&joined(rule, sample)) {
                    return false;
                }
            }
            RelabelAction::Replace => {
                let value = joined(rule, sample);
                let Some(captures) = rule.regex.captures(&value) else {
                    continue;
                };
                let mut replaced = String::new();
                captures.expand(&rule.replacement, &mut replaced);
                let target = rule
                    .target_label
                    .as_deref()
                    .expect("validated: replace has a target");
                sample.labels.retain(|(n, _)| n.as_ref() != target);
                if !replaced.is_empty() {
                    sample.labels.push((Arc::from(target), replaced));
                }
            }
            RelabelAction::LabelDrop => sample.labels.retain(|(n, _)| !rule.regex.is_match(n)),
            RelabelAction::LabelKeep => sample.labels.retain(|(n, _)| rule.regex.is_match(n)),
        }
    }
    true
}

fn joined(rule: &RelabelRule, sample: &OwnedSample) -> String {
    let mut out = String::new();
    for (i, name) in rule.source_labels.iter().enumerate() {
        if i > 0 {
            out.push_str(&rule.separator);
        }
        if name == "__name__" {
            out.push_str(&sample.name);
        } else if let Some(value) = sample.label(name) {
            out.push_str(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::config::{ScrapeTargetSpec, validate_scrape};

    fn rules(yaml: &str) -> Vec<RelabelRule> {
        let spec: ScrapeTargetSpec = serde_saphyr::from_str(&format!(
            "url: http://127.0.0.1:8080/metrics\nmetric_relabel:\n{yaml}"
        ))
        .unwrap();
        let mut problems = Vec::new();
        let settings = validate_scrape("app", &spec, |_| None, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        settings.relabel
    }

    fn sample(name: &str, labels: &[(&str, &str)]) -> OwnedSample {
        OwnedSample {
            name: Arc::from(name),
            labels: labels
                .iter()
                .map(|(n, v)| (Arc::from(*n), (*v).to_owned()))
                .collect(),
            value: 1.0,
            timestamp_ms: None,
            exemplar: None,
        }
    }

    fn labels(sample: &OwnedSample) -> Vec<String> {
        let mut out: Vec<String> = sample
            .labels
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn keep_and_drop_on_the_metric_name() {
        let drop_go = rules("  - action: drop\n    source_labels: [__name__]\n    regex: go_.*");
        assert!(!apply(&drop_go, &mut sample("go_goroutines", &[])));
        assert!(apply(&drop_go, &mut sample("http_requests_total", &[])));
        let keep_http =
            rules("  - action: keep\n    source_labels: [__name__, code]\n    regex: http_.*;5..");
        assert!(apply(
            &keep_http,
            &mut sample("http_requests_total", &[("code", "503")])
        ));
        assert!(!apply(
            &keep_http,
            &mut sample("http_requests_total", &[("code", "200")])
        ));
    }

    #[test]
    fn replace_labeldrop_and_labelkeep() {
        let rules = rules(
            "  - source_labels: [path]\n    regex: \"/api/v(\\\\d+)/.*\"\n    target_label: api_version\n    replacement: v$1\n  - action: labeldrop\n    regex: path\n  - action: labelkeep\n    regex: api_version|code",
        );
        let mut s = sample(
            "x",
            &[("path", "/api/v2/orders"), ("code", "200"), ("pod", "a")],
        );
        assert!(apply(&rules, &mut s));
        assert_eq!(labels(&s), ["api_version=v2", "code=200"]);
    }

    #[test]
    fn target_labels_win_unless_honored() {
        let target = [
            (Arc::from("job"), "checkout".to_owned()),
            (Arc::from("instance"), "127.0.0.1:8080".to_owned()),
        ];
        let mut s = sample("x", &[("job", "batch")]);
        attach_target_labels(&mut s, &target, false);
        assert_eq!(
            labels(&s),
            [
                "exported_job=batch",
                "instance=127.0.0.1:8080",
                "job=checkout"
            ]
        );
        let mut s = sample("x", &[("job", "batch")]);
        attach_target_labels(&mut s, &target, true);
        assert_eq!(labels(&s), ["instance=127.0.0.1:8080", "job=batch"]);
    }
}
