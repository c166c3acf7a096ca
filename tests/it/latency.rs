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

mod detect_command {
    use crate::support::agent::vigia;
    use std::io::Write;
    use vigia::latency::eval::scenario::{Injected, Scenario, Traffic};

    fn run(args: &[&str]) -> (Vec<serde_json::Value>, String, i32) {
        let output = vigia()
            .arg("detect")
            .args(args)
            .output()
            .expect("vigia runs");
        let lines = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        (
            lines,
            String::from_utf8(output.stderr).unwrap(),
            output.status.code().unwrap_or(-1),
        )
    }

    #[test]
    fn a_p95_series_with_a_step_yields_one_regression_from_the_step() {
        let (found, stderr, code) = run(&[
            "--input",
            "tests/data/latency/checkout-p95-per-minute.csv",
            "--kind",
            "quantiles",
        ]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(found.len(), 1, "{found:?}");
        let regression = &found[0];
        // The fixture's p95 goes from ~182 ms to ~255 ms at 12:00.
        let start = regression["start"].as_str().unwrap();
        let detected = regression["detected_at"].as_str().unwrap();
        assert!(
            ("2026-11-20T11:55"..="2026-11-20T12:01").contains(&&start[..16]),
            "{regression}"
        );
        assert!(
            detected > "2026-11-20T12:00" && detected <= "2026-11-20T12:15",
            "{regression}"
        );
        let baseline = regression["baseline"].as_f64().unwrap();
        assert!((0.17..0.20).contains(&baseline), "{regression}");
        assert!(regression["ratio"].as_f64().unwrap() > 1.2, "{regression}");
        assert!(
            regression["ended_at"].is_null(),
            "the step lasts to the end: {regression}"
        );
    }

    fn write_samples(scenario: &Scenario, path: &std::path::Path) {
        let mut rng = fastrand::Rng::with_seed(scenario.seed);
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        writeln!(out, "timestamp,latency_ms").unwrap();
        let t0 = 1_763_640_000.0;
        for window in 0..scenario.windows {
            let samples = scenario.window_samples(&mut rng, 0, window);
            let step = 60.0 / (samples.len() as f64 + 1.0);
            for (i, latency) in samples.iter().enumerate() {
                let time = t0 + f64::from(window) * 60.0 + step * (i + 1) as f64;
                writeln!(out, "{time:.3},{:.3}", latency * 1000.0).unwrap();
            }
        }
    }

    fn checkout(injected: Option<Injected>) -> Scenario {
        Scenario {
            name: "checkout".into(),
            seed: 99,
            traffic: Traffic::Stationary,
            rate: 2.0,
            routes: 1,
            windows: 420,
            median_seconds: 0.060,
            sigma: 0.5,
            injected,
            deploy_at: None,
        }
    }

    #[test]
    fn raw_samples_find_a_step_within_ten_minutes_and_nothing_in_clean_traffic() {
        let dir = tempfile::tempdir().unwrap();
        let regressed = dir.path().join("regressed.csv");
        write_samples(
            &checkout(Some(Injected {
                route: 0,
                start_window: 300,
                magnitude: 0.3,
                tail_only: false,
                ramp_windows: 0,
            })),
            &regressed,
        );
        let (found, stderr, code) =
            run(&["--input", regressed.to_str().unwrap(), "--milliseconds"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(!found.is_empty(), "{stderr}");
        let step_at = 1_763_640_000 + 300 * 60;
        let delays: Vec<i64> = found
            .iter()
            .map(|r| {
                chrono::DateTime::parse_from_rfc3339(r["detected_at"].as_str().unwrap())
                    .unwrap()
                    .timestamp()
                    - step_at
            })
            .collect();
        assert!(
            delays.iter().all(|d| *d >= 0),
            "nothing before the step: {found:?}"
        );
        assert!(
            delays.iter().min().is_some_and(|d| *d <= 600),
            "first detection within 10 min: {found:?}"
        );
        let clean = dir.path().join("clean.csv");
        write_samples(&checkout(None), &clean);
        let (found, stderr, code) = run(&["--input", clean.to_str().unwrap(), "--milliseconds"]);
        assert_eq!((found.len(), code), (0, 0), "{found:?} {stderr}");
        assert!(stderr.contains("0 regressions"), "{stderr}");
    }

    #[test]
    fn a_malformed_row_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "timestamp,value\n1,0.1\n2,0.2\nyesterday,0.3\n").unwrap();
        let (found, stderr, code) = run(&["--input", path.to_str().unwrap()]);
        assert_eq!((found.len(), code), (0, 1));
        assert!(
            stderr.contains(":line 4:") && stderr.contains("yesterday"),
            "{stderr}"
        );
    }
}
