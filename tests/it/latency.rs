//! Latency regression detection: the evaluation harness at small scale on a fixed seed
//! (the targets of docs/latency-detection.md), and `vigia detect` on CSV input.

use vigia::latency::detector::DetectorSettings;
use vigia::latency::eval::{Scale, evaluate, suite};

#[test]
fn the_detector_meets_its_targets_and_beats_both_baselines_on_the_small_harness() {
    let report = evaluate(&suite(7, Scale::Small), &DetectorSettings::default());
    let table = report.table();
    let vigia = &report.vigia;
    assert!(vigia.target_regressions >= 24, "{table}");
    assert!(
        vigia.target_recall() >= 0.95,
        "recall of ≥20 % p95 steps within 10 min:\n{table}"
    );
    assert!(
        vigia.steady_false_alarms_per_week() <= 1.0 && vigia.steady_weeks >= 2.0,
        "false alarms per service-week on stationary and diurnal traffic:\n{table}"
    );
    assert!(vigia.f1() > report.static_p99.f1(), "{table}");
    assert!(vigia.f1() > report.kayenta.f1(), "{table}");
    // Regressions below the effect-size gate (+5 %) are not alarms, and nothing fires on
    // a deploy that changed nothing.
    for (name, detected, false_alarms) in &report.vigia_by_scenario {
        if name.starts_with("deploy, no regression") {
            assert!(false_alarms.is_empty(), "{name}: {false_alarms:?}");
        }
        if name.starts_with("step +100%") || name.starts_with("1 route of 100") {
            assert!(detected.is_some_and(|d| d <= 10.0), "{name}: {detected:?}");
        }
    }
}
