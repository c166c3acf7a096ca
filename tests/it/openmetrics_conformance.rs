//! OpenMetrics 1.0 conformance: every rule of the standard's "Exposition" and "ABNF" sections
//! as a case (tests/data/exposition/openmetrics-conformance.txt), each given its verdict by
//! vigia's parser and by the reference parser (prometheus_client, from PyPI). Where the
//! reference parser departs from the standard the case says so below, and vigia follows the
//! standard.

use crate::support::data;
use std::io::Write;
use std::process::{Command, Stdio};
use vigia::metrics::exposition::Format;
use vigia::metrics::exposition::parser::{Rules, parse_body, parse_body_with};

struct Case {
    name: String,
    valid: bool,
    text: String,
}

/// Cases where the reference parser disagrees with the standard, and why vigia follows the
/// standard.
const REFERENCE_DEPARTS: &[(&str, &str)] = &[
    (
        "the specification's counter with an exemplar, timestamp on _total only",
        "the standard's own example; the reference parser refuses _created without the _total's timestamp",
    ),
    (
        "histogram repeated at a later timestamp",
        "the reference parser's duplicate filter keeps the first timestamp's series and drops the later +Inf bucket",
    ),
    (
        "duplicate series without timestamps",
        "the reference parser drops the repeated sample silently; the standard allows a MetricPoint once per timestamp",
    ),
];

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(data("exposition/openmetrics-conformance.txt")).unwrap();
    let mut cases: Vec<Case> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(header) = line.strip_prefix("=== ") {
            let (verdict, name) = header
                .trim_end()
                .split_once(": ")
                .expect("`=== valid|invalid: name`");
            assert!(matches!(verdict, "valid" | "invalid"), "{header}");
            cases.push(Case {
                name: name.to_owned(),
                valid: verdict == "valid",
                text: String::new(),
            });
        } else if let Some(case) = cases.last_mut() {
            case.text.push_str(line);
        }
    }
    cases
}

fn reference_verdicts(cases: &[Case]) -> Vec<(bool, Option<String>)> {
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| serde_json::json!({"name": c.name, "text": c.text}))
        .collect();
    let mut child = Command::new("python3")
        .arg(data("../it/support/om_reference.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the reference parser (scripts/test.sh installs prometheus_client): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    results
        .iter()
        .map(|r| {
            (
                r["ok"].as_bool().unwrap(),
                r["error"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn vigia_gives_every_case_the_standards_verdict_and_agrees_with_the_reference_parser() {
    let cases = cases();
    assert!(cases.len() >= 80, "{} cases", cases.len());
    let reference = reference_verdicts(&cases);
    let mut failures = Vec::new();
    let mut departures = 0;
    for (case, (reference_ok, reference_error)) in cases.iter().zip(&reference) {
        let vigia = parse_body_with(
            &case.text,
            Format::OpenMetrics,
            Rules::Standard,
            |_, _, _| {},
        );
        // A scrape applies fewer rules: what it refuses, the standard refuses too.
        let scrape = parse_body(&case.text, Format::OpenMetrics, |_, _, _| {});
        if scrape.is_err() && case.valid {
            failures.push(format!(
                "scrape: {}: refused a valid case: {}",
                case.name,
                scrape.err().unwrap()
            ));
        }
        if vigia.is_ok() != case.valid {
            failures.push(format!(
                "vigia: {}: expected {}, got {}",
                case.name,
                if case.valid { "valid" } else { "invalid" },
                vigia.err().map_or("valid".into(), |e| e.to_string())
            ));
        }
        let departs = REFERENCE_DEPARTS.iter().any(|(name, _)| *name == case.name);
        if departs {
            departures += 1;
            assert_ne!(
                *reference_ok, case.valid,
                "{} no longer departs: drop it from REFERENCE_DEPARTS",
                case.name
            );
        } else if *reference_ok != case.valid {
            failures.push(format!(
                "reference: {}: expected {}, got {}",
                case.name,
                if case.valid { "valid" } else { "invalid" },
                reference_error.as_deref().unwrap_or("valid")
            ));
        }
    }
    eprintln!(
        "{} OpenMetrics cases: vigia agrees with the standard on {}, the reference parser on {} ({} departures listed)",
        cases.len(),
        cases.len() - failures.iter().filter(|f| f.starts_with("vigia")).count(),
        cases.len() - departures,
        departures
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_metrics_reads_the_cases_as_the_library_does() {
    // The command line gives the same verdicts (exit 0 valid, 1 invalid).
    let dir = tempfile::tempdir().unwrap();
    for case in cases().iter().step_by(7) {
        let path = dir.path().join("case.om");
        std::fs::write(&path, &case.text).unwrap();
        let status = crate::support::agent::vigia()
            .args(["check-metrics", "--format", "openmetrics"])
            .arg(&path)
            .output()
            .unwrap()
            .status;
        assert_eq!(
            status.code(),
            Some(if case.valid { 0 } else { 1 }),
            "{}",
            case.name
        );
    }
}
